// Random operations checked against an in-memory model of the tree: files
// (contents), directories, renames (replacing), truncates, sparse writes, long
// and short names. The model is compared through the library after every
// batch, and at the end through mtools and fsck.fat -n.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "test_util.h"

using namespace fat16test;

namespace {

struct Model {
  std::map<std::string, std::vector<uint8_t>> files;   // lower-case path -> data
  std::set<std::string> dirs{""};                       // lower-case paths, "" = root
  std::map<std::string, std::string> spelled;           // lower-case path -> path as created
};

std::string Lower(std::string s) {
  for (auto& c : s) c = char(tolower(c));
  return s;
}
std::string Parent(const std::string& p) { return p.substr(0, p.rfind('/')); }

bool Exists(const Model& m, const std::string& lp) { return m.files.count(lp) || m.dirs.count(lp); }

class ModelTest : public ::testing::TestWithParam<int> {};

TEST_P(ModelTest, RandomOpsMatchModel) {
  if (!HaveTools()) GTEST_SKIP() << "mtools/dosfstools not installed";
  std::string dir = TempDir();
  const char* layouts[] = {"-s 1 -f 1", "-s 4 -f 2", "-s 2 -f 1 -r 64"};
  const uint32_t sizes[] = {8192, 40000, 20000};
  std::string img = MakeImage(dir, sizes[GetParam() % 3], layouts[GetParam() % 3]);
  MemDisk disk(ReadBytes(img));
  Fat16 fs;
  ASSERT_EQ(fat16_mount(&fs, disk.dev()), 0);
  Model m;
  std::mt19937 rng{uint32_t(GetParam())};
  const char* names[] = {"a", "B.TXT", "state.bin", "state.bin.tmp", "A Long Name With Spaces.dat",
                         "x.y.z", "lower.txt", "UPPER", "MiXeD.Case", "very_long_file_name_number_one.bin"};
  auto pick_dir = [&]() {
    auto it = m.dirs.begin();
    std::advance(it, long(rng() % m.dirs.size()));
    return *it;
  };
  auto spelled_dir = [&](const std::string& ld) { return ld.empty() ? std::string() : m.spelled[ld]; };
  for (int op = 0; op < 400; op++) {
    std::string pd = pick_dir();
    std::string name = names[rng() % 10];
    std::string path = spelled_dir(pd) + "/" + name, lp = Lower(pd + "/" + name);
    int kind = int(rng() % 10);
    if (getenv("FAT16_MODEL_TRACE")) printf("op %d kind %d %s\n", op, kind, path.c_str());
    if (kind <= 3) {   // write at an offset (create if needed)
      if (m.dirs.count(lp)) continue;
      Fat16File f;
      ASSERT_EQ(fat16_open(&fs, path.c_str(), FAT16_O_CREAT, &f), 0) << path << " " << fs.error;
      if (!m.files.count(lp)) m.spelled[lp] = path;
      auto& data = m.files[lp];
      size_t off = rng() % 3 == 0 ? data.size() : rng() % (data.size() + 3000);
      auto chunk = RandomBytes(rng() % 9000, rng());
      ASSERT_EQ(fat16_write(&fs, &f, off, chunk.data(), chunk.size()), int64_t(chunk.size())) << fs.error;
      if (!chunk.empty()) {
        if (data.size() < off + chunk.size()) data.resize(off + chunk.size(), 0);
        std::copy(chunk.begin(), chunk.end(), data.begin() + long(off));
      }
    } else if (kind == 4) {   // truncate
      if (!m.files.count(lp)) continue;
      Fat16File f;
      ASSERT_EQ(fat16_open(&fs, path.c_str(), 0, &f), 0);
      size_t n = rng() % 12000;
      ASSERT_EQ(fat16_truncate(&fs, &f, n), 0) << fs.error;
      m.files[lp].resize(n, 0);
    } else if (kind == 5) {   // mkdir
      int r = fat16_mkdir(&fs, path.c_str());
      if (Exists(m, lp)) {
        EXPECT_EQ(r, FAT16_EEXIST);
      } else if (std::count(lp.begin(), lp.end(), '/') <= 3) {
        ASSERT_EQ(r, 0) << fs.error;
        m.dirs.insert(lp);
        m.spelled[lp] = path;
      } else if (r == 0) {
        m.dirs.insert(lp);
        m.spelled[lp] = path;
      }
    } else if (kind == 6) {   // unlink / rmdir
      if (m.files.count(lp)) {
        ASSERT_EQ(fat16_unlink(&fs, path.c_str()), 0) << fs.error;
        m.files.erase(lp);
      } else if (m.dirs.count(lp)) {
        bool empty = true;
        for (auto& [p, d] : m.files) empty &= p.rfind(lp + "/", 0) != 0;
        for (auto& p : m.dirs) empty &= p.rfind(lp + "/", 0) != 0;
        EXPECT_EQ(fat16_rmdir(&fs, path.c_str()), empty ? 0 : FAT16_ENOTEMPTY);
        if (empty) m.dirs.erase(lp);
      } else {
        EXPECT_EQ(fat16_unlink(&fs, path.c_str()), FAT16_ENOENT);
      }
    } else if (kind == 7 && m.dirs.count(lp)) {   // rename a directory
      std::string pd2 = pick_dir();
      std::string name2 = names[rng() % 10];
      std::string path2 = spelled_dir(pd2) + "/" + name2, lp2 = Lower(pd2 + "/" + name2);
      int r = fat16_rename(&fs, path.c_str(), path2.c_str());
      if (getenv("FAT16_MODEL_TRACE")) printf("  rename dir -> %s = %d\n", path2.c_str(), r);
      if (lp2 == lp) {
        EXPECT_EQ(r, 0);
        m.spelled[lp] = path2;
        continue;
      }
      if ((lp2 + "/").rfind(lp + "/", 0) == 0) {
        EXPECT_EQ(r, FAT16_EINVAL);
        continue;
      }
      if (m.files.count(lp2)) {
        EXPECT_EQ(r, FAT16_ENOTDIR);
        continue;
      }
      if (m.dirs.count(lp2)) {
        bool empty = true;
        for (auto& [p, d] : m.files) empty &= p.rfind(lp2 + "/", 0) != 0;
        for (auto& p : m.dirs) empty &= p.rfind(lp2 + "/", 0) != 0;
        if (!empty) {
          EXPECT_EQ(r, FAT16_ENOTEMPTY);
          continue;
        }
        m.dirs.erase(lp2);
      }
      ASSERT_EQ(r, 0) << path << " -> " << path2 << ": " << fs.error;
      // Move every model path under lp to lp2.
      auto move_key = [&](const std::string& k) { return lp2 + k.substr(lp.size()); };
      auto move_spelled = [&](const std::string& k) { return path2 + m.spelled[k].substr(m.spelled[lp].size()); };
      std::map<std::string, std::vector<uint8_t>> files;
      std::set<std::string> dirs;
      std::map<std::string, std::string> spelled;
      for (auto& [k, v] : m.files) {
        bool under = k.rfind(lp + "/", 0) == 0;
        files[under ? move_key(k) : k] = v;
        spelled[under ? move_key(k) : k] = under ? move_spelled(k) : m.spelled[k];
      }
      for (auto& k : m.dirs) {
        bool under = k == lp || k.rfind(lp + "/", 0) == 0;
        dirs.insert(under ? move_key(k) : k);
        if (!k.empty()) spelled[under ? move_key(k) : k] = under ? move_spelled(k) : m.spelled[k];
      }
      m.files = files;
      m.dirs = dirs;
      m.spelled = spelled;
    } else {   // rename a file to another name (maybe replacing, maybe other dir)
      if (!m.files.count(lp)) continue;
      std::string pd2 = pick_dir();
      std::string name2 = names[rng() % 10];
      std::string path2 = spelled_dir(pd2) + "/" + name2, lp2 = Lower(pd2 + "/" + name2);
      int r = fat16_rename(&fs, path.c_str(), path2.c_str());
      if (getenv("FAT16_MODEL_TRACE")) printf("  rename -> %s = %d\n", path2.c_str(), r);
      if (m.dirs.count(lp2)) {
        EXPECT_EQ(r, FAT16_EISDIR);
        continue;
      }
      ASSERT_EQ(r, 0) << path << " -> " << path2 << ": " << fs.error;
      if (lp2 != lp) {
        m.files[lp2] = m.files[lp];
        m.files.erase(lp);
      }
      m.spelled[lp2] = path2;
    }
    if (op % 50 == 49 || op == 399 || getenv("FAT16_MODEL_TRACE")) {
      for (auto& [p, data] : m.files) {
        std::vector<uint8_t> got;
        ASSERT_TRUE(LibReadAll(&fs, m.spelled[p].c_str(), &got)) << m.spelled[p] << " " << fs.error;
        ASSERT_EQ(got, data) << m.spelled[p] << " after op " << op;
      }
      for (auto& d : m.dirs) {
        // readdir lists exactly the model's children.
        std::set<std::string> want, have;
        for (auto& [p, x] : m.files)
          if (Parent(p) == d) want.insert(p.substr(p.rfind('/') + 1));
        for (auto& p : m.dirs)
          if (!p.empty() && Parent(p) == d) want.insert(p.substr(p.rfind('/') + 1));
        Fat16File df;
        ASSERT_EQ(fat16_open(&fs, d.empty() ? "/" : m.spelled[d].c_str(), FAT16_O_DIRECTORY, &df), 0);
        uint32_t pos = 0;
        Fat16DirEntry e;
        while (fat16_readdir(&fs, &df, &pos, &e) == 1) have.insert(Lower(e.name));
        EXPECT_EQ(have, want) << "directory '" << d << "' after op " << op;
      }
    }
  }
  ASSERT_EQ(fat16_sync(&fs), 0);   // unmount: marks the volume clean
  WriteBytes(img, disk.bytes);
  Fsck fk = RunFsck(img);
  EXPECT_EQ(fk.rc, 0) << fk.out;
  for (auto& [p, data] : m.files) {
    std::string out = dir + "/out";
    std::string log;
    ASSERT_EQ(Sh("MTOOLS_SKIP_CHECK=1 mcopy -o -i " + Q(img) + " " + Q("::" + m.spelled[p]) + " " + Q(out), &log), 0)
        << log;
    EXPECT_EQ(ReadBytes(out), data) << p;
  }
  Sh("rm -rf " + Q(dir));
}

INSTANTIATE_TEST_SUITE_P(Fat16, ModelTest, ::testing::Range(1, 13));

}  // namespace
