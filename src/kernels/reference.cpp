#include "kernels/reference.h"

#include <cmath>
#include <cstring>

#include "kernels/quantize.h"
#include "kernels/row_dots.h"
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

}  // namespace

void matvec(const Tensor& w, const float* x, float* out, int64_t row_begin, int64_t row_end) {
  static constexpr RowDots dots{dot_f32, dot_f16, dot_q8_0, dot_q4_0, dot_i8g};
  matvec_rows(dots, w, x, out, row_begin, row_end);
}

void embed(const Tensor& w, int64_t row, float* out) {
  const uint8_t* p = w.data + row_bytes(w.type, w.cols) * static_cast<size_t>(row);
  const float* scales = w.type == DType::I8G ? w.scales + row * w.cols / w.group : nullptr;
  dequantize_row(w.type, p, scales, out, w.cols, w.group);
}

void rmsnorm(const float* x, const float* weight, float* out, int n, float eps) {
  float ss = 0;
  for (int i = 0; i < n; ++i) ss += x[i] * x[i];
  float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int i = 0; i < n; ++i) out[i] = weight[i] * (scale * x[i]);
}

void rope(float* q, float* k, int pos, int n_heads, int n_kv_heads, int head_size, int rope_dim, float base) {
  for (int i = 0; i < rope_dim; i += 2) {
    float freq = 1.0f / std::pow(base, static_cast<float>(i) / static_cast<float>(rope_dim));
    float angle = static_cast<float>(pos) * freq;
    float c = std::cos(angle), s = std::sin(angle);
    auto rotate = [&](float* v, int heads) {
      for (int h = 0; h < heads; ++h) {
        float* p = v + h * head_size + i;
        float a = p[0], b = p[1];
        p[0] = a * c - b * s;
        p[1] = a * s + b * c;
      }
    };
    rotate(q, n_heads);
    rotate(k, n_kv_heads);
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

void attention(const AttentionShape& s, const float* q, const float* key_cache, const float* value_cache, int pos,
               float* scores, float* out, int head_begin, int head_end) {
  const int group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_size));
  for (int h = head_begin; h < head_end; ++h) {
    const float* qh = q + h * s.head_size;
    const int kv_offset = (h / group) * s.head_size;
    float* att = scores + static_cast<int64_t>(h) * (pos + 1);
    for (int t = 0; t <= pos; ++t)
      att[t] = dot_f32(qh, key_cache + static_cast<int64_t>(t) * s.kv_dim + kv_offset, s.head_size) * scale;
    softmax(att, pos + 1);
    float* oh = out + h * s.head_size;
    std::memset(oh, 0, sizeof(float) * s.head_size);
    for (int t = 0; t <= pos; ++t) {
      const float* v = value_cache + static_cast<int64_t>(t) * s.kv_dim + kv_offset;
      for (int i = 0; i < s.head_size; ++i) oh[i] += att[t] * v[i];
    }
  }
}

void swiglu(float* gate, const float* up, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void add(float* x, const float* y, int n) {
  for (int i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace bf::ref

namespace bf {

void matvec_rows(const RowDots& dots, const Tensor& w, const float* x, float* out, int64_t row_begin,
                 int64_t row_end) {
  const size_t stride = row_bytes(w.type, w.cols);
  const int64_t n = w.cols;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w.data + stride * static_cast<size_t>(r);
    switch (w.type) {
      case DType::F32: out[r] = dots.f32(reinterpret_cast<const float*>(row), x, n); break;
      case DType::F16: out[r] = dots.f16(reinterpret_cast<const uint16_t*>(row), x, n); break;
      case DType::Q8_0: out[r] = dots.q8_0(reinterpret_cast<const BlockQ8_0*>(row), x, n); break;
      case DType::Q4_0: out[r] = dots.q4_0(reinterpret_cast<const BlockQ4_0*>(row), x, n); break;
      case DType::I8G:
        out[r] = dots.i8g(reinterpret_cast<const int8_t*>(row), w.scales + r * n / w.group, w.group, x, n);
        break;
    }
  }
}

}  // namespace bf
