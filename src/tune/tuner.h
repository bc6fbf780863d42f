// Tiers and the autotuner: every matmul shape class starts at its best fixed variant
// and is watched from its first call; call counts move it up the tiers.
//
//   tier 0  fixed      the best fixed variant for the (capped) ISA, as the forward pass
//                      installs it. Not the reference: that is 10-100x slower and the
//                      fixed variants are themselves tested against it, so starting there
//                      would only slow the first tokens down.
//   tier 1  generated  after `generate` calls: the generator's default conf for this exact
//                      shape, verified against the reference on the real data, then raced
//                      against the incumbent; installed only when it wins.
//   tier 2  tuning     after `tune` calls: every candidate (the generator's knob space, the
//                      other fixed variants of the same layout, one-thread splits) raced
//                      the same way; the winner is installed when it beats the incumbent by
//                      more than the noise margin.
//   tier 3  settled    when every candidate was measured, or after `settle` calls: no more
//                      trials, no more watching; the choice goes into the snapshot.
//
// Races run on the real calls of the running model. A shape class groups the instances
// with the same weight type and shape (one per layer): in a token, one member runs the
// candidate and the others the incumbent, so each sample is a ratio of two calls made
// under the same conditions, which cancels most of a shared machine's noise. The ratios'
// median decides. A class of n members races up to n/4 challengers per token (one
// member each); a one-member class alternates trial and incumbent tokens. Trials are
// budgeted so that they add at most `max_token_delay` of a token's time (a candidate is
// assumed twice as slow until measured, and one measured more than 1.5x slower is
// dropped at once). Code is generated on a thread of its own (generator_thread.h) when
// a tier starts; a challenger races once its code is there.
//
// Per-class races cannot see how choices interact (a one-thread split lets the other
// thread idle for longer, for one), so once every class of a regime settled its whole
// plan is confirmed: blocks of chunks alternate between the tuned plan and the fixed one,
// and the tuned plan stays only if its median block is faster by the noise margin. The
// tuner never ends slower than tier 0 by more than that comparison's noise.
//
// Two regimes, each with its own classes and slot of the op: token steps (key "... n1",
// OpInstance::step: matvecs) and prompt chunks ("... nN", the op's own variant: GEMMs,
// racing generated GEMMs against the fixed kernels the same way, one trial per member and
// chunk). Calls count per class, so prompt classes tier up only where prompts are long
// or many (`bareflow tune` runs them); converged() and the whole-plan check concern the
// token steps, where generation spends its time.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graph/forward.h"
#include "jit/jit.h"
#include "tune/generator_thread.h"
#include "snapshot/snapshot.h"

namespace bf {

struct TierThresholds {
  uint64_t generate = 100, tune = 1000, settle = 10000;  // calls of a shape class
};
// "100,1000,10000": three increasing positive counts; nullopt otherwise.
std::optional<TierThresholds> parse_tiers(std::string_view text);

enum class Tier : uint8_t { Fixed = 0, Generated = 1, Tuning = 2, Settled = 3 };
const char* tier_name(Tier t);

struct TunerOptions {
  TierThresholds tiers;
  double noise_margin = 0.03;     // a challenger must be this much faster to be installed
  double max_token_delay = 0.10;  // share of a token trials may add; 0: unbounded (`bareflow tune`)
  int samples = 7;                // timed calls per candidate
  bool frozen = false;            // no tier changes: run what is installed (or loaded)
  bool profile = false;           // time every call (--profile), settled instances too
  std::FILE* log = nullptr;       // -v: one line per tier change and per verdict
};

// One way to run a shape class's token steps.
struct Candidate {
  const Variant* variant = nullptr;               // a fixed variant, or gen->variant
  std::unique_ptr<jit::GeneratedKernel> gen;      // owns generated code
  std::optional<jit::MatvecConf> conf;            // a generated matvec's knobs (token steps)
  std::optional<jit::GemmConf> gemm;              // a generated GEMM's knobs (prompt chunks)
  std::shared_ptr<GenerationJob> job;             // its code, being generated
  Split split;
  std::vector<double> ratios;  // cycles per call relative to the incumbent, one per sample
  bool verified = false;       // output checked against the reference on real data
  bool dropped = false;        // failed verification or far too slow
  std::string describe() const;
};

struct ShapeClass {
  std::string key;  // "matmul Q4_0 2048x5632 n1" (token steps) or "... nN" (prompt chunks)
  bool prompt = false;  // the regime: prompt chunks (the op's variant) or token steps (its step slot)
  std::vector<OpInstance*> members;
  Tier tier = Tier::Fixed;
  uint64_t calls = 0;     // calls of the regime over all members
  Candidate incumbent;    // what the members' slot of the regime runs
  std::vector<Candidate> challengers;
  struct Trial {
    OpInstance* member;
    int challenger;
  };
  std::vector<Trial> trials;  // this token's races
  size_t next_member = 0;     // trials rotate over the members
  double incumbent_cycles = 0;  // latest per-call cost of the incumbent (a member's median)
  double snapshot_ns = 0;       // its cost as the snapshot it came from recorded it
  bool trialed_last = false;    // a one-member class alternates trial and incumbent tokens
  const Variant* fixed = nullptr;  // the tier-0 variant: the fallback if loaded code fails
  std::string note;       // why a tier was skipped, for the log and the profile
};

class Tuner : public ChunkObserver {
 public:
  Tuner(Forward& forward, const TunerOptions& options);
  ~Tuner() override;

  void before_chunk(int n_tokens) override;
  void after_op(OpInstance& op) override;
  void after_chunk(int n_tokens) override;

  bool converged() const;
  // Called once, when the last class settles (the snapshot is saved there).
  void set_on_converged(std::function<void()> fn) { on_converged_ = std::move(fn); }
  // Token steps and seconds from the first step until the last class settled (-1: not yet).
  int64_t steps_to_converge() const { return converged_at_step_; }
  double seconds_to_converge() const { return converged_seconds_; }
  int64_t steps() const { return steps_; }
  // Cycles spent inside the tuner's hooks (its own overhead).
  uint64_t overhead_cycles() const { return overhead_cycles_; }
  // Of those, the cycles spent generating kernels.
  uint64_t generation_cycles() const { return generation_cycles_; }

  const std::vector<std::unique_ptr<ShapeClass>>& classes() const { return classes_; }
  // Adds a challenger to a class in tier 1 or 2. Unless marked verified it is checked
  // against the reference on its first call, like the tuner's own (tests race broken ones).
  void race(ShapeClass& c, Candidate k) { c.challengers.push_back(std::move(k)); }
  // Runs every class of a regime on its tier-0 fixed variant (true) or its incumbent
  // (false), for measuring the tuned plan against the fixed one in the same run.
  void use_fixed_plan(bool fixed, bool prompt);
  // The tier of the class `op` belongs to in a regime (Fixed for ops that are not tuned).
  Tier tier_of(const OpInstance& op, bool prompt) const;
  // Every prompt class settled (`bareflow tune` runs prompt chunks until then).
  bool prompt_settled() const;

  // Hash of every class key and its member count: the snapshot's op signature.
  std::string op_signature() const;
  std::vector<SnapshotEntry> export_entries() const;
  // Installs a snapshot's choices and settles every class it covers. False (with `why`)
  // when an entry cannot be honoured; then nothing is changed.
  bool apply(const std::vector<SnapshotEntry>& entries, std::string* why);

 private:
  void build_classes();
  void update_converged();
  // Sets each op's `timed`: per regime, only instances whose class of it still tunes
  // are timed (the races read their cycles), unless options_.profile asks for all.
  void update_timing();
  bool all_settled(bool prompt) const;
  ShapeClass* class_of(const OpInstance& op, bool prompt) const;
  void set_slot(OpInstance& m, const ShapeClass& c, const Candidate& k) const;
  void fall_back(ShapeClass& c);
  bool plan_differs(bool prompt) const;
  void confirm(int regime, double chunk_cycles);
  void advance(ShapeClass& c);
  void enter_generated(ShapeClass& c);
  void enter_tuning(ShapeClass& c);
  void settle(ShapeClass& c, const char* why);
  void install(ShapeClass& c, Candidate&& winner);
  void record_sample(ShapeClass& c);
  bool verify(OpInstance& op, Candidate& cand);
  bool verify_offline(const ShapeClass& c, Candidate& cand);
  bool outputs_match(const OpInstance& op, const Candidate& cand, const MatmulArgs& a, bool run_candidate);
  int next_trial(const ShapeClass& c, const std::vector<int>& waiting) const;
  bool ready(ShapeClass& c, Candidate& k, bool& may_generate);
  void submit(const ShapeClass& c, Candidate& k);
  bool fits(const ShapeClass& c, const jit::GeneratedKernel* g) const;
  Candidate* trial_of(ShapeClass& c, const OpInstance& op);
  void log(const ShapeClass& c, const std::string& what);
  std::unique_ptr<jit::GeneratedKernel> generate(const ShapeClass& c, const Candidate& k) const;
  std::unique_ptr<GenerationJob> job_for(const ShapeClass& c, const Candidate& k) const;

  Forward& forward_;
  TunerOptions options_;
  std::vector<std::unique_ptr<ShapeClass>> classes_;
  // Tuned ops only: [0] their token-step class, [1] their prompt class (or null).
  std::unordered_map<const OpInstance*, std::array<ShapeClass*, 2>> class_of_op_;
  int regime_ = -1;  // of the chunk running: 0 token step, 1 prompt chunk, -1 nothing to do
  uint64_t chunk_start_tsc_ = 0;
  double chunk_cycles_[2] = {0, 0};  // running estimates of a token step's and a prompt chunk's cycles
  int64_t steps_ = 0;
  int64_t converged_at_step_ = -1;
  double converged_seconds_ = -1;
  bool started_ = false;
  uint64_t first_step_tsc_ = 0;
  std::chrono::steady_clock::time_point first_step_time_;
  uint64_t overhead_cycles_ = 0;
  uint64_t generation_cycles_ = 0;
  std::vector<float> scratch_;  // reference outputs for verification
  bool converged_ = false;
  // The whole-plan check of each regime (confirm()).
  struct PlanCheck {
    bool started = false, confirmed = false;
    int chunks = 0;
    double block_cycles = 0;
    std::vector<double> cycles[2];  // per block: [0] fixed plan, [1] tuned plan
  };
  PlanCheck checks_[2];
  std::function<void()> on_converged_;
  GeneratorThread generator_;  // last: stopped before the candidates its jobs belong to go
};

}  // namespace bf
