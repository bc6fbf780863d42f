// Generated kernels: machine code written at run time (Xbyak) for one op instance's
// exact shape on this CPU, meeting the kernel contract (kernels/contract.h) so that the
// tuner can install it like any other variant and the snapshot can save and reload it.
//
// Generated token-step matvecs (n_tokens == 1) for every block type (Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) read the SAME weight layouts as the hand-written integer
// variants of their level, so switching between a hand-written and a generated variant
// needs no repack:
//   Avx2        "r8"  (kernels/int8_avx2): vpmaddubsw + vpmaddwd, or VEX vpdpbusd when the
//                     conf asks for it and the CPU has AVX-VNNI;
//   Avx512      "r16" (kernels/int8_avx512): vpmaddubsw + vpmaddwd on zmm;
//   Avx512Vnni  "r16": EVEX vpdpbusd on zmm.
// The shape (rows, cols, block count, layout strides) is baked in as immediates; every
// address is read from MatmulArgs at its fixed offsets, so the code is position
// independent: saved bytes run unchanged from any other address (load_matvec).
// The code loops over n_tokens (each token re-streams the weights), so it is correct
// for any batch, but it is written for token steps: its variant says max_tokens = 1.
//
// Generated prompt GEMMs (n_tokens > 1, jit/gemm_gen.cpp), for the same types, read the same layouts: a tile
// of conf.tokens tokens x conf.groups row groups shares every weight load and activation
// broadcast. Their variants take any n_tokens (max_tokens = 0), a token step included.
//
// Memory is W^X (jit/code_buffer.h): written while read+write, then read+execute.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cpu/cpu.h"
#include "kernels/variant.h"

namespace bf::jit {

class CodeBuffer;

// The knobs of a generated matvec; together with (type, isa, rows, cols) they are the
// kernel's identity. Text form (str/parse): "g4-a1-u1-p8192-vnni".
struct MatvecConf {
  int groups = 4;     // row groups per step (g): 1, 2 or 4; r16 steps stay inside a set of 4
  int accs = 1;       // independent integer accumulator chains per row group (a): 1..3 (Q6_K: 2, one per half block)
  int unroll = 1;     // blocks per loop iteration (u): 1, 2, 4 or 8 (K types: 8), the rest straight after
  int prefetch = 0;   // bytes ahead in each row group's value stream (p), 0: none
  bool vnni = false;  // vpdpbusd ("vnni") rather than vpmaddubsw + vpmaddwd ("madd")

  std::string str() const;
  static std::optional<MatvecConf> parse(std::string_view text);  // nullopt: not a conf
  bool operator==(const MatvecConf&) const = default;
};

// The candidate confs for (type, isa): a handful, each within the ISA's register file.
// Avx2 lists both dot kinds (the "vnni" ones need AVX-VNNI); Avx512 only "madd";
// Avx512Vnni only "vnni". Empty when no generator covers (type, isa).
std::vector<MatvecConf> knob_space(DType type, IsaLevel isa);

// The knobs of a generated prompt GEMM; with (type, isa, rows, cols) the kernel's
// identity. Text form (str/parse): "t4-g2-u1-k0-p0-vnni".
struct GemmConf {
  int tokens = 4;     // tokens per tile (t): 1..8, each weight load serves them all
  int groups = 2;     // row groups per tile (g): 1, 2 or 4; r16 tiles stay inside a set of 4
  int unroll = 1;     // blocks per loop iteration (u): 1, 2, 4 or 8 (K types: 8), the rest straight after
  int chunk = 0;      // K chunk (k): blocks every token tile runs before the next chunk, 0: all (K types: whole super-blocks)
  int prefetch = 0;   // bytes ahead in each row group's value stream (p), 0: none
  bool vnni = false;  // vpdpbusd ("vnni") rather than vpmaddubsw + vpmaddwd ("madd")

  std::string str() const;
  static std::optional<GemmConf> parse(std::string_view text);  // nullopt: not a conf
  bool operator==(const GemmConf&) const = default;
};

// The candidate GEMM confs for (type, isa), each within the ISA's register file; the
// dot kinds per level as in knob_space. Empty when no generator covers (type, isa).
std::vector<GemmConf> gemm_knob_space(DType type, IsaLevel isa);

// A generated kernel and the variant that runs it. Owns the code memory; `variant.fn`
// points into it, so the variant lives exactly as long as this object. The variant
// computes only the rows x cols it was generated for (its name ends in them): its
// `accepts`, `layout` and `repack` are the hand-written variant's, so callers key
// generated variants by shape.
struct GeneratedKernel {
  Variant variant;
  MatvecConf conf;       // a matvec's knobs (default for a GEMM)
  std::string conf_text;  // the knobs' text form, MatvecConf or GemmConf str()
  int64_t rows = 0, cols = 0;
  std::unique_ptr<CodeBuffer> buffer;  // the code memory, read+execute
  std::span<const uint8_t> code() const;
  ~GeneratedKernel();
};

// Generates the token-step matvec for a rows x cols weight of `type` in the layout of
// the hand-written variant of `isa`. nullptr when no generator covers (type, isa), the
// CPU (`cpu`) cannot run it, the conf is not one this ISA takes (see knob_space) or the
// shape does not fit (cols not a positive multiple of 32, of 256 for the K types; rows < 1).
std::unique_ptr<GeneratedKernel> generate_matvec(DType type, IsaLevel isa, const CpuInfo& cpu, int64_t rows,
                                                 int64_t cols, const MatvecConf& conf);

// Maps code saved from GeneratedKernel::code() (by a generation with the same
// arguments) W^X at a new address and wraps it like generate_matvec does. The bytes
// are trusted: the caller (the snapshot) checks their origin. nullptr when the
// arguments are not a generatable kernel or `code` is empty.
std::unique_ptr<GeneratedKernel> load_matvec(DType type, IsaLevel isa, int64_t rows, int64_t cols,
                                             const MatvecConf& conf, std::span<const uint8_t> code);

// The prompt GEMM for a rows x cols weight of `type` in the layout of the hand-written
// variant of `isa`, for any n_tokens; nullptr in the cases generate_matvec gives it.
std::unique_ptr<GeneratedKernel> generate_gemm(DType type, IsaLevel isa, const CpuInfo& cpu, int64_t rows,
                                               int64_t cols, const GemmConf& conf);

// Like load_matvec, for code saved from a generate_gemm kernel.
std::unique_ptr<GeneratedKernel> load_gemm(DType type, IsaLevel isa, int64_t rows, int64_t cols, const GemmConf& conf,
                                           std::span<const uint8_t> code);

}  // namespace bf::jit
