#include "kernels/dtype.h"

namespace bf {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::Q8_0: return "Q8_0";
    case DType::Q4_0: return "Q4_0";
    case DType::I8G: return "I8G";
  }
  return "?";
}

size_t row_bytes(DType t, int64_t cols) {
  if (cols <= 0) return 0;
  auto n = static_cast<size_t>(cols);
  switch (t) {
    case DType::F32: return n * 4;
    case DType::F16: return n * 2;
    case DType::Q8_0: return n % kQBlock ? 0 : n / kQBlock * sizeof(BlockQ8_0);
    case DType::Q4_0: return n % kQBlock ? 0 : n / kQBlock * sizeof(BlockQ4_0);
    case DType::I8G: return n;
  }
  return 0;
}

}  // namespace bf
