#!/usr/bin/python3
"""Writes FedKit's partition of Fashion-MNIST as a PFLlib data folder, so that PFLlib trains and
tests on exactly the samples FedKit and the PyTorch reference use (bench/run-rounds.sh).

    partition_to_pfllib.py PARTITION.json OUT_FOLDER [--root /usr/share/datasets/fashion-mnist]

PARTITION.json: `fedkit-bench fedavg --partition-out` (per client its training indices into the
training set and its matched test indices into the test set). OUT_FOLDER gets PFLlib's layout
(train/<k>.npz, test/<k>.npz: np.savez_compressed(data={'x': float32 [n, 1, 28, 28], 'y': int64
[n]}), as PFLlib's dataset/utils/dataset_utils.py save_file writes them, plus config.json), with
FedKit's normalisation ((x/255 - 0.2860) / 0.3530). PFLlib reads it from
system/../dataset/<name>/ when run with `-data <name>` (<name> must contain "MNIST" for -m CNN).
Nothing is downloaded.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from fedavg_reference import load_fashion_mnist  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("partition")
    parser.add_argument("out")
    parser.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    with open(args.partition) as f:
        clients = json.load(f)["clients"]
    train, test = load_fashion_mnist(args.root)
    for name in ("train", "test"):
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
    statistic = []
    for k, client in enumerate(clients):
        for name, data, rows in (("train", train, client["train"]), ("test", test, client["test"])):
            if not rows:
                sys.exit(f"partition_to_pfllib.py: client {k} has an empty {name} split in {args.partition}")
            index = np.asarray(rows, dtype=np.int64)
            x, y = data.tensors[0].numpy()[index], data.tensors[1].numpy()[index]
            with open(os.path.join(args.out, name, f"{k}.npz"), "wb") as f:
                np.savez_compressed(f, data={"x": x, "y": y})
            if name == "train":
                statistic.append([[int(c), int(n)] for c, n in zip(*np.unique(y, return_counts=True))])
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({"num_clients": len(clients), "num_classes": 10, "non_iid": True, "balance": False,
                   "partition": "fedkit", "Size of samples for labels in clients": statistic,
                   "source": os.path.abspath(args.partition)}, f)


if __name__ == "__main__":
    main()
