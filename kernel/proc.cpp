// proc.cpp: ELF loader and the initial user stack.
#include "proc.h"
#include "mm.h"
#include "syscall.h"
#include "time.h"
#include "vfs.h"

namespace {
struct Ehdr {
  u8 ident[16];
  u16 type, machine;
  u32 version;
  u64 entry, phoff, shoff;
  u32 flags;
  u16 ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Phdr {
  u32 type, flags;
  u64 offset, vaddr, paddr, filesz, memsz, align;
};
constexpr u32 PT_LOAD = 1, PT_INTERP = 3, PT_PHDR = 6;
constexpr u64 PIE_BASE = 0x555555554000;
constexpr int MAX_PHDRS = 32;

Thread threads[MAX_CPUS * 4];

u32 seg_prot(u32 pf) { return (pf & 4 ? 1u : 0u) | (pf & 2 ? 2u : 0u) | (pf & 1 ? 4u : 0u); }

i64 read_exact(File* f, void* buf, u64 len, u64 off) {
  i64 n = vfs_read(f, buf, len, off);
  return n == static_cast<i64>(len) ? 0 : -EIO;
}

// File bytes go straight from the disk into the user's frames (no kernel copy).
i64 copy_segment(File* f, u64 dst, u64 len, u64 off) {
  return vfs_read_to_user(f, dst, len, off) == static_cast<i64>(len) ? 0 : -EIO;
}

// Validates the header; fills phdrs. Returns 0 or -errno with *why set.
i64 check_elf(File* f, Ehdr* eh, Phdr* ph, const char** why) {
  *why = "not an x86-64 ELF executable";
  if (read_exact(f, eh, sizeof *eh, 0) < 0) return -8;
  if (memcmp(eh->ident, "\177ELF", 4) || eh->ident[4] != 2 || eh->machine != 62) return -8;
  if (eh->type != 2 && eh->type != 3) return -8;
  *why = "bad program headers";
  if (eh->phentsize != sizeof(Phdr) || eh->phnum == 0 || eh->phnum > MAX_PHDRS) return -8;
  if (read_exact(f, ph, eh->phnum * sizeof(Phdr), eh->phoff) < 0) return -8;
  for (int i = 0; i < eh->phnum; i++) {
    if (ph[i].type == PT_INTERP) { *why = "dynamically linked (has PT_INTERP); build it with -static"; return -8; }
    if (ph[i].type != PT_LOAD) continue;
    if (ph[i].filesz > ph[i].memsz || ph[i].offset + ph[i].filesz > vfs_size(f) ||
        ph[i].offset + ph[i].filesz < ph[i].offset || !user_range_ok(ph[i].vaddr + (eh->type == 3 ? PIE_BASE : 0), ph[i].memsz)) {
      *why = "a PT_LOAD segment lies outside the file or the user address space";
      return -8;
    }
  }
  return 0;
}

// Maps every PT_LOAD with its final protection (a page shared by two segments gets the
// union) and DMAs the file bytes in; the rest of each segment is fresh zero pages.
i64 map_segments(File* f, const Ehdr& eh, const Phdr* ph, u64 base, u64* brk_start) {
  u64 prev_end = 0, hi = 0;
  u32 prev_prot = 0;
  for (int i = 0; i < eh.phnum; i++) {
    if (ph[i].type != PT_LOAD || !ph[i].memsz) continue;
    u64 s = align_down(base + ph[i].vaddr, PAGE), e = align_up(base + ph[i].vaddr + ph[i].memsz, PAGE);
    u32 prot = seg_prot(ph[i].flags);
    if (s < prev_end) {                       // first page already mapped by the previous segment
      vm_protect(s, PAGE, prot | prev_prot);
      s += PAGE;
    }
    if (s < e && vm_map(s, e - s, prot, true, true) < 0) return -12;
    if (copy_segment(f, base + ph[i].vaddr, ph[i].filesz, ph[i].offset) < 0) return -5;
    prev_end = max(prev_end, e), prev_prot = prot, hi = max(hi, e);
  }
  if (!hi) return -8;
  *brk_start = hi;
  return 0;
}

// Pushes strings and vectors; Linux layout: argc, argv[], 0, envp[], 0, auxv pairs, AT_NULL.
u64 build_stack(int argc, char* const argv[], int envc, char* const envp[], const Ehdr& eh, u64 phdr_addr,
                u64 entry, const char* exe) {
  static u8 img[16384];
  u64 top = USER_STACK_TOP, sp = top;
  u64 strs_at[128];
  int nstr = 0;
  auto push_bytes = [&](const void* p, u64 n) {
    sp -= n;
    memcpy(img + (sp - (top - sizeof img)), p, n);
    return sp;
  };
  u64 random_at = 0;
  u64 rnd[2] = {rdtsc() * 0x9e3779b97f4a7c15, (rdtsc() ^ 0xdeadbeefcafebabe) * 0xbf58476d1ce4e5b9};
  random_at = push_bytes(rnd, 16);
  u64 platform_at = push_bytes("x86_64", 7);
  u64 execfn_at = push_bytes(exe, strlen(exe) + 1);
  for (int i = 0; i < argc && nstr < 128; i++) strs_at[nstr++] = push_bytes(argv[i], strlen(argv[i]) + 1);
  for (int i = 0; i < envc && nstr < 128; i++) strs_at[nstr++] = push_bytes(envp[i], strlen(envp[i]) + 1);
  sp = align_down(sp, 16);
  CpuidRes c1 = cpuid(1);
  u64 aux[][2] = {{3, phdr_addr}, {4, sizeof(Phdr)}, {5, eh.phnum}, {6, PAGE}, {9, entry}, {7, 0}, {8, 0},
                  {11, 0}, {12, 0}, {13, 0}, {14, 0}, {23, 0}, {16, c1.d}, {26, 0}, {17, 100},
                  {25, random_at}, {15, platform_at}, {31, execfn_at}, {51, 4096}, {0, 0}};
  u64 words = 1 + argc + 1 + envc + 1 + 2 * (sizeof aux / sizeof aux[0]);
  if (words & 1) sp -= 8;   // keep rsp 16-byte aligned at argc
  push_bytes(aux, sizeof aux);
  u64 zero = 0;
  push_bytes(&zero, 8);
  for (int i = envc - 1; i >= 0; i--) push_bytes(&strs_at[argc + i], 8);
  push_bytes(&zero, 8);
  for (int i = argc - 1; i >= 0; i--) push_bytes(&strs_at[i], 8);
  u64 argc64 = static_cast<u64>(argc);
  push_bytes(&argc64, 8);
  vm_copy_in(sp, img + (sp - (top - sizeof img)), top - sp);
  return sp;
}
}  // namespace

i64 proc_load(const char* path, int argc, char* const argv[], int envc, char* const envp[], Regs* out,
              const char** why) {
  static Phdr ph[MAX_PHDRS];
  Ehdr eh;
  i64 fd = vfs_open(path, 0);
  if (fd < 0) {
    *why = "cannot open the program";
    return fd;
  }
  File* f = vfs_file(static_cast<int>(fd));
  i64 r = check_elf(f, &eh, ph, why);
  u64 base = eh.type == 3 ? PIE_BASE : 0, brk_start = 0, phdr_addr = 0;
  if (r == 0) {
    *why = "cannot map the program's segments";
    r = map_segments(f, eh, ph, base, &brk_start);
  }
  vfs_close(static_cast<int>(fd));
  if (r < 0) return r;
  for (int i = 0; i < eh.phnum; i++) {
    if (ph[i].type == PT_PHDR) phdr_addr = base + ph[i].vaddr;
    if (!phdr_addr && ph[i].type == PT_LOAD && ph[i].offset <= eh.phoff &&
        eh.phoff < ph[i].offset + ph[i].filesz)
      phdr_addr = base + ph[i].vaddr + (eh.phoff - ph[i].offset);
  }
  vm_set_brk_base(brk_start);
  vm_map(USER_STACK_TOP - USER_STACK_SIZE, USER_STACK_SIZE, PROT_READ | PROT_WRITE, true, false);
  if (argc + envc > 120) argc = min(argc, 100), envc = min(envc, 20);
  u64 sp = build_stack(argc, argv, envc, envp, eh, phdr_addr, base + eh.entry, path);
  proc_set_exe_path(path);
  memset(out, 0, sizeof *out);
  out->rip = base + eh.entry;
  out->cs = USER_CS;
  out->ss = USER_DS;
  out->rsp = sp;
  out->rflags = 0x202;
  Thread* t = proc_new_thread();
  this_cpu()->thread = t;
  return 0;
}

Thread* proc_current() { return this_cpu()->thread; }

Thread* proc_new_thread() {
  static Spinlock lock;
  static int next_tid = 1;
  LockGuard g(lock);
  for (auto& t : threads)
    if (!t.live) {
      memset(&t, 0, sizeof t);
      t.live = true;
      t.tid = next_tid++;
      return &t;
    }
  return nullptr;
}

int proc_live_threads() {
  int n = 0;
  for (auto& t : threads) n += t.live;
  return n;
}
