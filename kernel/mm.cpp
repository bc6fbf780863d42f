// mm.cpp: frame allocator, page tables and user VMAs.
#include "mm.h"
#include "cpu.h"
#include "smp.h"

namespace {
constexpr u64 PTE_P = 1, PTE_W = 2, PTE_U = 4, PTE_PWT = 8, PTE_PCD = 0x10, PTE_PS = 0x80, PTE_G = 0x100, PTE_NX = 1ul << 63;
constexpr u64 PTE_ADDR = 0x000ffffffffff000;
constexpr u64 PTE_HIDDEN = 0x200;   // software bit: frame kept, page not present (PROT_NONE)

// ---- frames: a free list of returned frames, then bump allocation through RAM ranges.
MemRange ranges[32];
int nranges, cur_range;
u64 bump, free_list, free_count, total_bytes;
bool fresh_ram_is_zero;   // never-used frames read as zero: see frame_alloc
Spinlock frame_lock;

u64 bump_alloc(int pages) {
  while (cur_range < nranges) {
    MemRange& r = ranges[cur_range];
    u64 p = max(bump, r.base);
    if (p + pages * PAGE <= r.end) {
      bump = p + pages * PAGE;
      return p;
    }
    cur_range++;
  }
  panic("out of physical memory");
}

// Gives back frames [from, to) of never-used RAM that an aligned allocation skipped.
void free_range_locked(u64 from, u64 to) {
  for (u64 pa = to; pa > from;) {   // highest first, as free_huge_frames
    pa -= PAGE;
    *static_cast<u64*>(p2v(pa)) = free_list;
    free_list = pa;
    free_count++;
  }
}

void invlpg(u64 va);

// ---- page tables
u64* pml4;
Spinlock mm_lock;

u64* table_at(u64 entry) { return static_cast<u64*>(p2v(entry & PTE_ADDR)); }

// A present user 2 MiB page (PS in a page-directory entry). The kernel's own large
// pages (PD0[0], the direct map) are supervisor pages and never match.
bool is_huge(u64 pde) { return (pde & (PTE_P | PTE_PS | PTE_U)) == (PTE_P | PTE_PS | PTE_U); }

// The page-directory entry (2 MiB level) for va, creating the tables above it when
// create is set.
u64* pde_walk(u64 va, bool create) {
  u64* t = pml4;
  for (int shift = 39; shift > 21; shift -= 9) {
    u64& e = t[(va >> shift) & 511];
    if (!(e & PTE_P)) {
      if (!create) return nullptr;
      e = frame_alloc() | PTE_P | PTE_W | PTE_U;
    }
    if (e & PTE_PS) return nullptr;   // 1 GiB pages are the direct map's only
    t = table_at(e);
  }
  return &t[(va >> 21) & 511];
}

// Turns a user 2 MiB page into a table of 512 4 KiB pages over the same frames with
// the same bits, so that part of it can be unmapped, protected or moved. The
// translations do not change, so a stale 2 MiB TLB entry elsewhere is harmless until
// the caller's own change, which flushes.
void split_huge(u64& pde, u64 va) {
  u64 table = frame_alloc(), base = pde & PTE_ADDR & ~(HUGE_PAGE - 1);
  u64 bits = (pde & (PTE_NX | 0xfff)) & ~PTE_PS;
  u64* t = static_cast<u64*>(p2v(table));
  for (u64 i = 0; i < 512; i++) t[i] = (base + i * PAGE) | bits;
  pde = table | PTE_P | PTE_W | PTE_U;
  invlpg(align_down(va, HUGE_PAGE));
}

// Returns the level-1 PTE for va, creating tables when create is set. A user 2 MiB
// page on the way is split: the caller is about to look at or change one 4 KiB page.
u64* pte_walk(u64 va, bool create) {
  u64* pde = pde_walk(va, create);
  if (!pde) return nullptr;
  if (!(*pde & PTE_P)) {
    if (!create) return nullptr;
    *pde = frame_alloc() | PTE_P | PTE_W | PTE_U;
  }
  if (*pde & PTE_PS) {
    if (!(*pde & PTE_U)) return nullptr;   // the kernel's identity page
    split_huge(*pde, va);
  }
  return &table_at(*pde)[(va >> 12) & 511];
}

void invlpg(u64 va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }

u64 prot_bits(u32 prot) {
  if (!prot) return 0;
  u64 b = PTE_P | PTE_U;
  if (prot & PROT_WRITE) b |= PTE_W;
  if (!(prot & PROT_EXEC)) b |= PTE_NX;
  return b;
}


// ---- VMAs: sorted, non-overlapping [start, end) with one protection each.
// `file`: a private file mapping, filled from the file when mapped. With a page source
// (src != NO_SOURCE) its pages can be dropped (MADV_DONTNEED) and are read again from
// file offset src_off + (va - start) when touched; without one, dropping them would lose
// the contents, so they stay.
constexpr u32 NO_SOURCE = ~0u;
struct Vma {
  u64 start, end;
  u32 prot;
  bool file;
  u32 src;
  u64 src_off;
  u64 file_offset(u64 va) const { return src_off + (va - start); }
};
PageSource page_source;
constexpr int MAX_VMAS = 2048;
Vma vmas[MAX_VMAS];
int nvmas;
u64 mmap_top = 0x5f0000000000;   // next top-down mmap placement
u64 brk_base, brk_cur;

int vma_index_after(u64 addr) {   // first vma with end > addr
  int i = 0;
  while (i < nvmas && vmas[i].end <= addr) i++;
  return i;
}

bool vma_overlaps(u64 s, u64 e) {
  int i = vma_index_after(s);
  return i < nvmas && vmas[i].start < e;
}

void vma_insert_at(int i, Vma v) {
  if (nvmas == MAX_VMAS) panic("too many memory mappings");
  memmove(&vmas[i + 1], &vmas[i], (nvmas - i) * sizeof(Vma));
  vmas[i] = v;
  nvmas++;
}

void vma_erase(int i) {
  memmove(&vmas[i], &vmas[i + 1], (nvmas - i - 1) * sizeof(Vma));
  nvmas--;
}

// Make s and e VMA boundaries (split any VMA straddling them).
void vma_split_at(u64 a) {
  for (int i = 0; i < nvmas; i++) {
    if (vmas[i].start < a && a < vmas[i].end) {
      Vma hi = vmas[i];
      hi.start = a;
      hi.src_off = vmas[i].file_offset(a);
      vmas[i].end = a;
      vma_insert_at(i + 1, hi);
      return;
    }
  }
}

Vma* vma_find(u64 addr) {
  int i = vma_index_after(addr);
  return i < nvmas && vmas[i].start <= addr ? &vmas[i] : nullptr;
}

// The user 2 MiB page that [va, e) covers whole, starting at va, or null.
u64* whole_huge_page(u64 va, u64 e) {
  if (va & (HUGE_PAGE - 1) || e - va < HUGE_PAGE) return nullptr;
  u64* pde = pde_walk(va, false);
  return pde && is_huge(*pde) ? pde : nullptr;
}

// Highest first: the free list then hands the frames out in ascending order, so pages
// faulted in one after the other are physically contiguous again (long DMA runs).
void free_huge_frames(u64 pde) {
  u64 base = pde & PTE_ADDR & ~(HUGE_PAGE - 1);
  for (u64 i = 512; i--;) frame_free(base + i * PAGE);
}

// Unmaps the pages in [s, e) and frees their frames, in batches: the other CPUs flush
// their TLBs before a batch of frames can be reused. A 2 MiB page the range covers
// whole goes at once; one it covers in part is split first (pte_walk).
void unmap_pages(u64 s, u64 e) {
  u64 batch[256];
  int n = 0;
  auto flush = [&] {
    smp_tlb_shootdown();
    while (n) frame_free(batch[--n]);
  };
  for (u64 va = s; va < e;) {
    if (u64* pde = whole_huge_page(va, e)) {
      u64 old = *pde;
      *pde = 0;
      invlpg(va);
      flush();
      free_huge_frames(old);
      va += HUGE_PAGE;
      continue;
    }
    u64* pte = pte_walk(va, false);
    if (pte && (*pte & (PTE_P | PTE_HIDDEN))) {
      batch[n++] = *pte & PTE_ADDR;
      *pte = 0;
      invlpg(va);
    }
    va += PAGE;
    if (n == 256) flush();
  }
  if (n) flush();
}

void remove_range(u64 s, u64 e) {
  vma_split_at(s);
  vma_split_at(e);
  for (int i = 0; i < nvmas;) {
    if (vmas[i].start >= s && vmas[i].end <= e) vma_erase(i);
    else i++;
  }
  unmap_pages(s, e);
}

void add_vma(u64 s, u64 e, u32 prot, const VmFile* file = nullptr) {
  Vma v{s, e, prot, file != nullptr, file ? file->source : NO_SOURCE, file ? file->offset : 0};
  vma_insert_at(vma_index_after(s), v);
}

// Top-down; mappings of 2 MiB or more start on a 2 MiB boundary so they can use 2 MiB pages.
u64 pick_address(u64 len) {
  mmap_top = align_down(mmap_top - len, len >= HUGE_PAGE ? HUGE_PAGE : PAGE);
  return mmap_top;
}

// Backs the 2 MiB at va (aligned) with one 2 MiB page when the VMA covers all of it and
// nothing there is mapped yet (no page table). Returns its first frame, or 0.
u64 map_huge(u64 va, const Vma* v) {
  if (va & (HUGE_PAGE - 1) || va < v->start || v->end - va < HUGE_PAGE || !v->prot) return 0;
  u64* pde = pde_walk(va, true);
  if (*pde & PTE_P) return 0;
  u64 pa = frame_alloc_huge();
  if (pa) *pde = pa | prot_bits(v->prot) | PTE_PS;
  return pa;
}
}  // namespace

// ---- frames ----------------------------------------------------------------

// Fresh RAM is all zeros under QEMU/KVM when QEMU loaded the kernel itself (-kernel), so
// frames that were never handed out are not cleared there: under kvm-pvm every kernel
// store is emulated (~10k cycles), and clearing a page costs milliseconds. Reused frames,
// all frames on bare metal and all frames after GRUB or UEFI firmware (they leave data in
// RAM they report as available) are cleared.
u64 frame_alloc() {
  u64 pa;
  bool fresh = false;
  {
    LockGuard g(frame_lock);
    if (free_list) {
      pa = free_list;
      free_list = *static_cast<u64*>(p2v(pa));
      free_count--;
    } else {
      pa = bump_alloc(1);
      fresh = fresh_ram_is_zero;
    }
  }
  if (!fresh) memset(p2v(pa), 0, PAGE);
  return pa;
}

u64 frame_alloc_contig(int pages) {
  u64 pa;
  {
    LockGuard g(frame_lock);
    pa = bump_alloc(pages);
  }
  if (!fresh_ram_is_zero) memset(p2v(pa), 0, pages * PAGE);
  return pa;
}

// The frames skipped to align it, or the tail of a RAM range too short for one, join
// the free list.
u64 frame_alloc_huge() {
  u64 pa = 0;
  {
    LockGuard g(frame_lock);
    while (!pa && cur_range < nranges) {
      MemRange& r = ranges[cur_range];
      u64 from = max(bump, r.base), at = align_up(from, HUGE_PAGE);
      if (at + HUGE_PAGE <= r.end) {
        free_range_locked(from, at);
        bump = at + HUGE_PAGE;
        pa = at;
      } else {
        free_range_locked(from, r.end);
        bump = r.end;
        cur_range++;
      }
    }
  }
  if (pa && !fresh_ram_is_zero) memset(p2v(pa), 0, HUGE_PAGE);
  return pa;
}

void frame_free(u64 pa) {
  LockGuard g(frame_lock);
  *static_cast<u64*>(p2v(pa)) = free_list;
  free_list = pa;
  free_count++;
}

u64 mm_total_bytes() { return total_bytes; }

u64 mm_free_bytes() {
  LockGuard g(frame_lock);
  u64 n = free_count * PAGE;
  for (int i = cur_range; i < nranges; i++) n += ranges[i].end - max(bump, ranges[i].base);
  return n;
}

// Builds the final tables: PML4[0] holds the kernel's 2 MiB identity page (supervisor)
// and, later, user mappings; PML4[192..] (DIRECT_MAP) maps all physical memory (at least 4 GiB, so
// MMIO such as the local APIC is reachable) with 1 GiB or 2 MiB pages.
void mm_init(const MemRange* in, int n, bool ram_pristine) {
  fresh_ram_is_zero = ram_pristine && (cpuid(1).c & (1u << 31));
  for (int i = 0; i < n && nranges < 32; i++) {
    u64 b = align_up(max(in[i].base, u64(0x200000)), PAGE), e = align_down(in[i].end, PAGE);
    if (e > b) ranges[nranges++] = MemRange{b, e};
    if (e > b) total_bytes += e - b;
  }
  u64 top = 4ul << 30;
  for (int i = 0; i < nranges; i++) top = max(top, ranges[i].end);
  pml4 = static_cast<u64*>(p2v(frame_alloc()));
  bool gb_pages = cpuid(0x80000001).d & (1u << 26);
  u64 gbs = align_up(top, 1ul << 30) >> 30;
  for (u64 g = 0; g < gbs; g++) {
    u64& l4 = pml4[DIRECT_MAP / (512ul << 30) + g / 512];
    if (!l4) l4 = frame_alloc() | PTE_P | PTE_W;
    u64* pdpt = table_at(l4);
    if (gb_pages) {
      pdpt[g % 512] = (g << 30) | PTE_P | PTE_W | PTE_PS | PTE_NX;
      continue;
    }
    u64 pd = frame_alloc();
    u64* pdv = static_cast<u64*>(p2v(pd));
    for (u64 j = 0; j < 512; j++) pdv[j] = ((g << 30) + (j << 21)) | PTE_P | PTE_W | PTE_PS | PTE_NX;
    pdpt[g % 512] = pd | PTE_P | PTE_W;
  }
  u64* pdpt0 = static_cast<u64*>(p2v(frame_alloc()));
  u64* pd0 = static_cast<u64*>(p2v(frame_alloc()));
  pml4[0] = v2p(pdpt0) | PTE_P | PTE_W | PTE_U;
  pdpt0[0] = v2p(pd0) | PTE_P | PTE_W | PTE_U;
  pd0[0] = 0 | PTE_P | PTE_W | PTE_PS;   // kernel identity page: supervisor, executable
  write_cr3(v2p(pml4));
}

u64 mm_pml4_phys() { return v2p(pml4); }

volatile void* mmio_map(u64 pa, u64 len) {
  static u64 next = MMIO_WINDOW;   // bump: devices are mapped once, at boot
  LockGuard g(mm_lock);
  u64 first = align_down(pa, PAGE), va = next;
  for (u64 p = first; p < pa + len; p += PAGE, next += PAGE)
    *pte_walk(next, true) = p | PTE_P | PTE_W | PTE_PCD | PTE_PWT | PTE_NX;
  return reinterpret_cast<volatile void*>(va + (pa - first));
}

// ---- user address space ------------------------------------------------------

void vm_set_page_source(PageSource fn) { page_source = fn; }

i64 vm_map(u64 addr, u64 len, u32 prot, bool fixed, bool noreplace, const VmFile* file) {
  if (!len) return -22;
  len = align_up(len, PAGE);
  LockGuard g(mm_lock);
  if (fixed || noreplace) {
    if (addr & (PAGE - 1) || !user_range_ok(addr, len)) return -22;
    if (vma_overlaps(addr, addr + len)) {
      if (noreplace) return -17;   // EEXIST
      remove_range(addr, addr + len);
    }
  } else if (!(addr && !(addr & (PAGE - 1)) && user_range_ok(addr, len) && !vma_overlaps(addr, addr + len))) {
    addr = pick_address(len);
  }
  add_vma(addr, addr + len, prot, file);
  return static_cast<i64>(addr);
}

i64 vm_unmap(u64 addr, u64 len) {
  if (addr & (PAGE - 1) || !len) return -22;
  len = align_up(len, PAGE);
  if (!user_range_ok(addr, len)) return -22;
  LockGuard g(mm_lock);
  remove_range(addr, addr + len);
  return 0;
}

i64 vm_protect(u64 addr, u64 len, u32 prot) {
  if (addr & (PAGE - 1)) return -22;
  len = align_up(len, PAGE);
  if (!user_range_ok(addr, len)) return -12;
  LockGuard g(mm_lock);
  u64 e = addr + len;
  for (u64 a = addr; a < e;) {   // every page must be mapped (Linux: ENOMEM)
    Vma* v = vma_find(a);
    if (!v) return -12;
    a = v->end;
  }
  vma_split_at(addr);
  vma_split_at(e);
  for (int i = 0; i < nvmas; i++)
    if (vmas[i].start >= addr && vmas[i].end <= e) vmas[i].prot = prot;
  for (u64 va = addr; va < e; va += PAGE) {
    u64* pde = whole_huge_page(va, e);
    if (pde && prot) {   // PROT_NONE splits it below: hidden pages are 4 KiB
      *pde = (*pde & PTE_ADDR) | prot_bits(prot) | PTE_PS;
      invlpg(va);
      va += HUGE_PAGE - PAGE;
      continue;
    }
    u64* pte = pte_walk(va, false);
    if (!pte || !(*pte & (PTE_P | PTE_HIDDEN))) continue;
    // PROT_NONE keeps the frame but hides it (software bit), so contents survive.
    *pte = (*pte & PTE_ADDR) | (prot ? prot_bits(prot) : PTE_HIDDEN);
    invlpg(va);
  }
  smp_tlb_shootdown();
  return 0;
}

i64 vm_remap(u64 old, u64 old_len, u64 new_len, bool may_move, bool fixed, u64 new_addr) {
  if (old & (PAGE - 1) || !new_len) return -22;
  old_len = align_up(old_len, PAGE);
  new_len = align_up(new_len, PAGE);
  if (!user_range_ok(old, old_len)) return -22;
  LockGuard g(mm_lock);
  Vma* v = vma_find(old);
  if (!v || v->end < old + old_len) return -14;   // EFAULT
  u32 prot = v->prot;
  VmFile origin{v->src, v->file_offset(old)};   // a moved file mapping keeps its page source
  bool file = v->file;
  if (!fixed && new_len <= old_len) {
    remove_range(old + new_len, old + old_len);
    return static_cast<i64>(old);
  }
  if (!fixed && !vma_overlaps(old + old_len, old + new_len) && user_range_ok(old, new_len)) {
    vma_split_at(old);
    add_vma(old + old_len, old + new_len, prot);   // grow in place
    return static_cast<i64>(old);
  }
  if (!may_move) return -12;
  u64 dst = fixed ? new_addr : pick_address(new_len);
  if (fixed) {
    if (dst & (PAGE - 1) || !user_range_ok(dst, new_len)) return -22;
    remove_range(dst, dst + new_len);
  }
  for (u64 off = 0; off < min(old_len, new_len); off += PAGE) {   // move frames, not bytes
    u64* src = pte_walk(old + off, false);
    if (!src || !(*src & (PTE_P | PTE_HIDDEN))) continue;
    *pte_walk(dst + off, true) = *src;
    *src = 0;
    invlpg(old + off);
  }
  smp_tlb_shootdown();
  remove_range(old, old + old_len);
  add_vma(dst, dst + new_len, prot, file ? &origin : nullptr);
  return static_cast<i64>(dst);
}

void vm_set_brk_base(u64 base) { brk_base = brk_cur = align_up(base, PAGE); }

i64 vm_brk(u64 addr) {
  u64 want = align_up(addr, PAGE);
  if (addr < brk_base || !user_range_ok(brk_base, want - brk_base)) return static_cast<i64>(brk_cur);
  LockGuard g(mm_lock);
  if (want > brk_cur) {
    if (vma_overlaps(brk_cur, want)) return static_cast<i64>(brk_cur);
    add_vma(brk_cur, want, PROT_READ | PROT_WRITE);
  } else if (want < brk_cur) {
    remove_range(want, brk_cur);
  }
  brk_cur = want;
  return static_cast<i64>(addr);
}

// Also fills the next few absent pages of the same VMA (same page table), so a program
// streaming through fresh memory takes 1/FAULT_AROUND of the faults. Each fault is costly
// where ring 0 is interpreted (kvm-pvm).
constexpr int FAULT_AROUND = 16;
void fault_around(u64 va, const Vma* v) {
  u64* pte = pte_walk(va, false);
  for (int i = 1; i < FAULT_AROUND; i++) {
    u64 next = va + i * PAGE;
    if (next >= v->end || ((next >> 21) != (va >> 21))) break;   // stay in this VMA and table
    if (pte[i] & (PTE_P | PTE_HIDDEN)) break;
    pte[i] = frame_alloc() | prot_bits(v->prot);
  }
}

// A present entry (4 KiB or 2 MiB) that allows the faulting access: another CPU just
// filled it. Otherwise the fault is a real violation.
bool access_ok(u64 entry, u64 err) {
  bool write_ok = !(err & 2) || (entry & PTE_W);
  bool exec_ok = !(err & 16) || !(entry & PTE_NX);
  return write_ok && exec_ok && (entry & PTE_U);
}

// Anonymous mappings at least this big get 2 MiB pages on their first touch (big
// buffers, not thread stacks: those are 8 MiB).
constexpr u64 HUGE_ANON_MIN = 16ul << 20;

// Reads a file page that MADV_DONTNEED dropped again. Called without mm_lock: the page
// source takes the file system's (the big syscall) lock, and syscalls take mm_lock
// under that one.
bool refill_page(u64 va, u32 source, u64 offset) {
  u64 pa = frame_alloc();
  i64 r = page_source(source, p2v(pa), offset, PAGE);
  LockGuard g(mm_lock);
  Vma* v = vma_find(va);
  u64* pte = r >= 0 && v ? pte_walk(va, true) : nullptr;
  if (!pte || (*pte & (PTE_P | PTE_HIDDEN))) {   // failed, unmapped, or filled meanwhile:
    frame_free(pa);                              //   the retried access decides
    return pte != nullptr;
  }
  *pte = pa | prot_bits(v->prot);
  return true;
}

bool vm_fault(u64 addr, u64 err) {
  if (addr >= USER_MAX || addr < USER_MIN) return false;
  u64 va = align_down(addr, PAGE), offset;
  u32 source;
  {
    LockGuard g(mm_lock);
    Vma* v = vma_find(addr);
    if (!v) return false;
    u64* pde = pde_walk(va, true);
    if (is_huge(*pde)) return access_ok(*pde, err);
    if (!v->prot) return false;
    if ((err & 2) && !(v->prot & PROT_WRITE)) return false;
    if ((err & 16) && !(v->prot & PROT_EXEC)) return false;
    if (!v->file && v->end - v->start >= HUGE_ANON_MIN && map_huge(align_down(va, HUGE_PAGE), v)) return true;
    u64* pte = pte_walk(va, true);
    if (*pte & PTE_P) return access_ok(*pte, err);
    if (*pte & PTE_HIDDEN) return false;
    if (!v->file || v->src == NO_SOURCE || !page_source) {
      *pte = frame_alloc() | prot_bits(v->prot);
      fault_around(va, v);
      return true;
    }
    source = v->src, offset = v->file_offset(va);
  }
  return refill_page(va, source, offset);
}

// The physical address backing user address va in VMA v, allocated if needed (a 2 MiB
// page when va starts an aligned 2 MiB that v covers and nothing maps yet), and in
// *span the bytes from va to the end of its page. Caller holds mm_lock.
u64 backing(u64 va, const Vma* v, u64* span) {
  u64* pde = pde_walk(va, true);
  if (!(*pde & PTE_P)) map_huge(va, v);
  if (is_huge(*pde)) {
    *span = HUGE_PAGE - (va & (HUGE_PAGE - 1));
    return (*pde & PTE_ADDR & ~(HUGE_PAGE - 1)) + (va & (HUGE_PAGE - 1));
  }
  u64* pte = pte_walk(va, true);
  if (!(*pte & (PTE_P | PTE_HIDDEN))) *pte = frame_alloc() | (v->prot ? prot_bits(v->prot) : PTE_HIDDEN);
  *span = PAGE - (va & (PAGE - 1));
  return (*pte & PTE_ADDR) + (va & (PAGE - 1));
}

// Hands fill() the longest physically contiguous run of backing frames (up to 16 MiB,
// the longest file extent), so the disk can DMA big pieces at once: 2 MiB pages, and
// fresh frames come from a bump allocator.
constexpr u64 MAX_FILL = 16ul << 20;
i64 vm_fill(u64 uaddr, u64 len, FillFn fill, void* ctx) {
  if (!user_range_ok(uaddr, len)) return -14;
  for (u64 done = 0; done < len;) {
    u64 va = uaddr + done, pa, n, span;
    {
      LockGuard g(mm_lock);
      Vma* v = vma_find(va);
      if (!v) return -14;
      pa = backing(va, v, &span);
      n = min(len - done, span);
      while (done + n < len && n < MAX_FILL && va + n < v->end) {
        if (backing(va + n, v, &span) != pa + n) break;
        n += min(len - done - n, span);
      }
    }
    i64 r = fill(ctx, p2v(pa), done, n);
    if (r < 0) return r;
    done += n;
  }
  return 0;
}

bool vm_range_allows(u64 addr, u64 len, u32 prot) {
  if (!user_range_ok(addr, len)) return false;
  LockGuard g(mm_lock);
  for (u64 a = addr, e = addr + len; a < e;) {
    Vma* v = vma_find(a);
    if (!v || (v->prot & prot) != prot) return false;
    a = v->end;
  }
  return true;
}

bool vm_copy_in(u64 uaddr, const void* src, u64 len) {
  if (!user_range_ok(uaddr, len)) return false;
  LockGuard g(mm_lock);
  auto s = static_cast<const u8*>(src);
  while (len) {
    Vma* v = vma_find(uaddr);
    if (!v) return false;
    u64 n, pa = backing(uaddr, v, &n);
    n = min(len, n);
    memcpy(p2v(pa), s, n);
    uaddr += n, s += n, len -= n;
  }
  return true;
}

i64 vm_discard(u64 addr, u64 len) {
  if (addr & (PAGE - 1)) return -22;
  len = align_up(len, PAGE);
  if (!user_range_ok(addr, len)) return -22;
  LockGuard g(mm_lock);
  // Anonymous pages read back as zeros (Linux's rule); file pages are read again from
  // the file when touched (vm_fault), or stay if their mapping has no page source.
  const u64 e = addr + len;
  for (int i = 0; i < nvmas; i++) {
    if ((vmas[i].file && vmas[i].src == NO_SOURCE) || vmas[i].end <= addr || vmas[i].start >= e) continue;
    unmap_pages(max(addr, vmas[i].start), min(e, vmas[i].end));
  }
  return 0;
}
