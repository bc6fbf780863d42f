// uaccess.h: checked views of user pointers. The user address space is mapped while
// the kernel runs, so a checked pointer is used directly; pages missing from a valid
// VMA are demand-filled by the page-fault handler.
#pragma once
#include "mm.h"

// Invariant: a non-null result lies wholly in [USER_MIN, USER_MAX) (overflow checked).
template <class T> T* user_ptr(u64 addr, u64 count = 1) {
  if (count > USER_MAX / (sizeof(T) ? sizeof(T) : 1)) return nullptr;
  return user_range_ok(addr, count * sizeof(T)) ? reinterpret_cast<T*>(addr) : nullptr;
}

// Copies a NUL-terminated user string into buf; -EFAULT or -ENAMETOOLONG on failure.
inline i64 user_string(u64 addr, char* buf, u64 cap) {
  for (u64 i = 0; i < cap; i++) {
    const char* p = user_ptr<const char>(addr + i);
    if (!p) return -14;
    buf[i] = *p;
    if (!buf[i]) return static_cast<i64>(i);
  }
  return -36;
}
