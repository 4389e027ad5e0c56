"""Per-operation cost of one stacked training step against K single-client steps (issue 13).

cnn-fmnist's layers (conv 1->16 5x5 pad 2 - relu - pool, conv 16->32 5x5 pad 2 - relu - pool,
fc 1568->128 - relu, fc 128->10) at batch n per client, K clients. For every layer it times
forward + backward of
  - `single`:  K separate calls at batch n (what per-client training runs),
  - `grouped`: one grouped convolution (groups=K) over [n, K*C, H, W] (what StackedNetwork runs),
  - `unfold`:  im2col once for the K*n images (F.unfold), then one batched matrix product per
               stack ([K, O, C*kh*kw] x [K, C*kh*kw, n*H*W]),
  - `bmm`:     linear layers as one batched matrix product (StackedNetwork's W x^T orientation),
and the same convolutions with oneDNN off (`torch.backends.mkldnn.flags(enabled=False)`: ATen's
own im2col + OpenBLAS sgemm). The figure is thread CPU time per call (time.thread_time), the
median of --reps repetitions of --iters calls, so that other processes on a loaded machine
distort it less than wall time. Same Debian libtorch 1.13 as FedKit.

    /usr/bin/python3 bench/python/stacked_ops.py --clients 10 --batch 10 --threads 1
    /usr/bin/python3 bench/python/stacked_ops.py --profile-step --batch 10   # where one client's step goes

--profile-step: one whole training step of one client (cnn-fmnist, SGD, cross-entropy) timed, then
torch.profiler's self CPU time per ATen operation over 100 steps (the profiler adds its own overhead:
read the shares, not the absolute times).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def timed(fn, iters, reps):
    fn()  # warm-up (oneDNN primitive creation, allocator)
    fn()
    samples = []
    for _ in range(reps):
        start = time.thread_time()
        for _ in range(iters):
            fn()
        samples.append((time.thread_time() - start) / iters * 1e3)
    return statistics.median(samples), min(samples)


def conv_variants(K, n, C, O, H, ks, pad):
    g = torch.Generator().manual_seed(1)
    xs = torch.randn(K, n, C, H, H, generator=g)
    ws = (torch.randn(K, O, C, ks, ks, generator=g) * 0.1).requires_grad_()
    bs = torch.zeros(K, O).requires_grad_()
    gout = torch.randn(K, n, O, H, H, generator=g)

    # Per-client training holds each client's parameters as separate leaves.
    ws1 = [w.detach().clone().requires_grad_() for w in ws]
    bs1 = [b.detach().clone().requires_grad_() for b in bs]

    def single():
        for k in range(K):
            y = F.conv2d(xs[k], ws1[k], bs1[k], padding=pad)
            y.backward(gout[k])

    def grouped():
        x = xs.permute(1, 0, 2, 3, 4).reshape(n, K * C, H, H)
        y = F.conv2d(x, ws.reshape(K * O, C, ks, ks), bs.reshape(K * O), padding=pad, groups=K)
        y.backward(gout.permute(1, 0, 2, 3, 4).reshape(n, K * O, H, H))

    def unfold():
        cols = F.unfold(xs.reshape(K * n, C, H, H), ks, padding=pad)  # [K*n, C*ks*ks, H*H]
        cols = cols.view(K, n, C * ks * ks, H * H).transpose(1, 2).reshape(K, C * ks * ks, n * H * H)
        y = torch.baddbmm(bs.unsqueeze(2), ws.view(K, O, C * ks * ks), cols)  # [K, O, n*H*W]
        y.backward(gout.permute(0, 2, 1, 3, 4).reshape(K, O, n * H * H))

    return {"single": single, "grouped": grouped, "unfold": unfold}


def linear_variants(K, n, Fin, Fout):
    g = torch.Generator().manual_seed(2)
    xs = torch.randn(K, n, Fin, generator=g)
    ws = (torch.randn(K, Fout, Fin, generator=g) * 0.1).requires_grad_()
    bs = torch.zeros(K, Fout).requires_grad_()
    gout = torch.randn(K, n, Fout, generator=g)

    ws1 = [w.detach().clone().requires_grad_() for w in ws]
    bs1 = [b.detach().clone().requires_grad_() for b in bs]

    def single():
        for k in range(K):
            F.linear(xs[k], ws1[k], bs1[k]).backward(gout[k])

    def bmm():
        yT = torch.baddbmm(bs.unsqueeze(2), ws, xs.transpose(1, 2))
        yT.transpose(1, 2).backward(gout)

    return {"single": single, "bmm": bmm}


def profile_step(n, threads):
    from torch.profiler import ProfilerActivity, profile

    from fedavg_reference import CNN

    torch.manual_seed(1)
    model = CNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.005)
    g = torch.Generator().manual_seed(3)
    xs, ys = torch.randn(50, n, 1, 28, 28, generator=g), torch.randint(0, 10, (50, n), generator=g)

    def step(i):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xs[i % 50]), ys[i % 50]).backward()
        opt.step()

    for i in range(30):
        step(i)
    start = time.thread_time()
    for i in range(300):
        step(i)
    print(f"# one client's step at batch {n}, {threads} thread(s): {(time.thread_time() - start) / 300 * 1e3:.3f} ms thread CPU time")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(100):
            step(i)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--profile-step", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.profile_step:
        return profile_step(a.batch, a.threads)
    K, n = a.clients, a.batch
    layers = [
        ("conv1 1->16 28x28", conv_variants(K, n, 1, 16, 28, 5, 2)),
        ("conv2 16->32 14x14", conv_variants(K, n, 16, 32, 14, 5, 2)),
        ("fc 1568->128", linear_variants(K, n, 1568, 128)),
        ("fc 128->10", linear_variants(K, n, 128, 10)),
    ]
    rows = []
    for name, variants in layers:
        for label, fn in variants.items():
            med, best = timed(fn, a.iters, a.reps)
            rows.append({"layer": name, "variant": label, "onednn": True, "ms_median": round(med, 3), "ms_best": round(best, 3)})
            if name.startswith("conv"):
                with torch.backends.mkldnn.flags(enabled=False):
                    med, best = timed(fn, a.iters, a.reps)
                rows.append({"layer": name, "variant": label, "onednn": False, "ms_median": round(med, 3), "ms_best": round(best, 3)})
    print(f"# K={K} clients, batch {n}, {a.threads} thread(s); ms of thread CPU time per forward+backward of all K")
    print(f"{'layer':<20} {'variant':<8} {'oneDNN':<6} {'median':>8} {'best':>8}")
    for r in rows:
        print(f"{r['layer']:<20} {r['variant']:<8} {str(r['onednn']):<6} {r['ms_median']:>8.3f} {r['ms_best']:>8.3f}")
    print(json.dumps({"bench": "stacked_ops", "clients": K, "batch": n, "threads": a.threads, "rows": rows}))


if __name__ == "__main__":
    main()
