#!/usr/bin/env python3
"""Markdown results table from FedKit run folders (docs/results.md is made with it).

    python3 scripts/results-table.py runs/fmnist-shards2 [more experiment folders ...]
    python3 scripts/results-table.py --timing fedrep runs/fmnist-shards2 ...   # seconds per round by phase

Each folder is an experiment's output (`<method>/seed-<s>/rounds.jsonl`, `clients.csv`,
`timings.jsonl`). Several folders of the same experiment (e.g. seeds run separately with
`exp run --seeds 2 --out DIR`) are merged: a (method, seed) pair must appear only once.
Metrics follow DESIGN §7: the final round and the mean of the last N evaluations (N =
`eval.last_rounds` of the run's config.yaml), never the best round; mean ± sample std over
seeds, in %. Personalised figures are over the clients trained so far ("clients": how many at
the final evaluation); "val" columns are the same figures on the validation splits
(eval.validation_fraction): choose settings on them, report the test columns. Runs written
before the evaluation protocol of issue 9 (no "participants" in rounds.jsonl: every client
scored, no validation split) are named on stderr. Standard library only.
"""
import csv
import json
import math
import os
import re
import sys


def last_rounds(run_dir):
    with open(os.path.join(run_dir, "config.yaml")) as f:
        m = re.search(r"^\s*last_rounds:\s*(\d+)", f.read(), re.M)
    if not m:
        sys.exit(f"{run_dir}/config.yaml: no eval.last_rounds")
    return int(m.group(1))


def method_order(experiment_dir):
    """Method labels in the experiment file's order (from the resolved config.yaml)."""
    path = os.path.join(experiment_dir, "config.yaml")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return re.findall(r'^    label: "?([^"\n]+)"?$', f.read(), re.M)


def run_metrics(run_dir):
    records = []
    with open(os.path.join(run_dir, "rounds.jsonl")) as f:
        for number, line in enumerate(f, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{run_dir}/rounds.jsonl:{number}: not JSON ({e})")
    n = last_rounds(run_dir)
    out = {"rounds": len(records)}

    def series(get):
        values = [v for v in (get(r) for r in records) if v is not None]
        return values

    metrics = {
        "global": lambda r: r.get("global_accuracy"),
        "personal": lambda r: (r.get("personalized") or {}).get("weightedMean"),
        "worst": lambda r: (r.get("personalized") or {}).get("worst"),
        "bottom": lambda r: (r.get("personalized") or {}).get("bottomDecile"),
        "val_global": lambda r: (r.get("validation") or {}).get("global_accuracy"),
        "val_personal": lambda r: ((r.get("validation") or {}).get("personalized") or {}).get("weightedMean"),
    }
    for name, get in metrics.items():
        values = series(get)
        if values:
            out[name] = values[-1]
            out[name + "_last"] = sum(values[-n:]) / len(values[-n:])
    scored = series(lambda r: (r.get("personalized") or {}).get("clients"))
    if scored:
        out["clients"] = scored[-1]
    if records and "participants" not in records[0]:
        print(f"{run_dir}: written before the issue-9 evaluation protocol (never-trained clients scored, no validation split)",
              file=sys.stderr)
    clients = os.path.join(run_dir, "clients.csv")
    if os.path.exists(clients):
        with open(clients) as f:
            rows = list(csv.DictReader(f))
        column = next((c for c in (rows[0].keys() if rows else []) if "global_test" in c), None)
        values = [float(r[column]) for r in rows if column and r[column] not in ("", None)]
        if values:
            out["pgt_mean"] = sum(values) / len(values)
            out["pgt_max"] = max(values)
    timings = os.path.join(run_dir, "timings.jsonl")
    if os.path.exists(timings):
        with open(timings) as f:
            rows = [json.loads(l) for l in f if l.strip()]
        if rows:
            for key in ("total_s", "local_s", "aggregate_s", "server_s", "eval_s"):
                out[key] = sum(r.get(key, 0) for r in rows) / len(rows)
            out["s_round"] = out["total_s"]
    return out


def stat(values, percent=True):
    if not values:
        return "–"
    scale = 100 if percent else 1
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0
    return f"{scale * mean:.1f} ± {scale * std:.1f}" if percent else f"{mean:.1f}"


def timing_table(runs, order, reference):
    """Mean seconds per round by phase, and each method's time per round relative to `reference`
    on the same seeds (the runs of one seed share a process and the machine's state)."""
    print("| method | seeds | s/round | local | server steps | evaluation | server share | vs " + reference + " |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for method in order:
        if method not in runs:
            continue
        seeds = sorted(s for s in runs[method] if "total_s" in runs[method][s])
        if not seeds:
            continue
        ms = [runs[method][s] for s in seeds]
        mean = lambda key: sum(m[key] for m in ms) / len(ms)
        ratios = [runs[method][s]["total_s"] / runs[reference][s]["total_s"]
                  for s in seeds if s in runs.get(reference, {}) and "total_s" in runs[reference][s]]
        ratio = f"{sum(ratios) / len(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "–"
        print(f"| {method} | {','.join(map(str, seeds))} | {mean('total_s'):.1f} | {mean('local_s'):.1f} | {mean('server_s'):.1f} | "
              f"{mean('eval_s'):.1f} | {100 * mean('server_s') / mean('total_s'):.0f} % | {ratio} |")


def main(argv):
    timing = None
    if len(argv) > 2 and argv[1] == "--timing":
        timing, argv = argv[2], [argv[0]] + argv[3:]
    if len(argv) < 2:
        sys.exit(__doc__)
    runs = {}  # method -> seed -> metrics
    order = []
    for experiment in argv[1:]:
        if not os.path.isdir(experiment):
            sys.exit(f"{experiment}: not a folder")
        order += [m for m in method_order(experiment) if m not in order]
        for method in sorted(os.listdir(experiment)):
            method_dir = os.path.join(experiment, method)
            if not os.path.isdir(method_dir) or method.startswith("."):
                continue
            for seed_dir in sorted(os.listdir(method_dir)):
                run_dir = os.path.join(method_dir, seed_dir)
                if not seed_dir.startswith("seed-") or not os.path.exists(os.path.join(run_dir, "rounds.jsonl")):
                    continue
                seed = int(seed_dir[5:])
                if seed in runs.setdefault(method, {}):
                    sys.exit(f"{run_dir}: {method} seed {seed} appears twice")
                runs[method][seed] = run_metrics(run_dir)
    order += sorted(m for m in runs if m not in order)
    if timing:
        timing_table(runs, order, timing)
        return
    columns = [("global", "global"), ("global_last", "global, last N"), ("personal", "personal (w)"),
               ("personal_last", "personal, last N"), ("worst", "worst client"), ("pgt_mean", "personal on global test (mean)"),
               ("pgt_max", "(best client)"), ("clients", "clients scored"), ("val_global", "val global"),
               ("val_global_last", "val global, last N"), ("val_personal", "val personal (w)"),
               ("val_personal_last", "val personal, last N")]
    present = [c for c in columns if any(c[0] in m for r in runs.values() for m in r.values())]
    print("| method | seeds | rounds | " + " | ".join(title for _, title in present) + " | s/round |")
    print("|---|---|---:|" + "---:|" * len(present) + "---:|")
    for method in order:
        if method not in runs:
            continue
        seeds = sorted(runs[method])
        ms = [runs[method][s] for s in seeds]
        cells = [stat([m[key] for m in ms if key in m], percent=key != "clients") for key, _ in present]
        rounds = sorted({m["rounds"] for m in ms})
        print(f"| {method} | {','.join(map(str, seeds))} | {'/'.join(map(str, rounds))} | " + " | ".join(cells)
              + f" | {stat([m['s_round'] for m in ms if 's_round' in m], percent=False)} |")


if __name__ == "__main__":
    main(sys.argv)
