// serial.cpp: polled 16550 driver (the kernel takes no interrupts).
#include "serial.h"

namespace {
constexpr u16 COM1 = 0x3f8, COM2 = 0x2f8;
u16 log_port = COM1;
bool at_line_start[2] = {true, true};   // per port: last byte written was '\n'

bool probe(u16 base) {
  outb(base + 7, 0x5a);                  // scratch register round trip
  return inb(base + 7) == 0x5a;
}

void init_port(u16 base) {
  outb(base + 1, 0x00);                  // no interrupts
  outb(base + 3, 0x80);                  // DLAB
  outb(base + 0, 0x01);                  // 115200 baud
  outb(base + 1, 0x00);
  outb(base + 3, 0x03);                  // 8N1
  outb(base + 2, 0x07);                  // FIFO on, cleared
  outb(base + 4, 0x03);                  // DTR | RTS
}

void put(u16 base, char c) {
  while (!(inb(base + 5) & 0x20)) cpu_relax();
  outb(base, static_cast<u8>(c));
}

void write_port(u16 base, const char* s, usize n) {
  for (usize i = 0; i < n; i++) put(base, s[i]);
  if (n) at_line_start[base == COM1 ? 0 : 1] = s[n - 1] == '\n';
}
}  // namespace

void serial_init() {
  init_port(COM1);
  if (probe(COM2)) {
    init_port(COM2);
    log_port = COM2;
  }
}

bool serial_has_log_port() { return log_port != COM1; }
void serial_out_write(const char* s, usize n) { write_port(COM1, s, n); }
void serial_err_write(const char* s, usize n) { write_port(log_port, s, n); }

void serial_log_write(const char* s, usize n) {
  if (!at_line_start[log_port == COM1 ? 0 : 1]) put(log_port, '\n');
  write_port(log_port, s, n);
}

usize serial_read(char* buf, usize n) {
  usize got = 0;
  while (got < n) {
    if (!(inb(COM1 + 5) & 0x01)) {
      if (got) break;
      cpu_relax();
      continue;
    }
    char c = static_cast<char>(inb(COM1));
    if (c == 0x04) break;                // ^D: end of input
    if (c == '\r') c = '\n';
    buf[got++] = c;
    if (c == '\n') break;
  }
  return got;
}

void serial_flush() {
  while (!(inb(COM1 + 5) & 0x40)) cpu_relax();
  while (!(inb(log_port + 5) & 0x40)) cpu_relax();
}
