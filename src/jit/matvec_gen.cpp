// The token-step matvec generator: every block type of emitter.h in the r8 (ymm) or r16
// (zmm) layout times 8-bit activations (contract.h Q8Rows), with vpmaddubsw + vpmaddwd
// or vpdpbusd as the dot. The layouts, the value decode and the offset correction are
// the emitter's (emitter.h); what is this kind's own is the register use of one step.
//
// The madd path of Q8_0 takes the signed weight (|w| and x with w's sign), as vpmaddubsw
// would saturate on u * x. Q4_K/Q5_K scale each block's sum by its integer sc and sum
// the super-block in f32 before d (and the mins before dmin) apply; Q6_K sums its two
// half blocks apart (one chain each), each corrected by -32 times its own activation
// sum, and scales them by their int8 sc.
//
// Code shape (registers fixed below):
//   for each token t < n_tokens:                    (a token step has one)
//     for rg in [begin / lanes, ceil(end / lanes)):  steps of conf.groups row groups
//       for each block b (conf.unroll per loop iteration):
//         int32 sums of every group (conf.accs chains), scaled in f32 into the group's
//         accumulator by d_w (f16, per row) * d_x (per block)
//       store each group's rows that lie in [begin, end) (masked)
#include "jit/matvec_gen.h"

namespace bf::jit {

// Constants and temporaries of each dot path, beside the groups * (1 + accs) accumulators.
int vector_registers(const LayoutPlan& p, const MatvecConf& c) {
  int fixed;
  // broadcasts, raw, high, correction, 0x0f (+ product, ones) (+ plane, its mask; madd:
  // the plane in the product's register) (+ Q6_K's second correction)
  if (p.nibbles)
    fixed = 6 + (c.vnni ? 0 : 2) + (p.high_bits ? (c.vnni ? 2 : 1) : 0) + (p.q6 ? 1 : 0);
  else
    fixed = c.vnni ? 3 : (p.zmm ? 3 : 2) + 4;  // broadcast, weights, correction; or 0x80, ones (, zero) + 4
  // Q4_K, Q5_K: per group a super-block's scaled sums and its mins (k_scales).
  const int super_block_sums = p.k_quant && !p.q6 ? 2 : 0;
  return fixed + c.groups * (1 + c.accs + super_block_sums);
}

namespace {

using namespace Xbyak;

class MatvecGen : public Emitter {
 public:
  MatvecGen(const LayoutPlan& p, const MatvecConf& c, uint8_t* buf, size_t size)
      : Emitter(p, buf, size), c_(c), dot_(dot_kind(c.vnni)) {
    allocate();
    body();
  }

 private:
  const MatvecConf& c_;
  const Dot dot_;
  // Vector register numbers (allocate()): temporaries and constants, then accumulators.
  int facc0_ = 0, iacc0_ = 0, kacc0_ = 0;
  int bx_ = 0, bx2_ = 0, raw_ = 0, hi_ = 0, prod_ = -1, corr_ = 0, abs_ = 0, plane_ = -1, corr1_ = 0;
  int c0f_ = -1, c80_ = -1, ones_ = -1, zero_ = -1, chi_ = -1;

  Xmm facc(int g) const { return v(facc0_ + g); }
  Xmm iacc(int g, int a) const { return v(iacc0_ + g * c_.accs + a); }
  Xmm sacc(int g) const { return v(kacc0_ + 2 * g); }      // K: sum over the super-block of float(sc * isum) * d_x
  Xmm macc(int g) const { return v(kacc0_ + 2 * g + 1); }  // K: likewise of float(m) * d_x * sum(x)

  // Temporaries and constants first, so that they are below 16 (VEX-encodable as xmm,
  // which first_half_sum uses), then the accumulators.
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
      if (p_.high_bits) {
        plane_ = c_.vnni ? next() : prod_;  // a group's decode is done before its dots need prod
        chi_ = next();
      }
      if (p_.q6) corr1_ = next();
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
    n += c_.groups * c_.accs;
    kacc0_ = n;
  }

  void body() {
    Label done, token_loop, next_token;
    prologue(0);
    load_token_pointers();
    cmp(begin_, end_);
    jge(done, T_NEAR);
    mov(eax, arg_tokens());
    test(eax, eax);
    jle(done, T_NEAR);
    push(rax);  // tokens left, at [rsp]
    constant(c0f_, 0x0f0f0f0f);
    constant(c80_, 0x80808080);
    constant(ones_, 0x00010001);
    constant(chi_, p_.high_mask);
    if (zero_ >= 0) vzero(v(zero_));

    L(token_loop);
    row_group_loop(c_.groups, next_token, [this](int groups) { step(groups); });

    L(next_token);
    add(x_, static_cast<uint32_t>(p_.cols));
    add(xd_, static_cast<uint32_t>(p_.blocks * 4));
    add(xsum_, static_cast<uint32_t>(p_.blocks * 4));
    mov(rax, arg_stride());
    lea(out_, ptr[out_ + rax * 4]);
    dec(dword[rsp]);
    jnz(token_loop, T_NEAR);
    pop(rax);

    L(done);
    epilogue(0);
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

  Address act(int at) { return ptr[x_ + b4_ * 8 + at]; }

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
      // facc += float(isum) * d_w * d_x (+ m * d_x * sum(x))
      if (p_.has_min) scaled_sum(v(corr_), 0);  // no offset to correct: corr_ is free
      for (int g = 0; g < groups; ++g) {
        load_d(v(raw_), g);
        vmulps(v(raw_), v(raw_), v(bx_));
        vcvtdq2ps(iacc(g, 0), iacc(g, 0));
        vfmadd231ps(facc(g), iacc(g, 0), v(raw_));
        if (!p_.has_min) continue;
        load_min(v(raw_), g);
        vfmadd231ps(facc(g), v(raw_), v(corr_));
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
        load_half_scale(t, g, sub, h);
        vpmulld(iacc(g, h), iacc(g, h), t);
      }
      vpaddd(iacc(g, 0), iacc(g, 0), iacc(g, 1));
      load_d(d, g);
      vmulps(d, d, v(bx_));
      vcvtdq2ps(iacc(g, 0), iacc(g, 0));
      vfmadd231ps(facc(g), iacc(g, 0), d);
    }
  }

  // Q4_K, Q5_K: facc += d * sum_b float(sc_b * isum_b) * d_x,b - dmin * sum_b float(m_b) *
  // d_x,b * sum(x)_b over the super-block's 8 blocks, sc and m each block's integer
  // sub-block scale and min (sc * isum stays far below 2^24: exact). The per-block sums
  // go to sacc/macc (`sub` 0 starts them), d and dmin apply once, after block 7.
  void k_scales(int groups, int sub) {
    const Xmm dxs = v(corr_);  // d_x * sum(x): K types have no offset to correct
    scaled_sum(dxs, 0);
    for (int g = 0; g < groups; ++g) {
      const Xmm isum = iacc(g, 0), t = v(hi_), d = v(raw_), dmin = v(bx2_);
      vpmovzxbd(t, scale(g, p_.sc_at + sub * p_.sub_stride));
      vpmulld(isum, isum, t);
      vcvtdq2ps(isum, isum);
      load_sub(t, g, sub, true);
      if (sub == 0) {
        vmulps(sacc(g), isum, v(bx_));
        vmulps(macc(g), t, dxs);
      } else {
        vfmadd231ps(sacc(g), isum, v(bx_));
        vfmadd231ps(macc(g), t, dxs);
      }
      if (sub != 7) continue;
      load_d(d, g);
      vfmadd231ps(facc(g), sacc(g), d);
      load_dmin(dmin, g);
      p_.dmin_negated ? vfmadd231ps(facc(g), macc(g), dmin) : vfnmadd231ps(facc(g), macc(g), dmin);
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
      prefetch_line(groups, j, c_.prefetch);
      vpbroadcastd(v(bx_), act(4 * j));
      for (int g = 0; g < groups; ++g) {
        const Xmm acc = iacc(g, j % c_.accs), w = v(raw_);
        vload(w, value(g, j * p_.vbytes));
        if (c_.vnni) {
          dot(Dot::Vnni, acc, w, v(bx_), prod_, ones_);
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

  // Every nibble type: load k holds k-groups k (low nibbles) and k + 4 (high), the
  // plane bits added by load_nibbles.
  void nibble_block(int groups) {
    if (p_.q6) {
      half_corrections();
    } else if (p_.offset != 0) {
      correction();
    }
    // Q6_K: chain 0 is half 0 (k-groups 0-3), chain 1 half 1 (conf_fits: accs == 2),
    // int32 on both paths, each started at its half's correction. Word chains are
    // widened and corrected once at the end; int32 chains start at the correction.
    const bool words = dot_ == Dot::Words;
    for (int g = 0; g < groups; ++g)
      for (int a = 0; a < c_.accs; ++a) {
        if (p_.q6)
          vmov(iacc(g, a), v(a == 0 ? corr_ : corr1_));
        else if (p_.offset != 0 && !words && a == 0)
          vmov(iacc(g, a), v(corr_));
        else
          vzero(iacc(g, a));
      }
    for (int k = 0; k < 4; ++k) {
      prefetch_line(groups, k, c_.prefetch);
      if (k == 3)
        for (int line = 4; line * 64 < p_.block_bytes; ++line) prefetch_line(groups, line, c_.prefetch);
      vpbroadcastd(v(bx_), act(4 * k));
      vpbroadcastd(v(bx2_), act(16 + 4 * k));
      for (int g = 0; g < groups; ++g) {
        const Xmm lo = v(raw_), hi = v(hi_);
        load_nibbles(g, k, lo, hi, c0f_, plane_, chi_);
        dot(dot_, iacc(g, (2 * k) % c_.accs), lo, v(bx_), prod_, ones_);
        dot(dot_, iacc(g, (2 * k + 1) % c_.accs), hi, v(bx2_), prod_, ones_);
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

  // Q6_K: corr_ = -32 * (sum of activations 0-15 of the block), corr1_ = -32 * (16-31).
  // The temporaries are free at the start of a block (and below 16: VEX xmm forms).
  void half_corrections() {
    first_half_sum(0, raw_, hi_);
    imul(eax, eax, -32);
    broadcast_eax(v(corr_));
    imul(eax, dword[xsum_ + b4_], -32);
    broadcast_eax(v(corr1_));
    vpsubd(v(corr1_), v(corr1_), v(corr_));  // -32 * (block sum - first half)
  }

  // Stores the rows of group rg_ + g that lie in [begin, end). Uses the block loop's
  // registers (free by now) as scratch.
  void store(int g) {
    row_mask(g, iacc0_, iacc0_ + 1);
    if (p_.zmm)
      vmovups(ptr[out_ + rax * 4] | k1, facc(g));
    else
      vmaskmovps(ptr[out_ + rax * 4], v(iacc0_), facc(g));
  }
};

}  // namespace

std::vector<uint8_t> emit_matvec(const LayoutPlan& plan, const MatvecConf& conf) {
  // A block of one group is under 1 KiB of code; each step (conf.groups, then 1) emits
  // fewer than 2 * unroll blocks.
  const size_t bound = 16384 + static_cast<size_t>(2 * conf.unroll) * (conf.groups + 1) * 2048;
  return emit_code<MatvecGen>(plan, conf, bound);
}

}  // namespace bf::jit
