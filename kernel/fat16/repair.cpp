// repair.cpp - the mount-time repair of a volume marked dirty.
#include "fat16_internal.h"

namespace fat16_impl {

// ---- mount-time repair -----------------------------------------------------
// Runs when the volume is marked dirty at mount (a power cut, or a session
// without a final sync). A cut leaves at worst (see the scheme in fat16_internal.h):
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
namespace {

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

}  // namespace

// Appends text / a number to fs->repair.text.
void rtext(Fat16* fs, const char* s) {
  char* t = fs->repair.text;
  uint32_t n = 0;
  while (t[n]) n++;
  while (*s && n + 1 < sizeof fs->repair.text) t[n++] = *s++;
  t[n] = 0;
}

namespace {

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

}  // namespace

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

}  // namespace fat16_impl
