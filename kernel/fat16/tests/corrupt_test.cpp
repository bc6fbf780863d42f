// Corrupted images must give errors, never crashes or hangs: targeted
// corruptions with expected errors, then random byte flips over the metadata
// followed by a full walk (readdir, read, write, mkdir, rename, unlink).
#include <gtest/gtest.h>

#include <random>

#include "test_util.h"

using namespace fat16test;

namespace {

class CorruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTools()) GTEST_SKIP() << "mtools/dosfstools not installed";
    dir = TempDir();
    img = MakeImage(dir, 4400, "-s 1 -f 2");
    std::string out;
    std::string mt = "MTOOLS_SKIP_CHECK=1 ";
    ASSERT_EQ(Sh(mt + "mmd -i " + Q(img) + " ::/state ::/state/deeper", &out), 0) << out;
    WriteBytes(dir + "/a", RandomBytes(5000, 1));
    ASSERT_EQ(Sh(mt + "mcopy -i " + Q(img) + " " + Q(dir + "/a") + " '::/state/a long name.bin'", &out), 0) << out;
    ASSERT_EQ(Sh(mt + "mcopy -i " + Q(img) + " " + Q(dir + "/a") + " ::/state/deeper/B.TXT", &out), 0) << out;
    ASSERT_EQ(Sh(mt + "mcopy -i " + Q(img) + " " + Q(dir + "/a") + " ::/top.bin", &out), 0) << out;
    base = ReadBytes(img);
    MemDisk d(base);
    Fat16 fs;
    ASSERT_EQ(fat16_mount(&fs, d.dev()), 0);
    data_start = size_t(fs.data_lba) * 512;
    fat_start = size_t(fs.fat_lba) * 512;
  }
  void TearDown() override {
    if (!dir.empty()) Sh("rm -rf " + Q(dir));
  }
  std::string dir, img;
  std::vector<uint8_t> base;
  size_t data_start = 0, fat_start = 0;
};

void Walk(Fat16* fs, const std::string& path, int depth) {
  if (depth > 6) return;
  Fat16File d;
  if (fat16_open(fs, path.c_str(), 0, &d) != 0) return;
  if (!d.is_dir) {
    std::vector<uint8_t> buf(4096);
    for (uint64_t off = 0; off < d.size && off < 1u << 20; off += buf.size())
      if (fat16_read(fs, &d, off, buf.data(), buf.size()) < 0) break;
    return;
  }
  uint32_t pos = 0;
  Fat16DirEntry e;
  for (int i = 0; i < 200 && fat16_readdir(fs, &d, &pos, &e) == 1; i++) {
    std::string child = (path == "/" ? "" : path) + "/" + e.name;
    Walk(fs, child, depth + 1);
  }
}

void Exercise(Fat16* fs) {
  Walk(fs, "/", 0);
  Fat16File f;
  if (fat16_open(fs, "/state/new file.txt", FAT16_O_CREAT, &f) == 0) {
    std::vector<uint8_t> b(3000, 1);
    fat16_write(fs, &f, 0, b.data(), b.size());
    fat16_truncate(fs, &f, 100);
  }
  fat16_mkdir(fs, "/state/dir2");
  fat16_rename(fs, "/state/new file.txt", "/state/a long name.bin");
  fat16_rename(fs, "/top.bin", "/state/deeper/B.TXT");
  fat16_unlink(fs, "/state/deeper/B.TXT");
  fat16_rmdir(fs, "/state/dir2");
  uint64_t t, fr;
  fat16_statfs(fs, &t, &fr);
  Walk(fs, "/", 0);
}

TEST_F(CorruptTest, Targeted) {
  Fat16 fs;
  {
    auto b = base;
    b[510] = 0;
    MemDisk d(b);
    EXPECT_EQ(fat16_mount(&fs, d.dev()), FAT16_EUCLEAN);
    EXPECT_NE(std::string(fs.error).find("0x55AA"), std::string::npos) << fs.error;
  }
  {
    auto b = base;
    b[13] = 3;   // sectors per cluster not a power of two
    MemDisk d(b);
    EXPECT_LT(fat16_mount(&fs, d.dev()), 0);
  }
  {
    auto b = base;
    b.resize(b.size() / 2);   // truncated image
    MemDisk d(b);
    EXPECT_EQ(fat16_mount(&fs, d.dev()), FAT16_EUCLEAN);
    EXPECT_NE(std::string(fs.error).find("larger"), std::string::npos) << fs.error;
  }
  {
    auto b = base;
    b.resize(b.size() / 2);
    MemDisk d(b);
    Fat16BlockDevice dev = *d.dev();
    dev.sector_count = 0;   // size unknown: I/O past the end must fail cleanly
    if (fat16_mount(&fs, &dev) == 0) Exercise(&fs);
  }
  {
    // Looping chain: /top.bin's second cluster points back to its first.
    MemDisk d(base);
    ASSERT_EQ(fat16_mount(&fs, d.dev()), 0);
    Fat16Stat st;
    ASSERT_EQ(fat16_stat(&fs, "/top.bin", &st), 0);
    uint16_t c = st.first_cluster;
    uint16_t next;
    memcpy(&next, &d.bytes[fat_start + c * 2], 2);
    memcpy(&d.bytes[fat_start + next * 2], &c, 2);
    ASSERT_EQ(fat16_mount(&fs, d.dev()), 0);
    std::vector<uint8_t> got;
    EXPECT_FALSE(LibReadAll(&fs, "/top.bin", &got));
    EXPECT_EQ(fat16_unlink(&fs, "/top.bin"), FAT16_EUCLEAN);
    Fat16File f;
    EXPECT_EQ(fat16_open(&fs, "/top.bin", 0, &f), FAT16_EUCLEAN);
    EXPECT_NE(std::string(fs.error).find("chain"), std::string::npos) << fs.error;
    EXPECT_EQ(fat16_rename(&fs, "/state/a long name.bin", "/top.bin"), FAT16_EUCLEAN);
  }
  {
    // Directory chain that loops onto itself, and one pointing outside the FAT.
    MemDisk d(base);
    ASSERT_EQ(fat16_mount(&fs, d.dev()), 0);
    Fat16Stat st;
    ASSERT_EQ(fat16_stat(&fs, "/state", &st), 0);
    uint16_t c = st.first_cluster;
    memcpy(&d.bytes[fat_start + c * 2], &c, 2);
    ASSERT_EQ(fat16_mount(&fs, d.dev()), 0);
    Exercise(&fs);   // must terminate
    uint16_t out = 0xFFF0;
    memcpy(&d.bytes[fat_start + c * 2], &out, 2);
    ASSERT_EQ(fat16_mount(&fs, d.dev()), 0);
    Exercise(&fs);
  }
}

TEST_F(CorruptTest, RandomFlipsNeverCrashOrHang) {
  std::mt19937 rng(1234);
  int mounted = 0;
  const int kRounds = 1500;
  for (int round = 0; round < kRounds; round++) {
    auto b = base;
    int flips = 1 + int(rng() % 8);
    size_t limit = data_start + 16 * 512;   // BPB, FATs, root, first directories
    for (int i = 0; i < flips; i++) b[rng() % limit] ^= uint8_t(1 + rng() % 255);
    MemDisk d(b);
    Fat16 fs;
    int r = fat16_mount(&fs, d.dev());
    if (r == 0) {
      mounted++;
      Exercise(&fs);
    } else {
      EXPECT_TRUE(fs.error && fs.error[0]);
    }
  }
  printf("[corrupt] %d rounds, %d mounted and exercised\n", kRounds, mounted);
}

}  // namespace
