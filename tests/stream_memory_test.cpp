// Memory for streamed weights: the arena hands out consecutive zeroed ranges on huge-page
// advice, buffers of their own are aligned and advised too, and the forward places
// its repacked matrices one after another in forward order.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "graph/forward.h"
#include "mkmodel/mkmodel.h"
#include "test_support.h"
#include "util/stream_memory.h"

namespace bf {
namespace {

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

bool zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

// The VmFlags line of the mapping holding p (empty when /proc says nothing).
std::string vm_flags_of(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t lo, hi;
    char dash;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') inside = lo <= addr && addr < hi;
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

bool thp_available() { return std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good(); }

TEST(StreamArena, TakesConsecutiveZeroedLinesUntilFull) {
  StreamArena arena(kHugePage);
  uint8_t* a = arena.take(100);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % kHugePage, 0u) << "starts on a huge page";
  uint8_t* b = arena.take(64);
  EXPECT_EQ(b, a + 128) << "the next buffer starts at the next 64-byte line";
  EXPECT_EQ(arena.used(), 192u);
  EXPECT_TRUE(zero(a, 192));
  EXPECT_EQ(arena.take(kHugePage), nullptr) << "more than is left";
  uint8_t* rest = arena.take(kHugePage - 192);
  EXPECT_EQ(rest, b + 64) << "exactly what is left";
  EXPECT_TRUE(zero(rest, kHugePage - 192));
  EXPECT_EQ(arena.take(1), nullptr);
  if (thp_available()) {
    EXPECT_NE(vm_flags_of(a).find(" hg"), std::string::npos) << vm_flags_of(a);
  }
}

TEST(StreamArena, FullArenaFallsBackToABufferOfItsOwn) {
  StreamArena arena(4096);
  StreamBuffer in = allocate_stream_buffer(100, &arena);
  StreamBuffer out = allocate_stream_buffer(8192, &arena);  // no room left for it
  ASSERT_NE(in.get(), nullptr);
  ASSERT_NE(out.get(), nullptr);
  const auto* base = in.get();
  EXPECT_TRUE(out.get() < base || out.get() >= base + 4096) << "not inside the arena";
  EXPECT_TRUE(zero(out.get(), 8192));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(out.get()) % 64, 0u);
}

TEST(StreamBuffer, LargeBuffersStartOnAHugePageAndAskForHugePages) {
  StreamBuffer small = allocate_stream_buffer(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.get()) % 64, 0u);
  EXPECT_TRUE(zero(small.get(), 1000));
  const size_t big_bytes = 3 * kHugePage + 100;
  StreamBuffer big = allocate_stream_buffer(big_bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.get()) % kHugePage, 0u);
  EXPECT_TRUE(zero(big.get(), big_bytes));
  if (thp_available()) {
    EXPECT_NE(vm_flags_of(big.get()).find(" hg"), std::string::npos) << vm_flags_of(big.get());
  }
}

// Every repacked matrix lies in the forward's arena, each right after the one before it
// in forward order: a token step is one stream.
TEST(StreamArena, ForwardPacksMatricesInForwardOrder) {
  if (!CpuInfo::host().has(IsaLevel::Avx2)) GTEST_SKIP() << "skipped: no repacking integer kernels below avx2";
  test::TempDir dir;
  MkModelSpec s = test::small_model_spec(7, "arena");
  s.type = DType::Q8_0;
  write_gguf_model(dir.file("m.gguf"), s, nullptr);
  auto model = load_model(dir.file("m.gguf"));
  Forward forward(*model, ForwardOptions{.threads = 1, .context = 16});
  const uint8_t* end = nullptr;  // of the previous matrix
  int packed = 0;
  for (const OpInstance* op : forward.ops()) {
    if (op->kind != OpKind::Matmul || !op->packed.storage) continue;
    const auto* w = static_cast<const uint8_t*>(op->packed.w);
    // r8 rounds values and scales to lines apart: up to one line more than `bytes`.
    if (end) {
      EXPECT_TRUE(w >= end && w - end <= 64) << op->name << " follows the matrix before it";
    }
    end = w + (op->packed.bytes + 63) / 64 * 64;
    ++packed;
  }
  EXPECT_EQ(packed, 7 * model->config.n_layers + 1) << "every matmul repacked";
  const float* logits = forward.step(1, 0);
  EXPECT_TRUE(std::isfinite(logits[0]));
}

}  // namespace
}  // namespace bf
