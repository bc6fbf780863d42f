// sys_mem.cpp: memory syscalls. Anonymous memory is demand-zeroed; private file mappings
// are filled eagerly from the file (FAT16 has no page cache to share), by DMA straight
// into their frames (vfs_read_to_user), 2 MiB pages where the mapping covers them.
#include "syscall.h"
#include "uaccess.h"
#include "vfs.h"

namespace {
// Refills file pages that MADV_DONTNEED dropped (called by vm_fault, without mm_lock).
i64 refill_from_file(u32 source, void* dst, u64 offset, u64 n) {
  bool took = syscall_lock_shared();
  i64 r = vfs_read_mapped(source, dst, offset, n);
  if (took) syscall_unlock_current();
  return r;
}

constexpr u64 MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_POPULATE = 0x8000,
              MAP_FIXED_NOREPLACE = 0x100000;
}  // namespace

SYSCALL(brk) { UNUSED_ARGS; return vm_brk(a0); }

SYSCALL(mmap) {
  UNUSED_ARGS;
  u64 addr = a0, len = a1, flags = a3, off = a5;
  u32 prot = static_cast<u32>(a2) & 7;
  if (!(flags & (MAP_SHARED | MAP_PRIVATE)) || !len || (off & (PAGE - 1))) return -EINVAL;
  File* f = nullptr;
  if (!(flags & MAP_ANONYMOUS)) {
    f = vfs_file(static_cast<int>(a4));
    if (!f) return -EBADF;
    if (f->kind != FileKind::Fat) return -19;   // ENODEV
  }
  VmFile origin{f ? vfs_map_source(f) : ~0u, off};
  if (f) vm_set_page_source(refill_from_file);
  i64 r = vm_map(addr, len, prot, flags & MAP_FIXED, flags & MAP_FIXED_NOREPLACE, f ? &origin : nullptr);
  if (r < 0 || !f) return r;
  i64 e = vfs_read_to_user(f, static_cast<u64>(r), len, off, "mapped");   // the rest stays zero
  if (e < 0) {
    vm_unmap(static_cast<u64>(r), len);
    return e;
  }
  (void)MAP_POPULATE;
  return r;
}

SYSCALL(munmap) { UNUSED_ARGS; return vm_unmap(a0, a1); }
SYSCALL(mprotect) { UNUSED_ARGS; return vm_protect(a0, a1, static_cast<u32>(a2) & 7); }
SYSCALL(mremap) { UNUSED_ARGS; return vm_remap(a0, a1, a2, a3 & 1, a3 & 2, a4); }

SYSCALL(madvise) {
  UNUSED_ARGS;
  if (a2 == 4) return vm_discard(a0, a1);   // MADV_DONTNEED
  return 0;                                  // other advice is a hint
}
SYSCALL(mlock) { UNUSED_ARGS; return 0; }
SYSCALL(munlock) { UNUSED_ARGS; return 0; }
SYSCALL(msync) { UNUSED_ARGS; return 0; }
