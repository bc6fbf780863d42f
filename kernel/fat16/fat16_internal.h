// fat16_internal.h - private to kernel/fat16: what the library's source files share.
//
// Files: volume.cpp (mount, boot sector, dirty flag, sector cache, FAT access and
// allocation, sync, statfs), names.cpp (8.3 and long names, UTF-8/16, FAT times),
// dir.cpp (directory slots and entries, path lookup, mkdir/rmdir/unlink/rename/
// readdir), file.cpp (open/read/write/truncate/stat), repair.cpp (the mount-time repair).
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
//     Its own ordering is described at repair() in repair.cpp.
// Invariants kept by every function:
//   * sector cache slots equal the disk contents, except FAT sectors marked
//     dirty, which are written (all FAT copies, copy 1 first) by fat_commit()
//     before any directory sector is written in the same operation;
//   * a pointer returned by sector_get() is only used until the next call that
//     can read a sector;
//   * every walk along a cluster chain or directory is bounded by the cluster
//     count, so a looping chain ends in FAT16_EUCLEAN, never in a hang.
// ============================================================================

#pragma once

#include "fat16.h"

namespace fat16_impl {

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

inline int fail(Fat16* fs, int err, const char* msg) {
  fs->error = msg;
  return err;
}

// ---- cluster numbers
inline bool valid_cluster(const Fat16* fs, uint32_t c) { return c >= 2 && c < fs->cluster_count + 2; }
inline uint32_t cluster_lba(const Fat16* fs, uint32_t c) {
  return fs->data_lba + (c - 2) * fs->sectors_per_cluster;
}

// ---- directories and paths
// A directory is named by its first cluster; 0 is the fixed root directory.

struct DirPos {       // cursor over the 32-byte slots of one directory
  uint32_t first;     // first cluster, 0 = root
  uint32_t cluster;   // cluster holding slot index `ci * epc` (chain dirs)
  uint32_t ci;        // cluster index of `cluster`
};

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

struct Walk {             // a resolved path (walk_path)
  uint32_t dir;           // directory holding the last component
  const char* name;       // last component (not 0-terminated)
  uint32_t len;           // 0: the path names a directory itself (root, ".", "..")
  uint32_t self;          // when len == 0: that directory's first cluster
  int found;              // 1 if the last component exists (hit valid)
  Hit hit;
};

// ---- volume.cpp: dirty flag, sector cache (volume-relative sector numbers), FAT
// Marks the volume clean or dirty on disk (FAT[1] bit 15, every FAT copy), durably.
int set_clean_bit(Fat16* fs, bool clean);
// Writes a dirty cached FAT sector (copy 1) to every FAT copy.
int slot_writeback(Fat16* fs, Fat16CacheSlot* s);
// Returns the cached copy of sector `rel`, reading it on a miss.
uint8_t* sector_get(Fat16* fs, uint32_t rel, int* err);
// The cache slot holding `data` (a pointer from sector_get).
Fat16CacheSlot* slot_of(Fat16* fs, const uint8_t* data);
// Writes a sector obtained from sector_get (and modified) through to disk.
int sector_put(Fat16* fs, uint8_t* data);
// Raw multi-sector transfer that bypasses the cache (file data).
int raw_read(Fat16* fs, uint32_t rel, uint32_t n, void* buf);
int raw_write(Fat16* fs, uint32_t rel, uint32_t n, const void* buf);
// Device flush: writes before it reach the disk before writes after it.
int barrier(Fat16* fs);
// FAT entry of cluster `c` (copy 1, through the cache).
int fat_get(Fat16* fs, uint32_t c, uint16_t* v);
// Changes FAT copy 1 in the cache only; fat_commit() writes it out.
int fat_stage(Fat16* fs, uint32_t c, uint16_t v);
// Writes every dirty FAT sector to all FAT copies.
int fat_commit(Fat16* fs);
// True if the only dirty cache slot is FAT sector `rel` (copy 1).
bool only_dirty_fat_sector(Fat16* fs, uint32_t rel);
// Drops staged FAT changes after an error (re-read from disk later).
void fat_discard(Fat16* fs);
// Next cluster after `c`: 1 and *next, 0 at the end of the chain, <0 if corrupt.
int fat_next(Fat16* fs, uint32_t c, uint32_t* next);
// Cluster number `index` steps along the chain starting at `first`.
int chain_seek(Fat16* fs, uint32_t first, uint32_t index, uint32_t* out);
// Checks the chain of a directory entry: exact length for files, any for dirs.
int entry_chain_check(Fat16* fs, const uint8_t* e);
// Frees the chain starting at `first` (staged, then committed).
int chain_free(Fat16* fs, uint32_t first);
// Free-cluster enumeration in "ring order" starting at the hint, so that
// successive calls with increasing `*pos` return distinct clusters even
// before any of them is marked in the FAT. Returns 1 and the cluster, 0 if none.
int free_next(Fat16* fs, uint32_t* pos, uint32_t* cluster);
// Checks that `n` free clusters exist (nothing is changed).
int free_reserve_check(Fat16* fs, uint32_t n);

// ---- names.cpp: FAT times, short and long names
int64_t fat_to_unix(uint16_t date, uint16_t time);
// Sets the modification (and, if `created`, creation) time of entry `e` to now.
void stamp_entry(Fat16* fs, uint8_t* e, bool created);
// Formats an 11-byte short name as "NAME.EXT", applying the NT lower-case flags.
void short_to_text(const uint8_t* e, char* out);
// The checksum of an 11-byte short name that its LFN entries carry.
uint8_t lfn_checksum(const uint8_t* short_name);
// If `name` can be stored as a plain 8.3 entry (possibly with NT case flags),
// fills sn[11] and *nt and returns true.
bool name_fits_83(const char* name, uint32_t len, uint8_t* sn, uint8_t* nt);
// Builds the short-alias basis "BASIS~N" for a long name (N filled in later).
void alias_basis(const char* name, uint32_t len, uint8_t* sn);
// Writes "~N" into the basis (base part shortened as needed).
void alias_apply(const uint8_t* basis, uint32_t num, uint8_t* sn);
// Case-insensitive: the `alen` bytes at `a` against the 0-terminated `b`.
bool names_equal(const char* a, uint32_t alen, const char* b);
// Builds the entries for `name` (LFN slots + short entry) into ents; returns
// the count. `sn`/`nt` are the short name and case flags to use.
uint32_t build_entries(const char* name, uint32_t len, const uint8_t* sn, uint8_t nt, bool with_lfn,
                       const uint8_t* proto, uint8_t (*ents)[32]);
// Validates one path component as a new name.
int check_new_name(Fat16* fs, const char* name, uint32_t len);
// Feeds one LFN slot to the long name being assembled.
void lfn_take(LfnState* l, const uint8_t* e, uint32_t slot);
// UTF-16 (0-terminated, at most n units) to UTF-8 in out[cap]; unpaired
// surrogates become '?'. Stops at a character that does not fit.
void utf16_to_utf8(const uint16_t* u, uint32_t n, char* out, uint32_t cap);

// ---- dir.cpp
void dir_open(DirPos* p, uint32_t first);
// Sector holding `slot`: returns 1 and *rel, 0 past the end of the directory.
int dir_slot(Fat16* fs, DirPos* p, uint32_t slot, uint32_t* rel);
// Creates an entry `name` in `dir` whose 32-byte body comes from `proto`.
int dir_add(Fat16* fs, uint32_t dir, const char* name, uint32_t len, const uint8_t* proto, Hit* out);
// Resolves `path` down to its last component (which need not exist: w->found).
int walk_path(Fat16* fs, const char* path, Walk* w);
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

// ---- repair.cpp
// The mount-time repair of a volume marked dirty (see repair.cpp). 0 also when it
// declined to write (fs->repair.skipped), <0 on a device error.
int repair(Fat16* fs, bool bs_dirty);
// Appends text to fs->repair.text.
void rtext(Fat16* fs, const char* s);

}  // namespace fat16_impl
