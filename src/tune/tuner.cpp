#include "tune/tuner.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <map>

#include "graph/profile.h"
#include "util/hash.h"

namespace bf {

std::optional<TierThresholds> parse_tiers(std::string_view text) {
  uint64_t v[3];
  for (int i = 0; i < 3; ++i) {
    const size_t comma = text.find(',');
    if ((i < 2) != (comma != std::string_view::npos)) return std::nullopt;
    const std::string_view part = text.substr(0, comma);
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v[i]);
    if (ec != std::errc() || end != part.data() + part.size() || v[i] == 0) return std::nullopt;
    if (i > 0 && v[i] <= v[i - 1]) return std::nullopt;
    if (i < 2) text.remove_prefix(comma + 1);
  }
  return TierThresholds{v[0], v[1], v[2]};
}

const char* tier_name(Tier t) {
  switch (t) {
    case Tier::Fixed: return "fixed";
    case Tier::Generated: return "generated";
    case Tier::Tuning: return "tuning";
    case Tier::Settled: return "settled";
  }
  return "?";
}

std::string Candidate::describe() const {
  std::string s = variant ? variant->name : conf ? "jit " + conf->str() : gemm ? "gemm " + gemm->str() : "?";
  if (split.threads == 1) s += " t1";
  return s;
}

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

std::string class_key(const OpInstance& op, bool prompt) {
  return "matmul " + std::string(dtype_name(op.weight->type)) + " " + std::to_string(op.rows) + "x" +
         std::to_string(op.cols) + (prompt ? " nN" : " n1");
}

// The regime of the op's call now bound: one token runs the step slot.
int regime_of(const OpInstance& op) { return op.tokens() == 1 ? 0 : 1; }

// A challenger has had its say when it has all its samples or was dropped.
bool finished(const Candidate& c, int samples) { return c.dropped || static_cast<int>(c.ratios.size()) >= samples; }

// Untried challengers are assumed twice as slow when budgeting a token's trials.
constexpr double kUntriedRatio = 2.0;
// A challenger measured this much slower than the incumbent is dropped after one sample.
constexpr double kDropRatio = 1.5;
// Rows of a matmul checked against the reference on the real data: the first and the
// last ones, which covers the interleaved layouts' full groups and their ragged end.
constexpr int64_t kVerifyHead = 64, kVerifyTail = 32, kVerifySpread = 128;
// Same integer products in another order, scaled in f32: differences stay near 1e-6 of
// the largest output; a wrong kernel is off by the outputs' own size.
constexpr double kVerifyBound = 1e-4;

}  // namespace

Tuner::Tuner(Forward& forward, const TunerOptions& options) : forward_(forward), options_(options) {
  build_classes();
  if (options_.log) tsc_hz();  // calibrated here, not inside a token (its log lines give times)
  update_converged();
  update_timing();
  forward_.set_observer(this);
}

// The forward pass outlives the tuner's generated code: give every class its fixed
// variant back first.
Tuner::~Tuner() {
  for (auto& c : classes_) {
    Candidate fixed;
    fixed.variant = c->fixed;
    fixed.split = c->fixed->split;
    for (OpInstance* m : c->members) {
      set_slot(*m, *c, fixed);
      m->watched = false;
    }
  }
  for (OpInstance* op : forward_.ops()) op->timed[0] = op->timed[1] = true;  // profiled as without a tuner
  forward_.set_observer(nullptr);
}

void Tuner::build_classes() {
  std::map<std::string, ShapeClass*> by_key;
  for (OpInstance* op : forward_.ops()) {
    if (op->kind != OpKind::Matmul || op->variant->reference) continue;
    // The classifier runs for one token even in a prompt chunk: token steps only.
    for (bool prompt : {false, true}) {
      if (prompt && op->last_token_only) continue;
      ShapeClass*& c = by_key[class_key(*op, prompt)];
      if (!c) {
        classes_.push_back(std::make_unique<ShapeClass>());
        c = classes_.back().get();
        c->key = class_key(*op, prompt);
        c->prompt = prompt;
        c->fixed = op->variant;
        c->incumbent.variant = op->variant;
        c->incumbent.split = op->split;
        c->incumbent.verified = true;  // fixed variants are tested against the reference
      }
      // Every member of a class got the same fixed variant (same type, shape, CPU).
      set_slot(*op, *c, c->incumbent);
      c->members.push_back(op);
      class_of_op_[op][prompt] = c;
    }
  }
}

void Tuner::set_slot(OpInstance& m, const ShapeClass& c, const Candidate& k) const {
  (c.prompt ? m.variant : m.step.variant) = k.variant;
  (c.prompt ? m.split : m.step.split) = k.split;
}

ShapeClass* Tuner::class_of(const OpInstance& op, bool prompt) const {
  auto it = class_of_op_.find(&op);
  return it == class_of_op_.end() ? nullptr : it->second[prompt];
}

Tier Tuner::tier_of(const OpInstance& op, bool prompt) const {
  const ShapeClass* c = class_of(op, prompt);
  return c ? c->tier : Tier::Fixed;
}

bool Tuner::prompt_settled() const { return all_settled(true) && checks_[1].confirmed; }

bool Tuner::converged() const { return converged_; }

bool Tuner::all_settled(bool prompt) const {
  return std::all_of(classes_.begin(), classes_.end(),
                     [prompt](const auto& c) { return c->prompt != prompt || c->tier == Tier::Settled; });
}

void Tuner::update_converged() {
  converged_ = checks_[0].confirmed && all_settled(false);
  if (converged_ && converged_at_step_ < 0) {
    converged_at_step_ = steps_;
    converged_seconds_ =
        steps_ ? std::chrono::duration<double>(std::chrono::steady_clock::now() - first_step_time_).count() : 0.0;
    if (on_converged_) on_converged_();
  }
}

void Tuner::update_timing() {
  for (OpInstance* op : forward_.ops())
    for (int regime : {0, 1}) {
      const ShapeClass* c = class_of(*op, regime == 1);
      op->timed[regime] = options_.profile || (c && c->tier != Tier::Settled);
    }
}

void Tuner::log(const ShapeClass& c, const std::string& what) {
  if (options_.log) std::fprintf(options_.log, "tune: %s: %s\n", c.key.c_str(), what.c_str());
}

void Tuner::use_fixed_plan(bool fixed, bool prompt) {
  for (auto& c : classes_) {
    if (c->prompt != prompt) continue;
    Candidate k;
    k.variant = fixed ? c->fixed : c->incumbent.variant;
    k.split = fixed ? c->fixed->split : c->incumbent.split;
    for (OpInstance* m : c->members) set_slot(*m, *c, k);
  }
}

// ---- per chunk ----

// The unfinished challenger with the fewest samples, counting the races already set
// up in this token, leaving out those still `waiting` for their code.
int Tuner::next_trial(const ShapeClass& c, const std::vector<int>& waiting) const {
  int best = -1;
  size_t best_count = 0;
  for (int i = 0; i < static_cast<int>(c.challengers.size()); ++i) {
    const Candidate& k = c.challengers[i];
    if (finished(k, options_.samples)) continue;
    if (std::find(waiting.begin(), waiting.end(), i) != waiting.end()) continue;
    size_t count = k.ratios.size();
    for (const ShapeClass::Trial& t : c.trials) count += t.challenger == i;
    if (static_cast<int>(count) >= options_.samples) continue;
    if (best < 0 || count < best_count) {
      best = i;
      best_count = count;
    }
  }
  return best;
}

std::unique_ptr<GenerationJob> Tuner::job_for(const ShapeClass& c, const Candidate& k) const {
  const OpInstance& op = *c.members.front();
  auto job = std::make_unique<GenerationJob>();
  job->type = op.weight->type;
  job->isa = forward_.cpu().level;
  job->cpu = forward_.cpu();
  job->rows = op.rows;
  job->cols = op.cols;
  if (k.conf) job->conf = *k.conf;
  job->gemm = k.gemm;
  return job;
}

void Tuner::submit(const ShapeClass& c, Candidate& k) {
  k.job = job_for(c, k);
  generator_.submit(k.job);
}

// True once a challenger can race: fixed, or its generated code has arrived. Without a
// generator thread, one job per token runs here (`may_generate`).
bool Tuner::ready(ShapeClass& c, Candidate& k, bool& may_generate) {
  if (k.variant) return true;
  if (!k.job) submit(c, k);
  if (!k.job->done.load(std::memory_order_acquire)) {
    if (generator_.threaded() || !may_generate) return false;
    may_generate = false;
    GeneratorThread::run(*k.job);
  }
  const std::shared_ptr<GenerationJob> job = std::move(k.job);
  generation_cycles_ += job->cycles;
  if (!fits(c, job->result.get())) {
    k.dropped = true;
    log(c, k.describe() + " generates nothing for this shape and layout: dropped");
    return false;
  }
  k.gen = std::move(job->result);
  k.variant = &k.gen->variant;
  k.split = k.variant->split;
  if (options_.log) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " in %.3f ms (%zu bytes)", job->cycles / tsc_hz() * 1e3, k.gen->code().size());
    log(c, "generated " + k.variant->name + buf);
  }
  return true;
}

Candidate* Tuner::trial_of(ShapeClass& c, const OpInstance& op) {
  for (const ShapeClass::Trial& t : c.trials)
    if (t.member == &op) return &c.challengers[t.challenger];
  return nullptr;
}

void Tuner::before_chunk(int n_tokens) {
  const int regime = n_tokens == 1 ? 0 : 1;
  const bool work = !options_.frozen && (regime == 0 ? !converged() : !prompt_settled());
  regime_ = work ? regime : -1;
  if (!work) return;
  const uint64_t t0 = read_tsc();
  chunk_start_tsc_ = t0;
  if (!started_ && regime == 0) {
    started_ = true;
    first_step_time_ = std::chrono::steady_clock::now();
    first_step_tsc_ = t0;
  }
  const double budget = options_.max_token_delay * chunk_cycles_[regime];
  double spent = 0;
  bool may_generate = true;
  const size_t n = classes_.size();
  for (size_t i = 0; i < n; ++i) {
    ShapeClass& c = *classes_[(static_cast<size_t>(steps_) + i) % n];
    if (c.prompt != (regime == 1)) continue;
    c.trials.clear();
    if (c.tier != Tier::Generated && c.tier != Tier::Tuning) continue;
    if (c.incumbent_cycles <= 0 || chunk_cycles_[regime] <= 0) continue;  // nothing to compare with yet
    const size_t members = c.members.size();
    if (members == 1 && c.trialed_last) continue;  // its incumbent runs this chunk
    const size_t slots = std::max<size_t>(1, members / 4);
    std::vector<int> waiting;  // challengers whose code is still being generated
    while (c.trials.size() < slots) {
      const int k = next_trial(c, waiting);
      if (k < 0) break;
      Candidate& cand = c.challengers[k];
      const double worst =
          cand.ratios.empty() ? kUntriedRatio : *std::max_element(cand.ratios.begin(), cand.ratios.end());
      const double extra = c.incumbent_cycles * std::max(0.0, worst - 1.0);
      if (options_.max_token_delay > 0 && spent + extra > budget) break;
      if (!ready(c, cand, may_generate)) {
        waiting.push_back(k);
        continue;
      }
      spent += extra;
      OpInstance& m = *c.members[c.next_member++ % members];
      set_slot(m, c, cand);
      m.watched = m.watched || !cand.verified;
      c.trials.push_back({&m, k});
    }
  }
  overhead_cycles_ += read_tsc() - t0;
}

void Tuner::after_op(OpInstance& op) {
  const uint64_t t0 = read_tsc();
  if (ShapeClass* c = class_of(op, regime_of(op) == 1)) {
    Candidate* trial = trial_of(*c, op);
    Candidate& cand = trial ? *trial : c->incumbent;
    if (!cand.verified && !verify(op, cand)) {
      // Its output is wrong: drop it and redo the call before anything reads it.
      cand.dropped = true;
      log(*c, cand.describe() + " differs from the reference on the real data: discarded");
      if (trial) set_slot(op, *c, c->incumbent);
      else fall_back(*c);
      run(op);
    }
  }
  // Still watched while either slot has a check to come (a loaded prompt GEMM is first
  // checked in a prompt chunk, whatever ran before).
  op.watched = false;
  for (bool prompt : {false, true})
    if (ShapeClass* c = class_of(op, prompt)) {
      Candidate* trial = trial_of(*c, op);
      if ((trial && !trial->verified && !trial->dropped) || (!c->incumbent.verified && &op == c->members.front()))
        op.watched = true;
    }
  overhead_cycles_ += read_tsc() - t0;
}

// Loaded code failed its check: the class goes back to tier 0, tunes again, and (token
// steps) the whole plan is checked again.
void Tuner::fall_back(ShapeClass& c) {
  Candidate fixed;
  fixed.variant = c.fixed;
  fixed.split = c.fixed->split;
  fixed.verified = true;
  install(c, std::move(fixed));
  c.tier = Tier::Fixed;
  c.calls = 0;
  update_timing();
  checks_[c.prompt] = PlanCheck{};
  if (c.prompt) return;
  converged_ = false;
  converged_at_step_ = -1;
}

bool Tuner::verify(OpInstance& op, Candidate& cand) {
  cand.verified = outputs_match(op, cand, op.args.matmul, false);
  return cand.verified;
}

// A loaded kernel is checked before the first token, on made-up activations (with the
// real weights): the first token then costs what the others do.
bool Tuner::verify_offline(const ShapeClass& c, Candidate& cand) {
  const OpInstance& op = *c.members.front();
  const int n_tokens = c.prompt ? 5 : 1;  // a GEMM's token tiles, a matvec's one token
  const int64_t cols = op.cols;
  std::vector<float> x(static_cast<size_t>(n_tokens * cols));
  uint32_t state = 0x9e3779b9u;
  for (float& v : x) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(static_cast<int32_t>(state >> 8) % 2001 - 1000) / 500.0f;
  }
  std::vector<int8_t> qs(x.size());
  std::vector<float> d(x.size() / kQBlock + 1);
  std::vector<int32_t> sums(d.size());
  std::vector<float> out(static_cast<size_t>(n_tokens * op.rows));
  MatmulArgs a = op.args.matmul;
  a.x = x.data();
  a.out = out.data();
  a.out_stride = op.rows;
  a.n_tokens = n_tokens;
  if (cand.variant->input == MatmulInput::Q8) {
    a.xq = {qs.data(), d.data(), sums.data()};
    QuantizeArgs q{x.data(), a.xq, cols, n_tokens};
    forward_.registry().best(OpKind::Quantize, forward_.cpu(), nullptr, true).fn(&q, 0, n_tokens);
  }
  cand.verified = outputs_match(op, cand, a, true);
  return cand.verified;
}

// Compares the candidate's outputs (token 0; all tokens when `run_candidate`, which
// runs it here on `a` first) with the reference's on sampled rows: the first and last
// ones (whole groups and the ragged end of interleaved layouts) and a stride of single
// rows through the middle, a few hundred rows at most.
bool Tuner::outputs_match(const OpInstance& op, const Candidate& cand, const MatmulArgs& a, bool run_candidate) {
  const std::string ref_name = "matmul." + std::string(dtype_key(op.weight->type)) +
                               (cand.variant->input == MatmulInput::Q8 ? ".ref-q8" : ".ref");
  const Variant* ref = forward_.registry().find(ref_name);
  if (!ref) return false;
  std::vector<std::pair<int64_t, int64_t>> ranges{{0, std::min(a.rows, kVerifyHead)},
                                                  {std::max<int64_t>(0, a.rows - kVerifyTail), a.rows}};
  const int64_t stride = std::max<int64_t>(1, a.rows / kVerifySpread);
  for (int64_t row = kVerifyHead; row < a.rows - kVerifyTail; row += stride) ranges.emplace_back(row, row + 1);
  const int n_tokens = run_candidate ? a.n_tokens : 1;
  if (run_candidate)
    for (auto [b, e] : ranges) cand.variant->fn(&a, b, e);
  MatmulArgs r = a;
  r.w = op.weight->data;  // the file's blocks: the reference reads the native layout
  r.w_scales = op.weight->scales;
  scratch_.assign(static_cast<size_t>(n_tokens * a.rows), 0.0f);
  r.out = scratch_.data();
  r.out_stride = a.rows;
  r.n_tokens = n_tokens;
  for (auto [b, e] : ranges) ref->fn(&r, b, e);
  double scale = 0;
  for (float v : scratch_) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  const double bound = kVerifyBound * scale + 1e-6;
  for (int t = 0; t < n_tokens; ++t)
    for (auto [b, e] : ranges)
      for (int64_t i = b; i < e; ++i) {
        const double got = a.out[t * a.out_stride + i], want = scratch_[static_cast<size_t>(t * a.rows + i)];
        if (!(std::fabs(got - want) <= bound)) return false;
      }
  return true;
}

void Tuner::after_chunk(int n_tokens) {
  const int regime = n_tokens == 1 ? 0 : 1;
  if (regime_ != regime) return;
  const uint64_t t0 = read_tsc();
  const double cycles = static_cast<double>(t0 - chunk_start_tsc_);
  double& estimate = chunk_cycles_[regime];
  estimate = estimate > 0 ? 0.9 * estimate + 0.1 * cycles : cycles;
  if (regime == 0) ++steps_;
  for (auto& cp : classes_) {
    ShapeClass& c = *cp;
    if (c.prompt != (regime == 1) || c.tier == Tier::Settled) continue;
    c.calls += c.members.size();
    record_sample(c);
    advance(c);
  }
  if (!checks_[regime].confirmed && all_settled(regime == 1)) confirm(regime, cycles);
  overhead_cycles_ += read_tsc() - t0;
  update_converged();
}

void Tuner::record_sample(ShapeClass& c) {
  std::vector<double> others;
  for (OpInstance* m : c.members)
    if (!std::any_of(c.trials.begin(), c.trials.end(), [m](const ShapeClass::Trial& t) { return t.member == m; }))
      others.push_back(static_cast<double>(m->last_cycles));
  if (!others.empty()) c.incumbent_cycles = median(others);
  c.trialed_last = !c.trials.empty();
  for (const ShapeClass::Trial& t : c.trials) {
    OpInstance& m = *t.member;
    set_slot(m, c, c.incumbent);
    m.watched = false;
    Candidate& cand = c.challengers[t.challenger];
    if (cand.dropped || c.incumbent_cycles <= 0) continue;
    const double ratio = static_cast<double>(m.last_cycles) / c.incumbent_cycles;
    cand.ratios.push_back(ratio);
    if (ratio > kDropRatio && cand.ratios.size() == 1) {
      cand.dropped = true;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2fx the incumbent", ratio);
      log(c, cand.describe() + " dropped: " + buf);
    }
  }
  c.trials.clear();
}

// ---- the whole plan ----

bool Tuner::plan_differs(bool prompt) const {
  return std::any_of(classes_.begin(), classes_.end(), [prompt](const auto& c) {
    return c->prompt == prompt &&
           (c->incumbent.variant != c->fixed || c->incumbent.split.threads != c->fixed->split.threads ||
            c->incumbent.split.grain != c->fixed->split.grain);
  });
}

// Called after each chunk of a regime once every class of it settled. Chunks go in
// blocks (8 token steps, or 1 prompt chunk), alternating fixed plan, tuned plan, ...,
// kConfirmRounds blocks each.
void Tuner::confirm(int regime, double chunk_cycles) {
  constexpr int kConfirmRounds = 7;
  const int block = regime == 0 ? 8 : 1;
  const bool prompt = regime == 1;
  const char* what = prompt ? "prompt chunks" : "token steps";
  PlanCheck& p = checks_[regime];
  char buf[200];
  if (!p.started) {
    p = PlanCheck{};
    p.started = true;
    if (!plan_differs(prompt)) {
      p.confirmed = true;
      std::snprintf(buf, sizeof buf, "tune: plan for %s: every class kept its fixed variant", what);
      if (options_.log) std::fprintf(options_.log, "%s\n", buf);
      return;
    }
    use_fixed_plan(true, prompt);  // the first block, from the next chunk
    return;
  }
  p.block_cycles += chunk_cycles;
  if (++p.chunks % block) return;
  const int plan = (p.chunks / block - 1) % 2;  // 0: fixed, 1: tuned
  p.cycles[plan].push_back(p.block_cycles);
  p.block_cycles = 0;
  if (static_cast<int>(p.cycles[1].size()) < kConfirmRounds) {
    use_fixed_plan(plan == 1, prompt);
    return;
  }
  p.confirmed = true;
  const double ratio = median(p.cycles[1]) / median(p.cycles[0]);
  // The tuned plan must win by the noise margin: a tie goes to the fixed plan, so a
  // noisy comparison can cost a gain, never a loss.
  const bool kept = ratio <= 1.0 - options_.noise_margin;
  if (kept) {
    use_fixed_plan(false, prompt);
  } else {
    for (auto& c : classes_) {
      if (c->prompt != prompt) continue;
      Candidate fixed;
      fixed.variant = c->fixed;
      fixed.split = c->fixed->split;
      fixed.verified = true;
      const double cycles = c->incumbent_cycles;
      install(*c, std::move(fixed));
      c->incumbent_cycles = cycles;
    }
  }
  std::snprintf(buf, sizeof buf, "tune: plan for %s: the tuned plan takes %.3fx the fixed plan's time (median of %d blocks): %s",
                what, ratio, kConfirmRounds, kept ? "kept" : "fixed variants kept");
  if (options_.log) std::fprintf(options_.log, "%s\n", buf);
}

// ---- tiers ----

void Tuner::advance(ShapeClass& c) {
  const TierThresholds& t = options_.tiers;
  if (c.tier == Tier::Fixed && c.calls >= t.generate) enter_generated(c);
  if (c.tier == Tier::Generated && c.calls >= t.tune) enter_tuning(c);
  if (c.tier == Tier::Tuning) {
    const bool all_done = std::all_of(c.challengers.begin(), c.challengers.end(),
                                      [&](const Candidate& k) { return finished(k, options_.samples); });
    if (all_done) settle(c, "every candidate measured");
    else if (c.calls >= t.settle) settle(c, "settle threshold reached");
  }
}

// The generated code must read the weights as the members hold them.
bool Tuner::fits(const ShapeClass& c, const jit::GeneratedKernel* g) const {
  return g && g->variant.layout == c.fixed->layout && g->variant.input == c.fixed->input;
}

// Generates a candidate's code on the calling thread (loading a snapshot without code).
std::unique_ptr<jit::GeneratedKernel> Tuner::generate(const ShapeClass& c, const Candidate& k) const {
  std::unique_ptr<GenerationJob> job = job_for(c, k);
  GeneratorThread::run(*job);
  return fits(c, job->result.get()) ? std::move(job->result) : nullptr;
}

namespace {
// The generator's candidates for a class: GEMM confs for prompt chunks, matvec confs for
// token steps; the first is tier 1's.
std::vector<Candidate> generated_candidates(const ShapeClass& c, IsaLevel isa) {
  const DType type = c.members.front()->weight->type;
  std::vector<Candidate> out;
  if (c.prompt) {
    for (const jit::GemmConf& g : jit::gemm_knob_space(type, isa)) {
      out.emplace_back();
      out.back().gemm = g;
    }
  } else {
    for (const jit::MatvecConf& m : jit::knob_space(type, isa)) {
      out.emplace_back();
      out.back().conf = m;
    }
  }
  return out;
}

// The conf text of generated code, as the snapshot stores it.
std::string conf_text(const Candidate& k) { return k.gen ? k.gen->conf_text : ""; }
}  // namespace

void Tuner::enter_generated(ShapeClass& c) {
  c.tier = Tier::Generated;
  std::vector<Candidate> space = generated_candidates(c, forward_.cpu().level);
  if (space.empty()) {
    c.note = "no generator for this type and level";
    log(c, std::string("tier 1 generated: ") + c.note);
    return;
  }
  Candidate k = std::move(space.front());
  submit(c, k);
  log(c, "tier 1 generated: racing " + k.describe());
  c.challengers.push_back(std::move(k));
}

void Tuner::enter_tuning(ShapeClass& c) {
  // Tier 1's verdict first: its challenger replaces the incumbent if it won.
  settle(c, nullptr);
  c.tier = Tier::Tuning;
  const OpInstance& op = *c.members.front();
  const std::string current = c.incumbent.describe();
  auto add = [&](Candidate k) {
    if (k.describe() != current) c.challengers.push_back(std::move(k));
  };
  for (Candidate& k : generated_candidates(c, forward_.cpu().level)) {
    if (c.incumbent.gen && c.incumbent.gen->conf_text == (k.conf ? k.conf->str() : k.gemm->str())) continue;
    submit(c, k);
    add(std::move(k));
  }
  for (const Variant* v : forward_.registry().candidates(OpKind::Matmul, forward_.cpu(), op.weight)) {
    if (v->reference || v->layout != c.fixed->layout || v->input != c.fixed->input) continue;
    if (c.prompt && v->max_tokens == 1) continue;  // a token-step kernel does not take chunks
    for (int threads : {0, 1}) {
      if (threads == 1 && forward_.pool().size() == 1) continue;
      Candidate k;
      k.variant = v;
      k.split = v->split;
      k.split.threads = threads;
      k.verified = true;
      add(std::move(k));
    }
  }
  log(c, "tier 2 tuning: " + std::to_string(c.challengers.size()) + " candidates against " + current);
}

// Installs the best finished challenger if it beats the incumbent by the margin, then
// clears the field; with `why`, the class settles.
void Tuner::settle(ShapeClass& c, const char* why) {
  int best = -1;
  double best_ratio = 1.0 - options_.noise_margin;
  for (int i = 0; i < static_cast<int>(c.challengers.size()); ++i) {
    const Candidate& k = c.challengers[i];
    if (k.dropped || !k.verified || k.ratios.size() < 3) continue;
    const double r = median(k.ratios);
    if (r < best_ratio) {
      best_ratio = r;
      best = i;
    }
  }
  char buf[96];
  if (best >= 0) {
    std::snprintf(buf, sizeof buf, " at %.3fx the incumbent's cycles (median of %zu)", best_ratio,
                  c.challengers[best].ratios.size());
    log(c, "installed " + c.challengers[best].describe() + buf);
    install(c, std::move(c.challengers[best]));
  } else if (!c.challengers.empty()) {
    log(c, "kept " + c.incumbent.describe() + ": no challenger beat it by the noise margin");
  }
  c.challengers.clear();
  c.trials.clear();
  if (!why) return;
  c.tier = Tier::Settled;
  update_timing();
  std::snprintf(buf, sizeof buf, " after %" PRIu64 " calls (%s); %.0f cycles/call", c.calls, why, c.incumbent_cycles);
  log(c, "tier 3 settled on " + c.incumbent.describe() + buf);
}

void Tuner::install(ShapeClass& c, Candidate&& winner) {
  winner.ratios.clear();
  for (OpInstance* m : c.members) set_slot(*m, c, winner);
  c.incumbent = std::move(winner);  // the old incumbent's code is no longer referenced
}

// ---- snapshot ----

std::string Tuner::op_signature() const {
  // Every class's key and member count, and the threads: a split tuned for two threads
  // is not a choice for one.
  std::string text = "threads " + std::to_string(forward_.pool().size()) + ";";
  for (const auto& c : classes_) text += c->key + ":" + std::to_string(c->members.size()) + ";";
  return hex64(fnv1a(text));
}

std::vector<SnapshotEntry> Tuner::export_entries() const {
  std::vector<SnapshotEntry> out;
  // The TSC rate from the tuning itself when it ran long enough to say; calibrating
  // tsc_hz() takes 20 ms, too long for the token that settles the last class.
  const double seconds = started_ ? std::chrono::duration<double>(std::chrono::steady_clock::now() - first_step_time_).count() : 0.0;
  const double hz = seconds > 0.05 ? static_cast<double>(read_tsc() - first_step_tsc_) / seconds : tsc_hz();
  const double ns_per_cycle = 1e9 / hz;
  for (const auto& c : classes_) {
    if (c->tier != Tier::Settled) continue;  // an unsettled class tunes again next time
    SnapshotEntry e;
    e.shape_class = c->key;
    e.variant = c->incumbent.variant->name;
    e.layout = c->incumbent.variant->layout;
    e.grain = c->incumbent.split.grain;
    e.threads = c->incumbent.split.threads;
    e.ns_per_call = c->incumbent_cycles > 0 ? c->incumbent_cycles * ns_per_cycle : c->snapshot_ns;
    if (c->incumbent.gen) {
      e.generator = conf_text(c->incumbent);
      const std::span<const uint8_t> code = c->incumbent.gen->code();
      e.code.assign(code.begin(), code.end());
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool Tuner::apply(const std::vector<SnapshotEntry>& entries, std::string* why) {
  std::vector<std::pair<ShapeClass*, Candidate>> plan;
  for (const SnapshotEntry& e : entries) {
    auto it = std::find_if(classes_.begin(), classes_.end(), [&](const auto& c) { return c->key == e.shape_class; });
    if (it == classes_.end()) {
      *why = "it names shape class '" + e.shape_class + "', which this model does not have";
      return false;
    }
    ShapeClass& c = **it;
    const OpInstance& op = *c.members.front();
    Candidate k;
    if (e.generator.empty()) {
      k.variant = forward_.registry().find(e.variant);
      if (!k.variant || !k.variant->runs_on(forward_.cpu()) || k.variant->layout != c.fixed->layout ||
          k.variant->input != c.fixed->input || k.variant->type != op.weight->type) {
        *why = "variant '" + e.variant + "' is not usable for " + c.key + " here";
        return false;
      }
      k.verified = true;
    } else {
      if (c.prompt) k.gemm = jit::GemmConf::parse(e.generator);
      else k.conf = jit::MatvecConf::parse(e.generator);
      if (!k.conf && !k.gemm) {
        *why = "generator conf '" + e.generator + "' is not understood";
        return false;
      }
      const IsaLevel isa = forward_.cpu().level;
      if (e.code.empty()) k.gen = generate(c, k);
      else if (c.prompt) k.gen = jit::load_gemm(op.weight->type, isa, op.rows, op.cols, *k.gemm, e.code);
      else k.gen = jit::load_matvec(op.weight->type, isa, op.rows, op.cols, *k.conf, e.code);
      if (!k.gen || k.gen->variant.name != e.variant || k.gen->variant.layout != c.fixed->layout) {
        *why = "generated variant '" + e.variant + "' cannot be rebuilt for " + c.key;
        return false;
      }
      k.variant = &k.gen->variant;
    }
    c.snapshot_ns = e.ns_per_call;
    k.split = k.variant->split;
    k.split.grain = e.grain;
    k.split.threads = e.threads == 1 ? 1 : 0;
    plan.emplace_back(&c, std::move(k));
  }
  for (auto& [c, k] : plan) {
    if (!k.verified && !verify_offline(*c, k)) {
      // Wrong code in a well-formed file: never run; the class tunes again.
      log(*c, k.describe() + " from the snapshot differs from the reference on a test input: discarded");
      continue;
    }
    install(*c, std::move(k));
    c->tier = Tier::Settled;
    c->note = "from the snapshot";
    log(*c, "from the snapshot: " + c->incumbent.describe());
  }
  // A whole plan was confirmed before it was saved.
  checks_[0].confirmed = all_settled(false);
  checks_[1].confirmed = all_settled(true);
  update_converged();
  update_timing();
  return true;
}

}  // namespace bf
