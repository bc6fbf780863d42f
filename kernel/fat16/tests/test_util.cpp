#include "test_util.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace fat16test {

namespace {
int MemRead(void* ctx, uint64_t lba, uint32_t count, void* buf) {
  auto* d = static_cast<MemDisk*>(ctx);
  uint64_t off = lba * 512, n = uint64_t(count) * 512;
  if (off + n > d->bytes.size()) return -5;
  memcpy(buf, d->bytes.data() + off, n);
  return 0;
}
int MemWrite(void* ctx, uint64_t lba, uint32_t count, const void* buf) {
  auto* d = static_cast<MemDisk*>(ctx);
  uint64_t off = lba * 512, n = uint64_t(count) * 512;
  if (d->fail_writes || off + n > d->bytes.size()) return -5;
  memcpy(d->bytes.data() + off, buf, n);
  if (d->record) {
    // Log per sector: a multi-sector write may be cut part-way through too.
    for (uint32_t i = 0; i < count; i++) {
      DiskOp op;
      op.lba = lba + i;
      op.data.assign(static_cast<const uint8_t*>(buf) + i * 512, static_cast<const uint8_t*>(buf) + (i + 1) * 512);
      d->ops.push_back(std::move(op));
    }
  }
  return 0;
}
int MemFlush(void* ctx) {
  auto* d = static_cast<MemDisk*>(ctx);
  if (d->record) {
    DiskOp op;
    op.flush = true;
    d->ops.push_back(op);
  }
  return 0;
}
}  // namespace

MemDisk::MemDisk(std::vector<uint8_t> b) : bytes(std::move(b)) {
  dev_.ctx = this;
  dev_.read = MemRead;
  dev_.write = MemWrite;
  dev_.flush = MemFlush;
  dev_.sector_count = bytes.size() / 512;
  dev_.now = nullptr;
}

std::string TempDir() {
  const char* base = getenv("TMPDIR");
  std::string t = std::string(base ? base : "/tmp") + "/fat16test.XXXXXX";
  std::vector<char> buf(t.begin(), t.end());
  buf.push_back(0);
  if (!mkdtemp(buf.data())) abort();
  return buf.data();
}

std::string Q(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

int Sh(const std::string& cmd, std::string* out) {
  std::string full = "(" + cmd + ") 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  std::string o;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) o.append(buf, n);
  int st = pclose(p);
  if (out) *out = o;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  std::vector<uint8_t> b(f ? size_t(f.tellg()) : 0);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(b.data()), std::streamsize(b.size()));
  return b;
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = uint8_t(rng());
  return v;
}

std::string MakeImage(const std::string& dir, uint32_t sectors, const std::string& extra) {
  std::string img = dir + "/disk.img";
  std::string cmd = "rm -f " + Q(img) + " && mkfs.fat -F 16 -C " + extra + " " + Q(img) + " " +
                    std::to_string(sectors / 2);
  std::string out;
  if (Sh(cmd, &out) != 0) {
    fprintf(stderr, "mkfs.fat failed: %s\n", out.c_str());
    abort();
  }
  return img;
}

Fsck RunFsck(const std::string& image) {
  Fsck r;
  r.rc = Sh("fsck.fat -n " + Q(image), &r.out);
  return r;
}

static std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(tolower(c)); });
  return s;
}

bool OnlyLeaks(const std::string& out, const std::string& growing, bool fats_may_differ) {
  std::istringstream in(out);
  std::string line;
  std::string g = Lower(growing);
  bool in_growing = false;
  while (std::getline(in, line)) {
    std::string l = Lower(line);
    if (l.empty() || l.rfind("fsck.fat ", 0) == 0 || l.rfind("leaving filesystem unchanged", 0) == 0) continue;
    if (l.find(" files, ") != std::string::npos && l.find(" clusters") != std::string::npos) continue;
    if (l.rfind("reclaimed ", 0) == 0 && l.find(" unused cluster") != std::string::npos) continue;
    // The volume's dirty mark (FAT[1] bit 15), set by the first write of a
    // session and cleared by fat16_sync; the next mount repairs and clears it.
    if (l == "dirty bit is set. fs was not properly unmounted and some data may be corrupt." ||
        l == " automatically removing dirty bit.")
      continue;
    if (fats_may_differ && (l == "fats differ but appear to be intact." || l == "  using first fat.")) continue;
    if (!g.empty() && l[0] == '/' && l.find(g) != std::string::npos) {
      in_growing = true;
      continue;
    }
    if (in_growing && (l.find("  file size is ") == 0 || l.find("  truncating file to ") == 0)) continue;
    return false;
  }
  return true;
}

bool LibReadAll(Fat16* fs, const char* path, std::vector<uint8_t>* out) {
  Fat16File f;
  if (fat16_open(fs, path, 0, &f) != 0 || f.is_dir) return false;
  out->assign(f.size, 0);
  int64_t n = fat16_read(fs, &f, 0, out->data(), out->size());
  return n == int64_t(f.size);
}

bool LibWriteAll(Fat16* fs, const char* path, const std::vector<uint8_t>& data) {
  Fat16File f;
  if (fat16_open(fs, path, FAT16_O_CREAT | FAT16_O_TRUNC, &f) != 0) return false;
  return fat16_write(fs, &f, 0, data.data(), data.size()) == int64_t(data.size());
}

bool HaveTools() {
  return Sh("command -v mkfs.fat && command -v fsck.fat && command -v mcopy && command -v mtype") == 0;
}

std::string MakeStateVolume(const std::string& dir, bool two_fats, const std::vector<uint8_t>& old_state,
                            int entries_between) {
  std::string img = MakeImage(dir, 4400, two_fats ? "-s 1 -f 2 -r 64" : "-s 1 -f 1 -r 64");
  std::string mt = "MTOOLS_SKIP_CHECK=1 mcopy -o -i " + Q(img) + " ";
  std::string out;
  auto ok = [&](const std::string& cmd) {
    int rc = Sh(cmd, &out);
    EXPECT_EQ(rc, 0) << cmd << "\n" << out;
    return rc == 0;
  };
  if (!ok("MTOOLS_SKIP_CHECK=1 mmd -i " + Q(img) + " ::/state")) return "";
  WriteBytes(dir + "/filler", RandomBytes(150 * 512, 1));
  if (!ok(mt + Q(dir + "/filler") + " ::/filler.bin")) return "";
  if (!old_state.empty()) {
    WriteBytes(dir + "/old", old_state);
    if (!ok(mt + Q(dir + "/old") + " ::/state/snapshot.bin")) return "";
  }
  for (int i = 0; i < entries_between; i++) {
    WriteBytes(dir + "/e", RandomBytes(10, uint32_t(i)));
    if (!ok(mt + Q(dir + "/e") + " ::/state/E" + std::to_string(i))) return "";
  }
  return img;
}

}  // namespace fat16test
