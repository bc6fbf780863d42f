// sys_file.cpp: file syscalls over the VFS.
#include "syscall.h"
#include "uaccess.h"
#include "vfs.h"

namespace {
struct KStat {
  u64 dev, ino, nlink;
  u32 mode, uid, gid, pad0;
  u64 rdev;
  i64 size, blksize, blocks;
  i64 atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
  i64 reserved[3];
};
static_assert(sizeof(KStat) == 144);

struct StatxTs { i64 sec; u32 nsec; i32 pad; };
struct Statx {
  u32 mask, blksize;
  u64 attributes;
  u32 nlink, uid, gid;
  u16 mode, pad1;
  u64 ino, size, blocks, attributes_mask;
  StatxTs atime, btime, ctime, mtime;
  u32 rdev_major, rdev_minor, dev_major, dev_minor;
  u64 spare[14];
};
static_assert(sizeof(Statx) == 256);

struct Dirent64Head { u64 ino; i64 off; u16 reclen; u8 type; } __attribute__((packed));
constexpr u32 AT_EMPTY_PATH = 0x1000, AT_REMOVEDIR = 0x200;

i64 path_arg(int dirfd, u64 upath, char out[256]) {
  char raw[256];
  i64 r = user_string(upath, raw, sizeof raw);
  if (r < 0) return r;
  return vfs_resolve(dirfd, raw, out);
}

// Fill a KStat from an open file or a path.
void fill_stat(KStat* st, u32 mode, u64 size, u64 ino, i64 mtime) {
  memset(st, 0, sizeof *st);
  st->dev = 1;
  st->ino = ino;
  st->nlink = 1;
  st->mode = mode;
  st->size = static_cast<i64>(size);
  st->blksize = 4096;
  st->blocks = static_cast<i64>((size + 511) / 512);
  st->atime = st->mtime = st->ctime = mtime;
}

i64 stat_file(File* f, KStat* st) {
  switch (f->kind) {
    case FileKind::Fat: case FileKind::Dir: {
      Fat16Stat fs;
      int r = fat16_fstat(vfs_fs(), &f->fat, &fs);
      if (r < 0) return r;
      fill_stat(st, fs.is_dir ? 040755 : 0100644, fs.size, fs.ino, fs.mtime);
      return 0;
    }
    case FileKind::Mem: fill_stat(st, 0100444, f->mem_len, 2, 0); return 0;
    case FileKind::Console: fill_stat(st, 020620, 0, 3, 0); st->rdev = 0x8800; return 0;
    default: fill_stat(st, 020666, 0, 4, 0); st->rdev = 0x103; return 0;
  }
}

i64 stat_path(const char* abs, KStat* st) {
  i64 fd = vfs_open(abs, 0);
  if (fd < 0) return fd;
  i64 r = stat_file(vfs_file(static_cast<int>(fd)), st);
  vfs_close(static_cast<int>(fd));
  return r;
}

i64 do_fstatat(int dirfd, u64 upath, KStat* st, u32 flags) {
  char raw[256];
  i64 r = user_string(upath, raw, sizeof raw);
  if (r < 0) return r;
  if (!raw[0] && (flags & AT_EMPTY_PATH)) {
    File* f = vfs_file(dirfd);
    return f ? stat_file(f, st) : -EBADF;
  }
  char abs[256];
  r = vfs_resolve(dirfd, raw, abs);
  return r < 0 ? r : stat_path(abs, st);
}

i64 rw_file(int fd, u64 ubuf, u64 len, i64 pos, bool write) {
  File* f = vfs_file(fd);
  if (!f) return -EBADF;
  if (len && !user_ptr<u8>(ubuf, len)) return -EFAULT;
  bool seekable = f->kind == FileKind::Fat || f->kind == FileKind::Mem;
  if (pos >= 0 && !seekable && f->kind != FileKind::Null) return -ESPIPE;
  u64 off = pos >= 0 ? static_cast<u64>(pos) : f->off;
  if (write && pos < 0 && (f->flags & O_APPEND)) off = vfs_size(f);
  if (!write && (f->flags & O_ACCMODE) == O_WRONLY && f->kind != FileKind::Console) return -EBADF;
  if (!write && len && !vm_range_allows(ubuf, len, PROT_WRITE)) return -EFAULT;
  i64 n;
  if (write) n = vfs_write(f, reinterpret_cast<const void*>(ubuf), len, off);
  else if (f->kind == FileKind::Fat && len >= PAGE) {
    // DMA into the buffer's frames, no bounce. A page the buffer covers in part keeps its
    // other bytes: fault it in first (a file page MADV_DONTNEED dropped is read again),
    // as vm_fill would give an absent page a fresh zero frame.
    if (ubuf % PAGE) vm_fault(ubuf, 2);
    if ((ubuf + len) % PAGE) vm_fault(ubuf + len - 1, 2);
    n = vfs_read_to_user(f, ubuf, len, off, "read");
  }
  else n = vfs_read(f, reinterpret_cast<void*>(ubuf), len, off);
  if (n > 0 && pos < 0 && seekable) f->off = off + static_cast<u64>(n);
  return n;
}

struct IoVec { u64 base, len; };

i64 rw_vec(int fd, u64 uiov, u64 cnt, bool write) {
  if (cnt > 1024) return -EINVAL;
  IoVec* iov = user_ptr<IoVec>(uiov, cnt);
  if (!iov) return -EFAULT;
  i64 total = 0;
  for (u64 i = 0; i < cnt; i++) {
    if (!iov[i].len) continue;
    i64 n = rw_file(fd, iov[i].base, iov[i].len, -1, write);
    if (n < 0) return total ? total : n;
    total += n;
    if (static_cast<u64>(n) < iov[i].len) break;
  }
  return total;
}
}  // namespace

SYSCALL(read) { UNUSED_ARGS; return rw_file(static_cast<int>(a0), a1, a2, -1, false); }
SYSCALL(write) { UNUSED_ARGS; return rw_file(static_cast<int>(a0), a1, a2, -1, true); }
SYSCALL(readv) { UNUSED_ARGS; return rw_vec(static_cast<int>(a0), a1, a2, false); }
SYSCALL(writev) { UNUSED_ARGS; return rw_vec(static_cast<int>(a0), a1, a2, true); }
SYSCALL(pread64) { UNUSED_ARGS; return static_cast<i64>(a3) < 0 ? -EINVAL : rw_file(static_cast<int>(a0), a1, a2, static_cast<i64>(a3), false); }
SYSCALL(pwrite64) { UNUSED_ARGS; return static_cast<i64>(a3) < 0 ? -EINVAL : rw_file(static_cast<int>(a0), a1, a2, static_cast<i64>(a3), true); }

SYSCALL(openat) {
  UNUSED_ARGS;
  char abs[256];
  i64 r = path_arg(static_cast<int>(a0), a1, abs);
  return r < 0 ? r : vfs_open(abs, static_cast<u32>(a2));
}
SYSCALL(open) { UNUSED_ARGS; return sys_openat(static_cast<u64>(AT_FDCWD), a0, a1, a2, 0, 0); }
SYSCALL(close) { UNUSED_ARGS; return vfs_close(static_cast<int>(a0)); }

SYSCALL(lseek) {
  UNUSED_ARGS;
  File* f = vfs_file(static_cast<int>(a0));
  if (!f) return -EBADF;
  if (f->kind == FileKind::Console) return -ESPIPE;
  i64 off = static_cast<i64>(a1), base = 0;
  if (a2 == 1) base = static_cast<i64>(f->off);
  else if (a2 == 2) base = static_cast<i64>(vfs_size(f));
  else if (a2 != 0) return -EINVAL;
  if (base + off < 0) return -EINVAL;
  f->off = static_cast<u64>(base + off);
  if (f->kind == FileKind::Dir && f->off == 0) f->dirpos = f->dots = 0;
  return static_cast<i64>(f->off);
}

SYSCALL(fstat) {
  UNUSED_ARGS;
  File* f = vfs_file(static_cast<int>(a0));
  KStat* st = user_ptr<KStat>(a1);
  if (!f) return -EBADF;
  return st ? stat_file(f, st) : -EFAULT;
}
SYSCALL(newfstatat) {
  UNUSED_ARGS;
  KStat* st = user_ptr<KStat>(a2);
  return st ? do_fstatat(static_cast<int>(a0), a1, st, static_cast<u32>(a3)) : -EFAULT;
}
SYSCALL(stat) { UNUSED_ARGS; return sys_newfstatat(static_cast<u64>(AT_FDCWD), a0, a1, 0, 0, 0); }
SYSCALL(lstat) { UNUSED_ARGS; return sys_newfstatat(static_cast<u64>(AT_FDCWD), a0, a1, 0, 0, 0); }

SYSCALL(statx) {
  UNUSED_ARGS;
  Statx* sx = user_ptr<Statx>(a4);
  if (!sx) return -EFAULT;
  KStat st;
  i64 r = do_fstatat(static_cast<int>(a0), a1, &st, static_cast<u32>(a2));
  if (r < 0) return r;
  memset(sx, 0, sizeof *sx);
  sx->mask = 0x7ff;   // STATX_BASIC_STATS
  sx->blksize = static_cast<u32>(st.blksize);
  sx->nlink = static_cast<u32>(st.nlink);
  sx->mode = static_cast<u16>(st.mode);
  sx->ino = st.ino;
  sx->size = static_cast<u64>(st.size);
  sx->blocks = static_cast<u64>(st.blocks);
  sx->atime.sec = sx->btime.sec = sx->ctime.sec = sx->mtime.sec = st.mtime;
  sx->dev_major = 0;
  sx->dev_minor = 1;
  sx->rdev_major = static_cast<u32>(st.rdev >> 8);
  sx->rdev_minor = static_cast<u32>(st.rdev & 0xff);
  return 0;
}

SYSCALL(getdents64) {
  UNUSED_ARGS;
  File* f = vfs_file(static_cast<int>(a0));
  if (!f) return -EBADF;
  if (f->kind != FileKind::Dir) return -ENOTDIR;
  u8* out = user_ptr<u8>(a1, a2);
  if (!out) return -EFAULT;
  u64 used = 0;
  for (;;) {
    Fat16DirEntry e;
    u32 pos = f->dirpos;
    if (f->dots < 2) {
      strncpy0(e.name, f->dots ? ".." : ".", sizeof e.name);
      e.is_dir = 1;
      e.ino = 1;
    } else {
      int r = fat16_readdir(vfs_fs(), &f->fat, &pos, &e);
      if (r < 0) return used ? static_cast<i64>(used) : r;
      if (r == 0) break;
    }
    u64 namelen = strlen(e.name);
    u64 reclen = align_up(sizeof(Dirent64Head) + namelen + 1, 8);
    if (used + reclen > a2) {
      if (!used) return -EINVAL;
      break;
    }
    Dirent64Head h{e.ino ? e.ino : 1, static_cast<i64>(f->dots + pos + 1), static_cast<u16>(reclen), static_cast<u8>(e.is_dir ? 4 : 8)};
    memcpy(out + used, &h, sizeof h);
    memcpy(out + used + sizeof h, e.name, namelen + 1);
    memset(out + used + sizeof h + namelen + 1, 0, reclen - sizeof h - namelen - 1);
    used += reclen;
    if (f->dots < 2) f->dots++;
    else f->dirpos = pos;
  }
  return static_cast<i64>(used);
}

SYSCALL(mkdirat) {
  UNUSED_ARGS;
  char abs[256];
  i64 r = path_arg(static_cast<int>(a0), a1, abs);
  if (r < 0) return r;
  return vfs_fs() ? fat16_mkdir(vfs_fs(), abs) : -EROFS;
}
SYSCALL(mkdir) { UNUSED_ARGS; return sys_mkdirat(static_cast<u64>(AT_FDCWD), a0, a1, 0, 0, 0); }

SYSCALL(renameat2) {
  UNUSED_ARGS;
  char from[256], to[256];
  i64 r = path_arg(static_cast<int>(a0), a1, from);
  if (r >= 0) r = path_arg(static_cast<int>(a2), a3, to);
  if (r < 0) return r;
  if (a4 & 1) {   // RENAME_NOREPLACE
    Fat16Stat st;
    if (vfs_fs() && fat16_stat(vfs_fs(), to, &st) == 0) return -EEXIST;
  } else if (a4) {
    return -EINVAL;
  }
  return vfs_fs() ? fat16_rename(vfs_fs(), from, to) : -EROFS;
}
SYSCALL(renameat) { UNUSED_ARGS; return sys_renameat2(a0, a1, a2, a3, 0, 0); }
SYSCALL(rename) { UNUSED_ARGS; return sys_renameat2(static_cast<u64>(AT_FDCWD), a0, static_cast<u64>(AT_FDCWD), a1, 0, 0); }

SYSCALL(unlinkat) {
  UNUSED_ARGS;
  char abs[256];
  i64 r = path_arg(static_cast<int>(a0), a1, abs);
  if (r < 0) return r;
  if (!vfs_fs()) return -EROFS;
  return (a2 & AT_REMOVEDIR) ? fat16_rmdir(vfs_fs(), abs) : fat16_unlink(vfs_fs(), abs);
}
SYSCALL(unlink) { UNUSED_ARGS; return sys_unlinkat(static_cast<u64>(AT_FDCWD), a0, 0, 0, 0, 0); }
SYSCALL(rmdir) { UNUSED_ARGS; return sys_unlinkat(static_cast<u64>(AT_FDCWD), a0, AT_REMOVEDIR, 0, 0, 0); }

SYSCALL(fsync) {
  UNUSED_ARGS;
  File* f = vfs_file(static_cast<int>(a0));
  if (!f) return -EBADF;
  if (f->kind == FileKind::Fat || f->kind == FileKind::Dir) return fat16_fsync(vfs_fs(), &f->fat);
  return f->kind == FileKind::Console ? 0 : -EINVAL;
}
SYSCALL(fdatasync) { return sys_fsync(a0, a1, a2, a3, a4, a5); }
SYSCALL(sync) { UNUSED_ARGS; return vfs_fs() ? fat16_sync(vfs_fs()) : 0; }

SYSCALL(ftruncate) {
  UNUSED_ARGS;
  File* f = vfs_file(static_cast<int>(a0));
  if (!f) return -EBADF;
  if (f->kind != FileKind::Fat || !(f->flags & O_ACCMODE)) return -EINVAL;
  if (static_cast<i64>(a1) < 0) return -EINVAL;
  return fat16_truncate(vfs_fs(), &f->fat, a1);
}
SYSCALL(fallocate) { UNUSED_ARGS; return -95; }   // EOPNOTSUPP

SYSCALL(ioctl) {
  UNUSED_ARGS;
  File* f = vfs_file(static_cast<int>(a0));
  if (!f) return -EBADF;
  if (f->kind != FileKind::Console) return -ENOTTY;
  if (a1 == 0x5401) {   // TCGETS: a cooked 115200-baud terminal
    u32* t = user_ptr<u32>(a2, 15);
    if (!t) return -EFAULT;
    memset(t, 0, 60);
    t[0] = 0x500;          // c_iflag: ICRNL | IXON
    t[1] = 0x5;            // c_oflag: OPOST | ONLCR
    t[2] = 0xbf;           // c_cflag: CS8 | CREAD | B38400
    t[3] = 0x8a3b;         // c_lflag: ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
    return 0;
  }
  if (a1 == 0x5413) {   // TIOCGWINSZ
    u16* w = user_ptr<u16>(a2, 4);
    if (!w) return -EFAULT;
    w[0] = 24, w[1] = 80, w[2] = w[3] = 0;
    return 0;
  }
  if (a1 == 0x5402 || a1 == 0x5403 || a1 == 0x5404) return 0;   // TCSETS*
  return -ENOTTY;
}

SYSCALL(fcntl) {
  UNUSED_ARGS;
  File* f = vfs_file(static_cast<int>(a0));
  if (!f) return -EBADF;
  switch (a1) {
    case 0: case 1030: return vfs_dup(static_cast<int>(a0), static_cast<int>(a2), -1);   // F_DUPFD(_CLOEXEC)
    case 1: case 2: return 0;                                                         // F_GETFD/F_SETFD
    case 3: return f->flags;                                                          // F_GETFL
    case 4: f->flags = (f->flags & O_ACCMODE) | (static_cast<u32>(a2) & O_APPEND); return 0;
    default: return -EINVAL;
  }
}
SYSCALL(dup) { UNUSED_ARGS; return vfs_dup(static_cast<int>(a0), 0, -1); }
SYSCALL(dup2) { UNUSED_ARGS; return vfs_dup(static_cast<int>(a0), 0, static_cast<int>(a1)); }
SYSCALL(dup3) { UNUSED_ARGS; return a0 == a1 ? -EINVAL : vfs_dup(static_cast<int>(a0), 0, static_cast<int>(a1)); }

SYSCALL(faccessat) {
  UNUSED_ARGS;
  char abs[256];
  i64 r = path_arg(static_cast<int>(a0), a1, abs);
  if (r < 0) return r;
  KStat st;
  return stat_path(abs, &st) < 0 ? -ENOENT : 0;
}
SYSCALL(faccessat2) { return sys_faccessat(a0, a1, a2, a3, a4, a5); }
SYSCALL(access) { UNUSED_ARGS; return sys_faccessat(static_cast<u64>(AT_FDCWD), a0, a1, 0, 0, 0); }

SYSCALL(readlinkat) {
  UNUSED_ARGS;
  char abs[256];
  i64 r = path_arg(static_cast<int>(a0), a1, abs);
  if (r < 0) return r;
  if (strcmp(abs, "/proc/self/exe")) return -EINVAL;   // FAT16 has no symlinks
  const char* exe = proc_exe_path();
  u64 n = min<u64>(strlen(exe), a3);
  char* out = user_ptr<char>(a2, n);
  if (!out) return -EFAULT;
  memcpy(out, exe, n);
  return static_cast<i64>(n);
}
SYSCALL(readlink) { UNUSED_ARGS; return sys_readlinkat(static_cast<u64>(AT_FDCWD), a0, a1, a2, 0, 0); }

SYSCALL(getcwd) {
  UNUSED_ARGS;
  u64 n = strlen(vfs_cwd()) + 1;
  if (a1 < n) return -ERANGE;
  char* out = user_ptr<char>(a0, n);
  if (!out) return -EFAULT;
  memcpy(out, vfs_cwd(), n);
  return static_cast<i64>(n);
}
SYSCALL(chdir) {
  UNUSED_ARGS;
  char abs[256];
  i64 r = path_arg(AT_FDCWD, a0, abs);
  return r < 0 ? r : vfs_chdir(abs);
}

SYSCALL(fstatfs) {
  UNUSED_ARGS;
  u64* out = user_ptr<u64>(a1, 15);
  if (!out) return -EFAULT;
  memset(out, 0, 120);
  u64 total = 0, free = 0;
  if (vfs_fs()) fat16_statfs(vfs_fs(), &total, &free);
  out[0] = 0x4d44;               // MSDOS_SUPER_MAGIC
  out[1] = 4096;                 // bsize
  out[2] = total / 4096, out[3] = out[4] = free / 4096;
  out[8] = 255;                  // namelen
  out[9] = 4096;                 // frsize
  return 0;
}
SYSCALL(statfs) { UNUSED_ARGS; return sys_fstatfs(0, a1, 0, 0, 0, 0); }
SYSCALL(fadvise64) { UNUSED_ARGS; return vfs_file(static_cast<int>(a0)) ? 0 : -EBADF; }

SYSCALL(poll) {
  UNUSED_ARGS;
  struct PollFd { i32 fd; i16 events, revents; };
  PollFd* p = user_ptr<PollFd>(a0, a1);
  if (!p) return -EFAULT;
  for (u64 i = 0; i < a1; i++) p[i].revents = static_cast<i16>(vfs_file(p[i].fd) ? (p[i].events & 5) : 0x20);
  return static_cast<i64>(a1);
}
SYSCALL(pipe2) { UNUSED_ARGS; return -ENOSYS; }
SYSCALL(umask) { UNUSED_ARGS; return 022; }
SYSCALL(fchmod) { UNUSED_ARGS; return vfs_file(static_cast<int>(a0)) ? 0 : -EBADF; }
