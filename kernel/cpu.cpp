// cpu.cpp: per-CPU descriptor tables, SYSCALL MSRs and the vector-state setup.
#include "cpu.h"
#include "mm.h"

extern "C" char trap_stubs[], syscall_entry[];

Cpu cpus[MAX_CPUS];
int ncpus = 1;

namespace {
struct IdtGate {
  u16 off0, sel;
  u8 ist, attr;
  u16 off1;
  u32 off2, zero;
} __attribute__((packed));

struct DescPtr {
  u16 limit;
  u64 base;
} __attribute__((packed));

// One GDT per CPU (each has its own TSS descriptor): null, kcode, kdata, udata, ucode, tss(2).
u64 gdts[MAX_CPUS][7] __attribute__((aligned(16)));
IdtGate idt[256] __attribute__((aligned(16)));
u8 ist_stacks[MAX_CPUS][8192] __attribute__((aligned(16)));
u64 xcr0_enabled;

constexpr u64 DESC_KCODE = 0x00af9a000000ffff, DESC_KDATA = 0x00cf92000000ffff;
constexpr u64 DESC_UDATA = 0x00cff2000000ffff, DESC_UCODE = 0x00affa000000ffff;

void set_tss_desc(u64* g, Tss* tss) {
  u64 base = reinterpret_cast<u64>(tss), limit = sizeof(Tss) - 1;
  g[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ul << 40) | (((limit >> 16) & 0xf) << 48) |
         (((base >> 24) & 0xff) << 56);
  g[1] = base >> 32;
}

void build_idt() {
  for (int v = 0; v < 256; v++) {
    u64 a = reinterpret_cast<u64>(trap_stubs) + 16 * v;
    bool ist = v == 2 || v == 8 || v == 18;   // NMI, #DF, #MC run on a known-good stack
    idt[v] = IdtGate{u16(a), KERNEL_CS, u8(ist ? 1 : 0), 0x8e, u16(a >> 16), u32(a >> 32), 0};
  }
}

void load_tables(int id) {
  u64* g = gdts[id];
  g[0] = 0; g[1] = DESC_KCODE; g[2] = DESC_KDATA; g[3] = DESC_UDATA; g[4] = DESC_UCODE;
  set_tss_desc(&g[5], &cpus[id].tss);
  DescPtr gp{sizeof(gdts[id]) - 1, reinterpret_cast<u64>(g)};
  DescPtr ip{sizeof(idt) - 1, reinterpret_cast<u64>(idt)};
  asm volatile("lgdt %0\n"
               "pushq $0x08\n lea 1f(%%rip), %%rax\n pushq %%rax\n lretq\n1:\n"
               "mov $0x10, %%eax\n mov %%eax, %%ds\n mov %%eax, %%es\n mov %%eax, %%ss\n"
               "xor %%eax, %%eax\n mov %%eax, %%fs\n mov %%eax, %%gs\n"
               "lidt %1\n ltr %w2"
               :: "m"(gp), "m"(ip), "r"(TSS_SEL) : "rax", "memory");
}

// CR0/CR4/XCR0: x87+SSE always; AVX, AVX-512 and AMX tile state when CPUID offers them.
// The kernel itself is general-registers-only, so it never clobbers user vector state.
void enable_vector_state() {
  u64 cr0, cr4;
  asm volatile("mov %%cr0, %0" : "=r"(cr0));
  cr0 = (cr0 & ~(1ul << 2 | 1ul << 3)) | 1ul << 1 | 1ul << 5;   // -EM -TS +MP +NE
  asm volatile("mov %0, %%cr0" ::"r"(cr0));
  asm volatile("mov %%cr4, %0" : "=r"(cr4));
  cr4 |= 1ul << 9 | 1ul << 10;                                 // OSFXSR, OSXMMEXCPT
  bool xsave = cpuid(1).c & (1u << 26);
  if (xsave) cr4 |= 1ul << 18;                                 // OSXSAVE
  asm volatile("mov %0, %%cr4" ::"r"(cr4));
  asm volatile("fninit");
  if (!xsave) return;
  CpuidRes d = cpuid(0xd, 0);
  u64 supported = d.a | (u64(d.d) << 32);
  u64 want = 0x3 | (supported & 0x4);                          // x87, SSE, AVX
  if ((want & 0x4) && (supported & 0xe0) == 0xe0) want |= 0xe0; // opmask, ZMM_Hi256, Hi16_ZMM
  if ((supported & 0x60000) == 0x60000) want |= 0x60000;       // AMX TILECFG + TILEDATA
  asm volatile("xsetbv" ::"c"(0), "a"(u32(want)), "d"(u32(want >> 32)));
  xcr0_enabled = want;
}

void setup_syscall_msrs() {
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);                        // SCE
  wrmsr(MSR_STAR, (u64(0x10) << 48) | (u64(KERNEL_CS) << 32));
  wrmsr(MSR_LSTAR, reinterpret_cast<u64>(syscall_entry));
  wrmsr(MSR_FMASK, 0x47700);                                   // TF IF DF IOPL NT AC
}
}  // namespace

Cpu* this_cpu() {
  Cpu* c;
  asm volatile("mov %%gs:0, %0" : "=r"(c));
  return c;
}

u64 cpu_xcr0() { return xcr0_enabled; }

void cpu_init(int id, u64 kstack_top) {
  Cpu& c = cpus[id];
  c.self = &c;
  c.id = id;
  c.kstack_top = kstack_top;
  c.tss.rsp[0] = kstack_top;
  c.tss.ist[0] = reinterpret_cast<u64>(ist_stacks[id] + sizeof(ist_stacks[id]));
  c.tss.iomap_base = sizeof(Tss);
  if (id == 0) build_idt();
  load_tables(id);
  wrmsr(MSR_GS_BASE, reinterpret_cast<u64>(&c));
  wrmsr(MSR_KERNEL_GS_BASE, 0);
  enable_vector_state();
  setup_syscall_msrs();
}
