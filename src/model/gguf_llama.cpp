// Builds a llama Model from a validated GGUF container.
#include <cmath>
#include <cstring>
#include <optional>

#include "model/gguf.h"
#include "model/model.h"
#include "model/model_builder.h"
#include "model/vocab_loader.h"
#include "util/error.h"
#include "util/f16.h"

namespace bf {
namespace {

using model_detail::make_tensor;

class GgufLlamaBuilder {
 public:
  GgufLlamaBuilder(Model& m, const GgufFile& g) : m_(m), g_(g), file_(m.path) {}

  void build() {
    read_architecture();
    read_config();
    read_weights();
    read_vocab();
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const { throw InputError(file_, problem); }

  std::string key(const char* suffix) const { return arch_ + "." + suffix; }

  int64_t get_int(const std::string& k, std::optional<int64_t> fallback) const {
    const GgufValue* v = g_.find(k);
    if (!v) {
      if (fallback) return *fallback;
      fail("missing metadata key '" + k + "'");
    }
    if (!v->is_integer || v->type == GgufType::Bool) fail("metadata '" + k + "' is not an integer");
    if (v->integer < 0 || v->integer > INT32_MAX) fail("metadata '" + k + "' = " + std::to_string(v->integer) + " is out of range");
    return v->integer;
  }

  double get_float(const std::string& k, double fallback) const {
    const GgufValue* v = g_.find(k);
    if (!v) return fallback;
    if (v->type == GgufType::String || v->type == GgufType::Array || v->type == GgufType::Bool)
      fail("metadata '" + k + "' is not a number");
    if (!std::isfinite(v->number)) fail("metadata '" + k + "' is not finite");
    return v->number;
  }

  void read_architecture() {
    const GgufValue* a = g_.find("general.architecture");
    if (!a) fail("missing metadata key 'general.architecture'");
    if (a->type != GgufType::String) fail("general.architecture is not a string");
    if (a->str != "llama") fail("architecture '" + a->str + "' is not supported (only 'llama')");
    arch_ = a->str;
    if (const GgufValue* n = g_.find("general.name"); n && n->type == GgufType::String) m_.name = n->str;
  }

  void read_config() {
    ModelConfig& c = m_.config;
    c.dim = static_cast<int>(get_int(key("embedding_length"), std::nullopt));
    c.hidden_dim = static_cast<int>(get_int(key("feed_forward_length"), std::nullopt));
    c.n_layers = static_cast<int>(get_int(key("block_count"), std::nullopt));
    c.n_heads = static_cast<int>(get_int(key("attention.head_count"), std::nullopt));
    c.n_kv_heads = static_cast<int>(get_int(key("attention.head_count_kv"), c.n_heads));
    c.seq_len = static_cast<int>(get_int(key("context_length"), std::nullopt));
    c.norm_eps = static_cast<float>(get_float(key("attention.layer_norm_rms_epsilon"), 1e-5));
    c.rope_base = static_cast<float>(get_float(key("rope.freq_base"), 10000.0));
    int head_size = c.n_heads > 0 ? c.dim / c.n_heads : 0;
    c.rope_dim = static_cast<int>(get_int(key("rope.dimension_count"), head_size));
    const GgufTensorInfo* embd = g_.tensor("token_embd.weight");
    if (!embd) fail("missing tensor 'token_embd.weight'");
    if (embd->dims.size() != 2) fail("tensor 'token_embd.weight' is not 2-dimensional");
    c.vocab_size = embd->dims[1] > INT32_MAX ? INT32_MAX : static_cast<int>(embd->dims[1]);
    model_detail::validate_config(c, file_);
  }

  // parse_gguf has accepted only supported types.
  static DType dtype_of(uint32_t ggml) { return ggml_type(ggml)->dtype; }

  static std::string shape_string(const std::vector<uint64_t>& dims) {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
  }

  const GgufTensorInfo& require(const std::string& name, std::vector<uint64_t> dims) const {
    const GgufTensorInfo* t = g_.tensor(name);
    if (!t) fail("missing tensor '" + name + "'");
    if (t->dims != dims) fail("tensor '" + name + "' has shape " + shape_string(t->dims) + ", expected " + shape_string(dims));
    return *t;
  }

  // rows x cols matrix; GGUF lists ne0 (cols) first.
  Tensor matrix(const std::string& name, int rows, int cols) const {
    const GgufTensorInfo& t = require(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)});
    return make_tensor(name, dtype_of(t.type), rows, cols, t.data);
  }

  // Norm weights are tiny and read on every token: keep them as F32 whatever float type the file has.
  Tensor vector(const std::string& name, int n) {
    const GgufTensorInfo& t = require(name, {static_cast<uint64_t>(n)});
    DType type = dtype_of(t.type);
    if (type == DType::F32) return make_tensor(name, DType::F32, 1, n, t.data);
    if (type != DType::F16 && type != DType::BF16)
      fail("tensor '" + name + "' is " + std::string(dtype_name(type)) + "; a norm must be F32, F16 or BF16");
    // parse_gguf checked the 2n bytes are in the file; they are read bytewise, aligned or not.
    const auto widen = type == DType::F16 ? f16_to_f32 : bf16_to_f32;
    std::vector<float> f(n);
    for (int i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      f[i] = widen(h);
    }
    m_.owned.push_back(std::move(f));
    return make_tensor(name, DType::F32, 1, n, reinterpret_cast<const uint8_t*>(m_.owned.back().data()));
  }

  void read_weights() {
    const ModelConfig& c = m_.config;
    m_.owned.reserve(2 * c.n_layers + 1);  // pointers into `owned` must stay valid
    m_.token_embedding = matrix("token_embd.weight", c.vocab_size, c.dim);
    for (int l = 0; l < c.n_layers; ++l) {
      std::string p = "blk." + std::to_string(l) + ".";
      LayerWeights w;
      w.attn_norm = vector(p + "attn_norm.weight", c.dim);
      w.wq = matrix(p + "attn_q.weight", c.dim, c.dim);
      w.wk = matrix(p + "attn_k.weight", c.kv_dim(), c.dim);
      w.wv = matrix(p + "attn_v.weight", c.kv_dim(), c.dim);
      w.wo = matrix(p + "attn_output.weight", c.dim, c.dim);
      w.ffn_norm = vector(p + "ffn_norm.weight", c.dim);
      w.w1 = matrix(p + "ffn_gate.weight", c.hidden_dim, c.dim);
      w.w2 = matrix(p + "ffn_down.weight", c.dim, c.hidden_dim);
      w.w3 = matrix(p + "ffn_up.weight", c.hidden_dim, c.dim);
      m_.layers.push_back(std::move(w));
    }
    m_.final_norm = vector("output_norm.weight", c.dim);
    m_.tied_classifier = g_.tensor("output.weight") == nullptr;
    m_.classifier = m_.tied_classifier ? m_.token_embedding : matrix("output.weight", c.vocab_size, c.dim);
  }

  void read_vocab() {
    const GgufValue* tokens = g_.find("tokenizer.ggml.tokens");
    if (!tokens) return;  // the user must pass a tokenizer file
    m_.vocab = vocab_from_gguf(g_, file_);
    if (static_cast<int>(m_.vocab->pieces.size()) != m_.config.vocab_size)
      fail("tokenizer has " + std::to_string(m_.vocab->pieces.size()) + " tokens but the embedding has " +
           std::to_string(m_.config.vocab_size) + " rows");
    m_.bos_id = m_.vocab->bos_id;
    m_.eos_id = m_.vocab->eos_id;
  }

  Model& m_;
  const GgufFile& g_;
  std::string file_;
  std::string arch_;
};

}  // namespace

std::unique_ptr<Model> load_gguf_model(MappedFile file) {
  auto m = std::make_unique<Model>();
  m->path = file.path();
  m->file = std::move(file);
  GgufFile g = parse_gguf(m->file.data(), m->file.size(), m->path);
  m->format = g.version == 2 ? ModelFormat::GgufV2 : ModelFormat::GgufV3;
  m->stop_at_bos = false;
  GgufLlamaBuilder(*m, g).build();
  model_detail::compute_fingerprint(*m, g.data_offset);
  return m;
}

}  // namespace bf
