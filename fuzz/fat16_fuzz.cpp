// libFuzzer target for kernel/fat16. Two input modes:
//  * a disk image (MBR + FAT16 partition, or a bare FAT16 volume): any input
//    whose bytes 510..511 are 55 AA;
//  * otherwise a list of patches applied to a built-in FAT16 volume (made at
//    start-up by this library: directories, long names, multi-cluster files):
//    records of [offset: 3 bytes LE][length: 1 byte][bytes], so the fuzzer gets
//    deep coverage from an empty corpus.
// The volume is mounted from an in-memory block device and exercised: lookups,
// readdir over the whole tree, reads, then writes (create, append, truncate,
// mkdir, rename, unlink), then the tree again. Any crash, sanitizer report or
// hang is a bug: the library must turn every inconsistency into an error code.
//
// Build by hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ikernel/fat16 \
//     fuzz/fat16_fuzz.cpp kernel/fat16/*.cpp -o fat16_fuzz
// (scripts/fuzz.sh builds it as target "fat16".)
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <array>
#include <unordered_map>
#include <vector>

#include "fat16.h"

namespace {

// The device: 64 MiB, the fuzz input at its start, zeros after it (so small
// inputs holding just the metadata still mount), writes in a sparse overlay.
constexpr uint64_t kDiskSectors = 131072;

struct Image {
  const uint8_t* data;
  size_t size;
  std::unordered_map<uint64_t, std::array<uint8_t, 512>> written;
};

int ImgRead(void* ctx, uint64_t lba, uint32_t count, void* buf) {
  auto* im = static_cast<Image*>(ctx);
  if (lba >= kDiskSectors || count > kDiskSectors - lba) return -5;
  auto* out = static_cast<uint8_t*>(buf);
  for (uint32_t i = 0; i < count; i++, out += 512) {
    auto it = im->written.find(lba + i);
    if (it != im->written.end()) {
      memcpy(out, it->second.data(), 512);
      continue;
    }
    uint64_t off = (lba + i) * 512;
    size_t n = off < im->size ? std::min<size_t>(512, im->size - off) : 0;
    if (n) memcpy(out, im->data + off, n);
    memset(out + n, 0, 512 - n);
  }
  return 0;
}

int ImgWrite(void* ctx, uint64_t lba, uint32_t count, const void* buf) {
  auto* im = static_cast<Image*>(ctx);
  if (lba >= kDiskSectors || count > kDiskSectors - lba) return -5;
  for (uint32_t i = 0; i < count; i++)
    memcpy(im->written[lba + i].data(), static_cast<const uint8_t*>(buf) + i * 512, 512);
  return 0;
}

int ImgFlush(void*) { return 0; }

// Recursive walk with bounded depth and fan-out.
void WalkTree(Fat16* fs, char* path, size_t len, int depth, int* budget) {
  Fat16File f;
  if (--*budget < 0 || fat16_open(fs, path, 0, &f) != 0) return;
  Fat16Stat st;
  fat16_fstat(fs, &f, &st);
  if (!f.is_dir) {
    uint8_t buf[1500];
    for (uint64_t off = 0; off < f.size && off < 64 * 1024; off += sizeof buf)
      if (fat16_read(fs, &f, off, buf, sizeof buf) < 0) break;
    if (f.size > 3) fat16_read(fs, &f, f.size - 3, buf, 100);
    Fat16Extent ext[8];   // extents follow each other in file order and stay inside the file
    int n = fat16_extents(fs, &f, 1, f.size, ext, 8);
    for (int i = 0; i < n; i++)
      if (ext[i].bytes == 0 || ext[i].offset + ext[i].bytes > f.size || (i && ext[i].offset != ext[i - 1].offset + ext[i - 1].bytes))
        __builtin_trap();
    return;
  }
  if (depth > 5) return;
  uint32_t pos = 0;
  Fat16DirEntry e;
  for (int i = 0; i < 64 && fat16_readdir(fs, &f, &pos, &e) == 1; i++) {
    size_t n = strlen(e.name);
    if (len + 1 + n + 1 > 1024) continue;
    path[len] = '/';
    memcpy(path + len + 1, e.name, n + 1);
    WalkTree(fs, path, len + 1 + n, depth + 1, budget);
    path[len] = 0;
  }
}

void Walk(Fat16* fs) {
  char path[1024] = "";
  int budget = 400;
  WalkTree(fs, path, 0, 0, &budget);
}

}  // namespace

// A bare FAT16 volume: 4400 sectors, 512-byte clusters, one FAT, 64 root
// entries, then populated through the library itself.
std::vector<uint8_t> MakeBase() {
  std::vector<uint8_t> img(4400 * 512, 0);
  uint8_t* b = img.data();
  b[0] = 0xEB, b[1] = 0x3C, b[2] = 0x90;
  memcpy(b + 3, "BAREFLOW", 8);
  b[11] = 0x00, b[12] = 0x02;   // 512 bytes per sector
  b[13] = 1;                    // sectors per cluster
  b[14] = 1, b[15] = 0;         // reserved sectors
  b[16] = 1;                    // FATs
  b[17] = 64, b[18] = 0;        // root entries
  b[19] = 4400 & 255, b[20] = 4400 >> 8;
  b[21] = 0xF8;
  b[22] = 18, b[23] = 0;        // sectors per FAT
  b[510] = 0x55, b[511] = 0xAA;
  uint8_t* fat = b + 512;
  fat[0] = 0xF8, fat[1] = 0xFF, fat[2] = 0xFF, fat[3] = 0xFF;
  Image im{img.data(), img.size(), {}};
  Fat16BlockDevice dev{&im, ImgRead, ImgWrite, ImgFlush, kDiskSectors, nullptr};
  static Fat16 fs;
  if (fat16_mount(&fs, &dev) != 0) __builtin_trap();
  fat16_mkdir(&fs, "/state");
  fat16_mkdir(&fs, "/models");
  fat16_mkdir(&fs, "/state/a directory with a long name");
  const char* files[] = {"/boot.cfg", "/bareflow", "/models/stories260K.bin", "/state/snapshot.bin",
                         "/state/a directory with a long name/Mixed Case File.Data"};
  uint8_t buf[1500];
  for (int i = 0; i < 5; i++) {
    Fat16File f;
    if (fat16_open(&fs, files[i], FAT16_O_CREAT, &f) != 0) __builtin_trap();
    memset(buf, 'a' + i, sizeof buf);
    for (int k = 0; k <= i; k++) fat16_write(&fs, &f, uint64_t(k) * sizeof buf, buf, sizeof buf);
  }
  for (int i = 0; i < 20; i++) {   // a directory longer than one cluster
    char name[40] = "/state/entry-number-00.txt";
    name[20] = char('0' + i / 10), name[21] = char('0' + i % 10);
    Fat16File f;
    fat16_open(&fs, name, FAT16_O_CREAT, &f);
  }
  for (auto& [lba, sec] : im.written) memcpy(img.data() + lba * 512, sec.data(), 512);
  return img;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (kDiskSectors * 512)) return 0;
  Image im{data, size, {}};
  if (size < 512 || data[510] != 0x55 || data[511] != 0xAA) {
    // Patch mode: the base stays shared; patched sectors go to the overlay.
    static const std::vector<uint8_t> base = MakeBase();
    im.data = base.data();
    im.size = base.size();
    for (size_t i = 0; i + 4 <= size;) {
      size_t off = (data[i] | data[i + 1] << 8 | data[i + 2] << 16) % base.size();
      size_t n = std::min<size_t>(data[i + 3], size - i - 4);
      n = std::min(n, base.size() - off);
      for (size_t k = 0; k < n; k++) {
        uint64_t lba = (off + k) / 512;
        auto it = im.written.find(lba);
        if (it == im.written.end()) {
          it = im.written.emplace(lba, std::array<uint8_t, 512>{}).first;
          memcpy(it->second.data(), base.data() + lba * 512, 512);
        }
        it->second[(off + k) % 512] = data[i + 4 + k];
      }
      i += 4 + n;
    }
  }
  Fat16BlockDevice dev{&im, ImgRead, ImgWrite, ImgFlush, kDiskSectors, nullptr};
  static Fat16 fs;   // large (sector cache): keep it off the stack
  if (fat16_mount(&fs, &dev) != 0) {
    if (!fs.error || !fs.error[0]) __builtin_trap();   // every failure names its reason
    return 0;
  }
  Walk(&fs);
  static const char* const kNames[] = {"/boot.cfg", "/BOOT.CFG", "/state", "/models/x.bin", "/a/b/../c", "/."};
  for (const char* n : kNames) {
    Fat16Stat st;
    fat16_stat(&fs, n, &st);
  }
  Fat16File f;
  if (fat16_open(&fs, "/state/snapshot.bin.tmp", FAT16_O_CREAT | FAT16_O_TRUNC, &f) == 0) {
    uint8_t buf[3000];
    memset(buf, 0x5A, sizeof buf);
    fat16_write(&fs, &f, 0, buf, sizeof buf);
    fat16_write(&fs, &f, 5000, buf, 100);
    fat16_truncate(&fs, &f, 1234);
    fat16_fsync(&fs, &f);
    fat16_rename(&fs, "/state/snapshot.bin.tmp", "/state/snapshot.bin");
  }
  if (fat16_open(&fs, "/new file with a long name.txt", FAT16_O_CREAT, &f) == 0) {
    uint8_t b[700] = {1};
    fat16_write(&fs, &f, 0, b, sizeof b);
  }
  fat16_mkdir(&fs, "/newdir");
  fat16_rename(&fs, "/newdir", "/state/moved");
  fat16_rename(&fs, "/boot.cfg", "/new file with a long name.txt");
  fat16_unlink(&fs, "/new file with a long name.txt");
  fat16_rmdir(&fs, "/state/moved");
  uint64_t total, free_bytes;
  fat16_statfs(&fs, &total, &free_bytes);
  fat16_sync(&fs);
  Walk(&fs);
  return 0;
}
