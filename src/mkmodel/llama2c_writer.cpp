// llama2.c checkpoints as karpathy/llama2.c's export.py writes them:
//   v0 legacy_export: 7-int32 header, fp32 tensors interleaved with the RoPE tables;
//   v1 version1_export: 256-byte header, fp32;
//   v2 version2_export: 256-byte header, fp32 norms, int8 tensors each followed by its
//      f32 group scales.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/quantize.h"
#include "mkmodel/file_writer.h"
#include "mkmodel/mkmodel.h"
#include "util/error.h"

namespace bf {

namespace {

constexpr uint32_t kMagic = 0x616b3432;  // "ak42"
constexpr uint64_t kHeaderBytes = 256;   // v1/v2 headers are zero-padded to this

// The model's tensors looked up by llama.cpp name, so both formats share weights.
struct TensorSet {
  std::vector<MkTensor> all;

  const MkTensor& get(const std::string& name) const {
    for (const MkTensor& t : all)
      if (t.name == name) return t;
    throw InputError("mkmodel", "internal: no tensor " + name);
  }
  // One per layer, in layer order: `suffix` is e.g. "attn_q".
  std::vector<MkTensor> layers(const MkModelSpec& s, const std::string& suffix) const {
    std::vector<MkTensor> out;
    for (int l = 0; l < s.n_layers; ++l) out.push_back(get("blk." + std::to_string(l) + "." + suffix + ".weight"));
    return out;
  }
};

// export.py's order of the weight matrices (after the embedding).
constexpr const char* kMatrixOrder[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"};

void write_f32(FileWriter& w, const MkTensor& t, uint64_t seed) {
  std::vector<float> row(static_cast<size_t>(t.cols));
  for (int64_t r = 0; r < t.rows; ++r) {
    mkmodel_fill_row(seed, t, r, row.data());
    w.bytes(row.data(), row.size() * sizeof(float));
  }
}

void write_f32(FileWriter& w, const std::vector<MkTensor>& ts, uint64_t seed) {
  for (const MkTensor& t : ts) write_f32(w, t, seed);
}

// int8 values of the whole tensor, then its scales. Groups never straddle rows (the group
// divides dim and hidden_dim), so quantizing row by row equals export.py's flat grouping.
void write_i8g(FileWriter& w, const MkTensor& t, uint64_t seed, int group) {
  std::vector<float> row(static_cast<size_t>(t.cols));
  std::vector<int8_t> q(row.size());
  std::vector<float> scales(static_cast<size_t>(t.rows * (t.cols / group)));
  for (int64_t r = 0; r < t.rows; ++r) {
    mkmodel_fill_row(seed, t, r, row.data());
    quantize_i8g(row.data(), q.data(), scales.data() + r * (t.cols / group), t.cols, group);
    w.bytes(q.data(), q.size());
  }
  w.bytes(scales.data(), scales.size() * sizeof(float));
}

// freq_cis_real / freq_cis_imag of the legacy format: cos and sin of pos * base^(-2i/hs).
void write_rope_tables(FileWriter& w, const MkModelSpec& s) {
  const int half = s.head_size() / 2;
  for (int part = 0; part < 2; ++part) {
    std::vector<float> row(static_cast<size_t>(half));
    for (int pos = 0; pos < s.seq_len; ++pos) {
      for (int i = 0; i < half; ++i) {
        // export.py computes in f32: freqs = 1 / base^(2i/hs), then pos * freqs.
        const float freq = 1.0f / std::pow(s.rope_base, static_cast<float>(2 * i) / static_cast<float>(s.head_size()));
        const float angle = static_cast<float>(pos) * freq;
        row[static_cast<size_t>(i)] = part == 0 ? std::cos(angle) : std::sin(angle);
      }
      w.bytes(row.data(), row.size() * sizeof(float));
    }
  }
}

void write_params(FileWriter& w, const MkModelSpec& s, int32_t vocab_field) {
  for (int32_t v : {s.dim, s.hidden_dim, s.n_layers, s.n_heads, s.n_kv_heads, vocab_field, s.seq_len}) w.value(v);
}

void write_v0(FileWriter& w, const MkModelSpec& s, const TensorSet& ts) {
  write_params(w, s, s.tied_classifier ? s.vocab_size : -s.vocab_size);
  write_f32(w, ts.get("token_embd.weight"), s.seed);
  write_f32(w, ts.layers(s, "attn_norm"), s.seed);
  for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"}) write_f32(w, ts.layers(s, m), s.seed);
  write_f32(w, ts.layers(s, "ffn_norm"), s.seed);
  for (const char* m : {"ffn_gate", "ffn_down", "ffn_up"}) write_f32(w, ts.layers(s, m), s.seed);
  write_f32(w, ts.get("output_norm.weight"), s.seed);
  write_rope_tables(w, s);
  if (!s.tied_classifier) write_f32(w, ts.get("output.weight"), s.seed);
}

void write_header_v1v2(FileWriter& w, const MkModelSpec& s, int version) {
  w.value<uint32_t>(kMagic);
  w.value<int32_t>(version);
  write_params(w, s, s.vocab_size);
  w.value<uint8_t>(s.tied_classifier ? 1 : 0);
  if (version == 2) w.value<int32_t>(llama2c_group_size(s));
  w.zeros(kHeaderBytes - w.position());
}

void write_norms(FileWriter& w, const MkModelSpec& s, const TensorSet& ts) {
  write_f32(w, ts.layers(s, "attn_norm"), s.seed);
  write_f32(w, ts.layers(s, "ffn_norm"), s.seed);
  write_f32(w, ts.get("output_norm.weight"), s.seed);
}

// The embedding, every layer's matrices in export.py order, then the untied classifier.
std::vector<MkTensor> matrices(const MkModelSpec& s, const TensorSet& ts) {
  std::vector<MkTensor> out{ts.get("token_embd.weight")};
  for (const char* m : kMatrixOrder)
    for (MkTensor& t : ts.layers(s, m)) out.push_back(std::move(t));
  if (!s.tied_classifier) out.push_back(ts.get("output.weight"));
  return out;
}

void write_v1(FileWriter& w, const MkModelSpec& s, const TensorSet& ts) {
  write_header_v1v2(w, s, 1);
  write_norms(w, s, ts);
  write_f32(w, matrices(s, ts), s.seed);
}

void write_v2(FileWriter& w, const MkModelSpec& s, const TensorSet& ts) {
  write_header_v1v2(w, s, 2);
  write_norms(w, s, ts);
  const int group = llama2c_group_size(s);
  for (const MkTensor& t : matrices(s, ts)) write_i8g(w, t, s.seed, group);
}

}  // namespace

void write_llama2c_model(const std::string& path, const MkModelSpec& spec, int version) {
  validate_spec(spec);
  if (version < 0 || version > 2)
    throw InputError("mkmodel", "llama2.c version must be 0, 1 or 2 (got " + std::to_string(version) + ")");
  if (spec.mix != TypeMix::Pure)
    throw InputError("mkmodel", "llama2.c files hold f32 or int8 weights only; a llama-quantize recipe needs GGUF");
  const TensorSet ts{mkmodel_tensors(spec)};
  FileWriter w(path);
  if (version == 0) write_v0(w, spec, ts);
  if (version == 1) write_v1(w, spec, ts);
  if (version == 2) write_v2(w, spec, ts);
  w.commit();
}

}  // namespace bf
