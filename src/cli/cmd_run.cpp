// bareflow run: stream the prompt and the generated text to stdout, figures to stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/tune_options.h"
#include "generate/generate.h"
#include "graph/profile.h"
#include "threads/pool.h"

namespace bf::cli {
namespace {

struct RunOptions {
  std::string model, tokenizer;
  GenerateOptions gen;
  int threads = 0;
  int context = 0;
  bool reference = false;
  bool profile = false;
  std::string max_isa;
  int batch = 512;
  std::string kv_type = "f16";
  TuneCliOptions tune;
};

std::string tuning_summary(TuningSession& session) {
  const Tuner& t = *session.tuner();
  if (session.loaded() && t.steps_to_converge() == 0) return "every shape class from the snapshot (no tuning)";
  if (t.converged()) return "converged after " + std::to_string(t.steps_to_converge()) + " token steps";
  const auto settled = std::count_if(t.classes().begin(), t.classes().end(),
                                     [](const auto& c) { return c->tier == Tier::Settled; });
  return std::to_string(settled) + " of " + std::to_string(t.classes().size()) + " shape classes settled";
}

void run_command(const RunOptions& o) {
  LoadedModel l = load_model_and_tokenizer(o.model, o.tokenizer);
  ForwardOptions fo;
  fo.threads = o.threads > 0 ? o.threads : ThreadPool::available_threads();
  fo.context = o.context;
  fo.reference = o.reference;
  fo.max_isa = parse_max_isa(o.max_isa);
  fo.batch = o.batch;
  fo.kv_type = parse_kv_type(o.kv_type);
  Forward forward(*l.model, fo);
  // The reference run is the semantic spec: nothing is tuned there.
  SessionOptions so = session_options(o.tune);
  so.tune = so.tune && !o.reference;
  so.tuner.profile = o.profile;
  TuningSession session(forward, so);
  const auto warm_start = std::chrono::steady_clock::now();
  const int warm_steps = forward.warm_up();
  const double warm_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - warm_start).count();
  GenerateResult r = generate(forward, *l.tokenizer, o.gen, [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);

  int evaluated = r.prompt_tokens;  // forward steps in the prompt phase
  int decode_steps = r.generated > 0 ? r.generated - 1 : 0;
  std::fprintf(stderr, "\nload time:   %8.2f ms\n", l.seconds * 1e3);
  std::fprintf(stderr, "warm-up:     %8d steps  in %8.2f ms (caches settled before the first token)\n", warm_steps,
               warm_seconds * 1e3);
  std::fprintf(stderr, "prompt:      %8d tokens in %8.2f ms (%8.2f tok/s)\n", evaluated, r.prompt_seconds * 1e3,
               r.prompt_seconds > 0 ? evaluated / r.prompt_seconds : 0.0);
  std::fprintf(stderr, "generation:  %8d tokens in %8.2f ms (%8.2f tok/s)\n", r.generated, r.generation_seconds * 1e3,
               r.generation_seconds > 0 ? decode_steps / r.generation_seconds : 0.0);
  std::fprintf(stderr, "threads:     %8d (%s kernels, at most %s)\n", forward.pool().size(),
               std::string(isa_level_name(forward.cpu().level)).c_str(), o.reference ? "reference" : "best");
  if (r.stopped_at_context) std::fprintf(stderr, "stopped:     context length %d reached\n", forward.context());
  double peak = peak_memory_mib();
  if (peak >= 0) std::fprintf(stderr, "peak memory: %8.1f MiB\n", peak);
  if (session.tuner()) std::fprintf(stderr, "tuning:      %s\n", tuning_summary(session).c_str());
  if (o.profile) {
    TierOf tier_of;
    if (const Tuner* t = session.tuner()) tier_of = [t](const OpInstance& op, bool prompt) { return tier_name(t->tier_of(op, prompt)); };
    std::fprintf(stderr, "\n%s", format_profile(profile_by_shape(forward.ops(), tier_of)).c_str());
    if (const Tuner* t = session.tuner())
      std::fprintf(stderr, "tuner:       %.3f%% of the generation time in its hooks\n",
                   r.generation_seconds > 0 ? 100.0 * t->overhead_cycles() / tsc_hz() / (r.prompt_seconds + r.generation_seconds) : 0.0);
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt");
  cmd->add_option("-m,--model", o->model, "Model file (GGUF or llama2.c .bin)")->required();
  cmd->add_option("-z,--tokenizer", o->tokenizer, "Tokenizer (tokenizer.bin or GGUF); default: the model's own");
  cmd->add_option("-p,--prompt", o->gen.prompt, "Prompt text");
  cmd->add_option("-n,--n-predict", o->gen.max_new_tokens, "Tokens to generate (-1: until the context is full)")
      ->capture_default_str();
  cmd->add_option("--temp", o->gen.sampler.temperature, "Temperature (0 = greedy)")
      ->check(CLI::Range(0.0f, 100.0f))->capture_default_str();
  cmd->add_option("--top-k", o->gen.sampler.top_k, "Top-k (0 = off)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--top-p", o->gen.sampler.top_p, "Top-p nucleus (1 = off)")->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  cmd->add_option("-s,--seed", o->gen.sampler.seed, "Random seed")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all available)")->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx-size", o->context, "Context positions (default: the model's context length, at most 8192)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--reference", o->reference, "Run the reference kernels (the semantic spec) in every op");
  add_kernel_options(*cmd, o->max_isa, o->batch, o->kv_type);
  add_tune_options(*cmd, o->tune);
  cmd->add_flag("--profile", o->profile, "Print calls, TSC cycles and the variant per op shape class (counted for every call)");
  cmd->callback([o] { run_command(*o); });
}

}  // namespace bf::cli
