// systest: checks the Linux syscall semantics BareFlow's kernel implements, from inside
// the guest (it also passes on Linux). Usage: systest [DIR] (a writable directory,
// default /state), or: systest persist-write DIR / persist-read DIR (two-boot test),
// or: systest threads (two threads; boot with --smp 2), or: systest segv (crashes on purpose),
// or: systest hash FILE [COPY [KEY]] (bulk disk reads by mmap and read(), optionally written
// to COPY with every byte XORed with KEY: the hashes on stdout match Linux's, the throughput
// goes to stderr).
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <iostream>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sched.h>
#include <unistd.h>
#include <vector>

static int passed, failed;

static void check(bool ok, const char* what) {
  if (ok) passed++;
  else { failed++; printf("FAIL: %s (errno %d %s)\n", what, errno, strerror(errno)); }
}

static double now_s(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_process() {
  check(getpid() > 0, "getpid");
  check(syscall(SYS_gettid) > 0, "gettid");
  utsname u{};
  check(uname(&u) == 0 && !strcmp(u.machine, "x86_64") && !strcmp(u.sysname, "Linux"), "uname");
  char exe[256] = {};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  check(n > 0 && exe[0] == '/', "readlink /proc/self/exe");
  cpu_set_t set;
  CPU_ZERO(&set);
  check(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1, "sched_getaffinity");
  check(sysconf(_SC_NPROCESSORS_ONLN) >= 1, "sysconf(NPROCESSORS_ONLN)");
  struct sysinfo si{};
  check(sysinfo(&si) == 0 && si.totalram > 0, "sysinfo");
  errno = 0;
  check(syscall(333333) == -1 && errno == ENOSYS, "unknown syscall -> ENOSYS");
  unsigned char rnd[64] = {};
  check(getrandom(rnd, sizeof rnd, 0) == 64, "getrandom");
  char cwd[256];
  check(getcwd(cwd, sizeof cwd) && cwd[0] == '/', "getcwd");
}

static void test_more_files(const std::string& dir) {
  std::string a = dir + "/a.txt", b = dir + "/b.txt";
  unlink(a.c_str());
  unlink(b.c_str());
  int fd = open(a.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_APPEND, 0644);
  check(fd >= 0, "open O_CREAT|O_EXCL");
  check(open(a.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 && errno == EEXIST, "O_EXCL on an existing file -> EEXIST");
  check(write(fd, "12345", 5) == 5 && lseek(fd, 0, SEEK_SET) == 0 && write(fd, "67", 2) == 2, "O_APPEND writes");
  check(lseek(fd, 0, SEEK_END) == 7, "lseek SEEK_END after appends");
  check((fcntl(fd, F_GETFL) & O_APPEND) != 0, "fcntl F_GETFL");
  int d = dup(fd);
  check(d > fd && dup2(fd, 40) == 40 && close(40) == 0 && close(d) == 0, "dup / dup2");
  close(fd);
  fd = open(b.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  check(fd >= 0 && write(fd, "new", 3) == 3 && fsync(fd) == 0 && close(fd) == 0, "write b");
  check(rename(b.c_str(), a.c_str()) == 0, "rename over an existing file");
  char buf[16] = {};
  fd = open(a.c_str(), O_RDONLY);
  check(fd >= 0 && read(fd, buf, sizeof buf) == 3 && !memcmp(buf, "new", 3), "rename replaced the contents");
  close(fd);
  struct statx sx{};
  check(statx(AT_FDCWD, a.c_str(), 0, STATX_BASIC_STATS, &sx) == 0 && sx.stx_size == 3, "statx");
  unlink(a.c_str());
  bool root_listed = false;
  if (DIR* r = opendir("/")) {
    while (dirent* e = readdir(r)) root_listed |= e->d_name[0] != '.';
    closedir(r);
  }
  check(root_listed, "readdir /");
  fd = open("/dev/null", O_WRONLY);
  check(fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0, "/dev/null");
  unsigned char rnd[16] = {};
  fd = open("/dev/urandom", O_RDONLY);
  check(fd >= 0 && read(fd, rnd, sizeof rnd) == 16 && close(fd) == 0, "/dev/urandom");
  fd = open("/sys/devices/system/cpu/online", O_RDONLY);
  check(fd >= 0 && read(fd, buf, sizeof buf) > 0 && buf[0] == '0' && close(fd) == 0, "/sys/devices/system/cpu/online");
}

static void test_time() {
  timespec res{};
  check(clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec > 0, "clock_getres");
  double m0 = now_s(CLOCK_MONOTONIC);
  timespec req{0, 20 * 1000 * 1000};
  check(nanosleep(&req, nullptr) == 0, "nanosleep");
  double dt = now_s(CLOCK_MONOTONIC) - m0;
  check(dt >= 0.019 && dt < 5, "nanosleep sleeps about 20 ms");
  check(now_s(CLOCK_REALTIME) > 1.6e9, "CLOCK_REALTIME after 2020");
  check(time(nullptr) > 1600000000, "time()");
}

static void test_memory() {
  void* b0 = sbrk(0);
  check(sbrk(1 << 20) == b0 && sbrk(0) == static_cast<char*>(b0) + (1 << 20), "brk grows");
  memset(b0, 0x5a, 1 << 20);
  check(sbrk(-(1 << 20)) != reinterpret_cast<void*>(-1), "brk shrinks");
  size_t len = 8 << 20;
  auto p = static_cast<unsigned char*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  check(p != MAP_FAILED, "mmap anonymous");
  bool zero = true;
  for (size_t i = 0; i < len; i += 4096) zero &= p[i] == 0;
  check(zero, "anonymous memory reads as zero");
  for (size_t i = 0; i < len; i += 4096) p[i] = static_cast<unsigned char>(i >> 12);
  check(madvise(p, 4096, MADV_DONTNEED) == 0 && p[0] == 0, "MADV_DONTNEED zeroes");
  auto q = static_cast<unsigned char*>(mremap(p, len, 2 * len, MREMAP_MAYMOVE));
  check(q != MAP_FAILED && q[4096] == 1 && q[len - 4096] == static_cast<unsigned char>((len - 4096) >> 12), "mremap keeps contents");
  check(mprotect(q, 4096, PROT_READ) == 0, "mprotect read-only");
  check(mprotect(q, 4096, PROT_READ | PROT_WRITE) == 0 && (q[0] = 3) == 3, "mprotect back to read-write");
  check(mprotect(q, 4096, PROT_NONE) == 0 && mprotect(q, 4096, PROT_READ) == 0 && q[0] == 3, "PROT_NONE keeps contents");
  check(munmap(q, 2 * len) == 0, "munmap");
  rlimit rl{};
  check(getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur >= (1u << 20), "getrlimit RLIMIT_STACK");
  void* fixed = mmap(reinterpret_cast<void*>(0x3000000000), 65536, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  check(fixed == reinterpret_cast<void*>(0x3000000000), "mmap MAP_FIXED");
  munmap(fixed, 65536);
  std::vector<std::string> v;
  for (int i = 0; i < 20000; i++) v.push_back(std::to_string(i));
  check(v[12345] == "12345", "malloc-heavy std::vector<std::string>");
}

// Big mappings use 2 MiB pages in the BareFlow kernel: changing part of one (munmap,
// mprotect, MADV_DONTNEED) must split it and leave the rest as it was. File pages
// dropped by MADV_DONTNEED read back as the file's contents; read() into a page-aligned
// buffer (straight by DMA in the kernel) gives the file's bytes.
static void test_big_pages(const std::string& dir) {
  const size_t mb2 = 2 << 20, len = 32 << 20;
  auto p = static_cast<unsigned char*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  check(p != MAP_FAILED, "mmap 32 MiB anonymous");
  if (p == MAP_FAILED) return;
  for (size_t i = 0; i < len; i += 4096) p[i] = static_cast<unsigned char>(i >> 12 | 1);
  unsigned char* a = p + ((mb2 - reinterpret_cast<uintptr_t>(p) % mb2) % mb2) + mb2;   // a 2 MiB-aligned page inside
  auto same = [&](size_t from, size_t to) {
    bool ok = true;
    for (size_t i = from; i < to; i += 4096) ok &= a[i] == static_cast<unsigned char>((a + i - p) >> 12 | 1);
    return ok;
  };
  check(madvise(a + 8192, 8192, MADV_DONTNEED) == 0 && a[8192] == 0 && a[12288] == 0 && same(0, 8192) &&
            same(16384, 2 * mb2), "MADV_DONTNEED on part of a 2 MiB page");
  check(mprotect(a + 4096, 4096, PROT_READ) == 0 && (a[0] = 7) == 7 && (a[8192] = 9) == 9 && same(16384, mb2),
        "mprotect on part of a 2 MiB page");
  check(mprotect(a + mb2, mb2, PROT_NONE) == 0 && mprotect(a + mb2, mb2, PROT_READ | PROT_WRITE) == 0 && same(mb2, 2 * mb2),
        "PROT_NONE on a whole 2 MiB page keeps contents");
  check(munmap(a + mb2 + 4096, 4096) == 0 && same(mb2 + 8192, 2 * mb2) && a[mb2] == static_cast<unsigned char>((a + mb2 - p) >> 12 | 1),
        "munmap of one page of a 2 MiB page");
  void* again = mmap(a + mb2 + 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  check(again == a + mb2 + 4096 && a[mb2 + 4096] == 0, "mmap MAP_FIXED into the hole reads zero");
  check(munmap(p, len) == 0, "munmap 32 MiB");

  std::string f = dir + "/bigpages.tmp";
  std::vector<unsigned char> data(5 << 20);
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<unsigned char>(i * 131 + (i >> 12));
  int fd = open(f.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  check(fd >= 0 && write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()), "write 5 MiB file");
  auto m = static_cast<unsigned char*>(mmap(nullptr, data.size(), PROT_READ, MAP_PRIVATE, fd, 0));
  check(m != MAP_FAILED && !memcmp(m, data.data(), data.size()), "mmap 5 MiB file");
  if (m != MAP_FAILED) {
    check(madvise(m + 4096, 3 << 20, MADV_DONTNEED) == 0 && !memcmp(m, data.data(), data.size()),
          "MADV_DONTNEED on file pages reads the file again");
    check(pread(fd, m + 100, 4096, 0) < 0 && errno == EFAULT && !memcmp(m, data.data(), 1 << 20),
          "read() into a read-only file mapping: EFAULT, contents kept");
    check(munmap(m + (2 << 20), 4096) == 0 && !memcmp(m, data.data(), 2 << 20) &&
              !memcmp(m + (2 << 20) + 4096, data.data() + (2 << 20) + 4096, data.size() - (2 << 20) - 4096),
          "munmap of one page of a file mapping");
    munmap(m, data.size());
  }
  auto w = static_cast<unsigned char*>(mmap(nullptr, data.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  if (w != MAP_FAILED) {   // pages read() covers in part keep their bytes, even dropped ones
    check(madvise(w + 8192, 8192, MADV_DONTNEED) == 0 && pread(fd, w + 8192 + 100, 4096, 3 << 20) == 4096 &&
              !memcmp(w + 8192 + 100, data.data() + (3 << 20), 4096) && !memcmp(w, data.data(), 8192 + 100) &&
              !memcmp(w + 8192 + 100 + 4096, data.data() + 8192 + 100 + 4096, 1 << 20),
          "read() into dropped pages of a writable file mapping");
    munmap(w, data.size());
  }
  auto buf = static_cast<unsigned char*>(mmap(nullptr, data.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  check(buf != MAP_FAILED && pread(fd, buf, data.size(), 0) == static_cast<ssize_t>(data.size()) &&
            !memcmp(buf, data.data(), data.size()), "read() into a page-aligned buffer");
  check(buf != MAP_FAILED && pread(fd, buf + 4096, 3 << 20, 1000) == 3 << 20 && !memcmp(buf + 4096, data.data() + 1000, 3 << 20) &&
            !memcmp(buf, data.data(), 4096), "read() at an unaligned file offset");
  check(pread(fd, buf, data.size(), 4 << 20) == 1 << 20 && !memcmp(buf, data.data() + (4 << 20), 1 << 20), "read() short at EOF");
  check(mprotect(buf, 8192, PROT_READ) == 0 && pread(fd, buf, 8192, 0) < 0 && errno == EFAULT, "read() into read-only memory: EFAULT");
  munmap(buf, data.size());
  close(fd);
  unlink(f.c_str());
}

static void test_files(const std::string& dir) {
  std::string f = dir + "/systest.tmp", g = dir + "/systest renamed long name.txt";
  unlink(f.c_str());
  unlink(g.c_str());
  int fd = open(f.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  check(fd >= 0, "open O_CREAT");
  const char msg[] = "hello, fat16\n";
  check(write(fd, msg, sizeof msg - 1) == sizeof msg - 1, "write");
  iovec iov[2] = {{const_cast<char*>("ab"), 2}, {const_cast<char*>("cd"), 2}};
  check(writev(fd, iov, 2) == 4, "writev");
  check(lseek(fd, 0, SEEK_CUR) == 17, "lseek SEEK_CUR");
  char buf[64] = {};
  check(pread(fd, buf, 5, 7) == 5 && !memcmp(buf, "fat16", 5), "pread");
  check(pwrite(fd, "XY", 2, 0) == 2, "pwrite");
  check(lseek(fd, 0, SEEK_SET) == 0 && read(fd, buf, sizeof buf) == 17 && !memcmp(buf, "XYllo", 5), "read back");
  struct stat st{};
  check(fstat(fd, &st) == 0 && st.st_size == 17 && S_ISREG(st.st_mode), "fstat");
  check(ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5, "ftruncate");
  check(fsync(fd) == 0, "fsync");
  std::vector<char> big(300000);
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 7);
  check(pwrite(fd, big.data(), big.size(), 0) == static_cast<ssize_t>(big.size()), "write 300 KB");
  void* m = mmap(nullptr, big.size(), PROT_READ, MAP_PRIVATE, fd, 0);
  check(m != MAP_FAILED && !memcmp(m, big.data(), big.size()), "mmap file MAP_PRIVATE");
  void* m2 = mmap(nullptr, 8192, PROT_READ, MAP_PRIVATE, fd, 4096);
  check(m2 != MAP_FAILED && !memcmp(m2, big.data() + 4096, 8192), "mmap file at an offset");
  munmap(m, big.size());
  munmap(m2, 8192);
  check(close(fd) == 0, "close");
  check(stat(f.c_str(), &st) == 0 && st.st_size == 300000, "stat");
  check(rename(f.c_str(), g.c_str()) == 0, "rename to a long name");
  check(access(f.c_str(), F_OK) != 0 && errno == ENOENT, "old name gone");
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  check(dfd >= 0, "open directory");
  check(fstatat(dfd, "systest renamed long name.txt", &st, 0) == 0 && st.st_size == 300000, "fstatat relative to dirfd");
  close(dfd);
  bool found = false;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) found |= !strcmp(e->d_name, "systest renamed long name.txt");
    closedir(d);
  }
  check(found, "getdents64 lists the long name");
  std::string sub = dir + "/sub";
  rmdir(sub.c_str());
  check(mkdir(sub.c_str(), 0755) == 0 && stat(sub.c_str(), &st) == 0 && S_ISDIR(st.st_mode), "mkdir");
  check(mkdir(sub.c_str(), 0755) != 0 && errno == EEXIST, "mkdir EEXIST");
  check(rmdir(sub.c_str()) == 0, "rmdir");
  check(unlink(g.c_str()) == 0 && stat(g.c_str(), &st) != 0 && errno == ENOENT, "unlink");
  check(open((dir + "/missing/x").c_str(), O_RDONLY) < 0 && errno == ENOENT, "open missing -> ENOENT");
  FILE* fp = fopen((dir + "/stdio.txt").c_str(), "w");
  check(fp && fprintf(fp, "%d\n", 42) == 3 && fclose(fp) == 0, "stdio fopen/fprintf");
  fp = fopen((dir + "/stdio.txt").c_str(), "r");
  int v = 0;
  check(fp && fscanf(fp, "%d", &v) == 1 && v == 42, "stdio fscanf");
  if (fp) fclose(fp);
  unlink((dir + "/stdio.txt").c_str());
}

static int persist(bool write_mode, const std::string& dir) {
  std::string p = dir + "/persist.txt", tmp = p + ".tmp";
  if (write_mode) {
    FILE* f = fopen(tmp.c_str(), "w");
    if (!f) { perror("persist: fopen"); return 1; }
    fprintf(f, "boot-1-was-here\n");
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    if (rename(tmp.c_str(), p.c_str()) != 0) { perror("persist: rename"); return 1; }
    printf("persist: wrote %s\n", p.c_str());
    return 0;
  }
  char buf[64] = {};
  FILE* f = fopen(p.c_str(), "r");
  if (!f || !fgets(buf, sizeof buf, f)) { printf("persist: %s missing\n", p.c_str()); return 1; }
  fclose(f);
  bool ok = !strcmp(buf, "boot-1-was-here\n");
  printf("persist: read back %s: %s\n", p.c_str(), ok ? "ok" : "WRONG CONTENT");
  return ok ? 0 : 1;
}

// Two threads (needs --smp 2 in the guest): atomics, a mutex + condition variable, join.
static int threads() {
  std::atomic<long> sum{0};
  std::mutex m;
  std::condition_variable cv;
  int stage = 0;
  std::thread t([&] {
    for (long i = 0; i < 1000000; i++) sum += 1;
    { std::lock_guard<std::mutex> g(m); stage = 1; }
    cv.notify_one();
  });
  { std::unique_lock<std::mutex> g(m); cv.wait(g, [&] { return stage == 1; }); }
  t.join();
  // Both threads map, touch and unmap memory at once (TLB shootdowns, frame reuse).
  std::atomic<bool> mem_ok{true};
  auto churn = [&](int seed) {
    for (int i = 0; i < 30; i++) {
      size_t len = 64 * 1024 * (1 + (i + seed) % 4);
      auto p = static_cast<unsigned char*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      if (p == MAP_FAILED) { mem_ok = false; return; }
      for (size_t o = 0; o < len; o += 4096) {
        if (p[o]) mem_ok = false;   // fresh memory must read as zero
        p[o] = static_cast<unsigned char>(seed + 1);
      }
      munmap(p, len);
    }
  };
  std::thread c1(churn, 1);
  churn(2);
  c1.join();
  if (!mem_ok) { printf("threads: mmap/munmap churn saw non-zero fresh memory\n"); return 1; }
  for (int round = 0; round < 3; round++) {   // the CPU is reused after each join
    std::thread u([&] { sum += 10; });
    u.join();
  }
  bool ok = sum == 1000030;
  printf("threads: %s (sum %ld, hardware_concurrency %u)\n", ok ? "ok" : "WRONG", sum.load(), std::thread::hardware_concurrency());
  return ok ? 0 : 1;
}

static uint64_t fnv1a(const unsigned char* p, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static double now_s() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Reads FILE twice (a private mapping, then read() in 1 MiB pieces, writing each piece XOR
// key to COPY when given) and prints both FNV-1a hashes. A different key per boot makes
// each boot's copy differ from what earlier boots left in the same clusters.
static int hash_file(const char* path, const char* copy, unsigned char key) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) { printf("hash: cannot open %s\n", path); return 1; }
  size_t n = static_cast<size_t>(st.st_size);
  double t0 = now_s();
  auto m = static_cast<const unsigned char*>(mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0));
  if (m == MAP_FAILED) { printf("hash: mmap %s failed\n", path); return 1; }
  double t1 = now_s();
  uint64_t h_map = fnv1a(m, n);
  munmap(const_cast<unsigned char*>(m), n);
  int out = copy ? open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
  if (copy && out < 0) { printf("hash: cannot create %s\n", copy); return 1; }
  std::vector<unsigned char> buf(1 << 20);
  uint64_t h_read = 0xcbf29ce484222325ull;
  double read_s = 0, t2 = now_s();
  for (ssize_t r; (r = read(fd, buf.data(), buf.size())) > 0;) {
    double t = now_s();
    h_read = fnv1a(buf.data(), static_cast<size_t>(r), h_read);
    read_s += t - t2;
    for (ssize_t i = 0; i < r; i++) buf[i] ^= key;
    if (out >= 0 && write(out, buf.data(), static_cast<size_t>(r)) != r) { printf("hash: write %s failed\n", copy); return 1; }
    t2 = now_s();
  }
  double w0 = now_s();
  if (out >= 0 && (fsync(out) != 0 || close(out) != 0)) { printf("hash: fsync %s failed\n", copy); return 1; }
  close(fd);
  printf("hash: %s %zu bytes, mmap fnv1a %016llx, read fnv1a %016llx\n", path, n,
         static_cast<unsigned long long>(h_map), static_cast<unsigned long long>(h_read));
  // The BareFlow kernel fills private file mappings at mmap time (Linux: lazily, on touch).
  fprintf(stderr, "hash: %s: mmap %.1f MB/s (%.0f ms), read() %.1f MB/s\n", path, n / (t1 - t0) / 1e6,
          (t1 - t0) * 1e3, n / read_s / 1e6);
  if (copy) fprintf(stderr, "hash: final fsync of %s: %.0f ms\n", copy, (now_s() - w0) * 1e3);
  return 0;
}

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "threads") return threads();
  if (mode == "hash" && argc > 2) return hash_file(argv[2], argc > 3 ? argv[3] : nullptr, argc > 4 ? static_cast<unsigned char>(atoi(argv[4])) : 0);
  if (mode == "segv") { volatile int* p = nullptr; *p = 1; return 0; }
  if (mode == "persist-write" || mode == "persist-read") return persist(mode == "persist-write", argc > 2 ? argv[2] : "/state");
  std::string dir = argc > 1 ? argv[1] : "/state";
  test_process();
  test_time();
  test_memory();
  test_files(dir);
  test_big_pages(dir);
  test_more_files(dir);
  std::cout << "systest: " << passed << " passed, " << failed << " failed" << std::endl;
  return failed ? 1 : 0;
}
