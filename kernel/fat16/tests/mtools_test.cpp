// Interoperability with mtools/dosfstools: images they make are read correctly
// (LFN names, subdirectories, multi-cluster files and directories), and what
// the library writes is read back by mtools and passes fsck.fat -n.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "test_util.h"

using namespace fat16test;

namespace {

std::string Mt(const std::string& img) { return "MTOOLS_SKIP_CHECK=1 MTOOLS_NO_VFAT=0 "; }

void McopyIn(const std::string& img, const std::string& src, const std::string& dest) {
  std::string out;
  ASSERT_EQ(Sh(Mt(img) + "mcopy -o -i " + Q(img) + " " + Q(src) + " " + Q("::" + dest), &out), 0) << out;
}

std::vector<uint8_t> Mtype(const std::string& img, const std::string& path, const std::string& dir) {
  std::string tmp = dir + "/mtype.out";
  std::string out;
  EXPECT_EQ(Sh(Mt(img) + "mcopy -o -i " + Q(img) + " " + Q("::" + path) + " " + Q(tmp), &out), 0) << out;
  auto b = ReadBytes(tmp);
  remove(tmp.c_str());
  return b;
}

std::set<std::string> LibList(Fat16* fs, const char* path) {
  std::set<std::string> names;
  Fat16File d;
  EXPECT_EQ(fat16_open(fs, path, FAT16_O_DIRECTORY, &d), 0);
  uint32_t pos = 0;
  Fat16DirEntry e;
  int r;
  while ((r = fat16_readdir(fs, &d, &pos, &e)) == 1) names.insert(e.name);
  EXPECT_EQ(r, 0);
  return names;
}

using MtoolsTest = ImageDirTest;

TEST_F(MtoolsTest, ReadsImageMadeByMtools) {
  std::string img = MakeImage(dir, 65536, "");
  std::map<std::string, std::vector<uint8_t>> files = {
      {"/hello.txt", {'h', 'i', '\n'}},
      {"/A Long File Name.bin", RandomBytes(5000, 1)},
      {"/models/stories260K.bin", RandomBytes(300 * 1024 + 17, 2)},
      {"/deep/er/still deeper name.dat", RandomBytes(2049, 3)},
      {"/UPPER.TXT", RandomBytes(1, 4)},
      {"/empty", {}},
  };
  for (int i = 0; i < 70; i++)
    files["/many/file number " + std::to_string(i) + ".txt"] = RandomBytes(size_t(i * 37), uint32_t(100 + i));
  std::string out;
  ASSERT_EQ(Sh(Mt(img) + "mmd -i " + Q(img) + " ::/models ::/deep ::/deep/er ::/many ::/state", &out), 0) << out;
  for (auto& [path, data] : files) {
    WriteBytes(dir + "/src", data);
    McopyIn(img, dir + "/src", path);
  }
  MemDisk disk(ReadBytes(img));
  Fat16 fs;
  ASSERT_EQ(fat16_mount(&fs, disk.dev()), 0) << fs.error;
  for (auto& [path, data] : files) {
    std::vector<uint8_t> got;
    ASSERT_TRUE(LibReadAll(&fs, path.c_str(), &got)) << path;
    EXPECT_EQ(got, data) << path;
    // Case-insensitive lookup.
    std::string up = path;
    std::transform(up.begin(), up.end(), up.begin(), ::toupper);
    Fat16Stat st;
    EXPECT_EQ(fat16_stat(&fs, up.c_str(), &st), 0) << up;
    EXPECT_EQ(st.size, data.size());
    EXPECT_GT(st.mtime, 1000000000);
  }
  EXPECT_EQ(LibList(&fs, "/"), (std::set<std::string>{"hello.txt", "A Long File Name.bin", "models", "deep",
                                                      "UPPER.TXT", "empty", "many", "state"}));
  EXPECT_EQ(LibList(&fs, "/many").size(), 70u);
  EXPECT_EQ(LibList(&fs, "/deep/er"), (std::set<std::string>{"still deeper name.dat"}));
  Fat16Stat st;
  EXPECT_EQ(fat16_stat(&fs, "/deep/er", &st), 0);
  EXPECT_TRUE(st.is_dir);
  EXPECT_EQ(fat16_stat(&fs, "/deep/er/../../models/./stories260K.bin", &st), 0);
  EXPECT_EQ(st.size, 300u * 1024 + 17);
  // Reads at odd offsets and lengths.
  Fat16File f;
  ASSERT_EQ(fat16_open(&fs, "/models/stories260K.bin", 0, &f), 0);
  auto& big = files["/models/stories260K.bin"];
  for (uint64_t off : {0ull, 1ull, 511ull, 512ull, 2047ull, 2048ull, 100000ull, 307200ull}) {
    std::vector<uint8_t> buf(5000);
    int64_t n = fat16_read(&fs, &f, off, buf.data(), buf.size());
    size_t want = std::min<size_t>(5000, big.size() - off);
    ASSERT_EQ(n, int64_t(want));
    EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + long(want), big.begin() + long(off)));
  }
  EXPECT_EQ(fat16_read(&fs, &f, big.size(), nullptr, 10), 0);
}

TEST_F(MtoolsTest, LibraryWritesReadBackByMtools) {
  std::string img = MakeImage(dir, 65536, "-s 1");
  MemDisk disk(ReadBytes(img));
  Fat16 fs;
  ASSERT_EQ(fat16_mount(&fs, disk.dev()), 0) << fs.error;
  std::map<std::string, std::vector<uint8_t>> files;
  ASSERT_EQ(fat16_mkdir(&fs, "/state"), 0);
  ASSERT_EQ(fat16_mkdir(&fs, "/state/Sub Dir With Long Name"), 0);
  files["/README.TXT"] = RandomBytes(100, 10);
  files["/lower.txt"] = RandomBytes(513, 11);
  files["/state/snapshot.bin.tmp"] = RandomBytes(70000, 12);
  files["/state/Mixed Case Name With Spaces.txt"] = RandomBytes(3, 13);
  files["/state/Sub Dir With Long Name/x.bin"] = RandomBytes(1 << 20, 14);
  files["/state/Sub Dir With Long Name/abcdefghijklmnopqrstuvwxyz0123456789.data"] = {};
  for (auto& [path, data] : files) ASSERT_TRUE(LibWriteAll(&fs, path.c_str(), data)) << path << " " << fs.error;
  // Chunked appends of odd sizes.
  {
    std::vector<uint8_t> all = RandomBytes(200000, 15);
    Fat16File f;
    ASSERT_EQ(fat16_open(&fs, "/state/chunks.bin", FAT16_O_CREAT, &f), 0);
    size_t off = 0, step = 1;
    while (off < all.size()) {
      size_t n = std::min(all.size() - off, step);
      ASSERT_EQ(fat16_write(&fs, &f, off, all.data() + off, n), int64_t(n));
      off += n;
      step = step * 3 + 7;
      if (step > 40000) step = 333;
    }
    files["/state/chunks.bin"] = all;
  }
  // Sparse write, overwrite in the middle, shrink.
  {
    Fat16File f;
    ASSERT_EQ(fat16_open(&fs, "/sparse.bin", FAT16_O_CREAT, &f), 0);
    std::vector<uint8_t> want(10000, 0);
    uint8_t tail[5] = {1, 2, 3, 4, 5};
    ASSERT_EQ(fat16_write(&fs, &f, 9995, tail, 5), 5);
    std::copy(tail, tail + 5, want.begin() + 9995);
    uint8_t mid[3] = {9, 9, 9};
    ASSERT_EQ(fat16_write(&fs, &f, 700, mid, 3), 3);
    std::copy(mid, mid + 3, want.begin() + 700);
    ASSERT_EQ(fat16_truncate(&fs, &f, 8000), 0);
    want.resize(8000);
    ASSERT_EQ(fat16_truncate(&fs, &f, 8100), 0);
    want.resize(8100, 0);
    files["/sparse.bin"] = want;
  }
  // Rename replacing an existing file, rename to a new long name, unlink, rmdir.
  ASSERT_TRUE(LibWriteAll(&fs, "/state/snapshot.bin", RandomBytes(4000, 16)));
  ASSERT_EQ(fat16_rename(&fs, "/state/snapshot.bin.tmp", "/state/snapshot.bin"), 0) << fs.error;
  files["/state/snapshot.bin"] = files["/state/snapshot.bin.tmp"];
  files.erase("/state/snapshot.bin.tmp");
  ASSERT_EQ(fat16_rename(&fs, "/lower.txt", "/state/moved with a long name.txt"), 0);
  files["/state/moved with a long name.txt"] = files["/lower.txt"];
  files.erase("/lower.txt");
  ASSERT_TRUE(LibWriteAll(&fs, "/gone.txt", RandomBytes(9000, 17)));
  ASSERT_EQ(fat16_unlink(&fs, "/gone.txt"), 0);
  ASSERT_EQ(fat16_mkdir(&fs, "/tmpdir"), 0);
  ASSERT_EQ(fat16_rmdir(&fs, "/tmpdir"), 0);
  ASSERT_EQ(fat16_mkdir(&fs, "/movedir"), 0);
  ASSERT_TRUE(LibWriteAll(&fs, "/movedir/inner.txt", RandomBytes(10, 18)));
  ASSERT_EQ(fat16_rename(&fs, "/movedir", "/state/movedir2"), 0);
  files["/state/movedir2/inner.txt"] = RandomBytes(10, 18);
  // Many entries: directory grows past one cluster (512-byte clusters here).
  for (int i = 0; i < 40; i++) {
    std::string p = "/state/entry number " + std::to_string(i) + ".dat";
    files[p] = RandomBytes(size_t(i), uint32_t(200 + i));
    ASSERT_TRUE(LibWriteAll(&fs, p.c_str(), files[p])) << p << " " << fs.error;
  }
  ASSERT_EQ(fat16_sync(&fs), 0);
  WriteBytes(img, disk.bytes);

  Fsck fk = RunFsck(img);
  EXPECT_EQ(fk.rc, 0) << fk.out;
  for (auto& [path, data] : files) EXPECT_EQ(Mtype(img, path, dir), data) << path;
  std::string out;
  ASSERT_EQ(Sh(Mt(img) + "mdir -i " + Q(img) + " -b ::/state", &out), 0) << out;
  EXPECT_NE(out.find("::/state/Mixed Case Name With Spaces.txt"), std::string::npos) << out;
  EXPECT_NE(out.find("::/state/snapshot.bin"), std::string::npos) << out;
  EXPECT_EQ(out.find("snapshot.bin.tmp"), std::string::npos) << out;
  ASSERT_EQ(Sh(Mt(img) + "mdir -i " + Q(img) + " -b ::/", &out), 0) << out;
  EXPECT_EQ(out.find("gone.txt"), std::string::npos) << out;
  EXPECT_EQ(out.find("tmpdir"), std::string::npos) << out;
  EXPECT_NE(out.find("README.TXT"), std::string::npos) << out;
}

TEST_F(MtoolsTest, MountsMbrPartition) {
  // Partition image at LBA 2048 behind an MBR with one type-0x06 entry.
  std::string part = MakeImage(dir, 40960, "");
  std::string out;
  WriteBytes(dir + "/f", RandomBytes(12345, 20));
  McopyIn(part, dir + "/f", "/file.bin");
  std::vector<uint8_t> p = ReadBytes(part);
  std::vector<uint8_t> disk_bytes(2048 * 512, 0);
  uint8_t* e = disk_bytes.data() + 446;
  e[4] = 0x06;
  uint32_t start = 2048, count = uint32_t(p.size() / 512);
  memcpy(e + 8, &start, 4);
  memcpy(e + 12, &count, 4);
  disk_bytes[510] = 0x55;
  disk_bytes[511] = 0xAA;
  disk_bytes.insert(disk_bytes.end(), p.begin(), p.end());
  MemDisk disk(disk_bytes);
  Fat16 fs;
  ASSERT_EQ(fat16_mount(&fs, disk.dev()), 0) << fs.error;
  EXPECT_EQ(fs.part_lba, 2048u);
  std::vector<uint8_t> got;
  ASSERT_TRUE(LibReadAll(&fs, "/file.bin", &got));
  EXPECT_EQ(got, RandomBytes(12345, 20));
  ASSERT_TRUE(LibWriteAll(&fs, "/new file.txt", RandomBytes(3000, 21)));
  ASSERT_EQ(fat16_sync(&fs), 0);   // unmount: marks the volume clean
  WriteBytes(dir + "/disk.img", disk.bytes);
  EXPECT_EQ(Sh(Mt("") + "mtype -i " + Q(dir + "/disk.img@@1M") + " '::/new file.txt' | cmp - " + Q(dir + "/f") + " ; true", &out), 0);
  std::vector<uint8_t> back(disk.bytes.begin() + 2048 * 512, disk.bytes.end());
  WriteBytes(dir + "/part.img", back);
  Fsck fk = RunFsck(dir + "/part.img");
  EXPECT_EQ(fk.rc, 0) << fk.out;
  EXPECT_EQ(Mtype(dir + "/part.img", "/new file.txt", dir), RandomBytes(3000, 21));
}

}  // namespace

namespace {

TEST_F(MtoolsTest, MkimageScriptDiskMountsAndStaysClean) {
  std::string script = std::string(FAT16_REPO_DIR) + "/scripts/mkimage.sh";
  WriteBytes(dir + "/prog", RandomBytes(70000, 30));
  WriteBytes(dir + "/model", RandomBytes(1 << 20, 31));
  std::string img = dir + "/boot.img", out;
  ASSERT_EQ(Sh(Q(script) + " " + Q(img) + " --file " + Q(dir + "/prog") + "=/bareflow --file " + Q(dir + "/model") +
               "=/models/stories260K.bin --mkdir /state --cmdline '/bareflow run -m /models/stories260K.bin -n 4'",
               &out),
            0)
      << out;
  // Missing input: clear message, non-zero exit.
  EXPECT_NE(Sh(Q(script) + " " + Q(dir + "/x.img") + " --file /nonexistent=/bareflow --cmdline /bareflow", &out), 0);
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;

  MemDisk disk(ReadBytes(img));
  Fat16 fs;
  ASSERT_EQ(fat16_mount(&fs, disk.dev()), 0) << fs.error;
  EXPECT_EQ(fs.part_lba, 2048u);
  EXPECT_EQ(fs.num_fats, 1);
  std::vector<uint8_t> got;
  ASSERT_TRUE(LibReadAll(&fs, "/boot.cfg", &got));
  EXPECT_EQ(std::string(got.begin(), got.end()), "/bareflow run -m /models/stories260K.bin -n 4\n");
  ASSERT_TRUE(LibReadAll(&fs, "/bareflow", &got));
  EXPECT_EQ(got, RandomBytes(70000, 30));
  ASSERT_TRUE(LibReadAll(&fs, "/models/stories260K.bin", &got));
  EXPECT_EQ(got, RandomBytes(1 << 20, 31));
  Fat16Stat st;
  ASSERT_EQ(fat16_stat(&fs, "/state", &st), 0);
  EXPECT_TRUE(st.is_dir);
  // The engine's state update, then fsck on the partition.
  ASSERT_TRUE(LibWriteAll(&fs, "/state/snapshot.bin.tmp", RandomBytes(123456, 32)));
  ASSERT_EQ(fat16_rename(&fs, "/state/snapshot.bin.tmp", "/state/snapshot.bin"), 0);
  ASSERT_EQ(fat16_sync(&fs), 0);
  std::vector<uint8_t> part(disk.bytes.begin() + 2048 * 512, disk.bytes.end());
  WriteBytes(dir + "/part.img", part);
  Fsck fk = RunFsck(dir + "/part.img");
  EXPECT_EQ(fk.rc, 0) << fk.out;
  EXPECT_EQ(Mtype(dir + "/part.img", "/state/snapshot.bin", dir), RandomBytes(123456, 32));
}

}  // namespace

namespace {

TEST_F(MtoolsTest, Utf8NamesBothWays) {
  std::string img = MakeImage(dir, 8400, "-s 1");
  std::string out, env = "LC_ALL=C.UTF-8 MTOOLS_SKIP_CHECK=1 ";
  WriteBytes(dir + "/a", RandomBytes(700, 40));
  ASSERT_EQ(Sh(env + "mcopy -i " + Q(img) + " " + Q(dir + "/a") + " '::/état größe.txt'", &out), 0) << out;
  MemDisk disk(ReadBytes(img));
  Fat16 fs;
  ASSERT_EQ(fat16_mount(&fs, disk.dev()), 0);
  std::vector<uint8_t> got;
  ASSERT_TRUE(LibReadAll(&fs, "/état größe.txt", &got)) << fs.error;
  EXPECT_EQ(got, RandomBytes(700, 40));
  EXPECT_EQ(LibList(&fs, "/"), (std::set<std::string>{"état größe.txt"}));
  ASSERT_TRUE(LibWriteAll(&fs, "/日本語 ファイル.bin", RandomBytes(900, 41)));
  ASSERT_TRUE(LibWriteAll(&fs, "/smile \xF0\x9F\x99\x82.txt", RandomBytes(10, 42)));   // outside the BMP
  Fat16File f;
  EXPECT_EQ(fat16_open(&fs, "/bad \xC3.txt", FAT16_O_CREAT, &f), FAT16_EINVAL);
  EXPECT_EQ(fat16_open(&fs, "/bad \xC0\xAF.txt", FAT16_O_CREAT, &f), FAT16_EINVAL);   // overlong
  ASSERT_EQ(fat16_sync(&fs), 0);
  WriteBytes(img, disk.bytes);
  EXPECT_EQ(RunFsck(img).rc, 0);
  ASSERT_EQ(Sh(env + "mdir -i " + Q(img) + " -b ::/", &out), 0) << out;
  EXPECT_NE(out.find("::/日本語 ファイル.bin"), std::string::npos) << out;
  EXPECT_NE(out.find("::/smile "), std::string::npos) << out;   // mtools shows a surrogate pair as "__"
  std::vector<uint8_t> smile;
  EXPECT_TRUE(LibReadAll(&fs, "/smile \xF0\x9F\x99\x82.txt", &smile));
  ASSERT_EQ(Sh(env + "mcopy -o -i " + Q(img) + " '::/日本語 ファイル.bin' " + Q(dir + "/b"), &out), 0) << out;
  EXPECT_EQ(ReadBytes(dir + "/b"), RandomBytes(900, 41));
}

}  // namespace
