// ggml tensor types as GGUF files name them: the one table the GGUF loader and the
// mkmodel writer share. Header-only, so every tool that reads or writes GGUF has it
// without linking the loader.
#pragma once
#include <cstdint>
#include <string_view>

#include "kernels/dtype.h"

namespace bf {

struct GgmlTypeInfo {
  uint32_t id = 0;  // a tensor info's type field
  std::string_view name;
  // The rest is set only for the types BareFlow reads and writes.
  bool supported = false;
  DType dtype = DType::F32;
  uint32_t block_elems = 0, block_bytes = 0;  // a row is a whole number of blocks
  uint32_t file_type = 0;                     // llama.cpp's general.file_type for "mostly this type"
};

// Every id ggml has assigned (4 and 5 are retired), so an unsupported file is named exactly.
inline constexpr GgmlTypeInfo kGgmlTypes[] = {
    {0, "F32", true, DType::F32, 1, 4, 0},
    {1, "F16", true, DType::F16, 1, 2, 1},
    {2, "Q4_0", true, DType::Q4_0, kQBlock, sizeof(BlockQ4_0), 2},
    {3, "Q4_1", true, DType::Q4_1, kQBlock, sizeof(BlockQ4_1), 3},
    {4, "Q4_2"}, {5, "Q4_3"},
    {6, "Q5_0", true, DType::Q5_0, kQBlock, sizeof(BlockQ5_0), 8},
    {7, "Q5_1", true, DType::Q5_1, kQBlock, sizeof(BlockQ5_1), 9},
    {8, "Q8_0", true, DType::Q8_0, kQBlock, sizeof(BlockQ8_0), 7},
    {9, "Q8_1"}, {10, "Q2_K"}, {11, "Q3_K"},
    // K types: file_type is the "_M" recipe's (Q4_K_M 15, Q5_K_M 17), Q6_K has one (18).
    {12, "Q4_K", true, DType::Q4_K, kQK, sizeof(BlockQ4_K), 15},
    {13, "Q5_K", true, DType::Q5_K, kQK, sizeof(BlockQ5_K), 17},
    {14, "Q6_K", true, DType::Q6_K, kQK, sizeof(BlockQ6_K), 18},
    {15, "Q8_K"},
    {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"}, {20, "IQ4_NL"}, {21, "IQ3_S"},
    {22, "IQ2_S"}, {23, "IQ4_XS"}, {24, "I8"}, {25, "I16"}, {26, "I32"}, {27, "I64"}, {28, "F64"},
    {29, "IQ1_M"}, {30, "BF16", true, DType::BF16, 1, 2, 32},
};

// The entry for ggml type `id`, or nullptr for an id ggml never assigned.
constexpr const GgmlTypeInfo* ggml_type(uint32_t id) {
  for (const GgmlTypeInfo& t : kGgmlTypes)
    if (t.id == id) return &t;
  return nullptr;
}

// The supported entry holding `dtype`, or nullptr when GGUF cannot store it (I8G).
constexpr const GgmlTypeInfo* ggml_type_of(DType dtype) {
  for (const GgmlTypeInfo& t : kGgmlTypes)
    if (t.supported && t.dtype == dtype) return &t;
  return nullptr;
}

constexpr std::string_view ggml_type_name(uint32_t id) {
  const GgmlTypeInfo* t = ggml_type(id);
  return t ? t->name : "unknown";
}

}  // namespace bf
