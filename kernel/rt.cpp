// rt.cpp: memory/string helpers, kprintf and the exit path.
#include "rt.h"
#include "serial.h"
#include "acpi.h"
#include <stdarg.h>

// Plain word loops, not "rep movsb/stosb": under kvm-pvm the guest kernel's string
// instructions were measured ~100x slower (they get emulated), so the kernel avoids them.
extern "C" void* memcpy(void* dst, const void* src, usize n) {
  auto d = static_cast<u8*>(dst);
  auto s = static_cast<const u8*>(src);
  if (((reinterpret_cast<uptr>(d) | reinterpret_cast<uptr>(s)) & 7) == 0) {
    for (; n >= 32; n -= 32, d += 32, s += 32) {
      u64 a = reinterpret_cast<const u64*>(s)[0], b = reinterpret_cast<const u64*>(s)[1];
      u64 c = reinterpret_cast<const u64*>(s)[2], e = reinterpret_cast<const u64*>(s)[3];
      reinterpret_cast<u64*>(d)[0] = a, reinterpret_cast<u64*>(d)[1] = b;
      reinterpret_cast<u64*>(d)[2] = c, reinterpret_cast<u64*>(d)[3] = e;
    }
    for (; n >= 8; n -= 8, d += 8, s += 8) *reinterpret_cast<u64*>(d) = *reinterpret_cast<const u64*>(s);
  }
  for (; n; n--) *d++ = *s++;
  return dst;
}
extern "C" void* memmove(void* dst, const void* src, usize n) {
  auto d = static_cast<u8*>(dst);
  auto s = static_cast<const u8*>(src);
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  for (usize i = n; i > 0; i--) d[i - 1] = s[i - 1];
  return dst;
}
extern "C" void* memset(void* dst, int c, usize n) {
  auto d = static_cast<u8*>(dst);
  u64 w = 0x0101010101010101ul * static_cast<u8>(c);
  for (; n && (reinterpret_cast<uptr>(d) & 7); n--) *d++ = static_cast<u8>(c);
  for (; n >= 8; n -= 8, d += 8) *reinterpret_cast<u64*>(d) = w;
  for (; n; n--) *d++ = static_cast<u8>(c);
  return dst;
}
extern "C" int memcmp(const void* a, const void* b, usize n) {
  auto x = static_cast<const u8*>(a), y = static_cast<const u8*>(b);
  for (usize i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}
extern "C" usize strlen(const char* s) {
  usize n = 0;
  while (s[n]) n++;
  return n;
}
int strcmp(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return static_cast<u8>(*a) - static_cast<u8>(*b);
}
int strncmp(const char* a, const char* b, usize n) {
  for (usize i = 0; i < n; i++) {
    if (a[i] != b[i] || !a[i]) return static_cast<u8>(a[i]) - static_cast<u8>(b[i]);
  }
  return 0;
}
char* strncpy0(char* dst, const char* src, usize cap) {
  usize i = 0;
  for (; i + 1 < cap && src[i]; i++) dst[i] = src[i];
  if (cap) dst[i] = 0;
  return dst;
}

namespace {
struct Out {
  char* buf;
  usize cap, len;
  void put(char c) {
    if (len + 1 < cap) buf[len] = c;
    len++;
  }
};

void put_num(Out& o, u64 v, unsigned base, int width, char pad, bool neg) {
  char tmp[24];
  int n = 0;
  do { tmp[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
  if (neg) tmp[n++] = '-';
  while (n < width--) o.put(pad);
  while (n) o.put(tmp[--n]);
}

void format(Out& o, const char* f, va_list ap) {
  for (; *f; f++) {
    if (*f != '%') { o.put(*f); continue; }
    f++;
    char pad = ' ';
    int width = 0, longs = 0;
    if (*f == '0') { pad = '0'; f++; }
    while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    while (*f == 'l') { longs++; f++; }
    switch (*f) {
      case 's': { const char* s = va_arg(ap, const char*); for (s = s ? s : "(null)"; *s; s++) o.put(*s); break; }
      case 'c': o.put(static_cast<char>(va_arg(ap, int))); break;
      case 'd': { i64 v = longs ? va_arg(ap, i64) : va_arg(ap, int); put_num(o, v < 0 ? -v : v, 10, width, pad, v < 0); break; }
      case 'u': put_num(o, longs ? va_arg(ap, u64) : va_arg(ap, u32), 10, width, pad, false); break;
      case 'x': put_num(o, longs ? va_arg(ap, u64) : va_arg(ap, u32), 16, width, pad, false); break;
      case 'p': o.put('0'); o.put('x'); put_num(o, reinterpret_cast<u64>(va_arg(ap, void*)), 16, 0, ' ', false); break;
      case '%': o.put('%'); break;
      default: o.put('%'); o.put(*f); break;
    }
  }
}
}  // namespace

int ksnprintf(char* buf, usize cap, const char* fmt, ...) {
  Out o{buf, cap, 0};
  va_list ap;
  va_start(ap, fmt);
  format(o, fmt, ap);
  va_end(ap);
  if (cap) buf[min(o.len, cap - 1)] = 0;
  return static_cast<int>(o.len);
}

void (*spin_poll)() = nullptr;
static Spinlock log_lock;

void kprintf(const char* fmt, ...) {
  char buf[512];
  Out o{buf, sizeof buf, 0};
  va_list ap;
  va_start(ap, fmt);
  format(o, fmt, ap);
  va_end(ap);
  LockGuard g(log_lock);
  serial_log_write(buf, min(o.len, sizeof buf - 1));
}

[[noreturn]] void machine_exit(int status) {
  serial_flush();
  outb(0xf4, static_cast<u8>(status > 127 ? 127 : status));   // QEMU exits with (v << 1) | 1
  acpi_power_off();                       // PCs (and QEMU without isa-debug-exit)
  outw(0x604, 0x2000);                    // QEMU's PIIX PM block, if the tables were not found
  for (;;) asm volatile("cli; hlt");
}

[[noreturn]] void panic(const char* fmt, ...) {
  char buf[400];
  Out o{buf, sizeof buf, 0};
  va_list ap;
  va_start(ap, fmt);
  format(o, fmt, ap);
  va_end(ap);
  buf[min(o.len, sizeof buf - 1)] = 0;
  kprintf("bfk: panic: %s\n", buf);
  machine_exit(EXIT_KERNEL_PANIC);
}
