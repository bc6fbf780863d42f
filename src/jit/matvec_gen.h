// The matvec generator's facts and entry point. Internal to src/jit (jit.h is the API).
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/cpu.h"
#include "jit/jit.h"
#include "kernels/dtype.h"

namespace bf::jit {

// Everything the emitted code bakes in: the layout of the hand-written variant of the
// ISA level (r8 or r16) for this type and shape.
struct MatvecPlan {
  DType type = DType::Q8_0;
  bool zmm = false;          // r16 on zmm (16 rows per group), else r8 on ymm (8)
  bool nibbles = false;      // Q4_0 (u = nibble, weight = u - 8), Q4_K; else Q8_0 (u = w + 128)
  bool k_quant = false;      // Q4_K, Q6_K: scale items per super-block of 8 blocks
  bool q6 = false;           // Q6_K: 2 high bits per value, int8 scale per half block, u - 32
  int lanes = 8;             // rows per group, one per dword lane
  int vbytes = 32;           // bytes per vector register
  int64_t rows = 0, cols = 0, blocks = 0, groups = 0;
  int block_bytes = 0;       // values of one block of one row group
  int64_t scale_items = 0;   // scale items per row group: one per block, or per super-block (K)
  int scale_bytes = 0;       // of one scale item of one row group
  // K: where in a scale item d, dmin, the sc bytes of block 0 and its m bytes are, the
  // bytes from one block's sc (m) to the next's, and whether dmin is stored negated (r8).
  int dmin_at = 0, sc_at = 0, m_at = 0, sub_stride = 0;
  bool dmin_negated = false;
  // Q6_K: where bits 4-5 of load k's low (hi = 0) or high nibbles are: the plane's byte
  // offset in the value block and the shift that brings them to bits 4-5 (> 0: left).
  int plane_at[4][2] = {}, plane_shift[4][2] = {};
  // Q6_K: the int8 scales of half h of block `sub`: in the scale item (r16) at
  // sc_at + sub * sub_stride + h * half_stride, or in the value block (r8) at sc_at + h * half_stride.
  bool sub_in_values = false;
  int half_stride = 0;
  bool sets = false;         // r16: groups interleaved by sets of 4, scales after the values in w
  int64_t value_bytes = 0;   // r16: offset of the scales in w
  int offset = 0;            // weight = u - offset
  int64_t group_values = 0;  // bytes from one row group's block to the next group's in a step
  int64_t group_scales = 0;  // likewise for scales

  // The plan for (type, isa, shape), or false when none fits.
  static bool make(DType type, IsaLevel isa, int64_t rows, int64_t cols, MatvecPlan& out);
};

// Vector registers the kernel needs under `conf`; it fits when <= the ISA's file.
int vector_registers(const MatvecPlan& plan, const MatvecConf& conf);
int register_file(const MatvecPlan& plan);

// The machine code for `plan` under `conf` (which must fit). Empty on an emitter error.
std::vector<uint8_t> emit_matvec(const MatvecPlan& plan, const MatvecConf& conf);

}  // namespace bf::jit
