// ReLU + 2x2 max pooling on cnn-fmnist's batch-10 activations: libtorch's ops as ft_max_pool2d
// ran them before (relu, then the channels-last pooling and a gather) against the fused kernel
// (Sources/CTorch/max_pool.cpp), portable and (where the CPU has AVX-512F) wide. Microseconds per
// call, forward + backward and no-grad forward, one thread; docs/benchmarks.md, "ReLU and max
// pooling in one kernel" and "AVX-512 ReLU + max pooling kernels".
//
//   clang++ -O2 -std=c++17 -ISources/CTorch bench/cpp/relu_max_pool_bench.cpp Sources/CTorch/max_pool.cpp \
//       -o /tmp/relu_max_pool_bench -ltorch_cpu -lc10
//   GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304 /tmp/relu_max_pool_bench   # the engine's allocator policy
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstdio>

#include "bench_timing.h"

#include "max_pool.h"

int main() {
    at::set_num_threads(1);
    // cnn-fmnist's two pooled activations at a training batch of 10 and 64 and an evaluation batch
    // of 250; calls per measurement scaled to about the same work.
    for (int64_t batch : {10, 64, 250}) {
        const int calls = batch == 10 ? 2000 : batch == 64 ? 300 : 60;
        for (auto shape : {std::vector<int64_t>{batch, 16, 28, 28}, std::vector<int64_t>{batch, 32, 14, 14}}) {
            at::Tensor x = at::randn(shape).set_requires_grad(true);
            at::Tensor upstream = at::randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2});
            for (int variant = 0; variant < 3; variant++) {
                const bool fused = variant > 0;
                set_wide_pooling_kernels(variant == 2);
                const char *name = variant == 0 ? "relu, max_pool2d" : variant == 1 ? "fused, portable" : "fused, wide";
                auto op = [&] {
                    return fused ? relu_max_pool2d(x, 2, 2, 0) : channels_last_max_pool2d(at::relu(x), 2, 2, 0);
                };
                for (int repetition = 0; repetition < 2; repetition++) {
                    double train = bench::wall_microseconds([&] {
                        torch::autograd::backward({op()}, {upstream});
                        x.mutable_grad().reset();
                    }, calls);
                    double forward;
                    {
                        at::NoGradGuard ng;
                        forward = bench::wall_microseconds([&] { op(); }, calls);
                    }
                    printf("[%ld, %ld, %ld, %ld] %-16s forward+backward %9.1f us   no-grad forward %8.1f us\n",
                           shape[0], shape[1], shape[2], shape[3], name, train, forward);
                }
            }
        }
    }
}
