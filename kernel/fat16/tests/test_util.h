// Helpers shared by the fat16 host tests: an in-memory block device that can
// record every write, and wrappers around mtools/dosfstools.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fat16.h"

namespace fat16test {

// One recorded device operation: a sector write, or a flush (barrier).
struct DiskOp {
  bool flush = false;
  uint64_t lba = 0;
  std::vector<uint8_t> data;   // count * 512 bytes
};

// A disk held in memory. If `record` is set, writes and flushes are logged.
class MemDisk {
 public:
  explicit MemDisk(std::vector<uint8_t> bytes);
  std::vector<uint8_t> bytes;
  bool record = false;
  bool fail_writes = false;
  std::vector<DiskOp> ops;
  const Fat16BlockDevice* dev() { return &dev_; }

 private:
  Fat16BlockDevice dev_;
};

std::string TempDir();                        // fresh directory per call
int Sh(const std::string& cmd, std::string* out = nullptr);   // sh -c, returns exit status
std::vector<uint8_t> ReadBytes(const std::string& path);
void WriteBytes(const std::string& path, const std::vector<uint8_t>& b);
std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed);
std::string Q(const std::string& s);          // shell-quote

// Makes a partitionless FAT16 image of `sectors` sectors with mkfs.fat.
// `extra` goes to mkfs.fat (e.g. "-s 1 -f 1").
std::string MakeImage(const std::string& dir, uint32_t sectors, const std::string& extra);

// The power-cut tests' starting volume in `dir`: a small FAT16 (512-byte clusters, one or
// two FATs, 256 clusters per FAT sector) holding a 150-sector filler, /state with
// `old_state` as /state/snapshot.bin when non-empty, then `entries_between` small files.
// Returns the image path; fails the calling test (and returns "") if mtools fails.
std::string MakeStateVolume(const std::string& dir, bool two_fats, const std::vector<uint8_t>& old_state,
                            int entries_between);

struct Fsck {
  int rc;
  std::string out;
};
Fsck RunFsck(const std::string& image);

// True if every complaint in the fsck output is one that only leaks space:
// "Reclaimed N unused clusters", the dirty mark ("Dirty bit is set"), or an over-long chain of a file whose name
// contains `growing` (case-insensitive; empty = none allowed).
// With `fats_may_differ`, "FATs differ ... Using first FAT" is accepted too
// (two-FAT volumes: FAT 1 is always written first and is the consistent one).
bool OnlyLeaks(const std::string& fsck_out, const std::string& growing, bool fats_may_differ = false);

// Reads a whole file through the library; returns false if it cannot.
bool LibReadAll(Fat16* fs, const char* path, std::vector<uint8_t>* out);
bool LibWriteAll(Fat16* fs, const char* path, const std::vector<uint8_t>& data);

bool HaveTools();

// A test with a fresh scratch directory for its images, removed afterwards; skipped
// where mtools/dosfstools are missing.
class ImageDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTools()) GTEST_SKIP() << "mtools/dosfstools not installed";
    dir = TempDir();
  }
  void TearDown() override {
    if (!dir.empty()) Sh("rm -rf " + Q(dir));
  }
  std::string dir;
};

}  // namespace fat16test
