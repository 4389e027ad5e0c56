// The fused ReLU + max pooling behind libtorch's custom-function machinery (`Function<>`, as
// Sources/CTorch/max_pool.cpp ships it) against the same kernel behind a native autograd node
// (`torch::autograd::Node` with `collect_next_edges` / `set_history`, as libtorch's generated
// backward functions are built): does `Function<>` carry a fixed cost worth removing? Microseconds
// of forward + backward per call, one thread, the two alternated in one loop; docs/benchmarks.md,
// "Leads measured and dropped (issue 13, session 10)". The kernel is compiled in from max_pool.cpp.
//
//   clang++ -O2 -std=c++17 -ISources/CTorch bench/cpp/relu_max_pool_node_bench.cpp -o /tmp/relu_max_pool_node_bench \
//       -ltorch_cpu -lc10
//   GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304 /tmp/relu_max_pool_node_bench
#include "../../Sources/CTorch/max_pool.cpp"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

#include <cstdio>

#include "bench_timing.h"

namespace {

struct NativeReluMaxPoolBackward : public torch::autograd::Node {
    at::Tensor where;
    int64_t h = 0, w = 0;
    torch::autograd::variable_list apply(torch::autograd::variable_list &&grads) override {
        at::NoGradGuard ng;
        return {grads[0].defined() ? route_gradient(where, grads[0], h, w) : at::Tensor()};
    }
    std::string name() const override { return "NativeReluMaxPoolBackward"; }
    void release_variables() override { where.reset(); }
};

at::Tensor native_relu_max_pool2d(const at::Tensor &x) {
    Pooled pooled;
    {
        at::AutoDispatchBelowADInplaceOrView guard;
        pooled = relu_max_pool(x, 2, true);
    }
    auto node = std::shared_ptr<NativeReluMaxPoolBackward>(new NativeReluMaxPoolBackward(), torch::autograd::deleteNode);
    node->set_next_edges(torch::autograd::collect_next_edges(x));
    node->where = pooled.where;
    node->h = x.size(2);
    node->w = x.size(3);
    torch::autograd::set_history(pooled.out, node);
    return pooled.out;
}


} // namespace

int main() {
    at::set_num_threads(1);
    for (auto shape : {std::vector<int64_t>{10, 16, 28, 28}, std::vector<int64_t>{10, 32, 14, 14},
                       std::vector<int64_t>{10, 32, 4, 4}}) {
        at::Tensor x = at::randn(shape).set_requires_grad(true);
        at::Tensor up = at::randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2});
        auto a = relu_max_pool2d(x, 2, 2, 0), b = native_relu_max_pool2d(x);
        auto ga = torch::autograd::grad({a}, {x}, {up})[0], gb = torch::autograd::grad({b}, {x}, {up})[0];
        printf("[%ld,%ld,%ld,%ld] same values %d, same gradients %d\n", shape[0], shape[1], shape[2], shape[3],
               (int)a.equal(b), (int)ga.equal(gb));
        for (int repetition = 0; repetition < 3; repetition++) {
            double function = bench::wall_microseconds([&] { torch::autograd::backward({relu_max_pool2d(x, 2, 2, 0)}, {up}); }, 3000);
            double native = bench::wall_microseconds([&] { torch::autograd::backward({native_relu_max_pool2d(x)}, {up}); }, 3000);
            printf("  Function<> %.1f us, native node %.1f us (forward + backward)\n", function, native);
        }
    }
}
