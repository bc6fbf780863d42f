// bareflow info: what a model file holds (-m), or what this CPU can run (--cpu).
#include <cinttypes>
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cpu/cpu.h"

namespace bf::cli {
namespace {

// Tensors and bytes of one weight type in the file.
struct TypeTotal {
  int tensors = 0;
  size_t bytes = 0;
};

// Keyed by ggml's type name (Q4_K, Q6_K, BF16, ...); a tied classifier is the embedding, counted once.
std::map<std::string, TypeTotal> type_totals(const Model& m) {
  std::map<std::string, TypeTotal> totals;
  auto add = [&](const Tensor& t) {
    TypeTotal& total = totals[std::string(dtype_name(t.type))];
    ++total.tensors;
    total.bytes += t.bytes;
  };
  add(m.token_embedding);
  for (auto& l : m.layers)
    for (const Tensor* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.w1, &l.w2, &l.w3}) add(*t);
  add(m.final_norm);
  if (!m.tied_classifier) add(m.classifier);
  return totals;
}

void info_command(const std::string& path) {
  auto m = load_model(path);
  const ModelConfig& c = m->config;
  std::printf("file:          %s (%.2f MiB)\n", path.c_str(), m->file.size() / 1048576.0);
  std::printf("format:        %s\n", m->format_name().c_str());
  std::printf("architecture:  %s%s%s\n", m->architecture.c_str(), m->name.empty() ? "" : ", ", m->name.c_str());
  std::printf("dim:           %d\nhidden_dim:    %d\nlayers:        %d\nheads:         %d\nkv_heads:      %d\n", c.dim,
              c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads);
  std::printf("head_size:     %d\nvocab:         %d\ncontext:       %d\n", c.head_size(), c.vocab_size, c.seq_len);
  std::printf("rope:          base %g, %d dims\nnorm_eps:      %g\n", c.rope_base, c.rope_dim, c.norm_eps);
  std::printf("classifier:    %s\n", m->tied_classifier ? "tied to the embedding"
                                                        : ("separate, " + std::string(dtype_name(m->classifier.type))).c_str());
  std::printf("tensor types: ");
  const char* separator = " ";
  for (auto& [type, total] : type_totals(*m)) {
    std::printf("%s%s x%d (%.2f MiB)", separator, type.c_str(), total.tensors, total.bytes / 1048576.0);
    separator = ", ";
  }
  std::printf("\nembedding:     %s\n", std::string(dtype_name(m->token_embedding.type)).c_str());
  std::printf("weights:       %.2f MiB, %.2f MiB read per token\n", m->weight_bytes() / 1048576.0,
              m->bytes_read_per_token() / 1048576.0);
  std::printf("vocabulary:    %s\n", m->vocab ? "in the model file" : "none (needs a tokenizer file)");
  std::printf("fingerprint:   %016" PRIx64 "\n", m->fingerprint);
}

std::string cache_size(uint32_t bytes) {
  if (bytes == 0) return "?";
  if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  return std::to_string(bytes / 1024) + " KiB";
}

// Labels end at column 11, so the last line reads exactly "signature: <key>".
void cpu_command() {
  const CpuInfo& c = CpuInfo::host();
  std::printf("vendor:    %s\nbrand:     %s\n", c.vendor.c_str(), c.brand.c_str());
  std::printf("family:    %d (0x%x), model %d (0x%x), stepping %d\n", c.family, c.family, c.model, c.model, c.stepping);
  std::printf("caches:    L1d %s, L2 %s (per core), L3 %s (per package)\n", cache_size(c.l1d_bytes).c_str(),
              cache_size(c.l2_bytes).c_str(), cache_size(c.l3_bytes).c_str());
  std::printf("level:     %s\n", std::string(isa_level_name(c.level)).c_str());
  std::printf("features:  %s\n", c.feature_list().c_str());
  std::printf("xcr0:      0x%" PRIx64 "\n", c.xcr0);
  std::printf("signature: %s\n", c.signature().c_str());
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto cpu = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("info", "Describe a model file (-m) or this CPU (--cpu)");
  CLI::Option* model = cmd->add_option("-m,--model", *path, "Model file (GGUF or llama2.c .bin)");
  cmd->add_flag("--cpu", *cpu, "Describe this CPU: features, caches, ISA level, signature")->excludes(model);
  cmd->callback([path, cpu, model] {
    if (*cpu) return cpu_command();
    if (model->count() == 0) throw CLI::RequiredError("info needs --model MODEL or --cpu", CLI::ExitCodes::RequiredError);
    info_command(*path);
  });
}

}  // namespace bf::cli
