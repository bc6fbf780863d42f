// The bareflow binary on bad input: a corrupt or missing model, a truncated or wrong
// tokenizer, bad flag values. Each ends with exit status 2 and exactly one line on stderr,
// "bareflow: error: ...", naming the file (or the flag) at fault. And --help works for
// every subcommand.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cpu/cpu.h"
#include "test_support.h"

extern char** environ;

namespace bf {
namespace {

namespace fs = std::filesystem;

std::string shared_model(const std::string& rel) { return test::shared_path("models/" + rel); }

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct RunResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
};

class CliErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("bareflow_cli_errors_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs bareflow with `args`, stdout and stderr captured in files. A run still going
  // after `timeout` is killed and fails the test: nothing here may hang the suite.
  RunResult run(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::string out = path("stdout.txt"), err = path("stderr.txt");
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
    int rc = posix_spawn(&pid, BAREFLOW_BINARY, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    RunResult r;
    if (rc != 0) {
      ADD_FAILURE() << "cannot start " << BAREFLOW_BINARY;
      return r;
    }
    int ws = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::waitpid(pid, &ws, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &ws, 0);
        ADD_FAILURE() << show(args) << " still running after " << timeout.count() << " s: killed";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
  }

  static std::string show(const std::vector<std::string>& args) {
    std::string s = "bareflow";
    for (auto& a : args) s += " " + a;
    return s;
  }

  // Exit status 2, and stderr is exactly "bareflow: error: <must_name>...\n" on one line.
  void expect_error(const std::vector<std::string>& args, const std::string& must_name, const char* hint = "",
                    std::chrono::seconds timeout = std::chrono::seconds(120)) {
    RunResult r = run(args, timeout);
    SCOPED_TRACE(show(args) + hint);
    EXPECT_EQ(r.status, 2) << "stderr: " << r.err;
    EXPECT_EQ(r.err.rfind("bareflow: error: ", 0), 0u) << "stderr: " << r.err;
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.back(), '\n') << "stderr: " << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line on stderr: " << r.err;
    EXPECT_NE(r.err.find(must_name), std::string::npos) << "stderr does not name " << must_name << ": " << r.err;
  }

  // A copy of `src` cut to `n` bytes (or with `n` bytes removed when n < 0).
  std::string truncated_copy(const std::string& src, const std::string& name, long n) {
    std::string s = read_text(src);
    s.resize(n >= 0 ? static_cast<size_t>(n) : s.size() - static_cast<size_t>(-n));
    std::string p = path(name);
    std::ofstream(p, std::ios::binary) << s;
    return p;
  }

  fs::path dir_;
};

TEST_F(CliErrorsTest, CorruptModel) {
  const std::string gguf = shared_model("stories260K/stories260K.gguf");
  const std::string bin = shared_model("stories260K/stories260K.bin");
  const std::string tok = shared_model("stories260K/tok512.bin");
  for (long cut : {100L, 5000L, -100L}) {
    std::string g = truncated_copy(gguf, "cut" + std::to_string(cut) + ".gguf", cut);
    expect_error({"info", "-m", g}, "bareflow: error: " + g + ": ");
    expect_error({"run", "-m", g, "-n", "4"}, "bareflow: error: " + g + ": ");
    expect_error({"bench", "-m", g, "-p", "1", "-n", "1", "-r", "1"}, "bareflow: error: " + g + ": ");
    std::string b = truncated_copy(bin, "cut" + std::to_string(cut) + ".bin", cut);
    expect_error({"run", "-m", b, "-z", tok, "-n", "4"}, "bareflow: error: " + b + ": ");
  }
  // A legacy header with a zero dimension.
  std::string s = read_text(bin);
  s[0] = s[1] = s[2] = s[3] = 0;
  std::string zero = path("zero_dim.bin");
  std::ofstream(zero, std::ios::binary) << s;
  expect_error({"info", "-m", zero}, "bareflow: error: " + zero + ": ");
  // Not a model at all: a tokenizer.bin, a vocab-only GGUF (no tensors), a directory.
  expect_error({"info", "-m", tok}, "bareflow: error: " + tok + ": ");
  const std::string vocab_only = shared_model("llama2-tokenizer/ggml-vocab-llama-spm.gguf");
  expect_error({"info", "-m", vocab_only}, "bareflow: error: " + vocab_only + ": ");
  expect_error({"info", "-m", dir_.string()}, "bareflow: error: " + dir_.string() + ": ");
}

TEST_F(CliErrorsTest, MissingFiles) {
  const std::string missing = path("no_such_model.gguf");
  expect_error({"info", "-m", missing}, "bareflow: error: " + missing + ": ");
  expect_error({"run", "-m", missing}, "bareflow: error: " + missing + ": ");
  expect_error({"bench", "-m", missing}, "bareflow: error: " + missing + ": ");
  const std::string missing_tok = path("no_such_tokenizer.bin");
  expect_error({"run", "-m", shared_model("stories260K/stories260K.bin"), "-z", missing_tok, "-n", "2"},
               "bareflow: error: " + missing_tok + ": ");
  // A llama2.c model alone in a directory: no vocabulary, no tokenizer.bin beside it.
  const std::string lone = path("lone.bin");
  fs::copy_file(shared_model("stories260K/stories260K.bin"), lone);
  expect_error({"run", "-m", lone, "-n", "2"}, "bareflow: error: " + lone + ": ");
}

TEST_F(CliErrorsTest, BadTokenizer) {
  const std::string bin = shared_model("stories260K/stories260K.bin");
  const std::string tok = shared_model("stories260K/tok512.bin");
  for (long cut : {0L, 2L, 6L, 100L, -1L, -7L}) {
    std::string t = truncated_copy(tok, "tok_cut" + std::to_string(cut) + ".bin", cut);
    expect_error({"run", "-m", bin, "-z", t, "-n", "2"}, "bareflow: error: " + t + ": ");
  }
  // A valid tokenizer of the wrong size (32000 tokens for a 512-token model).
  const std::string big = shared_model("llama2-tokenizer/tokenizer.bin");
  expect_error({"run", "-m", bin, "-z", big, "-n", "2"}, "bareflow: error: " + big + ": ");
  // A truncated tokenizer.bin found beside the model.
  fs::copy_file(bin, path("model.bin"));
  truncated_copy(tok, "tokenizer.bin", 1000);
  expect_error({"run", "-m", path("model.bin"), "-n", "2"}, "bareflow: error: " + path("tokenizer.bin") + ": ");
}

// A FIFO blocks open() until a writer comes, /dev/zero never ends, a socket cannot be
// opened: each must be refused at once, before any read. 10 s is generous for a refusal
// and far shorter than a hang.
TEST_F(CliErrorsTest, NonRegularModelFilesAreRefusedAtOnce) {
  const std::string fifo = path("model.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const std::string sock = path("model.sock");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  const auto quick = std::chrono::seconds(10);
  for (const std::string& p : {fifo, sock, std::string("/dev/zero"), dir_.string()}) {
    expect_error({"info", "-m", p}, "bareflow: error: " + p + ": not a regular file", "", quick);
    expect_error({"run", "-m", p, "-n", "1"}, "bareflow: error: " + p + ": not a regular file", "", quick);
  }
  expect_error({"bench", "-m", fifo, "-p", "1", "-n", "1", "-r", "1"}, "bareflow: error: " + fifo + ": not a regular file",
               "", quick);
  // The same FIFO given as the tokenizer.
  expect_error({"run", "-m", shared_model("stories260K/stories260K.bin"), "-z", fifo, "-n", "1"},
               "bareflow: error: " + fifo + ": not a regular file", "", quick);
  ::close(fd);
}

// info --cpu needs no model and ends with the signature CpuInfo gives this process.
TEST_F(CliErrorsTest, InfoCpu) {
  RunResult r = run({"info", "--cpu"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const CpuInfo& c = CpuInfo::host();
  for (const std::string& line :
       {"vendor:    " + c.vendor + "\n", "brand:     " + c.brand + "\n",
        "level:     " + std::string(isa_level_name(c.level)) + "\n", "features:  " + c.feature_list() + "\n",
        "signature: " + c.signature() + "\n"})
    EXPECT_NE(r.out.find(line), std::string::npos) << "missing line " << line << "in:\n" << r.out;
  for (const char* label : {"\nfamily:    ", "\ncaches:    L1d ", "\nxcr0:      0x"})
    EXPECT_NE(r.out.find(label), std::string::npos) << label << " in:\n" << r.out;
  // Exactly one of --cpu and --model.
  expect_error({"info", "--cpu", "-m", shared_model("stories260K/stories260K.gguf")}, "--cpu", "");
  expect_error({"info"}, "--model", "");
}

constexpr const char* kParseHint =
    " [CLI11 ParseError: src/cli/main.cpp should print it as \"bareflow: error: \" + e.what(), one line, exit 2]";

// Flag errors come from CLI11's parser: src/cli/main.cpp prints them as one
// "bareflow: error: ..." line too (not CLI11's two-line "...\nRun with --help ...").
TEST_F(CliErrorsTest, BadFlagValues) {
  const std::string m = shared_model("stories260K/stories260K.gguf");
  expect_error({"run", "-m", m, "--temp", "-1"}, "--temp", kParseHint);
  expect_error({"run", "-m", m, "--temp", "abc"}, "--temp", kParseHint);
  expect_error({"run", "-m", m, "--top-p", "2"}, "--top-p", kParseHint);
  expect_error({"run", "-m", m, "--top-k", "-3"}, "--top-k", kParseHint);
  expect_error({"run", "-m", m, "-t", "abc"}, "--threads", kParseHint);
  expect_error({"run", "-m", m, "-t", "100000"}, "--threads", kParseHint);
  expect_error({"run", "-m", m, "-n", "many"}, "--n-predict", kParseHint);
  expect_error({"run", "-m", m, "-c", "-5"}, "--ctx-size", kParseHint);
  expect_error({"run", "-m", m, "--no-such-flag"}, "--no-such-flag", kParseHint);
  expect_error({"run"}, "--model", kParseHint);
  expect_error({"bench", "-m", m, "-r", "0"}, "--repeats", kParseHint);
  expect_error({"bench", "-m", m, "-p", "-1"}, "--n-prompt", kParseHint);
  expect_error({"info"}, "--model", kParseHint);
  expect_error({}, "subcommand", kParseHint);
  expect_error({"frobnicate"}, "frobnicate", kParseHint);
  // mkmodel names itself: there is no input file to blame.
  expect_error({"mkmodel", "-o", path("x.gguf"), "--dim", "0", "--hidden-dim", "8", "--layers", "1", "--heads", "1",
                "--vocab-size", "8"},
               "bareflow: error: mkmodel: ");
  expect_error({"mkmodel", "-o", path("x.gguf"), "--preset", "no-such-preset"}, "bareflow: error: mkmodel: ");
  expect_error({"mkmodel", "-o", path("x.gguf"), "--preset", "stories260K", "--type", "q5_k"}, "bareflow: error: mkmodel: ");
  EXPECT_FALSE(fs::exists(path("x.gguf")));
  // An output file that cannot be created is named.
  const std::string unwritable = path("no_such_dir/x.gguf");
  expect_error({"mkmodel", "-o", unwritable, "--preset", "stories260K"}, "bareflow: error: " + unwritable + ": ");
}

TEST_F(CliErrorsTest, HelpForEverySubcommand) {
  for (std::string sub : {"run", "info", "bench", "mkmodel"}) {
    RunResult r = run({sub, "--help"});
    SCOPED_TRACE(sub);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    EXPECT_NE(r.out.find(sub), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << r.out;
    if (sub != "mkmodel") {
      EXPECT_NE(r.out.find("--model"), std::string::npos) << r.out;
    }
  }
  RunResult r = run({"--help"});
  EXPECT_EQ(r.status, 0) << r.err;
  for (const char* sub : {"run", "info", "bench", "mkmodel"}) EXPECT_NE(r.out.find(sub), std::string::npos) << r.out;
}

}  // namespace
}  // namespace bf
#include "cpu/cpu.h"
#include "test_support.h"
