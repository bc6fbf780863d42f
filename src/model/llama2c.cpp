// llama2.c checkpoints: the legacy v0 header (7 int32), v1 fp32 and v2 int8 ("ak42").
// Every array's extent is computed in 64 bits and checked against the file size
// before a single pointer into the file is formed.
#include <cstdint>
#include <cstring>
#include <vector>

#include "model/model.h"
#include "model/model_builder.h"
#include "util/error.h"

namespace bf {
namespace {

using model_detail::add_checked;
using model_detail::make_tensor;
using model_detail::mul_checked;

constexpr uint32_t kMagic = 0x616b3432;  // "ak42"
constexpr size_t kV0Header = 7 * 4;
constexpr size_t kV12Header = 256;

struct Header {
  int version = 0;
  int32_t params[7] = {};
  bool shared_classifier = true;
  int group = 0;
  size_t header_bytes = 0;
};

// Walks the file in order, handing out arrays and failing past the end.
class Cursor {
 public:
  Cursor(const MappedFile& f, size_t start) : f_(f), pos_(start) {}
  const uint8_t* take(uint64_t bytes, const std::string& what) {
    if (bytes > f_.size() - pos_)
      throw InputError(f_.path(), "truncated: " + what + " needs " + std::to_string(bytes) + " bytes at offset " +
                                      std::to_string(pos_) + ", file has " + std::to_string(f_.size()));
    const uint8_t* p = f_.data() + pos_;
    pos_ += bytes;
    return p;
  }
  size_t pos() const { return pos_; }

 private:
  const MappedFile& f_;
  size_t pos_;
};

Header read_header(const MappedFile& f) {
  Header h;
  uint32_t magic = 0;
  std::memcpy(&magic, f.data(), 4);
  if (magic == kMagic) {
    if (f.size() < kV12Header) throw InputError(f.path(), "truncated llama2.c header (" + std::to_string(f.size()) + " bytes)");
    std::memcpy(&h.version, f.data() + 4, 4);
    if (h.version != 1 && h.version != 2) throw InputError(f.path(), "unsupported llama2.c version " + std::to_string(h.version));
    std::memcpy(h.params, f.data() + 8, sizeof h.params);
    uint8_t shared = f.data()[36];
    if (shared > 1) throw InputError(f.path(), "shared_classifier flag is " + std::to_string(shared));
    h.shared_classifier = shared == 1;
    if (h.version == 2) std::memcpy(&h.group, f.data() + 37, 4);
    h.header_bytes = kV12Header;
  } else {
    if (f.size() < kV0Header) throw InputError(f.path(), "truncated llama2.c header (" + std::to_string(f.size()) + " bytes)");
    std::memcpy(h.params, f.data(), sizeof h.params);
    h.shared_classifier = h.params[5] > 0;
    if (h.params[5] == INT32_MIN) throw InputError(f.path(), "vocabulary size " + std::to_string(h.params[5]) + " out of range");
    if (h.params[5] < 0) h.params[5] = -h.params[5];  // negative vocab marks a separate classifier
    h.header_bytes = kV0Header;
  }
  return h;
}

ModelConfig config_of(const Header& h, const std::string& file) {
  ModelConfig c;
  c.dim = h.params[0];
  c.hidden_dim = h.params[1];
  c.n_layers = h.params[2];
  c.n_heads = h.params[3];
  c.n_kv_heads = h.params[4];
  c.vocab_size = h.params[5];
  c.seq_len = h.params[6];
  c.rope_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
  model_detail::validate_config(c, file);
  return c;
}

class Llama2cBuilder {
 public:
  Llama2cBuilder(Model& m, const Header& h) : m_(m), h_(h), c_(m.config), cur_(m.file, h.header_bytes) {}

  void build() {
    if (h_.version == 0)
      build_v0();
    else
      build_v1_v2();
    if (cur_.pos() != m_.file.size())
      throw InputError(m_.path, "file is " + std::to_string(m_.file.size()) + " bytes but the header implies " +
                                    std::to_string(cur_.pos()));
  }

 private:
  using Field = Tensor LayerWeights::*;

  // `count` consecutive F32 matrices of rows x cols, one per layer.
  void f32_per_layer(Field field, const char* name, int64_t rows, int64_t cols) {
    uint64_t each = mul_checked(mul_checked(rows, cols, m_.path, name), 4, m_.path, name);
    const uint8_t* p = cur_.take(mul_checked(each, c_.n_layers, m_.path, name), name);
    for (int l = 0; l < c_.n_layers; ++l)
      m_.layers[l].*field = make_tensor(layer_name(l, name), DType::F32, rows, cols, p + each * l);
  }

  Tensor f32(const char* name, int64_t rows, int64_t cols) {
    uint64_t bytes = mul_checked(mul_checked(rows, cols, m_.path, name), 4, m_.path, name);
    return make_tensor(name, DType::F32, rows, cols, cur_.take(bytes, name));
  }

  // llama2.c v2: int8 values then one f32 scale per group.
  Tensor i8g(const std::string& name, int64_t rows, int64_t cols) {
    if (cols % h_.group) throw InputError(m_.path, name + ": row length " + std::to_string(cols) + " is not a multiple of the group size");
    uint64_t n = mul_checked(rows, cols, m_.path, "tensor size");
    Tensor t = make_tensor(name, DType::I8G, rows, cols, cur_.take(n, name));
    t.scales = reinterpret_cast<const float*>(cur_.take(n / h_.group * 4, name + " scales"));
    t.group = h_.group;
    t.bytes = n + n / h_.group * 4;
    return t;
  }

  static std::string layer_name(int l, const char* name) { return "blk." + std::to_string(l) + "." + name; }

  // One weight matrix of every layer, in the order the checkpoint stores them.
  struct LayerMatrix {
    Field field;
    const char* name;
    int64_t rows, cols;
  };
  std::vector<LayerMatrix> attention_matrices() const {
    int64_t dim = c_.dim, kv = c_.kv_dim();
    return {{&LayerWeights::wq, "attn_q", dim, dim},
            {&LayerWeights::wk, "attn_k", kv, dim},
            {&LayerWeights::wv, "attn_v", kv, dim},
            {&LayerWeights::wo, "attn_output", dim, dim}};
  }
  std::vector<LayerMatrix> ffn_matrices() const {
    int64_t dim = c_.dim, hidden = c_.hidden_dim;
    return {{&LayerWeights::w1, "ffn_gate", hidden, dim},
            {&LayerWeights::w2, "ffn_down", dim, hidden},
            {&LayerWeights::w3, "ffn_up", hidden, dim}};
  }

  // v0/v1 store all layers of one matrix together; v2 stores each layer's int8 values then its scales.
  void read_matrices(const std::vector<LayerMatrix>& list) {
    for (const LayerMatrix& m : list) {
      if (h_.version < 2) {
        f32_per_layer(m.field, m.name, m.rows, m.cols);
      } else {
        for (int l = 0; l < c_.n_layers; ++l) m_.layers[l].*m.field = i8g(layer_name(l, m.name), m.rows, m.cols);
      }
    }
  }

  void build_v0() {
    int64_t dim = c_.dim;
    m_.token_embedding = f32("token_embd", c_.vocab_size, dim);
    f32_per_layer(&LayerWeights::attn_norm, "attn_norm", 1, dim);
    read_matrices(attention_matrices());
    f32_per_layer(&LayerWeights::ffn_norm, "ffn_norm", 1, dim);
    read_matrices(ffn_matrices());
    m_.final_norm = f32("output_norm", 1, dim);
    f32("freq_cis_real", c_.seq_len, c_.head_size() / 2);  // precomputed RoPE tables, unused
    f32("freq_cis_imag", c_.seq_len, c_.head_size() / 2);
    finish_classifier([&] { return f32("output", c_.vocab_size, dim); });
  }

  void build_v1_v2() {
    int64_t dim = c_.dim;
    f32_per_layer(&LayerWeights::attn_norm, "attn_norm", 1, dim);
    f32_per_layer(&LayerWeights::ffn_norm, "ffn_norm", 1, dim);
    m_.final_norm = f32("output_norm", 1, dim);
    bool quantized = h_.version == 2;
    if (quantized && (h_.group <= 0 || h_.group > (1 << 20)))
      throw InputError(m_.path, "group size " + std::to_string(h_.group) + " out of range");
    auto matrix = [&](const char* name, int64_t rows) { return quantized ? i8g(name, rows, dim) : f32(name, rows, dim); };
    m_.token_embedding = matrix("token_embd", c_.vocab_size);
    read_matrices(attention_matrices());
    read_matrices(ffn_matrices());
    finish_classifier([&] { return matrix("output", c_.vocab_size); });
  }

  template <typename F>
  void finish_classifier(F&& read_separate) {
    m_.tied_classifier = h_.shared_classifier;
    m_.classifier = m_.tied_classifier ? m_.token_embedding : read_separate();
  }

  Model& m_;
  const Header& h_;
  const ModelConfig& c_;
  Cursor cur_;
};

}  // namespace

std::unique_ptr<Model> load_llama2c_model(MappedFile file) {
  auto m = std::make_unique<Model>();
  m->path = file.path();
  m->file = std::move(file);
  Header h = read_header(m->file);
  m->format = h.version == 0 ? ModelFormat::Llama2cV0 : h.version == 1 ? ModelFormat::Llama2cV1 : ModelFormat::Llama2cV2;
  m->config = config_of(h, m->path);
  m->layers.resize(m->config.n_layers);
  m->stop_at_bos = true;  // run.c ends a story when the model emits BOS
  m->bos_id = 1;
  m->eos_id = 2;
  Llama2cBuilder(*m, h).build();
  model_detail::compute_fingerprint(*m, h.header_bytes);
  return m;
}

}  // namespace bf
