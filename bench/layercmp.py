#!/usr/bin/python3
"""layercmp.py -- where ember loses or wins against ONNX Runtime, layer by
layer, inside the whole nets of `make bench` (make bench-layers).

ember's side times each leaf module as the net runs (leaf_times.lua); ONNX
Runtime's comes from its own profiler (ort_profile.js: the kernel time of each
node). The two run in alternating rounds, each a fresh process, so both see
the machine in the same moods; per layer the median over all rounds' runs is
kept. Layers are paired by output shape and weight shape (ORT fuses the same
activations and residual adds into its convolutions as ember does), then
summed by kind: convolutions by kernel and stride, pools, the rest by type.

Both timings cost a little: a Lua closure and two clock reads per ember
layer, and ORT's profiler (about 3% of a mobilenet_v2 inference), so the
"whole" lines show each engine's untimed forward from the same processes.

    /usr/bin/python3 bench/layercmp.py [--models resnet50,mobilenet_v2] [--rounds 3]
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = ["inception_v3", "googlenet", "resnet18", "resnet50", "mobilenet_v2",
          "squeezenet1_1", "shufflenet_v2_x1_0", "alexnet"]

# ember's leaf type -> the ORT op types it may pair with (convolutions and
# Linear pair by weight shape, whatever ORT named the fused node)
PAIRS = {
    "nn.SpatialMaxPooling": {"MaxPool"},
    "nn.SpatialAveragePooling": {"AveragePool"},
    "nn.SpatialAdaptiveAveragePooling": {"GlobalAveragePool", "AveragePool"},
    "nn.JoinTable": {"Concat"},
    "nn.ReLU": {"Relu"},
    "nn.CAddTable": {"Add", "Sum"},
    "nn.Flatten": {"Flatten", "Reshape"},
    "nn.SoftMax": {"Softmax"},
    "nn.SpatialCrossMapLRN": {"LRN"},
    "nn.Dropout": {"Dropout"},
}


def run(cmd):
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != 0:
        sys.exit("%s failed:\n%s" % (" ".join(cmd), p.stderr))
    return p.stdout.splitlines()


def ember_round(onnx, npy, args):
    lines = run(["./ember", "bench/leaf_times.lua", onnx, npy, str(args.threads), str(args.runs)])
    whole = float(lines[0].split()[1])
    leaves = []
    for line in lines[1:]:
        times, typename, kind, out, weight, desc = line.split("\t")
        leaves.append({"times": [float(t) for t in times.split(",")], "type": typename,
                       "kind": kind, "out": out, "weight": weight, "desc": desc})
    return whole, leaves


def ort_round(onnx, npy, args, tmp):
    prefix = os.path.join(tmp, "ort_%d" % len(os.listdir(tmp)))
    lines = run(["node", "bench/ort_profile.js", onnx, npy, str(args.threads), str(args.runs), prefix])
    whole = float(lines[0].split()[1])
    path = lines[1].split(" ", 1)[1]
    with open(path) as f:
        events = json.load(f)
    os.remove(path)
    nodes, order = collections.defaultdict(list), []
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        name = e["name"][:-len("_kernel_time")]
        if name not in nodes:
            order.append(name)
        nodes[name].append((e["dur"], e.get("args", {})))
    out = []
    for name in order:
        runs = nodes[name][-args.runs:]            # the timed runs, not the warm-up
        a = runs[0][1]
        shapes = lambda key: ["x".join(str(d) for d in list(s.values())[0]) for s in a.get(key, [])]
        ins, outs = shapes("input_type_shape"), shapes("output_type_shape")
        out.append({"name": name, "op": a.get("op_name", "?"), "times": [r[0] for r in runs],
                    "out": outs[0] if outs else "-", "weight": ins[1] if len(ins) > 1 else "-"})
    return whole, out


def pair(leaves, nodes):
    """Each ember leaf with the first unused ORT node that computes the same."""
    used, pairs = set(), []
    for leaf in leaves:
        want = PAIRS.get(leaf["type"])
        for i, n in enumerate(nodes):
            if i in used or n["out"] != leaf["out"]:
                continue
            if leaf["weight"] != "-" and n["weight"] == leaf["weight"] or \
               want and n["op"] in want:
                used.add(i)
                pairs.append((leaf, n))
                break
        else:
            pairs.append((leaf, None))
    return pairs, [n for i, n in enumerate(nodes) if i not in used]


def merge(rounds, key):
    """Per position, all rounds' times together."""
    base = [dict(x) for x in rounds[0]]
    for x in base:
        x["times"] = list(x["times"])
    for r in rounds[1:]:
        if len(r) != len(base):
            sys.exit("the rounds saw different layers")
        for x, y in zip(base, r):
            x["times"] += y["times"]
    for x in base:
        x[key] = statistics.median(x["times"]) / 1000.0      # ms
    return base


def compare(model, args, tmp):
    d = args.dir
    onnx, npy = os.path.join(d, model + ".onnx"), os.path.join(d, model + ".input.npy")
    if not os.path.exists(onnx):
        sys.exit("missing %s: run make bench first (it exports the models)" % onnx)
    e_rounds, o_rounds, e_whole, o_whole = [], [], [], []
    for r in range(args.rounds):
        for engine in (("ember", "ort") if r % 2 == 0 else ("ort", "ember")):
            if engine == "ember":
                w, leaves = ember_round(onnx, npy, args)
                e_whole.append(w)
                e_rounds.append(leaves)
            else:
                w, nodes = ort_round(onnx, npy, args, tmp)
                o_whole.append(w)
                o_rounds.append(nodes)
    leaves, nodes = merge(e_rounds, "ms"), merge(o_rounds, "ms")
    pairs, rest = pair(leaves, nodes)
    return statistics.median(e_whole), statistics.median(o_whole), pairs, rest


def report(model, ew, ow, pairs, rest, top):
    print("\n## %s\n" % model)
    es = sum(l["ms"] for l, _ in pairs)
    os_ = sum(n["ms"] for n in [n for _, n in pairs if n] + rest)
    print("whole forward: ember %.2f ms, ORT %.2f ms (profiler on), ember/ORT %.2f" % (ew, ow, ew / ow))
    print("sum of layers: ember %.2f ms, ORT %.2f ms\n" % (es, os_))
    kinds = collections.OrderedDict()
    for l, n in pairs:
        k = kinds.setdefault(l["kind"], [0, 0.0, 0.0])
        k[0] += 1
        k[1] += l["ms"]
        k[2] += n["ms"] if n else 0.0
    unpaired = collections.OrderedDict()
    for n in rest:
        unpaired[n["op"]] = unpaired.get(n["op"], 0.0) + n["ms"]
    print("| kind | layers | ember ms | ORT ms | ember - ORT ms |")
    print("|---|---:|---:|---:|---:|")
    for k, (c, e, o) in sorted(kinds.items(), key=lambda kv: -(kv[1][1] - kv[1][2])):
        print("| %s | %d | %.2f | %.2f | %+.2f |" % (k, c, e, o, e - o))
    for op, ms in unpaired.items():
        print("| ORT %s (no ember layer) | | | %.2f | %+.2f |" % (op, ms, -ms))
    print("\nlayers where ember loses most:\n")
    print("| ember ms | ORT ms | layer |")
    print("|---:|---:|---|")
    gaps = sorted(pairs, key=lambda p: -(p[0]["ms"] - (p[1]["ms"] if p[1] else 0)))
    for l, n in gaps[:top]:
        print("| %.3f | %s | %s -> %s |" % (l["ms"], "%.3f" % n["ms"] if n else "-", l["desc"], l["out"]))
    return kinds, unpaired


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--dir", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    total = collections.OrderedDict()
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            ew, ow, pairs, rest = compare(model, args, tmp)
            kinds, unpaired = report(model, ew, ow, pairs, rest, args.top)
            for k, (c, e, o) in kinds.items():
                t = total.setdefault(k, [0, 0.0, 0.0])
                t[0] += c
                t[1] += e
                t[2] += o
            for op, ms in unpaired.items():
                t = total.setdefault("ORT " + op + " (no ember layer)", [0, 0.0, 0.0])
                t[2] += ms
    print("\n## all models, by kind\n")
    print("| kind | layers | ember ms | ORT ms | ember / ORT |")
    print("|---|---:|---:|---:|---:|")
    for k, (c, e, o) in sorted(total.items(), key=lambda kv: -(kv[1][1] - kv[1][2])):
        print("| %s | %s | %.2f | %.2f | %s |" % (k, c or "", e, o, "%.2f" % (e / o) if o > 0 and e > 0 else "-"))


if __name__ == "__main__":
    main()
