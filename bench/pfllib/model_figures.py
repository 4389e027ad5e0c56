#!/usr/bin/python3
"""A FedKit cnn-fmnist checkpoint's figures on PFLlib's Fashion-MNIST test splits (issue 11).

    /tmp/pfllib-venv/bin/python bench/pfllib/model_figures.py /tmp/pfllib/dataset/FashionMNIST \
        RUN/checkpoint/global.safetensors [more.safetensors ...]

Prints, per file, the line run_pfllib.py prints for PFLlib's PerAvg global model, so that the two
frameworks' global models are read by the same code:

    FILE: Test Accuracy: A, logit std over classes: S, mean |logit|: M, predicted classes: K

over the union of the 20 clients' test splits (test/<k>.npz, PFLlib's arrays, as FedKit's
`pfllib` dataset reads them): A, S, M, K as run_pfllib.py defines them (its `figures`). The model is run_pfllib.py's FedKitCNN (FedKit's cnn-fmnist in PyTorch); the
safetensors file is read with the standard library and numpy (FedKit's names body.0, body.3,
body.7, head.0 map to conv1, conv2, fc1, fc). An independent check of FedKit's own global
accuracy (rounds.jsonl's global_accuracy, which must agree to float rounding).
"""
import glob
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


def test_splits(folder):
    files = sorted(glob.glob(os.path.join(folder, "test", "*.npz")))
    if not files:
        sys.exit(f"{folder}: no test/*.npz (run bench/pfllib/compare.sh setup)")
    for path in files:
        data = np.load(path, allow_pickle=True)["data"].tolist()
        yield torch.tensor(data["x"], dtype=torch.float32), torch.tensor(data["y"], dtype=torch.int64)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__.split("\n\n")[1])
    splits = list(test_splits(argv[1]))
    for path in argv[2:]:
        print(f"{path}: {figures([(model_from(path), splits)])}")


if __name__ == "__main__":
    main(sys.argv)
