// The float generator: matvecs and prompt GEMMs for F32, F16 and BF16 weights in the
// file's row-major rows, with f32 input (MatmulArgs::x), as the hand-written
// float_simd variants take them. A tile is R rows x T tokens of R*T*A vector
// accumulators (A chains per output), each weight vector widened to f32 once (F16 by
// vcvtph2ps, BF16 by a 16-bit shift, exact) and used by every token of the tile, then
// each output reduced across lanes and stored. Steps of R rows run while they fit in
// [begin, end), then single rows; tiles of T tokens while they fit, then single tokens.
// A row's last cols % W columns are read as the vector ending at the row's end with its
// first lanes zeroed, so no load leaves the row (cols >= W).
#include "jit/float_gen.h"

#include <algorithm>
#include <cstddef>

#include "kernels/contract.h"

namespace bf::jit {

using namespace Xbyak;

FloatTile float_tile(const MatvecConf& c) { return {c.groups, 1, c.accs, c.unroll, c.prefetch}; }
FloatTile float_tile(const GemmConf& c) { return {c.groups, c.tokens, 1, c.unroll, c.prefetch}; }

namespace {

// A tile's accumulators, its weight registers (T = 1: two in turn), the input, and the
// ymm tail mask; the single-token tile of the same rows must fit too.
int tile_registers(int rows, int tokens, int accs) {
  return rows * tokens * accs + (tokens == 1 ? 2 : rows) + 1 + 1;
}

bool tile_legal(const FloatTile& t) {
  return (t.rows == 1 || t.rows == 2 || t.rows == 4 || t.rows == 8) && t.tokens >= 1 && t.tokens <= 8 &&
         t.accs >= 1 && t.accs <= 4 && (t.unroll == 1 || t.unroll == 2 || t.unroll == 4 || t.unroll == 8) &&
         t.prefetch >= 0 && t.prefetch <= 65536 && t.prefetch % 64 == 0;
}

bool tile_fits(const LayoutPlan& plan, const FloatTile& t) {
  return plan.native && tile_legal(t) && float_vector_registers(t) <= register_file(plan);
}

}  // namespace

int float_vector_registers(const FloatTile& t) {
  return std::max(tile_registers(t.rows, t.tokens, t.accs), tile_registers(t.rows, 1, t.accs));
}

bool float_conf_fits(const LayoutPlan& plan, const MatvecConf& c) { return !c.vnni && tile_fits(plan, float_tile(c)); }
bool float_conf_fits(const LayoutPlan& plan, const GemmConf& c) {
  return !c.vnni && c.chunk == 0 && tile_fits(plan, float_tile(c));
}

namespace {

constexpr int kArgW = offsetof(MatmulArgs, w);
constexpr int kArgX = offsetof(MatmulArgs, x);
constexpr int kArgOut = offsetof(MatmulArgs, out);

class FloatGen : public Emitter {
 public:
  FloatGen(const LayoutPlan& p, const FloatTile& t, uint8_t* buf, size_t size)
      : Emitter(p, buf, size), t_(t), width_(p.zmm ? 16 : 8), tail_(static_cast<int>(p.cols % width_)),
        row_bytes_(static_cast<int>(p.cols * p.elem_bytes)), token_bytes_(static_cast<int>(p.cols * 4)) {
    generate();
  }

 private:
  // Emitter's general registers under the names this kernel uses them for.
  const Reg64 row_ = rg_, stride_ = rg_end_, token_ = xd_, tokens_ = xsum_;
  const Reg64 wrow_ = val_, wp_ = scl_, xp_ = val_step_, count_ = scl_step_;

  const FloatTile t_;
  const int width_, tail_, row_bytes_, token_bytes_;
  int mask_ = 0;  // the ymm tail mask's register (zmm: k2)

  int acc(int r, int t, int a, int tokens) const { return (r * tokens + t) * t_.accs + a; }

  void generate() {
    mask_ = register_file(p_) - 1;
    prologue(0);
    tail_mask();
    mov(stride_, arg_stride());
    shl(stride_, 2);
    movsxd(tokens_, arg_tokens());
    mov(row_, begin_);
    walk(row_, end_, t_.rows, [&](int n) { rows(n); });
    epilogue(0);
  }

  // Steps of n while i + n <= limit, then single ones while i < limit: body(width), then
  // i += width. Clobbers rax.
  template <class Body>
  void walk(const Reg64& i, const Reg64& limit, int n, Body body) {
    Label single, done;
    if (n > 1) {
      Label steps;
      L(steps);
      lea(rax, ptr[i + n]);
      cmp(rax, limit);
      jg(single, T_NEAR);
      body(n);
      add(i, n);
      jmp(steps, T_NEAR);
    }
    L(single);
    cmp(i, limit);
    jge(done, T_NEAR);
    body(1);
    inc(i);
    jmp(single, T_NEAR);
    L(done);
  }

  // Lanes below width - tail are the columns the row's last full vector already took.
  void tail_mask() {
    if (!tail_) return;
    const int skip = width_ - tail_;
    if (p_.zmm) {
      mov(eax, ~((1u << skip) - 1) & 0xffffu);
      kmovw(k2, eax);
    } else {
      lea(rax, ptr[rip + mask_table_]);
      vmovdqu(v(mask_), ptr[rax + 4 * (8 - skip)]);  // lanes < skip set
    }
  }

  // Rows [row_, row_ + n) for every token.
  void rows(int n) {
    mov(wrow_, ptr[args_ + kArgW]);
    imul(rax, row_, row_bytes_);
    add(wrow_, rax);
    mov(x_, ptr[args_ + kArgX]);
    mov(out_, ptr[args_ + kArgOut]);
    lea(out_, ptr[out_ + row_ * 4]);
    xor_(token_, token_);
    walk(token_, tokens_, t_.tokens, [&](int tokens) {
      tile(n, tokens);
      add(x_, tokens * token_bytes_);
      imul(rax, stride_, tokens);
      add(out_, rax);
    });
  }

  Address weight(int r, int at) { return ptr[wp_ + r * row_bytes_ + at * p_.elem_bytes]; }
  Address input(int t, int at) { return ptr[xp_ + t * token_bytes_ + at * 4]; }

  // d = row r's columns at..at + width as f32; `tail`: the lanes below the mask zeroed.
  void load_weight(const Xmm& d, int r, int at, bool tail) {
    const bool k = tail && p_.zmm;
    const Xmm dst = k ? Xmm(d | k2 | T_z) : d;
    const Address a = weight(r, at);
    if (p_.type == DType::F32) vmovups(dst, a);
    else if (p_.type == DType::F16) vcvtph2ps(dst, a);
    if (p_.type == DType::BF16) {
      vpmovzxwd(dst, a);
      vpslld(d, d, 16);
    }
    if (tail && !p_.zmm) vandnps(d, v(mask_), d);
  }

  // One vector of columns (at, from the cursors) into chain a of every output.
  void column(int rows, int tokens, int at, int a, bool tail) {
    const int w0 = rows * tokens * t_.accs;
    if (tokens == 1) {
      const Xmm x = v(w0 + 2);
      vmovups(x, input(0, at));
      for (int r = 0; r < rows; ++r) {
        if (p_.type == DType::F32 && !tail) {
          vfmadd231ps(v(acc(r, 0, a, 1)), x, weight(r, at));
        } else {
          const Xmm w = v(w0 + r % 2);
          load_weight(w, r, at, tail);
          vfmadd231ps(v(acc(r, 0, a, 1)), w, x);
        }
      }
      return;
    }
    // Each token's input loaded once for its R products: loads stay below the FMAs.
    const Xmm x = v(w0 + rows);
    for (int r = 0; r < rows; ++r) load_weight(v(w0 + r), r, at, tail);
    for (int t = 0; t < tokens; ++t) {
      vmovups(x, input(t, at));
      for (int r = 0; r < rows; ++r) vfmadd231ps(v(acc(r, t, a, tokens)), v(w0 + r), x);
    }
  }

  void tile(int rows, int tokens) {
    for (int i = 0; i < rows * tokens * t_.accs; ++i) vzero(v(i));
    mov(wp_, wrow_);
    mov(xp_, x_);
    // An iteration takes `unroll` vectors per chain, vector j into chain j % accs.
    const int body = t_.unroll * t_.accs;
    const int64_t vectors = p_.cols / width_;
    const int64_t iterations = vectors / body;
    if (iterations > 0) {
      Label loop;
      mov(count_, iterations);
      L(loop);
      for (int j = 0; j < body; ++j) column(rows, tokens, j * width_, j % t_.accs, false);
      prefetch(rows, body);
      add(wp_, body * width_ * p_.elem_bytes);
      add(xp_, body * width_ * 4);
      dec(count_);
      jnz(loop, T_NEAR);
    }
    const int rest = static_cast<int>(vectors % body);
    for (int j = 0; j < rest; ++j) column(rows, tokens, j * width_, j % t_.accs, false);
    if (tail_) column(rows, tokens, rest * width_ + tail_ - width_, rest % t_.accs, true);
    store(rows, tokens);
  }

  // Each row's cache lines `prefetch` bytes past this iteration's.
  void prefetch(int rows, int vectors) {
    if (!t_.prefetch) return;
    const int lines = std::max(1, vectors * width_ * p_.elem_bytes / 64);
    for (int r = 0; r < rows; ++r)
      for (int l = 0; l < lines; ++l) prefetcht0(ptr[wp_ + r * row_bytes_ + t_.prefetch + 64 * l]);
  }

  // Every output: its chains added, its lanes summed, stored at out_ + t * stride + r.
  void store(int rows, int tokens) {
    const int tmp = rows * tokens * t_.accs;
    for (int t = 0; t < tokens; ++t) {
      if (t) imul(rax, stride_, t);
      for (int r = 0; r < rows; ++r) {
        const int a0 = acc(r, t, 0, tokens);
        for (int a = 1; a < t_.accs; ++a) vaddps(v(a0), v(a0), v(a0 + a));
        const Ymm y(a0), ty(tmp);
        const Xmm x(a0), tx(tmp);
        if (p_.zmm) {
          vextractf64x4(ty, Zmm(a0), 1);
          vaddps(y, y, ty);
        }
        if (p_.zmm) vextractf32x4(tx, y, 1);  // registers past 15 have EVEX forms only
        else vextractf128(tx, y, 1);
        vaddps(x, x, tx);
        vmovhlps(tx, tx, x);
        vaddps(x, x, tx);
        vmovshdup(tx, x);
        vaddss(x, x, tx);
        vmovss(t ? ptr[out_ + rax + r * 4] : ptr[out_ + r * 4], x);
      }
    }
  }
};

}  // namespace

std::vector<uint8_t> emit_float(const LayoutPlan& plan, const FloatTile& t) {
  return emit_code<FloatGen>(plan, t, size_t{1} << 20);
}

}  // namespace bf::jit
