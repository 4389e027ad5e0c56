/*
 * CTorch: a small, stable C API over libtorch's ATen (CPU).
 *
 * Conventions
 * - `ft_tensor` and `ft_generator` are opaque heap handles; free each with its `_free`.
 * - A function that can fail returns NULL (pointer results) or -1 (integer results) and
 *   records a message readable with ft_last_error() on the calling thread. It never throws
 *   across the C boundary: every entry catches c10::Error and std::exception.
 * - Shapes are passed as (const int64_t *dims, int ndim).
 */
#ifndef FEDKIT_CTORCH_H
#define FEDKIT_CTORCH_H

#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ft_tensor ft_tensor;
typedef struct ft_generator ft_generator;

typedef enum { FT_FLOAT32 = 0, FT_INT64 = 1, FT_BOOL = 2, FT_OTHER = 99 } ft_dtype;

typedef enum {
    FT_ADD, FT_SUB, FT_MUL, FT_DIV, FT_POW, FT_MAXIMUM, FT_MINIMUM,
    FT_EQ, FT_NE, FT_LT, FT_LE, FT_GT, FT_GE, FT_LOGICAL_AND, FT_LOGICAL_OR
} ft_binary_op;

typedef enum {
    FT_NEG, FT_EXP, FT_LOG, FT_SQRT, FT_ABS, FT_RELU, FT_SIGMOID, FT_TANH, FT_SQUARE,
    FT_FLOOR, FT_SIGN, FT_ISFINITE, FT_LOGICAL_NOT, FT_RECIPROCAL
} ft_unary_op;

typedef enum { FT_SUM, FT_MEAN, FT_MAX, FT_MIN, FT_ARGMAX, FT_ARGMIN, FT_ALL, FT_ANY, FT_VAR_UNBIASED, FT_LOGSUMEXP } ft_reduce_op;

/* ---- errors, threads, seeding ---- */
const char *ft_last_error(void);
void ft_set_num_threads(int n);
int ft_get_num_threads(void);
void ft_set_grad_enabled(bool enabled);
bool ft_is_grad_enabled(void);

/* ---- generators ---- */
ft_generator *ft_generator_new(uint64_t seed);
void ft_generator_free(ft_generator *g);
void ft_generator_set_seed(ft_generator *g, uint64_t seed);

/* ---- lifetime and inspection ---- */
void ft_free(ft_tensor *t);
ft_tensor *ft_alias(const ft_tensor *t);          /* a new handle to the same tensor */
int ft_dim(const ft_tensor *t);
int64_t ft_size(const ft_tensor *t, int dim);
int64_t ft_numel(const ft_tensor *t);
ft_dtype ft_get_dtype(const ft_tensor *t);
/* Copy the elements (as float32 / int64, converting if needed) into out[0..count). */
int ft_copy_out_float(const ft_tensor *t, float *out, int64_t count);
int ft_copy_out_int64(const ft_tensor *t, int64_t *out, int64_t count);
int ft_item_double(const ft_tensor *t, double *out);
/* Raw pointer to a contiguous float32/int64 tensor's storage, NULL otherwise. */
void *ft_data_ptr(const ft_tensor *t);

/* ---- creation ---- */
ft_tensor *ft_from_float(const float *data, const int64_t *dims, int ndim);
ft_tensor *ft_from_int64(const int64_t *data, const int64_t *dims, int ndim);
ft_tensor *ft_from_uint8_as_float(const uint8_t *data, const int64_t *dims, int ndim, float scale);
ft_tensor *ft_full(const int64_t *dims, int ndim, double value, ft_dtype dtype);
ft_tensor *ft_arange(int64_t n, ft_dtype dtype);
ft_tensor *ft_randn(const int64_t *dims, int ndim, ft_generator *g);
ft_tensor *ft_rand(const int64_t *dims, int ndim, ft_generator *g);
ft_tensor *ft_randint(int64_t low, int64_t high, const int64_t *dims, int ndim, ft_generator *g);
ft_tensor *ft_randperm(int64_t n, ft_generator *g);
ft_tensor *ft_bernoulli(const ft_tensor *probabilities, ft_generator *g);
int ft_uniform_(ft_tensor *t, double from, double to, ft_generator *g);
int ft_normal_(ft_tensor *t, double mean, double std, ft_generator *g);

/* ---- shape and indexing ---- */
ft_tensor *ft_reshape(const ft_tensor *t, const int64_t *dims, int ndim);
ft_tensor *ft_view(const ft_tensor *t, const int64_t *dims, int ndim);
ft_tensor *ft_permute(const ft_tensor *t, const int64_t *dims, int ndim);
ft_tensor *ft_expand(const ft_tensor *t, const int64_t *dims, int ndim);
ft_tensor *ft_transpose(const ft_tensor *t, int64_t d0, int64_t d1);
ft_tensor *ft_contiguous(const ft_tensor *t);
ft_tensor *ft_flatten(const ft_tensor *t, int64_t start, int64_t end);
ft_tensor *ft_unsqueeze(const ft_tensor *t, int64_t dim);
ft_tensor *ft_squeeze(const ft_tensor *t, int64_t dim);
ft_tensor *ft_slice(const ft_tensor *t, int64_t dim, int64_t start, int64_t end, int64_t step);
ft_tensor *ft_select(const ft_tensor *t, int64_t dim, int64_t index);
ft_tensor *ft_index_select(const ft_tensor *t, int64_t dim, const ft_tensor *index);
ft_tensor *ft_gather(const ft_tensor *t, int64_t dim, const ft_tensor *index);
ft_tensor *ft_masked_select(const ft_tensor *t, const ft_tensor *mask);
ft_tensor *ft_cat(const ft_tensor *const *ts, int n, int64_t dim);
ft_tensor *ft_stack(const ft_tensor *const *ts, int n, int64_t dim);
ft_tensor *ft_to_dtype(const ft_tensor *t, ft_dtype dtype);
ft_tensor *ft_clone(const ft_tensor *t);
ft_tensor *ft_one_hot(const ft_tensor *t, int64_t classes);
ft_tensor *ft_where(const ft_tensor *cond, const ft_tensor *a, const ft_tensor *b);

/* ---- arithmetic ---- */
ft_tensor *ft_binary(ft_binary_op op, const ft_tensor *a, const ft_tensor *b);
ft_tensor *ft_binary_scalar(ft_binary_op op, const ft_tensor *a, double s);
ft_tensor *ft_scalar_binary(ft_binary_op op, double s, const ft_tensor *a);
ft_tensor *ft_unary(ft_unary_op op, const ft_tensor *a);
/* dims == NULL and ndim == 0 reduce over all elements (ARGMAX/ARGMIN need one dim). */
ft_tensor *ft_reduce(ft_reduce_op op, const ft_tensor *a, const int64_t *dims, int ndim, bool keepdim);
ft_tensor *ft_matmul(const ft_tensor *a, const ft_tensor *b);
/* Batched products of 3-d tensors: bmm(a [B,n,m], b [B,m,p]) -> [B,n,p];
 * baddbmm(c, a, b) = c + bmm(a, b), c broadcast to [B,n,p] (e.g. a stacked bias [B,1,p]). */
ft_tensor *ft_bmm(const ft_tensor *a, const ft_tensor *b);
ft_tensor *ft_baddbmm(const ft_tensor *c, const ft_tensor *a, const ft_tensor *b);
ft_tensor *ft_clamp(const ft_tensor *a, double lo, double hi);
ft_tensor *ft_cdist(const ft_tensor *a, const ft_tensor *b, double p);
ft_tensor *ft_norm(const ft_tensor *a, double p);

/* ---- in place ---- */
int ft_copy_(ft_tensor *dst, const ft_tensor *src);
int ft_add_(ft_tensor *a, const ft_tensor *b, double alpha);   /* a += alpha * b */
int ft_mul_scalar_(ft_tensor *a, double s);
int ft_fill_(ft_tensor *a, double value);

/* ---- neural-network ops ---- */
ft_tensor *ft_linear(const ft_tensor *x, const ft_tensor *w, const ft_tensor *b /* nullable */);
ft_tensor *ft_conv2d(const ft_tensor *x, const ft_tensor *w, const ft_tensor *b /* nullable */,
                     int64_t stride, int64_t padding, int64_t dilation, int64_t groups);
ft_tensor *ft_max_pool2d(const ft_tensor *x, int64_t kernel, int64_t stride, int64_t padding);
/* max_pool2d(relu(x)) as one kernel where the windows do not overlap (max_pool.cpp) */
ft_tensor *ft_relu_max_pool2d(const ft_tensor *x, int64_t kernel, int64_t stride, int64_t padding);
/* its AVX-512 kernels on (where the CPU has them) or off; returns whether they were on (tests) */
bool ft_set_wide_pooling_kernels(bool enabled);
ft_tensor *ft_avg_pool2d(const ft_tensor *x, int64_t kernel, int64_t stride, int64_t padding);
ft_tensor *ft_adaptive_avg_pool2d(const ft_tensor *x, int64_t out_h, int64_t out_w);
ft_tensor *ft_leaky_relu(const ft_tensor *x, double slope);
ft_tensor *ft_batch_norm(const ft_tensor *x, const ft_tensor *w, const ft_tensor *b,
                         ft_tensor *running_mean, ft_tensor *running_var,
                         bool training, double momentum, double eps);
ft_tensor *ft_embedding(const ft_tensor *w, const ft_tensor *indices);
/* Single- or multi-layer unidirectional LSTM, batch_first. params: per layer w_ih, w_hh, b_ih, b_hh.
 * h0/c0 nullable (zeros). Writes the output sequence, h_n and c_n. */
int ft_lstm(const ft_tensor *x, const ft_tensor *h0, const ft_tensor *c0,
            const ft_tensor *const *params, int nparams, int num_layers,
            ft_tensor **out, ft_tensor **h_n, ft_tensor **c_n);
ft_tensor *ft_log_softmax(const ft_tensor *x, int64_t dim);
ft_tensor *ft_softmax(const ft_tensor *x, int64_t dim);
/* reduction: 0 none, 1 mean, 2 sum */
ft_tensor *ft_cross_entropy(const ft_tensor *logits, const ft_tensor *targets, int reduction, double label_smoothing);
ft_tensor *ft_nll_loss(const ft_tensor *logp, const ft_tensor *targets, int reduction);
ft_tensor *ft_mse_loss(const ft_tensor *a, const ft_tensor *b, int reduction);
ft_tensor *ft_l1_loss(const ft_tensor *a, const ft_tensor *b, int reduction);

/* ---- autograd ---- */
int ft_set_requires_grad(ft_tensor *t, bool flag);
bool ft_requires_grad(const ft_tensor *t);
/* NULL without error when the tensor has no gradient yet. */
ft_tensor *ft_grad(const ft_tensor *t);
int ft_zero_grad(ft_tensor *t);   /* drops the gradient (like set_to_none) */
int ft_backward(const ft_tensor *t, const ft_tensor *grad /* nullable: ones for scalars */);
ft_tensor *ft_detach(const ft_tensor *t);

/* ---- optimiser updates (read p.grad(); no-ops when it is undefined) ---- */
/* SGD as torch.optim.SGD: g = grad + wd*p; buf = momentum*buf + (1-dampening)*g; p -= lr*buf.
 * buf may be NULL when momentum == 0. first_step: buf = g (torch semantics). */
int ft_sgd_update(ft_tensor *p, ft_tensor *buf, double lr, double momentum, double dampening,
                  double weight_decay, bool nesterov, bool first_step);
/* The same SGD update with the gradient passed explicitly, so p, grad and buf may be views
 * (e.g. the rows of a stacked parameter that belong to the clients still training). */
int ft_sgd_step(ft_tensor *p, const ft_tensor *grad, ft_tensor *buf, double lr, double momentum,
                double dampening, double weight_decay, bool nesterov, bool first_step);
/* Adam (decoupled = AdamW) as torch.optim. */
int ft_adam_update(ft_tensor *p, ft_tensor *m, ft_tensor *v, int64_t step, double lr,
                   double beta1, double beta2, double eps, double weight_decay, bool decoupled);

/* ---- flattening (state dicts <-> one vector) ---- */
ft_tensor *ft_flatten_cat(const ft_tensor *const *ts, int n);
int ft_unflatten_copy(const ft_tensor *flat, ft_tensor *const *ts, int n);

#ifdef __cplusplus
}
#endif
#endif
