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

Both timings cost something: a Lua closure and two clock reads per ember
layer, and ORT's profiler, whose per-node times then run long and flatter
ember (much on shufflenet_v2_x1_0's many small nodes). So the "whole" lines
show each engine's untimed forward, ORT's from a third process without the
profiler, in the same rounds, and "ORT net" takes from each node an even
share of what the profiler added to the whole forward: an estimate.

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
    "nn.Linear": {"Gemm", "FusedGemm", "MatMul"},
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


def ort_plain(onnx, npy, args):
    return float(run(["node", "bench/ort_profile.js", onnx, npy, str(args.threads), str(args.runs), "-"])[0].split()[1])


def same(ember, ort, channels):
    """Shapes equal, but for the dims in channels, which ORT may pad up to a
    multiple of 8 for its blocked layout (ShuffleNet's 116 planes as 120)."""
    if ember == ort:
        return True
    e, o = ember.split("x"), ort.split("x")
    if len(e) != len(o) or "-" in (ember, ort):
        return False
    for d, (a, b) in enumerate(zip(e, o)):
        a, b = int(a), int(b)
        if a != b and not (d in channels and b % 8 == 0 and a < b < a + 8):
            return False
    return True


def pair(leaves, nodes):
    """Each ember leaf with the first unused ORT node that computes the same."""
    used, pairs = set(), []
    for leaf in leaves:
        want = PAIRS.get(leaf["type"])
        for i, n in enumerate(nodes):
            if i in used or not same(leaf["out"], n["out"], (1,)):
                continue
            if want and n["op"] in want or \
               leaf["weight"] != "-" and same(leaf["weight"], n["weight"], (0, 1)):
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
    e_rounds, o_rounds, e_whole, o_whole, o_plain = [], [], [], [], []
    for r in range(args.rounds):
        for engine in (("ember", "ort", "plain") if r % 2 == 0 else ("plain", "ort", "ember")):
            if engine == "plain":
                o_plain.append(ort_plain(onnx, npy, args))
                continue
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
    return statistics.median(e_whole), (statistics.median(o_whole), statistics.median(o_plain)), pairs, rest


def report(model, ew, ow, pairs, rest, top):
    print("\n## %s\n" % model)
    es = sum(l["ms"] for l, _ in pairs)
    nodes = [n for _, n in pairs if n] + rest
    os_ = sum(n["ms"] for n in nodes)
    # what the profiler added per forward, spread evenly over the nodes:
    # each node's time less that share ("ORT net"), an estimate
    share = max(0.0, ow[0] - ow[1]) / max(1, len(nodes))
    for n in nodes:
        n["net"] = max(0.0, n["ms"] - share)
    print("whole forward: ember %.2f ms, ORT %.2f ms without its profiler (%.2f ms with it), "
          "ember/ORT %.2f" % (ew, ow[1], ow[0], ew / ow[1]))
    print("sum of layers: ember %.2f ms, ORT %.2f ms (%.3f ms a node less: %.2f ms)\n"
          % (es, os_, share, sum(n["net"] for n in nodes)))
    kinds = collections.OrderedDict()
    for l, n in pairs:
        k = kinds.setdefault(l["kind"], [0, 0.0, 0.0, 0.0])
        k[0] += 1
        k[1] += l["ms"]
        k[2] += n["ms"] if n else 0.0
        k[3] += n["net"] if n else 0.0
    unpaired = collections.OrderedDict()
    for n in rest:
        u = unpaired.setdefault(n["op"], [0.0, 0.0])
        u[0] += n["ms"]
        u[1] += n["net"]
    print("| kind | layers | ember ms | ORT ms | ORT net ms | ember / ORT net |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, (c, e, o, on) in sorted(kinds.items(), key=lambda kv: -(kv[1][1] - kv[1][3])):
        print("| %s | %d | %.2f | %.2f | %.2f | %s |" % (k, c, e, o, on, "%.2f" % (e / on) if on > 0 else "-"))
    for op, (ms, net) in unpaired.items():
        print("| ORT %s (no ember layer) | | | %.2f | %.2f | |" % (op, ms, net))
    if rest:
        print("\nORT nodes not paired with an ember layer, slowest first: " +
              ", ".join("%s %s (weight %s) %.3f ms" % (n["op"], n["out"], n["weight"], n["net"])
                        for n in sorted(rest, key=lambda n: -n["net"])[:5]))
    print("\nlayers where ember loses most:\n")
    print("| ember ms | ORT net ms | layer |")
    print("|---:|---:|---|")
    gaps = sorted(pairs, key=lambda p: -(p[0]["ms"] - (p[1]["net"] if p[1] else 0)))
    for l, n in gaps[:top]:
        print("| %.3f | %s | %s -> %s |" % (l["ms"], "%.3f" % n["net"] if n else "-", l["desc"], l["out"]))
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
            for k, v in kinds.items():
                t = total.setdefault(k, [0, 0.0, 0.0, 0.0])
                for i in range(4):
                    t[i] += v[i]
            for op, (ms, net) in unpaired.items():
                t = total.setdefault("ORT " + op + " (no ember layer)", [0, 0.0, 0.0, 0.0])
                t[2] += ms
                t[3] += net
    print("\n## all models, by kind\n")
    print("| kind | layers | ember ms | ORT ms | ORT net ms | ember / ORT net |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, (c, e, o, on) in sorted(total.items(), key=lambda kv: -(kv[1][1] - kv[1][3])):
        print("| %s | %s | %.2f | %.2f | %.2f | %s |" % (k, c or "", e, o, on,
                                                     "%.2f" % (e / on) if on > 0 and e > 0 else "-"))


if __name__ == "__main__":
    main()
