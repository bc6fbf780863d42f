#include "cli/mkmodel_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "mkmodel/mkmodel.h"
#include "model/vocab_loader.h"
#include "util/error.h"

namespace bf::cli {

namespace {

// A shape flag: its value, and the CLI11 option that tells whether it was given.
struct ShapeFlag {
  int value = 0;
  CLI::Option* option = nullptr;
  bool given() const { return option && option->count() > 0; }
};

struct MkModelOptions {
  std::string output;
  std::string preset;
  std::string type = "f32";
  std::string format;
  std::string vocab_path;
  ShapeFlag dim, hidden_dim, layers, heads, kv_heads, vocab_size, seq_len;
  int llama2c_version = 0;
  bool untied = false;
  bool pure = false;
  uint64_t seed = 1;
  CLI::Option* type_option = nullptr;
  CLI::Option* version_option = nullptr;
};

// The file a request resolves to: shape, format and llama2.c version.
struct MkModelPlan {
  MkModelSpec spec;
  bool gguf = true;
  int llama2c_version = 0;
  std::optional<Vocab> vocab;
};

[[noreturn]] void fail(const std::string& problem) { throw InputError("mkmodel", problem); }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "f32, f16, ..." from the recipe table, for messages and help.
std::string recipe_names() {
  std::string names;
  for (const MkRecipe& r : mkmodel_recipes()) names += (names.empty() ? "" : ", ") + std::string(r.name);
  return names;
}

// --type names a recipe; --pure makes any recipe one type throughout, as llama-quantize --pure.
void apply_type(const MkModelOptions& o, MkModelSpec& s) {
  const MkRecipe* r = find_mkmodel_recipe(lower(o.type));
  if (!r) fail("unknown --type '" + o.type + "' (expected " + recipe_names() + ")");
  s.type = r->type;
  s.mix = o.pure ? TypeMix::Pure : r->mix;
}

MkModelSpec base_spec(const MkModelOptions& o) {
  if (o.preset.empty()) {
    MkModelSpec s;
    s.name = "mkmodel-random";
    s.seq_len = 256;
    return s;
  }
  if (auto s = mkmodel_preset(o.preset)) return *s;
  std::string known;
  for (std::string_view n : mkmodel_preset_names()) known += (known.empty() ? "" : ", ") + std::string(n);
  fail("unknown preset '" + o.preset + "' (known: " + known + ")");
}

// Applies the shape flags over the preset. Without a preset every size but kv-heads
// (default: heads) and seq-len (default: 256) must be given.
MkModelSpec apply_shape(const MkModelOptions& o) {
  MkModelSpec s = base_spec(o);
  const bool was_mha = s.n_kv_heads == s.n_heads;
  auto set = [](const ShapeFlag& f, int& field) {
    if (f.given()) field = f.value;
  };
  set(o.dim, s.dim);
  set(o.hidden_dim, s.hidden_dim);
  set(o.layers, s.n_layers);
  set(o.heads, s.n_heads);
  set(o.kv_heads, s.n_kv_heads);
  set(o.vocab_size, s.vocab_size);
  set(o.seq_len, s.seq_len);
  // Changing the head count of a multi-head-attention shape keeps it multi-head.
  if (o.heads.given() && !o.kv_heads.given() && was_mha) s.n_kv_heads = s.n_heads;
  if (o.preset.empty()) {
    std::string missing;
    auto need = [&](const ShapeFlag& f, const char* flag) {
      if (!f.given()) missing += std::string(missing.empty() ? "" : " ") + flag;
    };
    need(o.dim, "--dim");
    need(o.hidden_dim, "--hidden-dim");
    need(o.layers, "--layers");
    need(o.heads, "--heads");
    if (o.vocab_path.empty()) need(o.vocab_size, "--vocab-size");
    if (!missing.empty()) fail("without --preset, give " + missing);
  }
  return s;
}

// The vocabulary decides vocab-size unless --vocab-size says otherwise, which must agree.
void apply_vocab(const MkModelOptions& o, MkModelPlan& p) {
  if (o.vocab_path.empty()) return;
  p.vocab = load_vocab(o.vocab_path);
  const auto n = static_cast<int64_t>(p.vocab->pieces.size());
  if (o.vocab_size.given() && n != o.vocab_size.value)
    fail("--vocab-size " + std::to_string(o.vocab_size.value) + " does not match the " + std::to_string(n) +
         " tokens of " + o.vocab_path);
  p.spec.vocab_size = static_cast<int>(n);
}

// Format from --format or the extension; llama2.c version from --llama2c-version or the type.
void apply_format(const MkModelOptions& o, MkModelPlan& p) {
  const std::string fmt = lower(o.format);
  if (fmt.empty()) {
    p.gguf = lower(std::filesystem::path(o.output).extension().string()) == ".gguf";
  } else if (fmt == "gguf" || fmt == "llama2c") {
    p.gguf = fmt == "gguf";
  } else {
    fail("unknown --format '" + o.format + "' (expected gguf or llama2c)");
  }
  const bool type_given = o.type_option->count() > 0;
  const bool version_given = o.version_option->count() > 0;
  DType& t = p.spec.type;
  if (p.gguf) {
    if (version_given) fail("--llama2c-version applies only to --format llama2c");
    if (t == DType::I8G) fail("int8 is a llama2.c format; GGUF takes every other --type");
    return;
  }
  if (version_given && (o.llama2c_version < 0 || o.llama2c_version > 2))
    fail("--llama2c-version must be 0, 1 or 2 (got " + std::to_string(o.llama2c_version) + ")");
  if (!type_given && version_given && o.llama2c_version == 2) t = DType::I8G;
  if (t != DType::F32 && t != DType::I8G)
    fail("llama2.c files hold f32 (versions 0, 1) or int8 (version 2), not " + o.type);
  p.llama2c_version = t == DType::I8G ? 2 : (version_given ? o.llama2c_version : 0);
  if (version_given && o.llama2c_version != p.llama2c_version)
    fail("--llama2c-version " + std::to_string(o.llama2c_version) + " cannot hold --type " + o.type);
}

MkModelPlan make_plan(const MkModelOptions& o) {
  MkModelPlan p;
  p.spec = apply_shape(o);
  apply_type(o, p.spec);
  if (o.untied) p.spec.tied_classifier = false;  // a preset may be untied already
  p.spec.seed = o.seed;
  apply_vocab(o, p);
  apply_format(o, p);
  validate_spec(p.spec);
  return p;
}

void run_mkmodel(const MkModelOptions& o) {
  const MkModelPlan p = make_plan(o);
  if (p.gguf)
    write_gguf_model(o.output, p.spec, p.vocab ? &*p.vocab : nullptr);
  else
    write_llama2c_model(o.output, p.spec, p.llama2c_version);
  const auto bytes = std::filesystem::file_size(o.output);
  const std::string what = p.gguf ? "GGUF v3" : "llama2.c v" + std::to_string(p.llama2c_version);
  // --llama2c-version 2 alone means int8, whatever --type's default says.
  const std::string type = p.spec.type == DType::I8G ? "int8" : lower(o.type) + (o.pure ? " pure" : "");
  std::fprintf(stderr, "mkmodel: wrote %s (%s %s, %llu bytes, %lld parameters)\n", o.output.c_str(), what.c_str(),
               type.c_str(), static_cast<unsigned long long>(bytes),
               static_cast<long long>(mkmodel_param_count(p.spec)));
}

// Which tensor gets which type: the rules of mkmodel_tensor_type, for the user.
std::string type_help() {
  return "Weights (default f32): " + recipe_names() +
         ".\n"
         "GGUF recipes store tensors as llama-quantize does; norms are always F32.\n"
         "  f32 f16 bf16 q8_0 q4_0: every matrix of that type.\n"
         "  q4_1 q5_0 q5_1: the classifier (output, or token_embd when tied) Q6_K, the rest the named type.\n"
         "  q4_k_m q5_k_m: the classifier Q6_K; attn_v and ffn_down Q6_K in the first n/8 layers, from 7n/8 on\n"
         "    and every third layer between; every other matrix, token_embd included, Q4_K / Q5_K.\n"
         "  q6_k: every matrix Q6_K.\n"
         "  Rows that are not whole 256-blocks fall back Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0,\n"
         "    rows that are not whole 32-blocks to F16.\n"
         "int8 is llama2.c v2's format; llama2.c files take only f32 and int8.";
}

void add_shape(CLI::App* cmd, ShapeFlag& f, const std::string& flag, const std::string& what) {
  f.option = cmd->add_option(flag, f.value, what);
}

}  // namespace

void add_mkmodel_command(CLI::App& app) {
  // The options outlive this call: the callback owns them.
  auto o = std::make_shared<MkModelOptions>();
  CLI::App* cmd = app.add_subcommand("mkmodel", "Write a deterministic random-weight Llama model (GGUF or llama2.c)");
  cmd->add_option("-o,--output", o->output, "Model file to write")->required();
  std::string presets;
  for (std::string_view n : mkmodel_preset_names()) presets += (presets.empty() ? "" : ", ") + std::string(n);
  cmd->add_option("--preset", o->preset, "Shape of a known model: " + presets);
  add_shape(cmd, o->dim, "--dim", "Residual width");
  add_shape(cmd, o->hidden_dim, "--hidden-dim", "FFN inner width");
  add_shape(cmd, o->layers, "--layers", "Number of transformer blocks");
  add_shape(cmd, o->heads, "--heads", "Attention heads");
  add_shape(cmd, o->kv_heads, "--kv-heads", "Key/value heads (default: heads)");
  add_shape(cmd, o->vocab_size, "--vocab-size", "Vocabulary size (default: that of --vocab)");
  add_shape(cmd, o->seq_len, "--seq-len", "Context length (default 256 without a preset)");
  o->type_option = cmd->add_option("--type", o->type, type_help());
  cmd->add_flag("--pure", o->pure, "Every matrix in the --type's main type (Q4_K for q4_k_m), as llama-quantize --pure");
  cmd->add_option("--format", o->format, "gguf or llama2c (default: gguf for a .gguf output, else llama2c)");
  o->version_option = cmd->add_option("--llama2c-version", o->llama2c_version, "llama2.c version 0, 1 or 2 (int8 implies 2)");
  cmd->add_option("--vocab", o->vocab_path,
                  "tokenizer.bin or GGUF whose vocabulary is embedded in a GGUF output (llama2.c: only its size is checked)");
  cmd->add_flag("--untied", o->untied, "Separate classifier instead of sharing the token embedding (tinyllama has one anyway)");
  cmd->add_option("--seed", o->seed, "Weight seed (default 1)");
  cmd->callback([o] { run_mkmodel(*o); });
}

}  // namespace bf::cli
