// The prompt GEMM generator's entry points. Internal to src/jit (jit.h is the API). It
// reads the same layouts as the matvec generator: the same LayoutPlan (emitter.h).
#pragma once
#include <cstdint>
#include <vector>

#include "jit/emitter.h"
#include "jit/jit.h"

namespace bf::jit {

// Vector registers the GEMM tile needs under `conf`; it fits when <= register_file(plan).
int gemm_vector_registers(const LayoutPlan& plan, const GemmConf& conf);

// The machine code for `plan` under `conf` (which must fit). Empty on an emitter error.
std::vector<uint8_t> emit_gemm(const LayoutPlan& plan, const GemmConf& conf);

}  // namespace bf::jit
