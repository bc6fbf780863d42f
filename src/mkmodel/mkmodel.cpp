#include "mkmodel/mkmodel.h"

#include <cmath>
#include <string>

#include "util/error.h"
#include "util/hash.h"

namespace bf {

namespace {

enum class Classifier : bool { Tied, Separate };

struct Preset {
  std::string_view name;
  int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
  Classifier classifier;
};

// The llama2.c stories models share the embedding with the classifier; TinyLlama-1.1B
// has its own output matrix (1,100,048,384 weights in all).
constexpr Preset kPresets[] = {
    {"stories15M", 288, 768, 6, 6, 6, 32000, 256, Classifier::Tied},
    {"stories42M", 512, 1376, 8, 8, 8, 32000, 1024, Classifier::Tied},
    {"stories110M", 768, 2048, 12, 12, 12, 32000, 1024, Classifier::Tied},
    {"tinyllama", 2048, 5632, 22, 32, 4, 32000, 2048, Classifier::Separate},
    {"stories260K", 64, 172, 5, 8, 4, 512, 512, Classifier::Tied},
};

uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in (-1, 1), symmetric about 0, from the top 24 bits of a hash.
float unit_uniform(uint64_t bits) {
  auto v = static_cast<int32_t>(bits >> 40) - (1 << 23);
  return static_cast<float>((v + 0.5) / (1 << 23));
}

void require(bool ok, const std::string& problem) {
  if (!ok) throw InputError("mkmodel", problem);
}

MkTensor matrix(std::string name, int64_t rows, int64_t cols, int layer = -1) {
  return {std::move(name), rows, cols, false, layer};
}
MkTensor norm(std::string name, int64_t n, int layer = -1) { return {std::move(name), 1, n, true, layer}; }

}  // namespace

std::optional<MkModelSpec> mkmodel_preset(std::string_view name) {
  for (const Preset& p : kPresets) {
    if (p.name != name) continue;
    MkModelSpec s;
    s.dim = p.dim;
    s.hidden_dim = p.hidden_dim;
    s.n_layers = p.n_layers;
    s.n_heads = p.n_heads;
    s.n_kv_heads = p.n_kv_heads;
    s.vocab_size = p.vocab_size;
    s.seq_len = p.seq_len;
    s.tied_classifier = p.classifier == Classifier::Tied;
    s.name = std::string(p.name);
    return s;
  }
  return std::nullopt;
}

std::vector<std::string_view> mkmodel_preset_names() {
  std::vector<std::string_view> names;
  for (const Preset& p : kPresets) names.push_back(p.name);
  return names;
}

void validate_spec(const MkModelSpec& s) {
  require(s.dim > 0, "dim must be positive (got " + std::to_string(s.dim) + ")");
  require(s.hidden_dim > 0, "hidden-dim must be positive (got " + std::to_string(s.hidden_dim) + ")");
  require(s.n_layers > 0, "layers must be positive (got " + std::to_string(s.n_layers) + ")");
  require(s.n_heads > 0, "heads must be positive (got " + std::to_string(s.n_heads) + ")");
  require(s.n_kv_heads > 0, "kv-heads must be positive (got " + std::to_string(s.n_kv_heads) + ")");
  require(s.seq_len > 0, "seq-len must be positive (got " + std::to_string(s.seq_len) + ")");
  // <unk>, <s> and </s> have fixed ids 0, 1, 2 in every Llama vocabulary.
  require(s.vocab_size >= 3, "vocab-size must be at least 3 (got " + std::to_string(s.vocab_size) + ")");
  require(s.dim % s.n_heads == 0,
          "dim " + std::to_string(s.dim) + " is not divisible by heads " + std::to_string(s.n_heads));
  require(s.n_heads % s.n_kv_heads == 0,
          "heads " + std::to_string(s.n_heads) + " is not divisible by kv-heads " + std::to_string(s.n_kv_heads));
  require(s.head_size() % 2 == 0, "head size " + std::to_string(s.head_size()) + " is odd (RoPE rotates pairs)");
  require(s.rope_base > 0.0f && std::isfinite(s.rope_base), "rope base must be positive");
  require(s.norm_eps > 0.0f && std::isfinite(s.norm_eps), "norm epsilon must be positive");
}

int64_t mkmodel_param_count(const MkModelSpec& s) {
  const int64_t dim = s.dim, hidden = s.hidden_dim, kv = s.kv_dim();
  const int64_t per_layer = 2 * dim + 2 * dim * dim + 2 * dim * kv + 3 * dim * hidden;
  const int64_t embed = int64_t{s.vocab_size} * dim;
  return embed * (s.tied_classifier ? 1 : 2) + s.n_layers * per_layer + dim;
}

std::vector<MkTensor> mkmodel_tensors(const MkModelSpec& s) {
  std::vector<MkTensor> ts;
  ts.push_back(matrix("token_embd.weight", s.vocab_size, s.dim));
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    ts.push_back(norm(b + "attn_norm.weight", s.dim, l));
    ts.push_back(matrix(b + "attn_q.weight", s.dim, s.dim, l));
    ts.push_back(matrix(b + "attn_k.weight", s.kv_dim(), s.dim, l));
    ts.push_back(matrix(b + "attn_v.weight", s.kv_dim(), s.dim, l));
    ts.push_back(matrix(b + "attn_output.weight", s.dim, s.dim, l));
    ts.push_back(norm(b + "ffn_norm.weight", s.dim, l));
    ts.push_back(matrix(b + "ffn_gate.weight", s.hidden_dim, s.dim, l));
    ts.push_back(matrix(b + "ffn_down.weight", s.dim, s.hidden_dim, l));
    ts.push_back(matrix(b + "ffn_up.weight", s.hidden_dim, s.dim, l));
  }
  ts.push_back(norm("output_norm.weight", s.dim));
  if (!s.tied_classifier) ts.push_back(matrix("output.weight", s.vocab_size, s.dim));
  return ts;
}

void mkmodel_fill_row(uint64_t seed, const MkTensor& t, int64_t row, float* out) {
  // Counter-based: element i of a tensor depends only on (seed, name, i), so any
  // writer can produce any row in any order and formats agree bit for bit.
  const uint64_t key = splitmix64(seed) ^ splitmix64(fnv1a(t.name) ^ 0x5851f42d4c957f2dull);
  const float a = t.is_norm ? 0.05f : 1.0f / std::sqrt(static_cast<float>(t.cols));
  const float center = t.is_norm ? 1.0f : 0.0f;
  const uint64_t first = static_cast<uint64_t>(row) * static_cast<uint64_t>(t.cols);
  for (int64_t c = 0; c < t.cols; ++c) {
    const uint64_t idx = first + static_cast<uint64_t>(c);
    out[c] = center + a * unit_uniform(splitmix64(key + idx * 0x9e3779b97f4a7c15ull));
  }
}

Vocab synthetic_vocab(int n) {
  Vocab v;
  auto add = [&](std::string piece, TokenType type) {
    if (static_cast<int>(v.pieces.size()) >= n) return;
    v.scores.push_back(type == TokenType::Normal ? -static_cast<float>(v.pieces.size()) : 0.0f);
    v.pieces.push_back(std::move(piece));
    v.types.push_back(type);
  };
  add("<unk>", TokenType::Unknown);
  add("<s>", TokenType::Control);
  add("</s>", TokenType::Control);
  if (n >= 3 + 256) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", TokenType::Byte);
  }
  // Letters by English frequency, so the cheap pieces look a little like text.
  static constexpr std::string_view kLetters = "etaoinshrdlucmfwypvbgkjqxz";
  static constexpr std::string_view kMarker = "\xe2\x96\x81";  // U+2581, SentencePiece's space
  add(std::string(kMarker), TokenType::Normal);
  for (char c : std::string_view(".,!?'-0123456789")) add(std::string(1, c), TokenType::Normal);
  std::vector<std::string> words{""};
  while (static_cast<int>(v.pieces.size()) < n) {
    std::vector<std::string> longer;
    for (const std::string& w : words)
      for (char c : kLetters) longer.push_back(w + c);
    for (const std::string& w : longer) {
      add(std::string(kMarker) + w, TokenType::Normal);
      add(w, TokenType::Normal);
    }
    words = std::move(longer);
  }
  return v;
}

int llama2c_group_size(const MkModelSpec& s) {
  int g = 64;
  while (g > 1 && (s.dim % g != 0 || s.hidden_dim % g != 0)) g /= 2;
  return g;
}

}  // namespace bf
