#!/usr/bin/python3
"""PyTorch reference for `fedkit-bench cnn`: the same network, data and training loop.

    /usr/bin/python3 bench/python/cnn_reference.py --batch 10 --steps 200 --threads 2

Prints one JSON line with images/s (same fields as fedkit-bench).
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 5)
        self.conv2 = nn.Conv2d(64, 64, 5)
        self.fc1 = nn.Linear(1600, 120)
        self.fc2 = nn.Linear(120, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batches", type=int, default=16)
    args = parser.parse_args()

    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    net = CNN()
    data = torch.Generator().manual_seed(args.seed + 1)
    batches = [(torch.randn(args.batch, 3, 32, 32, generator=data), torch.randint(0, 10, (args.batch,), generator=data))
               for _ in range(max(1, args.batches))]
    optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.5)

    def step(i):
        x, y = batches[i % len(batches)]
        optimiser.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimiser.step()
        return loss

    for i in range(args.warmup):
        step(i)
    cpu_start = time.process_time()
    start = time.perf_counter()
    for i in range(args.steps):
        loss = step(args.warmup + i)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start

    print(json.dumps({
        "bench": "cnn", "impl": "pytorch", "batch": args.batch, "steps": args.steps, "warmup": args.warmup,
        "threads": torch.get_num_threads(), "seconds": round(seconds, 4),
        "ms_per_step": round(seconds * 1000 / args.steps, 4),
        "images_per_s": round(args.batch * args.steps / seconds, 2),
        "cpu_seconds": round(cpu_seconds, 4),
        "final_loss": round(loss.item(), 5),
    }))


if __name__ == "__main__":
    main()
