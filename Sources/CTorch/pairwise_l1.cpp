// Pairwise L1 (Manhattan) distances between the rows of two float32 matrices, with a backward
// pass of its own. at::cdist(a, b, 1) computes the same values, but its CPU backward for p = 1
// is a generic per-element kernel: on a generator's diversity loss (200 samples of 3,072 values)
// it takes about twice the time of the generator's whole forward and backward pass
// (docs/benchmarks.md, "Generator diversity loss"). Here each output row, and each gradient row,
// is one pass over contiguous memory that the compiler vectorises. Every row is computed by one
// thread in a fixed order, so the results do not depend on the thread count.
#include "pairwise_l1.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

// No fused multiply-adds: the AVX2 and the baseline clones below give the same bits.
#pragma clang fp contract(off)

namespace {

// Lanes of independent partial sums: the compiler vectorises the inner loop without reordering
// any single sum, and the lanes are added in a fixed order at the end.
constexpr int64_t kLanes = 16;

// Row i of the distances: out[j] = sum_k |ai[k] - b[j][k]| for j in [from, m). Compiled twice
// (AVX2 and baseline x86-64), chosen at load time by the CPU.
__attribute__((target_clones("avx2", "default")))
void l1_distance_row(const float *ai, const float *b, int64_t from, int64_t m, int64_t d, float *out) {
    for (int64_t j = from; j < m; j++) {
        const float *bj = b + j * d;
        float lanes[kLanes] = {};
        int64_t k = 0;
        for (; k + kLanes <= d; k += kLanes)
            for (int64_t l = 0; l < kLanes; l++) lanes[l] += std::fabs(ai[k + l] - bj[k + l]);
        float sum = 0;
        for (int64_t l = 0; l < kLanes; l++) sum += lanes[l];
        for (; k < d; k++) sum += std::fabs(ai[k] - bj[k]);
        out[j] = sum;
    }
}

// Row i of the gradient: grad[k] = sum_j g[j] * sign(ai[k] - b[j][k]), j in order (sign(0) = 0,
// as at::sign).
__attribute__((target_clones("avx2", "default")))
void l1_gradient_row(const float *ai, const float *b, const float *g, int64_t m, int64_t d, float *grad) {
    for (int64_t j = 0; j < m; j++) {
        const float w = g[j];
        if (w == 0) continue;
        const float *bj = b + j * d;
        for (int64_t k = 0; k < d; k++) {
            const float diff = ai[k] - bj[k];
            grad[k] += w * (float(diff > 0) - float(diff < 0));
        }
    }
}

// out[i][j] = sum_k |a[i][k] - b[j][k]|   (a [N, D], b [M, D], both contiguous). For a matrix
// against itself only j > i is computed and mirrored (the same sums, in the same order).
at::Tensor l1_distances(const at::Tensor &a, const at::Tensor &b, bool same) {
    const int64_t n = a.size(0), m = b.size(0), d = a.size(1);
    at::Tensor out = at::zeros({n, m}, a.options());
    const float *pa = a.data_ptr<float>(), *pb = b.data_ptr<float>();
    float *po = out.data_ptr<float>();
    at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; i++) l1_distance_row(pa + i * d, pb, same ? i + 1 : 0, m, d, po + i * m);
    });
    if (same)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = i + 1; j < n; j++) po[j * n + i] = po[i * n + j];
    return out;
}

// grad[i][k] = sum_j g[i][j] * sign(a[i][k] - b[j][k])   (g [N, M], contiguous)
at::Tensor l1_gradient(const at::Tensor &a, const at::Tensor &b, const at::Tensor &g) {
    const int64_t n = a.size(0), m = b.size(0), d = a.size(1);
    at::Tensor grad = at::zeros({n, d}, a.options());
    const float *pa = a.data_ptr<float>(), *pb = b.data_ptr<float>(), *pg = g.data_ptr<float>();
    float *pr = grad.data_ptr<float>();
    at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; i++) l1_gradient_row(pa + i * d, pb, pg + i * m, m, d, pr + i * d);
    });
    return grad;
}

struct PairwiseL1 : public torch::autograd::Function<PairwiseL1> {
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &a, const at::Tensor &b) {
        const bool same = a.is_same(b);
        at::Tensor ac = a.contiguous(), bc = same ? ac : b.contiguous();
        ctx->save_for_backward({ac, bc});
        ctx->saved_data["same"] = same;
        at::NoGradGuard ng;
        return l1_distances(ac, bc, same);
    }

    static torch::autograd::variable_list backward(
        torch::autograd::AutogradContext *ctx, torch::autograd::variable_list grads) {
        auto saved = ctx->get_saved_variables();
        const at::Tensor &a = saved[0], &b = saved[1];
        at::NoGradGuard ng;
        at::Tensor g = grads[0].contiguous();
        at::Tensor ga, gb;
        if (ctx->saved_data["same"].toBool()) {
            // f(x, x): both arguments' gradients in one pass, all of it in the first.
            if (ctx->needs_input_grad(0)) ga = l1_gradient(a, a, (g + g.t()).contiguous());
            return {ga, gb};
        }
        if (ctx->needs_input_grad(0)) ga = l1_gradient(a, b, g);
        // d|a_i - b_j| / d b_j = sign(b_j - a_i): the same kernel with the roles swapped.
        if (ctx->needs_input_grad(1)) gb = l1_gradient(b, a, g.t().contiguous());
        return {ga, gb};
    }
};

} // namespace

at::Tensor pairwise_l1(const at::Tensor &a, const at::Tensor &b) {
    bool fast = a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(1) && a.device().is_cpu() &&
                b.device().is_cpu() && a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat;
    return fast ? PairwiseL1::apply(a, b) : at::cdist(a, b, 1);
}
