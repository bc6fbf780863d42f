// perf/bounds: the read bandwidth and the 8-bit multiply-accumulate peak that
// `bareflow bench` states its speeds against, and `bench --json` on a tiny model.
//
// These are measurements, so the checks are wide: the figures exist and are finite,
// and the peak follows from how many MACs one instruction does at each level, which
// no amount of noise from other processes on the machine can turn around by 1.5x.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/cpu.h"
#include "perf/bounds.h"
#include "test_support.h"
#include "threads/pool.h"

extern char** environ;

namespace bf {
namespace {

constexpr IsaLevel kLevels[] = {IsaLevel::Sse2, IsaLevel::Avx2, IsaLevel::Avx512, IsaLevel::Avx512Vnni};

std::string level_name(IsaLevel l) { return std::string(isa_level_name(l)); }

TEST(PerfBounds, BufferIsAtLeastOneGibAndFourTimesTheLastLevelCache) {
  CpuInfo cpu;
  cpu.l3_bytes = 0;  // unknown
  EXPECT_GE(bandwidth_buffer_bytes(cpu), uint64_t{1} << 30);
  cpu.l3_bytes = 32u << 20;
  EXPECT_GE(bandwidth_buffer_bytes(cpu), uint64_t{1} << 30);
  cpu.l3_bytes = 768u << 20;  // a large server part: 4x is 3 GiB
  EXPECT_GE(bandwidth_buffer_bytes(cpu), uint64_t{3} << 30);
  EXPECT_LT(bandwidth_buffer_bytes(cpu), (uint64_t{3} << 30) + (1u << 20));
}

TEST(PerfBounds, ReadBandwidthIsPositiveAndFinite) {
  ThreadPool pool(2);
  const Bandwidth bw = measure_read_bandwidth(pool);
  EXPECT_TRUE(std::isfinite(bw.gbs));
  EXPECT_GT(bw.gbs, 0.1);     // any machine that runs an LLM reads faster than 100 MB/s
  EXPECT_LT(bw.gbs, 10000.0);  // and slower than 10 TB/s: a larger figure means the reads were skipped
  EXPECT_GE(bw.buffer_bytes, uint64_t{64} << 20);
  EXPECT_GE(bw.passes, 5);
  EXPECT_LE(bw.passes, 7);
}

// The best of the levels' peaks, each with one thread (one core: the ratios between
// levels are the point, and one thread is least disturbed by the rest of the machine).
std::map<IsaLevel, double> peaks_one_thread(const CpuInfo& cpu) {
  ThreadPool pool(1);
  std::map<IsaLevel, double> peaks;
  for (IsaLevel l : kLevels)
    if (cpu.has(l)) peaks[l] = measure_int8_peak(pool, l, cpu);
  return peaks;
}

TEST(PerfBounds, Int8PeakAtEveryLevelTheCpuHas) {
  const CpuInfo& cpu = CpuInfo::host();
  ThreadPool pool(2);
  for (IsaLevel l : kLevels) {
    if (!cpu.has(l)) {
      std::printf("skipped: CPU lacks %s\n", level_name(l).c_str());
      continue;
    }
    const double gops = measure_int8_peak(pool, l, cpu);
    std::printf("int8 peak %-10s %-32s %9.1f GOP/s (2 threads)\n", level_name(l).c_str(),
                std::string(int8_peak_kernel(l, cpu)).c_str(), gops);
    EXPECT_TRUE(std::isfinite(gops)) << level_name(l);
    // One 16-bit multiply-add per cycle at 1 GHz on one core is 2 GOP/s; a real core
    // does at least 8 per cycle even with SSE2. 100 TOP/s per 2 threads is impossible.
    EXPECT_GT(gops, 2.0) << level_name(l);
    EXPECT_LT(gops, 1e5) << level_name(l);
  }
}

TEST(PerfBounds, HigherLevelsAreNotSlower) {
  const CpuInfo& cpu = CpuInfo::host();
  const auto peaks = peaks_one_thread(cpu);
  for (IsaLevel l : kLevels)
    if (!cpu.has(l)) std::printf("skipped: CPU lacks %s\n", level_name(l).c_str());
  for (auto [level, gops] : peaks) {
    std::printf("int8 peak %-10s %9.1f GOP/s (1 thread)\n", level_name(level).c_str(), gops);
    if (level == IsaLevel::Sse2) continue;
    // By design: a 256-bit 8-bit multiply-add does 32 MACs where pmaddwd xmm does 8,
    // so even a core that splits 256-bit ops in two is >= 2x; 1.5x leaves room for noise.
    EXPECT_GE(gops, 1.5 * peaks.at(IsaLevel::Sse2)) << level_name(level) << " vs sse2";
    // Each level does at least the MACs per multiply of the one below (as many on a
    // core that splits 512-bit ops in two): 0.85x leaves room for noise. Except avx512
    // against AVX-VNNI's avx2: vpdpbusd ymm does 32 MACs in one multiply, the avx512
    // pair vpmaddubsw+vpmaddwd zmm 64 in two, the same rate by design.
    const auto below = static_cast<IsaLevel>(static_cast<int>(level) - 1);
    if (level == IsaLevel::Avx512 && cpu.avx_vnni) continue;
    EXPECT_GE(gops, 0.85 * peaks.at(below)) << level_name(level) << " vs " << level_name(below);
  }
  if (peaks.count(IsaLevel::Avx512Vnni)) {
    EXPECT_GE(peaks.at(IsaLevel::Avx512Vnni), 0.85 * peaks.at(IsaLevel::Avx2)) << "avx512vnni vs avx2";
  }
}

TEST(PerfBounds, Int8PeakRefusesALevelTheCpuLacks) {
  const CpuInfo capped = CpuInfo::host().capped(IsaLevel::Sse2);
  ThreadPool pool(1);
  EXPECT_THROW(measure_int8_peak(pool, IsaLevel::Avx2, capped), std::invalid_argument);
  EXPECT_GT(measure_int8_peak(pool, IsaLevel::Sse2, capped, 3), 0.0);
}

TEST(PerfBounds, Int8PeakKernelNamesFollowTheLevel) {
  CpuInfo cpu;
  cpu.level = IsaLevel::Avx512Vnni;
  EXPECT_EQ(int8_peak_kernel(IsaLevel::Avx512Vnni, cpu), "vpdpbusd zmm");
  EXPECT_EQ(int8_peak_kernel(IsaLevel::Avx512, cpu), "vpmaddubsw+vpmaddwd+vpaddd zmm");
  EXPECT_EQ(int8_peak_kernel(IsaLevel::Avx2, cpu), "vpmaddubsw+vpmaddwd+vpaddd ymm");
  cpu.avx_vnni = true;
  EXPECT_EQ(int8_peak_kernel(IsaLevel::Avx2, cpu), "vpdpbusd ymm (AVX-VNNI)");
  EXPECT_EQ(int8_peak_kernel(IsaLevel::Sse2, cpu), "pmaddwd+paddd xmm");
}

// ---- bench --json ----

// A minimal JSON reader, independent of the emitter under test: enough to check that
// the output is one well-formed object and to read its fields.
struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  double number = 0;
  bool boolean = false;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  const Json& at(const std::string& key) const {
    auto it = object.find(key);
    if (it == object.end()) throw std::runtime_error("no field " + key);
    return it->second;
  }
};

class JsonReader {
 public:
  explicit JsonReader(const std::string& s) : s_(s) {}

  Json document() {
    Json v = value();
    skip_space();
    if (i_ != s_.size()) fail("text after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(i_));
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool take(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  void expect(char c) {
    if (!take(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (s_.compare(i_, w.size(), w) != 0) return false;
    i_ += w.size();
    return true;
  }

  Json value() {
    skip_space();
    if (i_ >= s_.size()) fail("unexpected end");
    Json v;
    const char c = s_[i_];
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') {
      v.kind = Json::String;
      v.string = string();
    } else if (literal("true") || literal("false")) {
      v.kind = Json::Bool;
      v.boolean = s_[i_ - 1] == 'e' && s_[i_ - 2] == 'u';
    } else if (literal("null")) {
      v.kind = Json::Null;
    } else {
      v.kind = Json::Number;
      v.number = number();
    }
    return v;
  }

  Json object() {
    Json v;
    v.kind = Json::Object;
    expect('{');
    if (take('}')) return v;
    do {
      skip_space();
      std::string key = string();
      if (v.object.count(key)) fail("duplicate key " + key);
      expect(':');
      v.object[key] = value();
    } while (take(','));
    expect('}');
    return v;
  }

  Json array() {
    Json v;
    v.kind = Json::Array;
    expect('[');
    if (take(']')) return v;
    do v.array.push_back(value());
    while (take(','));
    expect(']');
    return v;
  }

  std::string string() {
    if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string");
    ++i_;
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      const unsigned char c = s_[i_++];
      if (c == '"') return out;
      if (c < 0x20) fail("raw control character in a string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (i_ + 4 > s_.size()) fail("short \\u escape");
          const unsigned long cp = std::stoul(s_.substr(i_, 4), nullptr, 16);
          i_ += 4;
          if (cp >= 0x80) fail("test reader handles only ASCII \\u escapes");
          out += static_cast<char>(cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  double number() {
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) fail("expected a value");
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || s_[i_] == 'e' ||
                              s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-'))
      ++i_;
    return std::stod(s_.substr(start, i_ - start));
  }

  const std::string& s_;
  size_t i_ = 0;
};

TEST(PerfJsonReader, AcceptsJsonAndRejectsBrokenText) {
  const Json v = JsonReader(R"({"a": [1, -2.5e3, true, null], "b\"\\\n": {"c": "x\u0041"}})").document();
  EXPECT_EQ(v.at("a").array.size(), 4u);
  EXPECT_EQ(v.at("a").array[1].number, -2500.0);
  EXPECT_TRUE(v.at("a").array[2].boolean);
  EXPECT_EQ(v.at("b\"\\\n").at("c").string, "xA");
  for (const char* bad : {R"({"a": 1,})", R"({"a" 1})", "{\"a\": \"\t\"}", R"({"a": nan})", R"({} {})", R"({"a": 1)"})
    EXPECT_THROW(JsonReader(bad).document(), std::runtime_error) << bad;
}

struct RunResult {
  int status = -1;
  std::string out, err;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

RunResult run_bareflow(const test::TempDir& dir, const std::vector<std::string>& args) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv_s = {BAREFLOW_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, BAREFLOW_BINARY, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  RunResult r;
  if (rc != 0) return r;
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0) {
  }
  r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

class PerfBenchCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    MkModelSpec s = test::small_model_spec(7, "bench \"tiny\"\\model");  // a name that needs escaping
    s.type = DType::Q8_0;
    // A path with a quote, a backslash and a tab, which the emitter must escape, and a
    // two-byte UTF-8 character, which it must pass through.
    model_ = dir_.file("tiny \"q8\"\\\t\xc3\xa9.gguf");
    write_gguf_model(model_, s, nullptr);
  }

  Json bench_json(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"bench", "-m", model_, "-t", "2", "-p", "9", "-n", "5", "-r", "2", "-b", "4", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run_bareflow(dir_, args);
    EXPECT_EQ(r.status, 0) << r.err;
    return JsonReader(r.out).document();
  }

  test::TempDir dir_;
  std::string model_;
};

TEST_F(PerfBenchCommand, JsonIsOneObjectWithEveryField) {
  const Json j = bench_json({});
  ASSERT_EQ(j.kind, Json::Object);
  EXPECT_EQ(j.at("model").string, model_);
  EXPECT_FALSE(j.at("cpu").at("brand").string.empty() && j.at("cpu").at("level").string.empty());
  EXPECT_EQ(j.at("cpu").at("level").string, level_name(CpuInfo::host().level));
  EXPECT_EQ(j.at("isa").string, level_name(CpuInfo::host().level));
  EXPECT_EQ(j.at("threads").number, 2);
  EXPECT_EQ(j.at("batch").number, 4);
  EXPECT_EQ(j.at("kv_type").kind, Json::String);
  EXPECT_EQ(j.at("prompt").at("tokens").number, 9);
  EXPECT_EQ(j.at("generation").at("tokens").number, 5);
  EXPECT_EQ(j.at("repeats").number, 2);
  EXPECT_GT(j.at("prompt").at("tok_s").number, 0);
  EXPECT_GT(j.at("generation").at("tok_s").number, 0);
  EXPECT_GT(j.at("bytes_per_token").number, 0);
  EXPECT_GT(j.at("bandwidth").at("gb_s").number, 0);
  EXPECT_GE(j.at("bandwidth").at("buffer_bytes").number, 64.0 * (1 << 20));
  EXPECT_GT(j.at("bandwidth").at("bound_tok_s").number, 0);
  EXPECT_GT(j.at("generation").at("pct_of_bound").number, 0);
  EXPECT_GT(j.at("int8_peak").at("gop_s").number, 0);
  EXPECT_FALSE(j.at("int8_peak").at("kernel").string.empty());
  EXPECT_GT(j.at("prompt").at("gop_s").number, 0);
  EXPECT_GT(j.at("prompt").at("pct_of_bound").number, 0);
  // The tiny model's matmuls: 2 layers x (q, k, v, o, gate, up, down) + classifier.
  const MkModelSpec s = test::small_model_spec(7, "x");
  const double kv = s.kv_dim();
  const double macs = 2 * (2.0 * s.dim * s.dim + 2.0 * kv * s.dim + 3.0 * s.dim * s.hidden_dim) +
                      double(s.vocab_size) * s.dim;
  EXPECT_EQ(j.at("macs_per_token").number, macs);
  // Generated positions 9..13 read the keys and values of positions 0..p: on average
  // 12 positions of 2 layers x kv_dim f16 keys and values.
  EXPECT_EQ(j.at("kv_bytes_per_token").number, 12.0 * 2 * s.n_layers * kv * 2);
  EXPECT_GT(j.at("bytes_per_token").number, j.at("kv_bytes_per_token").number);
  const Json& variants = j.at("variants");
  ASSERT_EQ(variants.kind, Json::Array);
  ASSERT_FALSE(variants.array.empty());
  double ops = 0;
  for (const Json& v : variants.array) {
    EXPECT_FALSE(v.at("name").string.empty());
    EXPECT_GT(v.at("ops").number, 0);
    ops += v.at("ops").number;
  }
  EXPECT_GE(ops, 2 * 7 + 1);  // at least every matmul
}

TEST_F(PerfBenchCommand, MaxIsaCapsTheLevelUsed) {
  const Json j = bench_json({"--max-isa", "sse2", "--kv-type", "f32"});
  EXPECT_EQ(j.at("isa").string, "sse2");
  EXPECT_EQ(j.at("kv_type").string, "f32");
  EXPECT_EQ(j.at("int8_peak").at("kernel").string, "pmaddwd+paddd xmm");
  for (const Json& v : j.at("variants").array)
    EXPECT_EQ(v.at("name").string.find("avx"), std::string::npos) << v.at("name").string;
}

TEST_F(PerfBenchCommand, TextOutputNamesTheBounds) {
  const RunResult r = run_bareflow(dir_, {"bench", "-m", model_, "-t", "1", "-p", "4", "-n", "4", "-r", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* word : {"cpu:", "isa:", "variants:", "prompt:", "generation:", "bandwidth:", "int8 peak:"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " missing in:\n" << r.out;
}

}  // namespace
}  // namespace bf
