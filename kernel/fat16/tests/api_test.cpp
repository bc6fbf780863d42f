// API semantics: error codes, handles, rename rules, space exhaustion.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"

using namespace fat16test;

namespace {

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTools()) GTEST_SKIP() << "mtools/dosfstools not installed";
    dir = TempDir();
    img = MakeImage(dir, 16384, "-s 1 -f 1");
    disk = std::make_unique<MemDisk>(ReadBytes(img));
    ASSERT_EQ(fat16_mount(&fs, disk->dev()), 0) << fs.error;
  }
  void TearDown() override {
    if (!dir.empty()) Sh("rm -rf " + Q(dir));
  }
  // fsck.fat -n on the current disk contents.
  void ExpectClean() {
    ASSERT_EQ(fat16_sync(&fs), 0);   // what unmounting does: marks the volume clean
    WriteBytes(img, disk->bytes);
    Fsck f = RunFsck(img);
    EXPECT_EQ(f.rc, 0) << f.out;
  }
  std::string dir, img;
  std::unique_ptr<MemDisk> disk;
  Fat16 fs;
};

TEST_F(ApiTest, ErrorCodes) {
  Fat16File f;
  Fat16Stat st;
  EXPECT_EQ(fat16_open(&fs, "/nope", 0, &f), FAT16_ENOENT);
  EXPECT_EQ(fat16_open(&fs, "/nope/x", FAT16_O_CREAT, &f), FAT16_ENOENT);
  ASSERT_TRUE(LibWriteAll(&fs, "/file.txt", {1, 2, 3}));
  EXPECT_EQ(fat16_open(&fs, "/file.txt", FAT16_O_CREAT | FAT16_O_EXCL, &f), FAT16_EEXIST);
  EXPECT_EQ(fat16_open(&fs, "/file.txt/x", 0, &f), FAT16_ENOTDIR);
  EXPECT_EQ(fat16_open(&fs, "/file.txt", FAT16_O_DIRECTORY, &f), FAT16_ENOTDIR);
  EXPECT_EQ(fat16_mkdir(&fs, "/file.txt"), FAT16_EEXIST);
  ASSERT_EQ(fat16_mkdir(&fs, "/d"), 0);
  EXPECT_EQ(fat16_mkdir(&fs, "/D"), FAT16_EEXIST);   // case-insensitive
  ASSERT_EQ(fat16_open(&fs, "/d", 0, &f), 0);
  uint8_t b[4];
  EXPECT_EQ(fat16_read(&fs, &f, 0, b, 4), FAT16_EISDIR);
  EXPECT_EQ(fat16_write(&fs, &f, 0, b, 4), FAT16_EISDIR);
  EXPECT_EQ(fat16_unlink(&fs, "/d"), FAT16_EISDIR);
  EXPECT_EQ(fat16_rmdir(&fs, "/file.txt"), FAT16_ENOTDIR);
  ASSERT_TRUE(LibWriteAll(&fs, "/d/inside", {1}));
  EXPECT_EQ(fat16_rmdir(&fs, "/d"), FAT16_ENOTEMPTY);
  EXPECT_EQ(fat16_rmdir(&fs, "/"), FAT16_EBUSY);
  std::string longname = "/" + std::string(256, 'a');
  EXPECT_EQ(fat16_open(&fs, longname.c_str(), FAT16_O_CREAT, &f), FAT16_ENAMETOOLONG);
  std::string ok255 = "/" + std::string(255, 'b');
  EXPECT_EQ(fat16_open(&fs, ok255.c_str(), FAT16_O_CREAT, &f), 0) << fs.error;
  EXPECT_EQ(fat16_stat(&fs, ok255.c_str(), &st), 0);
  EXPECT_EQ(fat16_open(&fs, "/bad:name", FAT16_O_CREAT, &f), FAT16_EINVAL);
  EXPECT_EQ(fat16_rename(&fs, "/file.txt", "/d"), FAT16_EISDIR);
  EXPECT_EQ(fat16_rename(&fs, "/d", "/file.txt"), FAT16_ENOTDIR);
  EXPECT_EQ(fat16_rename(&fs, "/d", "/d/sub"), FAT16_EINVAL);
  EXPECT_EQ(fat16_rename(&fs, "/missing", "/x"), FAT16_ENOENT);
  EXPECT_STREQ(fat16_strerror(FAT16_ENOSPC), "no space left on device");
  ExpectClean();
}

TEST_F(ApiTest, RenameReplacesAndHandlesGoStale) {
  ASSERT_TRUE(LibWriteAll(&fs, "/state.bin", RandomBytes(3000, 1)));
  ASSERT_TRUE(LibWriteAll(&fs, "/state.bin.tmp", RandomBytes(5000, 2)));
  Fat16File old_handle;
  ASSERT_EQ(fat16_open(&fs, "/state.bin", 0, &old_handle), 0);
  ASSERT_EQ(fat16_rename(&fs, "/state.bin.tmp", "/state.bin"), 0);
  std::vector<uint8_t> got;
  ASSERT_TRUE(LibReadAll(&fs, "/state.bin", &got));
  EXPECT_EQ(got, RandomBytes(5000, 2));
  Fat16File f;
  EXPECT_EQ(fat16_open(&fs, "/state.bin.tmp", 0, &f), FAT16_ENOENT);
  // The handle on the replaced target now sees the new file (never freed clusters).
  std::vector<uint8_t> via_old(5000);
  EXPECT_EQ(fat16_read(&fs, &old_handle, 0, via_old.data(), via_old.size()), 5000);
  EXPECT_EQ(via_old, RandomBytes(5000, 2));
  // A handle on a deleted file is stale.
  Fat16File doomed;
  ASSERT_TRUE(LibWriteAll(&fs, "/doomed", RandomBytes(100, 3)));
  ASSERT_EQ(fat16_open(&fs, "/doomed", 0, &doomed), 0);
  ASSERT_EQ(fat16_unlink(&fs, "/doomed"), 0);
  uint8_t b = 7;
  EXPECT_EQ(fat16_write(&fs, &doomed, 0, &b, 1), FAT16_ESTALE);
  EXPECT_EQ(fat16_read(&fs, &doomed, 0, &b, 1), FAT16_ESTALE);
  // Two handles on one file stay coherent.
  Fat16File h1, h2;
  ASSERT_EQ(fat16_open(&fs, "/two", FAT16_O_CREAT, &h1), 0);
  ASSERT_EQ(fat16_open(&fs, "/two", 0, &h2), 0);
  auto big = RandomBytes(10000, 4);
  ASSERT_EQ(fat16_write(&fs, &h1, 0, big.data(), big.size()), 10000);
  ASSERT_EQ(fat16_write(&fs, &h2, 10000, big.data(), 100), 100);
  ASSERT_EQ(fat16_write(&fs, &h1, 5, &b, 1), 1);
  std::vector<uint8_t> want = big;
  want.insert(want.end(), big.begin(), big.begin() + 100);
  want[5] = 7;
  std::vector<uint8_t> two;
  ASSERT_TRUE(LibReadAll(&fs, "/two", &two));
  EXPECT_EQ(two, want);
  // Rename onto itself and case-only rename.
  EXPECT_EQ(fat16_rename(&fs, "/state.bin", "/state.bin"), 0);
  EXPECT_EQ(fat16_rename(&fs, "/state.bin", "/State.Bin"), 0);
  Fat16File root;
  ASSERT_EQ(fat16_open(&fs, "/", 0, &root), 0);
  uint32_t pos = 0;
  Fat16DirEntry e;
  std::vector<std::string> names;
  while (fat16_readdir(&fs, &root, &pos, &e) == 1) names.push_back(e.name);
  EXPECT_EQ(std::count(names.begin(), names.end(), "State.Bin"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "state.bin"), 0);
  // Directory over empty directory.
  ASSERT_EQ(fat16_mkdir(&fs, "/a"), 0);
  ASSERT_EQ(fat16_mkdir(&fs, "/b"), 0);
  ASSERT_TRUE(LibWriteAll(&fs, "/a/f", {5}));
  ASSERT_EQ(fat16_rename(&fs, "/a", "/b"), 0);
  ASSERT_TRUE(LibReadAll(&fs, "/b/f", &got));
  EXPECT_EQ(got, std::vector<uint8_t>{5});
  ExpectClean();
}

TEST_F(ApiTest, FillsDiskThenNoSpace) {
  Fat16File f;
  ASSERT_EQ(fat16_open(&fs, "/big", FAT16_O_CREAT, &f), 0);
  std::vector<uint8_t> chunk(64 * 1024, 0xAB);
  uint64_t off = 0;
  int64_t r;
  while ((r = fat16_write(&fs, &f, off, chunk.data(), chunk.size())) > 0) off += uint64_t(r);
  EXPECT_EQ(r, FAT16_ENOSPC);
  uint64_t total, freeb;
  ASSERT_EQ(fat16_statfs(&fs, &total, &freeb), 0);
  EXPECT_LT(freeb, chunk.size());
  // Nothing half-written: the size is what was acknowledged.
  Fat16Stat st;
  ASSERT_EQ(fat16_stat(&fs, "/big", &st), 0);
  EXPECT_EQ(st.size, off);
  ExpectClean();
  ASSERT_EQ(fat16_unlink(&fs, "/big"), 0);
  ASSERT_EQ(fat16_statfs(&fs, &total, &freeb), 0);
  EXPECT_EQ(freeb, total);
  ExpectClean();
}

TEST_F(ApiTest, RootDirectoryFull) {
  // 512 root entries; 8.3 names take one slot each (the volume label takes one).
  int made = 0;
  for (int i = 0; i < 600; i++) {
    Fat16File f;
    std::string p = "/F" + std::to_string(i);
    int r = fat16_open(&fs, p.c_str(), FAT16_O_CREAT, &f);
    if (r == FAT16_ENOSPC) break;
    ASSERT_EQ(r, 0) << fs.error;
    made++;
  }
  EXPECT_GE(made, 500);
  EXPECT_LT(made, 600);
  ExpectClean();
}

TEST_F(ApiTest, WriteFailureIsReported) {
  disk->fail_writes = true;
  Fat16File f;
  EXPECT_EQ(fat16_open(&fs, "/x", FAT16_O_CREAT, &f), FAT16_EIO);
}

}  // namespace

// fat16_extents: a file grown around another one has two runs on disk; the extents
// name exactly the device bytes that hold each part, for any (unaligned) range.
TEST_F(ApiTest, ExtentsNameTheBytesOnDisk) {
  std::vector<uint8_t> a = RandomBytes(3000, 1), b = RandomBytes(1000, 2), a2 = RandomBytes(5000, 3);
  Fat16File fa, fb;
  ASSERT_EQ(fat16_open(&fs, "/a.bin", FAT16_O_CREAT, &fa), 0);
  ASSERT_EQ(fat16_write(&fs, &fa, 0, a.data(), a.size()), int64_t(a.size()));
  ASSERT_EQ(fat16_open(&fs, "/b.bin", FAT16_O_CREAT, &fb), 0);
  ASSERT_EQ(fat16_write(&fs, &fb, 0, b.data(), b.size()), int64_t(b.size()));
  ASSERT_EQ(fat16_write(&fs, &fa, a.size(), a2.data(), a2.size()), int64_t(a2.size()));
  a.insert(a.end(), a2.begin(), a2.end());

  for (uint64_t off : {0ul, 1ul, 511ul, 2999ul, 3100ul}) {
    Fat16Extent ext[8];
    int n = fat16_extents(&fs, &fa, off, 1 << 20, ext, 8);
    ASSERT_GT(n, 0);
    uint64_t at = off;
    for (int i = 0; i < n; i++) {
      ASSERT_EQ(ext[i].offset, at);
      const uint8_t* disk_bytes = disk->bytes.data() + ext[i].lba * 512 + ext[i].offset % 512;
      ASSERT_TRUE(std::equal(disk_bytes, disk_bytes + ext[i].bytes, a.begin() + long(at))) << "extent " << i;
      at += ext[i].bytes;
    }
    EXPECT_EQ(at, a.size()) << "extents stop at the end of the file";
    if (off < 3000) EXPECT_EQ(n, 2) << "the first part and the appended part";
  }
  Fat16Extent one;
  EXPECT_EQ(fat16_extents(&fs, &fa, 0, 100, &one, 1), 1);
  EXPECT_EQ(one.bytes, 100u);
  EXPECT_EQ(fat16_extents(&fs, &fa, a.size(), 10, &one, 1), 0);
  Fat16File root;
  ASSERT_EQ(fat16_open(&fs, "/", 0, &root), 0);
  EXPECT_EQ(fat16_extents(&fs, &root, 0, 10, &one, 1), FAT16_EISDIR);
}
