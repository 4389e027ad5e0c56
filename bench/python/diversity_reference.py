#!/usr/bin/env python3
"""The reference of `fedkit-bench diversity`: one forward and backward step of the generator
diversity loss L = exp(-mean(d_z * d_x)) with d_x = torch.cdist(x, x, p=1) / D (FedGen's
DiversityLoss('l1') up to the reduction) on N random samples of D values. Prints one JSON line.

    /usr/bin/python3 bench/python/diversity_reference.py --samples 200 --dims 3072 --steps 20 --threads 1
"""
import argparse
import json
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--samples", type=int, default=200)
p.add_argument("--dims", type=int, default=3072)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)
g = torch.Generator().manual_seed(0)
x = torch.randn(a.samples, a.dims, generator=g, requires_grad=True)
z = torch.rand(a.samples, 64, generator=g)


def step():
    x.grad = None
    with torch.no_grad():
        dz = torch.cdist(z, z, p=2).square() / 64
    dx = torch.cdist(x, x, p=1) / a.dims
    loss = torch.exp(-(dz * dx).mean())
    loss.backward()
    return loss.item()


step()
cpu, wall = time.process_time(), time.perf_counter()
for _ in range(a.steps):
    loss = step()
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"bench": "diversity", "impl": "pytorch", "samples": a.samples, "dims": a.dims, "steps": a.steps,
                  "threads": a.threads, "ms_per_step": round(wall * 1000 / a.steps, 3),
                  "cpu_ms_per_step": round(cpu * 1000 / a.steps, 3), "loss": round(loss, 6)}))
