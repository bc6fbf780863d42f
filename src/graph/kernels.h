// The implementations that can sit in a dispatch slot before any tuning:
// the reference kernels, single-threaded ("ref") or split across the pool ("ref-mt"),
// and the AVX2+FMA matvec split across the pool ("avx2-mt", other ops as ref-mt).
#pragma once
#include <string>

#include "graph/op.h"

namespace bf {

enum class Tier { Reference, Parallel, Avx2 };

// The kernel for `op` at `tier`, and its variant name.
KernelFn portable_kernel(OpKind kind, Tier tier);
const char* tier_name(Tier tier);

// The fastest tier this CPU runs, capped by `max_isa` ("sse2" = baseline x86-64,
// "avx2", or "" for no cap). Throws InputError for an unknown ISA name.
Tier best_tier(const std::string& max_isa = "");

}  // namespace bf
