// serial.h: 16550 UARTs. COM1 carries the program's stdin/stdout. COM2, when QEMU
// provides one, carries stderr and kernel messages; otherwise they share COM1.
#pragma once
#include "rt.h"

void serial_init();
void serial_out_write(const char* s, usize n);   // program stdout
void serial_err_write(const char* s, usize n);   // program stderr
void serial_log_write(const char* s, usize n);   // kernel log: starts on a fresh line
usize serial_read(char* buf, usize n);           // blocks for >= 1 byte; 0 on ^D
bool serial_has_log_port();
void serial_flush();
