// statewriter: the guest half of the in-guest power-cut test (powercut.sh).
//
// In the guest (no arguments): reads /state/state.bin, checks that it is one
// complete version, then forever writes the next version the way the engine
// saves its snapshot: write /state/state.bin.tmp, fsync, close, rename over
// /state/state.bin. After each rename it prints "committed <gen>".
// In the guest with `--check`: only reads and checks /state/state.bin, prints
// "statewriter: check gen N" (or "statewriter: check no state") and exits 0;
// it writes nothing (the kernel's mount has already repaired a dirty volume).
// On the host: `statewriter --verify FILE` checks a state file and prints its
// generation ("gen N"), or exits 1 with a reason.
//
// A version: "BFSTATE <gen> <payload bytes>\n", then the payload (a stream
// derived from gen), then "END <checksum>\n". Sizes vary from 1 KB to ~300 KB,
// so versions differ in cluster count.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const char* kState = "/state/state.bin";
const char* kTemp = "/state/state.bin.tmp";

size_t PayloadSize(uint64_t gen) { return 1000 + size_t((gen * 104729) % 300000); }

std::string Make(uint64_t gen) {
  size_t n = PayloadSize(gen);
  char head[64];
  snprintf(head, sizeof head, "BFSTATE %" PRIu64 " %zu\n", gen, n);
  std::string s = head;
  uint64_t x = gen * 0x9E3779B97F4A7C15ull + 1, sum = 0;
  for (size_t i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    char c = char(x >> 56);
    s.push_back(c);
    sum = sum * 31 + uint8_t(c);
  }
  char tail[64];
  snprintf(tail, sizeof tail, "END %016" PRIx64 "\n", sum);
  return s + tail;
}

// Returns the generation of a complete version, or -1 with *why set.
int64_t Verify(const std::string& s, const char** why) {
  uint64_t gen;
  size_t n;
  int used = 0;
  if (sscanf(s.c_str(), "BFSTATE %" SCNu64 " %zu\n%n", &gen, &n, &used) != 2 || used == 0) {
    *why = "bad header";
    return -1;
  }
  if (s != Make(gen)) {
    *why = "content is not exactly one version (torn or mixed)";
    return -1;
  }
  return int64_t(gen);
}

bool ReadAll(const char* path, std::string* out, int* err) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  out->clear();
  char buf[65536];
  ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) > 0) out->append(buf, size_t(r));
  *err = r < 0 ? errno : 0;
  close(fd);
  return r == 0;
}

bool WriteVersion(uint64_t gen) {
  std::string s = Make(gen);
  int fd = open(kTemp, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) return perror("open tmp"), false;
  for (size_t off = 0; off < s.size();) {
    size_t chunk = std::min<size_t>(4096 + (gen % 3) * 1000, s.size() - off);
    ssize_t w = write(fd, s.data() + off, chunk);
    if (w <= 0) return perror("write tmp"), false;
    off += size_t(w);
  }
  if (fsync(fd) != 0) return perror("fsync tmp"), false;
  if (close(fd) != 0) return perror("close tmp"), false;
  if (rename(kTemp, kState) != 0) return perror("rename"), false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--verify") == 0) {
    std::string s;
    int err;
    if (!ReadAll(argv[2], &s, &err)) {
      printf("cannot read %s: %s\n", argv[2], strerror(err));
      return 1;
    }
    const char* why = "";
    int64_t g = Verify(s, &why);
    if (g < 0) {
      printf("%s: %s (%zu bytes)\n", argv[2], why, s.size());
      return 1;
    }
    printf("gen %" PRId64 "\n", g);
    return 0;
  }
  std::string s;
  int err;
  uint64_t gen = 0;
  if (ReadAll(kState, &s, &err)) {
    const char* why = "";
    int64_t g = Verify(s, &why);
    if (g < 0) {
      printf("statewriter: CORRUPT state at boot: %s\n", why);
      return 3;
    }
    gen = uint64_t(g);
    printf("statewriter: found gen %" PRIu64 "\n", gen);
  } else if (err != ENOENT) {
    printf("statewriter: cannot read %s: %s\n", kState, strerror(err));
    return 3;
  } else {
    printf("statewriter: no state yet\n");
  }
  fflush(stdout);
  if (argc == 2 && strcmp(argv[1], "--check") == 0) {
    if (s.empty() && err == ENOENT) printf("statewriter: check no state\n");
    else printf("statewriter: check gen %" PRIu64 "\n", gen);
    fflush(stdout);
    return 0;
  }
  uint64_t limit = argc == 2 ? strtoull(argv[1], nullptr, 10) : UINT64_MAX;
  for (uint64_t i = 0; i < limit; i++) {
    if (!WriteVersion(++gen)) return 4;
    printf("committed %" PRIu64 "\n", gen);
    fflush(stdout);
  }
  return 0;
}
