// vfs.h: file descriptors over the FAT16 volume (mounted at /), the serial console and
// a few synthetic files (/dev/null, /dev/zero, /dev/urandom, /sys/.../cpu/online, ...).
#pragma once
#include "rt.h"
#include "fat16/fat16.h"

enum class FileKind : u8 { Console, Fat, Dir, Mem, Null, Zero, Random };

struct File {
  FileKind kind;
  u8 console;            // Console: 0 stdin, 1 stdout, 2 stderr
  u16 refs;
  u32 flags;             // open flags (O_APPEND, O_ACCMODE ...)
  u64 off;
  Fat16File fat;         // Fat, Dir
  u32 dirpos, dots;      // Dir: fat16_readdir cookie; "." and ".." emitted so far
  const char* mem;       // Mem: contents
  u64 mem_len;
  char path[256];        // absolute path (for *at() relative lookups)
};

constexpr int MAX_FDS = 256;
constexpr int AT_FDCWD = -100;
enum OpenFlags : u32 {
  O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_EXCL = 0200, O_TRUNC = 01000, O_APPEND = 02000,
  O_DIRECTORY = 0200000, O_CLOEXEC = 02000000,
};

void vfs_init_console();                       // fds 0, 1, 2
int vfs_mount(const Fat16BlockDevice* dev);    // 0 or -errno (message logged)
Fat16* vfs_fs();                               // null when no volume is mounted
const char* vfs_cwd();
int vfs_chdir(const char* abs);
// Absolute, normalised path for (dirfd, path); -errno on error.
int vfs_resolve(int dirfd, const char* path, char out[256]);
i64 vfs_open(const char* abs, u32 flags);      // fd or -errno
File* vfs_file(int fd);                        // null if fd is not open
i64 vfs_close(int fd);
i64 vfs_dup(int fd, int min_fd, int exact);    // exact >= 0: dup2 semantics
i64 vfs_read(File* f, void* buf, u64 len, u64 off);
i64 vfs_write(File* f, const void* buf, u64 len, u64 off);
u64 vfs_size(File* f);
// The page source (mm.h) for a private mapping of FAT file f: ~0u when the table of
// mapped files (one slot per file, for the boot's lifetime) is full.
u32 vfs_map_source(const File* f);
// A page source (mm.h) over those files; the caller holds the big syscall lock.
i64 vfs_read_mapped(u32 source, void* dst, u64 offset, u64 n);
// Reads file bytes [off, off + len) of a FAT file into user memory at uaddr (which must
// lie in mapped VMAs; frames are allocated as needed) through the frames backing it, so
// the disk DMAs each contiguous extent straight into them in large requests. Returns
// the bytes read (short at end of file) or -errno. With `verb` ("mapped", "read"), a
// load of 16 MiB or more logs its throughput.
i64 vfs_read_to_user(File* f, u64 uaddr, u64 len, u64 off, const char* verb = nullptr);
// Read a whole small file into a kernel buffer (boot.cfg). Returns bytes or -errno.
i64 vfs_read_file(const char* abs, char* buf, u64 cap);
