// bench/ort_profile.js -- ONNX Runtime's time per node, for bench/layercmp.py:
// the session of bench/ort_worker.js with ORT's own profiler on.
//
//   node bench/ort_profile.js MODEL.onnx INPUT.npy THREADS RUNS PREFIX
//
// Prints "whole <ms>" (median of RUNS inferences, profiler on) and
// "profile <path>": ORT's JSON trace, whose "Node" events hold each kernel's
// duration (us), op type, and input and output shapes. PREFIX "-": the
// profiler off, "whole" alone (what the profiler costs).
"use strict";

const path = require("path");
const ORT_DIR = process.env.ORT_NODE_DIR ||
  path.join(__dirname, "..", "build", "bench", "node", "node_modules", "onnxruntime-node");
const ort = require(ORT_DIR);
const { loadNpy } = require("./npy.js");

async function main() {
  const [model, input, threads, runs, prefix] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    intraOpNumThreads: Number(threads || 2),
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    enableProfiling: prefix !== "-",
    profileFilePrefix: prefix,
  });
  const x = loadNpy(input);
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", x.data, x.dims) };
  const n = Number(runs || 30), times = [];
  for (let i = 0; i < 3; i++) await session.run(feeds);
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log("whole " + times[(n - 1) >> 1].toFixed(3));
  if (prefix === "-") return;
  // onnxruntime-node writes the trace when the session is released
  await session.release();
  const dir = path.dirname(prefix), base = path.basename(prefix);
  const file = require("fs").readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith(".json"))
    .map((f) => path.join(dir, f)).sort().pop();
  console.log("profile " + file);
}

main().catch((e) => { console.error(String(e)); process.exit(1); });
