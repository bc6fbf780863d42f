// The token-step matvec generator: Q8_0, Q4_0, Q4_K and Q6_K weights in the r8 (ymm)
// or r16 (zmm) layout times 8-bit activations (contract.h Q8Rows), with vpmaddubsw +
// vpmaddwd or vpdpbusd as the dot.
//
// Both layouts store, per row group (one row per dword lane) and block of 32 columns,
// "k-group" vectors holding 4 consecutive columns of every row: for Q8_0, k-group j
// (columns 4j..4j+3) is the vector at byte j*vbytes of the block; for Q4_0 the vector at
// (j%4)*vbytes holds k-group j in its low nibbles (j < 4) or high nibbles (j >= 4); Q4_K
// as Q4_0, with its scales per super-block (d, dmin) and block (6-bit sc, m); Q6_K as
// Q4_0 plus bits 4-5 from two bit planes, an int8 scale per half block. So a
// k-group is always a dot with the 4 activation bytes 4j..4j+3 broadcast to every lane,
// and only the addressing of groups and scales differs:
//   r16: groups interleaved by sets of 4, block by block, scales after the values in w;
//   r8:  groups one after the other, scales in w_scales.
// Values are unsigned (u); weight = u - offset, undone exactly in the int32 sums with
// the block's activation sum: sum(w x) = sum(u x) - offset * sum(x). Q4_K has offset 0
// and its mins scaled by sum(x) in f32; Q6_K has offset 32 per half block, undone with
// the half's own sum. The madd path of Q8_0 takes the signed weight instead (|w| and x
// with w's sign), as vpmaddubsw would saturate on u * x.
//
// Code shape (registers fixed below):
//   for each token t < n_tokens:                    (a token step has one)
//     for rg in [begin / lanes, ceil(end / lanes)):  steps of conf.groups row groups
//       for each block b (conf.unroll per loop iteration):
//         int32 sums of every group (conf.accs chains), scaled in f32 into the group's
//         accumulator by d_w (f16, per row) * d_x (per block)
//       store each group's rows that lie in [begin, end) (masked)
#include "jit/matvec_gen.h"

#include <xbyak/xbyak.h>

#include <cstddef>

#include "kernels/contract.h"

namespace bf::jit {

bool MatvecPlan::make(DType type, IsaLevel isa, int64_t rows, int64_t cols, MatvecPlan& p) {
  if (type != DType::Q8_0 && type != DType::Q4_0 && type != DType::Q4_K && type != DType::Q6_K) return false;
  const int64_t unit = type == DType::Q4_K || type == DType::Q6_K ? 256 : 32;
  if (rows < 1 || cols < unit || cols % unit != 0) return false;
  if (isa != IsaLevel::Avx2 && isa != IsaLevel::Avx512 && isa != IsaLevel::Avx512Vnni) return false;
  p = MatvecPlan{};
  p.type = type;
  p.zmm = isa != IsaLevel::Avx2;
  p.nibbles = type != DType::Q8_0;
  p.k_quant = type == DType::Q4_K || type == DType::Q6_K;
  p.q6 = type == DType::Q6_K;
  p.lanes = p.zmm ? 16 : 8;
  p.vbytes = 4 * p.lanes;
  p.rows = rows;
  p.cols = cols;
  p.blocks = cols / 32;
  p.groups = (rows + p.lanes - 1) / p.lanes;
  // r16 Q6_K: nibbles, two 64-byte planes; r8 Q6_K: nibbles, two 32-byte planes, 16
  // bytes of int8 scales.
  p.block_bytes = p.q6 ? (p.zmm ? 384 : 128 + 64 + 16) : (p.nibbles ? 4 : 8) * p.vbytes;
  p.sets = p.zmm;
  p.value_bytes = p.groups * p.blocks * p.block_bytes;
  p.offset = p.q6 ? 32 : p.k_quant ? 0 : p.nibbles ? 8 : 128;
  if (p.q6) {
    p.scale_items = p.blocks / 8;
    p.scale_bytes = 2 * p.lanes + (p.zmm ? 16 * p.lanes : 0);  // f16 d (r16: + int8 [block][half][row])
    p.sub_in_values = !p.zmm;
    p.sc_at = p.zmm ? 2 * p.lanes : 128 + 64;
    p.sub_stride = p.zmm ? 2 * p.lanes : 0;
    p.half_stride = p.lanes;
    for (int k = 0; k < 4; ++k)
      for (int h = 0; h < 2; ++h) {
        // r16 (layout.h): k-group j's bits at 2(j%4) of plane j/4; k-group k (lo) and k+4 (hi).
        // r8 (r8_layout.h): plane k/2; even k at bits 4 (lo) and 6 (hi), odd k at 0 and 2.
        const int at = p.zmm ? 2 * k : (k % 2 ? 0 : 4) + 2 * h;
        p.plane_at[k][h] = p.zmm ? 256 + 64 * h : 128 + 32 * (k / 2);
        p.plane_shift[k][h] = 4 - at;
      }
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
    p.scale_bytes = 2 * p.lanes;  // f16 d
  }
  p.group_values = p.sets ? p.block_bytes : p.blocks * p.block_bytes;
  p.group_scales = p.sets ? p.scale_bytes : p.scale_items * p.scale_bytes;
  // Every displacement the code uses must fit a signed 32-bit field.
  return 3 * p.group_values + p.block_bytes + 65536 < (int64_t{1} << 31) && cols < (int64_t{1} << 31);
}

// Constants and temporaries of each dot path, beside the groups * (1 + accs) accumulators.
int vector_registers(const MatvecPlan& p, const MatvecConf& c) {
  int fixed;
  if (p.q6)
    fixed = c.vnni ? 1 + 5 + 3 : 2 + 6 + 3;  // as Q4_0, + a plane, 0x30 and the second half's correction
  else if (p.nibbles)
    fixed = c.vnni ? 1 + 5 : 2 + 6;  // 0x0f (+ ones); two broadcasts, raw, high, correction (+ product)
  else
    fixed = c.vnni ? 3 : (p.zmm ? 3 : 2) + 4;  // broadcast, weights, correction; or 0x80, ones (, zero) + 4
  return fixed + c.groups * (1 + c.accs);
}

int register_file(const MatvecPlan& p) { return p.zmm ? 32 : 16; }

namespace {

using namespace Xbyak;

// MatmulArgs fields, read at their fixed offsets.
constexpr int kArgW = offsetof(MatmulArgs, w);
constexpr int kArgScales = offsetof(MatmulArgs, w_scales);
constexpr int kArgQs = offsetof(MatmulArgs, xq) + offsetof(Q8Rows, qs);
constexpr int kArgD = offsetof(MatmulArgs, xq) + offsetof(Q8Rows, d);
constexpr int kArgSum = offsetof(MatmulArgs, xq) + offsetof(Q8Rows, sum);
constexpr int kArgOut = offsetof(MatmulArgs, out);
constexpr int kArgStride = offsetof(MatmulArgs, out_stride);
constexpr int kArgTokens = offsetof(MatmulArgs, n_tokens);

class MatvecGen : public CodeGenerator {
 public:
  MatvecGen(const MatvecPlan& p, const MatvecConf& c, uint8_t* buf, size_t size)
      : CodeGenerator(size, buf), p_(p), c_(c) {
    allocate();
    body();
  }

 private:
  // System V: args, begin, end arrive in rdi, rsi, rdx and stay there.
  const Reg64 args_ = rdi, begin_ = rsi, end_ = rdx;
  const Reg64 x_ = r8, xd_ = r9, xsum_ = r10, out_ = r11;  // the current token's rows
  const Reg64 rg_ = rbx, rg_end_ = rbp;                    // row groups
  const Reg64 val_ = r12, scl_ = r13;                      // the step's first group, current block
  const Reg64 val_step_ = r14, scl_step_ = r15;            // bytes from one block to the next
  const Reg64 b4_ = rcx;                                   // 4 * block index
  const Reg64 callee_saved_[6] = {rbx, rbp, r12, r13, r14, r15};

  const MatvecPlan& p_;
  const MatvecConf& c_;
  // Vector register numbers (allocate()): temporaries and constants, then accumulators.
  int facc0_ = 0, iacc0_ = 0;
  int bx_ = 0, bx2_ = 0, raw_ = 0, hi_ = 0, prod_ = 0, corr_ = 0, abs_ = 0, plane_ = 0, corr1_ = 0;
  int c0f_ = -1, c80_ = -1, ones_ = -1, zero_ = -1, c30_ = -1;
  Label mask_table_;

  Xmm v(int i) const { return p_.zmm ? Xmm(i, Operand::ZMM, 512) : Xmm(i, Operand::YMM, 256); }
  Xmm facc(int g) const { return v(facc0_ + g); }
  Xmm iacc(int g, int a) const { return v(iacc0_ + g * c_.accs + a); }

  // Temporaries and constants first, so that they are below 16 (VEX-encodable as xmm,
  // which half_corrections uses), then the accumulators.
  void allocate() {
    int n = 0;
    auto next = [&n] { return n++; };
    bx_ = next();
    raw_ = next();  // weights
    corr_ = next();
    if (p_.nibbles) {
      bx2_ = next();
      hi_ = next();
      c0f_ = next();
      if (!c_.vnni) {
        prod_ = next();
        ones_ = next();
      }
      if (p_.q6) {
        plane_ = next();
        corr1_ = next();
        c30_ = next();
      }
    } else if (!c_.vnni) {
      abs_ = next();
      prod_ = corr_;  // the signed path has no correction
      c80_ = next();
      ones_ = next();
      if (p_.zmm) zero_ = next();
    }
    facc0_ = n;
    n += c_.groups;
    iacc0_ = n;
  }

  // ---- width-neutral helpers (EVEX forms on zmm, VEX on ymm)
  void vand(const Xmm& d, const Xmm& a, const Xmm& b) { p_.zmm ? vpandd(d, a, b) : vpand(d, a, b); }
  void vxor(const Xmm& d, const Xmm& a, const Xmm& b) { p_.zmm ? vpxord(d, a, b) : vpxor(d, a, b); }
  void vmov(const Xmm& d, const Xmm& s) { p_.zmm ? vmovdqa32(d, s) : vmovdqa(d, s); }
  void vload(const Xmm& d, const Address& a) { p_.zmm ? vmovdqu32(d, a) : vmovdqu(d, a); }
  void vzero(const Xmm& d) { vxor(d, d, d); }
  void dot(const Xmm& acc, const Xmm& u, const Xmm& x) {
    vpdpbusd(acc, u, x, p_.zmm ? EvexEncoding : VexEncoding);
  }
  // Every lane = eax.
  void broadcast_eax(const Xmm& d) {
    if (p_.zmm) {
      vpbroadcastd(d, eax);
    } else {
      vmovd(Xmm(d.getIdx()), eax);
      vpbroadcastd(d, Xmm(d.getIdx()));
    }
  }
  void constant(int reg, uint32_t dword) {
    if (reg < 0) return;
    mov(eax, dword);
    broadcast_eax(v(reg));
  }

  int lanes_shift() const { return p_.zmm ? 4 : 3; }

  void body() {
    Label done, token_loop, group_loop, single, next_token;
    for (const Reg64& r : callee_saved_) push(r);
    mov(x_, ptr[args_ + kArgQs]);
    mov(xd_, ptr[args_ + kArgD]);
    mov(xsum_, ptr[args_ + kArgSum]);
    mov(out_, ptr[args_ + kArgOut]);
    cmp(begin_, end_);
    jge(done, T_NEAR);
    mov(eax, dword[args_ + kArgTokens]);
    test(eax, eax);
    jle(done, T_NEAR);
    push(rax);  // tokens left, at [rsp]
    constant(c0f_, 0x0f0f0f0f);
    constant(c80_, 0x80808080);
    constant(ones_, 0x00010001);
    constant(c30_, 0x30303030);
    if (zero_ >= 0) vzero(v(zero_));

    L(token_loop);
    mov(rg_, begin_);
    shr(rg_, lanes_shift());
    lea(rg_end_, ptr[end_ + p_.lanes - 1]);
    shr(rg_end_, lanes_shift());
    L(group_loop);
    cmp(rg_, rg_end_);
    jge(next_token, T_NEAR);
    if (c_.groups > 1) {
      // A step of several groups: inside [begin, end), and for r16 inside one set of
      // 4 (aligned to the step, so it cannot cross a set; the last set may be narrower).
      if (p_.sets) {
        test(rg_, c_.groups - 1);
        jnz(single, T_NEAR);
      }
      lea(rax, ptr[rg_ + c_.groups]);
      cmp(rax, rg_end_);
      jg(single, T_NEAR);
      step(c_.groups);
      add(rg_, c_.groups);
      jmp(group_loop, T_NEAR);
    }
    L(single);
    step(1);
    inc(rg_);
    jmp(group_loop, T_NEAR);

    L(next_token);
    add(x_, static_cast<uint32_t>(p_.cols));
    add(xd_, static_cast<uint32_t>(p_.blocks * 4));
    add(xsum_, static_cast<uint32_t>(p_.blocks * 4));
    mov(rax, ptr[args_ + kArgStride]);
    lea(out_, ptr[out_ + rax * 4]);
    dec(dword[rsp]);
    jnz(token_loop, T_NEAR);
    pop(rax);

    L(done);
    vzeroupper();
    for (int i = 5; i >= 0; --i) pop(callee_saved_[i]);
    ret();

    if (!p_.zmm) {  // lanes < n of a ymm: the 8 dwords at mask_table_ + 4 * (8 - n)
      L(mask_table_);
      for (int i = 0; i < 16; ++i) dd(i < 8 ? 0xffffffffu : 0u);
    }
  }

  // Points val_/scl_ at block 0 of group rg_, with their per-block strides.
  void step_pointers() {
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
      imul(val_, rg_, static_cast<int>(p_.group_values));  // fits: MatvecPlan::make
      add(val_, ptr[args_ + kArgW]);
      imul(scl_, rg_, static_cast<int>(p_.group_scales));
      add(scl_, ptr[args_ + kArgScales]);
      mov(val_step_, p_.block_bytes);
      mov(scl_step_, p_.scale_bytes);
    }
  }

  void step(int groups) {
    step_pointers();
    for (int g = 0; g < groups; ++g) vzero(facc(g));
    xor_(b4_, b4_);
    const int64_t loops = p_.blocks / c_.unroll, rest = p_.blocks % c_.unroll;
    // K types: the unroll is whole super-blocks (conf_fits), so u % 8 is the block's
    // place in its super-block.
    if (loops > 0) {
      Label blocks;
      L(blocks);
      for (int u = 0; u < c_.unroll; ++u) block(groups, u % 8);
      cmp(b4_, static_cast<uint32_t>(loops * c_.unroll * 4));
      jl(blocks, T_NEAR);
    }
    for (int64_t u = 0; u < rest; ++u) block(groups, static_cast<int>(u % 8));
    for (int g = 0; g < groups; ++g) store(g);
  }

  Address value(int g, int64_t at) { return ptr[val_ + static_cast<int>(g * p_.group_values + at)]; }
  Address act(int at) { return ptr[x_ + b4_ * 8 + at]; }

  // Cache line `line` of each group's block `prefetch` bytes ahead.
  void prefetch_line(int groups, int line) {
    if (c_.prefetch == 0 || line * 64 >= p_.block_bytes) return;
    for (int g = 0; g < groups; ++g) prefetcht0(value(g, c_.prefetch + 64 * line));
  }

  // corr_ = -offset * (sum of the block's activations), every lane.
  void correction() {
    imul(eax, dword[xsum_ + b4_], -p_.offset);
    broadcast_eax(v(corr_));
  }

  // One block (`sub`: its place in its K super-block) of `groups` row groups into their
  // float accumulators, then on to the next.
  void block(int groups, int sub) {
    if (p_.nibbles)
      nibble_block(groups);
    else
      byte_block(groups);
    vbroadcastss(v(bx_), dword[xd_ + b4_]);
    if (p_.q6) {
      q6_scales(groups, sub);
    } else if (p_.k_quant) {
      k_scales(groups, sub);
    } else {
      // facc += float(isum) * d_w * d_x
      for (int g = 0; g < groups; ++g) {
        vcvtph2ps(v(raw_), ptr[scl_ + static_cast<int>(g * p_.group_scales)]);
        vmulps(v(raw_), v(raw_), v(bx_));
        vcvtdq2ps(iacc(g, 0), iacc(g, 0));
        vfmadd231ps(facc(g), iacc(g, 0), v(raw_));
      }
    }
    add(val_, val_step_);
    if (!p_.k_quant || sub == 7) add(scl_, scl_step_);
    add(b4_, 4);
  }

  // Q6_K: isum = sc0 * (half 0's corrected sum) + sc1 * (half 1's), then as Q4_0.
  void q6_scales(int groups, int sub) {
    for (int g = 0; g < groups; ++g) {
      const Xmm t = v(hi_), d = v(raw_);
      for (int h = 0; h < 2; ++h) {
        const Address sc = p_.sub_in_values
                               ? value(g, p_.sc_at + h * p_.half_stride)
                               : ptr[scl_ + static_cast<int>(g * p_.group_scales + p_.sc_at + sub * p_.sub_stride +
                                                             h * p_.half_stride)];
        vpmovsxbd(t, sc);
        vpmulld(iacc(g, h), iacc(g, h), t);
      }
      vpaddd(iacc(g, 0), iacc(g, 0), iacc(g, 1));
      vcvtph2ps(d, ptr[scl_ + static_cast<int>(g * p_.group_scales)]);
      vmulps(d, d, v(bx_));
      vcvtdq2ps(iacc(g, 0), iacc(g, 0));
      vfmadd231ps(facc(g), iacc(g, 0), d);
    }
  }

  // K: facc += float(sc * isum) * d * d_x - float(m) * dmin * d_x * sum(x), sc and m the
  // block's integer sub-block scale and min (sc * isum stays far below 2^24: exact).
  void k_scales(int groups, int sub) {
    const Xmm dxs = v(corr_), dxs_lane = Xmm(corr_);  // d_x * sum(x): K types have no offset to correct
    vcvtsi2ss(dxs_lane, dxs_lane, dword[xsum_ + b4_]);
    vmulss(dxs_lane, dxs_lane, dword[xd_ + b4_]);
    vbroadcastss(dxs, dxs_lane);
    for (int g = 0; g < groups; ++g) {
      const int item = static_cast<int>(g * p_.group_scales);
      const Xmm isum = iacc(g, 0), t = v(hi_), d = v(raw_), dmin = v(bx2_);
      vpmovzxbd(t, ptr[scl_ + item + p_.sc_at + sub * p_.sub_stride]);
      vpmulld(isum, isum, t);
      vcvtdq2ps(isum, isum);
      vcvtph2ps(d, ptr[scl_ + item]);
      vmulps(d, d, v(bx_));
      vfmadd231ps(facc(g), isum, d);
      vpmovzxbd(t, ptr[scl_ + item + p_.m_at + sub * p_.sub_stride]);
      vcvtdq2ps(t, t);
      vcvtph2ps(dmin, ptr[scl_ + item + p_.dmin_at]);
      vmulps(t, t, dmin);
      p_.dmin_negated ? vfmadd231ps(facc(g), t, dxs) : vfnmadd231ps(facc(g), t, dxs);
    }
  }

  // Sums the chains of each group into chain 0 (dwords, or words when `words`).
  void join_chains(int groups, bool words) {
    for (int g = 0; g < groups; ++g)
      for (int a = 1; a < c_.accs; ++a)
        words ? vpaddw(iacc(g, 0), iacc(g, 0), iacc(g, a)) : vpaddd(iacc(g, 0), iacc(g, 0), iacc(g, a));
  }

  // Q8_0: u = w + 128 in every byte, k-group j at j * vbytes.
  void byte_block(int groups) {
    if (c_.vnni) {
      correction();
      for (int g = 0; g < groups; ++g)
        for (int a = 0; a < c_.accs; ++a) a == 0 ? vmov(iacc(g, a), v(corr_)) : vzero(iacc(g, a));
    } else {
      for (int g = 0; g < groups; ++g)
        for (int a = 0; a < c_.accs; ++a) vzero(iacc(g, a));
    }
    for (int j = 0; j < 8; ++j) {
      prefetch_line(groups, j);
      vpbroadcastd(v(bx_), act(4 * j));
      for (int g = 0; g < groups; ++g) {
        const Xmm acc = iacc(g, j % c_.accs), w = v(raw_);
        vload(w, value(g, j * p_.vbytes));
        if (c_.vnni) {
          dot(acc, w, v(bx_));
          continue;
        }
        // w * x as |w| * (x with w's sign): pairs stay below 2 * 128 * 127 < 2^15.
        vxor(w, w, v(c80_));
        vpabsb(v(abs_), w);
        if (p_.zmm) {
          vpmovb2m(k2, w);
          vmov(v(prod_), v(bx_));
          vpsubb(v(prod_) | k2, v(zero_), v(bx_));
        } else {
          vpsignb(v(prod_), v(bx_), w);
        }
        vpmaddubsw(v(prod_), v(abs_), v(prod_));
        vpmaddwd(v(prod_), v(prod_), v(ones_));
        vpaddd(acc, acc, v(prod_));
      }
    }
    join_chains(groups, false);
  }

  // Q4_0, Q4_K, Q6_K: the vector at k * vbytes holds k-group k (low nibbles) and k + 4
  // (high); Q6_K adds bits 4-5 from its planes.
  void nibble_block(int groups) {
    if (p_.q6) {
      half_corrections();
    } else if (p_.offset != 0) {
      correction();
    }
    // Q6_K: chain 0 is half 0 (k-groups 0-3), chain 1 half 1 (conf_fits: accs == 2),
    // int32 on both paths, each started at its half's correction.
    const bool words = !c_.vnni && !p_.q6;  // word chains (vpmaddubsw sums), widened once at the end
    for (int g = 0; g < groups; ++g)
      for (int a = 0; a < c_.accs; ++a) {
        if (p_.q6)
          vmov(iacc(g, a), v(a == 0 ? corr_ : corr1_));
        else if (p_.offset != 0 && c_.vnni && a == 0)
          vmov(iacc(g, a), v(corr_));
        else
          vzero(iacc(g, a));
      }
    for (int k = 0; k < 4; ++k) {
      prefetch_line(groups, k);
      if (k == 3)
        for (int line = 4; line * 64 < p_.block_bytes; ++line) prefetch_line(groups, line);
      vpbroadcastd(v(bx_), act(4 * k));
      vpbroadcastd(v(bx2_), act(16 + 4 * k));
      for (int g = 0; g < groups; ++g) {
        const Xmm lo = v(raw_), hi = v(hi_);
        vload(lo, value(g, k * p_.vbytes));
        vpsrlw(hi, lo, 4);
        vand(hi, hi, v(c0f_));
        vand(lo, lo, v(c0f_));
        if (p_.q6) {
          add_high_bits(g, k, 0, lo);
          add_high_bits(g, k, 1, hi);
        }
        const Xmm acc_lo = iacc(g, (2 * k) % c_.accs), acc_hi = iacc(g, (2 * k + 1) % c_.accs);
        if (c_.vnni) {
          dot(acc_lo, lo, v(bx_));
          dot(acc_hi, hi, v(bx2_));
        } else if (words) {
          // Word sums: 8 k-groups of pairs <= 2 * 15 * 127 stay below 2^15.
          vpmaddubsw(v(prod_), lo, v(bx_));
          vpaddw(acc_lo, acc_lo, v(prod_));
          vpmaddubsw(v(prod_), hi, v(bx2_));
          vpaddw(acc_hi, acc_hi, v(prod_));
        } else {
          // 6-bit values: pairs up to 2 * 63 * 127, widened at once.
          vpmaddubsw(v(prod_), lo, v(bx_));
          vpmaddwd(v(prod_), v(prod_), v(ones_));
          vpaddd(acc_lo, acc_lo, v(prod_));
          vpmaddubsw(v(prod_), hi, v(bx2_));
          vpmaddwd(v(prod_), v(prod_), v(ones_));
          vpaddd(acc_hi, acc_hi, v(prod_));
        }
      }
    }
    if (p_.q6) return;  // the halves are scaled apart (q6_scales)
    join_chains(groups, words);
    if (words)
      for (int g = 0; g < groups; ++g) {
        vpmaddwd(iacc(g, 0), iacc(g, 0), v(ones_));
        if (p_.offset != 0) vpaddd(iacc(g, 0), iacc(g, 0), v(corr_));
      }
  }

  // u |= bits 4-5 of the half (h) of load k from its Q6_K plane. 16-bit shifts: the mask
  // keeps bits that came from the same byte (|shift| <= 4 left, <= 2 right).
  // On zmm the plane is a memory operand of the shift (or of vpternlogd, u | (0x30 & t)).
  void add_high_bits(int g, int k, int h, const Xmm& u) {
    const Xmm t = v(plane_);
    const Address plane = value(g, p_.plane_at[k][h]);
    const int shift = p_.plane_shift[k][h];
    if (p_.zmm) {
      if (shift == 0) return vpternlogd(u, v(c30_), plane, 0xf8);
      shift > 0 ? vpsllw(t, plane, shift) : vpsrlw(t, plane, -shift);
      return vpternlogd(u, v(c30_), t, 0xf8);
    }
    vload(t, plane);
    if (shift > 0) vpsllw(t, t, shift);
    if (shift < 0) vpsrlw(t, t, -shift);
    vand(t, t, v(c30_));
    vpor(u, u, t);
  }

  // Q6_K: corr_ = -32 * (sum of activations 0-15 of the block), corr1_ = -32 * (16-31).
  // The temporaries are free at the start of a block (and below 16: VEX xmm forms).
  void half_corrections() {
    const Xmm x = Xmm(raw_), t = Xmm(hi_);
    vmovdqu(x, ptr[x_ + b4_ * 8]);  // 16 bytes
    mov(eax, 0x80808080);
    vmovd(t, eax);
    vpbroadcastd(t, t);
    vpxor(x, x, t);  // signed to offset binary: x + 128
    vpxor(t, t, t);
    vpsadbw(x, x, t);  // two sums of 8 (x + 128)
    vpshufd(t, x, 0x4e);
    vpaddd(x, x, t);
    vmovd(eax, x);
    imul(eax, eax, -32);
    add(eax, 32 * 16 * 128);  // -32 * (sum - 16 * 128)
    broadcast_eax(v(corr_));
    imul(eax, dword[xsum_ + b4_], -32);
    broadcast_eax(v(corr1_));
    vpsubd(v(corr1_), v(corr1_), v(corr_));  // -32 * (block sum - first half)
  }

  // Stores the rows of group rg_ + g that lie in [begin, end). Uses the block loop's
  // registers (free by now) as scratch.
  void store(int g) {
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
      mov(scl_step_, -1);  // lanes < hi
      shl(scl_step_, cl);
      not_(scl_step_);
      mov(b4_, scl_);
      mov(val_step_, -1);  // and not lanes < lo
      shl(val_step_, cl);
      and_(scl_step_, val_step_);
      kmovw(k1, scl_step_.cvt32());
      vmovups(ptr[out_ + rax * 4] | k1, facc(g));
    } else {
      const Xmm below_hi = v(iacc0_), below_lo = v(iacc0_ + 1);
      lea(val_, ptr[rip + mask_table_]);
      neg(b4_);
      vmovdqu(below_hi, ptr[val_ + b4_ * 4 + 32]);
      neg(scl_);
      vmovdqu(below_lo, ptr[val_ + scl_ * 4 + 32]);
      vpandn(below_hi, below_lo, below_hi);
      vmaskmovps(ptr[out_ + rax * 4], below_hi, facc(g));
    }
  }
};

}  // namespace

std::vector<uint8_t> emit_matvec(const MatvecPlan& plan, const MatvecConf& conf) {
  // A block of one group is under 1 KiB of code; each step (conf.groups, then 1) emits
  // fewer than 2 * unroll blocks.
  const size_t bound = 16384 + static_cast<size_t>(2 * conf.unroll) * (conf.groups + 1) * 2048;
  std::vector<uint8_t> buf(bound);
  try {
    MatvecGen gen(plan, conf, buf.data(), buf.size());
    buf.resize(gen.getSize());
  } catch (const Xbyak::Error&) {
    return {};
  }
  return buf;
}

}  // namespace bf::jit
