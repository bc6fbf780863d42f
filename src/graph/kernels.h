// The implementations that can sit in a dispatch slot before any tuning:
// the reference kernels, single-threaded ("ref") or split across the pool ("ref-mt").
#pragma once
#include "graph/op.h"

namespace bf {

enum class Tier { Reference, Parallel };

// The kernel for `op` at `tier`, and its variant name.
KernelFn portable_kernel(OpKind kind, Tier tier);
const char* tier_name(Tier tier);

}  // namespace bf
