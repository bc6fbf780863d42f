// The float generator's entry points (F32, F16, BF16 over the file's native row-major
// rows, f32 input). Internal to src/jit (jit.h is the API).
#pragma once
#include <cstdint>
#include <vector>

#include "jit/emitter.h"
#include "jit/jit.h"

namespace bf::jit {

// One tile shape of the float kernel, from either conf kind: rows x tokens, each output
// with `accs` accumulator chains, `unroll` vectors per chain per loop iteration.
struct FloatTile {
  int rows = 1, tokens = 1, accs = 1, unroll = 1, prefetch = 0;
};
FloatTile float_tile(const MatvecConf& c);
FloatTile float_tile(const GemmConf& c);

// Vector registers the tile needs; it fits when <= register_file(plan).
int float_vector_registers(const FloatTile& t);

// The knobs a float kernel takes (the dot kind and chunk are integer knobs: off).
bool float_conf_fits(const LayoutPlan& plan, const MatvecConf& c);
bool float_conf_fits(const LayoutPlan& plan, const GemmConf& c);

// The machine code for `plan` (native) with tile `t` (which must fit). Empty on an emitter error.
std::vector<uint8_t> emit_float(const LayoutPlan& plan, const FloatTile& t);

}  // namespace bf::jit
