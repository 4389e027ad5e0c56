// Internal to CTorch: max pooling kernels (max_pool.cpp).
#pragma once
#include <ATen/ATen.h>

/// at::max_pool2d's values and gradients through libtorch 1.13's channels-last kernel, which is
/// 2-7x faster on CPU than its NCHW kernel; other inputs than float32 CPU batches take
/// at::max_pool2d.
at::Tensor channels_last_max_pool2d(const at::Tensor &x, int64_t k, int64_t s, int64_t p);

/// max_pool2d(relu(x), k, s, p) with a backward pass of its own: float32 CPU batches [N, C, H, W]
/// with non-overlapping windows (k == s, p == 0) take one kernel, anything else at::relu and
/// channels_last_max_pool2d.
at::Tensor relu_max_pool2d(const at::Tensor &x, int64_t k, int64_t s, int64_t p);

/// Turns the AVX-512 kernels of relu_max_pool2d on (where the CPU has AVX-512F) or off, and
/// returns whether they were on: for tests of the portable kernels.
bool set_wide_pooling_kernels(bool enabled);
