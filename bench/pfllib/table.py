#!/usr/bin/env python3
"""The docs/results.md table "FedKit against PFLlib" from the logs and run folders of compare.sh.

    python3 bench/pfllib/table.py experiments/results/runs/pfllib-fmnist
    python3 bench/pfllib/table.py experiments/results/runs/pfllib-fmnist pfllib-issue11 fedkit-issue11
    python3 bench/pfllib/table.py experiments/results/runs/pfllib-fmnist --methods scaffold,apfl,pfedme,fedbabu,lg-fedavg,fedgen

The second form reads RUNS/<pfllib dir> and RUNS/<fedkit dir> (runs of another setting made
with compare.sh's PFLLIB_DIR/PFLLIB_SET and FEDKIT_DIR/FEDKIT_SET) instead of RUNS/pfllib and
RUNS/fedkit, and prints only the methods run there (no last-batch-kept column).

PFLlib (RUNS/pfllib/<Algo>/seed-<s>.log): the "Averaged Test Accuracy" of the evaluation at the
start of iteration 10 (after 10 rounds of training and aggregation) -- for Ditto the one after
"Evaluate personalized models" (its personal models), with the global model's beside it; for
PerAvg (issue 11, the row of both per-fedavg variants) the one after "Evaluate global model with
one step update" (the one-step personalised models), followed in its cell by "(global G)", the
global model's own accuracy that run_pfllib.py logs before that step; time
per round: the mean "time cost" of iterations 1-9 (training and aggregation only: with -eg 10
they evaluate nothing). FedKit (RUNS/fedkit/fmnist-pfllib/<method>/seed-<s>/): round 10's
weighted personalised accuracy (PFLlib's metric) and global accuracy (FedAvg, FedProx, Ditto,
both Per-FedAvg variants), and the mean of
local_s + aggregate_s + server_s over rounds 1-9 (not evaluated, eval_every 10). Mean ± sample
std over the seeds found (the value alone for one seed), in %. Processor seconds per run (user + system of the whole process:
start-up, data loading, 10 rounds, evaluations), which a shared machine's load changes far less
than wall time: the "cpu: user U s, system S s" line at the end of a PFLlib log, and
RUNS/fedkit-cpu/<method>-seed-<s>.txt for FedKit (both written by compare.sh); "–" where a run
has none. FedKit's runs in RUNS/fedkit train with drop_last as PFLlib does (fmnist-pfllib.yaml);
the column "FedKit, last batch kept" reads RUNS/fedkit-keep-last, the same runs with
federation.drop_last false (the earlier runs, before the key existed).

--methods a,b,... prints only those FedKit methods' rows (the labels below), with a column
saying which model each framework tests. Issue 11's other methods, read from the PFLlib logs:
SCAFFOLD, FedGen: "Evaluate global model" (the global model); LG-FedAvg: the same block, which
tests each client's own body under the global head; APFL: "Evaluate personalized models"
(PFLlib's mixture (1 - alpha) w_local + alpha v), its global model's figure from the "Global
model (run_pfllib.py)" line; pFedMe: the "Personal models theta (run_pfllib.py)" line (each
client's theta, the model the paper and FedKit test), with "(global G)" the "Global model
(run_pfllib.py)" line -- PFLlib's own "Average Test Accuracy" after "Evaluate personalized
model" is printed beside them as "printed P" (it tests the global model: run_pfllib.py's doc);
FedBABU: the block after "Evaluate fine-tuned personalized models" (after PFLlib's 11th
iteration), with "(global G)" round 10's "Evaluate global model" (the averaged body under the
initial head). With --methods two more columns read RUNS/<fedkit dir>-torch-init (fedkit-torch-init,
fedkit-issue11-torch-init): FedKit's runs started from PFLlib's initial models (compare.sh's
FEDKIT_DIR=fedkit-torch-init FEDKIT_SET=federation.init_seed=S for seed S), and their mean
difference from PFLlib's runs of the same seeds. Standard library only.
"""
import json
import math
import os
import re
import sys

# FedGen with PFLlib's four choices matched (fmnist-pfllib.yaml's fedgen-pfllib), and each alone (the
# two label draws count as one): read against the same PFLlib FedGen runs, tested as `fedgen`.
FEDGEN_PFLLIB = ("fedgen-pfllib", "fedgen-pfllib-labels", "fedgen-pfllib-round1", "fedgen-pfllib-bn")

METHODS = [("FedAvg", "fedavg"), ("FedProx", "fedprox"), ("Local", "local"), ("FedPer", "fedper"),
           ("FedRep", "fedrep"), ("Ditto", "ditto"),
           # Issue 11: both Per-FedAvg variants against PFLlib's PerAvg (first-order; it has no Hessian-free one).
           ("PerAvg", "per-fedavg"), ("PerAvg", "per-fedavg-hf"),
           # Issue 11's other methods that PFLlib has (it has no L2GD, FedDF or FedFTG).
           ("SCAFFOLD", "scaffold"), ("APFL", "apfl"), ("pFedMe", "pfedme"), ("FedBABU", "fedbabu"),
           ("LG-FedAvg", "lg-fedavg"), ("FedGen", "fedgen")] + [("FedGen", variant) for variant in FEDGEN_PFLLIB]

# The first FedKit method of each PFLlib algorithm; the others are FedKit-side variants of it.
PRIMARY = {}
for _algo, _method in METHODS:
    PRIMARY.setdefault(_algo, _method)

# Methods whose global model is a model of the method: Local has none, FedPer's and FedRep's
# "global model" is the averaged body with the initial, never trained head, and LG-FedAvg's the
# initial lower layers under the averaged head. FedBABU's (averaged body, never trained head) is
# not the method's model either, but PFLlib evaluates the same thing each round: it is printed
# as the check of the training before fine-tuning.
WITH_GLOBAL = ("fedavg", "fedprox", "ditto", "per-fedavg", "per-fedavg-hf", "scaffold", "apfl", "pfedme",
               "fedbabu", "fedgen") + FEDGEN_PFLLIB

# Which model each framework tests (--methods' column), by FedKit method.
TESTED = {
    "fedavg": "global model; global model",
    "per-fedavg": "global model after one local step; the same (first-order)",
    "per-fedavg-hf": "global model after one local step; the same (Hessian-free; PFLlib has first-order only)",
    "scaffold": "global model; global model",
    "apfl": "(1 - alpha) w_local + alpha v, v trained on f(v); alpha v + (1 - alpha) w_global, v on f(v_bar) (paper)",
    "pfedme": "theta (run_pfllib.py's line; PFLlib's own printed figure is the global model's); theta",
    "fedbabu": "fine-tuned 5 epochs from the client's model of an 11th round; fine-tuned 5 epochs from the round-10 global model",
    "lg-fedavg": "own body under the global head; own body under the global head",
    "fedgen": "global model; global model",
}
TESTED.update({variant: TESTED["fedgen"] for variant in FEDGEN_PFLLIB})


def pfllib_run(path):
    text = open(path).read()
    blocks = re.split(r"-+Round number: (\d+)-+", text)
    final = None
    for k in range(1, len(blocks), 2):
        if int(blocks[k]) == 10:
            final = blocks[k + 1]
    costs = [float(x) for x in re.findall(r"-+ time cost -+ ([0-9.]+)", text)]
    if final is None or len(costs) < 10:
        return None
    printed = None
    if "Evaluate fine-tuned personalized models" in final:      # FedBABU, after its 11th iteration
        personal = re.search(r"Evaluate fine-tuned personalized models-*\n.*?Averaged Test Accuracy: ([0-9.]+)",
                             final, re.S)
    elif "Personal models theta (run_pfllib.py)" in final:       # pFedMe
        personal = re.search(r"Personal models theta \(run_pfllib.py\): Test Accuracy: ([0-9.]+)", final)
        printed = re.search(r"Evaluate personalized model\n.*?Average Test Accuracy: ([0-9.]+)", final, re.S)
    else:
        personal = (re.search(r"Evaluate personalized models.*?Averaged Test Accuracy: ([0-9.]+)", final, re.S)
                    or re.search(r"Evaluate global model with one step update\n.*?Averaged Test Accuracy: ([0-9.]+)",
                                 final, re.S))
    glob = (re.search(r"Evaluate global models?\n.*?Averaged Test Accuracy: ([0-9.]+)", final, re.S)
            or re.search(r"Global model before the one-step update: Test Accuracy: ([0-9.]+)", final)
            or re.search(r"Global model \(run_pfllib.py\): Test Accuracy: ([0-9.]+)", final))
    if (personal or glob) is None:
        return None
    acc = float((personal or glob).group(1))
    return {"acc": acc, "global": float(glob.group(1)) if glob and personal else None,
            "printed": float(printed.group(1)) if printed else None, "s": sum(costs[1:10]) / 9,
            "cpu": cpu_seconds(text)}


def cpu_seconds(text):
    """User + system seconds from compare.sh's "cpu: user U s, system S s" line, or None."""
    m = re.search(r"^cpu: user ([0-9.]+) s, system ([0-9.]+) s", text, re.M)
    return float(m.group(1)) + float(m.group(2)) if m else None


def fedkit_run(run_dir, cpu_file):
    rounds = [json.loads(line) for line in open(os.path.join(run_dir, "rounds.jsonl"))]
    timings = [json.loads(line) for line in open(os.path.join(run_dir, "timings.jsonl"))]
    last = [r for r in rounds if r["round"] == 10]
    if not last:
        return None
    train = [t["local_s"] + t["aggregate_s"] + t["server_s"] for t in timings if 1 <= t["round"] <= 9]
    cpu = cpu_seconds(open(cpu_file).read()) if os.path.exists(cpu_file) else None
    return {"acc": last[0]["personalized"]["weightedMean"], "global": last[0].get("global_accuracy"),
            "s": sum(train) / len(train), "cpu": cpu}


def fedkit_runs(root, variant, method):
    """The finished FedKit runs of `method` under RUNS/<variant>, and their seeds."""
    runs, seeds = [], []
    d = os.path.join(root, variant, "fmnist-pfllib", method)
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        m = re.fullmatch(r"seed-(\d+)", name)
        r = fedkit_run(os.path.join(d, name), os.path.join(root, f"{variant}-cpu", f"{method}-{name}.txt")) if m else None
        if r:
            runs.append(r)
            seeds.append(m.group(1))
    return runs, seeds


def stats(values):
    if not values:
        return "–"
    m = sum(values) / len(values)
    if len(values) == 1:
        return f"{100 * m:.1f}"
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return f"{100 * m:.1f} ± {100 * sd:.1f}"


def mean(values, scale=1.0, digits=1):
    return f"{scale * sum(values) / len(values):.{digits}f}" if values else "–"


def main(root, pfllib_dir="pfllib", fedkit_dir="fedkit", only=None):
    """The table over RUNS/<pfllib_dir> and RUNS/<fedkit_dir>; with other folders than the
    defaults (another setting, e.g. pfllib-issue11 and fedkit-issue11) only the methods that
    have a run there are printed; with `only` (FedKit labels) only those rows, and a column
    saying which model each framework tests."""
    other = (pfllib_dir, fedkit_dir) != ("pfllib", "fedkit")
    show_kept = not only and not other   # the issue-14 table only
    columns = (["method"] + (["tested with (PFLlib; FedKit)"] if only else [])
               + ["PFLlib seeds", "PFLlib accuracy", "FedKit seeds", "FedKit accuracy (personal, w)", "FedKit global",
                  "difference (FedKit - PFLlib)"]
               + (["FedKit from PFLlib's initial models (seeds)", "difference, same initial models"] if only else [])
               + (["FedKit, last batch kept (seeds)"] if show_kept else [])
               + ["PFLlib s/round", "FedKit s/round", "PFLlib CPU s/run", "FedKit CPU s/run"])
    print(row(columns))
    print("|---|" + ("---|" if only else "") + "---|---:|---|---:|" + "---:|" * (len(columns) - (6 if only else 5)))
    for algo, method in METHODS:
        if only and method not in only:
            continue
        p, pseeds = [], []
        d = os.path.join(root, pfllib_dir, algo)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            m = re.fullmatch(r"seed-(\d+)\.log", name)
            r = pfllib_run(os.path.join(d, name)) if m else None
            if r:
                p.append(r)
                pseeds.append(m.group(1))
        f, fseeds = fedkit_runs(root, fedkit_dir, method)
        # Another setting prints the methods run there; a FedKit variant of a PFLlib method (the
        # fedgen-pfllib rows) only where FedKit has runs of it.
        if other and not f and (not p or method != PRIMARY[algo]):
            continue
        diff = "–"
        if p and f:
            diff = f"{100 * (sum(r['acc'] for r in f) / len(f) - sum(r['acc'] for r in p) / len(p)):+.1f}"
        glob = stats([r["global"] for r in f if r["global"] is not None]) if method in WITH_GLOBAL else "–"
        # PFLlib's global figure where its accuracy is of another model (Ditto's stays out, as in issue 14's table).
        pglob = [r["global"] for r in p if r["global"] is not None] if algo in ("PerAvg", "APFL", "pFedMe", "FedBABU") else []
        pprinted = [r["printed"] for r in p if r["printed"] is not None]
        pacc = (stats([r["acc"] for r in p]) + (f" (global {stats(pglob)})" if pglob else "")
                + (f" (printed {stats(pprinted)})" if pprinted else ""))
        cells = [method] + ([TESTED.get(method, "")] if only else [])
        cells += [",".join(pseeds) or "–", pacc, ",".join(fseeds) or "–", stats([r["acc"] for r in f]), glob, diff]
        if only:
            # FedKit with federation.init_seed s (PFLlib's torch-seed-s initial model), paired with PFLlib's seed s.
            init, init_seeds = fedkit_runs(root, f"{fedkit_dir}-torch-init", method)
            by_seed = {s: r["acc"] for s, r in zip(pseeds, p)}
            paired = [r["acc"] - by_seed[s] for s, r in zip(init_seeds, init) if s in by_seed]
            cells += [with_seeds(init, init_seeds), f"{100 * sum(paired) / len(paired):+.1f}" if paired else "–"]
        if show_kept:
            cells.append(with_seeds(*fedkit_runs(root, "fedkit-keep-last", method)))
        cells += [mean([r["s"] for r in p]), mean([r["s"] for r in f]),
                  mean([r["cpu"] for r in p if r["cpu"] is not None], digits=0),
                  mean([r["cpu"] for r in f if r["cpu"] is not None], digits=0)]
        print(row(cells))


def row(cells):
    return "| " + " | ".join(cells) + " |"


def with_seeds(runs, seeds):
    """Mean ± std of the runs' accuracy, followed by their seeds when there are any."""
    return stats([r["acc"] for r in runs]) + (f" ({','.join(seeds)})" if runs else "")

if __name__ == "__main__":
    args = sys.argv[1:]
    only = None
    if "--methods" in args:
        k = args.index("--methods")
        if k + 1 >= len(args):
            sys.exit("table.py: --methods needs a comma-separated list of FedKit methods\n" + __doc__)
        only = args[k + 1].split(",")
        unknown = [m for m in only if m not in {method for _, method in METHODS}]
        if unknown:
            sys.exit(f"table.py: --methods: unknown method(s) {', '.join(unknown)}; known: "
                     + ", ".join(method for _, method in METHODS))
        del args[k:k + 2]
    if len(args) not in (1, 3):
        sys.exit(__doc__)
    main(*args, only=only)
