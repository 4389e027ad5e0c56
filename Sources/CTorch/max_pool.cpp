// Max pooling: libtorch's channels-last kernel for any max pooling (channels_last_max_pool2d, at
// the end), and ReLU followed by k x k max pooling with stride k as one pass and one autograd
// node (relu_max_pool2d). Every convolution block of the built-in CNNs ends in relu -> max_pool2d; through libtorch 1.13 that
// is a ReLU over the whole convolution output and its backward pass, a channels-last copy for
// the pooling kernel, the pooling, a copy of its indices, and a gather with its scatter-backward:
// seven passes over memory and four autograd nodes per block, which at batch 10 cost more than
// the arithmetic they carry (docs/benchmarks.md, "ReLU and max pooling in one kernel").
//
// Since ReLU is monotone, max(relu(window)) = relu(max(window)): each output is the window's
// maximum (the first one in row-major order, as at::max_pool2d picks) clamped at 0, with NaN
// propagated as at::relu and at::max_pool2d do. The backward pass routes each output's gradient
// to that maximum unless it is <= 0: exactly the gradient of relu followed by max_pool2d (relu's
// derivative is 0 where x <= 0, and such a window's pooled value is 0). Values and gradients are
// bit-identical to the two ops (ReluMaxPoolTests); every plane is computed by one thread.
#include "max_pool.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <atomic>
#include <cmath>
#if defined(__x86_64__)
#include <immintrin.h>
#define FT_X86_64 1
#endif

namespace {

// Marks an index in `where` whose output is 0 (a window <= 0): no gradient flows back to it.
constexpr int32_t kNoGradient = INT32_MIN;

// Output row i of one [H, W] plane (out and where point at the plane's outputs): each value and,
// when `where` is not null, the flat index in the plane of the element it came from, with
// kNoGradient set where the output is 0.
void relu_max_pool_row(const float *in, int64_t w, int64_t k, int64_t i, int64_t ow, float *out, int32_t *where) {
    for (int64_t j = 0; j < ow; j++) {
        // at::max_pool2d's scan: row-major, a later element wins if greater or NaN.
        float best = -INFINITY;
        int64_t at = (i * k) * w + j * k;
        for (int64_t di = 0; di < k; di++) {
            const int64_t row = (i * k + di) * w + j * k;
            for (int64_t dj = 0; dj < k; dj++) {
                const float v = in[row + dj];
                if (v > best || std::isnan(v)) { best = v; at = row + dj; }
            }
        }
        // at::relu and its backward: 0 (and no gradient) where the value is <= 0; NaN passes.
        const bool zero = best <= 0;
        out[i * ow + j] = zero ? 0.0f : best;
        if (where) where[i * ow + j] = zero ? ((int32_t)at | kNoGradient) : (int32_t)at;
    }
}

// The same for 2 x 2 windows, vectorised over a row of outputs. Without NaN the scan's choice
// is the window's maximum and, among equal maxima, the first: computed with selects and no
// branches (random activations make comparisons unpredictable). A row with a NaN is redone by
// the scan above, which propagates it exactly as at::max_pool2d does.
#if FT_X86_64
__attribute__((target_clones("avx2", "default")))
#endif
void relu_max_pool_plane_2x2(const float *in, int64_t w, int64_t oh, int64_t ow, float *out, int32_t *where) {
    for (int64_t i = 0; i < oh; i++) {
        const float *r0 = in + 2 * i * w, *r1 = r0 + w;
        float *o = out + i * ow;
        int32_t *wh = where ? where + i * ow : nullptr;
        const int32_t top = (int32_t)(2 * i * w), bottom = top + (int32_t)w;
        bool nan = false;
        for (int64_t j = 0; j < ow; j++) {
            const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
            nan |= (a != a) | (b != b) | (c != c) | (d != d);
            const float ab = b > a ? b : a, cd = d > c ? d : c;
            const float best = cd > ab ? cd : ab;
            o[j] = best <= 0 ? 0.0f : best;
        }
        if (wh && !nan) {
            for (int64_t j = 0; j < ow; j++) {
                const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
                const float best = o[j];  // where it is 0 any index will do: no gradient flows
                const int32_t first = top + 2 * (int32_t)j, second = bottom + 2 * (int32_t)j;
                int32_t at = d == best ? second + 1 : second;
                at = c == best ? second : at;
                at = b == best ? first + 1 : at;
                at = a == best ? first : at;
                wh[j] = o[j] > 0 ? at : (at | kNoGradient);
            }
        }
        if (nan) relu_max_pool_row(in, w, 2, i, ow, out, where);
    }
}

// AVX-512 kernels for 2 x 2 windows (every conv block of the built-in CNNs), used where the CPU
// has AVX-512F (x86-64 only). An output row of up to 16 is one vector: the two input rows are
// loaded as whole vectors wherever they stay inside the tensor (masked loads stall on data that
// comes from memory), split into even and odd columns with one permute each, and the maxima,
// indices and relu computed as the scalar definitions above, so values and indices are
// bit-identical (rows with a NaN are redone by the scan); stores are masked to the row. The
// backward pass writes every input element of a window (the gradient at the window's maximum, 0
// elsewhere) instead of zero-filling the input gradient and scattering into it. The portable
// kernels above spent 10 % of a cnn-fmnist round at batch 10 here, mostly in scalar remainder
// loops (output rows of 14 and 7); docs/benchmarks.md, "AVX-512 ReLU + max pooling kernels".
#if FT_X86_64
namespace avx512 {

// The lanes that hold `count` (<= 16) floats.
__attribute__((target("avx512f"))) inline __mmask16 first(int64_t count) {
    return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
}

// The outputs j0 .. j0 + n - 1 of one output row (n <= 16): their lanes, the lanes of the
// 2 n input columns in the first and second vector of an input row, and the flat indices in
// the plane of each window's top-left (first) and bottom-left (second) element.
struct Chunk {
    __mmask16 lanes, low, high;
    __m512i first_index, second_index;
};

__attribute__((target("avx512f"))) inline Chunk chunk(int64_t ow, int64_t j0, int32_t top, int32_t bottom) {
    const __m512i twice_lane = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const int64_t n = ow - j0 < 16 ? ow - j0 : 16;
    return {first(n), first(2 * n), first(2 * n > 16 ? 2 * n - 16 : 0),
            _mm512_add_epi32(_mm512_set1_epi32(top + 2 * (int32_t)j0), twice_lane),
            _mm512_add_epi32(_mm512_set1_epi32(bottom + 2 * (int32_t)j0), twice_lane)};
}

__attribute__((target("avx512f")))
void relu_max_pool_plane(const float *in, const float *end, int64_t w, int64_t oh, int64_t ow, float *out, int32_t *where) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < oh; i++) {
        const float *r0 = in + 2 * i * w, *r1 = r0 + w;
        const int32_t top = (int32_t)(2 * i * w), bottom = top + (int32_t)w;
        bool nan = false;
        for (int64_t j0 = 0; j0 < ow; j0 += 16) {
            const Chunk at_j0 = chunk(ow, j0, top, bottom);
            const __mmask16 lanes = at_j0.lanes, low = at_j0.low, high = at_j0.high;
            // Whole vectors where they stay inside the input (the lanes past the row are
            // ignored): masked loads stall where the data comes from memory (eval batches).
            const bool whole = r1 + 2 * j0 + 32 <= end;
            const __m512 t0 = whole ? _mm512_loadu_ps(r0 + 2 * j0) : _mm512_maskz_loadu_ps(low, r0 + 2 * j0);
            const __m512 t1 = whole ? _mm512_loadu_ps(r0 + 2 * j0 + 16) : _mm512_maskz_loadu_ps(high, r0 + 2 * j0 + 16);
            const __m512 b0 = whole ? _mm512_loadu_ps(r1 + 2 * j0) : _mm512_maskz_loadu_ps(low, r1 + 2 * j0);
            const __m512 b1 = whole ? _mm512_loadu_ps(r1 + 2 * j0 + 16) : _mm512_maskz_loadu_ps(high, r1 + 2 * j0 + 16);
            const __m512 a = _mm512_permutex2var_ps(t0, even, t1), b = _mm512_permutex2var_ps(t0, odd, t1);
            const __m512 c = _mm512_permutex2var_ps(b0, even, b1), d = _mm512_permutex2var_ps(b0, odd, b1);
            const __mmask16 nans = (__mmask16)(_mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(c, d, _CMP_UNORD_Q));
            if (nans & lanes) { nan = true; continue; }
            // b > a ? b : a (MAXPS returns its second operand unless the first is greater), etc.
            const __m512 best = _mm512_max_ps(_mm512_max_ps(d, c), _mm512_max_ps(b, a));
            const __mmask16 positive = _mm512_cmp_ps_mask(best, zero, _CMP_GT_OQ);
            const __m512 o = _mm512_maskz_mov_ps(positive, best);
            _mm512_mask_storeu_ps(out + i * ow + j0, lanes, o);
            if (!where) continue;
            const __m512i first_index = at_j0.first_index, second_index = at_j0.second_index;
            __m512i at = _mm512_mask_add_epi32(second_index, _mm512_cmp_ps_mask(d, o, _CMP_EQ_OQ), second_index, one);
            at = _mm512_mask_mov_epi32(at, _mm512_cmp_ps_mask(c, o, _CMP_EQ_OQ), second_index);
            at = _mm512_mask_add_epi32(at, _mm512_cmp_ps_mask(b, o, _CMP_EQ_OQ), first_index, one);
            at = _mm512_mask_mov_epi32(at, _mm512_cmp_ps_mask(a, o, _CMP_EQ_OQ), first_index);
            at = _mm512_mask_or_epi32(at, (__mmask16)~positive, at, _mm512_set1_epi32(kNoGradient));
            _mm512_mask_storeu_epi32(where + i * ow + j0, lanes, at);
        }
        if (nan) relu_max_pool_row(in, w, 2, i, ow, out, where);
    }
}

// One plane's input gradient [h, w] from its outputs' gradients and `where` (2 x 2 windows):
// every element of every window written. Elements outside every window (a last odd row or
// column) are left as they are: the caller zeroes them.
__attribute__((target("avx512f")))
void route_gradient_plane(const int32_t *where, const float *g, int64_t w, int64_t oh, int64_t ow, float *grad) {
    const __m512i interleave_low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i interleave_high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i one = _mm512_set1_epi32(1), none = _mm512_setzero_si512();
    for (int64_t i = 0; i < oh; i++) {
        float *r0 = grad + 2 * i * w, *r1 = r0 + w;
        const int32_t top = (int32_t)(2 * i * w), bottom = top + (int32_t)w;
        for (int64_t j0 = 0; j0 < ow; j0 += 16) {
            const Chunk at_j0 = chunk(ow, j0, top, bottom);
            const __mmask16 lanes = at_j0.lanes, low = at_j0.low, high = at_j0.high;
            // Whole vectors where they stay inside the plane (see relu_max_pool_plane); the
            // lanes past the row are ignored.
            const bool whole = i * ow + j0 + 16 <= oh * ow;
            const __m512i at = whole ? _mm512_loadu_si512(where + i * ow + j0)
                                     : _mm512_maskz_loadu_epi32(lanes, where + i * ow + j0);
            const __m512 gradient = whole ? _mm512_loadu_ps(g + i * ow + j0) : _mm512_maskz_loadu_ps(lanes, g + i * ow + j0);
            const __mmask16 flows = lanes & _mm512_cmp_epi32_mask(at, none, _MM_CMPINT_NLT);  // no kNoGradient bit
            const __m512i first_index = at_j0.first_index, second_index = at_j0.second_index;
            const __m512 a = _mm512_maskz_mov_ps(flows & _mm512_cmpeq_epi32_mask(at, first_index), gradient);
            const __m512 b = _mm512_maskz_mov_ps(flows & _mm512_cmpeq_epi32_mask(at, _mm512_add_epi32(first_index, one)), gradient);
            const __m512 c = _mm512_maskz_mov_ps(flows & _mm512_cmpeq_epi32_mask(at, second_index), gradient);
            const __m512 d = _mm512_maskz_mov_ps(flows & _mm512_cmpeq_epi32_mask(at, _mm512_add_epi32(second_index, one)), gradient);
            _mm512_mask_storeu_ps(r0 + 2 * j0, low, _mm512_permutex2var_ps(a, interleave_low, b));
            _mm512_mask_storeu_ps(r0 + 2 * j0 + 16, high, _mm512_permutex2var_ps(a, interleave_high, b));
            _mm512_mask_storeu_ps(r1 + 2 * j0, low, _mm512_permutex2var_ps(c, interleave_low, d));
            _mm512_mask_storeu_ps(r1 + 2 * j0 + 16, high, _mm512_permutex2var_ps(c, interleave_high, d));
        }
    }
}

} // namespace avx512
#endif

// Whether the AVX-512 kernels run: where the CPU has AVX-512F, unless a test turned them off
// (ft_set_wide_pooling_kernels) to check the portable ones.
bool has_avx512() {
#if FT_X86_64
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return false;
#endif
}

std::atomic<bool> &wide_kernels() {
    static std::atomic<bool> enabled{has_avx512()};
    return enabled;
}

struct Pooled {
    at::Tensor out, where;
};

Pooled relu_max_pool(const at::Tensor &x, int64_t k, bool with_indices) {
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const int64_t oh = (h - k) / k + 1, ow = (w - k) / k + 1;
    at::Tensor xc = x.contiguous();
    at::Tensor out = at::empty({n, c, oh, ow}, x.options());
    at::Tensor where = with_indices ? at::empty({n, c, oh, ow}, x.options().dtype(at::kInt)) : at::Tensor();
    const float *pin = xc.data_ptr<float>();
    float *pout = out.data_ptr<float>();
    int32_t *pwhere = with_indices ? where.data_ptr<int32_t>() : nullptr;
    const bool wide = k == 2 && wide_kernels().load(std::memory_order_relaxed);
    at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t plane = begin; plane < end; plane++) {
            const float *in = pin + plane * h * w;
            float *o = pout + plane * oh * ow;
            int32_t *wh = pwhere ? pwhere + plane * oh * ow : nullptr;
#if FT_X86_64
            if (wide) avx512::relu_max_pool_plane(in, pin + n * c * h * w, w, oh, ow, o, wh);
            else
#endif
            if (k == 2) relu_max_pool_plane_2x2(in, w, oh, ow, o, wh);
            else
                for (int64_t i = 0; i < oh; i++) relu_max_pool_row(in, w, k, i, ow, o, wh);
        }
    });
    return {out, where};
}

// The backward pass: `grad_out` routed to each window's maximum in an [N, C, h, w] tensor of
// zeros elsewhere, nothing where the window was <= 0 (`where` as relu_max_pool recorded it; `k`
// the window's size).
at::Tensor route_gradient(const at::Tensor &where, const at::Tensor &grad_out, int64_t k, int64_t h, int64_t w) {
    const at::Tensor g = grad_out.contiguous();
    const int64_t oh = where.size(2), ow = where.size(3);
    const int64_t planes = where.size(0) * where.size(1), per_plane = oh * ow;
    // The wide kernel writes every element of every window; only elements outside all windows
    // (a last odd row or column) need zeros first.
    const bool wide = k == 2 && wide_kernels().load(std::memory_order_relaxed);
    const bool covered = wide && h == 2 * oh && w == 2 * ow;
    const auto shape = std::vector<int64_t>{where.size(0), where.size(1), h, w};
    at::Tensor grad = covered ? at::empty(shape, g.options()) : at::zeros(shape, g.options());
    const int32_t *pwhere = where.data_ptr<int32_t>();
    const float *pg = g.data_ptr<float>();
    float *pgrad = grad.data_ptr<float>();
    at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
        for (int64_t plane = begin; plane < end; plane++) {
            const int32_t *wp = pwhere + plane * per_plane;
            const float *gp = pg + plane * per_plane;
            float *out = pgrad + plane * h * w;
#if FT_X86_64
            if (wide) {
                avx512::route_gradient_plane(wp, gp, w, oh, ow, out);
                continue;
            }
#endif
            // Windows do not overlap: one writer per element. Without branches (about half
            // the windows of a ReLU network are <= 0, at random): a no-gradient window
            // writes its 0 to its maximum's place, which is 0 already.
            for (int64_t o = 0; o < per_plane; o++)
                out[wp[o] & ~kNoGradient] = wp[o] < 0 ? 0.0f : gp[o];
        }
    });
    return grad;
}

struct ReluMaxPool : public torch::autograd::Function<ReluMaxPool> {
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, int64_t k) {
        at::NoGradGuard ng;
        Pooled pooled = relu_max_pool(x, k, true);
        ctx->save_for_backward({pooled.where});
        ctx->saved_data["kernel"] = k;
        ctx->saved_data["height"] = x.size(2);
        ctx->saved_data["width"] = x.size(3);
        return pooled.out;
    }

    static torch::autograd::variable_list backward(
        torch::autograd::AutogradContext *ctx, torch::autograd::variable_list grads) {
        const at::Tensor where = ctx->get_saved_variables()[0];
        const int64_t k = ctx->saved_data["kernel"].toInt();
        const int64_t h = ctx->saved_data["height"].toInt(), w = ctx->saved_data["width"].toInt();
        at::NoGradGuard ng;
        const at::Tensor grad = route_gradient(where, grads[0], k, h, w);
        return {grad, at::Tensor()};
    }
};

} // namespace

// Max pooling of a batch [N, C, H, W] through libtorch 1.13's channels-last kernel, which is 2-7x
// faster on CPU than its NCHW kernel (docs/benchmarks.md, "Max pooling"): the window maxima and
// their indices are computed on a channels-last copy without autograd; without gradients the
// maxima are returned (made contiguous again, so that the next layer sees the layout it always
// did), with gradients the output gathers the input at those indices, so that the backward pass
// is a scatter into the input's gradient. Values and gradients are those of at::max_pool2d (the
// same maxima, the same first-maximum indices); other inputs take at::max_pool2d.
at::Tensor channels_last_max_pool2d(const at::Tensor &in, int64_t k, int64_t s, int64_t p) {
    if (in.dim() != 4 || !in.device().is_cpu() || in.scalar_type() != at::kFloat)
        return at::max_pool2d(in, {k, k}, {s, s}, {p, p});
    bool records_grad = c10::GradMode::is_enabled() && in.requires_grad();
    at::Tensor maxima, indices;
    {
        at::NoGradGuard ng;
        std::tie(maxima, indices) = at::max_pool2d_with_indices(
            in.detach().contiguous(at::MemoryFormat::ChannelsLast), {k, k}, {s, s}, {p, p});
    }
    if (!records_grad) return maxima.contiguous();
    indices = indices.contiguous();
    return in.flatten(2).gather(2, indices.flatten(2)).view(indices.sizes());
}

at::Tensor relu_max_pool2d(const at::Tensor &x, int64_t k, int64_t s, int64_t p) {
    const bool fast = x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == at::kFloat && k == s &&
                      p == 0 && k >= 1 && x.size(2) >= k && x.size(3) >= k &&
                      x.size(2) * x.size(3) <= INT32_MAX;
    if (!fast) return channels_last_max_pool2d(at::relu(x), k, s, p);
    if (c10::GradMode::is_enabled() && x.requires_grad()) return ReluMaxPool::apply(x, k);
    return relu_max_pool(x, k, false).out;
}

bool set_wide_pooling_kernels(bool enabled) {
    return wide_kernels().exchange(enabled && has_avx512());
}
