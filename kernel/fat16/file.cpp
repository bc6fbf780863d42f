// file.cpp - file handles and file data: open, read, write (growing files in the
// crash-safe order described in fat16_internal.h), truncate, fsync, stat.
#include "fat16_internal.h"

namespace fat16_impl {

// ---- handles: a Fat16File names its directory entry ------------------------
namespace {

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

// The extent holding file byte `offset` (< size), at most `len` bytes long:
// the cluster there and the clusters that follow it on disk along the chain.
int extent_at(Fat16* fs, Fat16File* f, uint64_t offset, uint64_t len, Fat16Extent* e) {
  uint32_t c = 0;
  int err = file_cluster(fs, f, offset, &c);
  if (err) return err;
  uint32_t at = uint32_t(offset % fs->bytes_per_cluster);
  uint32_t run = 1;
  err = contiguous_run(fs, f, c, uint32_t((at + len + fs->bytes_per_cluster - 1) / fs->bytes_per_cluster), &run);
  if (err) return err;
  uint64_t avail = uint64_t(run) * fs->bytes_per_cluster - at;
  e->offset = offset;
  e->lba = fs->part_lba + cluster_lba(fs, c) + at / kSec;
  e->bytes = avail < len ? avail : len;
  return 0;
}

// Checks a handle for reading and clips [offset, offset + *len) to the file size.
int read_span(Fat16* fs, Fat16File* f, uint64_t offset, uint64_t* len) {
  if (!fs->mounted) return fail(fs, FAT16_EINVAL, "not mounted");
  if (f->is_dir) return fail(fs, FAT16_EISDIR, "is a directory");
  int err = entry_refresh(fs, f);
  if (err) return err;
  if (offset >= f->size) *len = 0;
  else if (*len > f->size - offset) *len = f->size - offset;
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

}  // namespace

}  // namespace fat16_impl

using namespace fat16_impl;

// ---- public API (fat16.h)

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

int fat16_extents(Fat16* fs, Fat16File* f, uint64_t offset, uint64_t len, Fat16Extent* out, uint32_t max) {
  int err = read_span(fs, f, offset, &len);
  if (err) return err;
  uint32_t n = 0;
  while (len && n < max) {
    Fat16Extent e;
    err = extent_at(fs, f, offset, len, &e);
    if (err) return err;
    out[n++] = e;
    offset += e.bytes;
    len -= e.bytes;
  }
  return int(n);
}

// Whole sectors go straight from the device into `buf` (one request per extent);
// a partial sector at either end goes through a sector buffer.
int64_t fat16_read(Fat16* fs, Fat16File* f, uint64_t offset, void* buf, size_t len) {
  uint64_t total = len;
  int err = read_span(fs, f, offset, &total);
  if (err) return err;
  uint8_t* dst = static_cast<uint8_t*>(buf);
  uint8_t tmp[kSec];
  for (uint64_t done = 0; done < total;) {
    Fat16Extent e;
    err = extent_at(fs, f, offset + done, total - done, &e);
    if (err) return err;
    uint32_t rel = uint32_t(e.lba - fs->part_lba), in = uint32_t(e.offset % kSec);
    uint64_t n = e.bytes;
    if (in == 0 && n >= kSec) {
      n -= n % kSec;
      err = raw_read(fs, rel, uint32_t(n / kSec), dst + done);
    } else {
      if (n > kSec - in) n = kSec - in;
      err = raw_read(fs, rel, 1, tmp);
      if (!err) mcopy(dst + done, tmp + in, size_t(n));
    }
    if (err) return err;
    done += n;
  }
  return int64_t(total);
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
