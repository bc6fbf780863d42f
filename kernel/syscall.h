// syscall.h: the Linux x86-64 system-call ABI subset. One table (syscall.cpp) maps numbers
// to sys_* functions, which live in the subsystem files: sys_mem.cpp (memory),
// sys_file.cpp (files), sys_proc.cpp (process, threads, signals), sys_time.cpp (time).
#pragma once
#include "cpu.h"

enum Errno : i64 {
  EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12,
  EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENOTDIR = 20, EISDIR = 21, EINVAL = 22,
  EMFILE = 24, ENOTTY = 25, ESPIPE = 29, EROFS = 30, EPIPE = 32, ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38,
  ENOTEMPTY = 39, ENODATA = 61, ETIMEDOUT = 110,
};

using a64 = u64;   // a raw syscall argument register
#define SYSCALL(name) i64 sys_##name(a64 a0, a64 a1, a64 a2, a64 a3, a64 a4, a64 a5)
#define UNUSED_ARGS (void)a0, (void)a1, (void)a2, (void)a3, (void)a4, (void)a5

// memory
SYSCALL(brk); SYSCALL(mmap); SYSCALL(munmap); SYSCALL(mprotect); SYSCALL(mremap); SYSCALL(madvise);
SYSCALL(mlock); SYSCALL(munlock); SYSCALL(msync);
// files
SYSCALL(read); SYSCALL(write); SYSCALL(readv); SYSCALL(writev); SYSCALL(pread64); SYSCALL(pwrite64);
SYSCALL(open); SYSCALL(openat); SYSCALL(close); SYSCALL(lseek); SYSCALL(fstat); SYSCALL(stat); SYSCALL(lstat);
SYSCALL(newfstatat); SYSCALL(statx); SYSCALL(getdents64); SYSCALL(mkdir); SYSCALL(mkdirat);
SYSCALL(rename); SYSCALL(renameat); SYSCALL(renameat2); SYSCALL(unlink); SYSCALL(unlinkat); SYSCALL(rmdir);
SYSCALL(fsync); SYSCALL(fdatasync); SYSCALL(ftruncate); SYSCALL(ioctl); SYSCALL(fcntl); SYSCALL(dup);
SYSCALL(dup2); SYSCALL(dup3); SYSCALL(access); SYSCALL(faccessat); SYSCALL(faccessat2); SYSCALL(readlink);
SYSCALL(readlinkat); SYSCALL(getcwd); SYSCALL(chdir); SYSCALL(statfs); SYSCALL(fstatfs); SYSCALL(sync);
SYSCALL(fadvise64); SYSCALL(fallocate); SYSCALL(poll); SYSCALL(pipe2); SYSCALL(umask); SYSCALL(fchmod);
// process, threads, signals, identity
SYSCALL(exit); SYSCALL(exit_group); SYSCALL(arch_prctl); SYSCALL(set_tid_address); SYSCALL(set_robust_list);
SYSCALL(rseq); SYSCALL(getpid); SYSCALL(gettid); SYSCALL(getppid); SYSCALL(getuid); SYSCALL(kill); SYSCALL(tgkill);
SYSCALL(rt_sigaction); SYSCALL(rt_sigprocmask); SYSCALL(sigaltstack); SYSCALL(uname); SYSCALL(prlimit64);
SYSCALL(getrlimit); SYSCALL(sched_getaffinity); SYSCALL(sched_setaffinity); SYSCALL(sched_yield); SYSCALL(clone);
SYSCALL(clone3); SYSCALL(futex); SYSCALL(getrandom); SYSCALL(sysinfo); SYSCALL(prctl); SYSCALL(getrusage);
SYSCALL(membarrier); SYSCALL(getcpu); SYSCALL(sched_getparam); SYSCALL(sched_getscheduler);
// time
SYSCALL(clock_gettime); SYSCALL(clock_getres); SYSCALL(gettimeofday); SYSCALL(time); SYSCALL(nanosleep);
SYSCALL(clock_nanosleep); SYSCALL(times);

// Process state shared by the subsystems.
void proc_set_exe_path(const char* path);
const char* proc_exe_path();
[[noreturn]] void proc_exit(int status);
// The big kernel lock: every syscall except the ones that wait or only read the clock
// holds it. A syscall that never returns (thread exit) drops it first.
void syscall_unlock_current();
// Takes the big lock for kernel work outside a syscall that touches what syscalls share
// (a page fault reading the file system), unless this CPU holds it already (a fault
// inside a syscall). Returns whether it took it (then syscall_unlock_current drops it).
bool syscall_lock_shared();
// Log an unknown syscall (once per number) and return -ENOSYS.
i64 syscall_unknown(u64 nr);
