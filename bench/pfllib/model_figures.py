#!/usr/bin/python3
"""A FedKit cnn-fmnist checkpoint's figures on Fashion-MNIST test data (issue 11).

    /tmp/pfllib-venv/bin/python bench/pfllib/model_figures.py DATA RUN/checkpoint/global.safetensors [...]

DATA is PFLlib's folder (/tmp/pfllib/dataset/FashionMNIST: the union of the 20 clients' test
splits, test/<k>.npz, PFLlib's arrays, as FedKit's `pfllib` dataset reads them) or a Fashion-MNIST
IDX folder (/usr/share/datasets/fashion-mnist: the 10,000 test images, scaled as FedKit's
fashion-mnist dataset scales them by default). Prints, per file, the line run_pfllib.py prints for
PFLlib's PerAvg global model, so that both frameworks' global models are read by the same code:

    FILE: Test Accuracy: A, logit std over classes: S, mean |logit|: M, predicted classes: K,
    mean |feature|: F, |mean feature|: C

(A, S, M, K, F, C as run_pfllib.py defines them, its `figures`). The model is run_pfllib.py's
FedKitCNN (FedKit's cnn-fmnist in PyTorch); the safetensors file is read with the standard
library and numpy (FedKit's names body.0, body.3, body.7, head.0 map to conv1, conv2, fc1, fc).
A is an independent check of the run's own global accuracy (rounds.jsonl's global_accuracy, on
the same test samples).
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_pfllib import FedKitCNN, figures  # noqa: E402

NAMES = {"body.0": "conv1", "body.3": "conv2", "body.7": "fc1", "head.0": "fc"}


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            sys.exit(f"{path}: {name} has dtype {entry['dtype']}, expected F32")
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(entry["shape"]).copy()
    return tensors


def model_from(path):
    state = {}
    for name, value in read_safetensors(path).items():
        layer, _, kind = name.rpartition(".")
        if layer not in NAMES:
            sys.exit(f"{path}: unexpected entry {name} (not cnn-fmnist)")
        state[f"{NAMES[layer]}.{kind}"] = torch.from_numpy(value)
    model = FedKitCNN()
    model.load_state_dict(state)
    return model.eval()


def pfllib_clients(folder, split):
    """A PFLlib data folder's clients, `<split>/0.npz`, `<split>/1.npz`, ... in client order, as
    (images, labels) tensors; empty when the folder has none."""
    clients = []
    while os.path.exists(path := os.path.join(folder, split, f"{len(clients)}.npz")):
        data = np.load(path, allow_pickle=True)["data"].tolist()
        clients.append((torch.tensor(data["x"], dtype=torch.float32), torch.tensor(data["y"], dtype=torch.int64)))
    return clients


def test_splits(folder):
    """PFLlib's clients' test splits (test/<k>.npz), or Fashion-MNIST's IDX test set scaled as FedKit's
    fashion-mnist dataset does by default ((x / 255 - 0.2860) / 0.3530, ImageStatistics.fashionMNIST)."""
    clients = pfllib_clients(folder, "test")
    idx = os.path.join(folder, "t10k-images-idx3-ubyte.gz")
    if clients:
        yield from clients
    elif os.path.exists(idx):
        with gzip.open(idx) as f:
            images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
        with gzip.open(os.path.join(folder, "t10k-labels-idx1-ubyte.gz")) as f:
            labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
        x = (images.astype(np.float32) / 255 - 0.2860) / 0.3530
        for start in range(0, len(labels), 1000):
            yield (torch.from_numpy(x[start:start + 1000].copy()),
                   torch.from_numpy(labels[start:start + 1000].astype(np.int64)))
    else:
        sys.exit(f"{folder}: neither PFLlib's test/*.npz (bench/pfllib/compare.sh setup) nor t10k-images-idx3-ubyte.gz")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__.split("\n\n")[1])
    splits = list(test_splits(argv[1]))
    for path in argv[2:]:
        print(f"{path}: {figures([(model_from(path), splits)])}")


if __name__ == "__main__":
    main(sys.argv)
