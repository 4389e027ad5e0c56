// Internal to CTorch: ReLU followed by max pooling as one kernel (relu_max_pool.cpp).
#pragma once
#include <ATen/ATen.h>

/// max_pool2d(relu(x), k, s, p) with a backward pass of its own: float32 CPU batches [N, C, H, W]
/// with non-overlapping windows (k == s, p == 0) take relu_max_pool.cpp's kernels, anything else
/// at::max_pool2d(at::relu(x)) through `fallback_pool` (the caller's max pooling).
at::Tensor relu_max_pool2d(const at::Tensor &x, int64_t k, int64_t s, int64_t p,
                           at::Tensor (*fallback_pool)(const at::Tensor &, int64_t, int64_t, int64_t));
