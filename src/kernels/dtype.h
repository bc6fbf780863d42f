// Weight element types and their storage layouts.
//
// Q8_0 and Q4_0 are ggml's block formats (32 elements per block, one f16 scale).
// I8G is llama2.c's version-2 export: int8 values with one f32 scale per group of
// `group` consecutive elements; the values and the scales live in separate arrays.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bf {

enum class DType : uint8_t { F32, F16, Q8_0, Q4_0, I8G };

inline constexpr int kQBlock = 32;  // elements per Q8_0 / Q4_0 block

struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t qs[kQBlock];
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ4_0 {
  uint16_t d;            // f16 scale
  uint8_t qs[kQBlock / 2];  // element j in the low nibble of qs[j], element j+16 in the high nibble; value = (nibble - 8) * d
};
static_assert(sizeof(BlockQ4_0) == 18);

std::string_view dtype_name(DType t);

// Bytes of one row of `cols` elements, or 0 when `cols` is not a legal row length for
// the type (Q8_0/Q4_0 need a multiple of 32). I8G counts only the int8 values.
size_t row_bytes(DType t, int64_t cols);

}  // namespace bf
