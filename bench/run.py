#!/usr/bin/python3
"""run.py -- `make bench`: ember against ONNX Runtime on the same graphs, weights
and input, batch 1, the same thread count, in the same run.

    /usr/bin/python3 bench/run.py [--quick] [--models a,b] [--front auto|onnx|lua]
    BENCH=quick ...            same as --quick (a one-minute check)
    EMBER_PROFILE=1 ...        also time ember's modules by type for one model
                               (EMBER_PROFILE_MODEL, default resnet50)

Each engine runs each model in its own long-lived process (bench/ember_worker.lua
under ./ember, bench/ort_worker.js under node), fed the files bench/export.py
wrote to build/bench. The processes load one after the other (load times are
not contended), then take turns: per round one engine does a batch of timed
inferences while the other waits on its pipe, then the other; the order flips
every round, so drifts of a shared, noisy machine hit both alike. Times are
taken inside each worker around the inference call alone. Peak memory is each
process's VmHWM after load and all runs. From /proc/PID/task/*/stat: CPU/wall,
the CPU seconds each process used per wall second of its own batches (2.0 =
both threads busy all the time; less = serial parts, waits, or a loaded
machine), and each thread's share of that CPU time.
"""
import argparse
import datetime
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MODELS = ["inception_v3", "googlenet", "resnet18", "resnet50", "mobilenet_v2",
          "squeezenet1_1", "shufflenet_v2_x1_0", "alexnet"]
QUICK_MODELS = ["resnet18", "mobilenet_v2", "squeezenet1_1"]


class Worker:
    """A worker process speaking the line protocol of bench/*_worker.*."""

    def __init__(self, label, argv, env):
        self.label = label
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.pid = self.proc.pid
        self.ready = self._parse(self._line("ready"))

    def _line(self, expect):
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError("%s exited (code %s) before '%s'" % (self.label, code, expect))
        line = line.rstrip("\n")
        if line.startswith("error "):
            raise RuntimeError("%s: %s" % (self.label, line[6:]))
        if not line.startswith(expect):
            raise RuntimeError("%s: expected '%s', got %r" % (self.label, expect, line))
        return line

    @staticmethod
    def _parse(line):
        out = {}
        for tok in line.split()[1:]:
            k, _, v = tok.partition("=")
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
        return out

    def ask(self, cmd, expect):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._line(expect)

    def run(self, n):
        return [float(t) for t in self.ask("run %d" % n, "times").split()[1:]]

    def save(self, path):
        self.ask("save " + path, "saved")

    def mem(self):
        return self._parse(self.ask("mem", "mem"))

    def profile(self, n):
        self.proc.stdin.write("profile %d\n" % n)
        self.proc.stdin.flush()
        rows, top = [], []
        while True:
            line = self._line("")
            if line == "end":
                return rows, top
            if line.startswith("top "):
                ms, label = line[4:].split(None, 1)
                top.append((float(ms), label))
                continue
            ty, ms, calls = line[len("prof "):].rsplit(None, 2)
            rows.append((ty, float(ms), int(calls)))

    def cpu_by_thread(self):
        """{tid: CPU seconds} of the process's threads now."""
        hz = os.sysconf("SC_CLK_TCK")
        res = {}
        base = "/proc/%d/task" % self.pid
        for tid in os.listdir(base):
            try:
                with open("%s/%s/stat" % (base, tid)) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                res[tid] = (int(fields[11]) + int(fields[12])) / hz   # utime + stime
            except (OSError, IndexError):
                pass
        return res

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def busy_threads(before, after):
    """(threads doing >= 10% of the CPU time, CPU seconds, shares largest first)."""
    delta = {t: after[t] - before.get(t, 0.0) for t in after}
    total = sum(delta.values())
    if total <= 0:
        return 0, 0.0, []
    shares = sorted((d / total for d in delta.values() if d > 0), reverse=True)
    return sum(1 for x in shares if x >= 0.1), total, shares


def machine():
    name, cores = platform.processor() or "unknown CPU", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                name = v.strip()
            elif k.strip() == "CPU(s)":
                cores = int(v.strip())
    except (OSError, subprocess.CalledProcessError, ValueError):
        pass
    return name, cores


def ember_env(env, args):
    """The environment of ember's workers: env plus --ember-env settings."""
    e = dict(env)
    for kv in args.ember_env:
        k, _, v = kv.partition("=")
        e[k] = v
    return e


def bench_model(name, args, env):
    d = args.dir
    onnx, st = os.path.join(d, name + ".onnx"), os.path.join(d, name + ".safetensors")
    inp, ref = os.path.join(d, name + ".input.npy"), os.path.join(d, name + ".torch.npy")
    for f in (onnx, st, inp):
        if not os.path.exists(f):
            raise RuntimeError("missing %s (bench/export.py makes it)" % f)
    # one after the other: neither load competes with the other process
    if args.self_check:   # the instrument against itself: ORT in both seats
        em = Worker("ort(a)", ["node", "bench/ort_worker.js", onnx, inp, str(args.threads)], env)
    else:
        em = Worker("ember", [args.ember, "bench/ember_worker.lua", name, onnx, st, inp,
                              args.front, str(args.threads)], ember_env(env, args))
    try:
        ort = Worker("ort", ["node", "bench/ort_worker.js", onnx, inp, str(args.threads)], env)
    except Exception:
        em.close()
        raise
    try:
        # warm-up, which also estimates the time of one inference
        w = {"ember": statistics.median(em.run(args.warmup)),
             "ort": statistics.median(ort.run(args.warmup))}
        rounds = args.rounds
        per = {}
        for k, t in w.items():
            by_budget = int(args.budget * 1e3 / (rounds * max(t, 1e-3)))
            per[k] = max(math.ceil(args.runs / rounds), min(by_budget, args.max_per_round))
        times = {"ember": [], "ort": []}
        cpu0 = {"ember": em.cpu_by_thread(), "ort": ort.cpu_by_thread()}
        wall = {"ember": 0.0, "ort": 0.0}
        own = {"ember": {}, "ort": {}}   # CPU seconds by thread within the own batches
        for r in range(rounds):
            order = [("ember", em), ("ort", ort)]
            if r % 2:
                order.reverse()
            for k, wk in order:
                # a pause between batches: a thread pool still spinning after
                # the other engine's batch settles before this one starts
                time.sleep(args.settle)
                c_a = wk.cpu_by_thread()
                t0 = time.monotonic()
                times[k] += wk.run(per[k])
                wall[k] += time.monotonic() - t0
                c_b = wk.cpu_by_thread()
                for tid, v in c_b.items():
                    own[k][tid] = own[k].get(tid, 0.0) + v - c_a.get(tid, 0.0)
        cpu1 = {"ember": em.cpu_by_thread(), "ort": ort.cpu_by_thread()}
        res = {"name": name}
        for k, wk, c0 in (("ember", em, cpu0["ember"]), ("ort", ort, cpu0["ort"])):
            ts = times[k]
            nbusy, cpu, shares = busy_threads({}, own[k])
            _, cpu_all, _ = busy_threads(c0, cpu1[k])
            out = os.path.join(d, "%s.%s.out.npy" % (name, k))
            wk.save(out)
            mem = wk.mem()
            res[k] = {
                "median": statistics.median(ts), "min": min(ts), "max": max(ts), "n": len(ts),
                "load": wk.ready["load_ms"], "first": wk.ready["first_ms"],
                "engine": wk.ready["engine"],
                "threads": nbusy, "shares": shares, "cpu_per_wall": cpu / wall[k] if wall[k] > 0 else 0.0,
                "cpu_outside": max(0.0, cpu_all - cpu),
                "out": np.load(out),
                "hwm_mb": mem["hwm_kb"] / 1024, "rss_mb": mem["rss_kb"] / 1024,
            }
        a, b = res["ember"]["out"], res["ort"]["out"]
        if a.size != b.size:
            raise RuntimeError("%s: ember gave %s values, ORT %s" % (name, a.shape, b.shape))
        a, b = a.reshape(-1), b.reshape(-1)
        res["diff"] = float(np.max(np.abs(a - b)))
        res["scale"] = float(np.max(np.abs(b)))
        res["argmax_same"] = int(np.argmax(a)) == int(np.argmax(b))
        if os.path.exists(ref):
            t = np.load(ref).reshape(-1)
            res["diff_torch"] = {"ember": float(np.max(np.abs(a - t))),
                                 "ort": float(np.max(np.abs(b - t)))}
        return res
    finally:
        em.close()
        ort.close()


def fmt_ms(x):
    return "%.1f" % x if x >= 10 else "%.2f" % x


def table(results, args):
    cpu, cores = machine()
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    ortv = next((r["ort"]["engine"] for r in results if "ort" in r), "onnxruntime-node")
    lines = [
        "### ember vs ONNX Runtime, %s, %s (%d cores)" % (day, cpu, cores),
        "",
        "Batch 1, %d threads each, float32; latency in ms, median (min-max) of the timed "
        "runs after warm-up, the two engines taking turns in alternating rounds. "
        "ORT: %s, graph optimisation 'all', sequential. Peak memory: VmHWM of each process. "
        "Load: file to ready model; 1st: the first inference. Max |diff|: largest absolute "
        "difference between the two outputs (max |ORT output| in brackets). "
        "Load average at start / end: %.1f / %.1f."
        % (args.threads, ortv.replace("onnxruntime-node-", "onnxruntime-node "),
           args.load_start, os.getloadavg()[0]),
        "",
        "| model | ember ms | ORT ms | ember/ORT (of mins) | ember MB | ORT MB | load ms ember / ORT "
        "| 1st ms ember / ORT | max abs diff | runs | ember from |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append("| %s | failed: %s |  |  |  |  |  |  |  |  |  |" % (r["name"], r["error"]))
            continue
        e, o = r["ember"], r["ort"]
        lines.append("| %s | %s (%s-%s) | %s (%s-%s) | %.2f (%.2f) | %.0f | %.0f | %s / %s | %s / %s "
                     "| %.1e (%.2g)%s | %d / %d | %s |" % (
                         r["name"], fmt_ms(e["median"]), fmt_ms(e["min"]), fmt_ms(e["max"]),
                         fmt_ms(o["median"]), fmt_ms(o["min"]), fmt_ms(o["max"]),
                         e["median"] / o["median"], e["min"] / o["min"], e["hwm_mb"], o["hwm_mb"],
                         fmt_ms(e["load"]), fmt_ms(o["load"]), fmt_ms(e["first"]), fmt_ms(o["first"]),
                         r["diff"], r["scale"], "" if r["argmax_same"] else " argmax differs",
                         e["n"], o["n"], e["engine"].replace("ember-", "")))
    ok = [r for r in results if "error" not in r]
    if len(ok) > 1:
        g = math.exp(sum(math.log(r["ember"]["median"] / r["ort"]["median"]) for r in ok) / len(ok))
        lines.append("")
        lines.append("Geometric mean of ember/ORT over %d models: %.2f." % (len(ok), g))
    return "\n".join(lines)


def checks(results, args):
    lines = []
    for r in results:
        if "error" in r:
            continue
        e, o = r["ember"], r["ort"]
        note = []
        for k, v in (("ember", e), ("ORT", o)):
            if v["cpu_per_wall"] > args.threads + 0.1:
                note.append("%s over %d threads" % (k, args.threads))
        if r["diff"] > 1e-3 * max(1.0, r["scale"]):
            note.append("outputs differ by %.2g" % r["diff"])
        if not r["argmax_same"]:
            note.append("top-1 classes differ")
        dt = r.get("diff_torch")
        def sh(v):
            return "/".join("%.0f" % (100 * x) for x in v["shares"][:4])
        lines.append("%-19s CPU/wall ember %.2f (thread shares %s%%), ORT %.2f (%s%%); "
                     "CPU s outside own runs %.2f / %.2f; "
                     "RSS at end %.0f / %.0f MB; vs PyTorch: ember %s, ORT %s%s" % (
                         r["name"], e["cpu_per_wall"], sh(e), o["cpu_per_wall"], sh(o),
                         e["cpu_outside"], o["cpu_outside"],
                         e["rss_mb"], o["rss_mb"],
                         "%.1e" % dt["ember"] if dt else "-", "%.1e" % dt["ort"] if dt else "-",
                         ("  <-- " + "; ".join(note)) if note else ""))
    cw = [r["ort"]["cpu_per_wall"] for r in results if "error" not in r]
    if cw and args.threads > 1 and statistics.median(cw) < 0.75 * args.threads:
        lines.append("note: ORT got %.2f CPU seconds per wall second (median) with %d threads: "
                     "the machine was busy, so latencies are inflated for both engines and the "
                     "ratios are the figure to read" % (statistics.median(cw), args.threads))
    return "\n".join(lines)


def profile(name, args, env):
    d = args.dir
    em = Worker("ember", [args.ember, "bench/ember_worker.lua", name,
                          os.path.join(d, name + ".onnx"), os.path.join(d, name + ".safetensors"),
                          os.path.join(d, name + ".input.npy"), args.front, str(args.threads)],
                ember_env(env, args))
    try:
        rows, top = em.profile(args.profile_runs)
    finally:
        em.close()
    total = next(ms for ty, ms, _ in rows if ty == "(total)")
    out = ["", "#### ember per module type, %s (%s, %d threads, mean of %d inferences)"
           % (name, em.ready["engine"], args.threads, args.profile_runs), "",
           "| module | ms per inference | % of inference | calls |", "|---|---:|---:|---:|"]
    for ty, ms, calls in rows:
        if ty != "(total)":
            out.append("| %s | %.2f | %.1f | %d |" % (ty, ms, 100 * ms / total, calls))
    summed = sum(ms for ty, ms, _ in rows if ty != "(total)")
    out.append("| (all modules) | %.2f | %.1f | |" % (summed, 100 * summed / total))
    out.append("| (inference, wall) | %.2f | 100.0 | |" % total)
    out += ["", "Slowest single modules:", "", "| ms | % | module |", "|---:|---:|---|"]
    for ms, label in top:
        out.append("| %.2f | %.1f | %s |" % (ms, 100 * ms / total, label.replace("|", "/")))
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", default=os.environ.get("BENCH") == "quick",
                   help="a one-minute check: %s, fewer runs" % ", ".join(QUICK_MODELS))
    p.add_argument("--models", help="comma-separated (default: all %d)" % len(MODELS))
    p.add_argument("--front", default=os.environ.get("EMBER_FRONT", "auto"),
                   choices=["auto", "onnx", "lua"],
                   help="ember's graph: ember.onnx.load on the .onnx, nets/<model>.lua with the "
                        "safetensors, or auto (onnx when it loads, else lua)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    p.add_argument("--runs", type=int, default=None, help="at least this many timed runs per engine")
    p.add_argument("--rounds", type=int, default=None, help="alternations per model")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed runs per engine and model when runs allow more")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--settle", type=float, default=0.05,
                   help="seconds of pause before each batch (default 0.05)")
    p.add_argument("--max-per-round", type=int, default=20)
    p.add_argument("--dir", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--ember", default=os.path.join(ROOT, "ember"))
    p.add_argument("--out", help="also write the markdown here (default DIR/results.md)")
    p.add_argument("--profile", default=None, metavar="MODEL",
                   help="time ember's modules by type on MODEL (also EMBER_PROFILE=1)")
    p.add_argument("--profile-runs", type=int, default=5)
    p.add_argument("--wait-quiet", type=float, default=float(os.environ.get("BENCH_WAIT_QUIET", "0")),
                   metavar="SECONDS", help="first wait up to this long for the 1-minute load "
                   "average to fall below threads + 0.5 (also BENCH_WAIT_QUIET)")
    p.add_argument("--self-check", action="store_true",
                   help="ONNX Runtime in both seats: the ratios should come out near 1")
    p.add_argument("--ember-env", action="append", default=[], metavar="KEY=VALUE",
                   help="set in ember's workers only (e.g. EMBER_PROFILE=1); "
                        "noted under the table")
    args = p.parse_args(argv)
    if args.runs is None:
        args.runs = 10 if args.quick else 20
    if args.rounds is None:
        args.rounds = 5 if args.quick else 10
    if args.budget is None:
        args.budget = 2.0 if args.quick else 6.0
    if args.profile is None and os.environ.get("EMBER_PROFILE") not in (None, "", "0"):
        args.profile = os.environ.get("EMBER_PROFILE_MODEL", "resnet50")
    models = args.models.split(",") if args.models else (QUICK_MODELS if args.quick else MODELS)

    env = dict(os.environ)
    # both engines get the thread count through their own API; these only keep
    # libraries that read the environment (ORT's OpenMP builds, OpenBLAS) from using more
    env["OMP_NUM_THREADS"] = str(args.threads)
    env["OPENBLAS_NUM_THREADS"] = str(args.threads)

    deadline = time.monotonic() + args.wait_quiet
    while os.getloadavg()[0] >= args.threads + 0.5 and time.monotonic() < deadline:
        time.sleep(5)
    results = []
    args.load_start = os.getloadavg()[0]
    t_all = time.monotonic()
    for name in models:
        t0 = time.monotonic()
        try:
            r = bench_model(name, args, env)
            print("bench: %-20s ember %s %.2f ms, ORT %.2f ms, diff %.1e (%.0fs)" % (
                name, r["ember"]["engine"], r["ember"]["median"], r["ort"]["median"], r["diff"],
                time.monotonic() - t0), file=sys.stderr, flush=True)
        except Exception as e:   # one model failing must not hide the others
            r = {"name": name, "error": str(e).replace("|", "/")[:200]}
            print("bench: %s failed: %s" % (name, e), file=sys.stderr, flush=True)
        results.append(r)

    md = table(results, args)
    chk = checks(results, args)
    if args.self_check:
        md += "\n\nSelf-check: the 'ember' columns are a second ONNX Runtime process."
    if args.ember_env:
        md += "\n\nember's workers ran with " + " ".join(args.ember_env) + "."
    prof = ""
    if args.profile:
        try:
            prof = profile(args.profile, args, env)
        except Exception as e:
            prof = "\nprofile of %s failed: %s" % (args.profile, e)
    print()
    print(md)
    print()
    print(chk)
    if prof:
        print(prof)
    print("\n(%d models in %.0f s)" % (len(models), time.monotonic() - t_all))
    out = args.out or os.path.join(args.dir, "results.md")
    with open(out, "w") as f:
        f.write(md + "\n\n```\n" + chk + "\n```\n" + (prof + "\n" if prof else ""))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
