/* entry.S: trap stubs, the syscall entry and the return path to ring 3.
 * Invariants: the kernel runs with IF=0 always; GS holds this CPU's Cpu* while in the
 * kernel (swapgs on every ring 3 <-> ring 0 crossing); every entry builds a Regs frame
 * (see cpu.h) and every exit goes through trap_return's iretq (kvm-pvm #GPs on sysretq). */
.code64
.text

.macro PUSH_GPRS
  push %rax; push %rbx; push %rcx; push %rdx; push %rsi; push %rdi; push %rbp
  push %r8; push %r9; push %r10; push %r11; push %r12; push %r13; push %r14; push %r15
.endm
.macro POP_GPRS
  pop %r15; pop %r14; pop %r13; pop %r12; pop %r11; pop %r10; pop %r9; pop %r8
  pop %rbp; pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rbx; pop %rax
.endm

/* 256 stubs, 16 bytes apart: trap_stubs + 16 * vector. */
.align 16
.globl trap_stubs
trap_stubs:
.set vec, 0
.rept 256
  .align 16
  .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
  .else
    push $0
  .endif
  push $vec
  jmp trap_common
  .set vec, vec + 1
.endr

trap_common:
  testb $3, 24(%rsp)          /* saved CS: from ring 3? */
  jz 1f
  swapgs
  /* kvm-pvm fast path for sched_yield (see trap.cpp, syscall_via_fault): a thread pool that
   * spins with sched_yield makes tens of thousands of them, and ring 0 is interpreted there,
   * so answer it here in a dozen instructions: rax = 0, back to RCX with R11's flags. */
  cmpq $14, (%rsp)
  jne 1f
  cmpq $syscall_entry, 16(%rsp)
  jne 1f
  cmpq $24, %rax
  jne 1f
  mov %rcx, 16(%rsp)          /* rip */
  mov %r11, %rax
  and $0x3c7fd7, %eax
  or $0x202, %eax
  mov %rax, 32(%rsp)          /* rflags */
  xor %eax, %eax
  add $16, %rsp
  swapgs
  iretq
1:
  PUSH_GPRS
  mov %rsp, %rdi
  call trap_handler
.globl trap_return
trap_return:
  POP_GPRS
  add $16, %rsp               /* vector, error */
  testb $3, 8(%rsp)           /* returning to ring 3? */
  jz 2f
  swapgs
2:
  iretq

/* SYSCALL: RCX = user RIP, R11 = user RFLAGS, IF already cleared by FMASK. */
.globl syscall_entry
syscall_entry:
  swapgs
  mov %rsp, %gs:16
  mov %gs:8, %rsp
  push $0x1b                  /* ss */
  push %gs:16                 /* rsp */
  push %r11                   /* rflags */
  push $0x23                  /* cs */
  push %rcx                   /* rip */
  push $0                     /* error */
  push $256                   /* vector: marks a syscall frame */
  PUSH_GPRS
  mov %rsp, %rdi
  call syscall_dispatch
  jmp trap_return

/* enter_user(Regs*): start (or resume) ring 3 from a prepared frame. */
.globl enter_user
enter_user:
  mov %rdi, %rsp
  jmp trap_return

.section .note.GNU-stack, "", @progbits
