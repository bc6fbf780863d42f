// The tiers, the autotuner and the tuning session on real calls: every shape class of a
// quantized model settles, its output stays within the reference bound, a wrong
// candidate is discarded before anything reads its output, stories260K still gives
// run.c's text while tuning, and the snapshot makes a second start tuned from its
// first token (and is refused, with one line, when it does not fit).
#include <gtest/gtest.h>

#include <cmath>
#include <chrono>
#include <cstdio>
#include <thread>

#include "generate/generate.h"
#include "graph/forward.h"
#include "model/vocab_loader.h"
#include "test_support.h"
#include "tune/session.h"

namespace bf {
namespace {

TEST(Tiers, ParseAcceptsThreeIncreasingPositiveCounts) {
  std::optional<TierThresholds> t = parse_tiers("100,1000,10000");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->generate, 100u);
  EXPECT_EQ(t->tune, 1000u);
  EXPECT_EQ(t->settle, 10000u);
  EXPECT_TRUE(parse_tiers("1,2,3"));
  for (const char* bad : {"", "1,2", "1,2,3,4", "3,2,1", "0,1,2", "1,1,2", "1,2,x", "1,,3", "-1,2,3", "1,2,3 "})
    EXPECT_FALSE(parse_tiers(bad)) << bad;
}

// A log the tuner writes into, read back as a string.
class Log {
 public:
  Log() : f_(std::tmpfile()) {}
  ~Log() { std::fclose(f_); }
  std::FILE* file() { return f_; }
  std::string text() {
    std::fflush(f_);
    std::rewind(f_);
    std::string s;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f_)) > 0;) s.append(buf, n);
    return s;
  }

 private:
  std::FILE* f_;
};

TunerOptions quick_tiers(std::FILE* log) {
  TunerOptions o;
  o.tiers = {2, 6, 400};
  o.max_token_delay = 0;  // a test waits for no token: race on every step
  o.log = log;
  return o;
}

int token_at(int i, int vocab) { return (i * 37 + 5) % vocab; }

// Steps until the tuner converged (positions wrap at the context); the step count.
int run_until_converged(Forward& f, Tuner& t, int max_steps) {
  int steps = 0;
  for (int pos = 0; !t.converged() && steps < max_steps; ++steps, pos = (pos + 1) % f.context())
    f.step(token_at(steps, f.model().config.vocab_size), pos);
  return steps;
}

// max |got - want| / max |want| over one token's logits.
float relative_error(const float* got, const float* want, int vocab) {
  float diff = 0, scale = 0;
  for (int i = 0; i < vocab; ++i) {
    diff = std::max(diff, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return diff / scale;
}

// The worst relative_error over token steps at positions [from, to) of both engines.
float max_relative_error(Forward& got, Forward& want, int to, int from = 0) {
  float worst = 0;
  const int vocab = got.model().config.vocab_size;
  for (int pos = from; pos < to; ++pos)
    worst = std::max(worst, relative_error(got.step(token_at(pos, vocab), pos), want.step(token_at(pos, vocab), pos), vocab));
  return worst;
}

// Ops that ran in one more token step, and of them how many were timed; -1 if some op
// that ran was not counted.
int profiled_in_one_step(Forward& f) {
  std::vector<std::pair<uint64_t, uint64_t>> before;
  for (const OpInstance* op : f.ops()) before.emplace_back(op->calls, op->cycles);
  f.step(2, 1);
  int timed = 0;
  for (size_t i = 0; i < f.ops().size(); ++i) {
    const OpInstance& op = *f.ops()[i];
    if (!op.enabled) continue;
    if (op.calls != before[i].first + 1) return -1;
    timed += op.cycles != before[i].second;
  }
  return timed;
}

class QuantizedModels : public ::testing::TestWithParam<DType> {
 protected:
  std::string model_file() {
    const DType type = GetParam();
    MkModelSpec s = block_elems(type) == kQK ? test::super_block_model_spec(91, "tune", 96) : test::wide_model_spec(91, "tune", 96);
    s.type = type;
    const std::string path = dir_.file("m.gguf");
    write_gguf_model(path, s, nullptr);
    return path;
  }
  test::TempDir dir_;
};

TEST_P(QuantizedModels, EveryClassSettlesWithinTheReferenceBound) {
  auto model = load_model(model_file());
  Forward tuned(*model, ForwardOptions{.threads = 2});
  Log log;
  Tuner tuner(tuned, quick_tiers(log.file()));
  ASSERT_FALSE(tuner.classes().empty());
  EXPECT_FALSE(tuner.converged());
  const int steps = run_until_converged(tuned, tuner, 3000);
  ASSERT_TRUE(tuner.converged()) << "still tuning after " << steps << " steps\n" << log.text();
  EXPECT_EQ(tuner.steps_to_converge(), steps);
  const std::string text = log.text();
  for (const auto& c : tuner.classes()) {
    if (c->prompt) continue;  // prompt classes count prompt chunks (PromptClasses below)
    EXPECT_EQ(c->tier, Tier::Settled) << c->key;
    EXPECT_NE(text.find(c->key + ": tier 2 tuning"), std::string::npos) << text;
    EXPECT_NE(text.find(c->key + ": tier 3 settled on "), std::string::npos) << text;
    for (const OpInstance* m : c->members) EXPECT_EQ(m->step.variant, c->incumbent.variant) << m->name;
  }
  // The whole plan was checked against the fixed one, and the faster kept.
  EXPECT_NE(text.find("tune: plan for token steps: "), std::string::npos) << text;
  // Settled instances are no longer watched, and the tuner's hooks cost nothing more.
  for (const OpInstance* op : tuned.ops()) EXPECT_FALSE(op->watched) << op->name;
  const uint64_t overhead = tuner.overhead_cycles();
  tuned.step(1, 0);
  EXPECT_EQ(tuner.overhead_cycles(), overhead);
  // Nor timed: a token step counts their calls, not their cycles (no profiler cost).
  EXPECT_EQ(profiled_in_one_step(tuned), 0);

  Forward reference(*model, ForwardOptions{.threads = 1, .reference = true});
  EXPECT_LT(max_relative_error(tuned, reference, 24), 3e-2f);
}

TEST_P(QuantizedModels, AWrongCandidateIsDiscardedBeforeItsOutputIsRead) {
  auto model = load_model(model_file());
  Forward tuned(*model, ForwardOptions{.threads = 2});
  Log log;
  TunerOptions o = quick_tiers(log.file());
  o.tiers = {1, 1000, 2000};
  Tuner tuner(tuned, o);
  tuned.step(token_at(0, model->config.vocab_size), 0);  // tier 1 now
  // A copy of the fixed variant whose kernel writes nonsense: it must never reach the logits.
  ShapeClass& c = *tuner.classes().front();
  static Variant broken;
  broken = *c.fixed;
  broken.name = c.fixed->name + ".broken";
  broken.fn = [](const void* args, int64_t begin, int64_t end) {
    const MatmulArgs& a = *static_cast<const MatmulArgs*>(args);
    for (int t = 0; t < a.n_tokens; ++t)
      for (int64_t r = begin; r < end; ++r) a.out[t * a.out_stride + r] = 1000.0f + static_cast<float>(r);
  };
  Candidate bad;
  bad.variant = &broken;
  bad.split = broken.split;
  tuner.race(c, std::move(bad));

  Forward reference(*model, ForwardOptions{.threads = 1, .reference = true});
  reference.step(token_at(0, model->config.vocab_size), 0);
  EXPECT_LT(max_relative_error(tuned, reference, 20, 1), 3e-2f);
  EXPECT_NE(log.text().find(broken.name + " differs from the reference on the real data: discarded"), std::string::npos)
      << log.text();
  for (const OpInstance* m : c.members) EXPECT_NE(m->step.variant, &broken);
}

TEST_P(QuantizedModels, PromptClassesRaceGeneratedGemmsAndSettleWithinTheReferenceBound) {
  auto model = load_model(model_file());
  Forward tuned(*model, ForwardOptions{.threads = 2, .batch = 16});
  Log log;
  Tuner tuner(tuned, quick_tiers(log.file()));
  const int vocab = model->config.vocab_size;
  std::vector<int32_t> prompt(16);
  for (int i = 0; i < 16; ++i) prompt[i] = token_at(i, vocab);
  for (int chunk = 0; chunk < 2000 && !tuner.prompt_settled(); ++chunk) tuned.prompt(prompt.data(), 16, 0);
  ASSERT_TRUE(tuner.prompt_settled()) << log.text();
  const std::string text = log.text();
  bool any_prompt_class = false;
  for (const auto& c : tuner.classes()) {
    if (!c->prompt) continue;
    any_prompt_class = true;
    EXPECT_NE(text.find(c->key + ": tier 3 settled on "), std::string::npos) << text;
    for (const OpInstance* m : c->members) EXPECT_EQ(m->variant, c->incumbent.variant) << m->name;
  }
  EXPECT_TRUE(any_prompt_class);
  EXPECT_NE(text.find("tune: plan for prompt chunks: "), std::string::npos) << text;
  // Where a GEMM generator covers the type and level, its kernels raced (tier 1 names
  // its first conf; the later ones show by name only when they win or are dropped).
  const DType type = GetParam();
  if (!jit::gemm_knob_space(type, tuned.cpu().level).empty()) {
    EXPECT_NE(text.find("tier 1 generated: racing gemm "), std::string::npos) << text;
  }
  // A batched prompt through the tuned kernels against the reference, token by token.
  Forward reference(*model, ForwardOptions{.threads = 1, .reference = true});
  const float* got = tuned.prompt(prompt.data(), 16, 0);
  std::vector<float> tuned_logits(got, got + vocab);
  const float* want = nullptr;
  for (int pos = 0; pos < 16; ++pos) want = reference.step(prompt[pos], pos);
  EXPECT_LT(relative_error(tuned_logits.data(), want, vocab), 3e-2f);
}

std::string type_name(const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_key(info.param)); }

INSTANTIATE_TEST_SUITE_P(Types, QuantizedModels,
                         ::testing::Values(DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K,
                                           DType::Q5_K, DType::Q6_K, DType::F32),
                         type_name);

// ---- the snapshot across starts ----

std::vector<std::string> installed(const Tuner& t) {
  std::vector<std::string> v;
  for (const auto& c : t.classes()) v.push_back(c->key + " = " + c->incumbent.describe());
  return v;
}

std::vector<float> logits_of(Forward& f, int positions) {
  std::vector<float> all;
  const int vocab = f.model().config.vocab_size;
  for (int pos = 0; pos < positions; ++pos) {
    const float* l = f.step(token_at(pos, vocab), pos);
    all.insert(all.end(), l, l + vocab);
  }
  return all;
}

// A model of every weight type a generator covers: its choices, generated code included,
// go through the snapshot and back.
class SnapshotStarts : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    const DType type = GetParam();
    const bool k_type = type == DType::Q4_K || type == DType::Q5_K || type == DType::Q6_K;
    MkModelSpec s = k_type ? test::super_block_model_spec(93, "tune-snapshot", 96)  // no fallback type
                           : test::wide_model_spec(93, "tune-snapshot", 96);
    s.type = type;
    path_ = dir_.file("m.gguf");
    write_gguf_model(path_, s, nullptr);
    model_ = load_model(path_);
  }
  // One tuning run to convergence; the snapshot file it saved.
  std::string tune_and_save() {
    Forward f(*model_, ForwardOptions{.threads = 2});
    TuningSession s(f, options());
    run_until_converged(f, *s.tuner(), 3000);
    return s.snapshot_file();
  }
  // Tunes, then rewrites the snapshot so that the first class's choice is a generated
  // matvec, its code saved (or, with `code`, those bytes instead). False when no
  // generator covers this CPU's level.
  bool plant_generated_kernel(const std::vector<uint8_t>* code = nullptr) {
    Snapshot snap = read_snapshot(tune_and_save());
    Forward probe(*model_, ForwardOptions{.threads = 2});
    Tuner probe_tuner(probe, quick_tiers(nullptr));
    const ShapeClass& c = *probe_tuner.classes().front();
    const OpInstance& op = *c.members.front();
    const std::vector<jit::MatvecConf> space = jit::knob_space(op.weight->type, probe.cpu().level);
    if (space.empty()) return false;
    planted_ = jit::generate_matvec(op.weight->type, probe.cpu().level, probe.cpu(), op.rows, op.cols, space.back());
    EXPECT_TRUE(planted_);
    auto e = std::find_if(snap.entries.begin(), snap.entries.end(),
                          [&](const SnapshotEntry& x) { return x.shape_class == c.key; });
    EXPECT_NE(e, snap.entries.end());
    if (!planted_ || e == snap.entries.end()) return false;
    e->variant = planted_->variant.name;
    e->generator = planted_->conf.str();
    e->layout = planted_->variant.layout;
    if (code) e->code = *code;
    else e->code.assign(planted_->code().begin(), planted_->code().end());
    save_snapshot_atomic(snapshot_path(dir_.file("state"), snap.key), snap);
    return true;
  }
  std::unique_ptr<jit::GeneratedKernel> planted_;
  SessionOptions options() {
    SessionOptions o;
    o.tuner = quick_tiers(nullptr);
    o.state_dir = dir_.file("state");
    return o;
  }
  test::TempDir dir_;
  std::string path_;
  std::unique_ptr<Model> model_;
};

TEST_P(SnapshotStarts, SecondStartIsTunedFromItsFirstToken) {
  std::vector<std::string> first_plan;
  std::vector<float> first_logits;
  std::string file;
  {
    Forward f(*model_, ForwardOptions{.threads = 2});
    TuningSession s(f, options());
    EXPECT_FALSE(s.loaded());
    run_until_converged(f, *s.tuner(), 3000);
    ASSERT_TRUE(s.tuner()->converged());
    file = s.snapshot_file();
    // Saved when the last class settled, by the session's writer thread: not at exit.
    for (int i = 0; i < 500 && !std::filesystem::exists(file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(std::filesystem::exists(file)) << "saved when the last class settled";
    first_plan = installed(*s.tuner());
    first_logits = logits_of(f, 16);
  }
  Forward f(*model_, ForwardOptions{.threads = 2});
  TuningSession s(f, options());
  EXPECT_TRUE(s.loaded());
  EXPECT_EQ(s.snapshot_file(), file);
  EXPECT_TRUE(s.tuner()->converged()) << "every class settled before the first token";
  EXPECT_EQ(s.tuner()->steps_to_converge(), 0);
  EXPECT_EQ(installed(*s.tuner()), first_plan);
  EXPECT_EQ(logits_of(f, 16), first_logits) << "the same kernels give the same logits";
  EXPECT_EQ(profiled_in_one_step(f), 0) << "settled from the snapshot: no op is timed";

  // --profile keeps timing every call.
  Forward profiled(*model_, ForwardOptions{.threads = 2});
  SessionOptions po = options();
  po.tuner.profile = true;
  TuningSession ps(profiled, po);
  EXPECT_TRUE(ps.loaded());
  int enabled = 0;
  for (const OpInstance* op : profiled.ops()) enabled += op->enabled;
  EXPECT_EQ(profiled_in_one_step(profiled), enabled);
}

TEST_P(SnapshotStarts, AForeignCpuSnapshotIsRefusedInOneLineAndTuningStartsOver) {
  const std::string file = tune_and_save();
  Snapshot snap = read_snapshot(file);
  snap.key.cpu_signature += "-elsewhere";
  save_snapshot_atomic(file, snap);
  Forward f(*model_, ForwardOptions{.threads = 2});
  ::testing::internal::CaptureStderr();
  TuningSession s(f, options());
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(s.loaded());
  EXPECT_FALSE(s.tuner()->converged());
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("foreign CPU"), std::string::npos) << err;
  EXPECT_NE(err.find(file), std::string::npos) << err;
}

TEST_P(SnapshotStarts, AnEntryNamingAnUnknownVariantIsRefused) {
  const std::string file = tune_and_save();
  Snapshot snap = read_snapshot(file);
  ASSERT_FALSE(snap.entries.empty());
  snap.entries.back().variant = "matmul.q4_0.nonexistent";
  snap.entries.back().generator.clear();
  save_snapshot_atomic(file, snap);
  Forward f(*model_, ForwardOptions{.threads = 2});
  ::testing::internal::CaptureStderr();
  TuningSession s(f, options());
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(s.loaded());
  EXPECT_NE(err.find("matmul.q4_0.nonexistent"), std::string::npos) << err;
  for (const auto& c : s.tuner()->classes()) EXPECT_EQ(c->tier, Tier::Fixed) << "nothing of it was installed";
}

TEST_P(SnapshotStarts, GeneratedCodeFromTheSnapshotIsCheckedBeforeTheFirstTokenAndRuns) {
  if (!plant_generated_kernel()) GTEST_SKIP() << "skipped: no generator at " << isa_level_name(CpuInfo::host().level);
  Forward f(*model_, ForwardOptions{.threads = 2});
  Log log;
  SessionOptions o = options();
  o.tuner.log = log.file();
  TuningSession s(f, o);
  ASSERT_TRUE(s.loaded()) << log.text();
  const ShapeClass& loaded = *s.tuner()->classes().front();
  ASSERT_TRUE(loaded.incumbent.gen) << "the class runs code loaded from the snapshot";
  EXPECT_NE(loaded.incumbent.gen->code().data(), planted_->code().data());
  EXPECT_TRUE(loaded.incumbent.verified) << "checked against the reference before the first token";
  EXPECT_FALSE(loaded.members.front()->watched) << "so its first call costs what the others do";
  Forward reference(*model_, ForwardOptions{.threads = 1, .reference = true});
  EXPECT_LT(max_relative_error(f, reference, 16), 3e-2f);
  EXPECT_TRUE(loaded.incumbent.verified) << log.text();
  EXPECT_EQ(log.text().find("differs from the reference"), std::string::npos) << log.text();
}

TEST_P(SnapshotStarts, LoadedCodeThatComputesTheWrongThingIsNeverRun) {
  // "ret": a well-formed file whose code leaves the output untouched.
  const std::vector<uint8_t> ret{0xc3};
  if (!plant_generated_kernel(&ret)) GTEST_SKIP() << "skipped: no generator at " << isa_level_name(CpuInfo::host().level);
  Forward f(*model_, ForwardOptions{.threads = 2});
  Log log;
  SessionOptions o = options();
  o.tuner.log = log.file();
  TuningSession s(f, o);
  ASSERT_TRUE(s.loaded()) << log.text();
  Forward reference(*model_, ForwardOptions{.threads = 1, .reference = true});
  EXPECT_LT(max_relative_error(f, reference, 16), 3e-2f);
  EXPECT_NE(log.text().find("from the snapshot differs from the reference on a test input: discarded"), std::string::npos)
      << log.text();
  const ShapeClass& loaded = *s.tuner()->classes().front();
  EXPECT_EQ(loaded.incumbent.variant, loaded.fixed) << "the class went back to its fixed variant";
}

INSTANTIATE_TEST_SUITE_P(Types, SnapshotStarts,
                         ::testing::Values(DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K,
                                           DType::Q5_K, DType::Q6_K, DType::F16),
                         type_name);

// ---- run.c's text while tuning ----

TEST(TunedGolden, Stories260KGreedyTextMatchesRunCWhileTuning) {
  for (const std::string& file : test::golden_files()) {
    test::Golden g = test::read_golden(file);
    auto model = load_model(test::shared_path("models/stories260K/stories260K.bin"));
    Tokenizer tok = load_tokenizer(test::shared_path("models/stories260K/tok512.bin"), 512);
    Forward forward(*model, ForwardOptions{.threads = 2, .kv_type = KvType::F32});
    TunerOptions o = quick_tiers(nullptr);
    o.tiers = {1, 3, 60};
    Tuner tuner(forward, o);
    GenerateOptions go;
    go.prompt = g.prompt;
    go.sampler.temperature = 0;
    const int prompt_tokens = static_cast<int>(tok.encode(g.prompt, true, false).size());
    go.max_new_tokens = g.steps - (prompt_tokens - 1);
    std::string text;
    GenerateResult r = generate(forward, tok, go, [&](const std::string& s) { text += s; });
    if (r.stopped_at_end) r.tokens.push_back(r.end_token);
    EXPECT_EQ(r.tokens, g.tokens) << file;
    EXPECT_EQ(text + "\n", g.text) << file;
  }
}

}  // namespace
}  // namespace bf
