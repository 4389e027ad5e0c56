// CTorch implementation: every entry point catches c10::Error / std::exception and turns
// it into a thread-local message (ft_last_error) plus a NULL / -1 result.
#include "ctorch.h"
#include "pairwise_l1.h"
#include "max_pool.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <string>
#include <vector>

struct ft_tensor { at::Tensor t; };
struct ft_generator { at::Generator g; };

namespace {
thread_local std::string last_error;

void set_error(const char *msg) {
    std::string s(msg ? msg : "unknown error");
    // c10 messages may carry a C++ backtrace after the first line "Exception raised from".
    auto pos = s.find("\nException raised from");
    if (pos != std::string::npos) s = s.substr(0, pos);
    last_error = s;
}

inline ft_tensor *wrap(at::Tensor t) { return new ft_tensor{std::move(t)}; }
inline at::IntArrayRef dims_of(const int64_t *dims, int ndim) { return at::IntArrayRef(dims, (size_t)ndim); }
inline c10::optional<at::Tensor> opt(const ft_tensor *t) {
    return t ? c10::optional<at::Tensor>(t->t) : c10::nullopt;
}
inline c10::optional<at::Generator> gen(ft_generator *g) {
    return g ? c10::optional<at::Generator>(g->g) : c10::nullopt;
}
at::ScalarType scalar_type(ft_dtype d) {
    switch (d) {
    case FT_FLOAT32: return at::kFloat;
    case FT_INT64: return at::kLong;
    case FT_BOOL: return at::kBool;
    default: throw std::invalid_argument("unsupported dtype");
    }
}
std::vector<at::Tensor> tensors(const ft_tensor *const *ts, int n) {
    std::vector<at::Tensor> v;
    v.reserve((size_t)n);
    for (int i = 0; i < n; i++) v.push_back(ts[i]->t);
    return v;
}

} // namespace

#define FT_TRY_PTR(body)                                                                   \
    try { body }                                                                           \
    catch (const c10::Error &e) { set_error(e.what_without_backtrace()); }                \
    catch (const std::exception &e) { set_error(e.what()); }                              \
    catch (...) { set_error("unknown C++ exception"); }                                   \
    return nullptr;

#define FT_TRY_INT(body)                                                                   \
    try { body return 0; }                                                                 \
    catch (const c10::Error &e) { set_error(e.what_without_backtrace()); }                \
    catch (const std::exception &e) { set_error(e.what()); }                              \
    catch (...) { set_error("unknown C++ exception"); }                                   \
    return -1;

extern "C" {

const char *ft_last_error(void) { return last_error.c_str(); }
void ft_set_num_threads(int n) {
    try { at::init_num_threads(); at::set_num_threads(n > 0 ? n : 1); } catch (...) {}
}
int ft_get_num_threads(void) { return at::get_num_threads(); }
void ft_set_grad_enabled(bool enabled) { c10::GradMode::set_enabled(enabled); }
bool ft_is_grad_enabled(void) { return c10::GradMode::is_enabled(); }

ft_generator *ft_generator_new(uint64_t seed) {
    FT_TRY_PTR(return new ft_generator{at::make_generator<at::CPUGeneratorImpl>(seed)};)
}
void ft_generator_free(ft_generator *g) { delete g; }
void ft_generator_set_seed(ft_generator *g, uint64_t seed) {
    std::lock_guard<std::mutex> lock(g->g.mutex());
    g->g.set_current_seed(seed);
}

void ft_free(ft_tensor *t) { delete t; }
ft_tensor *ft_alias(const ft_tensor *t) { FT_TRY_PTR(return wrap(t->t);) }
int ft_dim(const ft_tensor *t) { return (int)t->t.dim(); }
int64_t ft_size(const ft_tensor *t, int dim) { return t->t.size(dim); }
int64_t ft_numel(const ft_tensor *t) { return t->t.numel(); }
ft_dtype ft_get_dtype(const ft_tensor *t) {
    switch (t->t.scalar_type()) {
    case at::kFloat: return FT_FLOAT32;
    case at::kLong: return FT_INT64;
    case at::kBool: return FT_BOOL;
    default: return FT_OTHER;
    }
}
int ft_copy_out_float(const ft_tensor *t, float *out, int64_t count) {
    FT_TRY_INT(
        at::Tensor c = t->t.detach().to(at::kFloat).contiguous();
        if (c.numel() != count) throw std::invalid_argument("element count mismatch");
        std::memcpy(out, c.data_ptr<float>(), sizeof(float) * (size_t)count);
    )
}
int ft_copy_out_int64(const ft_tensor *t, int64_t *out, int64_t count) {
    FT_TRY_INT(
        at::Tensor c = t->t.detach().to(at::kLong).contiguous();
        if (c.numel() != count) throw std::invalid_argument("element count mismatch");
        std::memcpy(out, c.data_ptr<int64_t>(), sizeof(int64_t) * (size_t)count);
    )
}
int ft_item_double(const ft_tensor *t, double *out) { FT_TRY_INT(*out = t->t.item<double>();) }
void *ft_data_ptr(const ft_tensor *t) {
    if (!t->t.is_contiguous()) return nullptr;
    auto st = t->t.scalar_type();
    if (st != at::kFloat && st != at::kLong) return nullptr;
    return t->t.data_ptr();
}

ft_tensor *ft_from_float(const float *data, const int64_t *dims, int ndim) {
    FT_TRY_PTR(
        at::Tensor t = at::empty(dims_of(dims, ndim), at::kFloat);
        if (t.numel() > 0) std::memcpy(t.data_ptr<float>(), data, sizeof(float) * (size_t)t.numel());
        return wrap(t);
    )
}
ft_tensor *ft_from_int64(const int64_t *data, const int64_t *dims, int ndim) {
    FT_TRY_PTR(
        at::Tensor t = at::empty(dims_of(dims, ndim), at::kLong);
        if (t.numel() > 0) std::memcpy(t.data_ptr<int64_t>(), data, sizeof(int64_t) * (size_t)t.numel());
        return wrap(t);
    )
}
ft_tensor *ft_from_uint8_as_float(const uint8_t *data, const int64_t *dims, int ndim, float scale) {
    FT_TRY_PTR(
        at::Tensor t = at::empty(dims_of(dims, ndim), at::kFloat);
        float *p = t.data_ptr<float>();
        int64_t n = t.numel();
        for (int64_t i = 0; i < n; i++) p[i] = (float)data[i] * scale;
        return wrap(t);
    )
}
ft_tensor *ft_full(const int64_t *dims, int ndim, double value, ft_dtype dtype) {
    FT_TRY_PTR(return wrap(at::full(dims_of(dims, ndim), value, at::TensorOptions().dtype(scalar_type(dtype))));)
}
ft_tensor *ft_arange(int64_t n, ft_dtype dtype) {
    FT_TRY_PTR(return wrap(at::arange(n, at::TensorOptions().dtype(scalar_type(dtype))));)
}
ft_tensor *ft_randn(const int64_t *dims, int ndim, ft_generator *g) {
    FT_TRY_PTR(return wrap(at::randn(dims_of(dims, ndim), gen(g), at::kFloat));)
}
ft_tensor *ft_rand(const int64_t *dims, int ndim, ft_generator *g) {
    FT_TRY_PTR(return wrap(at::rand(dims_of(dims, ndim), gen(g), at::kFloat));)
}
ft_tensor *ft_randint(int64_t low, int64_t high, const int64_t *dims, int ndim, ft_generator *g) {
    FT_TRY_PTR(return wrap(at::randint(low, high, dims_of(dims, ndim), gen(g), at::kLong));)
}
ft_tensor *ft_randperm(int64_t n, ft_generator *g) {
    FT_TRY_PTR(return wrap(at::randperm(n, gen(g), at::kLong));)
}
ft_tensor *ft_bernoulli(const ft_tensor *p, ft_generator *g) {
    FT_TRY_PTR(return wrap(at::bernoulli(p->t, gen(g)));)
}
int ft_uniform_(ft_tensor *t, double from, double to, ft_generator *g) {
    FT_TRY_INT(at::NoGradGuard ng; t->t.uniform_(from, to, gen(g));)
}
int ft_normal_(ft_tensor *t, double mean, double std, ft_generator *g) {
    FT_TRY_INT(at::NoGradGuard ng; t->t.normal_(mean, std, gen(g));)
}

ft_tensor *ft_reshape(const ft_tensor *t, const int64_t *dims, int ndim) { FT_TRY_PTR(return wrap(t->t.reshape(dims_of(dims, ndim)));) }
ft_tensor *ft_view(const ft_tensor *t, const int64_t *dims, int ndim) { FT_TRY_PTR(return wrap(t->t.view(dims_of(dims, ndim)));) }
ft_tensor *ft_permute(const ft_tensor *t, const int64_t *dims, int ndim) { FT_TRY_PTR(return wrap(t->t.permute(dims_of(dims, ndim)));) }
ft_tensor *ft_expand(const ft_tensor *t, const int64_t *dims, int ndim) { FT_TRY_PTR(return wrap(t->t.expand(dims_of(dims, ndim)));) }
ft_tensor *ft_transpose(const ft_tensor *t, int64_t d0, int64_t d1) { FT_TRY_PTR(return wrap(t->t.transpose(d0, d1));) }
ft_tensor *ft_contiguous(const ft_tensor *t) { FT_TRY_PTR(return wrap(t->t.contiguous());) }
ft_tensor *ft_flatten(const ft_tensor *t, int64_t s, int64_t e) { FT_TRY_PTR(return wrap(t->t.flatten(s, e));) }
ft_tensor *ft_unsqueeze(const ft_tensor *t, int64_t d) { FT_TRY_PTR(return wrap(t->t.unsqueeze(d));) }
ft_tensor *ft_squeeze(const ft_tensor *t, int64_t d) { FT_TRY_PTR(return wrap(t->t.squeeze(d));) }
ft_tensor *ft_slice(const ft_tensor *t, int64_t dim, int64_t start, int64_t end, int64_t step) {
    FT_TRY_PTR(return wrap(t->t.slice(dim, start, end, step));)
}
ft_tensor *ft_select(const ft_tensor *t, int64_t dim, int64_t index) { FT_TRY_PTR(return wrap(t->t.select(dim, index));) }
ft_tensor *ft_index_select(const ft_tensor *t, int64_t dim, const ft_tensor *index) {
    FT_TRY_PTR(return wrap(at::index_select(t->t, dim, index->t));)
}
ft_tensor *ft_gather(const ft_tensor *t, int64_t dim, const ft_tensor *index) {
    FT_TRY_PTR(return wrap(at::gather(t->t, dim, index->t));)
}
ft_tensor *ft_masked_select(const ft_tensor *t, const ft_tensor *mask) {
    FT_TRY_PTR(return wrap(at::masked_select(t->t, mask->t));)
}
ft_tensor *ft_cat(const ft_tensor *const *ts, int n, int64_t dim) { FT_TRY_PTR(return wrap(at::cat(tensors(ts, n), dim));) }
ft_tensor *ft_stack(const ft_tensor *const *ts, int n, int64_t dim) { FT_TRY_PTR(return wrap(at::stack(tensors(ts, n), dim));) }
ft_tensor *ft_to_dtype(const ft_tensor *t, ft_dtype dtype) { FT_TRY_PTR(return wrap(t->t.to(scalar_type(dtype)));) }
ft_tensor *ft_clone(const ft_tensor *t) { FT_TRY_PTR(return wrap(t->t.clone());) }
ft_tensor *ft_one_hot(const ft_tensor *t, int64_t classes) { FT_TRY_PTR(return wrap(at::one_hot(t->t, classes));) }
ft_tensor *ft_where(const ft_tensor *c, const ft_tensor *a, const ft_tensor *b) { FT_TRY_PTR(return wrap(at::where(c->t, a->t, b->t));) }

static at::Tensor binary(ft_binary_op op, const at::Tensor &a, const at::Tensor &b) {
    switch (op) {
    case FT_ADD: return a + b;
    case FT_SUB: return a - b;
    case FT_MUL: return a * b;
    case FT_DIV: return a / b;
    case FT_POW: return at::pow(a, b);
    case FT_MAXIMUM: return at::maximum(a, b);
    case FT_MINIMUM: return at::minimum(a, b);
    case FT_EQ: return at::eq(a, b);
    case FT_NE: return at::ne(a, b);
    case FT_LT: return at::lt(a, b);
    case FT_LE: return at::le(a, b);
    case FT_GT: return at::gt(a, b);
    case FT_GE: return at::ge(a, b);
    case FT_LOGICAL_AND: return at::logical_and(a, b);
    case FT_LOGICAL_OR: return at::logical_or(a, b);
    }
    throw std::invalid_argument("unknown binary op");
}
static at::Tensor scalar_tensor_like(double s, const at::Tensor &like) {
    // Keep the tensor's dtype for integer tensors with integral scalars (as Python does).
    if (at::isIntegralType(like.scalar_type(), false) && s == (double)(int64_t)s)
        return at::scalar_tensor((int64_t)s, at::TensorOptions().dtype(like.scalar_type()));
    return at::scalar_tensor(s, at::TensorOptions().dtype(at::kFloat));
}
// An integral scalar for integer tensors (so int64 + 1 stays int64, as in Python), else a double.
static at::Scalar scalar_like(double s, const at::Tensor &like) {
    if (at::isIntegralType(like.scalar_type(), false) && s == (double)(int64_t)s) return at::Scalar((int64_t)s);
    return at::Scalar(s);
}
ft_tensor *ft_binary(ft_binary_op op, const ft_tensor *a, const ft_tensor *b) { FT_TRY_PTR(return wrap(binary(op, a->t, b->t));) }
ft_tensor *ft_binary_scalar(ft_binary_op op, const ft_tensor *a, double s) {
    FT_TRY_PTR(
        at::Scalar sc = scalar_like(s, a->t);
        switch (op) {
        case FT_ADD: return wrap(a->t + sc);
        case FT_SUB: return wrap(a->t - sc);
        case FT_MUL: return wrap(a->t * sc);
        case FT_DIV: return wrap(a->t / sc);
        case FT_POW: return wrap(at::pow(a->t, sc));
        default: return wrap(binary(op, a->t, scalar_tensor_like(s, a->t)));
        }
    )
}
ft_tensor *ft_scalar_binary(ft_binary_op op, double s, const ft_tensor *a) {
    FT_TRY_PTR(
        switch (op) {
        case FT_SUB: return wrap(at::rsub(a->t, scalar_like(s, a->t)));
        case FT_POW: return wrap(at::pow(scalar_like(s, a->t), a->t));
        default: return wrap(binary(op, scalar_tensor_like(s, a->t), a->t));
        }
    )
}
ft_tensor *ft_unary(ft_unary_op op, const ft_tensor *a) {
    FT_TRY_PTR(
        const at::Tensor &x = a->t;
        switch (op) {
        case FT_NEG: return wrap(-x);
        case FT_EXP: return wrap(x.exp());
        case FT_LOG: return wrap(x.log());
        case FT_SQRT: return wrap(x.sqrt());
        case FT_ABS: return wrap(x.abs());
        case FT_RELU: return wrap(at::relu(x));
        case FT_SIGMOID: return wrap(at::sigmoid(x));
        case FT_TANH: return wrap(at::tanh(x));
        case FT_SQUARE: return wrap(x * x);
        case FT_FLOOR: return wrap(x.floor());
        case FT_SIGN: return wrap(x.sign());
        case FT_ISFINITE: return wrap(at::isfinite(x));
        case FT_LOGICAL_NOT: return wrap(at::logical_not(x));
        case FT_RECIPROCAL: return wrap(x.reciprocal());
        }
        throw std::invalid_argument("unknown unary op");
    )
}
ft_tensor *ft_reduce(ft_reduce_op op, const ft_tensor *a, const int64_t *dims, int ndim, bool keepdim) {
    FT_TRY_PTR(
        const at::Tensor &x = a->t;
        bool all = ndim == 0;
        at::IntArrayRef d = dims_of(dims, ndim);
        switch (op) {
        case FT_SUM: return wrap(all ? x.sum() : x.sum(d, keepdim));
        case FT_MEAN: return wrap(all ? x.mean() : x.mean(d, keepdim));
        case FT_MAX:
            if (all) return wrap(x.max());
            if (ndim != 1) throw std::invalid_argument("max reduces over one dimension");
            return wrap(std::get<0>(x.max(dims[0], keepdim)));
        case FT_MIN:
            if (all) return wrap(x.min());
            if (ndim != 1) throw std::invalid_argument("min reduces over one dimension");
            return wrap(std::get<0>(x.min(dims[0], keepdim)));
        case FT_ARGMAX:
            if (all) return wrap(x.argmax());
            if (ndim != 1) throw std::invalid_argument("argmax reduces over one dimension");
            return wrap(x.argmax(dims[0], keepdim));
        case FT_ARGMIN:
            if (all) return wrap(x.argmin());
            if (ndim != 1) throw std::invalid_argument("argmin reduces over one dimension");
            return wrap(x.argmin(dims[0], keepdim));
        case FT_ALL:
            if (all) return wrap(x.all());
            if (ndim != 1) throw std::invalid_argument("all reduces over one dimension");
            return wrap(x.all(dims[0], keepdim));
        case FT_ANY:
            if (all) return wrap(x.any());
            if (ndim != 1) throw std::invalid_argument("any reduces over one dimension");
            return wrap(x.any(dims[0], keepdim));
        case FT_VAR_UNBIASED: return wrap(all ? x.var() : x.var(d, true, keepdim));
        case FT_LOGSUMEXP: {
            std::vector<int64_t> alld;
            for (int64_t i = 0; i < x.dim(); i++) alld.push_back(i);
            return wrap(at::logsumexp(x, all ? at::IntArrayRef(alld) : d, keepdim));
        }
        }
        throw std::invalid_argument("unknown reduction");
    )
}
ft_tensor *ft_matmul(const ft_tensor *a, const ft_tensor *b) { FT_TRY_PTR(return wrap(at::matmul(a->t, b->t));) }
ft_tensor *ft_bmm(const ft_tensor *a, const ft_tensor *b) { FT_TRY_PTR(return wrap(at::bmm(a->t, b->t));) }
ft_tensor *ft_baddbmm(const ft_tensor *c, const ft_tensor *a, const ft_tensor *b) {
    FT_TRY_PTR(return wrap(at::baddbmm(c->t, a->t, b->t));)
}
ft_tensor *ft_clamp(const ft_tensor *a, double lo, double hi) { FT_TRY_PTR(return wrap(at::clamp(a->t, lo, hi));) }
// p = 1 through pairwise_l1.cpp (same values, a backward several times faster than at::cdist's).
ft_tensor *ft_cdist(const ft_tensor *a, const ft_tensor *b, double p) {
    FT_TRY_PTR(return wrap(p == 1 ? pairwise_l1(a->t, b->t) : at::cdist(a->t, b->t, p));)
}
ft_tensor *ft_norm(const ft_tensor *a, double p) { FT_TRY_PTR(return wrap(at::norm(a->t, p));) }

int ft_copy_(ft_tensor *dst, const ft_tensor *src) { FT_TRY_INT(at::NoGradGuard ng; dst->t.copy_(src->t);) }
int ft_add_(ft_tensor *a, const ft_tensor *b, double alpha) { FT_TRY_INT(at::NoGradGuard ng; a->t.add_(b->t, alpha);) }
int ft_mul_scalar_(ft_tensor *a, double s) { FT_TRY_INT(at::NoGradGuard ng; a->t.mul_(s);) }
int ft_fill_(ft_tensor *a, double v) { FT_TRY_INT(at::NoGradGuard ng; a->t.fill_(v);) }

ft_tensor *ft_linear(const ft_tensor *x, const ft_tensor *w, const ft_tensor *b) {
    FT_TRY_PTR(return wrap(at::linear(x->t, w->t, opt(b)));)
}
ft_tensor *ft_conv2d(const ft_tensor *x, const ft_tensor *w, const ft_tensor *b, int64_t stride,
                     int64_t padding, int64_t dilation, int64_t groups) {
    FT_TRY_PTR(return wrap(at::conv2d(x->t, w->t, opt(b), {stride, stride}, {padding, padding},
                                      {dilation, dilation}, groups));)
}
ft_tensor *ft_max_pool2d(const ft_tensor *x, int64_t k, int64_t s, int64_t p) {
    FT_TRY_PTR(return wrap(channels_last_max_pool2d(x->t, k, s, p));)
}
ft_tensor *ft_relu_max_pool2d(const ft_tensor *x, int64_t k, int64_t s, int64_t p) {
    FT_TRY_PTR(return wrap(relu_max_pool2d(x->t, k, s, p));)
}
bool ft_set_wide_pooling_kernels(bool enabled) { return set_wide_pooling_kernels(enabled); }
ft_tensor *ft_avg_pool2d(const ft_tensor *x, int64_t k, int64_t s, int64_t p) {
    FT_TRY_PTR(return wrap(at::avg_pool2d(x->t, {k, k}, {s, s}, {p, p}));)
}
ft_tensor *ft_adaptive_avg_pool2d(const ft_tensor *x, int64_t oh, int64_t ow) {
    FT_TRY_PTR(return wrap(at::adaptive_avg_pool2d(x->t, {oh, ow}));)
}
ft_tensor *ft_leaky_relu(const ft_tensor *x, double slope) { FT_TRY_PTR(return wrap(at::leaky_relu(x->t, slope));) }
ft_tensor *ft_batch_norm(const ft_tensor *x, const ft_tensor *w, const ft_tensor *b, ft_tensor *rm,
                         ft_tensor *rv, bool training, double momentum, double eps) {
    FT_TRY_PTR(return wrap(at::batch_norm(x->t, opt(w), opt(b), opt(rm), opt(rv), training, momentum, eps, false));)
}
ft_tensor *ft_embedding(const ft_tensor *w, const ft_tensor *idx) { FT_TRY_PTR(return wrap(at::embedding(w->t, idx->t));) }
int ft_lstm(const ft_tensor *x, const ft_tensor *h0, const ft_tensor *c0, const ft_tensor *const *params,
            int nparams, int num_layers, ft_tensor **out, ft_tensor **h_n, ft_tensor **c_n) {
    FT_TRY_INT(
        std::vector<at::Tensor> ps = tensors(params, nparams);
        if (nparams != 4 * num_layers) throw std::invalid_argument("lstm expects 4 parameters per layer");
        int64_t batch = x->t.size(0);
        int64_t hidden = ps[1].size(1);
        at::Tensor h = h0 ? h0->t : at::zeros({num_layers, batch, hidden}, x->t.options());
        at::Tensor c = c0 ? c0->t : at::zeros({num_layers, batch, hidden}, x->t.options());
        auto r = at::lstm(x->t, {h, c}, ps, true, num_layers, 0.0, false, false, true);
        *out = wrap(std::get<0>(r));
        *h_n = wrap(std::get<1>(r));
        *c_n = wrap(std::get<2>(r));
    )
}
ft_tensor *ft_log_softmax(const ft_tensor *x, int64_t dim) { FT_TRY_PTR(return wrap(at::log_softmax(x->t, dim));) }
ft_tensor *ft_softmax(const ft_tensor *x, int64_t dim) { FT_TRY_PTR(return wrap(at::softmax(x->t, dim));) }
ft_tensor *ft_cross_entropy(const ft_tensor *logits, const ft_tensor *targets, int reduction, double ls) {
    FT_TRY_PTR(return wrap(at::cross_entropy_loss(logits->t, targets->t, {}, reduction, -100, ls));)
}
ft_tensor *ft_nll_loss(const ft_tensor *logp, const ft_tensor *targets, int reduction) {
    FT_TRY_PTR(return wrap(at::nll_loss(logp->t, targets->t, {}, reduction));)
}
ft_tensor *ft_mse_loss(const ft_tensor *a, const ft_tensor *b, int reduction) { FT_TRY_PTR(return wrap(at::mse_loss(a->t, b->t, reduction));) }
ft_tensor *ft_l1_loss(const ft_tensor *a, const ft_tensor *b, int reduction) { FT_TRY_PTR(return wrap(at::l1_loss(a->t, b->t, reduction));) }

int ft_set_requires_grad(ft_tensor *t, bool flag) { FT_TRY_INT(t->t.set_requires_grad(flag);) }
bool ft_requires_grad(const ft_tensor *t) { return t->t.requires_grad(); }
ft_tensor *ft_grad(const ft_tensor *t) {
    FT_TRY_PTR(
        const at::Tensor &g = t->t.grad();
        if (!g.defined()) { last_error.clear(); return nullptr; }
        return wrap(g);
    )
}
int ft_zero_grad(ft_tensor *t) { FT_TRY_INT(t->t.mutable_grad().reset();) }
int ft_backward(const ft_tensor *t, const ft_tensor *grad) {
    FT_TRY_INT(
        if (grad) t->t.backward(grad->t);
        else t->t.backward();
    )
}
ft_tensor *ft_detach(const ft_tensor *t) { FT_TRY_PTR(return wrap(t->t.detach());) }

namespace {
void sgd_step(at::Tensor &p, const at::Tensor &grad, ft_tensor *buf, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool first_step) {
    at::Tensor d = weight_decay != 0 ? grad.add(p, weight_decay) : grad;
    if (momentum != 0) {
        if (!buf) throw std::invalid_argument("sgd: momentum needs a buffer");
        if (first_step) buf->t.copy_(d);
        else buf->t.mul_(momentum).add_(d, 1 - dampening);
        d = nesterov ? d.add(buf->t, momentum) : buf->t;
    }
    p.add_(d, -lr);
}
} // namespace

int ft_sgd_step(ft_tensor *p, const ft_tensor *grad, ft_tensor *buf, double lr, double momentum, double dampening,
                double weight_decay, bool nesterov, bool first_step) {
    FT_TRY_INT(
        at::NoGradGuard ng;
        if (!grad->t.sizes().equals(p->t.sizes()))
            throw std::invalid_argument("sgd: gradient shape differs from the parameter's");
        if (buf && !buf->t.sizes().equals(p->t.sizes()))
            throw std::invalid_argument("sgd: momentum buffer shape differs from the parameter's");
        sgd_step(p->t, grad->t, buf, lr, momentum, dampening, weight_decay, nesterov, first_step);
    )
}

int ft_sgd_update(ft_tensor *p, ft_tensor *buf, double lr, double momentum, double dampening,
                  double weight_decay, bool nesterov, bool first_step) {
    FT_TRY_INT(
        at::NoGradGuard ng;
        const at::Tensor &grad = p->t.grad();
        if (!grad.defined()) return 0;
        sgd_step(p->t, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first_step);
    )
}
int ft_adam_update(ft_tensor *p, ft_tensor *m, ft_tensor *v, int64_t step, double lr, double beta1,
                   double beta2, double eps, double weight_decay, bool decoupled) {
    FT_TRY_INT(
        at::NoGradGuard ng;
        const at::Tensor &grad0 = p->t.grad();
        if (!grad0.defined()) return 0;
        at::Tensor grad = grad0;
        if (weight_decay != 0) {
            if (decoupled) p->t.mul_(1 - lr * weight_decay);
            else grad = grad.add(p->t, weight_decay);
        }
        m->t.mul_(beta1).add_(grad, 1 - beta1);
        v->t.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
        double bc1 = 1 - std::pow(beta1, (double)step);
        double bc2 = 1 - std::pow(beta2, (double)step);
        at::Tensor denom = (v->t.sqrt() / std::sqrt(bc2)).add_(eps);
        p->t.addcdiv_(m->t, denom, -lr / bc1);
    )
}

ft_tensor *ft_flatten_cat(const ft_tensor *const *ts, int n) {
    FT_TRY_PTR(
        std::vector<at::Tensor> v;
        v.reserve((size_t)n);
        for (int i = 0; i < n; i++) v.push_back(ts[i]->t.detach().reshape({-1}).to(at::kFloat));
        if (v.empty()) return wrap(at::empty({0}, at::kFloat));
        return wrap(at::cat(v, 0));
    )
}
int ft_unflatten_copy(const ft_tensor *flat, ft_tensor *const *ts, int n) {
    FT_TRY_INT(
        at::NoGradGuard ng;
        int64_t total = 0;
        for (int i = 0; i < n; i++) total += ts[i]->t.numel();
        if (flat->t.dim() != 1 || flat->t.numel() != total)
            throw std::invalid_argument("flat vector has " + std::to_string(flat->t.numel()) +
                                        " elements, the tensors need " + std::to_string(total));
        int64_t off = 0;
        for (int i = 0; i < n; i++) {
            int64_t k = ts[i]->t.numel();
            ts[i]->t.copy_(flat->t.slice(0, off, off + k).view(ts[i]->t.sizes()));
            off += k;
        }
    )
}

} // extern "C"
