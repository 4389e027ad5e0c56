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

Stopping: PFLlib's loop runs `-gr` + 1 iterations and evaluates at the start of each one whose
index is a multiple of `-eg`, so with -gr 10 -eg 10 it evaluates the models after 10 rounds and
then trains an 11th round it never evaluates. Unless PFLLIB_FULL=1, this script ends the process
at the first backward pass after the "Round number: <gr>" header, i.e. right after that last
evaluation (evaluations run without gradients). Not for algorithms whose evaluation itself
trains (Per-FedAvg's one-step evaluation): compare.sh sets PFLLIB_FULL=1 for those. Off with
FEDKIT_BENCH_OUT, whose report is written at a normal exit and counts every round PFLlib runs.

FEDKIT_BENCH_OUT=FILE (used by bench/run-rounds.sh): also appends one JSON line to FILE at exit with
the wall time of every round as PFLlib measures it (its `Budget`: evaluation, when the round is
evaluated, + training + aggregation), the time of each `evaluate()` call within those rounds, the
model's forward MACs per sample, PFLlib's last averaged test accuracy and the peak resident memory
(getrusage). Nothing in PFLlib's code is changed for this: its server's `__init__` and `evaluate`
are wrapped.

PerAvg's global model: PFLlib's PerAvg reports only the accuracy of its personalised models (one
SGD step of each client from the global model on one training mini-batch, `evaluate_one_step`).
This script wraps `PerAvg.evaluate_one_step` so that every such evaluation first prints the
global model's own figures on the same test splits, before the one step:

    Global model before the one-step update: Test Accuracy: A, logit std over classes: S,
    mean |logit|: M, predicted classes: K, mean |feature|: F, |mean feature|: C

(one line). A: correct / samples over all clients' test splits (PFLlib's weighting, as its
"Averaged Test Accuracy"); S: the standard deviation over the 10 logits of a sample, averaged
over samples; M: the mean absolute logit; K: how many distinct classes the model predicts over
all test samples; F: the mean Euclidean norm of the penultimate features h(x) (the 128 inputs of
the head `fc`); C: the norm of their mean over all test samples, the part of h shared by every
input. One SGD step on the head moves every input's logits by alpha (h(x) . h_b + 1) (y_b - p_b)
averaged over the batch b: with a large shared part C that step is a shift of all logits toward
the batch's classes of size about alpha C^2 (docs/baselines.md, Per-FedAvg). The same four figures follow for the one-step models ("One-step models: ..."), made
from the same random state as PFLlib's own evaluation that follows, so their accuracy equals its
"Averaged Test Accuracy" (a check that the wrapper sees what PFLlib evaluates). The
torch, numpy and Python random states are saved before and restored after these extra passes (a
DataLoader iterator draws its base seed from torch's generator), so PFLlib's own batches and
figures are those of an unwrapped run.

pFedMe's and APFL's models (issue 11): PFLlib's pFedMe prints "Average Test Accuracy" after
"Evaluate personalized model" from `clientpFedMe.test_metrics_personalized`, which loads
`personalized_params`; after a client's first round those are the model's own parameters (the
list `pFedMeOptimizer.step` returns is its param group), which `send_models` has just set to the
global model, so the figure it prints is the global model's. This script wraps
`pFedMe.evaluate_personalized` and `APFL.evaluate` so that every such evaluation first prints

    Global model (run_pfllib.py): Test Accuracy: A, ...
    Personal models theta (run_pfllib.py): Test Accuracy: A, ...      (pFedMe only)

(the figures of `figures` below, PFLlib's weighting): the server's global model on every
client's test split, and each client's theta as it stood at the end of its last training (the
paper's personalised model, snapshot taken by wrapping `update_parameters` where
`clientpFedMe.train` overwrites theta with the local w; the global model for a client that has
not trained). Random states are restored after these passes, as for PerAvg.

Seeds: PFLlib's main.py calls torch.manual_seed(0) on import and every client's constructor calls
torch.manual_seed(0) again, so its batch order does not depend on any seed. FEDKIT_SEED (default
0) seeds torch just before the model's layers are built, so it chooses the initial weights.
"""
import atexit
import copy
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


def stop_after_final_evaluation(rounds):
    """Ends the process at the first backward pass after the "Round number: <rounds>" header."""
    import builtins
    printed = builtins.print
    state = {"final": False}

    def print_(*args, **kwargs):
        printed(*args, **kwargs)
        if args and isinstance(args[0], str) and args[0].strip("\n-") == "Round number: %d" % rounds:
            state["final"] = True

    backward = torch.Tensor.backward

    def backward_(self, *args, **kwargs):
        if state["final"]:
            printed("\nrun_pfllib.py: stopped after the evaluation of round %d (the untimed, unevaluated "
                    "iteration %d is not run)" % (rounds, rounds), flush=True)
            sys.stdout.flush()
            os._exit(0)
        return backward(self, *args, **kwargs)

    builtins.print = print_
    torch.Tensor.backward = backward_


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


def figures(models_and_loaders):
    """Accuracy, logit scale, predicted classes and penultimate features of (model, batches) pairs,
    as one line (see the module doc)."""
    correct = samples = 0
    std_sum = abs_sum = norm_sum = 0.0
    feature_sum = None
    predicted = set()
    features = []

    def keep_input(module, inputs, output):
        features.append(inputs[0])

    with torch.no_grad():
        for model, loader in models_and_loaders:
            model.eval()
            hook = model.fc.register_forward_hook(keep_input)
            try:
                for x, y in loader:
                    logits = model(x)
                    h = features.pop()
                    correct += (logits.argmax(1) == y).sum().item()
                    samples += y.shape[0]
                    std_sum += logits.std(dim=1).sum().item()
                    abs_sum += logits.abs().mean(dim=1).sum().item()
                    norm_sum += h.norm(dim=1).sum().item()
                    feature_sum = h.sum(0) if feature_sum is None else feature_sum + h.sum(0)
                    predicted.update(logits.argmax(1).tolist())
            finally:
                hook.remove()
    return ("Test Accuracy: %.4f, logit std over classes: %.3f, mean |logit|: %.3f, predicted classes: %d, "
            "mean |feature|: %.2f, |mean feature|: %.2f"
            % (correct / samples, std_sum / samples, abs_sum / samples, len(predicted), norm_sum / samples,
               (feature_sum / samples).norm().item()))


def log_peravg_global_model():
    """Wraps PerAvg.evaluate_one_step to print the global and one-step models' figures first."""
    import random
    import numpy as np
    from flcore.servers.serverperavg import PerAvg

    original = PerAvg.evaluate_one_step

    def evaluate_one_step(self, *args, **kwargs):
        states = (torch.get_rng_state(), np.random.get_state(), random.getstate())
        print("Global model before the one-step update: "
              + figures([(self.global_model, c.load_test_data()) for c in self.clients]))
        torch.set_rng_state(states[0]); np.random.set_state(states[1]); random.setstate(states[2])
        # The one-step models, as PFLlib makes them (train_one_step from each client's copy of the
        # global model), on a copy so that PFLlib's own evaluation below starts from the same state.
        steps = []
        for c in self.clients:
            saved = copy.deepcopy(c.model)
            c.train_one_step()
            steps.append((copy.deepcopy(c.model), c.load_test_data()))
            c.clone_model(saved, c.model)
        print("One-step models: " + figures(steps))
        torch.set_rng_state(states[0]); np.random.set_state(states[1]); random.setstate(states[2])
        return original(self, *args, **kwargs)

    PerAvg.evaluate_one_step = evaluate_one_step


def log_global_and_personal_models():
    """Wraps pFedMe's and APFL's evaluations to print the global model's (and pFedMe's theta's)
    figures first (see the module doc)."""
    import random
    import numpy as np
    from flcore.clients.clientpFedMe import clientpFedMe
    from flcore.servers.serverapfl import APFL
    from flcore.servers.serverpFedMe import pFedMe

    update_parameters = clientpFedMe.update_parameters

    def keep_theta(self, model, new_params):
        if new_params is self.local_params:        # end of clientpFedMe.train: model holds theta
            self.fedkit_theta = copy.deepcopy(model)
        return update_parameters(self, model, new_params)

    clientpFedMe.update_parameters = keep_theta

    def wrap(cls, name, with_theta):
        original = getattr(cls, name)

        def evaluate(self, *args, **kwargs):
            states = (torch.get_rng_state(), np.random.get_state(), random.getstate())
            print("Global model (run_pfllib.py): "
                  + figures([(copy.deepcopy(self.global_model), c.load_test_data()) for c in self.clients]))
            if with_theta:
                print("Personal models theta (run_pfllib.py): "
                      + figures([(c.fedkit_theta if hasattr(c, "fedkit_theta") else copy.deepcopy(self.global_model),
                                  c.load_test_data()) for c in self.clients]))
            torch.set_rng_state(states[0]); np.random.set_state(states[1]); random.setstate(states[2])
            return original(self, *args, **kwargs)

        setattr(cls, name, evaluate)

    wrap(pFedMe, "evaluate_personalized", True)
    wrap(APFL, "evaluate", False)


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
    args = sys.argv[1:]
    if "-algo" in args and args[args.index("-algo") + 1] == "PerAvg":
        log_peravg_global_model()
    if "-algo" in args and args[args.index("-algo") + 1] in ("pFedMe", "APFL"):
        log_global_and_personal_models()
    if os.environ.get("PFLLIB_FULL") != "1" and not os.environ.get("FEDKIT_BENCH_OUT") and "-gr" in args:
        stop_after_final_evaluation(int(args[args.index("-gr") + 1]))
    sys.argv = [os.path.join(system, "main.py")] + args
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
