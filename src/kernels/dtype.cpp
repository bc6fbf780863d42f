#include "kernels/dtype.h"

namespace bf {

namespace {
struct TypeFacts {
  std::string_view name, key;
  int block_elems;
  size_t block_bytes;
};

TypeFacts facts(DType t) {
  switch (t) {
    case DType::F32: return {"F32", "f32", 1, 4};
    case DType::F16: return {"F16", "f16", 1, 2};
    case DType::BF16: return {"BF16", "bf16", 1, 2};
    case DType::I8G: return {"I8G", "i8g", 1, 1};
    case DType::Q8_0: return {"Q8_0", "q8_0", kQBlock, sizeof(BlockQ8_0)};
    case DType::Q4_0: return {"Q4_0", "q4_0", kQBlock, sizeof(BlockQ4_0)};
    case DType::Q4_1: return {"Q4_1", "q4_1", kQBlock, sizeof(BlockQ4_1)};
    case DType::Q5_0: return {"Q5_0", "q5_0", kQBlock, sizeof(BlockQ5_0)};
    case DType::Q5_1: return {"Q5_1", "q5_1", kQBlock, sizeof(BlockQ5_1)};
    case DType::Q4_K: return {"Q4_K", "q4_k", kQK, sizeof(BlockQ4_K)};
    case DType::Q5_K: return {"Q5_K", "q5_k", kQK, sizeof(BlockQ5_K)};
    case DType::Q6_K: return {"Q6_K", "q6_k", kQK, sizeof(BlockQ6_K)};
  }
  return {"?", "?", 0, 0};
}
}  // namespace

std::string_view dtype_name(DType t) { return facts(t).name; }
std::string_view dtype_key(DType t) { return facts(t).key; }
int block_elems(DType t) { return facts(t).block_elems; }
size_t block_bytes(DType t) { return facts(t).block_bytes; }

size_t row_bytes(DType t, int64_t cols) {
  const TypeFacts f = facts(t);
  if (cols <= 0 || f.block_elems == 0 || cols % f.block_elems != 0) return 0;
  return static_cast<size_t>(cols / f.block_elems) * f.block_bytes;
}

}  // namespace bf
