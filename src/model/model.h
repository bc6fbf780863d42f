// The model as data: shapes, then weights as views into the mapped file.
//
// Loaders (GGUF v2/v3, llama2.c v0/v1/v2) validate every count, size and offset
// against the file before building a Model, so everything here is in bounds.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/tensor_view.h"
#include "tokenizer/vocab.h"
#include "util/mapped_file.h"

namespace bf {

struct ModelConfig {
  int dim = 0;         // residual stream width
  int hidden_dim = 0;  // FFN inner width
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;  // <= n_heads, divides it (grouped-query attention)
  int vocab_size = 0;
  int seq_len = 0;     // context length
  float norm_eps = 1e-5f;
  float rope_base = 10000.0f;
  int rope_dim = 0;    // rotated dimensions per head (== head_size unless partial rotary)

  int head_size() const { return dim / n_heads; }
  int kv_dim() const { return head_size() * n_kv_heads; }
};

// A weight tensor of the model: the kernels' view of it plus its name in the file.
struct Tensor : TensorView {
  std::string name;
};

struct LayerWeights {
  Tensor attn_norm;       // dim
  Tensor wq, wk, wv, wo;  // dim->dim, dim->kv_dim, dim->kv_dim, dim->dim
  Tensor ffn_norm;        // dim
  Tensor w1, w2, w3;      // gate dim->hidden, down hidden->dim, up dim->hidden
};

enum class ModelFormat { Llama2cV0, Llama2cV1, Llama2cV2, GgufV2, GgufV3 };

struct Model {
  std::string path;
  ModelFormat format = ModelFormat::Llama2cV0;
  ModelConfig config;

  Tensor token_embedding;  // vocab x dim
  std::vector<LayerWeights> layers;
  Tensor final_norm;       // dim
  Tensor classifier;       // vocab x dim; same data as token_embedding when tied
  bool tied_classifier = false;

  std::optional<Vocab> vocab;  // GGUF models carry their vocabulary
  int bos_id = 1;
  int eos_id = 2;
  // llama2.c models end a sequence with BOS (as run.c does); GGUF models with EOS.
  bool stop_at_bos = false;

  // Stable hash of the config, the whole file header (GGUF metadata and tensor infos), the
  // tensor table (names, types, shapes, offsets) and sampled weight bytes: the snapshot's
  // model key (snapshot/snapshot.h).
  uint64_t fingerprint = 0;
  std::string architecture = "llama";
  std::string name;          // general.name or the file's base name

  MappedFile file;
  std::vector<std::vector<float>> owned;  // converted small tensors (F16 norms, v0 layout)

  std::string format_name() const;
  size_t weight_bytes() const;             // bytes of all tensors
  size_t bytes_read_per_token() const;     // weights streamed by one forward pass
};

// Loads GGUF or llama2.c by content (magic), not by extension. Throws InputError.
std::unique_ptr<Model> load_model(const std::string& path);

std::unique_ptr<Model> load_gguf_model(MappedFile file);
std::unique_ptr<Model> load_llama2c_model(MappedFile file);

}  // namespace bf
