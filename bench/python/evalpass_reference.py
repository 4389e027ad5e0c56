"""PyTorch counterpart of `fedkit-bench evalpass` (docs/benchmarks.md, "Evaluation pass").

Images/s of cnn-fmnist's forward pass in eval mode (argmax) over the 10,000 Fashion-MNIST test
images, per evaluation batch size, batch sizes interleaved within each repeat, the fastest of
--repeats passes counts; the test tensor is sliced per batch (as FedKit does), no DataLoader.
--grad no_grad (torch.no_grad(), what FL code usually writes) or inference (torch.inference_mode()).

    /usr/bin/python3 bench/python/evalpass_reference.py --batches 64,250,1000 --repeats 3 --threads 1
"""
import argparse
import json
import time

import torch

from fedavg_reference import CNN, load_fashion_mnist


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batches", default="64,250,1000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grad", choices=["no_grad", "inference"], default="no_grad")
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    sizes = [int(s) for s in a.batches.split(",")]
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    _, test = load_fashion_mnist(a.root)
    inputs = test.tensors[0]
    model = CNN()
    model.eval()
    guard = torch.no_grad if a.grad == "no_grad" else torch.inference_mode

    def one_pass(size):
        start = time.perf_counter()
        with guard():
            for s in range(0, len(inputs), size):
                model(inputs[s:s + size]).argmax(dim=1).tolist()
        return time.perf_counter() - start

    one_pass(sizes[0])  # warm-up
    best = {}
    for _ in range(a.repeats):
        for size in sizes:
            best[size] = min(best.get(size, float("inf")), one_pass(size))
    rates = {str(s): round(len(inputs) / best[s]) for s in sizes}
    print(json.dumps({"bench": "evalpass", "impl": "pytorch", "grad": a.grad, "samples": len(inputs),
                      "threads": torch.get_num_threads(), "repeats": a.repeats, "best_images_per_s": rates}))


if __name__ == "__main__":
    main()
