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

if len(sys.argv) < 3:
    sys.exit(__doc__.split("\n\n")[1])
folder = sys.argv[1]
train = pfllib_clients(folder, 'train'); test = pfllib_clients(folder, 'test')
torch.set_num_threads(1)
for path in sys.argv[2:]:
    base = model_from(path)
    accs = []
    for trial in range(5):
        torch.manual_seed(100 + trial)
        correct = total = 0
        for (xt, yt), (xs, ys) in zip(train, test):
            m = copy.deepcopy(base); m.train()
            idx = torch.randperm(len(yt))[:10]
            loss = F.cross_entropy(m(xt[idx]), yt[idx])
            m.zero_grad(); loss.backward()
            with torch.no_grad():
                for p in m.parameters(): p -= 0.005 * p.grad
            m.eval()
            with torch.no_grad(): correct += (m(xs).argmax(1) == ys).sum().item()
            total += len(ys)
        accs.append(correct / total)
    with torch.no_grad():
        g = sum((base(xs).argmax(1) == ys).sum().item() for xs, ys in test) / sum(len(ys) for _, ys in test)
    print('/'.join(path.split('/')[-6:-2]), 'global %.4f' % g, 'one-step (PFLlib procedure) ' + ' '.join('%.4f' % a for a in accs))
