// The layout plan and the emitter base shared by the matvec and GEMM generators.
#include "jit/emitter.h"

#include <cstddef>

#include "kernels/contract.h"

namespace bf::jit {

namespace {

bool generated_type(DType t) {
  switch (t) {
    case DType::Q8_0: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: return true;
    default: return false;
  }
}

int high_bits_of(DType t) {
  return t == DType::Q6_K ? 2 : t == DType::Q5_0 || t == DType::Q5_1 || t == DType::Q5_K ? 1 : 0;
}

// Q6_K (r16, layout.h): k-group j's bits at 2(j%4) of plane j/4, so load k's low nibbles
// (k-group k) in plane 0 and its high ones (k + 4) in plane 1, both at 2k.
// Q6_K (r8, r8_layout.h): plane k/2; even k at bits 4 (lo) and 6 (hi), odd k at 0 and 2.
// 5-bit (r16): bit j of the one plane for k-group j: lo at bit k, hi at bit k + 4.
// 5-bit (r8): lo at bit 4 + k, hi at bit k.
void place_planes(LayoutPlan& p) {
  const int nibble_bytes = 4 * p.vbytes, plane_bytes = p.vbytes;
  for (int k = 0; k < 4; ++k)
    for (int h = 0; h < 2; ++h) {
      int at = 0, bit = 0;
      if (p.q6) {
        at = p.zmm ? nibble_bytes + plane_bytes * h : nibble_bytes + plane_bytes * (k / 2);
        bit = p.zmm ? 2 * k : (k % 2 ? 0 : 4) + 2 * h;
      } else {
        at = nibble_bytes;
        bit = p.zmm ? k + 4 * h : (h ? k : 4 + k);
      }
      p.plane_at[k][h] = at;
      p.plane_shift[k][h] = 4 - bit;
    }
}

// The float types' plan: at least one vector of columns, every tile offset (8 rows or
// tokens of a row) in a 32-bit displacement.
bool make_native(DType type, IsaLevel isa, int64_t rows, int64_t cols, LayoutPlan& p) {
  p = LayoutPlan{};
  p.type = type;
  p.native = true;
  p.elem_bytes = type == DType::F32 ? 4 : 2;
  p.zmm = isa != IsaLevel::Avx2;
  p.lanes = 1;
  p.vbytes = p.zmm ? 64 : 32;
  p.rows = rows;
  p.cols = cols;
  p.groups = rows;
  return rows >= 1 && cols >= p.vbytes / 4 && cols <= (int64_t{1} << 24);
}

}  // namespace

bool LayoutPlan::make(DType type, IsaLevel isa, int64_t rows, int64_t cols, LayoutPlan& p) {
  const bool level = isa == IsaLevel::Avx2 || isa == IsaLevel::Avx512 || isa == IsaLevel::Avx512Vnni;
  if (level && (type == DType::F32 || type == DType::F16 || type == DType::BF16))
    return make_native(type, isa, rows, cols, p);
  if (!generated_type(type)) return false;
  const bool k_quant = type == DType::Q4_K || type == DType::Q5_K || type == DType::Q6_K;
  const int64_t unit = k_quant ? 256 : 32;
  if (rows < 1 || cols < unit || cols % unit != 0) return false;
  if (isa != IsaLevel::Avx2 && isa != IsaLevel::Avx512 && isa != IsaLevel::Avx512Vnni) return false;
  p = LayoutPlan{};
  p.type = type;
  p.zmm = isa != IsaLevel::Avx2;
  p.nibbles = type != DType::Q8_0;
  p.high_bits = high_bits_of(type);
  p.high_mask = p.high_bits == 2 ? 0x30303030 : 0x10101010;
  p.k_quant = k_quant;
  p.q6 = type == DType::Q6_K;
  p.has_min = type == DType::Q4_1 || type == DType::Q5_1;
  p.lanes = p.zmm ? 16 : 8;
  p.vbytes = 4 * p.lanes;
  p.rows = rows;
  p.cols = cols;
  p.blocks = cols / 32;
  p.groups = (rows + p.lanes - 1) / p.lanes;
  // Nibbles, a vector-sized plane per high bit; r8 Q6_K then 16 bytes of int8 scales.
  p.block_bytes = p.nibbles ? 4 * p.vbytes + p.high_bits * p.vbytes + (p.q6 && !p.zmm ? 16 : 0) : 8 * p.vbytes;
  p.sets = p.zmm;
  p.value_bytes = p.groups * p.blocks * p.block_bytes;
  switch (type) {
    case DType::Q8_0: p.offset = 128; break;
    case DType::Q4_0: p.offset = 8; break;
    case DType::Q5_0: p.offset = 16; break;
    case DType::Q6_K: p.offset = 32; break;
    default: p.offset = 0; break;
  }
  if (p.high_bits) place_planes(p);
  if (p.q6) {
    p.scale_items = p.blocks / 8;
    p.scale_bytes = 2 * p.lanes + (p.zmm ? 16 * p.lanes : 0);  // f16 d (r16: + int8 [block][half][row])
    p.sub_in_values = !p.zmm;
    p.sc_at = p.zmm ? 2 * p.lanes : 4 * p.vbytes + 2 * p.vbytes;
    p.sub_stride = p.zmm ? 2 * p.lanes : 0;
    p.half_stride = p.lanes;
  } else if (p.k_quant) {
    // r16 (layout.h): 16 f16 d, 16 f16 dmin, sc [block][row], m [block][row].
    // r8 (r8_layout.h): 8 f16 d, 8 f16 -dmin, then per block sc [row], m [row].
    p.scale_items = p.blocks / 8;
    p.dmin_at = 2 * p.lanes;
    p.sc_at = 4 * p.lanes;
    p.sub_stride = p.sets ? p.lanes : 2 * p.lanes;
    p.m_at = p.sc_at + (p.sets ? 8 * p.lanes : p.lanes);
    p.scale_bytes = 4 * p.lanes + 16 * p.lanes;
    p.dmin_negated = !p.sets;
  } else {
    p.scale_items = p.blocks;
    p.scale_bytes = (p.has_min ? 4 : 2) * p.lanes;  // f16 d (then f16 m)
    p.m_at = 2 * p.lanes;
  }
  p.group_values = p.sets ? p.block_bytes : p.blocks * p.block_bytes;
  p.group_scales = p.sets ? p.scale_bytes : p.scale_items * p.scale_bytes;
  // Every displacement the code uses must fit a signed 32-bit field.
  return 3 * p.group_values + p.block_bytes + 65536 < (int64_t{1} << 31) && cols < (int64_t{1} << 31);
}

int register_file(const LayoutPlan& p) { return p.zmm ? 32 : 16; }

using namespace Xbyak;

namespace {

// MatmulArgs fields, read at their fixed offsets.
constexpr int kArgW = offsetof(MatmulArgs, w);
constexpr int kArgScales = offsetof(MatmulArgs, w_scales);
constexpr int kArgQs = offsetof(MatmulArgs, xq) + offsetof(Q8Rows, qs);
constexpr int kArgD = offsetof(MatmulArgs, xq) + offsetof(Q8Rows, d);
constexpr int kArgSum = offsetof(MatmulArgs, xq) + offsetof(Q8Rows, sum);
constexpr int kArgOut = offsetof(MatmulArgs, out);

const Reg64 kCalleeSaved[6] = {Xbyak::util::rbx, Xbyak::util::rbp, Xbyak::util::r12,
                               Xbyak::util::r13, Xbyak::util::r14, Xbyak::util::r15};

}  // namespace

const int Emitter::kArgTokens = offsetof(MatmulArgs, n_tokens);
const int Emitter::kArgStride = offsetof(MatmulArgs, out_stride);

void Emitter::prologue(int frame) {
  for (const Reg64& r : kCalleeSaved) push(r);
  if (frame) sub(rsp, frame);
}

void Emitter::epilogue(int frame) {
  if (frame) add(rsp, frame);
  vzeroupper();
  for (int i = 5; i >= 0; --i) pop(kCalleeSaved[i]);
  ret();
  if (!p_.zmm) {  // lanes < n of a ymm: the 8 dwords at mask_table_ + 4 * (8 - n)
    L(mask_table_);
    for (int i = 0; i < 16; ++i) dd(i < 8 ? 0xffffffffu : 0u);
  }
}

void Emitter::load_token_pointers() {
  mov(x_, ptr[args_ + kArgQs]);
  mov(xd_, ptr[args_ + kArgD]);
  mov(xsum_, ptr[args_ + kArgSum]);
  mov(out_, ptr[args_ + kArgOut]);
}

Xmm Emitter::v(int i) const { return p_.zmm ? Xmm(i, Operand::ZMM, 512) : Xmm(i, Operand::YMM, 256); }
void Emitter::vand(const Xmm& d, const Xmm& a, const Xmm& b) { p_.zmm ? vpandd(d, a, b) : vpand(d, a, b); }
void Emitter::vxor(const Xmm& d, const Xmm& a, const Xmm& b) { p_.zmm ? vpxord(d, a, b) : vpxor(d, a, b); }
void Emitter::vmov(const Xmm& d, const Xmm& s) { p_.zmm ? vmovdqa32(d, s) : vmovdqa(d, s); }
void Emitter::vload(const Xmm& d, const Address& a) { p_.zmm ? vmovdqu32(d, a) : vmovdqu(d, a); }

void Emitter::broadcast_eax(const Xmm& d) {
  if (p_.zmm) {
    vpbroadcastd(d, eax);
  } else {
    vmovd(Xmm(d.getIdx()), eax);
    vpbroadcastd(d, Xmm(d.getIdx()));
  }
}

void Emitter::constant(int reg, uint32_t dword) {
  if (reg < 0) return;
  mov(eax, dword);
  broadcast_eax(v(reg));
}

void Emitter::step_pointers() {
  if (p_.sets) {
    mov(rax, rg_);
    and_(rax, -4);  // the set's first group
    // set width W = min(groups - first, 4)
    mov(b4_, p_.groups);
    sub(b4_, rax);
    mov(val_step_, 4);
    cmp(b4_, val_step_);
    cmovl(val_step_, b4_);
    imul(scl_step_, val_step_, p_.scale_bytes);
    imul(val_step_, val_step_, p_.block_bytes);
    // item index = first * items per group + (rg - first)
    mov(b4_, rg_);
    sub(b4_, rax);
    imul(val_, rax, static_cast<int>(p_.blocks));
    add(val_, b4_);
    imul(scl_, rax, static_cast<int>(p_.scale_items));
    add(scl_, b4_);
    imul(scl_, scl_, p_.scale_bytes);
    imul(val_, val_, p_.block_bytes);
    mov(rax, ptr[args_ + kArgW]);
    add(val_, rax);
    add(scl_, rax);
    mov(rax, p_.value_bytes);
    add(scl_, rax);
  } else {
    imul(val_, rg_, static_cast<int>(p_.group_values));  // fits: LayoutPlan::make
    add(val_, ptr[args_ + kArgW]);
    imul(scl_, rg_, static_cast<int>(p_.group_scales));
    add(scl_, ptr[args_ + kArgScales]);
    mov(val_step_, p_.block_bytes);
    mov(scl_step_, p_.scale_bytes);
  }
}

void Emitter::prefetch_line(int groups, int line, int ahead) {
  if (ahead == 0 || line * 64 >= p_.block_bytes) return;
  for (int g = 0; g < groups; ++g) prefetcht0(value(g, ahead + 64 * line));
}

void Emitter::load_nibbles(int g, int k, const Xmm& lo, const Xmm& hi, int low_mask, int plane, int high_mask) {
  vload(lo, value(g, k * p_.vbytes));
  vpsrlw(hi, lo, 4);
  vand(hi, hi, v(low_mask));
  vand(lo, lo, v(low_mask));
  for (int h = 0; h < 2 && p_.high_bits; ++h) add_plane_bits(g, k, h, h ? hi : lo, plane, high_mask);
}

void Emitter::load_half(int g, int k, int h, const Xmm& u, int low_mask, int plane, int high_mask) {
  if (h && p_.zmm) {
    vpsrlw(u, value(g, k * p_.vbytes), 4);
  } else {
    vload(u, value(g, k * p_.vbytes));
    if (h) vpsrlw(u, u, 4);
  }
  vand(u, u, v(low_mask));
  if (p_.high_bits) add_plane_bits(g, k, h, u, plane, high_mask);
}

// u |= the plane's bits brought to bit 4 (5). 16-bit shifts: the mask keeps bits that
// came from the same byte (|shift| <= 4 left, <= 3 right). On zmm the plane is a memory
// operand of the shift (or of vpternlogd: u | (mask & t)).
void Emitter::add_plane_bits(int g, int k, int h, const Xmm& u, int plane, int high_mask) {
  const Xmm t = v(plane);
  const Address at = value(g, p_.plane_at[k][h]);
  const int shift = p_.plane_shift[k][h];
  if (p_.zmm) {
    if (shift == 0) return vpternlogd(u, v(high_mask), at, 0xf8);
    shift > 0 ? vpsllw(t, at, shift) : vpsrlw(t, at, -shift);
    return vpternlogd(u, v(high_mask), t, 0xf8);
  }
  vload(t, at);
  if (shift > 0) vpsllw(t, t, shift);
  if (shift < 0) vpsrlw(t, t, -shift);
  vand(t, t, v(high_mask));
  vpor(u, u, t);
}

void Emitter::dot(Dot kind, const Xmm& acc, const Xmm& u, const Xmm& x, int prod, int ones) {
  switch (kind) {
    case Dot::Vnni:
      vpdpbusd(acc, u, x, p_.zmm ? EvexEncoding : VexEncoding);
      return;
    case Dot::Words:
      vpmaddubsw(v(prod), u, x);
      vpaddw(acc, acc, v(prod));
      return;
    case Dot::Dwords:
      vpmaddubsw(v(prod), u, x);
      vpmaddwd(v(prod), v(prod), v(ones));
      vpaddd(acc, acc, v(prod));
      return;
  }
}

void Emitter::load_sub(const Xmm& dst, int g, int sub, bool min) {
  vpmovzxbd(dst, scale(g, (min ? p_.m_at : p_.sc_at) + sub * p_.sub_stride));
  vcvtdq2ps(dst, dst);
}

void Emitter::load_half_scale(const Xmm& dst, int g, int sub, int h) {
  vpmovsxbd(dst, p_.sub_in_values ? value(g, p_.sc_at + h * p_.half_stride)
                                  : scale(g, p_.sc_at + sub * p_.sub_stride + h * p_.half_stride));
}

void Emitter::scaled_sum(const Xmm& wide, int token_at) {
  const Xmm lane = Xmm(wide.getIdx());
  vcvtsi2ss(lane, lane, dword[xsum_ + b4_ + token_at]);
  vmulss(lane, lane, dword[xd_ + b4_ + token_at]);
  vbroadcastss(wide, lane);
}

void Emitter::first_half_sum(int x_at, int a, int b) {
  const Xmm x = Xmm(a), t = Xmm(b);
  vmovdqu(x, ptr[x_ + b4_ * 8 + x_at]);  // 16 bytes
  mov(eax, 0x80808080);
  vmovd(t, eax);
  vpbroadcastd(t, t);
  vpxor(x, x, t);  // signed to offset binary: x + 128
  vpxor(t, t, t);
  vpsadbw(x, x, t);  // two sums of 8 (x + 128)
  vpshufd(t, x, 0x4e);
  vpaddd(x, x, t);
  vmovd(eax, x);
  sub(eax, 16 * 128);
}

void Emitter::row_mask(int g, int mask, int tmp) {
  mov(rax, rg_);
  if (g) add(rax, g);
  shl(rax, lanes_shift());  // the group's first row
  // hi = min(end - row, lanes) >= 1; lo = max(begin - row, 0) < lanes
  mov(b4_, end_);
  sub(b4_, rax);
  mov(val_step_, p_.lanes);
  cmp(b4_, val_step_);
  cmovg(b4_, val_step_);
  mov(scl_, begin_);
  sub(scl_, rax);
  xor_(val_step_, val_step_);
  cmp(scl_, val_step_);
  cmovl(scl_, val_step_);
  if (p_.zmm) {
    mov(val_step_, -1);  // lanes < hi
    shl(val_step_, cl);
    not_(val_step_);
    mov(b4_, scl_);
    mov(val_, -1);  // and not lanes < lo
    shl(val_, cl);
    and_(val_step_, val_);
    kmovw(k1, val_step_.cvt32());
  } else {
    lea(val_, ptr[rip + mask_table_]);
    neg(b4_);
    vmovdqu(v(mask), ptr[val_ + b4_ * 4 + 32]);
    neg(scl_);
    vmovdqu(v(tmp), ptr[val_ + scl_ * 4 + 32]);
    vpandn(v(mask), v(tmp), v(mask));
  }
}

}  // namespace bf::jit
