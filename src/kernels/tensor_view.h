// The view of a weight tensor that kernels see: type, shape and where its bytes are.
// Kernels include this, never model/model.h, so kernels and the model stay acyclic.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/dtype.h"

namespace bf {

// A `rows` x `cols` matrix, row-major, rows contiguous (GGUF ne0 == cols).
// Vectors (norm weights) are 1 x n and always F32.
struct TensorView {
  DType type = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  const float* scales = nullptr;  // I8G only: rows * cols / group scales, row-major
  int group = 0;                  // I8G only
  size_t bytes = 0;               // storage read per full pass (values + scales)

  const float* f32() const { return reinterpret_cast<const float*>(data); }
};

}  // namespace bf
