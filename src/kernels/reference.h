// Reference kernels: the semantic spec every other implementation is tested against.
// Portable C++, single-threaded, one function per op kind. Ranges let callers split
// work across threads without changing the arithmetic of any output element.
#pragma once
#include <cstdint>

#include "model/model.h"

namespace bf::ref {

// out[r] = dot(w row r, x) for r in [row_begin, row_end). x has w.cols elements.
void matvec(const Tensor& w, const float* x, float* out, int64_t row_begin, int64_t row_end);

// out = row `row` of w as floats (the embedding lookup).
void embed(const Tensor& w, int64_t row, float* out);

// out = weight * x / sqrt(mean(x^2) + eps); out may alias x.
void rmsnorm(const float* x, const float* weight, float* out, int n, float eps);

// Rotates adjacent pairs (2i, 2i+1) of each head's first `rope_dim` dimensions by
// pos * base^(-2i/rope_dim), for q (n_heads heads) and k (n_kv_heads heads).
void rope(float* q, float* k, int pos, int n_heads, int n_kv_heads, int head_size, int rope_dim, float base);

// Attention of heads [head_begin, head_end) at position `pos` over cached keys and
// values 0..pos. Caches are [seq][kv_dim]; scores is scratch of n_heads * (pos+1).
struct AttentionShape {
  int n_heads, n_kv_heads, head_size, kv_dim;
};
void attention(const AttentionShape& s, const float* q, const float* key_cache, const float* value_cache, int pos,
               float* scores, float* out, int head_begin, int head_end);

// gate[i] = silu(gate[i]) * up[i] for i in [begin, end).
void swiglu(float* gate, const float* up, int64_t begin, int64_t end);

// x[i] += y[i].
void add(float* x, const float* y, int n);

void softmax(float* x, int n);

}  // namespace bf::ref
