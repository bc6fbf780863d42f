// proc.h: the one user process: ELF loading (static and static-PIE), the initial stack
// (argv, envp, auxv) and its threads (one per CPU).
#pragma once
#include "cpu.h"

struct Thread {
  int tid;
  bool live;
  u64 clear_child_tid;   // set_tid_address / CLONE_CHILD_CLEARTID: zeroed + futex-woken at exit
  Regs start;            // where a new thread begins (rax = 0)
  u64 fs_base;           // TLS pointer for a new thread
};

// Loads the ELF at abs path into the user address space and prepares the first
// thread's registers. Returns 0 or -errno, with a one-line reason in *why.
i64 proc_load(const char* path, int argc, char* const argv[], int envc, char* const envp[], Regs* out,
              const char** why);
Thread* proc_current();
Thread* proc_new_thread();
int proc_live_threads();
