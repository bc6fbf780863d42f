// Power cut, simulated: record every sector write (and flush) of a
// write-temp / fsync / rename sequence, then for EVERY prefix of the writes,
// and for random subsets of the writes inside each flush interval (a disk
// may reorder between barriers), materialise the image and check:
//   * fsck.fat -n reports nothing, or only leaked space (see fat16_internal.h: the
//     one-write windows where new/old clusters are unreachable);
//   * the library mounts it, and the state file is exactly the old or the new
//     content (or absent/new when there was no old one).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "test_util.h"

using namespace fat16test;

namespace {

struct Scenario {
  const char* name;
  bool has_old;          // the state file exists before
  bool stale_temp;       // a temp file left by an earlier crash exists
  int entries_between;   // files created between the state file and the temp (other sector)
  size_t new_size;
  size_t chunk;
  bool two_fats = false;   // FAT 2 may lag FAT 1 by one write
};

void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

class PowerCut : public ::testing::TestWithParam<Scenario> {};

// Writes the sector of `op` into the image file.
void Apply(int fd, const DiskOp& op) {
  ASSERT_EQ(pwrite(fd, op.data.data(), 512, off_t(op.lba * 512)), 512);
}

struct Checker {
  std::string img;
  std::vector<uint8_t> old_state, new_state;
  bool has_old;
  bool two_fats;
  int clean = 0, leaky = 0, states_old = 0, states_new = 0;

  void Check(const std::string& what) {
    Fsck f = RunFsck(img);
    if (f.rc == 0) clean++;
    else {
      leaky++;
      EXPECT_TRUE(OnlyLeaks(f.out, "snapshot.bin.tmp", two_fats)) << what << "\n" << f.out;
    }
    MemDisk d(ReadBytes(img));
    Fat16 fs;
    ASSERT_EQ(fat16_mount(&fs, d.dev()), 0) << what << ": " << fs.error;
    std::vector<uint8_t> got;
    bool present = LibReadAll(&fs, "/state/snapshot.bin", &got);
    if (!present) {
      EXPECT_FALSE(has_old) << what << ": state file vanished";
      states_old++;
      return;
    }
    if (has_old && got == old_state) states_old++;
    else if (got == new_state) states_new++;
    else ADD_FAILURE() << what << ": state file is neither old nor new (size " << got.size() << ")";
  }
};

TEST_P(PowerCut, EveryPrefixIsOldOrNew) {
  if (!HaveTools()) GTEST_SKIP() << "mtools/dosfstools not installed";
  const Scenario& sc = GetParam();
  std::string dir = TempDir();
  std::vector<uint8_t> old_state = RandomBytes(40000, 2), new_state = RandomBytes(sc.new_size, 3);
  std::string img = MakeStateVolume(dir, sc.two_fats, sc.has_old ? old_state : std::vector<uint8_t>{}, sc.entries_between);
  ASSERT_FALSE(img.empty());
  if (sc.stale_temp) {
    std::string out;
    WriteBytes(dir + "/t", RandomBytes(30000, 4));
    ASSERT_EQ(Sh("MTOOLS_SKIP_CHECK=1 mcopy -o -i " + Q(img) + " " + Q(dir + "/t") + " ::/state/snapshot.bin.tmp", &out), 0)
        << out;
  }
  ASSERT_EQ(RunFsck(img).rc, 0);
  std::vector<uint8_t> base = ReadBytes(img);

  // The application's sequence, recorded.
  MemDisk disk(base);
  Fat16 fs;
  ASSERT_EQ(fat16_mount(&fs, disk.dev()), 0) << fs.error;
  disk.record = true;
  Fat16File f;
  ASSERT_EQ(fat16_open(&fs, "/state/snapshot.bin.tmp", FAT16_O_CREAT | FAT16_O_TRUNC, &f), 0) << fs.error;
  for (size_t off = 0; off < new_state.size(); off += sc.chunk) {
    size_t n = std::min(sc.chunk, new_state.size() - off);
    ASSERT_EQ(fat16_write(&fs, &f, off, new_state.data() + off, n), int64_t(n)) << fs.error;
  }
  ASSERT_EQ(fat16_fsync(&fs, &f), 0);
  ASSERT_EQ(fat16_rename(&fs, "/state/snapshot.bin.tmp", "/state/snapshot.bin"), 0) << fs.error;
  ASSERT_EQ(fat16_sync(&fs), 0);
  disk.record = false;

  Checker ck{img, old_state, new_state, sc.has_old, sc.two_fats};
  // Every prefix, in order.
  WriteBytes(img, base);
  int fd = open(img.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ck.Check("prefix 0");
  size_t writes = 0;
  for (size_t i = 0; i < disk.ops.size(); i++) {
    if (disk.ops[i].flush) continue;
    Apply(fd, disk.ops[i]);
    writes++;
    ck.Check("prefix " + std::to_string(writes));
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_EQ(ck.states_new > 0, true);
  // Final state: clean and new.
  Fsck final_fsck = RunFsck(img);
  EXPECT_EQ(final_fsck.rc, 0) << final_fsck.out;

  // Reorderings inside each flush interval: previous intervals complete, then
  // a random subset of this interval's writes (in program order).
  std::mt19937 rng(42);
  int reorder_checks = 0;
  WriteBytes(img, base);
  size_t start = 0;
  while (start < disk.ops.size() && !::testing::Test::HasFailure()) {
    size_t end = start;
    while (end < disk.ops.size() && !disk.ops[end].flush) end++;
    size_t n = end - start;
    if (n > 1) {
      std::vector<uint8_t> snapshot = ReadBytes(img);
      int trials = n <= 4 ? (1 << n) - 2 : 12;
      for (int t = 0; t < trials; t++) {
        uint32_t mask = n <= 4 ? uint32_t(t + 1) : uint32_t(rng());
        for (size_t k = 0; k < n; k++)
          if (n <= 4 ? (mask >> k) & 1 : (rng() & 1)) Apply(fd, disk.ops[start + k]);
        ck.Check("reorder in interval at op " + std::to_string(start));
        reorder_checks++;
        WriteBytes(img, snapshot);
      }
    }
    for (size_t k = start; k < end; k++) Apply(fd, disk.ops[k]);
    start = end + 1;
  }
  close(fd);
  printf("[powercut %s] %zu sector writes, %d checks with reorderings; fsck clean %d, leaked-space only %d; "
         "state old %d, new %d\n",
         sc.name, writes, reorder_checks, ck.clean, ck.leaky, ck.states_old, ck.states_new);
  Sh("rm -rf " + Q(dir));
}

INSTANTIATE_TEST_SUITE_P(
    Fat16, PowerCut,
    ::testing::Values(Scenario{"replace_same_sector", true, false, 0, 70000, 8192},
                      Scenario{"replace_other_sector", true, false, 20, 50000, 3000},
                      Scenario{"first_save", false, false, 0, 30000, 30000},
                      Scenario{"stale_temp_left_over", true, true, 0, 45000, 45000},
                      Scenario{"small_in_place_growth", true, false, 0, 700, 100},
                      Scenario{"two_fats_replace", true, false, 0, 60000, 7000, true}),
    [](const ::testing::TestParamInfo<Scenario>& i) { return std::string(i.param.name); });

}  // namespace
