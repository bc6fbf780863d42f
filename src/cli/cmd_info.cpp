// bareflow info: what a model file holds.
#include <cinttypes>
#include <cstdio>
#include <map>

#include "cli/commands.h"

namespace bf::cli {
namespace {

void count_types(const Model& m, std::map<std::string, int>& counts) {
  auto add = [&](const Tensor& t) { ++counts[std::string(dtype_name(t.type))]; };
  add(m.token_embedding);
  for (auto& l : m.layers)
    for (const Tensor* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.w1, &l.w2, &l.w3}) add(*t);
  add(m.final_norm);
  if (!m.tied_classifier) add(m.classifier);
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
  std::printf("classifier:    %s\n", m->tied_classifier ? "tied to the embedding" : "separate");
  std::map<std::string, int> counts;
  count_types(*m, counts);
  std::printf("tensor types: ");
  for (auto& [type, n] : counts) std::printf(" %s x%d", type.c_str(), n);
  std::printf("\nembedding:     %s\n", std::string(dtype_name(m->token_embedding.type)).c_str());
  std::printf("weights:       %.2f MiB, %.2f MiB read per token\n", m->weight_bytes() / 1048576.0,
              m->bytes_read_per_token() / 1048576.0);
  std::printf("vocabulary:    %s\n", m->vocab ? "in the model file" : "none (needs a tokenizer file)");
  std::printf("fingerprint:   %016" PRIx64 "\n", m->fingerprint);
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a model file");
  cmd->add_option("-m,--model", *path, "Model file (GGUF or llama2.c .bin)")->required();
  cmd->callback([path] { info_command(*path); });
}

}  // namespace bf::cli
