// volume.cpp - the FAT16 volume: mount (MBR, boot sector), the dirty flag, the sector
// cache, FAT access and cluster allocation, sync and statfs. See fat16_internal.h.
#include "fat16_internal.h"

namespace fat16_impl {

// ---- volume dirty flag -----------------------------------------------------
// FAT[1] bit 15 is FAT's "volume was cleanly unmounted" bit (1 = clean).
// set_clean_bit() rewrites FAT sector 0 (all copies) with only
// that bit changed, from the on-disk contents (a cached FAT sector 0 may hold
// staged changes that must not reach the disk yet), then flushes, so the mark
// is durable before whatever write follows. The cached copy gets the same bit.
int set_clean_bit(Fat16* fs, bool clean) {
  uint8_t buf[FAT16_SECTOR_SIZE];
  uint64_t lba = fs->part_lba + fs->fat_lba;
  Fat16CacheSlot* cached = nullptr;
  for (auto& s : fs->cache)
    if (s.valid && s.lba == lba) cached = &s;
  if (cached && !cached->dirty) {
    __builtin_memcpy(buf, cached->data, sizeof buf);
  } else if (fs->dev->read(fs->dev->ctx, lba, 1, buf) != 0) {
    fs->error = "device read error (FAT)";
    return FAT16_EIO;
  }
  uint16_t v = uint16_t(buf[2] | (buf[3] << 8));
  v = clean ? uint16_t(v | 0x8000) : uint16_t(v & 0x7FFF);
  buf[2] = uint8_t(v);
  buf[3] = uint8_t(v >> 8);
  // Dirty: copy 1 first. Clean: copy 1 LAST, so that whenever copy 1 (the one
  // read at mount) says clean, every copy does (a cut in between leaves copy 1
  // dirty, and the next mount repairs and re-syncs the copies; a flush keeps a
  // disk from reordering them).
  for (uint32_t k = 0; k < fs->num_fats; k++) {
    uint32_t i = clean ? fs->num_fats - 1 - k : k;
    if (clean && k > 0 && i == 0 && fs->dev->flush && fs->dev->flush(fs->dev->ctx) != 0) {
      fs->error = "device flush error";
      return FAT16_EIO;
    }
    if (fs->dev->write(fs->dev->ctx, lba + uint64_t(i) * fs->fat_sectors, 1, buf) != 0) {
      if (cached) cached->valid = cached->dirty = 0;
      fs->error = "device write error (FAT)";
      return FAT16_EIO;
    }
  }
  if (cached) {
    cached->data[2] = buf[2];
    cached->data[3] = buf[3];
  }
  if (fs->dev->flush && fs->dev->flush(fs->dev->ctx) != 0) {
    fs->error = "device flush error";
    return FAT16_EIO;
  }
  fs->dirty_on_disk = clean ? 0 : 1;
  return 0;
}

namespace {

// Called before every write: the first write of a session marks the volume dirty.
inline int mark_dirty(Fat16* fs) { return fs->dirty_on_disk ? 0 : set_clean_bit(fs, false); }

}  // namespace

// ---- sector cache ----------------------------------------------------------
// Volume-relative sector numbers everywhere; part_lba is added only here.

int slot_writeback(Fat16* fs, Fat16CacheSlot* s) {
  int derr = mark_dirty(fs);
  if (derr) return derr;
  // A dirty slot is always a sector of FAT copy 1; write it to every copy.
  uint32_t rel = uint32_t(s->lba - fs->part_lba);
  for (uint32_t i = 0; i < fs->num_fats; i++) {
    uint64_t lba = fs->part_lba + rel + uint64_t(i) * fs->fat_sectors;
    if (fs->dev->write(fs->dev->ctx, lba, 1, s->data) != 0) {
      s->valid = 0;
      s->dirty = 0;
      return fail(fs, FAT16_EIO, "device write error (FAT)");
    }
  }
  s->dirty = 0;
  return 0;
}

// Returns the cached copy of sector `rel`, reading it on a miss.
uint8_t* sector_get(Fat16* fs, uint32_t rel, int* err) {
  if (rel >= fs->total_sectors) {
    *err = fail(fs, FAT16_EUCLEAN, "sector number beyond the end of the volume");
    return nullptr;
  }
  uint64_t lba = fs->part_lba + rel;
  Fat16CacheSlot* victim = &fs->cache[0];
  for (auto& s : fs->cache) {
    if (s.valid && s.lba == lba) {
      s.stamp = ++fs->stamp;
      return s.data;
    }
    if (!s.valid) victim = &s;
    else if (victim->valid && s.stamp < victim->stamp) victim = &s;
  }
  if (victim->valid && victim->dirty) {
    *err = slot_writeback(fs, victim);
    if (*err) return nullptr;
  }
  victim->valid = 0;
  if (fs->dev->read(fs->dev->ctx, lba, 1, victim->data) != 0) {
    *err = fail(fs, FAT16_EIO, "device read error");
    return nullptr;
  }
  victim->valid = 1;
  victim->dirty = 0;
  victim->lba = lba;
  victim->stamp = ++fs->stamp;
  return victim->data;
}

Fat16CacheSlot* slot_of(Fat16* fs, const uint8_t* data) {
  for (auto& s : fs->cache)
    if (s.data == data) return &s;
  return nullptr;
}

// Writes a sector obtained from sector_get (and modified) through to disk.
int sector_put(Fat16* fs, uint8_t* data) {
  Fat16CacheSlot* s = slot_of(fs, data);
  int derr = mark_dirty(fs);
  if (derr) return derr;
  if (fs->dev->write(fs->dev->ctx, s->lba, 1, data) != 0) {
    s->valid = 0;
    return fail(fs, FAT16_EIO, "device write error");
  }
  return 0;
}

// Raw multi-sector transfer that bypasses the cache (file data).
int raw_read(Fat16* fs, uint32_t rel, uint32_t n, void* buf) {
  if (rel + uint64_t(n) > fs->total_sectors) return fail(fs, FAT16_EUCLEAN, "read beyond volume");
  if (fs->dev->read(fs->dev->ctx, fs->part_lba + rel, n, buf) != 0)
    return fail(fs, FAT16_EIO, "device read error");
  return 0;
}

int raw_write(Fat16* fs, uint32_t rel, uint32_t n, const void* buf) {
  if (rel + uint64_t(n) > fs->total_sectors) return fail(fs, FAT16_EUCLEAN, "write beyond volume");
  int derr = mark_dirty(fs);
  if (derr) return derr;
  // Keep cached copies of these sectors coherent (invariant: cache == disk).
  for (auto& s : fs->cache)
    if (s.valid && s.lba >= fs->part_lba + rel && s.lba < fs->part_lba + rel + n)
      mcopy(s.data, static_cast<const uint8_t*>(buf) + (s.lba - fs->part_lba - rel) * kSec, kSec);
  if (fs->dev->write(fs->dev->ctx, fs->part_lba + rel, n, buf) != 0)
    return fail(fs, FAT16_EIO, "device write error");
  return 0;
}

int barrier(Fat16* fs) {
  if (fs->dev->flush && fs->dev->flush(fs->dev->ctx) != 0) return fail(fs, FAT16_EIO, "device flush error");
  return 0;
}

// ---- FAT access ------------------------------------------------------------
int fat_get(Fat16* fs, uint32_t c, uint16_t* v) {
  int err = 0;
  uint8_t* s = sector_get(fs, fs->fat_lba + c / 256, &err);
  if (!s) return err;
  *v = ld16(s + (c % 256) * 2);
  return 0;
}

// Changes FAT copy 1 in the cache only; fat_commit() writes it out.
int fat_stage(Fat16* fs, uint32_t c, uint16_t v) {
  int err = 0;
  uint8_t* s = sector_get(fs, fs->fat_lba + c / 256, &err);
  if (!s) return err;
  st16(s + (c % 256) * 2, v);
  slot_of(fs, s)->dirty = 1;
  return 0;
}

// Writes every dirty FAT sector to all FAT copies.
int fat_commit(Fat16* fs) {
  for (auto& s : fs->cache)
    if (s.valid && s.dirty) {
      int err = slot_writeback(fs, &s);
      if (err) return err;
    }
  return 0;
}

// True if the only dirty cache slot is FAT sector `rel` (copy 1).
bool only_dirty_fat_sector(Fat16* fs, uint32_t rel) {
  int dirty = 0;
  bool match = false;
  for (auto& s : fs->cache)
    if (s.valid && s.dirty) {
      dirty++;
      match = s.lba == fs->part_lba + rel;
    }
  return dirty == 1 && match;
}

// Drops staged FAT changes after an error (re-read from disk later).
void fat_discard(Fat16* fs) {
  for (auto& s : fs->cache)
    if (s.dirty) s.valid = s.dirty = 0;
}

// Next cluster after `c`: 1 and *next, 0 at the end of the chain, <0 if corrupt.
int fat_next(Fat16* fs, uint32_t c, uint32_t* next) {
  uint16_t v = 0;
  int err = fat_get(fs, c, &v);
  if (err) return err;
  if (v >= 0xFFF8) return 0;
  if (v == 0) return fail(fs, FAT16_EUCLEAN, "cluster chain runs into a free cluster");
  if (v == kBad) return fail(fs, FAT16_EUCLEAN, "cluster chain runs into a bad cluster");
  if (!valid_cluster(fs, v)) return fail(fs, FAT16_EUCLEAN, "cluster chain points outside the FAT");
  *next = v;
  return 1;
}

// Cluster number `index` steps along the chain starting at `first`.
int chain_seek(Fat16* fs, uint32_t first, uint32_t index, uint32_t* out) {
  if (!valid_cluster(fs, first)) return fail(fs, FAT16_EUCLEAN, "start cluster outside the FAT");
  if (index > fs->cluster_count) return fail(fs, FAT16_EUCLEAN, "cluster chain too long (loop?)");
  uint32_t c = first;
  for (uint32_t i = 0; i < index; i++) {
    int r = fat_next(fs, c, &c);
    if (r < 0) return r;
    if (r == 0) return fail(fs, FAT16_EUCLEAN, "cluster chain shorter than the file size");
  }
  *out = c;
  return 0;
}

namespace {

// Walks the whole chain from `first` (0 = empty): it must end in EOC within
// the cluster count (so loops are found) and, if `want` != 0, have exactly
// `want` clusters.
int chain_check(Fat16* fs, uint32_t first, uint32_t want) {
  if (first == 0) return want == 0 ? 0 : fail(fs, FAT16_EUCLEAN, "file has a size but no clusters");
  if (!valid_cluster(fs, first)) return fail(fs, FAT16_EUCLEAN, "start cluster outside the FAT");
  uint32_t c = first;
  for (uint32_t n = 1; n <= fs->cluster_count; n++) {
    int r = fat_next(fs, c, &c);
    if (r < 0) return r;
    if (r == 0) {
      if (want && n != want) return fail(fs, FAT16_EUCLEAN, "cluster chain length does not match the file size");
      return 0;
    }
    if (want && n >= want) return fail(fs, FAT16_EUCLEAN, "cluster chain longer than the file size (loop?)");
  }
  return fail(fs, FAT16_EUCLEAN, "cluster chain loops");
}

}  // namespace

// Checks the chain of a directory entry: exact length for files, any for dirs.
int entry_chain_check(Fat16* fs, const uint8_t* e) {
  uint32_t first = ld16(e + 26);
  if (e[11] & kAttrDir) {
    if (first == 0) return fail(fs, FAT16_EUCLEAN, "directory entry without clusters");
    return chain_check(fs, first, 0);
  }
  uint32_t size = ld32(e + 28);
  uint32_t bpc = fs->bytes_per_cluster;
  return chain_check(fs, first, size / bpc + (size % bpc != 0));
}

// Frees the chain starting at `first` (staged, then committed).
int chain_free(Fat16* fs, uint32_t first) {
  uint32_t c = first;
  for (uint32_t i = 0; c != 0; i++) {
    if (i > fs->cluster_count || !valid_cluster(fs, c)) {
      fat_discard(fs);
      return fail(fs, FAT16_EUCLEAN, "cluster chain loops or leaves the FAT");
    }
    uint32_t next = 0;
    int r = fat_next(fs, c, &next);
    if (r < 0) {
      fat_discard(fs);
      return r;
    }
    int err = fat_stage(fs, c, 0);
    if (err) return err;
    if (c < fs->next_free_hint) fs->next_free_hint = uint16_t(c);
    c = (r == 1) ? next : 0;
  }
  return fat_commit(fs);
}

// Free-cluster enumeration in "ring order" starting at the hint, so that
// successive calls with increasing `*pos` return distinct clusters even
// before any of them is marked in the FAT. Returns 1 and the cluster, 0 if none.
int free_next(Fat16* fs, uint32_t* pos, uint32_t* cluster) {
  uint32_t start = valid_cluster(fs, fs->next_free_hint) ? fs->next_free_hint - 2u : 0u;
  for (; *pos < fs->cluster_count; (*pos)++) {
    uint32_t c = 2 + (start + *pos) % fs->cluster_count;
    uint16_t v = 0;
    int err = fat_get(fs, c, &v);
    if (err) return err;
    if (v == 0) {
      *cluster = c;
      (*pos)++;
      return 1;
    }
  }
  return 0;
}

// Checks that `n` free clusters exist (nothing is changed).
int free_reserve_check(Fat16* fs, uint32_t n) {
  uint32_t pos = 0, c;
  for (uint32_t i = 0; i < n; i++) {
    int r = free_next(fs, &pos, &c);
    if (r < 0) return r;
    if (r == 0) return fail(fs, FAT16_ENOSPC, "no free clusters left");
  }
  return 0;
}

// ---- mount -----------------------------------------------------------------
namespace {

// Validates a boot sector as FAT16 and fills the geometry. `limit` = sectors
// available for the volume (0 = unknown).
int parse_bpb(Fat16* fs, const uint8_t* b, uint64_t limit) {
  if (b[510] != 0x55 || b[511] != 0xAA) return fail(fs, FAT16_EUCLEAN, "boot sector has no 0x55AA signature");
  if (b[0] != 0xEB && b[0] != 0xE9) return fail(fs, FAT16_EUCLEAN, "boot sector has no jump instruction (not FAT)");
  if (ld16(b + 11) != 512) return fail(fs, FAT16_EUCLEAN, "bytes per sector is not 512");
  uint32_t spc = b[13];
  if (spc == 0 || (spc & (spc - 1)) != 0) return fail(fs, FAT16_EUCLEAN, "sectors per cluster is not a power of two");
  uint32_t reserved = ld16(b + 14);
  if (reserved == 0) return fail(fs, FAT16_EUCLEAN, "no reserved sectors");
  uint32_t nfats = b[16];
  if (nfats < 1 || nfats > 2) return fail(fs, FAT16_EUCLEAN, "number of FATs is not 1 or 2");
  uint32_t root_entries = ld16(b + 17);
  if (root_entries == 0 || root_entries % kEntPerSec) return fail(fs, FAT16_EUCLEAN, "bad root directory size");
  uint32_t total = ld16(b + 19) ? ld16(b + 19) : ld32(b + 32);
  uint32_t fat_sectors = ld16(b + 22);
  if (fat_sectors == 0) return fail(fs, FAT16_EUCLEAN, "sectors per FAT is 0 (FAT32?)");
  if (b[21] < 0xF0 && b[21] != 0) return fail(fs, FAT16_EUCLEAN, "bad media descriptor");
  uint64_t root_lba = uint64_t(reserved) + uint64_t(nfats) * fat_sectors;
  uint64_t data_lba = root_lba + root_entries / kEntPerSec;
  if (total == 0 || data_lba >= total) return fail(fs, FAT16_EUCLEAN, "volume too small for its FATs and root directory");
  if (limit && total > limit) return fail(fs, FAT16_EUCLEAN, "volume is larger than the partition/disk");
  uint32_t clusters = uint32_t((total - data_lba) / spc);
  if (clusters < 4085 || clusters > 65524) return fail(fs, FAT16_EUCLEAN, "cluster count is not in the FAT16 range");
  if (uint64_t(fat_sectors) * 256 < clusters + 2) return fail(fs, FAT16_EUCLEAN, "FAT too small for the cluster count");
  fs->total_sectors = total;
  fs->fat_lba = reserved;
  fs->fat_sectors = fat_sectors;
  fs->num_fats = uint8_t(nfats);
  fs->root_lba = uint32_t(root_lba);
  fs->root_entries = root_entries;
  fs->data_lba = uint32_t(data_lba);
  fs->cluster_count = clusters;
  fs->sectors_per_cluster = spc;
  fs->bytes_per_cluster = spc * kSec;
  return 0;
}

bool fat16_type(uint8_t t) { return t == 0x04 || t == 0x06 || t == 0x0E; }

}  // namespace

}  // namespace fat16_impl

using namespace fat16_impl;

// ---- public API (fat16.h)

int fat16_mount(Fat16* fs, const Fat16BlockDevice* dev) {
  mzero(fs, sizeof *fs);
  fs->error = "not mounted";
  if (!dev || !dev->read || !dev->write) return fail(fs, FAT16_EINVAL, "block device without read/write");
  fs->dev = dev;
  fs->total_sectors = 1;   // lets sector_get read sector 0
  int err = 0;
  const uint8_t* s = sector_get(fs, 0, &err);
  if (!s) return err;
  uint8_t b[kSec];
  mcopy(b, s, kSec);
  // A FAT boot sector at LBA 0: partitionless volume.
  int bpb_err = parse_bpb(fs, b, dev->sector_count);
  const char* bpb_msg = fs->error;
  if (bpb_err == 0) {
    fs->part_lba = 0;
  } else {
    if (b[510] != 0x55 || b[511] != 0xAA) return fail(fs, FAT16_EUCLEAN, "sector 0 is neither an MBR nor a FAT16 boot sector (no 0x55AA)");
    const uint8_t* part = nullptr;
    for (int i = 0; i < 4; i++)
      if (fat16_type(b[446 + i * 16 + 4])) {
        part = b + 446 + i * 16;
        break;
      }
    if (!part && (b[0] == 0xEB || b[0] == 0xE9)) return fail(fs, bpb_err, bpb_msg);   // a broken BPB
    if (!part) return fail(fs, FAT16_ENOENT, "no FAT16 partition (type 04/06/0E) in the MBR");
    uint64_t start = ld32(part + 8), count = ld32(part + 12);
    if (start == 0 || count == 0) return fail(fs, FAT16_EUCLEAN, "FAT16 partition has zero start or size");
    if (dev->sector_count && start + count > dev->sector_count) return fail(fs, FAT16_EUCLEAN, "FAT16 partition extends past the end of the disk");
    for (auto& c : fs->cache) c.valid = 0;
    fs->part_lba = start;
    fs->total_sectors = 1;
    s = sector_get(fs, 0, &err);
    if (!s) return err;
    mcopy(b, s, kSec);
    err = parse_bpb(fs, b, count);
    if (err) return err;
  }
  if (dev->sector_count && fs->part_lba + fs->total_sectors > dev->sector_count)
    return fail(fs, FAT16_EUCLEAN, "volume extends past the end of the disk");
  uint16_t fat0 = 0;
  err = fat_get(fs, 0, &fat0);
  if (err) return err;
  if ((fat0 & 0xFF) != b[21] || (fat0 >> 8) != 0xFF) return fail(fs, FAT16_EUCLEAN, "FAT[0] does not match the media descriptor");
  uint16_t fat1 = 0;
  err = fat_get(fs, 1, &fat1);
  if (err) return err;
  bool bs_dirty = (b[37] & 1) != 0;
  fs->dirty_on_disk = !(fat1 & 0x8000) || bs_dirty;
  fs->next_free_hint = 2;
  fs->mounted = 1;
  if (fs->dirty_on_disk) {
    err = repair(fs, bs_dirty);
    if (err) {
      // A device error during the repair: what was written is safe (see
      // repair()); mount anyway, leave the volume dirty, and say so.
      fat_discard(fs);
      fs->stay_dirty = 1;
      fs->repair.skipped = 1;
      fs->repair.text[0] = 0;
      rtext(fs, "repair failed: ");
      rtext(fs, fs->error);
    }
  }
  fs->error = "ok";
  return 0;
}

int fat16_sync(Fat16* fs) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  int err = fat_commit(fs);
  if (!err) err = barrier(fs);
  // Everything is durable: only now may the volume say "clean".
  if (!err && fs->dirty_on_disk && !fs->stay_dirty) err = set_clean_bit(fs, true);
  return err;
}

int fat16_statfs(Fat16* fs, uint64_t* total_bytes, uint64_t* free_bytes) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  uint32_t nfree = 0;
  for (uint32_t c = 2; c < fs->cluster_count + 2; c++) {
    uint16_t v = 0;
    int err = fat_get(fs, c, &v);
    if (err) return err;
    nfree += v == 0;
  }
  *total_bytes = uint64_t(fs->cluster_count) * fs->bytes_per_cluster;
  *free_bytes = uint64_t(nfree) * fs->bytes_per_cluster;
  return 0;
}

const char* fat16_strerror(int err) {
  switch (err) {
    case FAT16_OK: return "success";
    case FAT16_EPERM: return "operation not permitted";
    case FAT16_ENOENT: return "no such file or directory";
    case FAT16_EIO: return "input/output error";
    case FAT16_EBADF: return "bad file handle";
    case FAT16_EBUSY: return "device or resource busy";
    case FAT16_EEXIST: return "file exists";
    case FAT16_ENOTDIR: return "not a directory";
    case FAT16_EISDIR: return "is a directory";
    case FAT16_EINVAL: return "invalid argument";
    case FAT16_EFBIG: return "file too large";
    case FAT16_ENOSPC: return "no space left on device";
    case FAT16_ENAMETOOLONG: return "file name too long";
    case FAT16_ENOTEMPTY: return "directory not empty";
    case FAT16_ESTALE: return "stale file handle";
    case FAT16_EUCLEAN: return "file system corrupted";
    default: return "unknown error";
  }
}
