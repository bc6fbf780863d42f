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
  std::string s = variant ? variant->name : conf ? "jit " + conf->str() : "?";
  if (split.threads == 1) s += " t1";
  return s;
}

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

std::string class_key(const OpInstance& op) {
  return "matmul " + std::string(dtype_name(op.weight->type)) + " " + std::to_string(op.rows) + "x" +
         std::to_string(op.cols) + " n1";
}

// A challenger has had its say when it has all its samples or was dropped.
bool finished(const Candidate& c, int samples) { return c.dropped || static_cast<int>(c.ratios.size()) >= samples; }

// Untried challengers are assumed twice as slow when budgeting a token's trials.
constexpr double kUntriedRatio = 2.0;
// A challenger measured this much slower than the incumbent is dropped after one sample.
constexpr double kDropRatio = 1.5;
// Rows of a matmul checked against the reference on the real data: the first and the
// last ones, which covers the interleaved layouts' full groups and their ragged end.
constexpr int64_t kVerifyHead = 64, kVerifyTail = 32;
// Same integer products in another order, scaled in f32: differences stay near 1e-6 of
// the largest output; a wrong kernel is off by the outputs' own size.
constexpr double kVerifyBound = 1e-4;

}  // namespace

Tuner::Tuner(Forward& forward, const TunerOptions& options) : forward_(forward), options_(options) {
  build_classes();
  if (options_.log) tsc_hz();  // calibrated here, not inside a token (its log lines give times)
  update_converged();
  forward_.set_observer(this);
}

Tuner::~Tuner() { forward_.set_observer(nullptr); }

void Tuner::build_classes() {
  std::map<std::string, ShapeClass*> by_key;
  for (OpInstance* op : forward_.ops()) {
    if (op->kind != OpKind::Matmul || op->variant->reference) continue;
    ShapeClass*& c = by_key[class_key(*op)];
    if (!c) {
      classes_.push_back(std::make_unique<ShapeClass>());
      c = classes_.back().get();
      c->key = class_key(*op);
      c->fixed = op->variant;
      c->incumbent.variant = op->variant;
      c->incumbent.split = op->split;
      c->incumbent.verified = true;  // fixed variants are tested against the reference
    }
    // Every member of a class got the same fixed variant (same type, shape, CPU).
    op->step.variant = c->incumbent.variant;
    op->step.split = c->incumbent.split;
    c->members.push_back(op);
    class_of_op_[op] = c;
  }
}

Tier Tuner::tier_of(const OpInstance& op) const {
  auto it = class_of_op_.find(&op);
  return it == class_of_op_.end() ? Tier::Fixed : it->second->tier;
}

bool Tuner::converged() const { return converged_; }

bool Tuner::all_settled() const {
  return std::all_of(classes_.begin(), classes_.end(), [](const auto& c) { return c->tier == Tier::Settled; });
}

void Tuner::update_converged() {
  converged_ = confirmed_ && all_settled();
  if (converged_ && converged_at_step_ < 0) {
    converged_at_step_ = steps_;
    converged_seconds_ =
        steps_ ? std::chrono::duration<double>(std::chrono::steady_clock::now() - first_step_time_).count() : 0.0;
    if (on_converged_) on_converged_();
  }
}

void Tuner::log(const ShapeClass& c, const std::string& what) {
  if (options_.log) std::fprintf(options_.log, "tune: %s: %s\n", c.key.c_str(), what.c_str());
}

void Tuner::use_fixed_plan(bool fixed) {
  for (auto& c : classes_)
    for (OpInstance* m : c->members) {
      m->step.variant = fixed ? c->fixed : c->incumbent.variant;
      m->step.split = fixed ? c->fixed->split : c->incumbent.split;
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

void Tuner::submit(const ShapeClass& c, Candidate& k) {
  const OpInstance& op = *c.members.front();
  k.job = std::make_shared<GenerationJob>();
  k.job->type = op.weight->type;
  k.job->isa = forward_.cpu().level;
  k.job->cpu = forward_.cpu();
  k.job->rows = op.rows;
  k.job->cols = op.cols;
  k.job->conf = *k.conf;
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
    log(c, "conf " + k.conf->str() + " generates nothing for this shape and layout: dropped");
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
  in_step_ = n_tokens == 1 && !converged() && !options_.frozen;
  if (!in_step_) return;
  const uint64_t t0 = read_tsc();
  chunk_start_tsc_ = t0;
  if (!started_) {
    started_ = true;
    first_step_time_ = std::chrono::steady_clock::now();
    first_step_tsc_ = t0;
  }
  const double budget = options_.max_token_delay * token_cycles_;
  double spent = 0;
  bool may_generate = true;
  const size_t n = classes_.size();
  for (size_t i = 0; i < n; ++i) {
    ShapeClass& c = *classes_[(static_cast<size_t>(steps_) + i) % n];
    c.trials.clear();
    if (c.tier != Tier::Generated && c.tier != Tier::Tuning) continue;
    if (c.incumbent_cycles <= 0 || token_cycles_ <= 0) continue;  // nothing to compare with yet
    const size_t members = c.members.size();
    if (members == 1 && c.trialed_last) continue;  // its incumbent runs this token
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
      m.step.variant = cand.variant;
      m.step.split = cand.split;
      m.watched = !cand.verified;
      c.trials.push_back({&m, k});
    }
  }
  overhead_cycles_ += read_tsc() - t0;
}

void Tuner::after_op(OpInstance& op) {
  if (op.tokens() != 1) return;  // a prompt chunk: the step slot did not run
  const uint64_t t0 = read_tsc();
  op.watched = false;
  auto it = class_of_op_.find(&op);
  if (it != class_of_op_.end()) {
    ShapeClass& c = *it->second;
    Candidate* trial = trial_of(c, op);
    Candidate& cand = trial ? *trial : c.incumbent;
    if (!cand.verified && !verify(c, op, cand)) {
      // Its output is wrong: drop it and redo the call before anything reads it.
      cand.dropped = true;
      log(c, cand.describe() + " differs from the reference on the real data: discarded");
      if (!trial) {
        Candidate fallback;
        fallback.variant = c.fixed;
        fallback.split = c.fixed->split;
        fallback.verified = true;
        install(c, std::move(fallback));
        c.tier = Tier::Fixed;  // it tunes again, and the whole plan is checked again
        c.calls = 0;
        confirmed_ = converged_ = confirming_ = false;
        converged_at_step_ = -1;
      } else {
        op.step.variant = c.incumbent.variant;
        op.step.split = c.incumbent.split;
      }
      run(op);
    }
  }
  overhead_cycles_ += read_tsc() - t0;
}

bool Tuner::verify(ShapeClass& c, OpInstance& op, Candidate& cand) {
  (void)c;
  const MatmulArgs& a = op.args.matmul;
  const std::string ref_name = "matmul." + std::string(dtype_key(op.weight->type)) +
                               (cand.variant->input == MatmulInput::Q8 ? ".ref-q8" : ".ref");
  const Variant* ref = forward_.registry().find(ref_name);
  if (!ref) return false;
  MatmulArgs r = a;
  r.w = op.weight->data;
  r.w_scales = op.weight->scales;
  scratch_.assign(static_cast<size_t>(a.rows), 0.0f);
  r.out = scratch_.data();
  r.out_stride = a.rows;
  r.n_tokens = 1;
  const int64_t head = std::min(a.rows, kVerifyHead);
  const int64_t tail = std::max(head, a.rows - kVerifyTail);
  ref->fn(&r, 0, head);
  if (tail < a.rows) ref->fn(&r, tail, a.rows);
  double scale = 0;
  for (float v : scratch_) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  const double bound = kVerifyBound * scale + 1e-6;
  for (int64_t i = 0; i < a.rows; ++i) {
    if (i == head) i = tail;
    if (i >= a.rows) break;
    const double got = a.out[i], want = scratch_[static_cast<size_t>(i)];
    if (!(std::fabs(got - want) <= bound)) return false;
  }
  cand.verified = true;
  return true;
}

void Tuner::after_chunk(int n_tokens) {
  if (!in_step_ || n_tokens != 1) return;
  const uint64_t t0 = read_tsc();
  const double token = static_cast<double>(t0 - chunk_start_tsc_);
  token_cycles_ = token_cycles_ > 0 ? 0.9 * token_cycles_ + 0.1 * token : token;
  ++steps_;
  for (auto& cp : classes_) {
    ShapeClass& c = *cp;
    if (c.tier == Tier::Settled) continue;
    c.calls += c.members.size();
    record_sample(c);
    advance(c);
  }
  if (!confirmed_ && all_settled()) confirm(token);
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
    m.step.variant = c.incumbent.variant;
    m.step.split = c.incumbent.split;
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

bool Tuner::plan_differs() const {
  return std::any_of(classes_.begin(), classes_.end(), [](const auto& c) {
    return c->incumbent.variant != c->fixed || c->incumbent.split.threads != c->fixed->split.threads ||
           c->incumbent.split.grain != c->fixed->split.grain;
  });
}

// Called after each token step once every class settled. Token steps go in blocks of
// kConfirmBlock, alternating fixed plan, tuned plan, ..., kConfirmRounds blocks each.
void Tuner::confirm(double token_cycles) {
  constexpr int kConfirmBlock = 8, kConfirmRounds = 5;
  if (!confirming_) {
    confirming_ = true;
    confirm_steps_ = 0;
    block_cycles_ = 0;
    plan_cycles_[0].clear();
    plan_cycles_[1].clear();
    if (!plan_differs()) {
      confirmed_ = true;
      if (options_.log) std::fprintf(options_.log, "tune: plan: every class kept its fixed variant\n");
      return;
    }
    use_fixed_plan(true);  // the first block, from the next token
    return;
  }
  block_cycles_ += token_cycles;
  if (++confirm_steps_ % kConfirmBlock) return;
  const int plan = (confirm_steps_ / kConfirmBlock - 1) % 2;  // 0: fixed, 1: tuned
  plan_cycles_[plan].push_back(block_cycles_);
  block_cycles_ = 0;
  if (static_cast<int>(plan_cycles_[1].size()) < kConfirmRounds) {
    use_fixed_plan(plan == 1);
    return;
  }
  confirmed_ = true;
  const double ratio = median(plan_cycles_[1]) / median(plan_cycles_[0]);
  char buf[160];
  if (ratio <= 1.0) {
    use_fixed_plan(false);
    std::snprintf(buf, sizeof buf, "tune: plan: the tuned plan takes %.3fx the fixed plan's token time (median of %d blocks of %d tokens): kept",
                  ratio, kConfirmRounds, kConfirmBlock);
  } else {
    for (auto& c : classes_) {
      Candidate fixed;
      fixed.variant = c->fixed;
      fixed.split = c->fixed->split;
      fixed.verified = true;
      fixed.ratios.clear();
      const double cycles = c->incumbent_cycles;
      install(*c, std::move(fixed));
      c->incumbent_cycles = cycles;
    }
    std::snprintf(buf, sizeof buf, "tune: plan: the tuned plan takes %.3fx the fixed plan's token time (median of %d blocks of %d tokens): fixed variants kept",
                  ratio, kConfirmRounds, kConfirmBlock);
  }
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

std::unique_ptr<jit::GeneratedKernel> Tuner::generate(const ShapeClass& c, const jit::MatvecConf& conf) const {
  const OpInstance& op = *c.members.front();
  std::unique_ptr<jit::GeneratedKernel> g =
      jit::generate_matvec(op.weight->type, forward_.cpu().level, forward_.cpu(), op.rows, op.cols, conf);
  return fits(c, g.get()) ? std::move(g) : nullptr;
}

void Tuner::enter_generated(ShapeClass& c) {
  c.tier = Tier::Generated;
  const OpInstance& op = *c.members.front();
  const std::vector<jit::MatvecConf> space = jit::knob_space(op.weight->type, forward_.cpu().level);
  if (space.empty()) {
    c.note = "no generator for this type and level";
    log(c, std::string("tier 1 generated: ") + c.note);
    return;
  }
  Candidate k;
  k.conf = space.front();
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
  for (const jit::MatvecConf& conf : jit::knob_space(op.weight->type, forward_.cpu().level)) {
    if (c.incumbent.gen && c.incumbent.gen->conf == conf) continue;
    Candidate k;
    k.conf = conf;
    submit(c, k);
    add(std::move(k));
  }
  for (const Variant* v : forward_.registry().candidates(OpKind::Matmul, forward_.cpu(), op.weight)) {
    if (v->reference || v->layout != c.fixed->layout || v->input != c.fixed->input) continue;
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
  std::snprintf(buf, sizeof buf, " after %" PRIu64 " calls (%s); %.0f cycles/call", c.calls, why, c.incumbent_cycles);
  log(c, "tier 3 settled on " + c.incumbent.describe() + buf);
}

void Tuner::install(ShapeClass& c, Candidate&& winner) {
  winner.ratios.clear();
  for (OpInstance* m : c.members) {
    m->step.variant = winner.variant;
    m->step.split = winner.split;
  }
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
    e.ns_per_call = c->incumbent_cycles * ns_per_cycle;
    if (c->incumbent.gen) {
      e.generator = c->incumbent.gen->conf.str();
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
      const std::optional<jit::MatvecConf> conf = jit::MatvecConf::parse(e.generator);
      if (!conf) {
        *why = "generator conf '" + e.generator + "' is not understood";
        return false;
      }
      k.gen = e.code.empty() ? generate(c, *conf)
                             : jit::load_matvec(op.weight->type, forward_.cpu().level, op.rows, op.cols, *conf, e.code);
      if (!k.gen || k.gen->variant.name != e.variant || k.gen->variant.layout != c.fixed->layout) {
        *why = "generated variant '" + e.variant + "' cannot be rebuilt for " + c.key;
        return false;
      }
      k.variant = &k.gen->variant;
    }
    k.split = k.variant->split;
    k.split.grain = e.grain;
    k.split.threads = e.threads == 1 ? 1 : 0;
    plan.emplace_back(&c, std::move(k));
  }
  for (auto& [c, k] : plan) {
    const bool check = !k.verified;
    install(*c, std::move(k));
    c->tier = Tier::Settled;
    c->note = "from the snapshot";
    log(*c, "from the snapshot: " + c->incumbent.describe());
    if (check) c->members.front()->watched = true;  // its first call is checked against the reference
  }
  confirmed_ = all_settled();  // a whole plan was confirmed before it was saved
  update_converged();
  return true;
}

}  // namespace bf
