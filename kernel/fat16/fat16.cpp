// fat16.cpp - FAT16 file system for the BareFlow kernel. See fat16.h for the API.
//
// Freestanding: no libc, no allocation, no globals. All state is in `Fat16`.
// The compiler may emit calls to memcpy/memset; the kernel runtime provides them.
//
// ============================================================================
// Crash safety: the write ordering
// ============================================================================
// Model: the disk applies whole 512-byte sector writes; a power cut keeps any
// prefix of them (dev->flush is a barrier: writes before it reach the disk
// before writes after it). The checker is `fsck.fat -n` (dosfstools 4.2).
// What it reports, measured here:
//   * two FAT copies that differ                     -> error ("FATs differ")
//   * an allocated cluster no entry reaches          -> error ("Reclaimed N unused clusters")
//   * a file chain longer/shorter than its size      -> error ("File size is ...")
//   * a chain that reaches a free or bad cluster     -> error
//   * an unreachable cluster marked BAD (0xFFF7)     -> silent
//   * a directory chain of any length                -> silent (no size check)
// Consequences:
//   1. With two FATs every FAT change has a window where the copies differ, so
//      BareFlow disks are made with ONE FAT (scripts/mkimage.sh: mkfs.fat -f 1).
//      Two-FAT volumes work; FAT 1 is always written before FAT 2.
//   2. Giving a file new clusters needs a FAT write and a directory-entry write,
//      two different sectors; whichever lands first, fsck sees either lost
//      clusters or a size/chain mismatch in between. No ordering avoids that
//      one-write window (a cluster enters use without that window only as the
//      tail of a directory chain). So the scheme below makes every window one
//      that is *harmless*: at every prefix the only possible fsck findings are
//      "unused clusters" (leaked space that `fsck.fat -a` reclaims) or an
//      over-long chain on the file being grown - never damage to any other file,
//      never cross-links, never a reachable free cluster, never a bad name.
//      The host test (tests/powercut_test.cpp) checks exactly this for every
//      prefix and that the state file is always the old or the new version.
// The order, per operation:
//   * write (growing): (a) file data into clusters that are still free;
//     (b) FAT entries of the new clusters (chain + EOC) - unreachable;
//     (c) FAT entry of the old last cluster -> first new one (if any); (b) and
//     (c) are one write when they share a FAT sector, else (b) goes first;
//     (d) flush; (e) the directory entry: start cluster and size, one sector.
//     A crash before (e) leaves the old size and old data intact; between (b)
//     and (e) fsck sees leaked clusters / an over-long chain on this file.
//   * write (no new cluster): data, then the size: one sector.
//   * Data is NOT flushed before it becomes reachable (that would cost a
//     device flush per write call): after a power cut, bytes written since the
//     last fsync may read as garbage. POSIX promises nothing more, fsck does
//     not care, and write-temp / fsync / rename is unaffected because the
//     fsync comes before the rename.
//   * mkdir: the new cluster ('.', '..', zeros), flush, FAT EOC, flush, then
//     the entry (a cut in between leaks one cluster).
//   * create: short entry sector first, then the sectors with its LFN slots
//     (a short entry without LFN is valid; an LFN without short entry is not).
//     A new file has no clusters, so creation is one clean write if the slots
//     fit in one sector (they are searched for that way first).
//   * delete: LFN slots first, short entry last; flush; then free the chain.
//   * truncate (shrink): directory entry (size, start) first, flush, then the
//     FAT (cut + free). In between, fsck only sees leaked clusters.
//   * rename onto an existing file (the atomic-replace case): (1) LFN slots of
//     the source that are not in the source's short-entry sector are deleted;
//     (2) if source and target short entries share a sector, ONE write gives the
//     target entry the source's start/size/attr and marks the source deleted -
//     that write is the commit point; otherwise the source entry is deleted
//     first, then the target entry rewritten (each a single sector write, the
//     target flips old->new in one write); (3) flush; (4) free the target's old
//     chain. Before (2) the target is old, after it new.
//   * rename to a new name: rewritten in place in the source's slot run when it
//     fits and lies in one sector (one write); else source deleted first, then
//     the new entry created (a crash in between loses the name, never the
//     target; the clusters show up as leaked). A directory moved to another
//     parent gets its '..' rewritten afterwards (the one non-leak window).
//   * dirty flag: the first write of a mount session is FAT sector 0 with
//     FAT[1] bit 15 cleared ("not cleanly unmounted"; all copies, copy 1
//     first), then a flush, so every image a cut can leave after it says
//     dirty. fat16_sync/fsync flush, then set the bit (copies in reverse
//     order, copy 1 last), then flush. fsck.fat 4.2 -n reports a dirty volume
//     ("Dirty bit is set", exit 1), so a quiescent, synced volume is clean.
//   * repair at mount, only when the volume says dirty (a clean mount writes
//     nothing): walk the tree, cut over-long file chains, free lost
//     clusters, re-sync FAT copy 2, mark clean. The leak windows above are
//     therefore healed by the next mount: power cut + one more mount + sync
//     gives `fsck.fat -n` exit 0 (tests/repair_test.cpp checks every prefix).
//     Its own ordering is described at repair() below.
// Invariants kept by every function:
//   * sector cache slots equal the disk contents, except FAT sectors marked
//     dirty, which are written (all FAT copies, copy 1 first) by fat_commit()
//     before any directory sector is written in the same operation;
//   * a pointer returned by sector_get() is only used until the next call that
//     can read a sector;
//   * every walk along a cluster chain or directory is bounded by the cluster
//     count, so a looping chain ends in FAT16_EUCLEAN, never in a hang.
// ============================================================================

#include "fat16.h"

namespace {

constexpr uint32_t kSec = FAT16_SECTOR_SIZE;
constexpr uint32_t kEntPerSec = kSec / 32;
constexpr uint16_t kEoc = 0xFFFF;
constexpr uint16_t kBad = 0xFFF7;
constexpr uint8_t kAttrVolume = 0x08;
constexpr uint8_t kAttrDir = 0x10;
constexpr uint8_t kAttrArchive = 0x20;
constexpr uint8_t kAttrLfn = 0x0F;
constexpr uint8_t kDeleted = 0xE5;
constexpr uint32_t kMaxDirSlots = 65536;   // FAT limit on entries per directory
constexpr uint32_t kLfnMaxSlots = 20;      // 20 * 13 = 260 >= 255 chars
constexpr uint8_t kNtLowerBase = 0x08;
constexpr uint8_t kNtLowerExt = 0x10;

// ---- little helpers --------------------------------------------------------
inline uint16_t ld16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t ld32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline void st16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
inline void st32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); p[2] = uint8_t(v >> 16); p[3] = uint8_t(v >> 24);
}
inline void mcopy(void* d, const void* s, size_t n) { __builtin_memcpy(d, s, n); }
inline void mzero(void* d, size_t n) { __builtin_memset(d, 0, n); }
inline bool meq(const void* a, const void* b, size_t n) { return __builtin_memcmp(a, b, n) == 0; }
inline char upper(char c) { return (c >= 'a' && c <= 'z') ? char(c - 32) : c; }
inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

int fail(Fat16* fs, int err, const char* msg) {
  fs->error = msg;
  return err;
}

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

// Called before every write: the first write of a session marks the volume dirty.
inline int mark_dirty(Fat16* fs) { return fs->dirty_on_disk ? 0 : set_clean_bit(fs, false); }

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
inline bool valid_cluster(const Fat16* fs, uint32_t c) { return c >= 2 && c < fs->cluster_count + 2; }
inline uint32_t cluster_lba(const Fat16* fs, uint32_t c) {
  return fs->data_lba + (c - 2) * fs->sectors_per_cluster;
}

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

// ---- time ------------------------------------------------------------------
// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

int64_t fat_to_unix(uint16_t date, uint16_t time) {
  if (date == 0) return 0;
  unsigned d = date & 31, m = (date >> 5) & 15;
  int64_t y = 1980 + (date >> 9);
  if (d == 0 || m == 0 || m > 12) return 0;
  int64_t s = days_from_civil(y, m, d) * 86400;
  return s + (time >> 11) * 3600 + ((time >> 5) & 63) * 60 + (time & 31) * 2;
}

void unix_to_fat(int64_t t, uint16_t* date, uint16_t* time) {
  if (t < 315532800) t = 315532800;   // 1980-01-01
  int64_t days = t / 86400, secs = t % 86400;
  // civil_from_days
  days += 719468;
  const int64_t era = days / 146097;
  const unsigned doe = unsigned(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = int64_t(yoe) + era * 400 + (m <= 2);
  if (y > 2107) y = 2107;
  *date = uint16_t(((y - 1980) << 9) | (m << 5) | d);
  *time = uint16_t(((secs / 3600) << 11) | (((secs / 60) % 60) << 5) | ((secs % 60) / 2));
}

void stamp_entry(Fat16* fs, uint8_t* e, bool created) {
  int64_t now = fs->dev->now ? fs->dev->now(fs->dev->ctx) : 1767225600;   // 2026-01-01
  uint16_t d, t;
  unix_to_fat(now, &d, &t);
  st16(e + 22, t);
  st16(e + 24, d);
  st16(e + 18, d);   // access date
  if (created) {
    e[13] = 0;
    st16(e + 14, t);
    st16(e + 16, d);
  }
}

// ---- names -----------------------------------------------------------------
bool bad_name_char(uint8_t c) {
  return c < 0x20 || c == '\\' || c == ':' || c == '*' || c == '?' || c == '"' || c == '<' ||
         c == '>' || c == '|' || c == '/' || c == 0x7F;
}

// Characters allowed in a short name besides A-Z and 0-9.
bool short_char_ok(uint8_t c) {
  if (c >= 0x80) return false;   // names are UTF-8: non-ASCII needs a long name
  if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  for (const char* p = "!#$%&'()-@^_`{}~"; *p; p++)
    if (c == uint8_t(*p)) return true;
  return false;
}

// Formats an 11-byte short name as "NAME.EXT", applying the NT lower-case flags.
void short_to_text(const uint8_t* e, char* out) {
  int n = 0;
  for (int i = 0; i < 8 && e[i] != ' '; i++) {
    char c = char(i == 0 && e[0] == 0x05 ? 0xE5 : e[i]);
    out[n++] = (e[12] & kNtLowerBase) ? lower(c) : c;
  }
  if (e[8] != ' ') {
    out[n++] = '.';
    for (int i = 8; i < 11 && e[i] != ' '; i++) out[n++] = (e[12] & kNtLowerExt) ? lower(char(e[i])) : char(e[i]);
  }
  out[n] = 0;
}

uint8_t lfn_checksum(const uint8_t* short_name) {
  uint8_t sum = 0;
  for (int i = 0; i < 11; i++) sum = uint8_t(((sum & 1) << 7) + (sum >> 1) + short_name[i]);
  return sum;
}

// If `name` can be stored as a plain 8.3 entry (possibly with NT case flags),
// fills sn[11] and *nt and returns true.
bool name_fits_83(const char* name, uint32_t len, uint8_t* sn, uint8_t* nt) {
  if (len == 0 || len > 12 || name[0] == '.') return false;
  uint32_t dot = len;
  for (uint32_t i = 0; i < len; i++)
    if (name[i] == '.') {
      if (dot != len) return false;
      dot = i;
    }
  uint32_t blen = dot, elen = dot == len ? 0 : len - dot - 1;
  if (blen == 0 || blen > 8 || elen > 3 || (dot != len && elen == 0)) return false;
  bool bl = false, bu = false, el = false, eu = false;
  __builtin_memset(sn, ' ', 11);
  for (uint32_t i = 0; i < len; i++) {
    if (i == dot) continue;
    char c = name[i];
    bool is_ext = i > dot;
    if (c >= 'a' && c <= 'z') (is_ext ? el : bl) = true;
    if (c >= 'A' && c <= 'Z') (is_ext ? eu : bu) = true;
    uint8_t u = uint8_t(upper(c));
    if (!short_char_ok(u)) return false;
    if (is_ext) sn[8 + (i - dot - 1)] = u;
    else sn[i] = u;
  }
  if ((bl && bu) || (el && eu)) return false;   // mixed case needs a long name
  if (sn[0] == kDeleted) sn[0] = 0x05;
  *nt = uint8_t((bl ? kNtLowerBase : 0) | (el ? kNtLowerExt : 0));
  return true;
}

// Builds the short-alias basis "BASIS~N" for a long name (N filled in later).
void alias_basis(const char* name, uint32_t len, uint8_t* sn) {
  __builtin_memset(sn, ' ', 11);
  uint32_t dot = len;
  for (uint32_t i = len; i > 0; i--)
    if (name[i - 1] == '.') {
      dot = i - 1;
      break;
    }
  uint32_t n = 0;
  for (uint32_t i = 0; i < dot && n < 8; i++) {
    uint8_t c = uint8_t(upper(name[i]));
    if (c == ' ' || c == '.') continue;
    sn[n++] = short_char_ok(c) ? c : '_';
  }
  if (n == 0) sn[n++] = '_';
  n = 0;
  for (uint32_t i = dot + 1; i < len && n < 3; i++) {
    uint8_t c = uint8_t(upper(name[i]));
    if (c == ' ' || c == '.') continue;
    sn[8 + n++] = short_char_ok(c) ? c : '_';
  }
}

// Writes "~N" into the basis (base part shortened as needed).
void alias_apply(const uint8_t* basis, uint32_t num, uint8_t* sn) {
  mcopy(sn, basis, 11);
  char digits[8];
  int nd = 0;
  for (uint32_t v = num; v; v /= 10) digits[nd++] = char('0' + v % 10);
  int blen = 0;
  while (blen < 8 && basis[blen] != ' ') blen++;
  int keep = blen < 7 - nd ? blen : 7 - nd;
  int p = keep;
  sn[p++] = '~';
  while (nd) sn[p++] = uint8_t(digits[--nd]);
  while (p < 8) sn[p++] = ' ';
}

bool names_equal(const char* a, uint32_t alen, const char* b) {
  uint32_t i = 0;
  for (; i < alen; i++)
    if (b[i] == 0 || upper(a[i]) != upper(b[i])) return false;
  return b[i] == 0;
}

// LFN character slots inside a 32-byte LFN entry.
const uint8_t kLfnOffsets[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};

// ---- directories -----------------------------------------------------------
// A directory is named by its first cluster; 0 is the fixed root directory.

struct DirPos {       // cursor over the 32-byte slots of one directory
  uint32_t first;     // first cluster, 0 = root
  uint32_t cluster;   // cluster holding slot index `ci * epc` (chain dirs)
  uint32_t ci;        // cluster index of `cluster`
};

void dir_open(DirPos* p, uint32_t first) {
  p->first = first;
  p->cluster = first;
  p->ci = 0;
}

// Sector holding `slot`: returns 1 and *rel, 0 past the end of the directory.
int dir_slot(Fat16* fs, DirPos* p, uint32_t slot, uint32_t* rel) {
  if (slot >= kMaxDirSlots) return 0;
  if (p->first == 0) {
    if (slot >= fs->root_entries) return 0;
    *rel = fs->root_lba + slot / kEntPerSec;
    return 1;
  }
  uint32_t epc = fs->bytes_per_cluster / 32;
  uint32_t want = slot / epc;
  if (want < p->ci) dir_open(p, p->first);
  if (!valid_cluster(fs, p->cluster)) return fail(fs, FAT16_EUCLEAN, "directory start cluster outside the FAT");
  while (p->ci < want) {
    uint32_t next = 0;
    int r = fat_next(fs, p->cluster, &next);
    if (r <= 0) return r;
    p->cluster = next;
    p->ci++;
  }
  *rel = cluster_lba(fs, p->cluster) + (slot % epc) / kEntPerSec;
  return 1;
}

struct Hit {            // one directory entry (the short entry of a name)
  uint32_t rel;         // sector of the short entry
  uint32_t idx;         // entry index in that sector
  uint32_t slot;        // slot index of the short entry
  uint32_t first_slot;  // first slot of its LFN run (== slot if none)
  uint8_t ent[32];      // copy of the short entry
  char name[FAT16_NAME_MAX + 1];   // long name, or the short name as text
};

struct LfnState {
  uint16_t units[kLfnMaxSlots * 13];   // the name in UTF-16, 0 after its end
  uint32_t total;       // slots announced by the 0x40 entry, 0 = none
  uint32_t expect;      // next ordinal expected
  uint8_t csum;
  uint32_t start;       // slot of the first LFN entry
};

void lfn_take(LfnState* l, const uint8_t* e, uint32_t slot) {
  uint32_t ord = e[0] & 0x1F;
  if (e[0] & 0x40) {
    l->total = (ord >= 1 && ord <= kLfnMaxSlots) ? ord : 0;
    l->expect = ord;
    l->csum = e[13];
    l->start = slot;
    mzero(l->units, sizeof l->units);
  } else if (l->total == 0 || ord != l->expect || e[13] != l->csum) {
    l->total = 0;
    return;
  }
  if (l->total == 0) return;
  for (int i = 0; i < 13; i++) {
    uint16_t ch = ld16(e + kLfnOffsets[i]);
    if (ch == 0 || ch == 0xFFFF) break;
    l->units[(ord - 1) * 13 + uint32_t(i)] = ch;
  }
  l->expect = ord - 1;
}

// UTF-16 (0-terminated, at most n units) to UTF-8 in out[cap]; unpaired
// surrogates become '?'. Stops at a character that does not fit.
void utf16_to_utf8(const uint16_t* u, uint32_t n, char* out, uint32_t cap) {
  uint32_t o = 0;
  for (uint32_t i = 0; i < n && u[i]; i++) {
    uint32_t c = u[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && u[i + 1] >= 0xDC00 && u[i + 1] < 0xE000)
      c = 0x10000 + ((c - 0xD800) << 10) + (u[++i] - 0xDC00);
    else if (c >= 0xD800 && c < 0xE000)
      c = '?';
    uint32_t len = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (o + len >= cap) break;
    if (len == 1) {
      out[o++] = char(c);
    } else {
      out[o++] = char((len == 2 ? 0xC0 : len == 3 ? 0xE0 : 0xF0) | (c >> (6 * (len - 1))));
      for (uint32_t k = len - 1; k > 0; k--) out[o++] = char(0x80 | ((c >> (6 * (k - 1))) & 0x3F));
    }
  }
  out[o] = 0;
}

// UTF-8 name (len bytes) to UTF-16 units; returns the unit count, or -1 if
// the bytes are not valid UTF-8 or need more than `cap` units.
int utf8_to_utf16(const char* s, uint32_t len, uint16_t* u, uint32_t cap) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < len;) {
    uint8_t b = uint8_t(s[i]);
    uint32_t c, extra;
    if (b < 0x80) c = b, extra = 0;
    else if ((b & 0xE0) == 0xC0) c = b & 0x1F, extra = 1;
    else if ((b & 0xF0) == 0xE0) c = b & 0x0F, extra = 2;
    else if ((b & 0xF8) == 0xF0) c = b & 0x07, extra = 3;
    else return -1;
    if (i + extra >= len + (extra == 0)) return -1;
    for (uint32_t k = 1; k <= extra; k++) {
      uint8_t t = uint8_t(s[i + k]);
      if ((t & 0xC0) != 0x80) return -1;
      c = (c << 6) | (t & 0x3F);
    }
    static const uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (c < kMin[extra] || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000)) return -1;
    i += extra + 1;
    if (c >= 0x10000) {
      if (n + 2 > cap) return -1;
      u[n++] = uint16_t(0xD800 + ((c - 0x10000) >> 10));
      u[n++] = uint16_t(0xDC00 + ((c - 0x10000) & 0x3FF));
    } else {
      if (n + 1 > cap) return -1;
      u[n++] = uint16_t(c);
    }
  }
  return int(n);
}

// Calls visit(const Hit&) for each live entry from slot `from` on (LFNs are
// assembled, deleted entries and volume labels skipped). `visit` returns 0 to
// go on, anything else to stop with that value. Returns 0 at the end.
template <class Visit>
int dir_scan(Fat16* fs, uint32_t dir, uint32_t from, Visit&& visit) {
  DirPos p;
  dir_open(&p, dir);
  LfnState l;
  l.total = 0;
  Hit h;
  for (uint32_t slot = from;; slot++) {
    uint32_t rel = 0;
    int r = dir_slot(fs, &p, slot, &rel);
    if (r <= 0) return r;
    int err = 0;
    const uint8_t* s = sector_get(fs, rel, &err);
    if (!s) return err;
    const uint8_t* e = s + (slot % kEntPerSec) * 32;
    if (e[0] == 0) return 0;
    if (e[0] == kDeleted) {
      l.total = 0;
      continue;
    }
    if ((e[11] & 0x3F) == kAttrLfn) {
      lfn_take(&l, e, slot);
      continue;
    }
    if (e[11] & kAttrVolume) {
      l.total = 0;
      continue;
    }
    h.rel = rel;
    h.idx = slot % kEntPerSec;
    h.slot = slot;
    mcopy(h.ent, e, 32);
    if (l.total && l.expect == 0 && l.csum == lfn_checksum(e) && l.units[0]) {
      utf16_to_utf8(l.units, kLfnMaxSlots * 13, h.name, sizeof h.name);
      h.first_slot = l.start;
    } else {
      short_to_text(e, h.name);
      h.first_slot = slot;
    }
    l.total = 0;
    int v = visit(static_cast<const Hit&>(h));
    if (v) return v;
  }
}

// Finds `name` (len bytes) in `dir`: 0 and *out, FAT16_ENOENT, or an error.
int dir_find(Fat16* fs, uint32_t dir, const char* name, uint32_t len, Hit* out) {
  int r = dir_scan(fs, dir, 0, [&](const Hit& h) {
    char sname[13];
    short_to_text(h.ent, sname);
    if (names_equal(name, len, h.name) || names_equal(name, len, sname)) {
      *out = h;
      return 1;
    }
    return 0;
  });
  if (r == 1) return 0;
  return r < 0 ? r : FAT16_ENOENT;
}

// Is `sn` (11 bytes) used as a short name in `dir`? 1 yes, 0 no, <0 error.
int short_taken(Fat16* fs, uint32_t dir, const uint8_t* sn) {
  return dir_scan(fs, dir, 0, [&](const Hit& h) { return meq(h.ent, sn, 11) ? 1 : 0; });
}

// Appends one zeroed cluster to a chain-based directory whose last cluster is
// `last`. Order: zero the cluster, FAT entry (EOC), then the link.
int dir_grow(Fat16* fs, uint32_t last) {
  uint32_t pos = 0, c = 0;
  int r = free_next(fs, &pos, &c);
  if (r < 0) return r;
  if (r == 0) return fail(fs, FAT16_ENOSPC, "no free cluster to grow a directory");
  uint8_t zero[kSec];
  mzero(zero, sizeof zero);
  for (uint32_t i = 0; i < fs->sectors_per_cluster; i++) {
    int err = raw_write(fs, cluster_lba(fs, c) + i, 1, zero);
    if (err) return err;
  }
  int err = barrier(fs);
  if (!err) err = fat_stage(fs, c, kEoc);
  if (!err) err = fat_commit(fs);
  if (!err) err = fat_stage(fs, last, uint16_t(c));
  if (!err) err = fat_commit(fs);
  if (!err) fs->next_free_hint = uint16_t(c + 1 < fs->cluster_count + 2 ? c + 1 : 2);
  return err;
}

// Finds `need` consecutive free slots in `dir`, growing it if necessary.
// Prefers a run inside one sector (so creating the entry is one write).
int dir_find_free(Fat16* fs, uint32_t dir, uint32_t need, uint32_t* first_slot) {
  for (int pass = 0; pass < 2; pass++) {
    DirPos p;
    dir_open(&p, dir);
    uint32_t run = 0, start = 0, last_rel = 0;
    bool ended = false;
    for (uint32_t slot = 0;; slot++) {
      uint32_t rel = 0;
      int r = dir_slot(fs, &p, slot, &rel);
      if (r < 0) return r;
      if (r == 0) {
        if (pass == 0) break;
        if (dir == 0) return fail(fs, FAT16_ENOSPC, "root directory is full");
        // Grow by a cluster: its slots are all free, so the run continues.
        int err = dir_grow(fs, p.cluster);
        if (err) return err;
        slot--;   // retry this slot index, now inside the new cluster
        continue;
      }
      if (pass == 0 && rel != last_rel) {
        // Pass 0: runs may not cross sectors. Past the end marker a run must
        // include that marker (else the entries would sit behind it, unseen),
        // so once the end was seen in an earlier sector, pass 0 has failed.
        if (ended) break;
        run = 0;
      }
      last_rel = rel;
      int err = 0;
      const uint8_t* s = sector_get(fs, rel, &err);
      if (!s) return err;
      const uint8_t* e = s + (slot % kEntPerSec) * 32;
      if (e[0] == 0) ended = true;
      bool is_free = ended || e[0] == kDeleted;
      if (!is_free) {
        run = 0;
        continue;
      }
      if (run == 0) start = slot;
      if (++run == need) {
        *first_slot = start;
        return 0;
      }
    }
  }
  return fail(fs, FAT16_ENOSPC, "directory full");
}

// Writes a prepared run of `n` entries (ents[n][32]) at slots first..first+n-1,
// sector by sector from the LAST sector to the first, so the short entry (the
// last one) lands before its LFN slots.
int dir_write_run(Fat16* fs, uint32_t dir, uint32_t first, uint32_t n, const uint8_t (*ents)[32]) {
  DirPos p;
  dir_open(&p, dir);
  uint32_t i = n;
  while (i > 0) {
    uint32_t slot = first + i - 1, rel = 0;
    int r = dir_slot(fs, &p, slot, &rel);
    if (r <= 0) return r < 0 ? r : fail(fs, FAT16_EIO, "directory slot vanished");
    int err = 0;
    uint8_t* s = sector_get(fs, rel, &err);
    if (!s) return err;
    // All slots of this run that live in this sector.
    uint32_t sec_first = slot - slot % kEntPerSec;
    uint32_t lo = sec_first > first ? sec_first : first;
    for (uint32_t k = lo; k <= slot; k++) mcopy(s + (k % kEntPerSec) * 32, ents[k - first], 32);
    err = sector_put(fs, s);
    if (err) return err;
    i = lo - first;
  }
  return 0;
}

// Marks slots first..last (inclusive) deleted, first sector first (LFN slots
// before the short entry). Slots in the sector of `skip_rel` are left alone
// when skip_rel != 0 (the caller rewrites that sector itself).
int dir_kill_run(Fat16* fs, uint32_t dir, uint32_t first, uint32_t last, uint32_t skip_rel) {
  DirPos p;
  dir_open(&p, dir);
  uint32_t slot = first;
  while (slot <= last) {
    uint32_t rel = 0;
    int r = dir_slot(fs, &p, slot, &rel);
    if (r <= 0) return r < 0 ? r : fail(fs, FAT16_EUCLEAN, "directory entry run leaves the directory");
    uint32_t end = slot - slot % kEntPerSec + kEntPerSec - 1;
    if (end > last) end = last;
    if (rel != skip_rel) {
      int err = 0;
      uint8_t* s = sector_get(fs, rel, &err);
      if (!s) return err;
      for (uint32_t k = slot; k <= end; k++) s[(k % kEntPerSec) * 32] = kDeleted;
      err = sector_put(fs, s);
      if (err) return err;
    }
    slot = end + 1;
  }
  return 0;
}

// Builds the entries for `name` (LFN slots + short entry) into ents; returns
// the count. `sn`/`nt` are the short name and case flags to use.
uint32_t build_entries(const char* name, uint32_t len, const uint8_t* sn, uint8_t nt, bool with_lfn,
                       const uint8_t* proto, uint8_t (*ents)[32]) {
  uint16_t units[kLfnMaxSlots * 13];
  int nu = with_lfn ? utf8_to_utf16(name, len, units, FAT16_NAME_MAX) : 0;
  if (nu < 0) nu = 0;   // checked by check_new_name() before
  uint32_t ulen = uint32_t(nu);
  uint32_t nl = with_lfn ? (ulen + 12) / 13 : 0;
  uint8_t csum = lfn_checksum(sn);
  for (uint32_t i = 0; i < nl; i++) {
    uint8_t* e = ents[i];
    uint32_t ord = nl - i;   // first slot holds the last part
    mzero(e, 32);
    e[0] = uint8_t(ord | (i == 0 ? 0x40 : 0));
    e[11] = kAttrLfn;
    e[13] = csum;
    for (uint32_t k = 0; k < 13; k++) {
      uint32_t at = (ord - 1) * 13 + k;
      uint16_t ch = at < ulen ? units[at] : (at == ulen ? 0 : 0xFFFF);
      st16(e + kLfnOffsets[k], ch);
    }
  }
  uint8_t* e = ents[nl];
  mcopy(e, proto, 32);
  mcopy(e, sn, 11);
  e[12] = nt;
  return nl + 1;
}

// Chooses the short name for `name` in `dir`: plain 8.3 if possible, else a
// unique alias (then *with_lfn = true). `self` (rel<<4|idx) is ignored when
// checking uniqueness (rename in place), 0 = none.
int choose_short(Fat16* fs, uint32_t dir, const char* name, uint32_t len, uint8_t* sn, uint8_t* nt,
                 bool* with_lfn) {
  if (name_fits_83(name, len, sn, nt)) {
    *with_lfn = false;
    return 0;
  }
  *with_lfn = true;
  *nt = 0;
  uint8_t basis[11];
  alias_basis(name, len, basis);
  for (uint32_t n = 1; n < 1000000; n++) {
    alias_apply(basis, n, sn);
    int r = short_taken(fs, dir, sn);
    if (r < 0) return r;
    if (r == 0) return 0;
  }
  return fail(fs, FAT16_EEXIST, "no free short alias");
}

// Validates one path component as a new name.
int check_new_name(Fat16* fs, const char* name, uint32_t len) {
  if (len == 0) return fail(fs, FAT16_EINVAL, "empty name");
  if (len > FAT16_NAME_MAX) return fail(fs, FAT16_ENAMETOOLONG, "name longer than 255 bytes");
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return fail(fs, FAT16_EEXIST, "'.' and '..' exist");
  for (uint32_t i = 0; i < len; i++)
    if (bad_name_char(uint8_t(name[i]))) return fail(fs, FAT16_EINVAL, "character not allowed in a FAT name");
  uint16_t units[kLfnMaxSlots * 13];
  if (utf8_to_utf16(name, len, units, FAT16_NAME_MAX) < 0)
    return fail(fs, FAT16_EINVAL, "name is not valid UTF-8 (or longer than 255 UTF-16 units)");
  // FAT ignores trailing dots and spaces; refuse them rather than alias silently.
  if (name[len - 1] == '.' || name[len - 1] == ' ') return fail(fs, FAT16_EINVAL, "name ends in '.' or ' '");
  return 0;
}

// Creates an entry `name` in `dir` whose 32-byte body comes from `proto`.
int dir_add(Fat16* fs, uint32_t dir, const char* name, uint32_t len, const uint8_t* proto, Hit* out) {
  uint8_t sn[11], nt;
  bool with_lfn;
  int err = choose_short(fs, dir, name, len, sn, &nt, &with_lfn);
  if (err) return err;
  uint8_t ents[kLfnMaxSlots + 1][32];
  uint32_t n = build_entries(name, len, sn, nt, with_lfn, proto, ents);
  uint32_t first = 0;
  err = dir_find_free(fs, dir, n, &first);
  if (err) return err;
  err = dir_write_run(fs, dir, first, n, ents);
  if (err) return err;
  DirPos p;
  dir_open(&p, dir);
  uint32_t rel = 0;
  int r = dir_slot(fs, &p, first + n - 1, &rel);
  if (r <= 0) return r < 0 ? r : FAT16_EIO;
  out->rel = rel;
  out->idx = (first + n - 1) % kEntPerSec;
  out->slot = first + n - 1;
  out->first_slot = first;
  mcopy(out->ent, ents[n - 1], 32);
  return 0;
}

// ---- path resolution -------------------------------------------------------
struct Walk {
  uint32_t dir;           // directory holding the last component
  const char* name;       // last component (not 0-terminated)
  uint32_t len;           // 0: the path names a directory itself (root, ".", "..")
  uint32_t self;          // when len == 0: that directory's first cluster
  int found;              // 1 if the last component exists (hit valid)
  Hit hit;
};

bool is_dot(const char* s, uint32_t n) { return n == 1 && s[0] == '.'; }
bool is_dotdot(const char* s, uint32_t n) { return n == 2 && s[0] == '.' && s[1] == '.'; }

// Parent of directory `dir` (its ".." entry); root's parent is root.
int dir_parent(Fat16* fs, uint32_t dir, uint32_t* parent) {
  if (dir == 0) {
    *parent = 0;
    return 0;
  }
  if (!valid_cluster(fs, dir)) return fail(fs, FAT16_EUCLEAN, "directory start cluster outside the FAT");
  int err = 0;
  const uint8_t* s = sector_get(fs, cluster_lba(fs, dir), &err);
  if (!s) return err;
  const uint8_t* e = s + 32;
  if (e[0] != '.' || e[1] != '.') return fail(fs, FAT16_EUCLEAN, "directory has no '..' entry");
  *parent = ld16(e + 26);
  if (*parent != 0 && !valid_cluster(fs, *parent)) return fail(fs, FAT16_EUCLEAN, "'..' points outside the FAT");
  return 0;
}

int walk_path(Fat16* fs, const char* path, Walk* w) {
  if (!path) return fail(fs, FAT16_EINVAL, "null path");
  uint32_t dir = 0;
  const char* p = path;
  w->found = 0;
  for (;;) {
    while (*p == '/') p++;
    const char* c = p;
    while (*p && *p != '/') p++;
    uint32_t n = uint32_t(p - c);
    const char* rest = p;
    while (*rest == '/') rest++;
    bool last = *rest == 0;
    if (n > FAT16_NAME_MAX) return fail(fs, FAT16_ENAMETOOLONG, "path component longer than 255 bytes");
    if (n == 0 || is_dot(c, n) || is_dotdot(c, n)) {
      if (is_dotdot(c, n)) {
        int err = dir_parent(fs, dir, &dir);
        if (err) return err;
      }
      if (last) {
        w->dir = dir;
        w->name = c;
        w->len = 0;
        w->self = dir;
        w->found = 1;
        return 0;
      }
      continue;
    }
    if (last) {
      w->dir = dir;
      w->name = c;
      w->len = n;
      int err = dir_find(fs, dir, c, n, &w->hit);
      if (err == FAT16_ENOENT) return 0;
      if (err) return err;
      w->found = 1;
      return 0;
    }
    Hit h;
    int err = dir_find(fs, dir, c, n, &h);
    if (err) return err;
    if (!(h.ent[11] & kAttrDir)) return fail(fs, FAT16_ENOTDIR, "a path component is not a directory");
    dir = ld16(h.ent + 26);
    if (!valid_cluster(fs, dir)) return fail(fs, FAT16_EUCLEAN, "directory start cluster outside the FAT");
  }
}

void file_from_hit(const Hit& h, Fat16File* f) {
  mzero(f, sizeof *f);
  f->dirent_lba = h.rel;
  f->dirent_index = uint16_t(h.idx);
  f->first_cluster = ld16(h.ent + 26);
  f->is_dir = (h.ent[11] & kAttrDir) ? 1 : 0;
  f->size = f->is_dir ? 0 : ld32(h.ent + 28);
  mcopy(f->short_name, h.ent, 11);
}

void file_for_dir(uint32_t dir, Fat16File* f) {
  mzero(f, sizeof *f);
  f->first_cluster = uint16_t(dir);
  f->is_dir = 1;
}

// Rewrites the handle's directory entry with its current start/size.
int entry_sync(Fat16* fs, Fat16File* f) {
  if (f->dirent_lba == 0) return fail(fs, FAT16_EINVAL, "no directory entry for this handle");
  int err = 0;
  uint8_t* s = sector_get(fs, f->dirent_lba, &err);
  if (!s) return err;
  uint8_t* e = s + f->dirent_index * 32u;
  if (!meq(e, f->short_name, 11)) return fail(fs, FAT16_ESTALE, "file was renamed or deleted while open");
  st16(e + 26, f->first_cluster);
  st32(e + 28, f->size);
  stamp_entry(fs, e, false);
  e[11] |= kAttrArchive;
  return sector_put(fs, s);
}

// Re-reads the handle's directory entry: the disk is authoritative, so several
// handles on one file (or a handle on a file that a rename replaced) see the
// current start cluster and size. FAT16_ESTALE if the entry no longer holds
// this name (deleted, or renamed away).
int entry_refresh(Fat16* fs, Fat16File* f) {
  if (f->dirent_lba == 0) return 0;
  int err = 0;
  const uint8_t* s = sector_get(fs, f->dirent_lba, &err);
  if (!s) return err;
  const uint8_t* e = s + f->dirent_index * 32u;
  if (!meq(e, f->short_name, 11) || bool(e[11] & kAttrDir) != bool(f->is_dir))
    return fail(fs, FAT16_ESTALE, "file was renamed or deleted while open");
  uint16_t first = ld16(e + 26);
  uint32_t size = f->is_dir ? 0 : ld32(e + 28);
  if (first != f->first_cluster || size != f->size) {
    if (first != 0 && !valid_cluster(fs, first)) return fail(fs, FAT16_EUCLEAN, "start cluster outside the FAT");
    f->first_cluster = first;
    f->size = size;
    f->hint_cluster = 0;
    f->hint_index = 0;
  }
  return 0;
}

// ---- file data -------------------------------------------------------------
inline uint32_t clusters_for(const Fat16* fs, uint64_t size) {
  return uint32_t((size + fs->bytes_per_cluster - 1) / fs->bytes_per_cluster);
}

// Cluster holding byte `off` (off < allocated size), using the handle's hint.
int file_cluster(Fat16* fs, Fat16File* f, uint64_t off, uint32_t* c) {
  uint32_t index = uint32_t(off / fs->bytes_per_cluster);
  uint32_t base = f->first_cluster, from = 0;
  if (f->hint_cluster && f->hint_index <= index && valid_cluster(fs, f->hint_cluster)) {
    base = f->hint_cluster;
    from = f->hint_index;
  }
  int err = chain_seek(fs, base, index - from, c);
  if (err) return err;
  f->hint_cluster = uint16_t(*c);
  f->hint_index = index;
  return 0;
}

// Counts how many clusters starting at `c` (the handle's hint cluster) follow
// each other on disk (c, c+1, ...) along the chain, at most `max`; moves the
// handle's hint to the last of them.
int contiguous_run(Fat16* fs, Fat16File* f, uint32_t c, uint32_t max, uint32_t* run) {
  *run = 1;
  uint32_t cap = (16u << 20) / fs->bytes_per_cluster;   // device requests <= 16 MiB
  if (max > cap) max = cap;
  while (*run < max) {
    uint32_t next = 0;
    int r = fat_next(fs, c, &next);
    if (r < 0) return r;
    if (r == 0 || next != c + 1) break;
    c = next;
    (*run)++;
  }
  f->hint_cluster = uint16_t(c);
  f->hint_index += *run - 1;
  return 0;
}

// Copies `len` bytes at byte `at` from the start of cluster `c` from `src`
// (null = zeros); the span may run over clusters that follow `c` on disk.
// Whole sectors go straight to the device; partial ones read-modify-write.
int cluster_write(Fat16* fs, uint32_t c, uint32_t at, const uint8_t* src, uint32_t len, bool fresh) {
  uint8_t buf[kSec];
  uint32_t base = cluster_lba(fs, c);
  while (len) {
    uint32_t sec = at / kSec, in = at % kSec;
    uint32_t n = kSec - in < len ? kSec - in : len;
    if (in == 0 && n == kSec && src) {
      uint32_t whole = len / kSec;
      int err = raw_write(fs, base + sec, whole, src);
      if (err) return err;
      n = whole * kSec;
    } else {
      if (fresh || (in == 0 && n == kSec)) mzero(buf, kSec);
      else {
        int err = raw_read(fs, base + sec, 1, buf);
        if (err) return err;
      }
      if (src) mcopy(buf + in, src, n);
      else mzero(buf + in, n);
      int err = raw_write(fs, base + sec, 1, buf);
      if (err) return err;
    }
    at += n;
    len -= n;
    if (src) src += n;
  }
  return 0;
}

// Writes [off, off+len) of the file, all inside already-allocated clusters.
int write_existing(Fat16* fs, Fat16File* f, uint64_t off, const uint8_t* src, uint64_t len) {
  while (len) {
    uint32_t c = 0;
    int err = file_cluster(fs, f, off, &c);
    if (err) return err;
    uint32_t at = uint32_t(off % fs->bytes_per_cluster);
    uint32_t n = fs->bytes_per_cluster - at;
    if (n > len) n = uint32_t(len);
    err = cluster_write(fs, c, at, src, n, false);
    if (err) return err;
    off += n;
    len -= n;
    if (src) src += n;
  }
  return 0;
}

// Writes the new-cluster span starting at cluster `c` (consecutive on disk)
// that holds file bytes [cstart, cstart+bytes): zeros below `data_off`, then
// `src` (indexed from data_off; null = zeros) up to `new_size`.
int fill_span(Fat16* fs, uint32_t c, uint64_t cstart, uint64_t bytes, uint64_t data_off, uint64_t new_size,
              const uint8_t* src) {
  uint64_t cend = cstart + bytes;
  if (data_off > cstart) {
    uint64_t z = (data_off < cend ? data_off : cend) - cstart;
    int err = cluster_write(fs, c, 0, nullptr, uint32_t(z), true);
    if (err) return err;
  }
  uint64_t ds = data_off > cstart ? data_off : cstart, de = new_size < cend ? new_size : cend;
  if (de <= ds) return 0;
  return cluster_write(fs, c, uint32_t(ds - cstart), src ? src + (ds - data_off) : nullptr, uint32_t(de - ds), true);
}

// Grows the file to `new_size` (> allocated size) writing `src` (null =
// zeros) at byte offsets [data_off, new_size) and zeros from the old size to
// data_off. Follows the ordering in the header comment: data, FAT, dirent.
int grow(Fat16* fs, Fat16File* f, uint64_t new_size, uint64_t data_off, const uint8_t* src) {
  uint32_t have = clusters_for(fs, f->size), need = clusters_for(fs, new_size);
  uint64_t alloc_end = uint64_t(have) * fs->bytes_per_cluster;
  int err = free_reserve_check(fs, need - have);
  if (err) return err;
  // (a) bytes that land in already-allocated clusters (old tail slack).
  if (alloc_end > f->size) {
    uint64_t zend = data_off < alloc_end ? data_off : alloc_end;
    if (zend > f->size) err = write_existing(fs, f, f->size, nullptr, zend - f->size);
    if (!err && data_off < alloc_end) err = write_existing(fs, f, data_off, src, alloc_end - data_off);
    if (err) return err;
  }
  // (a') data into the new clusters, which are still free in the FAT. Runs of
  // physically consecutive clusters are written as one span (few requests).
  uint32_t pos = 0, c = 0, first_new = 0, run_first = 0, run_n = 0, run_index = 0;
  for (uint32_t i = have; i <= need; i++) {
    if (i < need) {
      if (free_next(fs, &pos, &c) != 1) return fail(fs, FAT16_EIO, "free cluster vanished");
      if (i == have) first_new = c;
      if (run_n && c == run_first + run_n) {
        run_n++;
        continue;
      }
    }
    if (run_n) {
      err = fill_span(fs, run_first, uint64_t(run_index) * fs->bytes_per_cluster,
                      uint64_t(run_n) * fs->bytes_per_cluster, data_off, new_size, src);
      if (err) return err;
    }
    run_first = c;
    run_n = 1;
    run_index = i;
  }
  uint32_t old_last = 0;
  if (have > 0) {
    err = file_cluster(fs, f, uint64_t(have - 1) * fs->bytes_per_cluster, &old_last);
    if (err) return err;
  }
  // (b) chain the new clusters among themselves (unreachable until (c)/(e)).
  pos = 0;
  uint32_t cur = 0, last_new = 0;
  if (free_next(fs, &pos, &cur) != 1) return fail(fs, FAT16_EIO, "free cluster vanished");
  for (uint32_t i = have; i < need; i++) {
    uint32_t nxt = 0;
    if (i + 1 < need && free_next(fs, &pos, &nxt) != 1) {
      fat_discard(fs);
      return fail(fs, FAT16_EIO, "free cluster vanished");
    }
    err = fat_stage(fs, cur, i + 1 < need ? uint16_t(nxt) : kEoc);
    if (err) return err;
    last_new = cur;
    cur = nxt;
  }
  // (c) link the old last cluster to the new run. If (b) and (c) touch one
  // single FAT sector they are committed together (one write, one window);
  // otherwise (b) strictly before (c), so a chain never reaches a free cluster.
  if (!(have > 0 && only_dirty_fat_sector(fs, fs->fat_lba + old_last / 256))) {
    err = fat_commit(fs);
    if (err) return err;
  }
  fs->next_free_hint = uint16_t(last_new + 1 < fs->cluster_count + 2 ? last_new + 1 : 2);
  if (have > 0) {
    err = fat_stage(fs, old_last, uint16_t(first_new));
    if (!err) err = fat_commit(fs);
    if (err) return err;
  } else {
    f->first_cluster = uint16_t(first_new);
  }
  // (d) barrier, (e) the directory entry.
  err = barrier(fs);
  if (err) return err;
  f->size = uint32_t(new_size);
  return entry_sync(fs, f);
}

// Shrinks the file to `size`: directory entry first, then cut and free.
int shrink(Fat16* fs, Fat16File* f, uint32_t size) {
  uint32_t keep = clusters_for(fs, size), have = clusters_for(fs, f->size);
  uint32_t old_first = f->first_cluster, cut = 0;
  if (keep > 0 && keep < have) {
    int err = file_cluster(fs, f, uint64_t(keep - 1) * fs->bytes_per_cluster, &cut);
    if (err) return err;
  }
  f->size = size;
  if (keep == 0) f->first_cluster = 0;
  f->hint_cluster = 0;
  f->hint_index = 0;
  int err = entry_sync(fs, f);
  if (!err) err = barrier(fs);
  if (err || keep == have) return err;
  if (keep == 0) return chain_free(fs, old_first);
  uint32_t tail = 0;
  int r = fat_next(fs, cut, &tail);
  if (r < 0) return r;
  err = fat_stage(fs, cut, kEoc);
  if (!err) err = fat_commit(fs);
  if (!err && r == 1) err = chain_free(fs, tail);
  return err;
}

// ---- mount-time repair -----------------------------------------------------
// Runs when the volume is marked dirty at mount (a power cut, or a session
// without a final sync). A cut leaves at worst (see the scheme at the top):
// allocated clusters no entry reaches, a file chain longer than its size
// needs, FAT copy 2 differing from copy 1, and the dirty mark itself.
// The pass:
//   1. walk (reads only): every directory from the root, depth-first with an
//      explicit stack (kRepairDepth levels), marks in fs->reach every cluster
//      of every directory chain and the first ceil(size/cluster) clusters of
//      every file chain. A cluster reached twice (cross-link or loop), a
//      directory chain that leaves the FAT or runs into a free/bad cluster,
//      a directory deeper than the stack, or any read error: the repair
//      writes NOTHING (freeing "unreached" clusters is only safe when the
//      whole tree was seen) and the volume stays dirty.
//   2. trim: every reached cluster whose FAT entry links to an unreached
//      cluster is the last cluster its file needs: set EOC. Its tail becomes
//      lost clusters. FAT sectors written in order, all copies; then flush.
//   3. free: every allocated (not free, not BAD) unreached cluster -> 0; a FAT
//      sector is rewritten (all copies) if it changed or if copy 2 differs
//      from copy 1. Then flush.
//   4. boot-sector dirty flag cleared if set; FAT[1] marked clean; flush.
// Cut safety: step 2 only shortens chains past the sizes (a cut leaves lost
// clusters), step 3 only frees unreachable clusters, in any order (a cut
// leaves fewer lost clusters), and the flush before step 3 keeps a freed tail
// from landing before the EOC that cut it off. Until step 4 the volume is
// still dirty, so the next mount simply repairs again.
constexpr uint32_t kRepairDepth = 64;

inline bool reach_get(const Fat16* fs, uint32_t c) { return (fs->reach[c >> 3] >> (c & 7)) & 1; }
inline void reach_set(Fat16* fs, uint32_t c) { fs->reach[c >> 3] = uint8_t(fs->reach[c >> 3] | (1u << (c & 7))); }

enum RepairMark { kMarkOk = 0, kMarkUnsafe = 1, kMarkBroken = 2 };

// Marks up to `limit` clusters (0 = all) of the chain from `first`.
// *after = FAT value of the last marked cluster, *count = clusters marked. Returns a RepairMark, or a
// negative error. Each cluster is marked once, so the walk is bounded.
int repair_mark(Fat16* fs, uint32_t first, uint32_t limit, uint16_t* after, uint32_t* count, const char** why) {
  uint32_t c = first;
  uint32_t& n = *count;
  n = 0;
  for (;;) {
    if (!valid_cluster(fs, c)) {
      *why = "a cluster chain leaves the FAT";
      return kMarkUnsafe;
    }
    if (reach_get(fs, c)) {
      *why = "cross-linked or looping cluster chains";
      return kMarkUnsafe;
    }
    reach_set(fs, c);
    n++;
    uint16_t v = 0;
    int err = fat_get(fs, c, &v);
    if (err) return err;
    *after = v;
    if ((limit && n == limit) || v >= 0xFFF8) return kMarkOk;
    if (v == 0 || v == kBad || !valid_cluster(fs, v)) {
      *why = "a cluster chain runs into a free or bad cluster";
      return kMarkBroken;
    }
    c = v;
  }
}

// Appends text / a number to fs->repair.text.
void rtext(Fat16* fs, const char* s) {
  char* t = fs->repair.text;
  uint32_t n = 0;
  while (t[n]) n++;
  while (*s && n + 1 < sizeof fs->repair.text) t[n++] = *s++;
  t[n] = 0;
}
void rnum(Fat16* fs, uint32_t v) {
  char d[12];
  int i = 11;
  d[i] = 0;
  do {
    d[--i] = char('0' + v % 10);
    v /= 10;
  } while (v);
  rtext(fs, d + i);
}
void rcount(Fat16* fs, bool* first, uint32_t n, const char* what, const char* plural) {
  if (!n) return;
  if (!*first) rtext(fs, ", ");
  *first = false;
  rnum(fs, n);
  rtext(fs, what);
  if (n != 1) rtext(fs, plural);
}

// Step 1. Returns 0 (walk complete), kMarkUnsafe with *why, or an error.
int repair_walk(Fat16* fs, uint32_t* trims, uint32_t* tail_clusters, const char** why) {
  struct Frame {
    uint32_t dir;    // first cluster, 0 = root
    uint32_t slot;   // where to resume the scan
  };
  Frame st[kRepairDepth];
  int sp = 0;
  st[0] = {0, 0};
  while (sp >= 0) {
    uint32_t child = 0, resume = 0;
    int bad = 0;
    int r = dir_scan(fs, st[sp].dir, st[sp].slot, [&](const Hit& h) {
      const uint8_t* e = h.ent;
      if (e[0] == '.') return 0;   // "." and "..": short names never start with '.' otherwise
      uint32_t first = ld16(e + 26);
      uint16_t after = 0;
      if (e[11] & kAttrDir) {
        if (first == 0) {
          fs->repair.left_alone++;   // a directory without clusters: nothing to reach
          return 0;
        }
        uint32_t n = 0;
        int m = repair_mark(fs, first, 0, &after, &n, why);
        if (m < 0) return m;
        if (m != kMarkOk) {
          if (m == kMarkBroken) *why = "a directory chain runs into a free or bad cluster";
          bad = 1;
          return 1;
        }
        child = first;
        resume = h.slot + 1;
        return 1;
      }
      uint32_t size = ld32(e + 28);
      uint32_t need = size / fs->bytes_per_cluster + (size % fs->bytes_per_cluster != 0);
      if (first == 0) {
        if (need) fs->repair.left_alone++;   // a size without clusters
        return 0;
      }
      if (need == 0) fs->repair.left_alone++;   // clusters without a size: keep them all
      uint32_t n = 0;
      int m = repair_mark(fs, first, need, &after, &n, why);
      if (m < 0) return m;
      if (m == kMarkUnsafe) {
        bad = 1;
        return 1;
      }
      if (m == kMarkBroken || (need && n < need)) {
        fs->repair.left_alone++;   // chain shorter than the size: fsck's business
        return 0;
      }
      if (after < 0xFFF8 && valid_cluster(fs, after)) {
        // Over-long: count the tail (not marked; it is freed in step 3).
        (*trims)++;
        uint32_t c = after;
        for (uint32_t k = 0; k <= fs->cluster_count; k++) {
          (*tail_clusters)++;
          uint16_t v = 0;
          int err = fat_get(fs, c, &v);
          if (err) return err;
          if (v >= 0xFFF8 || !valid_cluster(fs, v)) break;
          c = v;
        }
      } else if (after < 0xFFF8) {
        fs->repair.left_alone++;   // last needed cluster links to a free/bad cluster
      }
      return 0;
    });
    if (r < 0) {
      *why = fs->error;
      return kMarkUnsafe;
    }
    if (bad) return kMarkUnsafe;
    if (r == 1) {
      st[sp].slot = resume;
      if (sp + 1 >= int(kRepairDepth)) {
        *why = "directories nested too deep";
        return kMarkUnsafe;
      }
      st[++sp] = {child, 0};
    } else {
      sp--;
    }
  }
  return 0;
}

// Steps 2 and 3: one pass over the FAT sectors. Returns 0 or an error.
int repair_fat_pass(Fat16* fs, bool trim) {
  uint8_t other[kSec];
  for (uint32_t s = 0; s < fs->fat_sectors; s++) {
    uint32_t lo = s * 256, hi = lo + 256;
    if (lo >= fs->cluster_count + 2) break;
    if (hi > fs->cluster_count + 2) hi = fs->cluster_count + 2;
    int err = 0;
    uint8_t* p = sector_get(fs, fs->fat_lba + s, &err);
    if (!p) return err;
    bool changed = false;
    for (uint32_t c = lo < 2 ? 2 : lo; c < hi; c++) {
      uint8_t* ent = p + (c % 256) * 2;
      uint16_t v = ld16(ent);
      if (trim) {
        if (reach_get(fs, c) && v < 0xFFF8 && valid_cluster(fs, v) && !reach_get(fs, v)) {
          st16(ent, kEoc);
          changed = true;
        }
      } else if (!reach_get(fs, c) && v != 0 && v != kBad) {
        st16(ent, 0);
        changed = true;
        fs->repair.lost_clusters++;
        if (c < fs->next_free_hint) fs->next_free_hint = uint16_t(c);
      }
    }
    bool differ = false;
    if (!trim && fs->num_fats > 1) {
      for (uint32_t i = 1; i < fs->num_fats && !differ; i++) {
        err = raw_read(fs, fs->fat_lba + i * fs->fat_sectors + s, 1, other);
        if (err) return err;
        differ = !meq(other, p, kSec);
      }
    }
    if (changed || differ) {
      if (differ && !changed) fs->repair.fat_sectors_synced++;
      Fat16CacheSlot* slot = slot_of(fs, p);
      slot->dirty = 1;
      err = slot_writeback(fs, slot);
      if (err) return err;
    }
  }
  return barrier(fs);
}

int repair(Fat16* fs, bool bs_dirty) {
  Fat16Repair& rp = fs->repair;
  rp.ran = 1;
  mzero(fs->reach, sizeof fs->reach);
  uint32_t trims = 0, tail = 0;
  const char* why = "";
  int r = repair_walk(fs, &trims, &tail, &why);
  if (r == kMarkUnsafe) {
    rp.skipped = 1;
    fs->stay_dirty = 1;
    rtext(fs, "not repaired (");
    rtext(fs, why);
    rtext(fs, "): run fsck.fat");
    return 0;
  }
  if (r < 0) return r;
  int err = 0;
  if (trims) err = repair_fat_pass(fs, true);
  if (!err) err = repair_fat_pass(fs, false);
  if (err) return err;
  rp.trimmed_chains = trims;
  rp.trimmed_clusters = tail <= rp.lost_clusters ? tail : rp.lost_clusters;
  rp.lost_clusters -= rp.trimmed_clusters;
  if (bs_dirty) {
    uint8_t* b = sector_get(fs, 0, &err);
    if (!b) return err;
    b[37] = uint8_t(b[37] & ~1u);
    err = sector_put(fs, b);
    if (!err) err = barrier(fs);
    if (err) return err;
  }
  err = set_clean_bit(fs, true);
  if (err) return err;
  rtext(fs, "repaired: ");
  bool first = true;
  if (rp.lost_clusters) rtext(fs, "reclaimed ");
  rcount(fs, &first, rp.lost_clusters, " lost cluster", "s");
  if (trims) {
    if (!first) rtext(fs, ", ");
    first = true;
    rtext(fs, "trimmed ");
    rcount(fs, &first, trims, " chain", "s");
    rtext(fs, " (");
    rnum(fs, rp.trimmed_clusters);
    rtext(fs, rp.trimmed_clusters == 1 ? " cluster)" : " clusters)");
  }
  rcount(fs, &first, rp.fat_sectors_synced, " FAT sector", "s");
  if (rp.fat_sectors_synced) rtext(fs, " copied to FAT 2");
  if (first) rtext(fs, "volume was marked dirty, nothing to fix");
  if (rp.left_alone) {
    rtext(fs, "; left alone: ");
    rnum(fs, rp.left_alone);
    rtext(fs, " (run fsck.fat)");
  }
  return 0;
}

// ---- mount -----------------------------------------------------------------
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

// ============================================================================
// Public API
// ============================================================================

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

int fat16_open(Fat16* fs, const char* path, uint32_t flags, Fat16File* out) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  Walk w;
  int err = walk_path(fs, path, &w);
  if (err) return err;
  if (w.found && w.len == 0) {
    if ((flags & FAT16_O_CREAT) && (flags & FAT16_O_EXCL)) return fail(fs, FAT16_EEXIST, "exists");
    file_for_dir(w.self, out);
    return 0;
  }
  if (w.found) {
    if ((flags & FAT16_O_CREAT) && (flags & FAT16_O_EXCL)) return fail(fs, FAT16_EEXIST, "file exists");
    file_from_hit(w.hit, out);
    if ((flags & FAT16_O_DIRECTORY) && !out->is_dir) return fail(fs, FAT16_ENOTDIR, "not a directory");
    if (out->is_dir && !valid_cluster(fs, out->first_cluster)) return fail(fs, FAT16_EUCLEAN, "directory start cluster outside the FAT");
    if (!out->is_dir) {
      err = entry_chain_check(fs, w.hit.ent);
      if (err) return err;
    }
    if ((flags & FAT16_O_TRUNC) && !out->is_dir && out->size) return fat16_truncate(fs, out, 0);
    return 0;
  }
  if (!(flags & FAT16_O_CREAT)) return fail(fs, FAT16_ENOENT, "no such file or directory");
  if (flags & FAT16_O_DIRECTORY) return fail(fs, FAT16_EINVAL, "O_CREAT with O_DIRECTORY");
  err = check_new_name(fs, w.name, w.len);
  if (err) return err;
  uint8_t proto[32];
  mzero(proto, 32);
  proto[11] = kAttrArchive;
  stamp_entry(fs, proto, true);
  Hit h;
  err = dir_add(fs, w.dir, w.name, w.len, proto, &h);
  if (err) return err;
  file_from_hit(h, out);
  return 0;
}

int64_t fat16_read(Fat16* fs, Fat16File* f, uint64_t offset, void* buf, size_t len) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  if (f->is_dir) return fail(fs, FAT16_EISDIR, "is a directory");
  int rerr = entry_refresh(fs, f);
  if (rerr) return rerr;
  if (offset >= f->size || len == 0) return 0;
  if (len > f->size - offset) len = size_t(f->size - offset);
  uint8_t* dst = static_cast<uint8_t*>(buf);
  uint64_t done = 0;
  uint8_t tmp[kSec];
  while (done < len) {
    uint64_t off = offset + done;
    uint32_t c = 0;
    int err = file_cluster(fs, f, off, &c);
    if (err) return err;
    uint32_t at = uint32_t(off % fs->bytes_per_cluster);
    uint64_t left = len - done;
    // Extend over physically consecutive clusters (files copied by mtools are
    // contiguous), so large reads become few large device requests.
    uint32_t run = 1;
    err = contiguous_run(fs, f, c, uint32_t((at + left + fs->bytes_per_cluster - 1) / fs->bytes_per_cluster), &run);
    if (err) return err;
    uint64_t avail = uint64_t(run) * fs->bytes_per_cluster - at;
    uint32_t n = uint32_t(avail < left ? avail : left);
    uint32_t sec = cluster_lba(fs, c) + at / kSec, in = at % kSec;
    if (in == 0 && n >= kSec) {
      n -= n % kSec;
      err = raw_read(fs, sec, n / kSec, dst + done);
    } else {
      if (n > kSec - in) n = kSec - in;
      err = raw_read(fs, sec, 1, tmp);
      if (!err) mcopy(dst + done, tmp + in, n);
    }
    if (err) return err;
    done += n;
  }
  return int64_t(done);
}

int64_t fat16_write(Fat16* fs, Fat16File* f, uint64_t offset, const void* buf, size_t len) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  if (f->is_dir) return fail(fs, FAT16_EISDIR, "is a directory");
  if (len == 0) return 0;
  if (offset + len > 0xFFFFFFFFull || offset + len < offset) return fail(fs, FAT16_EFBIG, "file would exceed 4 GiB - 1");
  int err = entry_refresh(fs, f);
  if (err) return err;
  const uint8_t* src = static_cast<const uint8_t*>(buf);
  uint64_t end = offset + len;
  uint64_t alloc_end = uint64_t(clusters_for(fs, f->size)) * fs->bytes_per_cluster;
  // Overwrite the part inside the current size in place.
  uint64_t in_end = end < f->size ? end : f->size;
  if (offset < in_end) {
    err = write_existing(fs, f, offset, src, in_end - offset);
    if (err) return err;
  }
  if (end <= f->size) {
    err = entry_sync(fs, f);   // mtime
    return err ? err : int64_t(len);
  }
  uint64_t data_off = offset > f->size ? offset : f->size;
  const uint8_t* tail = src + (data_off - offset);
  if (end <= alloc_end) {
    // Fits in the slack of the last cluster: data, then the size (one write).
    if (data_off > f->size) err = write_existing(fs, f, f->size, nullptr, data_off - f->size);
    if (!err) err = write_existing(fs, f, data_off, tail, end - data_off);
    if (err) return err;
    f->size = uint32_t(end);
    err = entry_sync(fs, f);
  } else {
    err = grow(fs, f, end, data_off, tail);
  }
  return err ? err : int64_t(len);
}

int fat16_truncate(Fat16* fs, Fat16File* f, uint64_t size) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  if (f->is_dir) return fail(fs, FAT16_EISDIR, "is a directory");
  if (size > 0xFFFFFFFFull) return fail(fs, FAT16_EFBIG, "file would exceed 4 GiB - 1");
  int err = entry_refresh(fs, f);
  if (err) return err;
  if (size == f->size) return 0;
  if (size < f->size) return shrink(fs, f, uint32_t(size));
  uint64_t alloc_end = uint64_t(clusters_for(fs, f->size)) * fs->bytes_per_cluster;
  if (size <= alloc_end) {
    err = write_existing(fs, f, f->size, nullptr, size - f->size);
    if (err) return err;
    f->size = uint32_t(size);
    return entry_sync(fs, f);
  }
  return grow(fs, f, size, size, nullptr);
}

int fat16_fsync(Fat16* fs, Fat16File* f) {
  (void)f;
  return fat16_sync(fs);
}

int fat16_fstat(Fat16* fs, const Fat16File* f, Fat16Stat* st) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  mzero(st, sizeof *st);
  st->size = f->size;
  st->is_dir = f->is_dir;
  st->first_cluster = f->first_cluster;
  st->ino = f->dirent_lba ? (uint64_t(f->dirent_lba) << 4 | f->dirent_index) : (f->first_cluster ? f->first_cluster : 1);
  st->attr = f->is_dir ? kAttrDir : kAttrArchive;
  if (f->dirent_lba) {
    int err = 0;
    const uint8_t* s = sector_get(fs, f->dirent_lba, &err);
    if (!s) return err;
    const uint8_t* e = s + f->dirent_index * 32u;
    if (meq(e, f->short_name, 11)) {
      st->attr = e[11];
      st->first_cluster = ld16(e + 26);
      if (!f->is_dir) st->size = ld32(e + 28);
      st->mtime = fat_to_unix(ld16(e + 24), ld16(e + 22));
    }
  }
  return 0;
}

int fat16_stat(Fat16* fs, const char* path, Fat16Stat* st) {
  Fat16File f;
  int err = fat16_open(fs, path, 0, &f);
  return err ? err : fat16_fstat(fs, &f, st);
}

int fat16_mkdir(Fat16* fs, const char* path) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  Walk w;
  int err = walk_path(fs, path, &w);
  if (err) return err;
  if (w.found) return fail(fs, FAT16_EEXIST, "file exists");
  err = check_new_name(fs, w.name, w.len);
  if (err) return err;
  // The new directory's cluster: '.' and '..', the rest zero; then FAT; then entry.
  uint32_t pos = 0, c = 0;
  int r = free_next(fs, &pos, &c);
  if (r < 0) return r;
  if (r == 0) return fail(fs, FAT16_ENOSPC, "no free clusters left");
  uint8_t sec[kSec];
  mzero(sec, kSec);
  uint8_t proto[32];
  mzero(proto, 32);
  proto[11] = kAttrDir;
  stamp_entry(fs, proto, true);
  mcopy(sec, proto, 32);
  __builtin_memset(sec, ' ', 11);
  sec[0] = '.';
  st16(sec + 26, uint16_t(c));
  mcopy(sec + 32, proto, 32);
  __builtin_memset(sec + 32, ' ', 11);
  sec[32] = sec[33] = '.';
  st16(sec + 32 + 26, uint16_t(w.dir));
  for (uint32_t i = 0; i < fs->sectors_per_cluster; i++) {
    err = raw_write(fs, cluster_lba(fs, c) + i, 1, sec);
    if (err) return err;
    if (i == 0) mzero(sec, 64);
  }
  err = barrier(fs);
  if (!err) err = fat_stage(fs, c, kEoc);
  if (!err) err = fat_commit(fs);
  if (!err) err = barrier(fs);
  if (err) return err;
  fs->next_free_hint = uint16_t(c + 1 < fs->cluster_count + 2 ? c + 1 : 2);
  st16(proto + 26, uint16_t(c));
  Hit h;
  err = dir_add(fs, w.dir, w.name, w.len, proto, &h);
  if (err) chain_free(fs, c);
  return err;
}

namespace {

// 1 if directory `dir` has no entries besides '.' and '..', 0 if it has, <0 error.
int dir_is_empty(Fat16* fs, uint32_t dir) {
  int r = dir_scan(fs, dir, 0, [&](const Hit& h) {
    if (h.ent[0] == '.' && (h.ent[1] == ' ' || (h.ent[1] == '.' && h.ent[2] == ' '))) return 0;
    return 1;
  });
  if (r < 0) return r;
  return r == 1 ? 0 : 1;
}

// Removes the entry `h` in `dir` (LFN first, short last), flush, free chain.
int remove_entry(Fat16* fs, uint32_t dir, const Hit& h) {
  int err = dir_kill_run(fs, dir, h.first_slot, h.slot, 0);
  if (!err) err = barrier(fs);
  uint32_t first = ld16(h.ent + 26);
  if (!err && first) err = chain_free(fs, first);
  return err;
}

int remove_path(Fat16* fs, const char* path, bool want_dir) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  Walk w;
  int err = walk_path(fs, path, &w);
  if (err) return err;
  if (!w.found) return fail(fs, FAT16_ENOENT, "no such file or directory");
  if (w.len == 0) return fail(fs, want_dir ? FAT16_EBUSY : FAT16_EISDIR, "cannot remove this directory");
  bool is_dir = w.hit.ent[11] & kAttrDir;
  if (is_dir && !want_dir) return fail(fs, FAT16_EISDIR, "is a directory");
  if (!is_dir && want_dir) return fail(fs, FAT16_ENOTDIR, "not a directory");
  if (is_dir) {
    uint32_t first = ld16(w.hit.ent + 26);
    if (!valid_cluster(fs, first)) return fail(fs, FAT16_EUCLEAN, "directory start cluster outside the FAT");
    int r = dir_is_empty(fs, first);
    if (r < 0) return r;
    if (r == 0) return fail(fs, FAT16_ENOTEMPTY, "directory not empty");
  }
  err = entry_chain_check(fs, w.hit.ent);
  if (err) return err;
  return remove_entry(fs, w.dir, w.hit);
}

// Is directory `anc` equal to `dir` or one of its ancestors? 1/0/<0.
int is_ancestor(Fat16* fs, uint32_t anc, uint32_t dir) {
  for (uint32_t i = 0; i <= fs->cluster_count; i++) {
    if (dir == anc) return 1;
    if (dir == 0) return 0;
    int err = dir_parent(fs, dir, &dir);
    if (err) return err;
  }
  return fail(fs, FAT16_EUCLEAN, "directory '..' links loop");
}

// Points the '..' entry of directory `dir` at `parent`.
int set_dotdot(Fat16* fs, uint32_t dir, uint32_t parent) {
  int err = 0;
  uint8_t* s = sector_get(fs, cluster_lba(fs, dir), &err);
  if (!s) return err;
  st16(s + 32 + 26, uint16_t(parent));
  return sector_put(fs, s);
}

// Copies the "content" fields (attr, times, start, size) of `src` into `dst`,
// keeping dst's name and case flags.
void take_content(uint8_t* dst, const uint8_t* src) {
  dst[11] = src[11];
  mcopy(dst + 13, src + 13, 19);
}

// Rename onto an existing entry `t` (already type-checked).
int rename_replace(Fat16* fs, const Walk& from, const Walk& to) {
  const Hit& s = from.hit;
  const Hit& t = to.hit;
  uint32_t old_first = ld16(t.ent + 26);
  // (1) source LFN slots outside the source's short-entry sector.
  int err = dir_kill_run(fs, from.dir, s.first_slot, s.slot, s.rel);
  if (err) return err;
  uint32_t src_sec_first = s.slot - s.slot % kEntPerSec;
  uint32_t kill_from = s.first_slot > src_sec_first ? s.first_slot : src_sec_first;
  if (s.rel == t.rel) {
    // (2) the commit: one sector write.
    uint8_t* sec = sector_get(fs, s.rel, &err);
    if (!sec) return err;
    take_content(sec + t.idx * 32, s.ent);
    for (uint32_t k = kill_from; k <= s.slot; k++) sec[(k % kEntPerSec) * 32] = kDeleted;
    err = sector_put(fs, sec);
  } else {
    // (2') source entry deleted first, then the target flips old -> new.
    uint8_t* sec = sector_get(fs, s.rel, &err);
    if (!sec) return err;
    for (uint32_t k = kill_from; k <= s.slot; k++) sec[(k % kEntPerSec) * 32] = kDeleted;
    err = sector_put(fs, sec);
    if (!err) err = barrier(fs);
    if (err) return err;
    sec = sector_get(fs, t.rel, &err);
    if (!sec) return err;
    take_content(sec + t.idx * 32, s.ent);
    err = sector_put(fs, sec);
  }
  if (err) return err;
  if ((s.ent[11] & kAttrDir) && from.dir != to.dir) err = set_dotdot(fs, ld16(s.ent + 26), to.dir);
  // (3) flush, (4) free the replaced chain.
  if (!err) err = barrier(fs);
  if (!err && old_first) err = chain_free(fs, old_first);
  return err;
}

// Rename to a name that does not exist yet.
int rename_new(Fat16* fs, const Walk& from, const Walk& to) {
  const Hit& s = from.hit;
  uint8_t sn[11], nt;
  bool with_lfn;
  int err = 0;
  // Short name: the source's own short name may be reused by the new name.
  if (name_fits_83(to.name, to.len, sn, &nt)) {
    with_lfn = false;
  } else {
    err = choose_short(fs, to.dir, to.name, to.len, sn, &nt, &with_lfn);
    if (err) return err;
  }
  uint8_t ents[kLfnMaxSlots + 1][32];
  uint32_t n = build_entries(to.name, to.len, sn, nt, with_lfn, s.ent, ents);
  uint32_t run = s.slot - s.first_slot + 1;
  bool one_sector = s.first_slot / kEntPerSec == s.slot / kEntPerSec;
  if (from.dir == to.dir && n <= run && one_sector) {
    // In place: one sector write, the new run ends at the old short slot.
    uint8_t* sec = sector_get(fs, s.rel, &err);
    if (!sec) return err;
    for (uint32_t k = s.first_slot; k <= s.slot; k++) {
      uint32_t j = k - s.first_slot;
      uint8_t* e = sec + (k % kEntPerSec) * 32;
      if (j < run - n) e[0] = kDeleted;
      else mcopy(e, ents[j - (run - n)], 32);
    }
    return sector_put(fs, sec);
  }
  // Otherwise: delete the source first, then create the new entry.
  err = dir_kill_run(fs, from.dir, s.first_slot, s.slot, 0);
  if (!err) err = barrier(fs);
  if (err) return err;
  Hit h;
  err = dir_add(fs, to.dir, to.name, to.len, s.ent, &h);
  if (err) return err;
  if ((s.ent[11] & kAttrDir) && from.dir != to.dir) err = set_dotdot(fs, ld16(s.ent + 26), to.dir);
  return err;
}

}  // namespace

int fat16_unlink(Fat16* fs, const char* path) { return remove_path(fs, path, false); }
int fat16_rmdir(Fat16* fs, const char* path) { return remove_path(fs, path, true); }

int fat16_rename(Fat16* fs, const char* from_path, const char* to_path) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  Walk from, to;
  int err = walk_path(fs, from_path, &from);
  if (err) return err;
  if (!from.found) return fail(fs, FAT16_ENOENT, "no such file or directory");
  if (from.len == 0) return fail(fs, FAT16_EBUSY, "cannot rename this directory");
  err = walk_path(fs, to_path, &to);
  if (err) return err;
  if (to.found && to.len == 0) return fail(fs, FAT16_EBUSY, "cannot replace this directory");
  bool src_dir = from.hit.ent[11] & kAttrDir;
  err = entry_chain_check(fs, from.hit.ent);
  if (!err && to.found) err = entry_chain_check(fs, to.hit.ent);
  if (err) return err;
  if (src_dir) {
    int r = is_ancestor(fs, ld16(from.hit.ent + 26), to.dir);
    if (r < 0) return r;
    if (r == 1) return fail(fs, FAT16_EINVAL, "cannot move a directory into itself");
  }
  if (!to.found) {
    err = check_new_name(fs, to.name, to.len);
    return err ? err : rename_new(fs, from, to);
  }
  if (to.hit.rel == from.hit.rel && to.hit.idx == from.hit.idx) {
    // Same entry (maybe a case change): rewrite the name in place.
    if (to.len == from.len && meq(to.name, from.name, to.len)) return 0;
    to.found = 0;
    return rename_new(fs, from, to);
  }
  bool dst_dir = to.hit.ent[11] & kAttrDir;
  if (src_dir && !dst_dir) return fail(fs, FAT16_ENOTDIR, "target is not a directory");
  if (!src_dir && dst_dir) return fail(fs, FAT16_EISDIR, "target is a directory");
  if (dst_dir) {
    uint32_t first = ld16(to.hit.ent + 26);
    if (!valid_cluster(fs, first)) return fail(fs, FAT16_EUCLEAN, "directory start cluster outside the FAT");
    int r = dir_is_empty(fs, first);
    if (r < 0) return r;
    if (r == 0) return fail(fs, FAT16_ENOTEMPTY, "target directory not empty");
  }
  return rename_replace(fs, from, to);
}

int fat16_readdir(Fat16* fs, Fat16File* dir, uint32_t* pos, Fat16DirEntry* out) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  if (!dir->is_dir) return fail(fs, FAT16_ENOTDIR, "not a directory");
  if (dir->first_cluster && !valid_cluster(fs, dir->first_cluster))
    return fail(fs, FAT16_EUCLEAN, "directory start cluster outside the FAT");
  int r = dir_scan(fs, dir->first_cluster, *pos, [&](const Hit& h) {
    *pos = h.slot + 1;
    if (h.ent[0] == '.' && (h.ent[1] == ' ' || (h.ent[1] == '.' && h.ent[2] == ' '))) return 0;
    mcopy(out->name, h.name, sizeof out->name);
    out->is_dir = (h.ent[11] & kAttrDir) ? 1 : 0;
    out->size = out->is_dir ? 0 : ld32(h.ent + 28);
    out->ino = uint64_t(h.rel) << 4 | h.idx;
    return 1;
  });
  if (r < 0) return r;
  if (r == 0) *pos = kMaxDirSlots;
  return r == 1 ? 1 : 0;
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
