// The profiler's view of the dispatch slots: calls and TSC cycles per op instance,
// summed over instances of the same shape class (kind, weight type, rows x cols).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "graph/op.h"

namespace bf {

struct ProfileRow {
  std::string shape_class;  // e.g. "matvec Q8_0 768x2048"
  const char* variant = "";
  int instances = 0;
  uint64_t calls = 0;
  uint64_t cycles = 0;
};

// Rows sorted by cycles, most expensive first.
std::vector<ProfileRow> profile_by_shape(const std::vector<OpInstance*>& ops);

// A fixed-width table of the rows, with each row's share of all cycles.
std::string format_profile(const std::vector<ProfileRow>& rows);

}  // namespace bf
