// mkmodel: deterministic random-weight Llama models in every file format BareFlow reads.
//
// Benchmarks need models of real shapes (stories15M ... TinyLlama 1.1B) that cannot be
// shipped, and tests need the same model in several formats. Every float weight is a pure
// function of (seed, llama.cpp tensor name, element index), so the GGUF F32 file and the
// llama2.c v0/v1 files of one seed hold identical weights, and the F16/Q8_0/Q4_0/int8
// files are exactly those weights quantized. Writers stream row by row, so a 4.4 GB
// TinyLlama F32 file needs only a few MB of memory. GGUF files can also follow
// llama-quantize's recipes (Q4_K_M, ...), which give some tensors more bits than others.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/dtype.h"
#include "tokenizer/vocab.h"

namespace bf {

// How the weight matrices' types are chosen (norms are always F32).
enum class TypeMix : uint8_t {
  Pure,           // every matrix is MkModelSpec::type
  LlamaQuantize,  // llama-quantize's per-tensor choice for the recipe whose main type is MkModelSpec::type
};

struct MkModelSpec {
  int dim = 0;
  int hidden_dim = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int vocab_size = 0;
  int seq_len = 0;
  DType type = DType::F32;       // of the 2-D tensors; norms are always F32
  TypeMix mix = TypeMix::Pure;
  bool tied_classifier = true;   // classifier shares the token embedding (llama2.c default)
  uint64_t seed = 1;
  float rope_base = 10000.0f;
  float norm_eps = 1e-5f;
  std::string name;              // general.name

  int head_size() const { return dim / n_heads; }
  int kv_dim() const { return head_size() * n_kv_heads; }
};

// A `--type` name: llama-quantize's recipe (lower case) and what it means here.
struct MkRecipe {
  std::string_view name;  // "q4_k_m"
  DType type;             // main type; general.file_type is its ggml_types.h file_type
  TypeMix mix;
};

// Every recipe mkmodel writes, GGUF ones first and llama2.c's int8 last.
std::span<const MkRecipe> mkmodel_recipes();
const MkRecipe* find_mkmodel_recipe(std::string_view name);

// Shapes of known models: stories15M, stories42M, stories110M, tinyllama, stories260K.
std::optional<MkModelSpec> mkmodel_preset(std::string_view name);
std::vector<std::string_view> mkmodel_preset_names();

// Throws InputError("mkmodel", problem) for a shape no loader would accept.
void validate_spec(const MkModelSpec& spec);

// Number of weights (the classifier counted once when tied).
int64_t mkmodel_param_count(const MkModelSpec& spec);

// One weight matrix or norm vector, named as llama.cpp names it. Vectors have rows == 1.
struct MkTensor {
  std::string name;
  int64_t rows = 0;
  int64_t cols = 0;  // row length, GGUF ne0
  bool is_norm = false;
  int layer = -1;    // blk.<layer>., or -1 outside the blocks
};

// All tensors of the model in GGUF order: token_embd, blk.0.* ... blk.L-1.*,
// output_norm, then output unless the classifier is tied.
std::vector<MkTensor> mkmodel_tensors(const MkModelSpec& spec);

// Row `row` of tensor `t` as f32: norms are 1 + U(-0.05, 0.05) so activations stay
// normalised; matrices (embedding included) are U(-a, a) with a = 1/sqrt(cols), which
// keeps every matvec output at about the scale of its input.
void mkmodel_fill_row(uint64_t seed, const MkTensor& t, int64_t row, float* out);

// A vocabulary of n tokens that always decodes: <unk>, <s>, </s>, the 256 byte tokens
// <0x00>..<0xFF> when n leaves room for them, then short letter pieces with and without
// the SentencePiece word marker, best-scored first.
Vocab synthetic_vocab(int n);

// The type tensor `t` of `spec` is stored as in GGUF. Norms are F32. Pure: spec.type, or
// F16 when a row is not whole blocks of it. LlamaQuantize, as llama-quantize decides
// (llama_tensor_get_type, for a dense llama without an importance matrix):
//   F32, F16, BF16: every matrix of that type.
//   classifier (output.weight, or token_embd.weight when tied): Q6_K, except Q8_0 for Q8_0.
//   Q4_K_M, Q5_K_M: attn_v and ffn_down of the layers where use_more_bits(layer,
//     n_layers) (the first n/8, from 7n/8 on, and every third between) are Q6_K.
//   everything else, token_embd included: the main type.
// Then a type the row length cannot hold falls back: Q4_K to Q5_0, Q5_K to Q5_1,
// Q6_K to Q8_0, and anything that still does not fit (rows not whole 32-blocks, where
// llama-quantize would refuse) to F16.
DType mkmodel_tensor_type(const MkModelSpec& spec, const MkTensor& t);

// GGUF v3, each tensor of mkmodel_tensor_type. With vocab == nullptr a
// synthetic_vocab(spec.vocab_size) is embedded. Throws InputError.
void write_gguf_model(const std::string& path, const MkModelSpec& spec, const Vocab* vocab);

// llama2.c checkpoint, version 0 (legacy fp32), 1 (fp32) or 2 (int8 groups; spec.type
// is ignored). A llama-quantize mix has no llama2.c form: InputError, as for any other problem.
void write_llama2c_model(const std::string& path, const MkModelSpec& spec, int version);

// Group size of a version-2 file: the largest of 64, 32, 16, ... dividing dim and hidden_dim.
int llama2c_group_size(const MkModelSpec& spec);

}  // namespace bf
