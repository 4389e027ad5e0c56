// cnn-fmnist's fc 1568->128 at batch 10, one thread: forward + backward through autograd, each
// piece alone (forward, weight gradient, input gradient), the plain SGD step, and the weight
// gradient fused into the step (W -= lr * dY^T X as one addmm_): what fusing the step into the
// backward pass could save. Microseconds of thread CPU time per call; docs/benchmarks.md, "Leads
// measured and dropped (issue 13, session 10)".
//
//   clang++ -O2 -std=c++17 bench/cpp/linear_step_bench.cpp -o /tmp/linear_step_bench -ltorch_cpu -lc10
//   GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304 OPENBLAS_NUM_THREADS=1 /tmp/linear_step_bench
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstdio>

#include "bench_timing.h"

int main() {
    at::set_num_threads(1);
    at::Tensor x = at::randn({10, 1568}).set_requires_grad(true);
    at::Tensor w = (at::randn({128, 1568}) * 0.02).set_requires_grad(true), b = at::zeros({128}).set_requires_grad(true);
    at::Tensor up = at::randn({10, 128});
    at::Tensor weight = w.detach().clone(), gradient = at::randn({128, 1568}), momentum = at::zeros({128, 1568});
    at::Tensor input = x.detach();
    for (int repetition = 0; repetition < 3; repetition++) {
        double train = bench::cpu_microseconds([&] { torch::autograd::backward({at::linear(x, w, b)}, {up}); }, 2000);
        at::NoGradGuard ng;
        double forward = bench::cpu_microseconds([&] { at::linear(input, weight, b.detach()); }, 2000);
        double weightGradient = bench::cpu_microseconds([&] { at::mm(up.t(), input); }, 2000);
        double inputGradient = bench::cpu_microseconds([&] { at::mm(up, weight); }, 2000);
        double sgd = bench::cpu_microseconds([&] { weight.add_(gradient, -0.005); }, 2000);
        double sgdMomentum = bench::cpu_microseconds([&] { momentum.mul_(0.5).add_(gradient); weight.add_(momentum, -0.005); }, 2000);
        double fused = bench::cpu_microseconds([&] { weight.addmm_(up.t(), input, 1.0, -0.005); }, 2000);
        printf("forward + backward %.0f | forward %.0f, weight gradient %.0f, input gradient %.0f | SGD step %.0f, "
               "with momentum %.0f | weight gradient fused into the step %.0f   (us)\n",
               train, forward, weightGradient, inputGradient, sgd, sgdMomentum, fused);
        w.mutable_grad().reset();
        x.mutable_grad().reset();
        b.mutable_grad().reset();
    }
}
