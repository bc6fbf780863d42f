// The matvec generator's entry points. Internal to src/jit (jit.h is the API).
#pragma once
#include <cstdint>
#include <vector>

#include "jit/emitter.h"
#include "jit/jit.h"

namespace bf::jit {

// Vector registers the kernel needs under `conf`; it fits when <= register_file(plan).
int vector_registers(const LayoutPlan& plan, const MatvecConf& conf);

// The machine code for `plan` under `conf` (which must fit). Empty on an emitter error.
std::vector<uint8_t> emit_matvec(const LayoutPlan& plan, const MatvecConf& conf);

}  // namespace bf::jit
