#!/usr/bin/python3
"""Runs PFLlib's own main.py with FedKit's cnn-fmnist as the model (docs/results.md, issue 14).

    cd /tmp/pfllib/system && FEDKIT_SEED=1 python3 /path/to/run_pfllib.py -data FashionMNIST \
        -m CNN -algo FedAvg -gr 10 -lbs 10 -lr 0.005 -nc 20 -jr 1 -dev cpu

Every argument goes to PFLlib's main.py unchanged (run as __main__ with runpy). The only change
is the model: before main.py runs, PFLlib's `FedAvgCNN` class (what `-m CNN` builds for every
"MNIST" data set) is replaced by `FedKitCNN` below, a PyTorch copy of FedKit's `cnn-fmnist`
(plugins/Models/FashionMNISTCNN.swift, default parameters):

    conv 1->16 5x5 pad 2 - ReLU - max-pool 2 - conv 16->32 5x5 pad 2 - ReLU - max-pool 2 -
    flatten (1568) - fc 1568->128 - ReLU | head: fc 128->10

`fc` is the head, as PFLlib's FedPer/FedRep/FedAvg split it (`args.model.fc`), which is also
FedKit's body/head split of cnn-fmnist. PyTorch default initialisation.

FEDKIT_BENCH_OUT=FILE (used by bench/run-rounds.sh): also appends one JSON line to FILE at exit with
the wall time of every round as PFLlib measures it (its `Budget`: evaluation, when the round is
evaluated, + training + aggregation), the time of each `evaluate()` call within those rounds, the
model's forward MACs per sample, PFLlib's last averaged test accuracy and the peak resident memory
(getrusage). Nothing in PFLlib's code is changed for this: its server's `__init__` and `evaluate`
are wrapped.

Seeds: PFLlib's main.py calls torch.manual_seed(0) on import and every client's constructor calls
torch.manual_seed(0) again, so its batch order does not depend on any seed. FEDKIT_SEED (default
0) seeds torch just before the model's layers are built, so it chooses the initial weights.
"""
import atexit
import json
import os
import resource
import runpy
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class FedKitCNN(nn.Module):
    """FedKit's cnn-fmnist in PyTorch; `fc` is the head."""

    def __init__(self, in_features=1, num_classes=10, dim=1024):
        super().__init__()
        torch.manual_seed(int(os.environ.get("FEDKIT_SEED", "0")))
        self.conv1 = nn.Conv2d(in_features, 16, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=5, padding=2)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc(x)


def instrument(out_path):
    """Wraps PFLlib's Server so that its round and evaluation times are written to `out_path` at exit."""
    from flcore.servers.serverbase import Server
    from model_flops import forward_macs
    servers, evaluations = [], []
    original_init, original_evaluate = Server.__init__, Server.evaluate

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        servers.append(self)

    def evaluate(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original_evaluate(self, *args, **kwargs)
        finally:
            # Keyed by the round it belongs to: Budget has one entry per finished round.
            evaluations.append((len(self.Budget), time.perf_counter() - start))

    Server.__init__, Server.evaluate = init, evaluate

    def report():
        if not servers:
            return
        server = servers[-1]
        rounds = list(server.Budget)
        eval_by_round = [0.0] * len(rounds)
        for r, seconds in evaluations:
            if r < len(rounds):
                eval_by_round[r] += seconds
        line = {
            "bench": "round", "impl": "pfllib", "method": server.algorithm.lower(), "clients": server.num_clients,
            "rounds": len(rounds), "epochs": server.args.local_epochs,
            "train_samples": sum(c.train_samples for c in server.clients),
            "client_test_samples": sum(c.test_samples for c in server.clients),
            "workers": 1, "threads_per_worker": torch.get_num_threads(),
            "round_seconds": [round(s, 3) for s in rounds],
            "local_seconds": [round(s - e, 3) for s, e in zip(rounds, eval_by_round)],
            "eval_seconds": [round(e, 3) for e in eval_by_round],
            "mean_round_s": round(sum(rounds) / max(1, len(rounds)), 3),
            "forward_macs_per_sample": forward_macs(FedKitCNN(), torch.zeros(1, 1, 28, 28)),
            "personalized_weighted": round(server.rs_test_acc[-1], 5) if server.rs_test_acc else None,
            "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        with open(out_path, "a") as f:
            f.write(json.dumps(line) + "\n")

    atexit.register(report)


def main():
    system = os.getcwd()
    if not os.path.exists(os.path.join(system, "main.py")):
        sys.exit("run_pfllib.py: run it from PFLlib's system/ folder (main.py not found in %s)" % system)
    sys.path.insert(0, system)
    import flcore.trainmodel.models as models
    models.FedAvgCNN = FedKitCNN          # `from flcore.trainmodel.models import *` in main.py picks this up
    # PFLlib pickles the whole model at the end (torch.save(self.global_model)): pickle must find
    # the class by its module and name, which __main__ (this script, run as a program) is not.
    FedKitCNN.__module__ = models.__name__
    models.FedKitCNN = FedKitCNN
    if os.environ.get("FEDKIT_BENCH_OUT"):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
        instrument(os.environ["FEDKIT_BENCH_OUT"])
    sys.argv = [os.path.join(system, "main.py")] + sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
