// The profiler's view of the op instances: calls, TSC cycles, bytes and operations per
// op instance, summed over instances of the same shape class (kind, weight type,
// rows x cols) and the variant that ran them. An op whose token steps run a variant of
// their own (OpInstance::step) gives two rows: its steps ("n1") and its prompt chunks.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "graph/op.h"

namespace bf {

struct ProfileRow {
  std::string shape_class;  // e.g. "matmul Q8_0 768x2048"
  std::string variant;      // the variant's exact name
  std::string tier;         // the tuner's tier of the class ("fixed" when not tuned)
  int instances = 0;
  uint64_t calls = 0;
  uint64_t cycles = 0;
  uint64_t bytes = 0;  // weights and activations streamed
  uint64_t macs = 0;   // multiply-adds (matmuls)
};

// Names the tier an op is in for prompt chunks (true) or token steps; null: "fixed".
using TierOf = std::function<const char*(const OpInstance&, bool prompt)>;

// Rows sorted by cycles, most expensive first. Disabled ops (never run) are left out.
std::vector<ProfileRow> profile_by_shape(const std::vector<OpInstance*>& ops, const TierOf& tier_of = nullptr);

// The profiler's own cost: TSC cycles of the runner's bookkeeping per call, measured.
double profiler_cycles_per_call();

// TSC ticks per second, measured once against the steady clock (about 20 ms).
double tsc_hz();

// A fixed-width table of the rows: calls, ms, share of all cycles, GB/s or GOP/s, the
// variant and its tier; then the profiler's overhead over these calls.
std::string format_profile(const std::vector<ProfileRow>& rows);

}  // namespace bf
