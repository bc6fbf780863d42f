// mm.h: physical frames, the kernel's direct map and the single user address space
// (VMAs with lazy zero-fill, brk, mmap/munmap/mprotect/mremap).
#pragma once
#include "rt.h"

constexpr u64 PAGE = 4096;
constexpr u64 HUGE_PAGE = 2ul << 20;   // user mappings use these where a VMA covers an aligned 2 MiB
// All physical memory, supervisor-only, NX. It sits in the lower half on purpose: under
// kvm-pvm, guest mappings in the upper half are not shadowed and every access to them is
// emulated (measured: ~17 ms to copy one 4 KiB page).
constexpr u64 DIRECT_MAP = 0x600000000000;
constexpr u64 USER_MIN = 0x200000;                // below: the kernel's 2 MiB identity page
constexpr u64 USER_MAX = DIRECT_MAP - 0x200000;     // user space ends 2 MiB below the direct map
constexpr u64 USER_STACK_TOP = USER_MAX - 0x22000;
constexpr u64 USER_STACK_SIZE = 8ul << 20;

// Device registers (mmio_map), above the direct map's reach (64 TiB of RAM).
constexpr u64 MMIO_WINDOW = 0x7f0000000000;

inline void* p2v(u64 pa) { return reinterpret_cast<void*>(pa + DIRECT_MAP); }
inline u64 v2p(const void* va) { return reinterpret_cast<u64>(va) - DIRECT_MAP; }
// Physical address of a kernel buffer a device may DMA to or from, or 0. Direct-map and
// identity-mapped (< 2 MiB) addresses are physically contiguous over their whole length;
// user addresses are not, so drivers bounce them.
inline u64 dma_address(const void* p) {
  u64 v = reinterpret_cast<u64>(p);
  if (v >= DIRECT_MAP && v < DIRECT_MAP + (1ul << 46)) return v - DIRECT_MAP;
  if (v < 0x200000) return v;
  return 0;
}

enum Prot : u32 { PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4 };

// Boot: free RAM ranges [base, end) as reported by the firmware.
struct MemRange { u64 base, end; };
// ram_pristine: nothing ran in this RAM before the kernel (QEMU -kernel), so under a
// hypervisor fresh frames are already zero and need no clearing.
void mm_init(const MemRange* ranges, int n, bool ram_pristine);
u64 frame_alloc();                  // one zeroed 4 KiB frame; panics when out of memory
u64 frame_alloc_contig(int pages);  // physically contiguous, zeroed
// 512 contiguous frames, 2 MiB-aligned, zeroed, from never-used RAM; 0 when none is
// left there (the caller then uses 4 KiB frames). Freed as 512 frames.
u64 frame_alloc_huge();
void frame_free(u64 pa);
u64 mm_free_bytes();
// Maps device registers [pa, pa + len) uncached (PCD|PWT: the direct map is write-back,
// and BARs above 4 GiB may lie beyond it) in the MMIO window; returns their address.
volatile void* mmio_map(u64 pa, u64 len);
u64 mm_total_bytes();

// User address space. All functions take the mm lock. Return values < 0 are -errno.
// A private file mapping's origin: `source` names the file for the page source (or is
// ~0u: none), `offset` is the file offset of the mapping's first byte.
struct VmFile { u32 source; u64 offset; };
// Reads n bytes at file offset `offset` of file `source` into kernel memory at dst
// (bytes past the end of the file stay as they are); 0 or -errno. vfs registers it.
using PageSource = i64 (*)(u32 source, void* dst, u64 offset, u64 n);
void vm_set_page_source(PageSource fn);
i64 vm_map(u64 addr, u64 len, u32 prot, bool fixed, bool noreplace, const VmFile* file = nullptr);
i64 vm_unmap(u64 addr, u64 len);
i64 vm_protect(u64 addr, u64 len, u32 prot);
i64 vm_remap(u64 old, u64 old_len, u64 new_len, bool may_move, bool fixed, u64 new_addr);
i64 vm_brk(u64 addr);
void vm_set_brk_base(u64 base);
bool vm_fault(u64 addr, u64 err);   // demand-zero a page; false = a real fault
// Copy into user memory through the direct map (ignores page protections, e.g. for
// loading text or file-backed mappings). The range must lie in mapped VMAs.
bool vm_copy_in(u64 uaddr, const void* src, u64 len);
// Fill user memory page by page through the direct map: fill(ctx, kernel_dst, offset, n)
// writes n bytes (the device can DMA straight into kernel_dst; n is up to 16 MiB, the
// physically contiguous run). Returns 0 or fill's error.
using FillFn = i64 (*)(void* ctx, void* dst, u64 offset, u64 n);
i64 vm_fill(u64 uaddr, u64 len, FillFn fill, void* ctx);
// True if every page of [addr, addr + len) lies in a VMA whose protection has all of `prot`.
bool vm_range_allows(u64 addr, u64 len, u32 prot);
// Check that [p, p+len) is a user range (no overflow, below USER_MAX).
inline bool user_range_ok(u64 p, u64 len) { return p >= USER_MIN && len <= USER_MAX && p <= USER_MAX - len; }
// MADV_DONTNEED: drop pages. Anonymous ones read back as zero, file ones as the file's
// contents (read again from the file), except in a mapping without a page source: those stay.
i64 vm_discard(u64 addr, u64 len);
