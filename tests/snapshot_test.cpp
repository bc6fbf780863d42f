// The snapshot (src/snapshot): round trip; each key field mismatched, truncation at every
// length, bit flips and oversized lengths each rejected with one line; a writer killed at
// random moments always leaves the old or the new file; the state directory's precedence;
// the model fingerprint; and `bareflow snapshot show|verify|clear`.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "cpu/cpu.h"
#include "mkmodel/mkmodel.h"
#include "model/model.h"
#include "snapshot/snapshot.h"
#include "snapshot_samples.h"
#include "test_support.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/version.h"

extern char** environ;

namespace bf {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Small enough that every truncation and every byte's flips run in milliseconds.
Snapshot small_snapshot() { return test::sample_snapshot('A', 16); }

// The problem decode_snapshot reports for `bytes`, or "" when it accepts them. Every
// message must be one line that starts with the path.
std::string decode_problem(std::span<const uint8_t> bytes) {
  try {
    decode_snapshot(bytes, "x.bfsnap");
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("x.bfsnap: ", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    return what.substr(10);
  }
  return "";
}

// Rewrites the size field and the checksum so a hand-edited file passes the frame checks
// and reaches the field parser.
void reseal(std::vector<uint8_t>& b) {
  const uint64_t size = b.size();
  std::memcpy(b.data() + 16, &size, 8);
  const uint64_t sum = fnv1a(b.data(), b.size() - 8);
  std::memcpy(b.data() + b.size() - 8, &sum, 8);
}

template <typename T>
void poke(std::vector<uint8_t>& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

TEST(Snapshot, RoundTripsInMemoryAndOnDisk) {
  for (const Snapshot& s : {test::sample_snapshot('A'), test::sample_snapshot('B'), Snapshot{}}) {
    const std::vector<uint8_t> bytes = encode_snapshot(s);
    EXPECT_EQ(decode_snapshot(bytes, "mem"), s);
    EXPECT_EQ(encode_snapshot(decode_snapshot(bytes, "mem")), bytes);  // canonical
  }
  test::TempDir dir;
  const Snapshot a = test::sample_snapshot('A');
  const std::string path = snapshot_path(dir.file("state/sub"), a.key);  // created on save
  save_snapshot_atomic(path, a);
  std::string why = "unchanged";
  std::optional<Snapshot> back = load_snapshot(path, a.key, &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, a);
  EXPECT_EQ(read_snapshot(path), a);
  EXPECT_EQ(fs::path(path).filename().string(), a.key.model_fingerprint + ".bfsnap");
  EXPECT_EQ(list_snapshots(dir.file("state/sub")), std::vector<std::string>{path});
}

TEST(Snapshot, EachKeyFieldMismatchedIsRejectedWithItsReason) {
  test::TempDir dir;
  const Snapshot s = test::sample_snapshot('A');
  const std::string path = dir.file("s.bfsnap");
  save_snapshot_atomic(path, s);
  struct Case {
    std::string SnapshotKey::*field;
    std::string value, reason;
  };
  const Case cases[] = {
      {&SnapshotKey::engine_version, "2", "stale engine version 1 (this is 2)"},
      {&SnapshotKey::cpu_signature, "AuthenticAMD 25.33.0 avx2 xcr0=0x7",
       "foreign CPU '" + s.key.cpu_signature + "' (this is 'AuthenticAMD 25.33.0 avx2 xcr0=0x7')"},
      {&SnapshotKey::model_fingerprint, "ffffffffffffffff", "other model (fingerprint 00112233aabbccdd, this is ffffffffffffffff)"},
      {&SnapshotKey::op_signature, "op-signature-z", "other op signature (op-signature-a, this is op-signature-z)"},
  };
  for (const Case& c : cases) {
    SnapshotKey expected = s.key;
    expected.*c.field = c.value;
    std::string why;
    EXPECT_FALSE(load_snapshot(path, expected, &why));
    EXPECT_EQ(why, c.reason);
  }
  std::string why;
  EXPECT_FALSE(load_snapshot(dir.file("missing.bfsnap"), s.key, &why));
  EXPECT_EQ(why, "no snapshot");
  EXPECT_TRUE(load_snapshot(path, s.key, nullptr));
}

TEST(Snapshot, TruncationAtEveryLengthIsRejected) {
  const std::vector<uint8_t> bytes = encode_snapshot(small_snapshot());
  ASSERT_GT(bytes.size(), 200u);
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string problem = decode_problem(std::span(bytes.data(), n));
    EXPECT_EQ(problem.rfind("truncated at byte " + std::to_string(n) + " ", 0), 0u) << "length " << n << ": " << problem;
  }
  // Through a file as well, at a few lengths.
  test::TempDir dir;
  for (size_t n : {size_t{0}, size_t{7}, size_t{31}, bytes.size() / 2, bytes.size() - 1}) {
    write_bytes(dir.file("t.bfsnap"), std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(n)));
    std::string why;
    EXPECT_FALSE(load_snapshot(dir.file("t.bfsnap"), small_snapshot().key, &why));
    EXPECT_EQ(why.rfind("truncated at byte " + std::to_string(n), 0), 0u) << why;
  }
}

TEST(Snapshot, BitFlipsAnywhereAreRejected) {
  const std::vector<uint8_t> good = encode_snapshot(small_snapshot());
  std::mt19937 rng(20261203);
  int checksum_reports = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x10}, uint8_t{0x80}, static_cast<uint8_t>(rng() | 1)}) {
      std::vector<uint8_t> b = good;
      b[at] ^= mask;
      const std::string problem = decode_problem(b);
      EXPECT_FALSE(problem.empty()) << "byte " << at << " mask " << int(mask) << " accepted";
      checksum_reports += problem == "checksum mismatch";
    }
  }
  // Flips past the 24-byte header (the checksum's own bytes included) are the checksum's to catch.
  EXPECT_EQ(checksum_reports, 4 * static_cast<int>(good.size() - 24));
  // Several bytes at once.
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> b = good;
    const int flips = 2 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    if (b == good) continue;
    EXPECT_FALSE(decode_problem(b).empty()) << "trial " << trial;
  }
}

TEST(Snapshot, OversizedLengthsAndBadFieldsAreRejectedBeforeAllocation) {
  Snapshot s;
  s.key = {"1", "cpu", "fp", "ops"};
  s.entries.push_back({"class", "variant", "", "r8", 4, 2, 10.0, {1, 2, 3}});
  const std::vector<uint8_t> good = encode_snapshot(s);
  // Offsets: key strings from 24 ("1" at 24, "cpu" at 29, "fp" at 36, "ops" at 42), count at 49,
  // entry at 53: "class" 53, "variant" 62, "" 73, "r8" 77, grain 83, threads 91, ns 95, code length 103.
  ASSERT_EQ(good.size(), 53u + 9 + 11 + 4 + 6 + 8 + 4 + 8 + 4 + 3 + 8);
  struct Case {
    size_t at;
    uint64_t value;
    int width;
    std::string expected_start;
  };
  const Case cases[] = {
      {24, 0xffffffff, 4, "engine version length 4294967295 at byte 24 exceeds 4096"},
      {29, 5000, 4, "CPU signature length 5000 at byte 29 exceeds 4096"},
      {36, 4000, 4, "model fingerprint at byte 40 needs 4000 bytes"},
      {49, 0xffffffff, 4, "entry count 4294967295 does not fit"},
      {49, 2, 4, "entry count 2 does not fit"},
      {103, 0x7fffffff, 4, "entry 'class': code length 2147483647 exceeds 16 MiB"},
      {103, 1000, 4, "code at byte 107 needs 1000 bytes, 3 left"},
      {83, static_cast<uint64_t>(-5), 8, "entry 'class': negative grain"},
      {91, 5000, 4, "entry 'class': thread count 5000 out of range"},
      {12, 1, 4, "reserved header field is not 0"},
      {8, 2, 4, "snapshot format 2 (this engine reads 1)"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> b = good;
    if (c.width == 4) poke<uint32_t>(b, c.at, static_cast<uint32_t>(c.value));
    else poke<uint64_t>(b, c.at, c.value);
    reseal(b);
    const std::string problem = decode_problem(b);
    EXPECT_EQ(problem.rfind(c.expected_start, 0), 0u) << "at " << c.at << ": " << problem;
  }
  std::vector<uint8_t> b = good;
  poke<double>(b, 95, std::nan(""));
  reseal(b);
  EXPECT_EQ(decode_problem(b), "entry 'class': ns_per_call is not a finite non-negative number");
  b = good;
  b[34] = '\n';  // inside "cpu" (its length at 29, its bytes at 33)
  reseal(b);
  EXPECT_EQ(decode_problem(b), "CPU signature at byte 29 is not printable ASCII");
  b = good;
  b.insert(b.end() - 8, 0);  // a byte after the last entry
  reseal(b);
  EXPECT_EQ(decode_problem(b).find("1 unexpected bytes after the last entry"), 0u);
  b = good;
  b[0] = 'X';
  EXPECT_EQ(decode_problem(b), "not a snapshot (bad magic)");
  b = good;
  b.push_back(0);  // longer than the header says
  EXPECT_EQ(decode_problem(b), "file is " + std::to_string(good.size() + 1) + " bytes, the header says " + std::to_string(good.size()));

  // The encoder refuses what the decoder would refuse.
  Snapshot bad = s;
  bad.key.cpu_signature = "two\nlines";
  EXPECT_THROW(encode_snapshot(bad), std::invalid_argument);
  bad = s;
  bad.entries[0].threads = -1;
  EXPECT_THROW(encode_snapshot(bad), std::invalid_argument);
  bad = s;
  bad.entries[0].shape_class = std::string(5000, 'x');
  EXPECT_THROW(encode_snapshot(bad), std::invalid_argument);
}

// Starts snapshot_writer on `path`, saving `first` (A or B) first; returns its pid.
pid_t start_writer(const std::string& path, char first) {
  std::string exe = SNAPSHOT_WRITER, arg = path, order(1, first);
  char* argv[] = {exe.data(), arg.data(), order.data(), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, environ), 0);
  return pid;
}

TEST(Snapshot, WriterKilledAtRandomMomentsLeavesOldOrNew) {
  test::TempDir dir;
  const Snapshot a = test::sample_snapshot('A'), b = test::sample_snapshot('B');
  const std::string path = snapshot_path(dir.path(), a.key);
  save_snapshot_atomic(path, a);
  bool file_is_a = true;
  std::mt19937 rng(7);
  int seen_a = 0, seen_b = 0, left_temp = 0;
  // At least 60 kills, and on until both letters were seen: a writer that starts slowly
  // (a sanitizer build on a loaded machine) gets more time after each kill that changed
  // nothing, so the kills keep landing during saves.
  const int kills_min = 60, kills_max = 400;
  int64_t max_wait_us = 30000;
  int kills = 0, unchanged = 0;
  for (int i = 0; i < kills_max && (i < kills_min || seen_a == 0 || seen_b == 0); ++i, ++kills) {
    const pid_t pid = start_writer(path, file_is_a ? 'B' : 'A');  // its first save replaces the file
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + static_cast<int64_t>(rng() % max_wait_us)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int ws = 0;
    ASSERT_EQ(::waitpid(pid, &ws, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(ws)) << "the writer stopped by itself (status " << ws << ")";
    Snapshot now;
    try {
      now = read_snapshot(path);
    } catch (const InputError& e) {
      FAIL() << "kill " << i << " left a file that does not load: " << e.what();
    }
    ASSERT_TRUE(now == a || now == b) << "kill " << i << ": neither A nor B";
    const bool changed = (now == a) != file_is_a;
    unchanged = changed ? 0 : unchanged + 1;
    if (unchanged >= 5) max_wait_us = std::min<int64_t>(max_wait_us * 2, 2000000);
    file_is_a = now == a;
    (file_is_a ? seen_a : seen_b)++;
    int others = 0;
    for (auto& e : fs::directory_iterator(dir.path())) others += e.path() != path;
    ASSERT_LE(others, 1) << "temporary files pile up";
    left_temp += others;
  }
  // The writer really ran between kills, so the kills landed during saves.
  EXPECT_GT(seen_a, 0);
  EXPECT_GT(seen_b, 0);
  std::printf("%d kills: %d left A, %d left B, %d left a temporary file\n", kills, seen_a, seen_b, left_temp);
  int files = 0;
  for (auto& e : fs::directory_iterator(dir.path())) files += !e.path().empty();
  EXPECT_EQ(clear_snapshots(dir.path()), files);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// Sets or unsets an environment variable for one scope.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~EnvVar() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Snapshot, StateDirPrecedence) {
  EnvVar state("BAREFLOW_STATE", "/env/state"), xdg("XDG_CACHE_HOME", "/xdg"), home("HOME", "/home/u");
  EXPECT_EQ(state_dir(std::string("/flag")), "/flag");
  EXPECT_EQ(state_dir(std::nullopt), "/env/state");
  {
    EnvVar no_state("BAREFLOW_STATE", nullptr);
    EXPECT_EQ(state_dir(std::nullopt), "/xdg/bareflow");
    EnvVar relative_xdg("XDG_CACHE_HOME", "relative");  // ignored, as the XDG spec says
    EXPECT_EQ(state_dir(std::nullopt), "/home/u/.cache/bareflow");
    EnvVar no_xdg("XDG_CACHE_HOME", nullptr);
    EXPECT_EQ(state_dir(std::nullopt), "/home/u/.cache/bareflow");
    EnvVar no_home("HOME", nullptr);
    EXPECT_EQ(state_dir(std::nullopt), "/state");
    EXPECT_EQ(state_dir(std::string("/flag")), "/flag");
  }
  // Looking the directory up creates nothing.
  test::TempDir dir;
  EXPECT_EQ(state_dir(dir.file("not-yet")), dir.file("not-yet"));
  EXPECT_FALSE(fs::exists(dir.file("not-yet")));
  EXPECT_TRUE(list_snapshots(dir.file("not-yet")).empty());
  SnapshotKey key;
  key.model_fingerprint = "0123456789abcdef";
  EXPECT_EQ(snapshot_path("/s", key), "/s/0123456789abcdef.bfsnap");
}

// Finds a GGUF string (u64 length + bytes) in a file written by mkmodel.
size_t find_gguf_string(const std::vector<uint8_t>& b, const std::string& s) {
  std::vector<uint8_t> needle(8 + s.size());
  const uint64_t n = s.size();
  std::memcpy(needle.data(), &n, 8);
  std::memcpy(needle.data() + 8, s.data(), s.size());
  auto it = std::search(b.begin(), b.end(), needle.begin(), needle.end());
  EXPECT_NE(it, b.end()) << s;
  return static_cast<size_t>(it - b.begin()) + needle.size();
}

TEST(Snapshot, ModelFingerprintFollowsHeaderAndTensorTable) {
  test::TempDir dir;
  MkModelSpec spec = test::small_model_spec(5, "small");
  spec.type = DType::F16;
  const std::string base = dir.file("base.gguf");
  write_gguf_model(base, spec, nullptr);
  const std::string fp = model_fingerprint(*load_model(base));
  EXPECT_EQ(fp.size(), 16u);
  EXPECT_EQ(model_fingerprint(*load_model(base)), fp);  // same file, loaded again
  fs::copy_file(base, dir.file("copy.gguf"));
  EXPECT_EQ(model_fingerprint(*load_model(dir.file("copy.gguf"))), fp);

  // One tensor's type F16 -> BF16: same size, same bytes, only the tensor table differs.
  std::vector<uint8_t> bytes = read_bytes(base);
  const size_t info = find_gguf_string(bytes, "blk.1.attn_k.weight");
  uint32_t n_dims, type;
  std::memcpy(&n_dims, bytes.data() + info, 4);
  ASSERT_EQ(n_dims, 2u);
  std::memcpy(&type, bytes.data() + info + 4 + 16, 4);
  ASSERT_EQ(type, 1u);  // ggml F16
  poke<uint32_t>(bytes, info + 4 + 16, 30);  // ggml BF16
  write_bytes(dir.file("bf16.gguf"), bytes);
  auto retyped = load_model(dir.file("bf16.gguf"));
  ASSERT_EQ(retyped->layers[1].wk.type, DType::BF16);
  EXPECT_NE(model_fingerprint(*retyped), fp);

  // One metadata value that nothing in ModelConfig holds: general.name "small" -> "smalx".
  bytes = read_bytes(base);
  const size_t name = find_gguf_string(bytes, "small");
  bytes[name - 1] = 'x';
  write_bytes(dir.file("renamed.gguf"), bytes);
  auto renamed = load_model(dir.file("renamed.gguf"));
  ASSERT_EQ(renamed->name, "smalx");
  EXPECT_NE(model_fingerprint(*renamed), fp);

  // llama2.c: the same file twice, and another seed.
  MkModelSpec l2 = test::small_model_spec(5, "small");
  write_llama2c_model(dir.file("a.bin"), l2, 1);
  l2.seed = 6;
  write_llama2c_model(dir.file("b.bin"), l2, 1);
  EXPECT_EQ(model_fingerprint(*load_model(dir.file("a.bin"))), model_fingerprint(*load_model(dir.file("a.bin"))));
  EXPECT_NE(model_fingerprint(*load_model(dir.file("a.bin"))), model_fingerprint(*load_model(dir.file("b.bin"))));

  const SnapshotKey key = snapshot_key(*load_model(base), CpuInfo::host(), "ops");
  EXPECT_EQ(key.engine_version, std::to_string(kEngineVersion));
  EXPECT_EQ(key.cpu_signature, CpuInfo::host().signature());
  EXPECT_EQ(key.model_fingerprint, fp);
}

// Runs `bareflow args` and returns its exit status, stdout and stderr (merged into `out`).
int run_bareflow(const std::string& args, std::string& out) {
  FILE* p = ::popen((std::string(BAREFLOW_BINARY) + " " + args + " 2>&1").c_str(), "r");
  out.clear();
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int ws = ::pclose(p);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

TEST(Snapshot, CommandShowVerifyClear) {
  test::TempDir dir;
  const std::string model = dir.file("m.gguf");
  write_gguf_model(model, test::small_model_spec(9, "cli"), nullptr);
  Snapshot s = test::sample_snapshot('B', 64);
  s.key = snapshot_key(*load_model(model), CpuInfo::host(), "ops-1");
  const std::string state = dir.file("state");
  save_snapshot_atomic(snapshot_path(state, s.key), s);
  std::string out;

  EXPECT_EQ(run_bareflow("snapshot show --state " + state, out), 0) << out;
  EXPECT_NE(out.find("model:   " + s.key.model_fingerprint), std::string::npos) << out;
  EXPECT_NE(out.find("entries: 3"), std::string::npos) << out;
  EXPECT_NE(out.find("attention f16 h32 kv4 d64"), std::string::npos) << out;
  EXPECT_NE(out.find("rows=16 unroll=4 kblock=256 prefetch=512"), std::string::npos) << out;

  const std::string good = snapshot_path(state, s.key);
  EXPECT_EQ(run_bareflow("snapshot verify --state " + state, out), 0) << out;
  EXPECT_EQ(out, good + ": OK\n");
  EXPECT_EQ(run_bareflow("snapshot verify --state " + state + " -m " + model, out), 0) << out;
  EXPECT_EQ(out, good + ": OK\n");

  // A run with --max-isa keys its snapshot to this CPU capped at that level: usable by
  // such runs, which verify says.
  if (CpuInfo::host().level > IsaLevel::Sse2) {
    Snapshot capped = s;
    capped.key.cpu_signature = CpuInfo::host().capped(IsaLevel::Sse2).signature();
    save_snapshot_atomic(good, capped);
    EXPECT_EQ(run_bareflow("snapshot verify --state " + state, out), 0) << out;
    EXPECT_EQ(out, good + ": OK (for runs with --max-isa sse2)\n");
    save_snapshot_atomic(good, s);
  }

  // A corrupt one and a foreign-CPU one beside it.
  std::vector<uint8_t> bytes = read_bytes(good);
  bytes[bytes.size() / 2] ^= 4;
  write_bytes(state + "/00000000000000aa.bfsnap", bytes);
  Snapshot foreign = s;
  foreign.key.cpu_signature = "SomeVendor 1.2.3 sse2 xcr0=0x3";
  foreign.key.model_fingerprint = "00000000000000bb";
  save_snapshot_atomic(state + "/00000000000000bb.bfsnap", foreign);
  EXPECT_EQ(run_bareflow("snapshot verify --state " + state, out), 2) << out;
  EXPECT_EQ(out, state + "/00000000000000aa.bfsnap: checksum mismatch\n" + state +
                     "/00000000000000bb.bfsnap: foreign CPU 'SomeVendor 1.2.3 sse2 xcr0=0x3' (this is '" +
                     CpuInfo::host().signature() + "')\n" + good + ": OK\nbareflow: error: " + state +
                     ": 2 of 3 snapshots would not be used\n");
  EXPECT_EQ(run_bareflow("snapshot show --state " + state, out), 2);
  EXPECT_NE(out.find("bareflow: error: " + state + "/00000000000000aa.bfsnap: checksum mismatch\n"), std::string::npos) << out;

  EXPECT_EQ(run_bareflow("snapshot clear --state " + state + " -m " + model, out), 0) << out;
  EXPECT_EQ(out, "removed 1 file from " + state + "\n");
  EXPECT_EQ(run_bareflow("snapshot clear --state " + state, out), 0) << out;
  EXPECT_EQ(out, "removed 2 files from " + state + "\n");
  EXPECT_TRUE(list_snapshots(state).empty());
  EXPECT_EQ(run_bareflow("snapshot show --state " + state, out), 0) << out;
  EXPECT_EQ(out, "no snapshots in " + state + "\n");

  // run and bench take --state and --no-state, but not both.
  EXPECT_EQ(run_bareflow("run -m " + model + " --state " + state + " --no-state -n 1", out), 2) << out;
}

}  // namespace
}  // namespace bf
