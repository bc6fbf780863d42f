// fat16.h - the one public header of BareFlow's FAT16 file system library.
//
// Used by the BareFlow kernel (freestanding: no libc, no allocation, no globals)
// and by host tests/fuzzers. All state lives in a `Fat16` struct the caller owns;
// open files are plain `Fat16File` values the caller stores (e.g. one per fd).
//
// Conventions
// - Sectors are 512 bytes. The block device is reached only through the three
//   callbacks in Fat16BlockDevice; each returns 0 on success, negative on error.
// - Paths are absolute or relative to the root, '/'-separated, case-insensitive
//   (FAT semantics). "." and ".." components are accepted. Empty components
//   ("//") are skipped. A path of "" or "/" names the root directory.
// - Every function returns 0 (or a byte count) on success and a negative Linux
//   errno value on failure (FAT16_ENOENT == -ENOENT == -2, ...), so the kernel
//   can return it from a syscall unchanged. fat16_strerror() names it.
//   A corrupted file system gives FAT16_EUCLEAN (-117, "structure needs
//   cleaning") or FAT16_EIO, with a human readable reason in fs->error.
// - Names: long file names (VFAT LFN) are read and written. A valid 8.3 name
//   in one case per part ("BOOT.CFG", "boot.cfg") is stored as a plain short
//   entry (lower case via the NT case flags, as Windows and mtools do); any
//   other name gets LFN entries plus a generated short alias ("NAME~1.EXT").
//   Names are UTF-8 (stored as UTF-16 in the LFN entries, non-ASCII names
//   always get a long name). Names longer than 255 bytes -> FAT16_ENAMETOOLONG;
//   invalid UTF-8, '\\' ':' '*' '?' '"' '<' '>' '|' and control characters
//   -> FAT16_EINVAL. A long name whose UTF-8 form exceeds 255 bytes (possible
//   for names made elsewhere) is listed truncated by readdir.
// - File sizes are limited to 0xFFFFFFFF bytes (FAT16_EFBIG beyond).
//
// Crash safety (see the comment at the top of fat16_internal.h for the scheme): the
// library writes through (its sector cache is a read cache; FAT changes are
// staged only within one call) and orders its writes, with dev->flush as a
// barrier, so that after a power cut at ANY sector-write boundary:
//   * every file and directory is intact (each operation's old or new state,
//     see fat16_internal.h; bytes written since the last fsync may read as garbage,
//     as POSIX allows), and fsck.fat -n reports at most leaked space ("Reclaimed N
//     unused clusters", or an over-long chain on the file being grown) -
//     never a damaged file, a cross-link or a chain into free clusters;
//   * the volume is marked dirty from the first write until the next
//     fat16_sync/fsync, and the next fat16_mount of a dirty volume repairs
//     those leaks (see fat16_mount), so power cut + mount + sync leaves a
//     volume that fsck.fat -n calls clean;
//   * a rename onto an existing file switches the target from the old to the
//     new contents in one sector write, so write-temp / fsync / rename gives
//     "old or new" state.
// Leaks are unavoidable on FAT: giving clusters to a file needs a FAT write
// and a directory-entry write (two sectors). Volumes should have ONE FAT
// (scripts/mkimage.sh does this): with two, fsck.fat also reports the copies
// differing between the two FAT writes. One exception: moving a DIRECTORY to
// another parent rewrites its '..' entry in a separate write, and a cut in
// between leaves a '..' that fsck corrects. fat16_fsync()/fat16_sync() flush
// the device cache.
//
// Handles: a Fat16File remembers where its directory entry lives and re-reads
// that entry on every read/write/truncate, so several handles on one file stay
// coherent, and a handle on a file that a rename replaced sees the new file.
// If the entry was deleted or renamed away, the handle gets FAT16_ESTALE
// (never a read of freed clusters, never a write into someone else's entry).
#pragma once

#include <stddef.h>
#include <stdint.h>

// ---- error codes: negative Linux errno values ------------------------------
enum : int {
  FAT16_OK = 0,
  FAT16_EPERM = -1,
  FAT16_ENOENT = -2,
  FAT16_EIO = -5,
  FAT16_EBADF = -9,
  FAT16_EBUSY = -16,          // e.g. removing or renaming the root
  FAT16_EEXIST = -17,
  FAT16_ENOTDIR = -20,
  FAT16_EISDIR = -21,
  FAT16_EINVAL = -22,
  FAT16_EFBIG = -27,
  FAT16_ENOSPC = -28,
  FAT16_ENAMETOOLONG = -36,
  FAT16_ENOTEMPTY = -39,
  FAT16_ESTALE = -116,
  FAT16_EUCLEAN = -117,       // corrupted file system; see fs->error
};

// ---- open flags: same bit values as Linux open(2), other bits are ignored --
enum : uint32_t {
  FAT16_O_CREAT = 0100,
  FAT16_O_EXCL = 0200,
  FAT16_O_TRUNC = 01000,
  FAT16_O_DIRECTORY = 0200000,
};

enum : uint32_t {
  FAT16_SECTOR_SIZE = 512,
  FAT16_CACHE_SECTORS = 8,    // fixed read cache inside Fat16
  FAT16_NAME_MAX = 255,       // bytes of a name, without the terminating 0
};

// A 512-byte-sector block device. `read`/`write` move `count` whole sectors
// starting at `lba` (absolute on the device). `flush` makes all completed
// writes durable (virtio-blk FLUSH); it may be null if writes are durable on
// completion. `sector_count` is the device size, 0 if unknown (then only the
// partition table / BPB bound the volume).
struct Fat16BlockDevice {
  void* ctx;
  int (*read)(void* ctx, uint64_t lba, uint32_t count, void* buf);
  int (*write)(void* ctx, uint64_t lba, uint32_t count, const void* buf);
  int (*flush)(void* ctx);
  uint64_t sector_count;
  // Optional wall clock for timestamps, seconds since 1970 (UTC). Null: files
  // get a fixed timestamp (2026-01-01 00:00).
  int64_t (*now)(void* ctx);
};

// One cached sector. Internal, but visible so Fat16 can be a plain value.
struct Fat16CacheSlot {
  uint64_t lba;      // absolute device LBA; valid only if `valid`
  uint32_t stamp;    // LRU stamp
  uint8_t valid;
  uint8_t dirty;     // FAT sector changed in cache, not yet written
  uint8_t data[FAT16_SECTOR_SIZE];
};

// What the mount-time repair pass did (see fat16_mount). Plain data.
struct Fat16Repair {
  uint8_t ran;               // the volume was marked dirty at mount, so the repair pass ran
  uint8_t skipped;           // it found damage it does not fix (cross-link, broken directory
                             //   chain, ...) and wrote nothing, or a device error stopped it;
                             //   the volume stays marked dirty
  uint32_t lost_clusters;    // allocated clusters no entry reached, freed
  uint32_t trimmed_chains;   // file chains cut to the length the file size needs
  uint32_t trimmed_clusters; // clusters freed from those tails (not in lost_clusters)
  uint32_t fat_sectors_synced;   // sectors of FAT copy 2 rewritten to equal copy 1
  uint32_t left_alone;       // findings not fixed (file chain shorter than its size, ...)
  char text[120];            // one line for the log, e.g. "repaired: reclaimed 3 lost
                             //   clusters, trimmed 1 chain"; "" if the repair did not run
};

enum : uint32_t {
  FAT16_REPAIR_MAP_BYTES = (65525 + 2 + 7) / 8,   // one bit per FAT16 cluster number
};

// The mounted volume. Treat as opaque; fill it with fat16_mount().
struct Fat16 {
  const Fat16BlockDevice* dev;
  uint64_t part_lba;         // first sector of the volume on the device
  uint32_t total_sectors;    // sectors in the volume
  uint32_t fat_lba;          // first FAT, relative to part_lba
  uint32_t fat_sectors;      // sectors per FAT
  uint32_t root_lba;         // root directory, relative to part_lba
  uint32_t root_entries;     // slots in the fixed root directory
  uint32_t data_lba;         // cluster 2, relative to part_lba
  uint32_t cluster_count;    // data clusters; valid cluster numbers: 2..cluster_count+1
  uint32_t sectors_per_cluster;
  uint32_t bytes_per_cluster;
  uint8_t num_fats;
  uint8_t mounted;
  uint16_t next_free_hint;   // where the free-cluster search starts
  uint32_t stamp;            // LRU clock for the cache
  const char* error;         // static message for the last error, never null after mount
  Fat16CacheSlot cache[FAT16_CACHE_SECTORS];
  uint8_t dirty_on_disk;     // FAT[1] currently says "not cleanly unmounted"
  uint8_t stay_dirty;        // the repair was skipped: never mark the volume clean
  Fat16Repair repair;        // what fat16_mount's repair pass did
  uint8_t reach[FAT16_REPAIR_MAP_BYTES];   // repair scratch: clusters reachable from entries
};

// An open file or directory. Plain data: copy it, store it per fd.
struct Fat16File {
  uint32_t dirent_lba;       // sector holding the short entry (rel. to part); 0 = root dir
  uint16_t dirent_index;     // entry index within that sector (0..15)
  uint16_t first_cluster;    // 0 = empty file (or the root directory)
  uint32_t size;             // bytes (0 for directories)
  uint8_t is_dir;
  uint8_t short_name[11];    // to detect a stale handle
  uint16_t hint_cluster;     // cluster holding byte offset hint_index*cluster_size,
  uint32_t hint_index;       //   speeds up sequential access; 0/0 = no hint
};

struct Fat16Stat {
  uint32_t size;             // bytes; 0 for directories
  uint8_t is_dir;
  uint8_t attr;              // raw FAT attribute byte
  uint16_t first_cluster;
  uint64_t ino;              // stable while the entry is not moved: (dirent_lba<<4)|index, root = 1
  int64_t mtime;             // seconds since 1970 (FAT local time taken as UTC); 0 if unset
};

struct Fat16DirEntry {
  char name[FAT16_NAME_MAX + 1];   // long name if present, else the 8.3 name; 0-terminated
  uint8_t is_dir;
  uint32_t size;
  uint64_t ino;
};

// Mount the FAT16 volume on `dev`: the first MBR partition of type 0x04, 0x06
// or 0x0E, or, if sector 0 is itself a FAT16 boot sector, the whole device.
// Validates the BPB (signature, geometry, FAT16 cluster count, FAT media byte)
// and fails with FAT16_EUCLEAN/FAT16_EIO and a message in fs->error.
//
// Dirty flag and repair: the first write of a mount session marks the volume
// dirty (FAT[1] bit 15 = 0, FAT's own "clean shutdown" bit, flushed before any
// other write), and fat16_sync/fat16_fsync mark it clean again once everything
// is durable. If fat16_mount finds the volume dirty (FAT[1] bit 15 clear, or
// the boot sector's dirty flag set), it repairs the leaks a power cut leaves
// (see the scheme in repair.cpp): it walks every directory, cuts file chains
// longer than their size needs, frees every allocated cluster no entry
// reaches, makes FAT copy 2 equal copy 1, and marks the volume clean. A clean
// volume is mounted without any write. The outcome is in fs->repair; damage
// the repair does not understand (cross-links, broken directory chains) makes
// it write nothing (fs->repair.skipped) and the mount still succeeds.
int fat16_mount(Fat16* fs, const Fat16BlockDevice* dev);

// Flush the device cache, then mark the volume clean (one more FAT write and
// flush, only if something was written since the last sync). The Fat16 holds
// no dirty data between calls; unmounting is just this plus forgetting the
// struct. There is no close: a Fat16File can simply be dropped.
int fat16_sync(Fat16* fs);

// Open `path`. `flags`: FAT16_O_CREAT (create an empty file if missing),
// FAT16_O_EXCL (with O_CREAT: fail with EEXIST if it exists), FAT16_O_TRUNC
// (truncate a regular file to 0), FAT16_O_DIRECTORY (fail with ENOTDIR unless
// a directory). Directories open fine without O_DIRECTORY (for readdir).
int fat16_open(Fat16* fs, const char* path, uint32_t flags, Fat16File* out);

// Read up to `len` bytes at `offset`. Returns bytes read (0 at/after EOF).
// FAT16_EISDIR on a directory.
int64_t fat16_read(Fat16* fs, Fat16File* f, uint64_t offset, void* buf, size_t len);

// A run of file bytes that lie contiguously on the device: file bytes
// [offset, offset + bytes) are the bytes at (offset % 512) onwards of the device
// sectors starting at absolute LBA `lba`. Lets a caller move file data between
// the device and its own memory in large requests (e.g. DMA into the pages
// that map the file) without going through fat16_read's buffer.
struct Fat16Extent {
  uint64_t offset;
  uint64_t lba;
  uint64_t bytes;
};

// Up to `max` extents covering [offset, offset + len) clipped to the file size,
// in file order; each is as long as the cluster chain is contiguous on disk
// (at most 16 MiB, a device request). Returns the count, 0 at or after EOF, or
// a negative error (FAT16_EISDIR on a directory). Call again from the end of
// the last extent for more. The extents are valid until the file is written,
// truncated or deleted.
int fat16_extents(Fat16* fs, Fat16File* f, uint64_t offset, uint64_t len, Fat16Extent* out, uint32_t max);

// Write `len` bytes at `offset`, growing the file (a gap reads as zeros).
// Returns bytes written (== len) or a negative error; on FAT16_ENOSPC nothing
// is written. Updates the size in the directory entry before returning.
int64_t fat16_write(Fat16* fs, Fat16File* f, uint64_t offset, const void* buf, size_t len);

// Set the file size (shrink frees clusters; grow fills with zeros).
int fat16_truncate(Fat16* fs, Fat16File* f, uint64_t size);

// Make this file's data and metadata durable (flushes the device).
int fat16_fsync(Fat16* fs, Fat16File* f);

int fat16_fstat(Fat16* fs, const Fat16File* f, Fat16Stat* st);
int fat16_stat(Fat16* fs, const char* path, Fat16Stat* st);

// Create a directory (parent must exist). FAT16_EEXIST if the name exists.
int fat16_mkdir(Fat16* fs, const char* path);

// Remove a regular file (FAT16_EISDIR for a directory).
int fat16_unlink(Fat16* fs, const char* path);

// Remove an empty directory (FAT16_ENOTEMPTY otherwise, FAT16_ENOTDIR for a file).
int fat16_rmdir(Fat16* fs, const char* path);

// POSIX rename: moves `from` to `to`, atomically replacing an existing `to`
// (file over file, or directory over empty directory). Renaming within one
// directory onto an existing file is one sector write as far as the visible
// name is concerned; see fat16_internal.h for the exact guarantees.
int fat16_rename(Fat16* fs, const char* from, const char* to);

// Iterate a directory opened with fat16_open. `*pos` starts at 0 and is an
// opaque cookie (slot index) to resume from (getdents64's d_off).
// Returns 1 with *out filled, 0 at the end, or a negative error.
// "." and ".." are not returned (the kernel can synthesise them).
int fat16_readdir(Fat16* fs, Fat16File* dir, uint32_t* pos, Fat16DirEntry* out);

// Total and free space in bytes.
int fat16_statfs(Fat16* fs, uint64_t* total_bytes, uint64_t* free_bytes);

// Short English name of an error code ("no such file or directory", ...).
const char* fat16_strerror(int err);
