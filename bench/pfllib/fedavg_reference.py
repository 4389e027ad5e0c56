#!/usr/bin/python3
"""FedAvg in plain PyTorch on a PFLlib data folder: a third implementation beside PFLlib and FedKit.

    /usr/bin/python3 bench/pfllib/fedavg_reference.py --data /tmp/pfllib/dataset/FashionMNIST --seed 1 \
        [--init FEDKIT_CHECKPOINT.safetensors | --fedkit-init] [--keep-last] [--rounds 10]
    /usr/bin/python3 bench/pfllib/fedavg_reference.py --fedkit-model-seed 1   # prints FedKit's init seed

The setting of docs/results.md "FedKit against PFLlib" (issue 14): FedKit's cnn-fmnist
(`FedKitCNN` of run_pfllib.py), every client of `train/<k>.npz` every round, 1 local epoch of
plain SGD (lr 0.005, batch 10, mean cross-entropy), the last incomplete batch skipped as PFLlib's
DataLoader does (unless --keep-last), the global model the average of the client models weighted
by training samples; after the last round the global model is tested on every `test/<k>.npz`
(summed correct over summed samples). The initial weights are PFLlib's for the same seed
(`torch.manual_seed(seed)` just before the layers are built, as run_pfllib.py does) or, with
--init, FedKit's: the global model of a FedKit checkpoint (model_figures.model_from) or, with --fedkit-init, the
same weights drawn directly: FedKit builds its model with PyTorch's default initialisation on a
torch CPU generator seeded with `Seeds.derive(seed, "model-init")` (Sources/FedKit/Random/
SeedDerivation.swift: FNV-1a of the seed and the purpose, one SplitMix64 step), so
`torch.manual_seed(fedkit_model_seed(seed))` before the layers are built gives FedKit's initial
model exactly (checked against checkpoints: equal to float rounding). The batch order is seeded
(one torch generator per seed), so a run is repeatable. Prints one JSON line: seed, init, the
global model's accuracy after every round. One torch thread.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_figures import model_from, pfllib_clients  # noqa: E402
from run_pfllib import FedKitCNN  # noqa: E402

def fedkit_model_seed(seed):
    """FedKit's `Seeds.derive(seed, "model-init")`: the torch seed of its initial weights."""
    mask = (1 << 64) - 1

    def fnv(data, h):
        for b in data:
            h = ((h ^ b) * 0x100000001B3) & mask
        return h

    purpose = b"model-init"
    h = fnv(seed.to_bytes(8, "little"), 0xCBF29CE484222325)
    h = fnv(purpose, fnv(len(purpose).to_bytes(8, "little"), h))
    z = (h + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def accuracy(model, clients):
    correct = total = 0
    with torch.no_grad():
        for x, y in clients:
            for i in range(0, len(y), 1000):
                correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
            total += len(y)
    return correct / total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fedkit-model-seed", type=int, metavar="S",
                    help="print the torch seed of FedKit's initial weights for seed S and exit")
    ap.add_argument("--data")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--init", help="FedKit checkpoint whose global model is the initial model")
    ap.add_argument("--fedkit-init", action="store_true", help="FedKit's initial weights for --seed, drawn directly")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--keep-last", action="store_true", help="train on each epoch's last, smaller batch")
    args = ap.parse_args()
    if args.fedkit_model_seed is not None:
        print(fedkit_model_seed(args.fedkit_model_seed))
        return
    if args.data is None or args.seed is None:
        ap.error("--data and --seed are required")
    torch.set_num_threads(1)
    train, test = pfllib_clients(args.data, "train"), pfllib_clients(args.data, "test")
    os.environ["FEDKIT_SEED"] = str(fedkit_model_seed(args.seed) if args.fedkit_init else args.seed)
    model = FedKitCNN(in_features=train[0][0].shape[1], num_classes=10)
    if args.init:
        model.load_state_dict(model_from(args.init).state_dict())
    order = torch.Generator().manual_seed(1_000_003 * args.seed + 17)
    weights = torch.tensor([len(y) for _, y in train], dtype=torch.float64)
    weights = weights / weights.sum()
    history = []
    for _ in range(args.rounds):
        start = {k: v.clone() for k, v in model.state_dict().items()}
        total = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in start.items()}
        for (x, y), w in zip(train, weights):
            model.load_state_dict(start)
            opt = torch.optim.SGD(model.parameters(), lr=args.lr)
            perm = torch.randperm(len(y), generator=order)
            stop = len(y) if args.keep_last else len(y) - len(y) % args.batch
            for i in range(0, stop, args.batch):
                idx = perm[i:i + args.batch]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            for k, v in model.state_dict().items():
                total[k] += w * v.double()
        model.load_state_dict({k: v.float() for k, v in total.items()})
        history.append(accuracy(model, test))
    print(json.dumps({"seed": args.seed, "init": "fedkit" if args.init or args.fedkit_init else "pfllib",
                      "drop_last": not args.keep_last, "accuracy": history}))


if __name__ == "__main__":
    main()
