// bench/ort_worker.js -- ONNX Runtime's side of `make bench`: one model in a
// long-lived process, driven line by line on stdin by bench/run.py.
//
//   node bench/ort_worker.js MODEL.onnx INPUT.npy THREADS
//
// Replies (one line each, on stdout): after start "ready load_ms=.. first_ms=..",
// then per command: "run N" -> "times t1 .. tN" (ms, one inference each),
// "save PATH" -> "saved" (the last output as .npy), "mem" -> "mem hwm_kb=.. rss_kb=..",
// "quit" -> exits. Errors: "error <message>" and exit code 1.
"use strict";

const fs = require("fs");
const path = require("path");
const readline = require("readline");

// onnxruntime-node lives in build/bench/node (installed by make bench)
const ORT_DIR = process.env.ORT_NODE_DIR ||
  path.join(__dirname, "..", "build", "bench", "node", "node_modules", "onnxruntime-node");
const ort = require(ORT_DIR);
const { loadNpy, saveNpy } = require("./npy.js");

function fail(msg) {
  process.stdout.write("error " + String(msg).replace(/\n/g, " ") + "\n");
  process.exit(1);
}

function vmStatus() {
  const s = fs.readFileSync("/proc/self/status", "utf8");
  const kb = (k) => Number((s.match(new RegExp("^" + k + ":\\s*(\\d+)", "m")) || [0, 0])[1]);
  return { hwm: kb("VmHWM"), rss: kb("VmRSS") };
}

const now = () => Number(process.hrtime.bigint()) / 1e6;   // ms, monotonic

async function main() {
  const [modelPath, inputPath, threadsArg] = process.argv.slice(2);
  if (!modelPath || !inputPath) fail("usage: ort_worker.js MODEL.onnx INPUT.npy [THREADS]");
  const threads = Number(threadsArg || 2);
  const x = loadNpy(inputPath);

  let t = now();
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  });
  const loadMs = now() - t;
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", x.data, x.dims) };
  const outName = session.outputNames[0];
  let out;
  t = now();
  out = (await session.run(feeds))[outName];
  const firstMs = now() - t;
  process.stdout.write(`ready load_ms=${loadMs.toFixed(3)} first_ms=${firstMs.toFixed(3)} ` +
    `engine=onnxruntime-node-${ort.env.versions.node}\n`);

  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    const [cmd, arg] = line.trim().split(/\s+/, 2);
    if (cmd === "run") {
      const n = Number(arg);
      const times = [];
      for (let i = 0; i < n; i++) {
        const t0 = now();
        out = (await session.run(feeds))[outName];
        times.push((now() - t0).toFixed(4));
      }
      process.stdout.write("times " + times.join(" ") + "\n");
    } else if (cmd === "save") {
      saveNpy(arg, out.dims.map(Number), out.data);
      process.stdout.write("saved\n");
    } else if (cmd === "mem") {
      const m = vmStatus();
      process.stdout.write(`mem hwm_kb=${m.hwm} rss_kb=${m.rss}\n`);
    } else if (cmd === "quit") {
      break;
    } else if (cmd !== "") {
      fail("unknown command " + cmd);
    }
  }
  await session.release();
  process.exit(0);
}

main().catch((e) => fail(e && e.message ? e.message : e));
