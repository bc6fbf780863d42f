// One dot product per weight type: what a matvec implementation supplies. The row loop
// that walks a tensor and picks the right one is shared by every implementation.
#pragma once
#include <cstdint>

#include "model/model.h"

namespace bf {

struct RowDots {
  float (*f32)(const float* w, const float* x, int64_t n);
  float (*f16)(const uint16_t* w, const float* x, int64_t n);
  float (*q8_0)(const BlockQ8_0* w, const float* x, int64_t n);
  float (*q4_0)(const BlockQ4_0* w, const float* x, int64_t n);
  float (*i8g)(const int8_t* w, const float* scales, int group, const float* x, int64_t n);
};

// out[r] = dot(w row r, x) for r in [row_begin, row_end), with the dot for w's type.
void matvec_rows(const RowDots& dots, const Tensor& w, const float* x, float* out, int64_t row_begin,
                 int64_t row_end);

}  // namespace bf
