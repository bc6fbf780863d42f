// AVX2+FMA matvec: the same dot products as the reference, eight lanes at a time.
// Compiled per function for AVX2 (the rest of the binary stays baseline x86-64) and
// chosen at run time only where the CPU and the OS (XCR0) support it.
#pragma once
#include <cstdint>

#include "model/model.h"

namespace bf::avx2 {

// True when AVX2 and FMA are usable here; F16 rows additionally need F16C.
bool supported();

// out[r] = dot(w row r, x) for r in [row_begin, row_end), like ref::matvec; the sums are
// reassociated, so results differ from the reference by rounding only.
void matvec(const Tensor& w, const float* x, float* out, int64_t row_begin, int64_t row_end);

}  // namespace bf::avx2
