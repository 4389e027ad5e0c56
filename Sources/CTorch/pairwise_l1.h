// Internal to CTorch: pairwise L1 distances with a fast backward (pairwise_l1.cpp).
#pragma once
#include <ATen/ATen.h>

/// The [N, M] L1 distances between the rows of a [N, D] and b [M, D], differentiable in both; float32
/// CPU matrices take pairwise_l1.cpp's kernels, anything else at::cdist(a, b, 1).
at::Tensor pairwise_l1(const at::Tensor &a, const at::Tensor &b);
