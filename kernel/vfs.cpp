// vfs.cpp: the fd table, path resolution and the file kinds behind each fd.
#include "vfs.h"
#include "cpu.h"
#include "mm.h"
#include "serial.h"
#include "time.h"

namespace {
constexpr int MAX_FILES = 256;
File files[MAX_FILES];            // open file descriptions; free when refs == 0
File* fds[MAX_FDS];
Fat16 fs;
bool mounted;
char cwd[256] = "/";
char synth[2][512];               // contents of synthetic files, rebuilt at open

File* alloc_file() {
  for (auto& f : files)
    if (!f.refs) {
      memset(&f, 0, sizeof f);
      f.refs = 1;
      return &f;
    }
  return nullptr;
}

int alloc_fd(File* f, int min_fd) {
  for (int i = min_fd; i < MAX_FDS; i++)
    if (!fds[i]) {
      fds[i] = f;
      return i;
    }
  return -24;   // EMFILE
}

void release(File* f) {
  if (f && !--f->refs) f->kind = FileKind::Null;
}

u64 rng_state = 0x9e3779b97f4a7c15;
u64 next_random() {   // xorshift seeded from the TSC; not cryptographic
  rng_state ^= rdtsc();
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

// Synthetic files glibc/LLVM read to size themselves.
bool open_synthetic(const char* p, File* f) {
  if (!strcmp(p, "/dev/null")) { f->kind = FileKind::Null; return true; }
  if (!strcmp(p, "/dev/zero")) { f->kind = FileKind::Zero; return true; }
  if (!strcmp(p, "/dev/urandom") || !strcmp(p, "/dev/random")) { f->kind = FileKind::Random; return true; }
  if (!strcmp(p, "/dev/tty") || !strcmp(p, "/dev/console")) { f->kind = FileKind::Console; f->console = 1; return true; }
  char* buf = nullptr;
  if (!strcmp(p, "/sys/devices/system/cpu/online") || !strcmp(p, "/sys/devices/system/cpu/possible")) {
    buf = synth[0];
    if (ncpus > 1) ksnprintf(buf, 512, "0-%d\n", ncpus - 1);
    else ksnprintf(buf, 512, "0\n");
  } else if (!strcmp(p, "/proc/meminfo")) {
    buf = synth[1];
    ksnprintf(buf, 512, "MemTotal: %lu kB\nMemFree: %lu kB\nMemAvailable: %lu kB\n", mm_total_bytes() >> 10,
              mm_free_bytes() >> 10, mm_free_bytes() >> 10);
  }
  if (!buf) return false;
  f->kind = FileKind::Mem;
  f->mem = buf;
  f->mem_len = strlen(buf);
  return true;
}

// Files with private mappings, for refilling pages that MADV_DONTNEED dropped. A slot
// is kept for the boot (VMAs split and move; counting their references is not worth it).
constexpr u32 MAX_MAPPED = 64;
Fat16File mapped[MAX_MAPPED];
u32 nmapped;

}  // namespace

i64 vfs_read_mapped(u32 source, void* dst, u64 offset, u64 n) {
  if (source >= nmapped) return -5;
  i64 r = fat16_read(&fs, &mapped[source], offset, dst, n);
  return r < 0 ? r : 0;
}

u32 vfs_map_source(const File* f) {
  static Spinlock lock;
  LockGuard g(lock);
  for (u32 i = 0; i < nmapped; i++) {   // the same file: entry, name and clusters (a slot may be reused)
    const Fat16File& m = mapped[i];
    if (m.dirent_lba == f->fat.dirent_lba && m.dirent_index == f->fat.dirent_index &&
        m.first_cluster == f->fat.first_cluster && !memcmp(m.short_name, f->fat.short_name, 11))
      return i;
  }
  if (nmapped == MAX_MAPPED) return ~0u;
  mapped[nmapped] = f->fat;
  return nmapped++;
}

void vfs_init_console() {
  for (int i = 0; i < 3; i++) {
    File* f = alloc_file();
    f->kind = FileKind::Console;
    f->console = static_cast<u8>(i);
    f->flags = i ? u32(O_WRONLY) : 0u;
    fds[i] = f;
  }
}

int vfs_mount(const Fat16BlockDevice* dev) {
  int r = fat16_mount(&fs, dev);
  if (r < 0) {
    kprintf("bfk: cannot mount the FAT16 volume: %s (%s)\n", fat16_strerror(r), fs.error ? fs.error : "");
    return r;
  }
  if (fs.repair.ran) kprintf("fat16: %s\n", fs.repair.text);   // volume was dirty at mount
  mounted = true;
  return 0;
}

Fat16* vfs_fs() { return mounted ? &fs : nullptr; }
const char* vfs_cwd() { return cwd; }

int vfs_chdir(const char* abs) {
  if (!mounted) return -2;
  Fat16Stat st;
  int r = fat16_stat(&fs, abs, &st);
  if (r < 0) return r;
  if (!st.is_dir) return -20;
  strncpy0(cwd, abs, sizeof cwd);
  return 0;
}

// Joins base and path, then folds ".", ".." and repeated slashes into "/a/b".
int vfs_resolve(int dirfd, const char* path, char out[256]) {
  char tmp[512];
  const char* base = "/";
  if (path[0] != '/') {
    if (dirfd == AT_FDCWD) base = cwd;
    else {
      File* d = vfs_file(dirfd);
      if (!d) return -9;
      if (d->kind != FileKind::Dir) return -20;
      base = d->path;
    }
  }
  if (strlen(base) + strlen(path) + 2 > sizeof tmp) return -36;
  ksnprintf(tmp, sizeof tmp, "%s/%s", base, path);
  usize n = 0;
  out[n] = 0;
  for (const char* p = tmp; *p;) {
    while (*p == '/') p++;
    const char* s = p;
    while (*p && *p != '/') p++;
    usize len = p - s;
    if (!len || (len == 1 && s[0] == '.')) continue;
    if (len == 2 && s[0] == '.' && s[1] == '.') {
      while (n && out[n - 1] != '/') n--;
      if (n) n--;
      out[n] = 0;
      continue;
    }
    if (n + 1 + len >= 256) return -36;
    out[n++] = '/';
    memcpy(out + n, s, len);
    n += len;
    out[n] = 0;
  }
  if (!n) out[n++] = '/', out[n] = 0;
  return 0;
}

i64 vfs_open(const char* abs, u32 flags) {
  File* f = alloc_file();
  if (!f) return -23;   // ENFILE
  strncpy0(f->path, abs, sizeof f->path);
  f->flags = flags;
  if (!open_synthetic(abs, f)) {
    if (!mounted) { release(f); return -2; }
    u32 ff = flags & (O_CREAT | O_EXCL | O_TRUNC | O_DIRECTORY);
    int r = fat16_open(&fs, abs, ff, &f->fat);
    if (r < 0) { release(f); return r; }
    f->kind = f->fat.is_dir ? FileKind::Dir : FileKind::Fat;
    if (f->kind == FileKind::Dir && (flags & O_ACCMODE)) { release(f); return -21; }
  }
  int fd = alloc_fd(f, 0);
  if (fd < 0) release(f);
  return fd;
}

File* vfs_file(int fd) { return fd >= 0 && fd < MAX_FDS ? fds[fd] : nullptr; }

i64 vfs_close(int fd) {
  File* f = vfs_file(fd);
  if (!f) return -9;
  fds[fd] = nullptr;
  release(f);
  return 0;
}

i64 vfs_dup(int fd, int min_fd, int exact) {
  File* f = vfs_file(fd);
  if (!f) return -9;
  if (exact >= 0) {
    if (exact >= MAX_FDS) return -9;
    if (exact == fd) return fd;
    if (fds[exact]) vfs_close(exact);
    fds[exact] = f;
    f->refs++;
    return exact;
  }
  int nfd = alloc_fd(f, min_fd);
  if (nfd >= 0) f->refs++;
  return nfd;
}

u64 vfs_size(File* f) {
  if (f->kind == FileKind::Fat) return f->fat.size;
  if (f->kind == FileKind::Mem) return f->mem_len;
  return 0;
}

i64 vfs_read(File* f, void* buf, u64 len, u64 off) {
  switch (f->kind) {
    case FileKind::Console: return f->console == 0 ? static_cast<i64>(serial_read(static_cast<char*>(buf), len)) : -9;
    case FileKind::Fat: return fat16_read(&fs, &f->fat, off, buf, len);
    case FileKind::Dir: return -21;
    case FileKind::Null: return 0;
    case FileKind::Zero: memset(buf, 0, len); return static_cast<i64>(len);
    case FileKind::Random:
      for (u64 i = 0; i < len; i++) static_cast<u8*>(buf)[i] = static_cast<u8>(next_random() >> 24);
      return static_cast<i64>(len);
    case FileKind::Mem: {
      if (off >= f->mem_len) return 0;
      u64 n = min(len, f->mem_len - off);
      memcpy(buf, f->mem + off, n);
      return static_cast<i64>(n);
    }
  }
  return -9;
}

namespace {
struct UserRead { File* f; u64 off; u64 got; };

// One physically contiguous piece of the destination: fat16_read DMAs whole sectors
// straight into it, one request per extent (a partial sector at either end of the
// file range goes through its sector buffer).
i64 read_piece(void* ctx, void* dst, u64 offset, u64 n) {
  auto r = static_cast<UserRead*>(ctx);
  i64 got = fat16_read(&fs, &r->f->fat, r->off + offset, dst, n);
  if (got < 0) return got;
  r->got += static_cast<u64>(got);
  return 0;
}

void log_load(const char* verb, const File* f, u64 bytes, u64 ns) {
  u64 ms = max(ns / 1000000, u64(1));
  kprintf("bfk: %s %s: %lu MB in %lu.%03lu s (%lu MB/s)\n", verb, f->path, bytes / 1000000, ms / 1000, ms % 1000,
          bytes / 1000 / ms);
}
}  // namespace

i64 vfs_read_to_user(File* f, u64 uaddr, u64 len, u64 off, const char* verb) {
  if (f->kind != FileKind::Fat) return -22;
  u64 size = f->fat.size;
  if (off >= size) return 0;
  len = min(len, size - off);
  u64 t0 = time_mono_ns();
  UserRead r{f, off, 0};
  i64 e = vm_fill(uaddr, len, read_piece, &r);
  if (e < 0) return e;
  if (verb && len >= (16u << 20)) log_load(verb, f, r.got, time_mono_ns() - t0);
  return static_cast<i64>(r.got);
}

i64 vfs_write(File* f, const void* buf, u64 len, u64 off) {
  if ((f->flags & O_ACCMODE) == 0 && f->kind != FileKind::Console) return -9;
  switch (f->kind) {
    case FileKind::Console:
      if (f->console == 2) serial_err_write(static_cast<const char*>(buf), len);
      else serial_out_write(static_cast<const char*>(buf), len);
      return static_cast<i64>(len);
    case FileKind::Fat: return fat16_write(&fs, &f->fat, off, buf, len);
    case FileKind::Null: case FileKind::Zero: case FileKind::Random: return static_cast<i64>(len);
    default: return -9;
  }
}

i64 vfs_read_file(const char* abs, char* buf, u64 cap) {
  i64 fd = vfs_open(abs, 0);
  if (fd < 0) return fd;
  i64 n = vfs_read(vfs_file(static_cast<int>(fd)), buf, cap, 0);
  vfs_close(static_cast<int>(fd));
  return n;
}
