-- ember/safetensors.lua -- .safetensors files: load (mapped, every entry checked) and save.
-- local st = require "ember.safetensors"; local tensors, meta = st.load("w.safetensors")

-- a private instance: strict numbers (no NaN, Infinity, hex), settings of
-- other users of cjson untouched
local cjson = require("cjson").new()
cjson.decode_invalid_numbers(false)
local core = require "ember.core"

local M = {}

local function fail(source, msg)
  error(tostring(source) .. ": " .. msg, 0)
end

local function is_tensor(x)
  local mt = getmetatable(x)
  return type(mt) == "table" and mt.__name == "ember.Tensor"
end

-- A JSON array decoded by cjson: a table with keys 1..n only.
local function is_list(x)
  if type(x) ~= "table" then return false end
  local n = 0
  for _ in pairs(x) do n = n + 1 end
  return n == #x
end

local function is_count(x)
  local i = math.tointeger(x)
  return i ~= nil and i >= 0
end

-- Decodes the header and checks its structure; the numbers (offsets, sizes,
-- overlaps) are checked in C. Returns sorted names, the header, metadata.
local function parse_header(path, text)
  if not text:match("^%s*{") then fail(path, "header is not a JSON object") end
  local ok, h = pcall(cjson.decode, text)
  if not ok then
    fail(path, "header is not valid JSON (" .. tostring(h):gsub("^.-:%d+: ", "") .. ")")
  end
  local names, meta = {}, {}
  for name, e in pairs(h) do
    if name == "__metadata__" then
      if type(e) ~= "table" then fail(path, "__metadata__ is not an object") end
      for k, v in pairs(e) do
        if type(k) ~= "string" or type(v) ~= "string" then
          fail(path, "__metadata__ entry '" .. tostring(k) .. "' is not a string")
        end
        meta[k] = v
      end
    else
      local where = "tensor '" .. name .. "': "
      if type(e) ~= "table" then fail(path, where .. "entry is not an object") end
      if type(e.dtype) ~= "string" then fail(path, where .. "dtype is not a string") end
      if not is_list(e.shape) then fail(path, where .. "shape is not a list") end
      if #e.shape > 8 then
        fail(path, where .. "shape has " .. #e.shape .. " dimensions, at most 8")
      end
      for i, s in ipairs(e.shape) do
        if not is_count(s) then
          fail(path, where .. "shape[" .. i .. "] = " .. tostring(math.tointeger(s) or s)
                     .. " is not a non-negative integer")
        end
      end
      local off = e.data_offsets
      if not is_list(off) or #off ~= 2 or not is_count(off[1]) or not is_count(off[2]) then
        fail(path, where .. "data_offsets is not a list of two non-negative integers")
      end
      names[#names + 1] = name
    end
  end
  table.sort(names)
  return names, h, meta
end

-- Loads every tensor of a file: name -> ember.Tensor (float32; F32 data is
-- viewed in place, other dtypes converted), metadata (string -> string) and
-- a list of warnings (NaN/Inf values), also written to stderr unless
-- opts.quiet. Raises "path: ..." on any malformed entry, before reading data.
function M.load(path, opts)
  opts = opts or {}
  if type(path) ~= "string" then error("safetensors.load: expected a file name", 2) end
  local ok, map, header = pcall(core.safetensors_open, path)
  if not ok then fail(path, map) end
  local mapping <close> = map
  local names, h, meta = parse_header(path, header)
  local ok2, tensors, warnings = pcall(core.safetensors_tensors, mapping, names, h)
  if not ok2 then fail(path, tensors) end
  for i, w in ipairs(warnings) do
    warnings[i] = path .. ": warning: " .. w
    if not opts.quiet then io.stderr:write(warnings[i], "\n") end
  end
  return tensors, meta, warnings
end

local function shape_of(t)
  if t:dim() == 0 and t:nElement() == 0 then return { 0 } end   -- an empty tensor
  return t:size()
end

-- Writes tensors (name -> ember.Tensor) as F32, names sorted, with optional
-- metadata (string -> string). Written to path .. ".tmp" and renamed, so a
-- failure never leaves a half-written file at path.
function M.save(path, tensors, metadata)
  if type(path) ~= "string" then error("safetensors.save: expected a file name", 2) end
  if type(tensors) ~= "table" then error("safetensors.save: expected a table of tensors", 2) end
  local names = {}
  for name, t in pairs(tensors) do
    if type(name) ~= "string" then
      error("safetensors.save: tensor names must be strings, got " .. tostring(name), 2)
    end
    if name == "__metadata__" then error("safetensors.save: '__metadata__' is reserved", 2) end
    if not is_tensor(t) then error("safetensors.save: '" .. name .. "' is not an ember.Tensor", 2) end
    names[#names + 1] = name
  end
  table.sort(names)
  local parts, list, offset = {}, {}, 0
  if metadata ~= nil then
    if type(metadata) ~= "table" then error("safetensors.save: metadata must be a table", 2) end
    local keys, kv = {}, {}
    for k, v in pairs(metadata) do
      if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
        error("safetensors.save: metadata must map strings to strings", 2)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      kv[#kv + 1] = cjson.encode(k) .. ":" .. cjson.encode(tostring(metadata[k]))
    end
    parts[#parts + 1] = '"__metadata__":{' .. table.concat(kv, ",") .. "}"
  end
  for i, name in ipairs(names) do
    local t = tensors[name]
    local bytes = t:nElement() * 4
    parts[#parts + 1] = string.format('%s:{"dtype":"F32","shape":[%s],"data_offsets":[%d,%d]}',
      cjson.encode(name), table.concat(shape_of(t), ","), offset, offset + bytes)
    offset = offset + bytes
    list[i] = t
  end
  local header = "{" .. table.concat(parts, ",") .. "}"
  local tmp = path .. ".tmp"
  local ok, err = pcall(core.safetensors_save, tmp, header, list)
  if not ok then
    os.remove(tmp)
    error("safetensors.save: " .. tostring(err), 2)
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    error("safetensors.save: " .. tostring(rerr), 2)
  end
  return path
end

return M
