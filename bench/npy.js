// bench/npy.js -- the .npy files of make bench, read and written by the
// Node scripts (ort_worker.js, ort_profile.js): float32, C order.
"use strict";

const fs = require("fs");

// A little-endian float32 .npy (C order) -> {dims, data}.
function loadNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString("latin1", 1, 6) !== "NUMPY") throw new Error(file + ": not a .npy file");
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString("latin1", start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(file + ": expected '<f4' data, header " + header);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(file + ": Fortran order not supported");
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(",")
    .map((s) => s.trim()).filter((s) => s !== "").map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(off + 4 * i);
  return { dims: shape, data };
}

function saveNpy(file, dims, data) {
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
    dims.join(", ") + (dims.length === 1 ? "," : "") + "), }";
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += " ".repeat(pad % 64) + "\n";
  const head = Buffer.alloc(10);
  head.write("\x93NUMPY", 0, "latin1");
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, "latin1"), body]));
}

module.exports = { loadNpy, saveNpy };
