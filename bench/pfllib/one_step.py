#!/usr/bin/python3
"""PFLlib's Per-FedAvg evaluation step applied to FedKit checkpoints (session 15).

    /tmp/pfllib-venv/bin/python bench/pfllib/one_step.py DATA RUN/checkpoint/global.safetensors [...]

DATA: a PFLlib data folder (train/<k>.npz, test/<k>.npz). For each global model, five times
(torch seeds 100-104): every client takes PFLlib's `clientPerAvg.train_one_step` from the global
model -- one plain SGD step, lr 0.005, on the mean cross-entropy of the first 10 images of a
fresh shuffle of its training data -- and is tested on its test file; prints the global model's
accuracy on the union of the test files and the five one-step accuracies (summed correct over
summed test samples, PFLlib's "Averaged Test Accuracy"). So FedKit's global model is stepped and
tested by PyTorch code that follows PFLlib's, separating the evaluation step from the training.
"""
import copy
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_figures import model_from, pfllib_clients  # noqa: E402

LR, BATCH, DRAWS = 0.005, 10, 5   # PFLlib's lr and batch of the comparison; torch seeds 100..104


def one_step_accuracy(global_model, train, test):
    """Summed correct over summed test samples after each client's one step from the global model."""
    correct = total = 0
    for (x_train, y_train), (x_test, y_test) in zip(train, test):
        model = copy.deepcopy(global_model)
        model.train()
        batch = torch.randperm(len(y_train))[:BATCH]
        model.zero_grad()
        F.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= LR * p.grad
            model.eval()
            correct += (model(x_test).argmax(1) == y_test).sum().item()
        total += len(y_test)
    return correct / total


def accuracy(model, test):
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in test) / sum(len(y) for _, y in test)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__.split("\n\n")[1])
    train, test = pfllib_clients(argv[1], "train"), pfllib_clients(argv[1], "test")
    torch.set_num_threads(1)
    for path in argv[2:]:
        model = model_from(path)
        draws = []
        for draw in range(DRAWS):
            torch.manual_seed(100 + draw)
            draws.append(one_step_accuracy(model, train, test))
        print("/".join(path.split("/")[-6:-2]), "global %.4f" % accuracy(model, test),
              "one-step (PFLlib procedure) " + " ".join("%.4f" % a for a in draws))


if __name__ == "__main__":
    main(sys.argv)
