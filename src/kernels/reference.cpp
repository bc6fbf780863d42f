#include "kernels/reference.h"

#include <cmath>
#include <cstring>

#include "kernels/families.h"
#include "kernels/int_block.h"
#include "kernels/quantize.h"
#include "kernels/variant.h"
#include "util/f16.h"

namespace bf::ref {
namespace {

// Eight independent partial sums: the compiler keeps them in vector registers
// without needing -ffast-math to reassociate a single running sum.
constexpr int kLanes = 8;

inline float sum_lanes(const float (&acc)[kLanes]) {
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

float dot_f32(const float* w, const float* x, int64_t n) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += w[j + k] * x[j + k];
  float s = sum_lanes(acc);
  for (; j < n; ++j) s += w[j] * x[j];
  return s;
}

// f16 -> f32 through a table: exact, and far faster than the bitwise conversion.
const float* f16_table() {
  static const float* table = [] {
    static float t[1 << 16];
    for (uint32_t i = 0; i < (1u << 16); ++i) t[i] = f16_to_f32(static_cast<uint16_t>(i));
    return t;
  }();
  return table;
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  const float* t = f16_table();
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += t[w[j + k]] * x[j + k];
  float s = sum_lanes(acc);
  for (; j < n; ++j) s += t[w[j]] * x[j];
  return s;
}

float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += bf16_to_f32(w[j + k]) * x[j + k];
  float s = sum_lanes(acc);
  for (; j < n; ++j) s += bf16_to_f32(w[j]) * x[j];
  return s;
}

// The newer block types, through their integer form (kernels/int_block.h): each block
// dequantized to floats, then dotted.
float dot_int_blocks(DType type, const uint8_t* w, const float* x, int64_t n) {
  float s = 0;
  for (int64_t b = 0; b < n / kQBlock; ++b, x += kQBlock) {
    const IntBlock blk = int_block(type, w, b);
    float acc[kLanes] = {};
    for (int j = 0; j < kQBlock; j += kLanes)
      for (int k = 0; k < kLanes; ++k) acc[k] += (blk.scale * static_cast<float>(blk.q[j + k]) + blk.offset) * x[j + k];
    s += sum_lanes(acc);
  }
  return s;
}

float dot_q8_0(const BlockQ8_0* w, const float* x, int64_t n) {
  const float* t = f16_table();
  float s = 0;
  for (int64_t b = 0; b < n / kQBlock; ++b, x += kQBlock) {
    float acc[kLanes] = {};
    for (int j = 0; j < kQBlock; j += kLanes)
      for (int k = 0; k < kLanes; ++k) acc[k] += static_cast<float>(w[b].qs[j + k]) * x[j + k];
    s += t[w[b].d] * sum_lanes(acc);
  }
  return s;
}

float dot_q4_0(const BlockQ4_0* w, const float* x, int64_t n) {
  const float* t = f16_table();
  constexpr int kHalf = kQBlock / 2;
  float s = 0;
  for (int64_t b = 0; b < n / kQBlock; ++b, x += kQBlock) {
    float acc[kLanes] = {};
    for (int j = 0; j < kHalf; j += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        uint8_t q = w[b].qs[j + k];
        acc[k] += static_cast<float>((q & 0x0f) - 8) * x[j + k] + static_cast<float>((q >> 4) - 8) * x[j + k + kHalf];
      }
    s += t[w[b].d] * sum_lanes(acc);
  }
  return s;
}

float dot_i8g(const int8_t* w, const float* scales, int group, const float* x, int64_t n) {
  float s = 0;
  for (int64_t g = 0; g < n / group; ++g, w += group, x += group) {
    float acc[kLanes] = {};
    int j = 0;
    for (; j + kLanes <= group; j += kLanes)
      for (int k = 0; k < kLanes; ++k) acc[k] += static_cast<float>(w[j + k]) * x[j + k];
    float part = sum_lanes(acc);
    for (; j < group; ++j) part += static_cast<float>(w[j]) * x[j];
    s += scales[g] * part;
  }
  return s;
}

// Exact integer dot of one 32-element block.
inline int32_t block_isum(const int8_t* w, const int8_t* x) {
  int32_t s = 0;
  for (int i = 0; i < kQBlock; ++i) s += static_cast<int32_t>(w[i]) * x[i];
  return s;
}

// Row r of a native weight and its scales (I8G), for either input kind.
struct RowView {
  const uint8_t* data;
  const float* scales;
};

inline RowView row_of(const MatmulArgs& a, DType type, int64_t r) {
  const uint8_t* base = static_cast<const uint8_t*>(a.w);
  RowView v{base + row_bytes(type, a.cols) * static_cast<size_t>(r), nullptr};
  if (type == DType::I8G) v.scales = a.w_scales + r * a.cols / a.group;
  return v;
}

// Rows outermost, so each weight row is read from memory once per call whatever n_tokens is.
template <typename RowDot>
void for_rows_and_tokens(const MatmulArgs& a, DType type, int64_t begin, int64_t end, RowDot dot) {
  for (int64_t r = begin; r < end; ++r) {
    RowView row = row_of(a, type, r);
    for (int32_t t = 0; t < a.n_tokens; ++t) a.out[t * a.out_stride + r] = dot(row, t);
  }
}

template <DType kType>
void matmul_f32_input(const void* args, int64_t begin, int64_t end) {
  const MatmulArgs& a = *static_cast<const MatmulArgs*>(args);
  for_rows_and_tokens(a, kType, begin, end, [&](RowView row, int32_t t) {
    const float* x = a.x + t * a.cols;
    switch (kType) {
      case DType::F32: return dot_f32(reinterpret_cast<const float*>(row.data), x, a.cols);
      case DType::F16: return dot_f16(reinterpret_cast<const uint16_t*>(row.data), x, a.cols);
      case DType::Q8_0: return dot_q8_0(reinterpret_cast<const BlockQ8_0*>(row.data), x, a.cols);
      case DType::Q4_0: return dot_q4_0(reinterpret_cast<const BlockQ4_0*>(row.data), x, a.cols);
      case DType::I8G: return dot_i8g(reinterpret_cast<const int8_t*>(row.data), row.scales, a.group, x, a.cols);
      case DType::BF16: return dot_bf16(reinterpret_cast<const uint16_t*>(row.data), x, a.cols);
      case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
        return dot_int_blocks(kType, row.data, x, a.cols);
    }
    return 0.0f;
  });
}

// The 8-bit input of token t, block b.
struct Q8Block {
  const int8_t* qs;
  float d;
  int32_t sum;
};

inline Q8Block q8_block(const MatmulArgs& a, int32_t t, int64_t b) {
  const int64_t blocks = a.cols / kQBlock;
  return {a.xq.qs + t * a.cols + b * kQBlock, a.xq.d[t * blocks + b], a.xq.sum[t * blocks + b]};
}

float dot_q8_0_q8(const MatmulArgs& a, RowView row, int32_t t) {
  const float* f16 = f16_table();
  const BlockQ8_0* w = reinterpret_cast<const BlockQ8_0*>(row.data);
  float s = 0;
  for (int64_t b = 0; b < a.cols / kQBlock; ++b) {
    Q8Block x = q8_block(a, t, b);
    s += f16[w[b].d] * x.d * static_cast<float>(block_isum(w[b].qs, x.qs));
  }
  return s;
}

float dot_q4_0_q8(const MatmulArgs& a, RowView row, int32_t t) {
  const float* f16 = f16_table();
  const BlockQ4_0* w = reinterpret_cast<const BlockQ4_0*>(row.data);
  constexpr int kHalf = kQBlock / 2;
  float s = 0;
  for (int64_t b = 0; b < a.cols / kQBlock; ++b) {
    Q8Block x = q8_block(a, t, b);
    int32_t isum = 0;  // sum of nibble * x, then the -8 offset through the block's sum
    for (int j = 0; j < kHalf; ++j)
      isum += (w[b].qs[j] & 0x0f) * x.qs[j] + (w[b].qs[j] >> 4) * x.qs[j + kHalf];
    s += f16[w[b].d] * x.d * static_cast<float>(isum - 8 * x.sum);
  }
  return s;
}

float dot_i8g_q8(const MatmulArgs& a, RowView row, int32_t t) {
  const int8_t* w = reinterpret_cast<const int8_t*>(row.data);
  const int blocks_per_group = a.group / kQBlock;
  float s = 0;
  for (int64_t g = 0; g < a.cols / a.group; ++g) {
    float part = 0;
    for (int k = 0; k < blocks_per_group; ++k) {
      int64_t b = g * blocks_per_group + k;
      Q8Block x = q8_block(a, t, b);
      part += x.d * static_cast<float>(block_isum(w + b * kQBlock, x.qs));
    }
    s += row.scales[g] * part;
  }
  return s;
}

// Every int_block type: dx * (scale * sum(q * xq) + offset * sum(xq)) per block.
template <DType kType>
float dot_int_blocks_q8(const MatmulArgs& a, RowView row, int32_t t) {
  float s = 0;
  for (int64_t b = 0; b < a.cols / kQBlock; ++b) {
    const IntBlock w = int_block(kType, row.data, b);
    const Q8Block x = q8_block(a, t, b);
    int32_t isum = 0;
    for (int j = 0; j < kQBlock; ++j) isum += w.q[j] * x.qs[j];
    s += x.d * (w.scale * static_cast<float>(isum) + w.offset * static_cast<float>(x.sum));
  }
  return s;
}

template <DType kType, float (*kDot)(const MatmulArgs&, RowView, int32_t)>
void matmul_q8_input(const void* args, int64_t begin, int64_t end) {
  const MatmulArgs& a = *static_cast<const MatmulArgs*>(args);
  for_rows_and_tokens(a, kType, begin, end, [&](RowView row, int32_t t) { return kDot(a, row, t); });
}

}  // namespace

void matmul_f32(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::F32>(a, b, e); }
void matmul_f16(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::F16>(a, b, e); }
void matmul_q8_0(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::Q8_0>(a, b, e); }
void matmul_q4_0(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::Q4_0>(a, b, e); }
void matmul_i8g(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::I8G>(a, b, e); }
void matmul_bf16(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::BF16>(a, b, e); }
void matmul_q4_1(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::Q4_1>(a, b, e); }
void matmul_q5_0(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::Q5_0>(a, b, e); }
void matmul_q5_1(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::Q5_1>(a, b, e); }
void matmul_q4_k(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::Q4_K>(a, b, e); }
void matmul_q5_k(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::Q5_K>(a, b, e); }
void matmul_q6_k(const void* a, int64_t b, int64_t e) { matmul_f32_input<DType::Q6_K>(a, b, e); }
void matmul_q8_0_q8(const void* a, int64_t b, int64_t e) { matmul_q8_input<DType::Q8_0, dot_q8_0_q8>(a, b, e); }
void matmul_q4_0_q8(const void* a, int64_t b, int64_t e) { matmul_q8_input<DType::Q4_0, dot_q4_0_q8>(a, b, e); }
void matmul_i8g_q8(const void* a, int64_t b, int64_t e) { matmul_q8_input<DType::I8G, dot_i8g_q8>(a, b, e); }
void matmul_q4_1_q8(const void* a, int64_t b, int64_t e) { matmul_q8_input<DType::Q4_1, dot_int_blocks_q8<DType::Q4_1>>(a, b, e); }
void matmul_q5_0_q8(const void* a, int64_t b, int64_t e) { matmul_q8_input<DType::Q5_0, dot_int_blocks_q8<DType::Q5_0>>(a, b, e); }
void matmul_q5_1_q8(const void* a, int64_t b, int64_t e) { matmul_q8_input<DType::Q5_1, dot_int_blocks_q8<DType::Q5_1>>(a, b, e); }
void matmul_q4_k_q8(const void* a, int64_t b, int64_t e) { matmul_q8_input<DType::Q4_K, dot_int_blocks_q8<DType::Q4_K>>(a, b, e); }
void matmul_q5_k_q8(const void* a, int64_t b, int64_t e) { matmul_q8_input<DType::Q5_K, dot_int_blocks_q8<DType::Q5_K>>(a, b, e); }
void matmul_q6_k_q8(const void* a, int64_t b, int64_t e) { matmul_q8_input<DType::Q6_K, dot_int_blocks_q8<DType::Q6_K>>(a, b, e); }

MatmulArgs matmul_args(const TensorView& w, const float* x, Q8Rows xq, float* out, int n_tokens, int64_t out_stride) {
  MatmulArgs a{};
  a.w = w.data;
  a.w_scales = w.scales;
  a.x = x;
  a.xq = xq;
  a.out = out;
  a.rows = w.rows;
  a.cols = w.cols;
  a.out_stride = out_stride;
  a.n_tokens = n_tokens;
  a.group = w.group;
  return a;
}

int32_t quantize_block(const float* x, int8_t* q, float* d) {
  float amax = 0;
  for (int i = 0; i < kQBlock; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  *d = amax / 127.0f;
  const float id = *d != 0 ? 1.0f / *d : 0.0f;
  int32_t sum = 0;
  for (int i = 0; i < kQBlock; ++i) {
    q[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));  // round half to even (default rounding mode)
    sum += q[i];
  }
  return sum;
}

void quantize(const void* args, int64_t begin, int64_t end) {
  const QuantizeArgs& a = *static_cast<const QuantizeArgs*>(args);
  const int64_t blocks = a.cols / kQBlock;
  for (int64_t t = begin; t < end; ++t)
    for (int64_t b = 0; b < blocks; ++b) {
      int64_t i = t * blocks + b;
      a.out.sum[i] = quantize_block(a.x + i * kQBlock, a.out.qs + i * kQBlock, a.out.d + i);
    }
}

void embed(const void* args, int64_t begin, int64_t end) {
  const EmbedArgs& a = *static_cast<const EmbedArgs*>(args);
  const DType type = static_cast<DType>(a.dtype);
  const size_t stride = row_bytes(type, a.dim);
  for (int64_t t = begin; t < end; ++t) {
    const int64_t row = a.tokens[t];
    const float* scales = type == DType::I8G ? a.scales + row * a.dim / a.group : nullptr;
    dequantize_row(type, static_cast<const uint8_t*>(a.table) + stride * static_cast<size_t>(row), scales,
                   a.out + t * a.dim, a.dim, a.group);
  }
}

void rmsnorm(const void* args, int64_t begin, int64_t end) {
  const RmsNormArgs& a = *static_cast<const RmsNormArgs*>(args);
  for (int64_t t = begin; t < end; ++t) {
    const float* x = a.x + t * a.n;
    float* out = a.out + t * a.n;
    float ss = 0;
    for (int64_t i = 0; i < a.n; ++i) ss += x[i] * x[i];
    float scale = 1.0f / std::sqrt(ss / static_cast<float>(a.n) + a.eps);
    for (int64_t i = 0; i < a.n; ++i) out[i] = a.weight[i] * (scale * x[i]);
  }
}

void rope(const void* args, int64_t begin, int64_t end) {
  const RopeArgs& a = *static_cast<const RopeArgs*>(args);
  const int q_dim = a.n_heads * a.head_size, k_dim = a.n_kv_heads * a.head_size;
  for (int64_t t = begin; t < end; ++t) {
    const float pos = static_cast<float>(a.pos0 + t);
    for (int i = 0; i < a.rope_dim; i += 2) {
      float freq = 1.0f / std::pow(a.base, static_cast<float>(i) / static_cast<float>(a.rope_dim));
      float angle = pos * freq;
      float c = std::cos(angle), s = std::sin(angle);
      auto rotate = [&](float* v, int heads) {
        for (int h = 0; h < heads; ++h) {
          float* p = v + h * a.head_size + i;
          float x0 = p[0], x1 = p[1];
          p[0] = x0 * c - x1 * s;
          p[1] = x0 * s + x1 * c;
        }
      };
      rotate(a.q + t * q_dim, a.n_heads);
      rotate(a.k + t * k_dim, a.n_kv_heads);
    }
  }
}

namespace {
// `n` cache elements at element `at` from `src` (f32 or f16 storage).
void store_elements(void* cache, KvType type, int64_t at, const float* src, int n) {
  if (type == KvType::F32) {
    std::memcpy(static_cast<float*>(cache) + at, src, sizeof(float) * n);
    return;
  }
  uint16_t* dst = static_cast<uint16_t*>(cache) + at;
  for (int i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}

inline float cache_at(const void* cache, KvType type, int64_t i) {
  return type == KvType::F32 ? static_cast<const float*>(cache)[i] : f16_table()[static_cast<const uint16_t*>(cache)[i]];
}
}  // namespace

void kv_store(const void* args, int64_t begin, int64_t end) {
  const KvStoreArgs& a = *static_cast<const KvStoreArgs*>(args);
  for (int64_t t = begin; t < end; ++t)
    for (int g = 0; g < a.kv_dim / a.head_size; ++g) {
      const int64_t at = kv_cache_index(g, a.pos0 + t, a.head_size, a.context);
      const int64_t src = t * a.kv_dim + g * a.head_size;
      store_elements(a.key_cache, a.kv_type, at, a.k + src, a.head_size);
      store_elements(a.value_cache, a.kv_type, at, a.v + src, a.head_size);
    }
}

void softmax(float* x, int n) {
  float max = x[0];
  for (int i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  float sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  for (int i = 0; i < n; ++i) x[i] /= sum;
}

void attention(const void* args, int64_t begin, int64_t end) {
  const AttentionArgs& a = *static_cast<const AttentionArgs*>(args);
  const int group = a.n_heads / a.n_kv_heads, q_dim = a.n_heads * a.head_size;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_size));
  for (int64_t h = begin; h < end; ++h) {
    const int64_t kv_head = h / group;
    float* att = a.scores + h * a.context;
    for (int32_t t = 0; t < a.n_tokens; ++t) {
      const int pos = a.pos0 + t;
      const float* qh = a.q + t * q_dim + h * a.head_size;
      for (int p = 0; p <= pos; ++p) {
        const int64_t base = kv_cache_index(kv_head, p, a.head_size, a.context);
        float acc[kLanes] = {};
        int j = 0;
        for (; j + kLanes <= a.head_size; j += kLanes)
          for (int k = 0; k < kLanes; ++k) acc[k] += qh[j + k] * cache_at(a.key_cache, a.kv_type, base + j + k);
        float s = sum_lanes(acc);
        for (; j < a.head_size; ++j) s += qh[j] * cache_at(a.key_cache, a.kv_type, base + j);
        att[p] = s * scale;
      }
      softmax(att, pos + 1);
      float* oh = a.out + t * q_dim + h * a.head_size;
      std::memset(oh, 0, sizeof(float) * a.head_size);
      for (int p = 0; p <= pos; ++p) {
        const int64_t base = kv_cache_index(kv_head, p, a.head_size, a.context);
        for (int i = 0; i < a.head_size; ++i) oh[i] += att[p] * cache_at(a.value_cache, a.kv_type, base + i);
      }
    }
  }
}

void swiglu(const void* args, int64_t begin, int64_t end) {
  const SwiGLUArgs& a = *static_cast<const SwiGLUArgs*>(args);
  for (int64_t i = begin; i < end; ++i) {
    float g = a.gate[i];
    a.gate[i] = g / (1.0f + std::exp(-g)) * a.up[i];
  }
}

void add(const void* args, int64_t begin, int64_t end) {
  const AddArgs& a = *static_cast<const AddArgs*>(args);
  for (int64_t i = begin; i < end; ++i) a.x[i] += a.y[i];
}

}  // namespace bf::ref

namespace bf {

namespace {
Variant reference_variant(std::string name, OpKind op, KernelFn fn) {
  Variant v;
  v.name = std::move(name);
  v.op = op;
  v.fn = fn;
  v.reference = true;
  return v;
}

Variant matmul_variant(std::string name, DType type, KernelFn fn, MatmulInput input) {
  Variant v = reference_variant(std::move(name), OpKind::Matmul, fn);
  v.type = type;
  v.input = input;
  v.reference = input == MatmulInput::F32;
  v.rank = input == MatmulInput::Q8 ? 1 : 0;  // integer sums beat widening every weight to float
  return v;
}

bool group_of_blocks(const TensorView& w) { return w.group > 0 && w.group % kQBlock == 0 && w.cols % kQBlock == 0; }
}  // namespace

void add_reference_variants(KernelRegistry& r) {
  r.add(reference_variant("embed.any.ref", OpKind::Embed, ref::embed));
  r.add(reference_variant("rmsnorm.f32.ref", OpKind::RmsNorm, ref::rmsnorm));
  r.add(reference_variant("quantize.q8.ref", OpKind::Quantize, ref::quantize));
  r.add(reference_variant("rope.f32.ref", OpKind::Rope, ref::rope));
  r.add(reference_variant("kvstore.any.ref", OpKind::KvStore, ref::kv_store));
  r.add(reference_variant("attention.any.ref", OpKind::Attention, ref::attention));
  r.add(reference_variant("swiglu.f32.ref", OpKind::SwiGLU, ref::swiglu));
  r.add(reference_variant("add.f32.ref", OpKind::Add, ref::add));
  r.add(matmul_variant("matmul.f32.ref", DType::F32, ref::matmul_f32, MatmulInput::F32));
  r.add(matmul_variant("matmul.f16.ref", DType::F16, ref::matmul_f16, MatmulInput::F32));
  r.add(matmul_variant("matmul.q8_0.ref", DType::Q8_0, ref::matmul_q8_0, MatmulInput::F32));
  r.add(matmul_variant("matmul.q4_0.ref", DType::Q4_0, ref::matmul_q4_0, MatmulInput::F32));
  r.add(matmul_variant("matmul.i8g.ref", DType::I8G, ref::matmul_i8g, MatmulInput::F32));
  r.add(matmul_variant("matmul.bf16.ref", DType::BF16, ref::matmul_bf16, MatmulInput::F32));
  r.add(matmul_variant("matmul.q4_1.ref", DType::Q4_1, ref::matmul_q4_1, MatmulInput::F32));
  r.add(matmul_variant("matmul.q5_0.ref", DType::Q5_0, ref::matmul_q5_0, MatmulInput::F32));
  r.add(matmul_variant("matmul.q5_1.ref", DType::Q5_1, ref::matmul_q5_1, MatmulInput::F32));
  r.add(matmul_variant("matmul.q4_k.ref", DType::Q4_K, ref::matmul_q4_k, MatmulInput::F32));
  r.add(matmul_variant("matmul.q5_k.ref", DType::Q5_K, ref::matmul_q5_k, MatmulInput::F32));
  r.add(matmul_variant("matmul.q6_k.ref", DType::Q6_K, ref::matmul_q6_k, MatmulInput::F32));
  r.add(matmul_variant("matmul.q8_0.ref-q8", DType::Q8_0, ref::matmul_q8_0_q8, MatmulInput::Q8));
  r.add(matmul_variant("matmul.q4_1.ref-q8", DType::Q4_1, ref::matmul_q4_1_q8, MatmulInput::Q8));
  r.add(matmul_variant("matmul.q5_0.ref-q8", DType::Q5_0, ref::matmul_q5_0_q8, MatmulInput::Q8));
  r.add(matmul_variant("matmul.q5_1.ref-q8", DType::Q5_1, ref::matmul_q5_1_q8, MatmulInput::Q8));
  r.add(matmul_variant("matmul.q4_k.ref-q8", DType::Q4_K, ref::matmul_q4_k_q8, MatmulInput::Q8));
  r.add(matmul_variant("matmul.q5_k.ref-q8", DType::Q5_K, ref::matmul_q5_k_q8, MatmulInput::Q8));
  r.add(matmul_variant("matmul.q6_k.ref-q8", DType::Q6_K, ref::matmul_q6_k_q8, MatmulInput::Q8));
  r.add(matmul_variant("matmul.q4_0.ref-q8", DType::Q4_0, ref::matmul_q4_0_q8, MatmulInput::Q8));
  Variant i8g = matmul_variant("matmul.i8g.ref-q8", DType::I8G, ref::matmul_i8g_q8, MatmulInput::Q8);
  i8g.accepts = group_of_blocks;
  r.add(std::move(i8g));
}

}  // namespace bf
