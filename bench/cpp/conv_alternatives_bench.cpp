// Alternatives to libtorch's (oneDNN's) convolutions for cnn-fmnist's layers at batch 10, one
// thread: leads for issue 13's round target, measured and dropped (docs/benchmarks.md, "Leads
// measured and dropped (session 10)"). Microseconds of thread CPU time per call, forward +
// backward, each pair alternated in the same loop:
// - conv 1->16, 28x28 (one input channel): oneDNN against im2col + addmm (a custom autograd op);
// - conv 16->32, 14x14: NCHW against channels-last (a) end to end, tensors and gradients already
//   channels-last, and (b) with the conversions a NCHW network would need around the layer.
//
//   clang++ -O2 -std=c++17 bench/cpp/conv_alternatives_bench.cpp -o /tmp/conv_alternatives_bench -ltorch_cpu -lc10
//   GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304 /tmp/conv_alternatives_bench
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdio>

#include "bench_timing.h"

namespace {

// col [N, k*k, H*W] for one input channel, stride 1, padding p, output H' = H + 2p - k + 1
at::Tensor im2col1(const at::Tensor &x, int64_t k, int64_t p) {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3), oh = h + 2 * p - k + 1, ow = w + 2 * p - k + 1;
    at::Tensor col = at::empty({n, k * k, oh * ow}, x.options());
    const float *px = x.data_ptr<float>(); float *pc = col.data_ptr<float>();
    for (int64_t b = 0; b < n; b++) {
        const float *in = px + b * h * w;
        for (int64_t ky = 0; ky < k; ky++) for (int64_t kx = 0; kx < k; kx++) {
            float *o = pc + (b * k * k + ky * k + kx) * oh * ow;
            const int64_t x0 = std::max<int64_t>(0, p - kx), x1 = std::min<int64_t>(ow, w + p - kx);
            for (int64_t y = 0; y < oh; y++) {
                const int64_t sy = y + ky - p; float *orow = o + y * ow;
                if (sy < 0 || sy >= h) { std::fill(orow, orow + ow, 0.f); continue; }
                std::fill(orow, orow + x0, 0.f);
                std::copy(in + sy * w + x0 + kx - p, in + sy * w + x1 + kx - p, orow + x0);
                std::fill(orow + x1, orow + ow, 0.f);
            }
        }
    }
    return col;
}
struct Conv1 : public torch::autograd::Function<Conv1> {
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, const at::Tensor &w, const at::Tensor &b, int64_t p) {
        at::NoGradGuard ng;
        const int64_t n = x.size(0), c = w.size(0), k = w.size(2), oh = x.size(2) + 2 * p - k + 1, ow = x.size(3) + 2 * p - k + 1;
        at::Tensor col = im2col1(x, k, p);
        at::Tensor out = at::empty({n, c, oh * ow}, x.options());
        at::Tensor w2 = w.view({c, k * k}), bias = b.view({c, 1}).expand({c, oh * ow});
        for (int64_t i = 0; i < n; i++) { at::Tensor o = out[i]; at::addmm_out(o, bias, w2, col[i]); }
        ctx->save_for_backward({col});
        ctx->saved_data["k"] = k;
        return out.view({n, c, oh, ow});
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx, torch::autograd::variable_list grads) {
        at::NoGradGuard ng;
        at::Tensor col = ctx->get_saved_variables()[0];
        const int64_t k = ctx->saved_data["k"].toInt();
        at::Tensor g = grads[0].contiguous();
        const int64_t n = g.size(0), c = g.size(1);
        at::Tensor g3 = g.view({n, c, -1});
        at::Tensor dw = at::zeros({c, k * k}, g.options());
        for (int64_t i = 0; i < n; i++) dw.addmm_(g3[i], col[i].t());
        at::Tensor db = g3.sum(at::IntArrayRef{0, 2});
        return {at::Tensor(), dw.view({c, 1, k, k}), db, at::Tensor()};
    }
};

} // namespace

int main() {
    at::set_num_threads(1);
    at::Tensor x1 = at::randn({10, 1, 28, 28});
    at::Tensor w1 = (at::randn({16, 1, 5, 5}) * 0.2).set_requires_grad(true), b1 = at::randn({16}).set_requires_grad(true);
    at::Tensor u1 = at::randn({10, 16, 28, 28});
    at::Tensor x2 = at::randn({10, 16, 14, 14}).set_requires_grad(true);
    at::Tensor w2 = (at::randn({32, 16, 5, 5}) * 0.05).set_requires_grad(true), b2 = at::zeros({32}).set_requires_grad(true);
    at::Tensor u2 = at::randn({10, 32, 14, 14});
    const auto cl = at::MemoryFormat::ChannelsLast;
    at::Tensor x2c = x2.detach().contiguous(cl).set_requires_grad(true);
    at::Tensor w2c = w2.detach().contiguous(cl).set_requires_grad(true);
    at::Tensor u2c = u2.contiguous(cl);
    auto converted = [&](const at::Tensor &x) {
        return at::conv2d(x.contiguous(cl), w2.contiguous(cl), b2, 1, 2).contiguous();
    };
    {
        auto r = at::conv2d(x1, w1, b1, 1, 2);
        auto s = Conv1::apply(x1, w1, b1, 2);
        auto g = torch::autograd::grad({r}, {w1}, {u1})[0], h = torch::autograd::grad({s}, {w1}, {u1})[0];
        printf("conv1 im2col: max |out diff| %.2g, max |dw diff| / max |dw| %.2g\n", (r - s).abs().max().item<float>(),
               (g - h).abs().max().item<float>() / g.abs().max().item<float>());
    }
    for (int rep = 0; rep < 3; rep++) {
        double one = bench::cpu_microseconds([&] { torch::autograd::backward({at::conv2d(x1, w1, b1, 1, 2)}, {u1}); }, 1000);
        double col = bench::cpu_microseconds([&] { torch::autograd::backward({Conv1::apply(x1, w1, b1, 2)}, {u1}); }, 1000);
        double nchw = bench::cpu_microseconds([&] { torch::autograd::backward({at::conv2d(x2, w2, b2, 1, 2)}, {u2}); }, 500);
        double last = bench::cpu_microseconds([&] { torch::autograd::backward({at::conv2d(x2c, w2c, b2, 1, 2)}, {u2c}); }, 500);
        double conv = bench::cpu_microseconds([&] { torch::autograd::backward({converted(x2)}, {u2}); }, 500);
        printf("conv1 oneDNN %.0f | im2col+addmm %.0f    conv2 NCHW %.0f | channels-last end to end %.0f | "
               "channels-last with conversions %.0f   (us per forward + backward)\n", one, col, nchw, last, conv);
    }
}
