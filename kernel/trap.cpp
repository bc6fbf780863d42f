// trap.cpp: CPU exceptions. Page faults in user VMAs are demand-filled; anything else
// prints one clear line plus a register dump and ends the machine with a non-zero status.
#include "cpu.h"
#include "mm.h"
#include "smp.h"

namespace {
const char* const names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS", "segment not present",
    "stack fault", "general protection fault", "page fault", "reserved", "x87 floating-point error",
    "alignment check", "machine check", "SIMD floating-point error", "virtualization", "control protection",
    "reserved", "reserved", "reserved", "reserved", "reserved", "reserved", "hypervisor injection",
    "VMM communication", "security", "reserved"};

void dump(const Regs* r, u64 cr2) {
  kprintf("bfk:   cpu %u vector %lu error 0x%lx cr2 %016lx\n", this_cpu()->id, r->vector, r->error, cr2);
  kprintf("bfk:   rip %016lx cs %lx rflags %016lx rsp %016lx ss %lx\n", r->rip, r->cs, r->rflags, r->rsp, r->ss);
  kprintf("bfk:   rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", r->rax, r->rbx, r->rcx, r->rdx);
  kprintf("bfk:   rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n", r->rsi, r->rdi, r->rbp, r->r8);
  kprintf("bfk:   r9  %016lx r10 %016lx r11 %016lx r12 %016lx\n", r->r9, r->r10, r->r11, r->r12);
  kprintf("bfk:   r13 %016lx r14 %016lx r15 %016lx fs_base %016lx\n", r->r13, r->r14, r->r15, rdmsr(MSR_FS_BASE));
}
}  // namespace

// The user RIP of the syscall in progress, for faults the kernel takes on user memory.
extern "C" u64 current_user_rip();

extern "C" void syscall_dispatch(Regs* r);

// kvm-pvm (measured): SYSCALL jumps to LSTAR but leaves the CPU in user mode, so fetching
// syscall_entry (a supervisor page) raises #PF from ring 3 with RIP = CR2 = syscall_entry
// and the user's RCX/R11 intact. That fault is a syscall: serve it and return to RCX
// with R11's flags, as the SYSCALL/iretq path does. Real CPUs and TCG never get here.
bool syscall_via_fault(Regs* r) {
  extern char syscall_entry[];
  u64 entry = reinterpret_cast<u64>(syscall_entry);
  if (r->vector != 14 || !(r->cs & 3) || r->rip != entry || read_cr2() != entry) return false;
  r->rip = r->rcx;
  r->rflags = (r->r11 & 0x3c7fd7) | 0x202;
  syscall_dispatch(r);
  return true;
}

extern "C" void trap_handler(Regs* r) {
  if (syscall_via_fault(r)) return;
  u64 cr2 = r->vector == 14 ? read_cr2() : 0;
  if (r->vector == 14 && vm_fault(cr2, r->error)) return;
  if (r->vector == IPI_WAKE || r->vector == IPI_FLUSH || r->vector == 0xff) {   // IPIs / APIC spurious
    if (r->vector == IPI_FLUSH) smp_serve_flush();
    if (r->vector != 0xff) lapic_eoi();
    return;
  }
  if (r->vector >= 32) {                       // stray interrupt (everything is masked)
    if (r->vector < 48) {
      if (r->vector >= 40) outb(0xa0, 0x20);
      outb(0x20, 0x20);
    }
    return;
  }
  const char* name = names[r->vector];
  if (r->cs & 3) {
    kprintf("bfk: program crashed: %s at rip 0x%lx (address 0x%lx)\n", name, r->rip, cr2);
    dump(r, cr2);
    machine_exit(EXIT_PROGRAM_CRASHED);
  }
  u64 urip = current_user_rip();
  if (r->vector == 14 && cr2 < USER_MAX)
    kprintf("bfk: program passed a bad pointer to a syscall: page fault at 0x%lx (user rip 0x%lx)\n", cr2, urip);
  else
    kprintf("bfk: kernel fault: %s at rip 0x%lx (address 0x%lx, user rip 0x%lx)\n", name, r->rip, cr2, urip);
  dump(r, cr2);
  machine_exit(r->vector == 14 && cr2 < USER_MAX ? EXIT_PROGRAM_CRASHED : EXIT_KERNEL_PANIC);
}
