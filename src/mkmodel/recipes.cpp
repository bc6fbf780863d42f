// Which type each tensor is stored as: one type throughout, or llama-quantize's recipes.
// The rules are the facts of llama.cpp's llama_tensor_get_type for a dense llama
// (no experts, no importance matrix, not a 70B model); see mkmodel_tensor_type.
#include <string_view>

#include "mkmodel/mkmodel.h"

namespace bf {

namespace {

// q4_0 and q8_0 stay every-matrix files as mkmodel always wrote them (the benchmarks'
// models); f32, f16 and bf16 are that anyway under llama-quantize.
constexpr MkRecipe kRecipes[] = {
    {"f32", DType::F32, TypeMix::Pure},
    {"f16", DType::F16, TypeMix::Pure},
    {"bf16", DType::BF16, TypeMix::LlamaQuantize},
    {"q8_0", DType::Q8_0, TypeMix::Pure},
    {"q4_0", DType::Q4_0, TypeMix::Pure},
    {"q4_1", DType::Q4_1, TypeMix::LlamaQuantize},
    {"q5_0", DType::Q5_0, TypeMix::LlamaQuantize},
    {"q5_1", DType::Q5_1, TypeMix::LlamaQuantize},
    {"q4_k_m", DType::Q4_K, TypeMix::LlamaQuantize},
    {"q5_k_m", DType::Q5_K, TypeMix::LlamaQuantize},
    {"q6_k", DType::Q6_K, TypeMix::LlamaQuantize},
    {"int8", DType::I8G, TypeMix::Pure},
};

// ggml_is_quantized: only block types get a mix; float recipes store every matrix as is.
bool is_block_type(DType t) { return block_elems(t) > 1; }

bool has_suffix(const MkTensor& t, std::string_view suffix) { return std::string_view(t.name).ends_with(suffix); }

// llama.cpp's layers that get more bits in the _M recipes: the first eighth, the last
// eighth (from 7n/8 on) and every third layer in between.
bool use_more_bits(int layer, int n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// llama-quantize's choice before it looks at the row length.
DType preferred_type(const MkModelSpec& s, const MkTensor& t) {
  const DType main = s.type;
  if (!is_block_type(main)) return main;
  // A tied embedding is the classifier too, and is quantized as the classifier.
  const bool classifier = t.name == "output.weight" || (s.tied_classifier && t.name == "token_embd.weight");
  if (classifier) return main == DType::Q8_0 ? DType::Q8_0 : DType::Q6_K;
  const bool k_m = main == DType::Q4_K || main == DType::Q5_K;
  if (k_m && (has_suffix(t, ".attn_v.weight") || has_suffix(t, ".ffn_down.weight")) && use_more_bits(t.layer, s.n_layers))
    return DType::Q6_K;
  return main;
}

// The next type llama-quantize tries when a K type's super-block does not divide the row.
DType k_fallback(DType t) {
  switch (t) {
    case DType::Q4_K: return DType::Q5_0;
    case DType::Q5_K: return DType::Q5_1;
    case DType::Q6_K: return DType::Q8_0;
    default: return DType::F16;
  }
}

}  // namespace

std::span<const MkRecipe> mkmodel_recipes() { return kRecipes; }

const MkRecipe* find_mkmodel_recipe(std::string_view name) {
  for (const MkRecipe& r : kRecipes)
    if (r.name == name) return &r;
  return nullptr;
}

DType mkmodel_tensor_type(const MkModelSpec& spec, const MkTensor& t) {
  if (t.is_norm) return DType::F32;
  if (spec.mix == TypeMix::Pure) return row_bytes(spec.type, t.cols) ? spec.type : DType::F16;
  DType type = preferred_type(spec, t);
  if (row_bytes(type, t.cols) == 0) type = k_fallback(type);
  return row_bytes(type, t.cols) ? type : DType::F16;
}

}  // namespace bf
