#!/usr/bin/python3
"""PyTorch reference for `fedkit-bench fedavg`: FedAvg written the way FL research code usually is.

    fedkit-bench fedavg --rounds 1 --partition-out /tmp/partition.json   # writes the partition
    /usr/bin/python3 bench/python/fedavg_reference.py --partition /tmp/partition.json --rounds 3

Clients train one after another; each gets copy.deepcopy(global_model), a fresh SGD optimiser and
a torch DataLoader over Subset(train_set, its indices) (shuffle, batch 10, num_workers 0); the
server averages the state_dicts weighted by sample counts. Every round is evaluated as FedKit
does (docs/design.md §7): the global model on the whole test set, then every client's personal model
(for FedAvg the global model) on its own test split, one DataLoader per client, under no_grad.
Same model as FedKit's cnn-fmnist (conv 16-conv 32, 5x5 pad 2, ReLU, max-pool 2; fc 1568->128;
fc 128->10), same normalisation ((x/255 - 0.2860) / 0.3530), same client train and test indices
(read from the file fedkit-bench writes), SGD with momentum and no weight decay.

Prints one JSON line with the wall seconds of every round (training + aggregation + evaluation),
of its training (local_seconds: training + aggregation) and of its evaluation, the model's forward
MACs per sample (model_flops.py) and the peak resident memory (getrusage), the same fields as fedkit-bench.
"""
import argparse
import copy
import gzip
import json
import resource
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset, TensorDataset

from model_flops import forward_macs


def read_idx(path):
    """An IDX file (gzipped) as a numpy array of unsigned bytes."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fashion_mnist(root):
    def images(name):
        x = torch.from_numpy(read_idx(f"{root}/{name}").astype(np.float32) / 255.0).unsqueeze(1)
        return (x - 0.2860) / 0.3530

    def labels(name):
        return torch.from_numpy(read_idx(f"{root}/{name}").astype(np.int64))

    train = TensorDataset(images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"))
    test = TensorDataset(images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))
    return train, test


class CNN(nn.Module):
    """FedKit's cnn-fmnist with its defaults (channels [16, 32], hidden 128, no dropout)."""

    def __init__(self, channels=(16, 32), hidden=128, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels[0], 5, padding=2)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 5, padding=2)
        self.fc1 = nn.Linear(channels[1] * 7 * 7, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def local_update(global_model, dataset, indices, args):
    """One client's local SGD, as in most FL code bases: deepcopy, DataLoader, optimiser."""
    model = copy.deepcopy(global_model)
    model.train()
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loader = DataLoader(Subset(dataset, indices), batch_size=args.batch, shuffle=True)
    epoch_loss = 0.0
    for _ in range(args.epochs):
        losses = []
        for x, y in loader:
            optimiser.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        epoch_loss = sum(losses) / max(1, len(losses))
    return model.state_dict(), epoch_loss


def average(states, sizes):
    total = float(sum(sizes))
    result = copy.deepcopy(states[0])
    for key in result:
        result[key] = sum(state[key] * (n / total) for state, n in zip(states, sizes))
    return result


def accuracy(model, dataset, batch_size):
    model.eval()
    correct, count = 0, 0
    with torch.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            correct += (model(x).argmax(dim=1) == y).sum().item()
            count += len(y)
    model.train()
    return correct / max(1, count)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partition", required=True, help="JSON written by fedkit-bench fedavg --partition-out")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument("--eval-batch", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    load_start = time.perf_counter()
    train_set, test_set = load_fashion_mnist(args.root)
    with open(args.partition) as f:
        clients = json.load(f)["clients"]
    load_seconds = time.perf_counter() - load_start

    global_model = CNN()
    round_seconds, train_seconds, eval_seconds = [], [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        states, sizes, losses = [], [], []
        for client in clients:  # every client joins every round, one after another
            state, loss = local_update(global_model, train_set, client["train"], args)
            states.append(state)
            sizes.append(len(client["train"]))
            losses.append(loss)
        global_model.load_state_dict(average(states, sizes))
        trained = time.perf_counter()
        train_seconds.append(trained - start)
        global_accuracy = accuracy(global_model, test_set, args.eval_batch)
        # Personalised accuracy: each client's model (FedAvg: the global model) on its own test split.
        personal = [accuracy(global_model, Subset(test_set, client["test"]), args.eval_batch) for client in clients]
        test_sizes = [len(client["test"]) for client in clients]
        personalized_weighted = sum(a * n for a, n in zip(personal, test_sizes)) / sum(test_sizes)
        round_seconds.append(time.perf_counter() - start)
        eval_seconds.append(time.perf_counter() - trained)

    train_loss = sum(l * n for l, n in zip(losses, sizes)) / sum(sizes)
    print(json.dumps({
        "bench": "round", "impl": "pytorch", "method": "fedavg", "clients": len(clients), "rounds": args.rounds,
        "epochs": args.epochs,
        "train_samples": sum(sizes), "client_test_samples": sum(test_sizes), "workers": 1,
        "threads_per_worker": torch.get_num_threads(),
        "round_seconds": [round(s, 3) for s in round_seconds],
        "local_seconds": [round(s, 3) for s in train_seconds],
        "eval_seconds": [round(s, 3) for s in eval_seconds],
        "forward_macs_per_sample": forward_macs(CNN(), torch.zeros(1, 1, 28, 28)),
        "mean_round_s": round(sum(round_seconds) / len(round_seconds), 3),
        "load_s": round(load_seconds, 3),
        "train_loss": round(train_loss, 5),
        "global_accuracy": round(global_accuracy, 5),
        "personalized_weighted": round(personalized_weighted, 5),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
