// The kernel contract: what every variant of every op is, so that generated machine
// code can meet it and be saved and reloaded at another address.
//
// A kernel is a plain function
//     void kernel(const void* args, int64_t begin, int64_t end)
// over the work units [begin, end) of one op call: output rows for Matmul, tokens for
// the per-token ops, heads for Attention, elements for SwiGLU and Add. `args` points at
// the op's argument struct below: plain data, pointers and sizes only, its layout fixed
// here (generated code reads it at these offsets). A kernel keeps no state and touches
// only what its units own, so the op runner may split the units over threads any way
// it likes: threading belongs to the runner, never to the kernel.
//
// Batches: every per-token buffer holds `n_tokens` rows one after the other (the
// stride is the row length), so one call runs a whole prompt chunk and a token step
// is the case n_tokens == 1.
#pragma once
#include <cstdint>

namespace bf {

using KernelFn = void (*)(const void* args, int64_t begin, int64_t end);

// Activations quantized to 8 bits, blocks of kQBlock (32) elements, for the integer
// kernels. Structure of arrays so that vector loads of qs span several blocks. Row t of
// a batch starts at qs + t*cols, d + t*cols/32, sum + t*cols/32. cols is a multiple of 32.
//   d[b]   = max|x in block b| / 127 (0 for an all-zero block)
//   qs[i]  = round-to-nearest(x[i] / d[b]) in [-127, 127]
//   sum[b] = sum of the block's 32 qs (for unsigned-times-signed corrections)
struct Q8Rows {
  int8_t* qs;
  float* d;
  int32_t* sum;
};

// units: tokens. Quantizes n_tokens rows of `cols` floats into `out`.
struct QuantizeArgs {
  const float* x;  // [n_tokens][cols]
  Q8Rows out;
  int64_t cols;
  int32_t n_tokens;
};

// units: output rows. out[t][r] = dot(weight row r, input row t) for t < n_tokens.
// The weight is in the variant's layout (its `layout` name): the model file's own
// blocks ("native") or a repacked copy made at load time.
struct MatmulArgs {
  const void* w;          // weight data in the variant's layout
  const float* w_scales;  // scales kept apart from the values (I8G, repacked layouts), else null
  const float* x;         // f32 input [n_tokens][cols] (variants whose input is F32)
  Q8Rows xq;              // 8-bit input [n_tokens][cols] (variants whose input is Q8)
  float* out;             // [n_tokens][out_stride]
  int64_t rows, cols;
  int64_t out_stride;     // floats from one token's output row to the next (>= rows)
  int32_t n_tokens;
  int32_t group;          // I8G group size, else 0
};

// units: tokens. out[t] = weight * x[t] / sqrt(mean(x[t]^2) + eps); out may alias x.
struct RmsNormArgs {
  const float* x;  // [n_tokens][n]
  const float* weight;
  float* out;      // [n_tokens][n]
  int64_t n;
  float eps;
  int32_t n_tokens;
};

// units: tokens. Token t sits at position pos0 + t. Rotates adjacent pairs (2i, 2i+1)
// of the first rope_dim dimensions of every q and k head by pos * base^(-2i/rope_dim).
struct RopeArgs {
  float* q;  // [n_tokens][n_heads * head_size]
  float* k;  // [n_tokens][n_kv_heads * head_size]
  int32_t pos0, n_tokens;
  int32_t n_heads, n_kv_heads, head_size, rope_dim;
  float base;
};

// KV cache element types.
enum class KvType : int32_t { F32 = 0, F16 = 1 };

inline int kv_element_bytes(KvType t) { return t == KvType::F16 ? 2 : 4; }

// A layer's key (and value) cache is [n_kv_heads][context][head_size] of kv_type: each
// kv head's positions lie one after the other, so that attention reads one sequential
// stream per head (a [context][kv_dim] cache made it read head_size elements out of
// every kv_dim, a strided walk that the prefetchers follow badly once the weights
// streamed through the cache have evicted it).
inline int64_t kv_cache_index(int64_t kv_head, int64_t pos, int32_t head_size, int32_t context) {
  return (kv_head * context + pos) * head_size;
}

// units: tokens. Writes k[t] and v[t] into this layer's caches at position pos0 + t,
// converted to the cache's element type.
struct KvStoreArgs {
  const float* k;  // [n_tokens][kv_dim]
  const float* v;
  void* key_cache;  // [kv_dim / head_size][context][head_size] of kv_type
  void* value_cache;
  int32_t pos0, n_tokens, kv_dim, head_size, context;
  KvType kv_type;
};

// units: query heads. For each token t of the chunk (position p = pos0 + t) and head h:
//   out[t][h] = softmax(q[t][h] . key[0..p][kvh] / sqrt(head_size)) . value[0..p][kvh]
// with kvh = h / (n_heads / n_kv_heads). The caches already hold positions 0..pos0+n_tokens-1.
// scores is scratch of n_heads * context floats (row h belongs to head h).
struct AttentionArgs {
  const float* q;  // [n_tokens][n_heads * head_size]
  const void* key_cache;  // [n_kv_heads][context][head_size] of kv_type
  const void* value_cache;
  float* scores;
  float* out;      // [n_tokens][n_heads * head_size]
  int32_t pos0, n_tokens;
  int32_t n_heads, n_kv_heads, head_size, kv_dim, context;
  KvType kv_type;
};

// units: elements (n = n_tokens * hidden). gate[i] = silu(gate[i]) * up[i].
struct SwiGLUArgs {
  float* gate;
  const float* up;
  int64_t n;
};

// units: elements. x[i] += y[i].
struct AddArgs {
  float* x;
  const float* y;
  int64_t n;
};

// units: tokens. out[t] = row tokens[t] of the embedding matrix, as floats.
struct EmbedArgs {
  const void* table;        // the embedding matrix in its file layout
  const float* scales;      // I8G scales, else null
  const int32_t* tokens;
  float* out;               // [n_tokens][dim]
  int64_t dim;
  int32_t n_tokens, group;
  int32_t dtype;            // DType of the table
};

}  // namespace bf
