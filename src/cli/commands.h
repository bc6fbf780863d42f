// The bareflow subcommands. Each add_* registers one subcommand and its callback.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "cpu/cpu.h"
#include "kernels/contract.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace bf::cli {

void add_run_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_snapshot_command(CLI::App& app);
void add_tune_command(CLI::App& app);

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::optional<Tokenizer> tokenizer;
  double seconds = 0;
};

// Loads the model and its tokenizer: `tokenizer_path` if given, else the vocabulary in
// the model file, else tokenizer.bin beside the model. Throws InputError.
LoadedModel load_model_and_tokenizer(const std::string& model_path, const std::string& tokenizer_path);

// The kernel options run and bench share: --max-isa, -b/--batch, --kv-type.
void add_kernel_options(CLI::App& cmd, std::string& max_isa, int& batch, std::string& kv_type);
// "" = no cap; throws InputError for an unknown level.
IsaLevel parse_max_isa(const std::string& name);
KvType parse_kv_type(const std::string& name);

// Where the tuning snapshot lives: --state DIR, or none with --no-state (state_options.cpp).
struct StateOptions {
  std::string dir;        // "" = the default state directory
  bool disabled = false;  // --no-state
};
void add_state_options(CLI::App& cmd, StateOptions& o);
// The state directory (snapshot/snapshot.h: state_dir), or nullopt under --no-state.
std::optional<std::string> resolve_state_dir(const StateOptions& o);

// Peak resident memory of this process in MiB, or -1 where the system cannot say.
double peak_memory_mib();

}  // namespace bf::cli
