// Random weight matrices in every storage type and random activations, for the
// kernel tests.
#pragma once
#include <cstring>
#include <random>
#include <vector>

#include "kernels/quantize.h"
#include "kernels/reference.h"
#include "kernels/tensor_view.h"

namespace bf::test {

// A weight matrix in one storage type, built from random floats in [-1, 1].
struct OwnedTensor {
  std::vector<uint8_t> data;
  std::vector<float> scales;
  TensorView t;
};

inline OwnedTensor random_weights(DType type, int64_t rows, int64_t cols, std::mt19937& rng, int group = 0) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  OwnedTensor o;
  o.data.resize(row_bytes(type, cols) * rows);
  if (type == DType::I8G) o.scales.resize(rows * cols / group);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& x : row) x = u(rng);
    uint8_t* dst = o.data.data() + row_bytes(type, cols) * r;
    if (type == DType::I8G)
      quantize_i8g(row.data(), reinterpret_cast<int8_t*>(dst), o.scales.data() + r * cols / group, cols, group);
    else
      quantize_row(type, row.data(), dst, cols);
  }
  o.t.type = type;
  o.t.rows = rows;
  o.t.cols = cols;
  o.t.data = o.data.data();
  o.t.scales = o.scales.empty() ? nullptr : o.scales.data();
  o.t.group = group;
  o.t.bytes = o.data.size() + o.scales.size() * sizeof(float);
  return o;
}

// Row r of w as floats.
inline std::vector<float> dequantized_row(const TensorView& w, int64_t r) {
  std::vector<float> out(w.cols);
  const float* scales = w.type == DType::I8G ? w.scales + r * w.cols / w.group : nullptr;
  dequantize_row(w.type, w.data + row_bytes(w.type, w.cols) * r, scales, out.data(), w.cols, w.group);
  return out;
}

// n_tokens activation rows, f32 and (when cols is a whole number of blocks) quantized
// by the reference quantizer.
struct Activations {
  int64_t cols = 0;
  int n_tokens = 0;
  std::vector<float> x;
  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> sum;
  Q8Rows q8() { return {qs.data(), d.data(), sum.data()}; }
  // Element i of token t as the 8-bit kernels see it.
  float dequantized(int t, int64_t i) const { return d[(t * cols + i) / kQBlock] * qs[t * cols + i]; }
};

inline Activations random_activations(int64_t cols, int n_tokens, std::mt19937& rng) {
  Activations a;
  a.cols = cols;
  a.n_tokens = n_tokens;
  a.x.resize(cols * n_tokens);
  for (auto& v : a.x) v = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
  if (cols % kQBlock == 0) {
    a.qs.resize(a.x.size());
    a.d.resize(a.x.size() / kQBlock);
    a.sum.resize(a.d.size());
    QuantizeArgs q{a.x.data(), a.q8(), cols, n_tokens};
    ref::quantize(&q, 0, n_tokens);
  }
  return a;
}

}  // namespace bf::test
