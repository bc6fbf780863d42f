// The prompt GEMM generator: Q8_0 and Q4_0 weights in the r8 (ymm) or r16 (zmm) layout
// times a chunk of 8-bit activation rows (contract.h Q8Rows), any n_tokens.
//
// The layouts and the integer dot are the matvec generator's (matvec_gen.cpp says how a
// k-group, its activation bytes and the offset correction line up); what differs is the
// register tile: conf.groups row groups x conf.tokens tokens share every weight load and
// every activation broadcast, so the loads per dot product drop by the tile's sides.
//
// Code shape (registers fixed below):
//   for each step of conf.groups row groups in [begin / lanes, ceil(end / lanes)):
//    for each K chunk of conf.chunk blocks (one chunk of every block when 0):
//     for each tile of conf.tokens tokens (the last one narrower, its own code):
//       for each block b of the chunk (conf.unroll per loop iteration):
//         per token: c_t = -offset * sum_t[b] on the stack (vnni and nibbles)
//         integer sums of every (group, token), started at c_t, over the 8 k-groups:
//           load each group's k-group once, broadcast each token's 4 bytes once
//         facc[g][t] += float(isum) * d_x[t][b] * d_w[g][b]
//       store (first chunk) or add to the output (later chunks) each (group, token)'s
//       rows that lie in [begin, end) (masked)
// Row-group steps outside, tokens inside: a step's weights are read from memory once per
// call and from L1/L2 by every token tile, as in the hand-written drivers.
#include "jit/gemm_gen.h"

#include <xbyak/xbyak.h>

#include <cstddef>

#include "kernels/contract.h"

namespace bf::jit {

namespace {

// Which vector register holds what, for a plan and conf; `total` is the count.
struct GemmRegs {
  int facc0 = 0, iacc0 = 0;  // groups x tokens each
  int w0 = 0;                // weights: nw per group, see below
  int nw = 1;
  int bx = -1, bx2 = -1, nbx = -1, prod = -1;
  int c0f = -1, c80 = -1, ones = -1, zero = -1;
  int total = 0;

  // Weights per group: Q8_0 vnni the k-group; madd on ymm its signed bytes and |w|
  // (on zmm |w| only, the signs in a mask register); Q4_0 low and high nibbles.
  GemmRegs(const MatvecPlan& p, const GemmConf& c) {
    const int tile = c.groups * c.tokens;
    int n = 0;
    auto next = [&n] { return n++; };
    facc0 = n;
    n += tile;
    iacc0 = n;
    n += tile;
    nw = p.nibbles || (!c.vnni && !p.zmm) ? 2 : 1;
    w0 = n;
    n += nw * c.groups;
    bx = next();
    if (p.nibbles) {
      bx2 = next();
      c0f = next();
    }
    if (!c.vnni) {
      prod = next();
      ones = next();
      if (!p.nibbles) {
        c80 = next();
        if (p.zmm) {
          nbx = next();
          zero = next();
        }
      }
    }
    total = n;
  }
};

}  // namespace

int gemm_vector_registers(const MatvecPlan& plan, const GemmConf& conf) { return GemmRegs(plan, conf).total; }

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

// Stack frame: the tile's per-token corrections, the tokens left in the step, and the
// current K chunk's blocks [begin, end) as 4 * block.
constexpr int kFrameCorr = 0;
constexpr int kFrameLeft = 64;
constexpr int kFrameChunk0 = 72;
constexpr int kFrameChunk1 = 80;
constexpr int kFrameBytes = 88;

class GemmGen : public CodeGenerator {
 public:
  GemmGen(const MatvecPlan& p, const GemmConf& c, uint8_t* buf, size_t size)
      : CodeGenerator(size, buf), p_(p), c_(c), r_(p, c) {
    body();
  }

 private:
  // System V: args, begin, end arrive in rdi, rsi, rdx and stay there.
  const Reg64 args_ = rdi, begin_ = rsi, end_ = rdx;
  const Reg64 x_ = r8, xd_ = r9, xsum_ = r10, out_ = r11;  // the tile's first token
  const Reg64 rg_ = rbx, rg_end_ = rbp;                    // row groups
  const Reg64 val_ = r12, scl_ = r13;                      // the step's first group, current block
  const Reg64 val_step_ = r14, scl_step_ = r15;            // bytes from one block to the next
  const Reg64 b4_ = rcx;                                   // 4 * block index
  const Reg64 callee_saved_[6] = {rbx, rbp, r12, r13, r14, r15};

  const MatvecPlan& p_;
  const GemmConf& c_;
  const GemmRegs r_;
  Label mask_table_;

  Xmm v(int i) const { return p_.zmm ? Xmm(i, Operand::ZMM, 512) : Xmm(i, Operand::YMM, 256); }
  // Accumulators of (group, token) are indexed with the conf's token count as the row
  // length whatever the tile's width, so every tile uses the same registers.
  Xmm facc(int g, int t) const { return v(r_.facc0 + g * c_.tokens + t); }
  Xmm iacc(int g, int t) const { return v(r_.iacc0 + g * c_.tokens + t); }
  Xmm wreg(int g, int i = 0) const { return v(r_.w0 + g * r_.nw + i); }
  Opmask sign_mask(int g) const { return Opmask(2 + g); }  // zmm madd Q8_0; k1 is the store's

  bool corrects() const { return c_.vnni || p_.nibbles; }  // the madd Q8_0 path is signed
  int64_t token_sums() const { return p_.blocks * 4; }     // bytes from one token's d/sum to the next

  // ---- width-neutral helpers (EVEX forms on zmm, VEX on ymm)
  void vand(const Xmm& d, const Xmm& a, const Xmm& b) { p_.zmm ? vpandd(d, a, b) : vpand(d, a, b); }
  void vxor(const Xmm& d, const Xmm& a, const Xmm& b) { p_.zmm ? vpxord(d, a, b) : vpxor(d, a, b); }
  void vload(const Xmm& d, const Address& a) { p_.zmm ? vmovdqu32(d, a) : vmovdqu(d, a); }
  void vzero(const Xmm& d) { vxor(d, d, d); }
  void dot(const Xmm& acc, const Xmm& u, const Xmm& x) {
    vpdpbusd(acc, u, x, p_.zmm ? EvexEncoding : VexEncoding);
  }
  void constant(int reg, uint32_t dword) {
    if (reg < 0) return;
    mov(eax, dword);
    if (p_.zmm) {
      vpbroadcastd(v(reg), eax);
    } else {
      vmovd(Xmm(reg), eax);
      vpbroadcastd(v(reg), Xmm(reg));
    }
  }
  int lanes_shift() const { return p_.zmm ? 4 : 3; }

  void body() {
    Label done, group_loop, single;
    for (const Reg64& r : callee_saved_) push(r);
    sub(rsp, kFrameBytes);
    cmp(begin_, end_);
    jge(done, T_NEAR);
    cmp(dword[args_ + kArgTokens], 0);
    jle(done, T_NEAR);
    constant(r_.c0f, 0x0f0f0f0f);
    constant(r_.c80, 0x80808080);
    constant(r_.ones, 0x00010001);
    if (r_.zero >= 0) vzero(v(r_.zero));

    mov(rg_, begin_);
    shr(rg_, lanes_shift());
    lea(rg_end_, ptr[end_ + p_.lanes - 1]);
    shr(rg_end_, lanes_shift());
    L(group_loop);
    cmp(rg_, rg_end_);
    jge(done, T_NEAR);
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

    L(done);
    add(rsp, kFrameBytes);
    vzeroupper();
    for (int i = 5; i >= 0; --i) pop(callee_saved_[i]);
    ret();

    if (!p_.zmm) {  // lanes < n of a ymm: the 8 dwords at mask_table_ + 4 * (8 - n)
      L(mask_table_);
      for (int i = 0; i < 16; ++i) dd(i < 8 ? 0xffffffffu : 0u);
    }
  }

  // Every token of the call over row groups rg_ .. rg_ + groups - 1: full tiles, then
  // the narrower tile of the tokens left (one code path per width).
  // With K chunks (conf.chunk blocks), the step runs chunk after chunk, every token tile
  // over one chunk before the next, so that the chunk's weights stay in L1 for all tiles.
  void step(int groups) {
    if (!chunked()) return token_tiles(groups);
    Label chunk_loop;
    mov(qword[rsp + kFrameChunk0], 0);
    L(chunk_loop);
    mov(rax, qword[rsp + kFrameChunk0]);
    add(rax, 4 * c_.chunk);
    mov(b4_, 4 * p_.blocks);
    cmp(rax, b4_);
    cmovg(rax, b4_);
    mov(qword[rsp + kFrameChunk1], rax);
    token_tiles(groups);
    mov(rax, qword[rsp + kFrameChunk1]);
    mov(qword[rsp + kFrameChunk0], rax);
    cmp(rax, 4 * p_.blocks);
    jl(chunk_loop, T_NEAR);
  }

  bool chunked() const { return c_.chunk > 0 && c_.chunk < p_.blocks; }

  void token_tiles(int groups) {
    Label full, tails, end;
    mov(x_, ptr[args_ + kArgQs]);
    mov(xd_, ptr[args_ + kArgD]);
    mov(xsum_, ptr[args_ + kArgSum]);
    mov(out_, ptr[args_ + kArgOut]);
    movsxd(rax, dword[args_ + kArgTokens]);
    mov(qword[rsp + kFrameLeft], rax);
    L(full);
    cmp(qword[rsp + kFrameLeft], c_.tokens);
    jl(tails, T_NEAR);
    tile(groups, c_.tokens);
    add(x_, static_cast<uint32_t>(c_.tokens * p_.cols));
    add(xd_, static_cast<uint32_t>(c_.tokens * token_sums()));
    add(xsum_, static_cast<uint32_t>(c_.tokens * token_sums()));
    imul(rax, ptr[args_ + kArgStride], 4 * c_.tokens);
    add(out_, rax);
    sub(qword[rsp + kFrameLeft], c_.tokens);
    jmp(full, T_NEAR);
    L(tails);
    std::vector<Label> tail(static_cast<size_t>(c_.tokens));
    mov(rax, qword[rsp + kFrameLeft]);
    for (int n = 1; n < c_.tokens; ++n) {
      cmp(rax, n);
      je(tail[n], T_NEAR);
    }
    jmp(end, T_NEAR);
    for (int n = 1; n < c_.tokens; ++n) {
      L(tail[n]);
      tile(groups, n);
      jmp(end, T_NEAR);
    }
    L(end);
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
      // item index = first * blocks + (rg - first)
      imul(val_, rax, static_cast<int>(p_.blocks));
      mov(b4_, rg_);
      sub(b4_, rax);
      add(val_, b4_);
      imul(scl_, val_, p_.scale_bytes);
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

  // groups x tokens outputs over every block, stored.
  void tile(int groups, int tokens) {
    step_pointers();
    for (int g = 0; g < groups; ++g)
      for (int t = 0; t < tokens; ++t) vzero(facc(g, t));
    if (chunked()) return chunk_tile(groups, tokens);
    xor_(b4_, b4_);
    const int64_t loops = p_.blocks / c_.unroll, rest = p_.blocks % c_.unroll;
    if (loops > 0) {
      Label blocks;
      L(blocks);
      for (int u = 0; u < c_.unroll; ++u) block(groups, tokens);
      cmp(b4_, static_cast<uint32_t>(loops * c_.unroll * 4));
      jl(blocks, T_NEAR);
    }
    for (int64_t u = 0; u < rest; ++u) block(groups, tokens);
    store(groups, tokens);
  }

  // The blocks of the current chunk: conf.unroll at a time while they last, then one at
  // a time; the first chunk stores its sums, the others add theirs to the output.
  void chunk_tile(int groups, int tokens) {
    Label multi, singles, one, first, done;
    mov(b4_, qword[rsp + kFrameChunk0]);
    mov(rax, b4_);
    shr(rax, 2);
    imul(rax, val_step_);
    add(val_, rax);
    mov(rax, b4_);
    shr(rax, 2);
    imul(rax, scl_step_);
    add(scl_, rax);
    if (c_.unroll > 1) {
      L(multi);
      lea(rax, ptr[b4_ + 4 * c_.unroll]);
      cmp(rax, qword[rsp + kFrameChunk1]);
      jg(singles, T_NEAR);
      for (int u = 0; u < c_.unroll; ++u) block(groups, tokens);
      jmp(multi, T_NEAR);
    }
    L(singles);
    cmp(b4_, qword[rsp + kFrameChunk1]);
    jge(first, T_NEAR);
    L(one);
    block(groups, tokens);
    cmp(b4_, qword[rsp + kFrameChunk1]);
    jl(one, T_NEAR);
    L(first);
    cmp(qword[rsp + kFrameChunk0], 0);
    jne(done, T_NEAR);
    store(groups, tokens);
    Label end;
    jmp(end, T_NEAR);
    L(done);
    store(groups, tokens, true);
    L(end);
  }

  Address value(int g, int64_t at) { return ptr[val_ + static_cast<int>(g * p_.group_values + at)]; }
  // The 4 activation bytes at `at` of token t's current block.
  Address act(int t, int at) { return ptr[x_ + b4_ * 8 + static_cast<int>(t * p_.cols + at)]; }
  Address token_sum(const Reg64& base, int t) { return ptr[base + b4_ + static_cast<int>(t * token_sums())]; }
  Address corr(int t) { return ptr[rsp + kFrameCorr + 4 * t]; }

  // Cache line `line` of each group's block `prefetch` bytes ahead.
  void prefetch_line(int groups, int line) {
    if (c_.prefetch == 0 || line * 64 >= p_.block_bytes) return;
    for (int g = 0; g < groups; ++g) prefetcht0(value(g, c_.prefetch + 64 * line));
  }

  // One block of the tile into its float accumulators, then on to the next block.
  void block(int groups, int tokens) {
    if (corrects())
      for (int t = 0; t < tokens; ++t) {  // -offset * (sum of the block's activations)
        imul(eax, token_sum(xsum_, t), -p_.offset);
        mov(corr(t), eax);
      }
    for (int g = 0; g < groups; ++g)
      for (int t = 0; t < tokens; ++t) c_.vnni ? vpbroadcastd(iacc(g, t), corr(t)) : vzero(iacc(g, t));
    if (p_.nibbles)
      nibble_block(groups, tokens);
    else if (c_.vnni)
      byte_block_vnni(groups, tokens);
    else
      byte_block_madd(groups, tokens);
    // facc += float(isum) * d_x * d_w; the weights' registers take d_w.
    for (int g = 0; g < groups; ++g) vcvtph2ps(wreg(g), ptr[scl_ + static_cast<int>(g * p_.group_scales)]);
    for (int t = 0; t < tokens; ++t) {
      vbroadcastss(v(r_.bx), token_sum(xd_, t));
      for (int g = 0; g < groups; ++g) {
        vcvtdq2ps(iacc(g, t), iacc(g, t));
        vmulps(iacc(g, t), iacc(g, t), v(r_.bx));
        vfmadd231ps(facc(g, t), iacc(g, t), wreg(g));
      }
    }
    add(val_, val_step_);
    add(scl_, scl_step_);
    add(b4_, 4);
  }

  // Q8_0 with vpdpbusd: u = w + 128, k-group j at j * vbytes; the sums start at -128 sum(x).
  void byte_block_vnni(int groups, int tokens) {
    for (int j = 0; j < 8; ++j) {
      prefetch_line(groups, j);
      for (int g = 0; g < groups; ++g) vload(wreg(g), value(g, j * p_.vbytes));
      for (int t = 0; t < tokens; ++t) {
        vpbroadcastd(v(r_.bx), act(t, 4 * j));
        for (int g = 0; g < groups; ++g) dot(iacc(g, t), wreg(g), v(r_.bx));
      }
    }
  }

  // Q8_0 without VNNI: w * x as |w| * (x with w's sign), pairs below 2 * 128 * 127 <
  // 2^15, widened per k-group. ymm: vpsignb; zmm: the signs as a mask choosing -x.
  void byte_block_madd(int groups, int tokens) {
    const Xmm prod = v(r_.prod), bx = v(r_.bx);
    for (int j = 0; j < 8; ++j) {
      prefetch_line(groups, j);
      for (int g = 0; g < groups; ++g) {
        const Xmm abs = p_.zmm ? wreg(g) : wreg(g, 1), w = wreg(g);
        vload(w, value(g, j * p_.vbytes));
        vxor(w, w, v(r_.c80));
        if (p_.zmm) vpmovb2m(sign_mask(g), w);
        vpabsb(abs, w);
      }
      for (int t = 0; t < tokens; ++t) {
        vpbroadcastd(bx, act(t, 4 * j));
        if (p_.zmm) vpsubb(v(r_.nbx), v(r_.zero), bx);
        for (int g = 0; g < groups; ++g) {
          if (p_.zmm) {
            vpblendmb(prod | sign_mask(g), bx, v(r_.nbx));
            vpmaddubsw(prod, wreg(g), prod);
          } else {
            vpsignb(prod, bx, wreg(g));
            vpmaddubsw(prod, wreg(g, 1), prod);
          }
          vpmaddwd(prod, prod, v(r_.ones));
          vpaddd(iacc(g, t), iacc(g, t), prod);
        }
      }
    }
  }

  // Q4_0: the vector at k * vbytes holds k-group k (low nibbles) and k + 4 (high).
  // madd: word sums, 8 k-groups of pairs <= 2 * 15 * 127 stay below 2^15; widened and
  // corrected once per block.
  void nibble_block(int groups, int tokens) {
    const Xmm bx = v(r_.bx), bx2 = v(r_.bx2), prod = v(r_.prod);
    for (int k = 0; k < 4; ++k) {
      prefetch_line(groups, k);
      for (int g = 0; g < groups; ++g) {
        const Xmm lo = wreg(g, 0), hi = wreg(g, 1);
        vload(lo, value(g, k * p_.vbytes));
        vpsrlw(hi, lo, 4);
        vand(hi, hi, v(r_.c0f));
        vand(lo, lo, v(r_.c0f));
      }
      for (int t = 0; t < tokens; ++t) {
        vpbroadcastd(bx, act(t, 4 * k));
        vpbroadcastd(bx2, act(t, 16 + 4 * k));
        for (int g = 0; g < groups; ++g) {
          if (c_.vnni) {
            dot(iacc(g, t), wreg(g, 0), bx);
            dot(iacc(g, t), wreg(g, 1), bx2);
          } else {
            vpmaddubsw(prod, wreg(g, 0), bx);
            vpaddw(iacc(g, t), iacc(g, t), prod);
            vpmaddubsw(prod, wreg(g, 1), bx2);
            vpaddw(iacc(g, t), iacc(g, t), prod);
          }
        }
      }
    }
    if (c_.vnni) return;
    for (int t = 0; t < tokens; ++t) {
      vpbroadcastd(prod, corr(t));
      for (int g = 0; g < groups; ++g) {
        vpmaddwd(iacc(g, t), iacc(g, t), v(r_.ones));
        vpaddd(iacc(g, t), iacc(g, t), prod);
      }
    }
  }

  // Stores the tile's rows that lie in [begin, end), token after token. The block
  // loop's registers are free by now: rcx = hi, r13 = lo, r14 = mask, r12 = address,
  // r15 = the output stride in bytes.
  void store(int groups, int tokens, bool add_to_output = false) {
    mov(scl_step_, ptr[args_ + kArgStride]);
    shl(scl_step_, 2);
    for (int g = 0; g < groups; ++g) {
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
      const Xmm mask = v(r_.iacc0);
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
        const Xmm below_lo = v(r_.iacc0 + 1);
        lea(val_, ptr[rip + mask_table_]);
        neg(b4_);
        vmovdqu(mask, ptr[val_ + b4_ * 4 + 32]);
        neg(scl_);
        vmovdqu(below_lo, ptr[val_ + scl_ * 4 + 32]);
        vpandn(mask, below_lo, mask);
      }
      lea(val_, ptr[out_ + rax * 4]);
      for (int t = 0; t < tokens; ++t) {
        if (p_.zmm) {
          if (add_to_output) vaddps(facc(g, t) | k1 | T_z, facc(g, t), ptr[val_]);  // masked lanes never load
          vmovups(ptr[val_] | k1, facc(g, t));
        } else {
          if (add_to_output) {
            vmaskmovps(v(r_.bx), mask, ptr[val_]);
            vaddps(facc(g, t), facc(g, t), v(r_.bx));
          }
          vmaskmovps(ptr[val_], mask, facc(g, t));
        }
        if (t + 1 < tokens) add(val_, scl_step_);
      }
    }
  }
};

}  // namespace

std::vector<uint8_t> emit_gemm(const MatvecPlan& plan, const GemmConf& conf) {
  // A block of a groups x tokens tile is, per k-group, at most 5 instructions per
  // (group, token) and a few per group and token, each at most 12 bytes; there are
  // 2 * tokens tiles (two step widths), each with at most 2 * unroll + 1 blocks.
  const size_t per_tile = static_cast<size_t>(conf.groups * conf.tokens + conf.groups + conf.tokens);
  const size_t per_block = 1024 + per_tile * 8 * 5 * 12;
  const size_t bound = 16384 + static_cast<size_t>(2 * conf.tokens) * (2 * conf.unroll + 1) * per_block;
  std::vector<uint8_t> buf(bound);
  try {
    GemmGen gen(plan, conf, buf.data(), buf.size());
    buf.resize(gen.getSize());
  } catch (const Xbyak::Error&) {
    return {};
  }
  return buf;
}

}  // namespace bf::jit
