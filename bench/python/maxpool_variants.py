"""Max pooling in libtorch 1.13 on CPU: the NCHW kernel against the channels-last one (docs/benchmarks.md,
"Max pooling"). Per shape, thread CPU time per call (ms, median of --reps repetitions of --iters calls) of
  - nchw:   F.max_pool2d on the contiguous (NCHW) tensor, as every layer calls it;
  - cl:     a channels-last copy pooled, the result made contiguous again (FedKit's no-grad path);
  - gather: indices from the channels-last kernel (no autograd), the output gathered from the input
            at them, so that backward is a scatter (FedKit's path with gradients, ctorch.cpp);
forward without gradients and forward + backward, and whether values and gradients are bit-identical
to nchw's (inputs after ReLU, so that many windows tie at 0).

    /usr/bin/python3 bench/python/maxpool_variants.py --threads 1
"""
import argparse

import torch
import torch.nn.functional as F

from stacked_ops import timed as stacked_timed


def timed(fn, iters, reps):
    """Median milliseconds of processor time per call (stacked_ops.timed, first element)."""
    return stacked_timed(fn, iters, reps)[0]


def cl(x):
    return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 2).contiguous()


def gather(x):
    with torch.no_grad():
        _, idx = F.max_pool2d_with_indices(x.detach().contiguous(memory_format=torch.channels_last), 2)
    idx = idx.contiguous()
    return x.flatten(2).gather(2, idx.flatten(2)).view(idx.shape)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(1)
    shapes = [(10, 16, 28, 28), (10, 32, 14, 14), (250, 16, 28, 28), (250, 32, 14, 14), (10, 64, 28, 28), (64, 64, 16, 16)]
    print(f"# ms of thread CPU time per call, {a.threads} thread(s); kernel 2, stride 2")
    print(f"{'shape':<20} {'nchw fwd':>9} {'cl fwd':>8} {'nchw f+b':>9} {'gather f+b':>10} {'identical':>9}")
    for shape in shapes:
        x = torch.relu(torch.randn(*shape, generator=g)).requires_grad_()
        up = torch.randn(shape[0], shape[1], shape[2] // 2, shape[3] // 2, generator=g)
        ref = F.max_pool2d(x, 2)
        out = gather(x)
        same = (torch.equal(ref, out) and torch.equal(cl(x.detach()), ref.detach())
                and torch.equal(torch.autograd.grad(ref, x, up)[0], torch.autograd.grad(out, x, up)[0]))
        xd = x.detach()
        with torch.no_grad():
            nchw_f = timed(lambda: F.max_pool2d(xd, 2), a.iters, a.reps)
            cl_f = timed(lambda: cl(xd), a.iters, a.reps)
        nchw_fb = timed(lambda: F.max_pool2d(x, 2).backward(up), a.iters, a.reps)
        gather_fb = timed(lambda: gather(x).backward(up), a.iters, a.reps)
        print(f"{str(shape):<20} {nchw_f:>9.3f} {cl_f:>8.3f} {nchw_fb:>9.3f} {gather_fb:>10.3f} {str(same):>9}")


if __name__ == "__main__":
    main()
