#include <algorithm>
#include <cstring>
#include <set>

#include "model/gguf.h"
#include "model/model.h"
#include "model/model_builder.h"
#include "util/error.h"
#include "util/hash.h"

namespace bf {
namespace {
template <typename F>
void for_each_tensor(const Model& m, F&& f) {
  f(m.token_embedding);
  for (auto& l : m.layers)
    for (const Tensor* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.w1, &l.w2, &l.w3}) f(*t);
  f(m.final_norm);
  if (!m.tied_classifier) f(m.classifier);
}
}  // namespace

namespace model_detail {

uint64_t mul_checked(uint64_t a, uint64_t b, const std::string& file, const char* what) {
  if (b != 0 && a > UINT64_MAX / b) throw InputError(file, std::string(what) + " overflows");
  return a * b;
}

uint64_t add_checked(uint64_t a, uint64_t b, const std::string& file, const char* what) {
  if (a > UINT64_MAX - b) throw InputError(file, std::string(what) + " overflows");
  return a + b;
}

void validate_config(const ModelConfig& c, const std::string& file) {
  auto check = [&](bool ok, const std::string& problem) {
    if (!ok) throw InputError(file, problem);
  };
  // Limits far above any real Llama, low enough that products stay in 64 bits.
  check(c.dim > 0 && c.dim <= (1 << 16), "embedding dimension " + std::to_string(c.dim) + " out of range");
  check(c.hidden_dim > 0 && c.hidden_dim <= (1 << 18), "feed-forward dimension " + std::to_string(c.hidden_dim) + " out of range");
  check(c.n_layers > 0 && c.n_layers <= 1024, "layer count " + std::to_string(c.n_layers) + " out of range");
  check(c.n_heads > 0 && c.n_heads <= 1024, "head count " + std::to_string(c.n_heads) + " out of range");
  check(c.n_kv_heads > 0 && c.n_kv_heads <= c.n_heads, "kv head count " + std::to_string(c.n_kv_heads) + " out of range");
  check(c.vocab_size > 0 && c.vocab_size <= (1 << 22), "vocabulary size " + std::to_string(c.vocab_size) + " out of range");
  check(c.seq_len > 0 && c.seq_len <= (1 << 24), "context length " + std::to_string(c.seq_len) + " out of range");
  check(c.dim % c.n_heads == 0, "embedding dimension " + std::to_string(c.dim) + " is not a multiple of the head count");
  check(c.n_heads % c.n_kv_heads == 0, "head count is not a multiple of the kv head count");
  check(c.head_size() % 2 == 0, "head size " + std::to_string(c.head_size()) + " is odd");
  check(c.rope_dim > 0 && c.rope_dim <= c.head_size() && c.rope_dim % 2 == 0,
        "rope dimension count " + std::to_string(c.rope_dim) + " out of range");
  check(c.norm_eps > 0 && c.norm_eps < 1, "norm epsilon out of range");
  check(c.rope_base > 1 && c.rope_base < 1e12, "rope frequency base out of range");
}

Tensor make_tensor(std::string name, DType type, int64_t rows, int64_t cols, const uint8_t* data) {
  Tensor t;
  t.name = std::move(name);
  t.type = type;
  t.rows = rows;
  t.cols = cols;
  t.data = data;
  t.bytes = row_bytes(type, cols) * static_cast<size_t>(rows);
  return t;
}

void compute_fingerprint(Model& m, size_t header_bytes) {
  const ModelConfig& c = m.config;
  int32_t shape[] = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len, c.rope_dim};
  uint64_t h = fnv1a(shape, sizeof shape);
  h = fnv1a(&c.norm_eps, sizeof c.norm_eps, h);
  h = fnv1a(&c.rope_base, sizeof c.rope_base, h);
  uint64_t size = m.file.size();
  h = fnv1a(&size, sizeof size, h);
  // The whole header: a metadata value or a tensor's type can change where no sample falls.
  h = fnv1a(m.file.data(), std::min<size_t>(header_bytes, size), h);
  for_each_tensor(m, [&](const Tensor& t) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(m.file.data()), at = reinterpret_cast<uintptr_t>(t.data);
    // Tensors converted at load (owned buffers) have no offset in the file.
    const int64_t table[] = {static_cast<int64_t>(t.type), t.rows, t.cols,
                             at >= base && at < base + size ? static_cast<int64_t>(at - base) : -1};
    h = fnv1a(t.name, h);
    h = fnv1a(table, sizeof table, h);
  });
  // Sampling keeps load time flat for multi-GB files while any real difference
  // between two models (header, shapes, weights) still changes the hash.
  const size_t chunk = 64, samples = 1024;
  if (size <= chunk * samples) {
    h = fnv1a(m.file.data(), size, h);
  } else {
    for (size_t i = 0; i < samples; ++i) {
      size_t off = static_cast<size_t>((size - chunk) * i / (samples - 1));
      h = fnv1a(m.file.data() + off, chunk, h);
    }
  }
  m.fingerprint = h;
}

}  // namespace model_detail

std::string Model::format_name() const {
  switch (format) {
    case ModelFormat::Llama2cV0: return "llama2.c v0 (legacy fp32)";
    case ModelFormat::Llama2cV1: return "llama2.c v1 (fp32)";
    case ModelFormat::Llama2cV2: return "llama2.c v2 (int8, group " + std::to_string(token_embedding.group) + ")";
    case ModelFormat::GgufV2: return "GGUF v2";
    case ModelFormat::GgufV3: return "GGUF v3";
  }
  return "?";
}

size_t Model::weight_bytes() const {
  size_t total = 0;
  for_each_tensor(*this, [&](const Tensor& t) { total += t.bytes; });
  return total;
}

size_t Model::bytes_read_per_token() const {
  // Every matrix is streamed once per token except the embedding table, of which one row is read.
  size_t total = weight_bytes() - token_embedding.bytes;
  total += token_embedding.bytes / static_cast<size_t>(std::max<int64_t>(token_embedding.rows, 1));
  if (tied_classifier) total += classifier.bytes;
  return total;
}

std::unique_ptr<Model> load_model(const std::string& path) {
  MappedFile file(path);
  if (file.size() < 4) throw InputError(path, "file too small to be a model (" + std::to_string(file.size()) + " bytes)");
  if (is_gguf(file.data(), file.size())) return load_gguf_model(std::move(file));
  return load_llama2c_model(std::move(file));
}

}  // namespace bf
