// What every generator of src/jit shares: the plan of a weight layout (which bytes of the
// hand-written variants' r8 / r16 layouts hold what, for one type and shape) and the
// emitter base class that both kernel kinds (matvec_gen.cpp, gemm_gen.cpp) derive from,
// oneDNN's jit_generator style: one generator class per kernel kind, the type and ISA
// as data of the plan, never as tests scattered through the kinds.
//
// Both layouts store, per row group (one row per dword lane) and block of 32 columns,
// "k-group" vectors holding 4 consecutive columns of every row: for Q8_0, k-group j
// (columns 4j..4j+3) is the vector at byte j*vbytes of the block; for every other type
// the vector at k*vbytes (k < 4) holds k-group k in its low nibbles and k-group k + 4 in
// its high nibbles, and the 5-bit types (Q5_0, Q5_1, Q5_K) one, Q6_K two more bits per
// value in bit planes after the nibbles. So a k-group is always a dot with the 4
// activation bytes 4j..4j+3 broadcast to every lane, and only the addressing differs:
//   r16: groups interleaved by sets of 4, block by block, scales after the values in w;
//   r8:  groups one after the other, scales in w_scales.
// Values are unsigned (u); weight = scale * (u - offset) (+ a min): the offset is undone
// exactly in the int32 sums with the block's activation sum (sum(w x) = sum(u x) -
// offset * sum(x)); a min (Q4_1, Q5_1, K types' m) is scaled by sum(x) in f32.
#pragma once
#include <xbyak/xbyak.h>

#include <cstdint>
#include <vector>

#include "cpu/cpu.h"
#include "kernels/dtype.h"

namespace bf::jit {

// Everything the emitted code bakes in: the layout of the hand-written variant of the
// ISA level (r8 or r16) for this type and shape.
struct LayoutPlan {
  DType type = DType::Q8_0;
  // F32, F16, BF16 (jit/float_gen.cpp): the file's row-major rows of elem_bytes values;
  // then only zmm, lanes (1: a row is a group), vbytes, rows and cols below hold.
  bool native = false;
  int elem_bytes = 0;
  bool zmm = false;          // r16 on zmm (16 rows per group), else r8 on ymm (8)
  bool nibbles = false;      // every type but Q8_0 (Q8_0: u = w + 128 in whole bytes)
  int high_bits = 0;         // bits above the nibble from planes: 1 (Q5_*), 2 (Q6_K), else 0
  uint32_t high_mask = 0;    // where the plane bits land in each byte: 0x10 or 0x30, replicated
  bool k_quant = false;      // Q4_K, Q5_K, Q6_K: scale items per super-block of 8 blocks
  bool q6 = false;           // Q6_K: an int8 scale per half block, u - 32 per half
  bool has_min = false;      // Q4_1, Q5_1: an f16 min m per row and block
  int lanes = 8;             // rows per group, one per dword lane
  int vbytes = 32;           // bytes per vector register
  int64_t rows = 0, cols = 0, blocks = 0, groups = 0;
  int block_bytes = 0;       // values of one block of one row group
  int64_t scale_items = 0;   // scale items per row group: one per block, or per super-block (K)
  int scale_bytes = 0;       // of one scale item of one row group
  // Q4_1/Q5_1: m at m_at in the scale item. K: where in a scale item d, dmin, the sc
  // bytes of block 0 and its m bytes are, the bytes from one block's sc (m) to the
  // next's, and whether dmin is stored negated (r8).
  int dmin_at = 0, sc_at = 0, m_at = 0, sub_stride = 0;
  bool dmin_negated = false;
  // Planes: where the high bits of load k's low (h = 0) or high (h = 1) nibbles are:
  // the plane's byte offset in the value block and the shift that brings them to bit 4
  // (> 0: left).
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
  static bool make(DType type, IsaLevel isa, int64_t rows, int64_t cols, LayoutPlan& out);

  // The madd dot's sums stay in words through a whole block (4-bit values: 8 k-groups
  // of pairs <= 2 * 15 * 128 < 2^15); wider values widen every product at once.
  bool word_sums() const { return nibbles && high_bits == 0; }
};

// Vector registers of the ISA's file.
int register_file(const LayoutPlan& plan);

// The emitter base: general registers fixed for every kernel kind, MatmulArgs loads,
// width-neutral vector helpers, the row-group walk, value decode, the dot step, scale
// loads and the row-range masks. Vector register numbers are the derived kind's.
class Emitter : public Xbyak::CodeGenerator {
 protected:
  Emitter(const LayoutPlan& p, uint8_t* buf, size_t size) : CodeGenerator(size, buf), p_(p) {}

  // System V: args, begin, end arrive in rdi, rsi, rdx and stay there.
  const Xbyak::Reg64 args_ = rdi, begin_ = rsi, end_ = rdx;
  const Xbyak::Reg64 x_ = r8, xd_ = r9, xsum_ = r10, out_ = r11;  // the current (first) token's rows
  const Xbyak::Reg64 rg_ = rbx, rg_end_ = rbp;                    // row groups
  const Xbyak::Reg64 val_ = r12, scl_ = r13;                      // the step's first group, current block
  const Xbyak::Reg64 val_step_ = r14, scl_step_ = r15;            // bytes from one block to the next
  const Xbyak::Reg64 b4_ = rcx;                                   // 4 * block index

  const LayoutPlan& p_;
  Xbyak::Label mask_table_;

  // ---- frame: callee-saved registers and `frame` bytes of stack; the ymm mask table
  void prologue(int frame);
  void epilogue(int frame);  // returns; then the mask table (r8)
  // x_, xd_, xsum_, out_ from MatmulArgs (token 0).
  void load_token_pointers();
  Xbyak::Address arg_tokens() { return dword[args_ + kArgTokens]; }
  Xbyak::Address arg_stride() { return qword[args_ + kArgStride]; }

  // ---- width-neutral helpers (EVEX forms on zmm, VEX on ymm)
  Xbyak::Xmm v(int i) const;
  void vand(const Xbyak::Xmm& d, const Xbyak::Xmm& a, const Xbyak::Xmm& b);
  void vxor(const Xbyak::Xmm& d, const Xbyak::Xmm& a, const Xbyak::Xmm& b);
  void vmov(const Xbyak::Xmm& d, const Xbyak::Xmm& s);
  void vload(const Xbyak::Xmm& d, const Xbyak::Address& a);
  void vzero(const Xbyak::Xmm& d) { vxor(d, d, d); }
  void broadcast_eax(const Xbyak::Xmm& d);      // every lane = eax
  void constant(int reg, uint32_t dword);        // every lane = dword; nothing when reg < 0
  int lanes_shift() const { return p_.zmm ? 4 : 3; }

  // ---- the walk over row groups: steps of `groups` groups where they fit in
  // [begin, end) (and, r16, in one set of 4), else single groups; then jumps to `done`.
  template <class Step>
  void row_group_loop(int groups, Xbyak::Label& done, Step step);
  // Points val_/scl_ at block 0 of group rg_, with their per-block strides.
  void step_pointers();
  Xbyak::Address value(int g, int64_t at) { return ptr[val_ + static_cast<int>(g * p_.group_values + at)]; }
  Xbyak::Address scale(int g, int at) { return ptr[scl_ + static_cast<int>(g * p_.group_scales + at)]; }
  // Cache line `line` of each of `groups` groups' blocks `ahead` bytes ahead.
  void prefetch_line(int groups, int line, int ahead);

  // ---- value decode
  // Q8_0's k-group j and the nibble types' load k (k-groups k and k + 4) of group g:
  // lo, hi = the unsigned values, high bits included (plane: a temporary, high_mask:
  // the register holding p.high_mask, low_mask the one holding 0x0f).
  void load_nibbles(int g, int k, const Xbyak::Xmm& lo, const Xbyak::Xmm& hi, int low_mask, int plane, int high_mask);
  // Only one of them: k-group k (h = 0) or k + 4 (h = 1) into u.
  void load_half(int g, int k, int h, const Xbyak::Xmm& u, int low_mask, int plane, int high_mask);
  void add_plane_bits(int g, int k, int h, const Xbyak::Xmm& u, int plane, int high_mask);

  // ---- the dot step: acc += u . x (4 unsigned by 4 signed bytes per lane), either
  // vpdpbusd, vpmaddubsw into word sums, or vpmaddubsw + vpmaddwd into dword sums.
  enum class Dot { Vnni, Words, Dwords };
  Dot dot_kind(bool vnni) const { return vnni ? Dot::Vnni : p_.word_sums() ? Dot::Words : Dot::Dwords; }
  void dot(Dot kind, const Xbyak::Xmm& acc, const Xbyak::Xmm& u, const Xbyak::Xmm& x, int prod, int ones);

  // ---- scale loads (of group g's current scale item, block `sub` in its super-block)
  void load_d(const Xbyak::Xmm& dst, int g) { vcvtph2ps(dst, scale(g, 0)); }
  void load_min(const Xbyak::Xmm& dst, int g) { vcvtph2ps(dst, scale(g, p_.m_at)); }  // Q4_1, Q5_1
  void load_dmin(const Xbyak::Xmm& dst, int g) { vcvtph2ps(dst, scale(g, p_.dmin_at)); }  // K
  // K: the block's integer sc (or m when `min`) as f32.
  void load_sub(const Xbyak::Xmm& dst, int g, int sub, bool min);
  // Q6_K: the int8 scale of half h as int32.
  void load_half_scale(const Xbyak::Xmm& dst, int g, int sub, int h);
  // dst (xmm lane 0) = d_x * sum(x) of the block at token offset `token_at` (bytes in
  // the d and sum arrays); then broadcast to `wide`.
  void scaled_sum(const Xbyak::Xmm& wide, int token_at);
  // eax = sum of activations 0-15 of the current block of the token at `x_at` (bytes
  // from x_); a and b: temporaries below 16.
  void first_half_sum(int x_at, int a, int b);

  // ---- stores: rax = row group rg_ + g's first row; the lanes of its rows in
  // [begin, end) in k1 (zmm) or the ymm `mask` (`tmp`: a second ymm). Clobbers b4_,
  // scl_, val_step_, val_.
  void row_mask(int g, int mask, int tmp);

 private:
  static const int kArgTokens, kArgStride;
};

template <class Step>
void Emitter::row_group_loop(int groups, Xbyak::Label& done, Step step) {
  Xbyak::Label group_loop, single;
  mov(rg_, begin_);
  shr(rg_, lanes_shift());
  lea(rg_end_, ptr[end_ + p_.lanes - 1]);
  shr(rg_end_, lanes_shift());
  L(group_loop);
  cmp(rg_, rg_end_);
  jge(done, T_NEAR);
  if (groups > 1) {
    // A step of several groups: inside [begin, end), and for r16 inside one set of
    // 4 (aligned to the step, so it cannot cross a set; the last set may be narrower).
    if (p_.sets) {
      test(rg_, groups - 1);
      jnz(single, T_NEAR);
    }
    lea(rax, ptr[rg_ + groups]);
    cmp(rax, rg_end_);
    jg(single, T_NEAR);
    step(groups);
    add(rg_, groups);
    jmp(group_loop, T_NEAR);
  }
  L(single);
  step(1);
  inc(rg_);
  jmp(group_loop, T_NEAR);
}

// The machine code of generator Gen(plan, conf, buffer, size) written into `bound`
// bytes; empty on an emitter error (Xbyak throws, for one, past the bound).
template <class Gen, class Conf>
std::vector<uint8_t> emit_code(const LayoutPlan& plan, const Conf& conf, size_t bound) {
  std::vector<uint8_t> buf(bound);
  try {
    Gen gen(plan, conf, buf.data(), buf.size());
    buf.resize(gen.getSize());
  } catch (const Xbyak::Error&) {
    return {};
  }
  return buf;
}

}  // namespace bf::jit
