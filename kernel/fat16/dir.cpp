// dir.cpp - directories: slots and entries, lookup, creating and removing entries,
// path resolution, and mkdir/rmdir/unlink/rename/readdir. See fat16_internal.h.
#include "fat16_internal.h"

namespace fat16_impl {

// ---- directories -----------------------------------------------------------
// A directory is named by its first cluster; 0 is the fixed root directory.

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

namespace {

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

}  // namespace

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
namespace {

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

}  // namespace

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

}  // namespace fat16_impl

using namespace fat16_impl;

// ---- public API (fat16.h)

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
