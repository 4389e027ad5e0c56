#!/usr/bin/env python3
"""docs/results.md's table "FedAvg by initial weights": one row per initial model, one column per
implementation (PFLlib, FedKit, the plain-PyTorch reference), the global model's accuracy after
round 10 on PFLlib's Fashion-MNIST split.

    python3 bench/pfllib/init_table.py experiments/results/runs/pfllib-fmnist [fedprox]

With `fedprox`, the same table for FedProx (PFLlib's own runs against FedKit's from the same
PyTorch seeds; the other cells were run for FedAvg only).

Initial models: "PyTorch seed s" is PyTorch's default initialisation after torch.manual_seed(s)
(what run_pfllib.py gives PFLlib for seed s); "FedKit seed s" is FedKit's for seed s, which is
PyTorch's default initialisation after torch.manual_seed(fedkit_model_seed(s))
(fedavg_reference.py). Sources under RUNS: pfllib/FedAvg/seed-<s>.log (PFLlib, PyTorch seeds),
pfllib-fedkit-init/FedAvg/seed-<fedkit_model_seed(s)>.log (PFLlib from FedKit's weights),
fedkit/fmnist-pfllib/fedavg/seed-<s>/ (FedKit, drop_last as PFLlib),
fedkit-torch-init/fmnist-pfllib/fedavg/seed-<s>/ (FedKit from PyTorch seed s's weights:
`federation.init_seed: s`) and reference/fedavg.log (fedavg_reference.py's JSON lines, each
followed by GNU time's line). Each implementation draws its own batch order. Standard library only.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fedavg_reference import fedkit_model_seed  # noqa: E402  (imports torch)
from table import fedkit_run, pfllib_run  # noqa: E402


def cell(value):
    return "–" if value is None else f"{100 * value:.1f}"


def main(root, method="fedavg"):
    algo = {"fedavg": "FedAvg", "fedprox": "FedProx"}[method]
    reference = {}
    path = os.path.join(root, "reference", "fedavg.log")
    for line in open(path) if os.path.exists(path) else []:
        if line.startswith("{"):
            r = json.loads(line)
            if method == "fedavg":
                reference[(r["init"], r["seed"])] = r["accuracy"][-1]
    rows = []
    seeds = sorted({s for _, s in reference} | {1, 2, 3})
    for init in ("pfllib", "fedkit"):
        for s in seeds:
            if init == "pfllib":
                log = os.path.join(root, "pfllib", algo, f"seed-{s}.log")
                d = os.path.join(root, "fedkit-torch-init", "fmnist-pfllib", method, f"seed-{s}")
            else:
                log = os.path.join(root, "pfllib-fedkit-init", algo, f"seed-{fedkit_model_seed(s)}.log")
                d = os.path.join(root, "fedkit", "fmnist-pfllib", method, f"seed-{s}")
            fk = fedkit_run(d, "") if os.path.exists(os.path.join(d, "rounds.jsonl")) else None
            p = pfllib_run(log) if os.path.exists(log) else None
            values = [p["acc"] if p else None, fk["global"] if fk else None, reference.get((init, s))]
            if any(v is not None for v in values):
                label = f"PyTorch seed {s}" if init == "pfllib" else f"FedKit seed {s}"
                rows.append((init, label, values))
    print("| initial model | PFLlib | FedKit | reference (PyTorch) | mean of the row |")
    print("|---|---:|---:|---:|---:|")
    for init, label, values in rows:
        known = [v for v in values if v is not None]
        print(f"| {label} | {' | '.join(cell(v) for v in values)} | {cell(sum(known) / len(known))} |")
    for init, name in (("pfllib", "PyTorch seeds"), ("fedkit", "FedKit seeds")):
        known = [v for i, _, values in rows if i == init for v in values if v is not None]
        if known:
            print(f"| **all runs from {name}** ({len(known)}) | | | | **{cell(sum(known) / len(known))}** |")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["fedavg"], ["fedprox"]):
        sys.exit(__doc__)
    main(*sys.argv[1:])
