-- nn/ChannelShuffle.lua -- ShuffleNet's channel shuffle, as PyTorch's
-- nn.ChannelShuffle(groups): channels seen as groups x (C/groups) are
-- transposed, interleaving the groups. Input N,C,H,W or C,H,W, or a table of
-- N,C_i,H,W tensors: the shuffle of their channel concatenation.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local SpatialZeroPadding = require "ember.nn.SpatialZeroPadding"

local ChannelShuffle = class("nn.ChannelShuffle", Module)

function ChannelShuffle:__init(groups)
  Module.__init(self)
  if math.type(groups) ~= "integer" or groups < 1 then
    error("nn.ChannelShuffle(groups): groups must be a positive integer, got "
          .. tostring(groups), 2)
  end
  self.groups = groups
end

function ChannelShuffle:updateOutput(input)
  -- a table: N,C_i,H,W tensors shuffled as if joined along the channels (the
  -- ONNX import's Concat + shuffle), without the joined copy
  if type(input) == "table" then return core.channel_shuffle(input, self.output, self.groups) end
  SpatialZeroPadding.checkSpatial(input)
  if input:dim() == 4 then return core.channel_shuffle(input, self.output, self.groups) end
  -- C,H,W: shuffle as a batch of one, return a C,H,W view of the result
  if not input:isContiguous() then
    self._contig = self._contig or core.tensor()
    self._contig:resizeAs(input):copy(input)
    input = self._contig
  end
  local c, h, w = input:size(1), input:size(2), input:size(3)
  self._in4 = core.view_into(input, self._in4 or core.tensor(), { 1, c, h, w })
  self._out4 = core.channel_shuffle(self._in4, self._out4 or core.tensor(), self.groups)
  return core.view_into(self._out4, self.output, { c, h, w })
end

function ChannelShuffle:__repr()
  return "ChannelShuffle(" .. self.groups .. ")"
end

return ChannelShuffle
