// The prompt GEMM generator: every block type of emitter.h in the r8 (ymm) or r16 (zmm)
// layout times a chunk of 8-bit activation rows (contract.h Q8Rows), any n_tokens.
//
// The layouts, the value decode and the integer dot are the emitter's (emitter.h says
// how a k-group, its activation bytes and the offset correction line up); what differs
// from the matvec is the register tile: conf.groups row groups x conf.tokens tokens share
// every weight load and every activation broadcast, so the loads per dot product drop by
// the tile's sides. Scales apply in f32 per block: d_w (times the integer sub-block
// scale, exact in f32, for the K types) per group, d_x per token, and the mins (Q4_1,
// Q5_1: m; Q4_K, Q5_K: m * dmin) times d_x * sum(x). Q6_K runs its two half blocks one
// after the other, each summed from -32 times its half's activations and scaled by its sc.
//
// Code shape (registers fixed below):
//   for each step of conf.groups row groups in [begin / lanes, ceil(end / lanes)):
//    for each K chunk of conf.chunk blocks (one chunk of every block when 0):
//     for each tile of conf.tokens tokens (the last one narrower, its own code):
//       for each block b of the chunk (conf.unroll per loop iteration; K types: 8, so
//       that every block's place in its super-block is known to the code):
//         per token: c_t = -offset * sum_t[b] on the stack (vnni and nibbles)
//         integer sums of every (group, token), started at c_t, over the 8 k-groups:
//           load each group's k-group once, broadcast each token's 4 bytes once
//         facc[g][t] += float(isum) * d_x[t][b] * d_w[g][b] (+ the min term)
//       store (first chunk) or add to the output (later chunks) each (group, token)'s
//       rows that lie in [begin, end) (masked)
// Row-group steps outside, tokens inside: a step's weights are read from memory once per
// call and from L1/L2 by every token tile, as in the hand-written drivers.
#include "jit/gemm_gen.h"

namespace bf::jit {

namespace {

// Which vector register holds what, for a plan and conf; `total` is the count.
// Temporaries and constants first (below 16: first_half_sum's xmm forms), then the
// weights, then the accumulators.
struct GemmRegs {
  int bx = -1, bx2 = -1, prod = -1, ones = -1, c0f = -1, plane = -1, chi = -1;
  int c80 = -1, nbx = -1, zero = -1;
  int w0 = 0, nw = 1;        // weights: nw per group, see below
  int facc0 = 0, iacc0 = 0;  // groups x tokens each
  int total = 0;

  // Weights per group: Q8_0 vnni the k-group; madd on ymm its signed bytes and |w|
  // (on zmm |w| only, the signs in a mask register); nibble types low and high values,
  // Q6_K one half's values. Their registers take the block's f32 scales once the dots
  // are done.
  GemmRegs(const LayoutPlan& p, const GemmConf& c) {
    const int tile = c.groups * c.tokens;
    int n = 0;
    auto next = [&n] { return n++; };
    bx = next();
    if (p.nibbles) {
      bx2 = next();
      c0f = next();
    }
    if (!c.vnni) {
      prod = next();
      ones = next();
    }
    if (p.high_bits) {
      plane = c.vnni ? next() : prod;  // the decode is done before the dots need prod
      chi = next();
    }
    if (!p.nibbles && !c.vnni) {
      c80 = next();
      if (p.zmm) {
        nbx = next();
        zero = next();
      }
    }
    nw = p.q6 ? 1 : p.nibbles || (!c.vnni && !p.zmm) ? 2 : 1;
    w0 = n;
    n += nw * c.groups;
    facc0 = n;
    n += tile;
    iacc0 = n;
    n += tile;
    total = n;
  }
};

}  // namespace

int gemm_vector_registers(const LayoutPlan& plan, const GemmConf& conf) { return GemmRegs(plan, conf).total; }

namespace {

using namespace Xbyak;

// Stack frame: the tile's per-token (and Q6_K per-half) corrections, the tokens left in
// the step, and the current K chunk's blocks [begin, end) as 4 * block.
constexpr int kFrameCorr = 0;
constexpr int kFrameLeft = 64;
constexpr int kFrameChunk0 = 72;
constexpr int kFrameChunk1 = 80;
constexpr int kFrameBytes = 88;

class GemmGen : public Emitter {
 public:
  GemmGen(const LayoutPlan& p, const GemmConf& c, uint8_t* buf, size_t size)
      : Emitter(p, buf, size), c_(c), r_(p, c), dot_(dot_kind(c.vnni)) {
    body();
  }

 private:
  const GemmConf& c_;
  const GemmRegs r_;
  const Dot dot_;

  // Accumulators of (group, token) are indexed with the conf's token count as the row
  // length whatever the tile's width, so every tile uses the same registers.
  Xmm facc(int g, int t) const { return v(r_.facc0 + g * c_.tokens + t); }
  Xmm iacc(int g, int t) const { return v(r_.iacc0 + g * c_.tokens + t); }
  Xmm wreg(int g, int i = 0) const { return v(r_.w0 + g * r_.nw + i); }
  Opmask sign_mask(int g) const { return Opmask(2 + g); }  // zmm madd Q8_0; k1 is the store's

  bool corrects() const { return p_.offset != 0 && (c_.vnni || p_.nibbles); }  // madd Q8_0 is signed
  int64_t token_sums() const { return p_.blocks * 4; }  // bytes from one token's d/sum to the next

  void body() {
    Label done;
    prologue(kFrameBytes);
    cmp(begin_, end_);
    jge(done, T_NEAR);
    cmp(arg_tokens(), 0);
    jle(done, T_NEAR);
    constant(r_.c0f, 0x0f0f0f0f);
    constant(r_.c80, 0x80808080);
    constant(r_.ones, 0x00010001);
    constant(r_.chi, p_.high_mask);
    if (r_.zero >= 0) vzero(v(r_.zero));
    row_group_loop(c_.groups, done, [this](int groups) { step(groups); });
    L(done);
    epilogue(kFrameBytes);
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
    load_token_pointers();
    movsxd(rax, arg_tokens());
    mov(qword[rsp + kFrameLeft], rax);
    L(full);
    cmp(qword[rsp + kFrameLeft], c_.tokens);
    jl(tails, T_NEAR);
    tile(groups, c_.tokens);
    add(x_, static_cast<uint32_t>(c_.tokens * p_.cols));
    add(xd_, static_cast<uint32_t>(c_.tokens * token_sums()));
    add(xsum_, static_cast<uint32_t>(c_.tokens * token_sums()));
    imul(rax, arg_stride(), 4 * c_.tokens);
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

  // groups x tokens outputs over every block, stored. K types: the unroll is one
  // super-block and there is no rest (gemm_conf_fits), so u % 8 is a block's place.
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
      for (int u = 0; u < c_.unroll; ++u) block(groups, tokens, u % 8);
      cmp(b4_, static_cast<uint32_t>(loops * c_.unroll * 4));
      jl(blocks, T_NEAR);
    }
    for (int64_t u = 0; u < rest; ++u) block(groups, tokens, 0);
    store(groups, tokens);
  }

  // The blocks of the current chunk: conf.unroll at a time while they last, then one at
  // a time (never for the K types: their chunks are whole unrolls); the first chunk
  // stores its sums, the others add theirs to the output.
  void chunk_tile(int groups, int tokens) {
    Label multi, singles, one, first, done;
    mov(b4_, qword[rsp + kFrameChunk0]);
    mov(rax, b4_);
    shr(rax, 2);
    imul(rax, val_step_);
    add(val_, rax);
    mov(rax, b4_);
    shr(rax, 2);
    if (p_.k_quant) shr(rax, 3);  // scale items are per super-block
    imul(rax, scl_step_);
    add(scl_, rax);
    if (c_.unroll > 1) {
      L(multi);
      lea(rax, ptr[b4_ + 4 * c_.unroll]);
      cmp(rax, qword[rsp + kFrameChunk1]);
      jg(singles, T_NEAR);
      for (int u = 0; u < c_.unroll; ++u) block(groups, tokens, u % 8);
      jmp(multi, T_NEAR);
    }
    L(singles);
    if (!p_.k_quant) {
      cmp(b4_, qword[rsp + kFrameChunk1]);
      jge(first, T_NEAR);
      L(one);
      block(groups, tokens, 0);
      cmp(b4_, qword[rsp + kFrameChunk1]);
      jl(one, T_NEAR);
    }
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

  // The 4 activation bytes at `at` of token t's current block.
  Address act(int t, int at) { return ptr[x_ + b4_ * 8 + static_cast<int>(t * p_.cols + at)]; }
  int token_at(int t) const { return static_cast<int>(t * token_sums()); }
  Address token_sum(const Reg64& base, int t) { return ptr[base + b4_ + token_at(t)]; }
  Address corr(int t, int h = 0) { return ptr[rsp + kFrameCorr + 4 * (2 * t + h)]; }

  // One block (`sub`: its place in its K super-block) of the tile into its float
  // accumulators, then on to the next block.
  void block(int groups, int tokens, int sub) {
    corrections(tokens);
    if (p_.q6) {
      for (int h = 0; h < 2; ++h) q6_half(groups, tokens, sub, h);
    } else {
      start_sums(groups, tokens, 0);
      if (p_.nibbles)
        nibble_block(groups, tokens);
      else if (c_.vnni)
        byte_block_vnni(groups, tokens);
      else
        byte_block_madd(groups, tokens);
      scales(groups, tokens, sub);
    }
    add(val_, val_step_);
    if (!p_.k_quant || sub == 7) add(scl_, scl_step_);
    add(b4_, 4);
  }

  // The integer sums at the correction of half h (int32 paths), else at zero.
  void start_sums(int groups, int tokens, int h) {
    const bool corrected = corrects() && dot_ != Dot::Words;
    for (int g = 0; g < groups; ++g)
      for (int t = 0; t < tokens; ++t) corrected ? vpbroadcastd(iacc(g, t), corr(t, h)) : vzero(iacc(g, t));
  }

  // Per token, -offset * (sum of the block's activations) on the stack; Q6_K per half,
  // the first from the activations themselves, the second from the block sum.
  void corrections(int tokens) {
    if (!corrects()) return;
    for (int t = 0; t < tokens; ++t) {
      if (!p_.q6) {
        imul(eax, token_sum(xsum_, t), -p_.offset);
        mov(corr(t), eax);
        continue;
      }
      first_half_sum(static_cast<int>(t * p_.cols), r_.bx, r_.bx2);
      imul(eax, eax, -p_.offset);
      mov(corr(t, 0), eax);
      neg(eax);
      mov(corr(t, 1), eax);
      imul(eax, token_sum(xsum_, t), -p_.offset);
      add(corr(t, 1), eax);
    }
  }

  // facc += float(isum) * d_x * d_w, plus the min term: m * d_x * sum(x) (Q4_1, Q5_1) or
  // -m * dmin * d_x * sum(x) (Q4_K, Q5_K, with d_w = d * sc). The weights' registers take
  // d_w and the min.
  void scales(int groups, int tokens, int sub) {
    const bool mins = p_.has_min || p_.k_quant;
    const Xmm bx = v(r_.bx);
    for (int g = 0; g < groups; ++g) {
      const Xmm d = wreg(g, 0);
      if (!p_.k_quant) {
        load_d(d, g);
        if (p_.has_min) load_min(wreg(g, 1), g);
        continue;
      }
      const Xmm m = wreg(g, 1);
      load_sub(d, g, sub, false);
      load_d(bx, g);
      vmulps(d, d, bx);
      load_sub(m, g, sub, true);
      load_dmin(bx, g);
      vmulps(m, m, bx);
    }
    for (int t = 0; t < tokens; ++t) {
      vbroadcastss(bx, token_sum(xd_, t));
      if (mins) scaled_sum(v(r_.bx2), token_at(t));
      for (int g = 0; g < groups; ++g) {
        vcvtdq2ps(iacc(g, t), iacc(g, t));
        vmulps(iacc(g, t), iacc(g, t), bx);
        vfmadd231ps(facc(g, t), iacc(g, t), wreg(g, 0));
        if (!mins) continue;
        if (p_.k_quant && !p_.dmin_negated)
          vfnmadd231ps(facc(g, t), wreg(g, 1), v(r_.bx2));
        else
          vfmadd231ps(facc(g, t), wreg(g, 1), v(r_.bx2));
      }
    }
  }

  // Q6_K, half h (k-groups 4h..4h+3: loads 0-3's low nibbles, then their high ones):
  // one integer sum per (group, token) from the half's correction, then facc +=
  // float(isum) * (d * sc_h) * d_x, d * sc_h exact in f32. Halves one after the other
  // keep one sum per output (a wider tile) for a second pass over the block's values,
  // which L1 holds.
  void q6_half(int groups, int tokens, int sub, int h) {
    const Xmm bx = v(r_.bx), d = v(r_.bx2);
    start_sums(groups, tokens, h);
    for (int k = 0; k < 4; ++k) {
      if (h == 0) {
        prefetch_line(groups, k, c_.prefetch);
        if (k == 3)
          for (int line = 4; line * 64 < p_.block_bytes; ++line) prefetch_line(groups, line, c_.prefetch);
      }
      for (int g = 0; g < groups; ++g) load_half(g, k, h, wreg(g), r_.c0f, r_.plane, r_.chi);
      for (int t = 0; t < tokens; ++t) {
        vpbroadcastd(bx, act(t, 16 * h + 4 * k));
        for (int g = 0; g < groups; ++g) dot(dot_, iacc(g, t), wreg(g), bx, r_.prod, r_.ones);
      }
    }
    for (int g = 0; g < groups; ++g) {
      load_half_scale(wreg(g), g, sub, h);
      vcvtdq2ps(wreg(g), wreg(g));
      load_d(d, g);
      vmulps(wreg(g), wreg(g), d);
    }
    for (int t = 0; t < tokens; ++t) {
      vbroadcastss(bx, token_sum(xd_, t));
      for (int g = 0; g < groups; ++g) {
        vcvtdq2ps(iacc(g, t), iacc(g, t));
        vmulps(iacc(g, t), iacc(g, t), wreg(g));
        vfmadd231ps(facc(g, t), iacc(g, t), bx);
      }
    }
  }

  // Q8_0 with vpdpbusd: u = w + 128, k-group j at j * vbytes; the sums start at -128 sum(x).
  void byte_block_vnni(int groups, int tokens) {
    for (int j = 0; j < 8; ++j) {
      prefetch_line(groups, j, c_.prefetch);
      for (int g = 0; g < groups; ++g) vload(wreg(g), value(g, j * p_.vbytes));
      for (int t = 0; t < tokens; ++t) {
        vpbroadcastd(v(r_.bx), act(t, 4 * j));
        for (int g = 0; g < groups; ++g) dot(Dot::Vnni, iacc(g, t), wreg(g), v(r_.bx), r_.prod, r_.ones);
      }
    }
  }

  // Q8_0 without VNNI: w * x as |w| * (x with w's sign), pairs below 2 * 128 * 127 <
  // 2^15, widened per k-group. ymm: vpsignb; zmm: the signs as a mask choosing -x.
  void byte_block_madd(int groups, int tokens) {
    const Xmm prod = v(r_.prod), bx = v(r_.bx);
    for (int j = 0; j < 8; ++j) {
      prefetch_line(groups, j, c_.prefetch);
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

  // Nibble types but Q6_K: load k holds k-groups k (low nibbles) and k + 4 (high), with
  // their plane bits (load_nibbles). Word sums (4-bit values) are widened and corrected
  // once per block.
  void nibble_block(int groups, int tokens) {
    const Xmm bx = v(r_.bx), bx2 = v(r_.bx2);
    for (int k = 0; k < 4; ++k) {
      prefetch_line(groups, k, c_.prefetch);
      if (k == 3)
        for (int line = 4; line * 64 < p_.block_bytes; ++line) prefetch_line(groups, line, c_.prefetch);
      for (int g = 0; g < groups; ++g) load_nibbles(g, k, wreg(g, 0), wreg(g, 1), r_.c0f, r_.plane, r_.chi);
      for (int t = 0; t < tokens; ++t) {
        vpbroadcastd(bx, act(t, 4 * k));
        vpbroadcastd(bx2, act(t, 16 + 4 * k));
        for (int g = 0; g < groups; ++g) {
          dot(dot_, iacc(g, t), wreg(g, 0), bx, r_.prod, r_.ones);
          dot(dot_, iacc(g, t), wreg(g, 1), bx2, r_.prod, r_.ones);
        }
      }
    }
    if (dot_ != Dot::Words) return;
    const Xmm prod = v(r_.prod);
    for (int t = 0; t < tokens; ++t) {
      if (corrects()) vpbroadcastd(prod, corr(t));
      for (int g = 0; g < groups; ++g) {
        vpmaddwd(iacc(g, t), iacc(g, t), v(r_.ones));
        if (corrects()) vpaddd(iacc(g, t), iacc(g, t), prod);
      }
    }
  }

  // Stores the tile's rows that lie in [begin, end), token after token. The block
  // loop's registers are free by now (row_mask's scratch); r15 = the output stride in
  // bytes.
  void store(int groups, int tokens, bool add_to_output = false) {
    mov(scl_step_, arg_stride());
    shl(scl_step_, 2);
    const Xmm mask = v(r_.iacc0);
    for (int g = 0; g < groups; ++g) {
      row_mask(g, r_.iacc0, r_.iacc0 + 1);
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

std::vector<uint8_t> emit_gemm(const LayoutPlan& plan, const GemmConf& conf) {
  // A block of a groups x tokens tile is, per k-group, at most 5 instructions per
  // (group, token) and a few per group and token, each at most 12 bytes; there are
  // 2 * tokens tiles (two step widths), each with at most 2 * unroll + 1 blocks.
  // Planes and Q6_K's halves at most double that.
  const size_t per_tile = static_cast<size_t>(conf.groups * conf.tokens + conf.groups + conf.tokens);
  const size_t per_block = 1024 + per_tile * 2 * 8 * 5 * 12;
  const size_t bound = 16384 + static_cast<size_t>(2 * conf.tokens) * (2 * conf.unroll + 1) * per_block;
  return emit_code<GemmGen>(plan, conf, bound);
}

}  // namespace bf::jit
