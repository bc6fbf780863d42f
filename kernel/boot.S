/* boot.S: multiboot / multiboot2 entry (32-bit protected mode, paging off) -> long mode.
 * We never enable 32-bit paging (kvm-pvm triple-faults on it): PAE 4-level tables
 * are built with paging off, then EFER.LME + CR0.PG switch straight to long mode.
 * Boot tables map phys [0, 4 GiB) twice: identity and at the direct map base, since a
 * loader (GRUB, on BIOS or UEFI) may put its boot information anywhere below 4 GiB. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010003          /* page-align, memory info, a.out kludge */
#define MB2_MAGIC 0xE85250D6
#define DIRECT_MAP_PML4 192          /* 0x600000000000, see mm.h */

.section .multiboot, "a"
.align 4
mb_header:
  .long MB_MAGIC
  .long MB_FLAGS
  .long -(MB_MAGIC + MB_FLAGS)
  .long mb_header                    /* header_addr */
  .long _kernel_start                /* load_addr */
  .long _load_end                    /* load_end_addr */
  .long _kernel_end                  /* bss_end_addr */
  .long _start32                     /* entry_addr */

/* Multiboot2 (GRUB's "multiboot2" command, BIOS or UEFI): the same fixed load address
 * (address tag) and the same 32-bit entry (entry tag). Without the "EFI boot services"
 * tag, GRUB EFI calls ExitBootServices and enters in 32-bit protected mode with paging
 * off, exactly like multiboot v1. Tags are 8-byte aligned; the header must lie in the
 * first 32 KiB of the file. */
.align 8
mb2_header:
  .long MB2_MAGIC
  .long 0                            /* architecture: i386 (32-bit protected mode) */
  .long mb2_header_end - mb2_header
  .long -(MB2_MAGIC + 0 + (mb2_header_end - mb2_header))
  .align 8
  .short 2, 0                        /* address tag */
  .long 24
  .long mb2_header                   /* header_addr */
  .long _kernel_start                /* load_addr */
  .long _load_end                    /* load_end_addr */
  .long _kernel_end                  /* bss_end_addr (the loader zeroes the bss) */
  .align 8
  .short 3, 0                        /* entry address tag */
  .long 12
  .long _start32
  .align 8
  .short 0, 0                        /* end tag */
  .long 8
mb2_header_end:

.section .text.boot, "ax"
.code32
.globl _start32
_start32:
  cli
  cld
  mov %eax, %edi
  rdtsc
  mov %eax, boot_tsc0
  mov %edx, boot_tsc0 + 4                     /* multiboot magic -> kmain arg 0 */
  mov %ebx, %esi                     /* multiboot info  -> kmain arg 1 */
  mov $boot_stack_top, %esp
  /* No bss clearing here: the multiboot loader zeroes [load_end_addr, bss_end_addr)
   * (spec, section 3.1.3), and under kvm-pvm a rep stosb over the bss costs ~0.5 s. */
  /* [0, 4 GiB): four 1 GiB pages when the CPU has them (CPUID 0x80000001 EDX bit 26),
   * else 2,048 2 MiB pages in four contiguous PDs (a loop that kvm-pvm interprets).
   * Entries are present|rw|ps; their high dwords stay 0 (the bss is zero). */
  mov $0x80000001, %eax
  cpuid
  bt $26, %edx
  jnc 1f
  movl $0x00000083, boot_pdpt
  movl $0x40000083, boot_pdpt + 8
  movl $0x80000083, boot_pdpt + 16
  movl $0xC0000083, boot_pdpt + 24
  jmp 3f
1: mov $boot_pd, %ebx
  xor %ecx, %ecx
2: mov %ecx, %eax
  shl $21, %eax
  or $0x83, %eax
  mov %eax, (%ebx,%ecx,8)
  inc %ecx
  cmp $2048, %ecx
  jne 2b
  movl $boot_pd + 3, boot_pdpt
  movl $boot_pd + 4096 + 3, boot_pdpt + 8
  movl $boot_pd + 8192 + 3, boot_pdpt + 16
  movl $boot_pd + 12288 + 3, boot_pdpt + 24
3:
  movl $boot_pdpt + 3, boot_pml4
  movl $boot_pdpt + 3, boot_pml4 + DIRECT_MAP_PML4 * 8
  mov $boot_pml4, %eax
  mov %eax, %cr3
  mov %cr4, %eax
  or $0x20, %eax                     /* PAE */
  mov %eax, %cr4
  mov $0xC0000080, %ecx              /* EFER: LME | NXE */
  rdmsr
  or $0x900, %eax
  wrmsr
  mov %cr0, %eax
  or $0x80010001, %eax               /* PG | WP | PE */
  mov %eax, %cr0
  lgdt boot_gdt_ptr
  ljmp $0x08, $long_entry

.code64
long_entry:
  mov $0x10, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  xor %ax, %ax
  mov %ax, %fs
  mov %ax, %gs
  mov $boot_stack_top, %rsp
  call kmain
2: cli
  hlt
  jmp 2b

.section .rodata
.align 16
boot_gdt:
  .quad 0
  .quad 0x00AF9A000000FFFF           /* 0x08 kernel code 64 */
  .quad 0x00CF92000000FFFF           /* 0x10 kernel data */
boot_gdt_ptr:
  .word boot_gdt_ptr - boot_gdt - 1
  .long boot_gdt

.section .data
.align 8
.globl boot_tsc0
boot_tsc0: .quad 0

.section .bss
.align 4096
.globl boot_pml4
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4096 * 4
.globl boot_stack_top
boot_stack: .skip 16384
boot_stack_top:

.section .note.GNU-stack, "", @progbits

/* AP trampoline: copied to AP_BASE (0x8000) and started by INIT-SIPI-SIPI (smp.cpp).
 * Real mode -> protected mode -> PAE + LME (paging off until CR0.PG, as on the BSP) ->
 * long mode on the kernel's page tables. Each AP takes the next slot of ap_stacks. */
#define AP_BASE 0x8000
#define AP(x) ((x) - ap_trampoline + AP_BASE)
.section .rodata
.code16
.globl ap_trampoline, ap_trampoline_end, ap_cr3
ap_trampoline:
  cli
  cld
  xor %ax, %ax
  mov %ax, %ds
  lgdtl AP(ap_gdt_ptr)
  mov %cr0, %eax
  or $1, %eax
  mov %eax, %cr0
  ljmpl $0x18, $AP(ap_prot)
.code32
ap_prot:
  mov $0x20, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov %cr4, %eax
  or $0x20, %eax
  mov %eax, %cr4
  mov AP(ap_cr3), %eax
  mov %eax, %cr3
  mov $0xC0000080, %ecx
  rdmsr
  or $0x900, %eax
  wrmsr
  mov %cr0, %eax
  or $0x80010001, %eax
  mov %eax, %cr0
  ljmp $0x08, $AP(ap_long)
.code64
ap_long:
  mov $0x10, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov $1, %edi
  lock xadd %edi, ap_next_slot       /* edi = this AP's index (0-based) */
  mov %edi, %eax
  inc %eax
  shl $14, %rax                      /* 16 KiB per AP */
  lea ap_stacks(%rax), %rsp
  mov $ap_main, %rax
  call *%rax
1: cli
  hlt
  jmp 1b
.align 8
ap_gdt:
  .quad 0
  .quad 0x00AF9A000000FFFF           /* 0x08 code 64 */
  .quad 0x00CF92000000FFFF           /* 0x10 data */
  .quad 0x00CF9A000000FFFF           /* 0x18 code 32 */
  .quad 0x00CF92000000FFFF           /* 0x20 data 32 */
ap_gdt_ptr:
  .word ap_gdt_ptr - ap_gdt - 1
  .long AP(ap_gdt)
.align 4
ap_cr3:
  .long 0
ap_trampoline_end:

.section .data
.align 4
.globl ap_next_slot
ap_next_slot: .long 0

.section .bss
.align 4096
.globl ap_stacks
ap_stacks: .skip 16384 * 7
