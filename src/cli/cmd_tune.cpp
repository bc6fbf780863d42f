// bareflow tune: a tuning pass without generating text. It runs token steps on random
// tokens until every shape class settled (or --seconds passed), with no bound on the
// delay trials add, saves the snapshot, then measures in the same run: the tuned plan
// against the best fixed variants and the reference kernels, and a second start from
// the snapshot (its first token against its steady state).
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>

#include "cli/commands.h"
#include "cli/tune_options.h"
#include "graph/profile.h"
#include "threads/pool.h"
#include "util/error.h"

namespace bf::cli {
namespace {

struct TuneCommandOptions {
  std::string model;
  int threads = 0;
  double seconds = 120;
  int context = 256;
  std::string max_isa;
  std::string kv_type = "f16";
  bool measure = true;
  TuneCliOptions tune;
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Runs `n` token steps from position `pos` (wrapping at the context); returns seconds.
double run_steps(Forward& f, std::mt19937& rng, int n, int& pos) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    f.step(static_cast<int>(rng() % static_cast<uint32_t>(f.model().config.vocab_size)), pos);
    pos = (pos + 1) % f.context();
  }
  return seconds_since(t0);
}

ForwardOptions forward_options(const TuneCommandOptions& o, bool reference) {
  ForwardOptions fo;
  fo.threads = o.threads > 0 ? o.threads : ThreadPool::available_threads();
  fo.context = o.context;
  fo.max_isa = parse_max_isa(o.max_isa);
  fo.kv_type = parse_kv_type(o.kv_type);
  fo.reference = reference;
  return fo;
}

void print_classes(const Tuner& t) {
  std::printf("%-34s %-9s %10s  %s\n", "shape class (n1: token steps, nN: prompt chunks)", "tier", "cycles", "variant");
  for (const auto& c : t.classes())
    std::printf("%-34s %-9s %10.0f  %s\n", c->key.c_str(), tier_name(c->tier), c->incumbent_cycles,
                c->incumbent.describe().c_str());
}

// One prompt chunk of n random tokens at position 0; returns seconds.
double run_prompt(Forward& f, std::mt19937& rng, int n) {
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(f.model().config.vocab_size));
  const auto t0 = Clock::now();
  f.prompt(tokens.data(), n, 0);
  return seconds_since(t0);
}

// The fixed and the tuned plan of one regime, in rounds of one run each; the order
// alternates between rounds so that a drifting machine favours neither. Each round
// gives a paired ratio (tuned time / fixed time), whose median is the verdict: pairs
// cancel most of a shared machine's noise, which best-of figures keep.
struct PlanComparison {
  double best_fixed = 1e30, best_tuned = 1e30;  // seconds of one run
  double ratio = 0;                             // median of tuned/fixed per round
  static constexpr int kRounds = 9;
};
template <class RunOnce>
PlanComparison compare_plans(Tuner& t, bool prompt, const RunOnce& run_once) {
  PlanComparison c;
  std::vector<double> ratios;
  for (int round = 0; round < PlanComparison::kRounds; ++round) {
    double seconds[2];  // [0] fixed, [1] tuned
    for (int i = 0; i < 2; ++i) {
      const int plan = (round + i) % 2;
      t.use_fixed_plan(plan == 0, prompt);
      seconds[plan] = run_once();
    }
    c.best_fixed = std::min(c.best_fixed, seconds[0]);
    c.best_tuned = std::min(c.best_tuned, seconds[1]);
    ratios.push_back(seconds[1] / seconds[0]);
  }
  t.use_fixed_plan(false, prompt);
  std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
  c.ratio = ratios[ratios.size() / 2];
  return c;
}

void measure_prompt_plans(Forward& f, Tuner& t, std::mt19937& rng, int n) {
  const PlanComparison c = compare_plans(t, true, [&] { return run_prompt(f, rng, n); });
  std::printf("prompt, tuned: %9.2f tok/s\nprompt, fixed: %9.2f tok/s (best of %d chunks of %d tokens each)\n"
              "prompt tuned/fixed: %.3fx (median of %d paired rounds)\n",
              n / c.best_tuned, n / c.best_fixed, PlanComparison::kRounds, n, 1.0 / c.ratio, PlanComparison::kRounds);
}

// Returns the tuned plan's tokens per second (best round).
double measure_plans(Forward& f, Tuner& t, std::mt19937& rng, int& pos) {
  const int steps = std::max(8, std::min(64, f.context() / 2));
  const PlanComparison c = compare_plans(t, false, [&] { return run_steps(f, rng, steps, pos); });
  std::printf("tuned plan:    %9.2f tok/s\nfixed plan:    %9.2f tok/s (best fixed variants, tier 0; best of %d rounds of %d steps)\n"
              "tuned/fixed:   %9.3fx (median of %d paired rounds)\n",
              steps / c.best_tuned, steps / c.best_fixed, PlanComparison::kRounds, steps, 1.0 / c.ratio,
              PlanComparison::kRounds);
  return steps / c.best_tuned;
}

void measure_reference(const Model& m, const TuneCommandOptions& o, double tuned_tok_s, std::mt19937& rng) {
  Forward ref(m, forward_options(o, true));
  int pos = 0;
  run_steps(ref, rng, 1, pos);
  const int steps = 4;
  const double s = run_steps(ref, rng, steps, pos);
  std::printf("reference:     %9.2f tok/s; tuned/reference %.1fx\n", steps / s, tuned_tok_s * s / steps);
}

// A fresh engine's first token step (after the warm-up steps `run` makes at load) against
// the median of the 16 after it.
struct FirstStep {
  double first = 0, steady = 0;
};
FirstStep time_first_step(Forward& f, std::mt19937& rng) {
  f.warm_up();  // as `run` does at load
  int pos = 0;
  FirstStep r;
  r.first = run_steps(f, rng, 1, pos);
  std::vector<double> rest;
  for (int i = 0; i < 16; ++i) rest.push_back(run_steps(f, rng, 1, pos));
  std::nth_element(rest.begin(), rest.begin() + rest.size() / 2, rest.end());
  r.steady = rest[rest.size() / 2];
  return r;
}

// A second start from the snapshot, and for comparison a start with no tuner at all.
void measure_second_start(const Model& m, const TuneCommandOptions& o, std::mt19937& rng) {
  FirstStep plain;
  {
    Forward f(m, forward_options(o, false));
    plain = time_first_step(f, rng);
  }
  Forward f(m, forward_options(o, false));
  SessionOptions so = session_options(o.tune);
  so.tuner.log = nullptr;
  TuningSession session(f, so);
  const FirstStep tuned = time_first_step(f, rng);
  const bool tuned_from_start = session.tuner() && session.tuner()->steps_to_converge() == 0;
  std::printf("second start:  snapshot %s; first step %.3f ms, steady %.3f ms (%.2fx); %s\n",
              session.loaded() ? "loaded" : "NOT loaded", tuned.first * 1e3, tuned.steady * 1e3,
              tuned.first / tuned.steady, tuned_from_start ? "no tuning at all" : "some classes still tune");
  std::printf("plain start:   no tuner; first step %.3f ms, steady %.3f ms (%.2fx)\n", plain.first * 1e3,
              plain.steady * 1e3, plain.first / plain.steady);
}

void tune_command(const TuneCommandOptions& o) {
  LoadedModel l = load_model_and_tokenizer(o.model, "");
  Forward forward(*l.model, forward_options(o, false));
  SessionOptions so = session_options(o.tune);
  so.tuner.max_token_delay = 0;  // nothing waits for these tokens
  int pos = 0;
  std::mt19937 rng(1234);
  double tuned_tok_s = 0;
  {
    TuningSession session(forward, so);
    Tuner* t = session.tuner();
    if (!t) throw InputError("--no-tune", "tune with --no-tune has nothing to do");
    const auto t0 = Clock::now();
    // Token steps, with a prompt chunk before every 8 of them while prompt classes tune.
    const int prompt_tokens = std::max(2, std::min(64, forward.context() / 2));
    while ((!t->converged() || !t->prompt_settled()) && seconds_since(t0) < o.seconds) {
      if (!t->prompt_settled()) {
        run_prompt(forward, rng, prompt_tokens);
        pos = prompt_tokens % forward.context();
      }
      run_steps(forward, rng, 8, pos);
    }
    if (!session.snapshot_file().empty()) session.save();  // the prompt classes too
    std::printf("model:         %s (%d threads, %s kernels)\n", o.model.c_str(), forward.pool().size(),
                std::string(isa_level_name(forward.cpu().level)).c_str());
    if (t->converged())
      std::printf("converged:     after %" PRId64 " token steps, %.2f s%s\n", t->steps_to_converge(),
                  t->seconds_to_converge(), session.loaded() ? " (from the snapshot)" : "");
    else
      std::printf("not converged: %" PRId64 " steps in %.0f s (--seconds)\n", t->steps(), o.seconds);
    std::printf("tuner hooks:   %.3f%% of the tuning time; kernel generation %.1f ms (on the generator thread, or inline where there is none)\n",
                100.0 * t->overhead_cycles() / (seconds_since(t0) * tsc_hz()), t->generation_cycles() / tsc_hz() * 1e3);
    std::printf("snapshot:      %s\n", session.snapshot_file().empty() ? "(none: --no-state)" : session.snapshot_file().c_str());
    print_classes(*t);
    if (!o.measure) return;
    tuned_tok_s = measure_plans(forward, *t, rng, pos);
    measure_prompt_plans(forward, *t, rng, prompt_tokens);
  }
  measure_reference(*l.model, o, tuned_tok_s, rng);
  if (so.state_dir) measure_second_start(*l.model, o, rng);
}

}  // namespace

void add_tune_command(CLI::App& app) {
  auto o = std::make_shared<TuneCommandOptions>();
  CLI::App* cmd = app.add_subcommand("tune", "Tune the kernels for a model on this CPU and save the snapshot");
  cmd->add_option("-m,--model", o->model, "Model file (GGUF or llama2.c .bin)")->required();
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all available)")->check(CLI::Range(0, 1024));
  cmd->add_option("--seconds", o->seconds, "Stop tuning after this long even if not converged")
      ->check(CLI::Range(0.1, 86400.0))->capture_default_str();
  cmd->add_option("-c,--ctx-size", o->context, "Positions the tuning steps cycle through")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd->add_option("--max-isa", o->max_isa, "Use no kernel above this level");
  cmd->add_option("--kv-type", o->kv_type, "KV cache element type: f32 or f16")->capture_default_str();
  cmd->add_flag("!--no-measure", o->measure, "Skip the tuned/fixed/reference and second-start measurements");
  add_tune_options(*cmd, o->tune);
  cmd->callback([o] { tune_command(*o); });
}

}  // namespace bf::cli
