// The profiler's view of the op instances: calls, TSC cycles, bytes and multiply-adds
// per op instance, summed over instances of the same shape class (kind, weight type,
// rows x cols) and installed variant.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "graph/op.h"

namespace bf {

struct ProfileRow {
  std::string shape_class;  // e.g. "matmul Q8_0 768x2048"
  std::string variant;      // the installed variant's exact name
  int instances = 0;
  uint64_t calls = 0;
  uint64_t cycles = 0;
};

// Rows sorted by cycles, most expensive first. Disabled ops (never run) are left out.
std::vector<ProfileRow> profile_by_shape(const std::vector<OpInstance*>& ops);

// A fixed-width table of the rows, with each row's share of all cycles.
std::string format_profile(const std::vector<ProfileRow>& rows);

}  // namespace bf
