// What the generated-kernel tests share: the weight types, the four targets a generator takes (a level, and
// at Avx2 the dot kind), the uneven row ranges a runner may hand a kernel, the bound of
// variants_test, and the parameter naming.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cpu/cpu.h"
#include "jit/jit.h"
#include "kernels/contract.h"
#include "kernels/variant.h"
#include "test_weights.h"

namespace bf::test {

struct JitTarget {
  const char* name;  // as in the hand-written variants' names
  IsaLevel isa;
  bool vnni;
  const char* layout;
  bool runs_here() const {
    const CpuInfo& cpu = CpuInfo::host();
    return cpu.has(isa) && !(isa == IsaLevel::Avx2 && vnni && !cpu.avx_vnni);
  }
};
inline const JitTarget kJitTargets[] = {
    {"avx2", IsaLevel::Avx2, false, "r8"},
    {"avxvnni", IsaLevel::Avx2, true, "r8"},
    {"avx512", IsaLevel::Avx512, false, "r16"},
    {"avx512vnni", IsaLevel::Avx512Vnni, true, "r16"},
};

// Every weight type the generators cover (matvec and GEMM alike).
inline const DType kJitTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                                  DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};

// The float types (jit/float_gen.cpp): native rows and f32 input at every level, the
// same code at Avx512Vnni as at Avx512; their hand-written variants take any cols.
inline const DType kJitFloatTypes[] = {DType::F32, DType::F16, DType::BF16};
inline const JitTarget kJitFloatTargets[] = {
    {"avx2", IsaLevel::Avx2, false, ""},
    {"avx512", IsaLevel::Avx512, false, ""},
    {"avx512vnni", IsaLevel::Avx512Vnni, false, ""},
};

// Runs fn over [0, rows) in uneven pieces that start and end inside row groups.
inline void run_uneven(KernelFn fn, const MatmulArgs& a, int64_t rows) {
  const int64_t cuts[] = {0, rows / 3, rows / 3 + 1, rows * 2 / 3 + 1, rows};
  for (int i = 0; i + 1 < 5; ++i) {
    const int64_t b = std::min(cuts[i], rows), e = std::min(cuts[i + 1], rows);
    if (b < e) fn(&a, b, e);
  }
}

// The bound of variants_test: the same products summed in another order, a few ulps of
// the summed magnitudes.
inline std::vector<double> magnitudes(const TensorView& w, const Activations& x, int n_tokens) {
  std::vector<double> m(static_cast<size_t>(w.rows * n_tokens));
  for (int64_t r = 0; r < w.rows; ++r) {
    const std::vector<float> row = dequantized_row(w, r);
    for (int t = 0; t < n_tokens; ++t)
      for (int64_t j = 0; j < w.cols; ++j) m[r * n_tokens + t] += std::fabs(row[j] * x.dequantized(t, j));
  }
  return m;
}

// Whether `got` is within 2e-5 of the summed magnitudes (+ floor) of `want` and, when
// given, within twice that of `by_hand`, for every row and token, and left -7 past the
// rows; the first failure is reported (naming `name`) and ends the check.
inline bool outputs_match(const std::vector<float>& got, const std::vector<float>& want,
                          const std::vector<float>* by_hand, const std::vector<double>& mag, int64_t rows,
                          int n_tokens, int64_t stride, double floor, const std::string& name) {
  for (int t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      const size_t i = static_cast<size_t>(t * stride + r);
      const double bound = 2e-5 * mag[r * n_tokens + t] + floor;
      if (std::fabs(got[i] - want[i]) > bound || (by_hand && std::fabs(got[i] - (*by_hand)[i]) > 2 * bound)) {
        ADD_FAILURE() << name << " row " << r << " token " << t << " of " << n_tokens << ": " << got[i]
                      << ", reference " << want[i] << (by_hand ? ", hand-written " + std::to_string((*by_hand)[i]) : "")
                      << ", bound " << bound;
        return false;
      }
    }
    for (int64_t r = rows; r < stride; ++r)
      if (got[t * stride + r] != -7.0f) {
        ADD_FAILURE() << name << " wrote past its rows, token " << t;
        return false;
      }
  }
  return true;
}

// A test case: a weight type at a target.
struct JitCase {
  DType type;
  JitTarget target;
};
inline void PrintTo(const JitCase& c, std::ostream* os) { *os << dtype_key(c.type) << " " << c.target.name; }
// Every float type at every float target.
inline std::vector<JitCase> jit_float_cases() {
  std::vector<JitCase> c;
  for (DType type : kJitFloatTypes)
    for (const JitTarget& t : kJitFloatTargets) c.push_back({type, t});
  return c;
}
inline std::string jit_case_name(const ::testing::TestParamInfo<JitCase>& info) {
  return std::string(dtype_key(info.param.type)) + "_" + info.param.target.name;
}


// Generated float kernels: the generator's kernels for a shape, one per conf (null: it
// refused a conf it listed).
using FloatKernels = std::function<std::vector<std::unique_ptr<jit::GeneratedKernel>>(int64_t rows, int64_t cols)>;

// Runs every kernel `make` gives over odd shapes (rows not whole steps, cols not whole
// vectors, from 16: one zmm) and `token_counts`, over uneven row ranges, against
// "matmul.<type>.ref" and the hand-written variant of the level within the reordered
// sum bound (2e-5 of the summed magnitudes). Returns the runs checked.
inline int check_float_kernels(DType type, const JitTarget& target, std::initializer_list<int> token_counts,
                               const FloatKernels& make) {
  static const KernelRegistry registry = KernelRegistry::builtin();
  const std::string key(dtype_key(type));
  const Variant& ref = *registry.find("matmul." + key + ".ref");
  const Variant& hand = *registry.find("matmul." + key + (target.isa == IsaLevel::Avx2 ? ".avx2" : ".avx512"));
  int checked = 0;
  for (int64_t rows : {1, 3, 7, 8, 9, 17, 33, 100})
    for (int64_t cols : {16, 24, 40, 64, 100, 257, 768, 2051}) {
      std::mt19937 rng(static_cast<uint32_t>(rows * 977 + cols * 13));
      OwnedTensor w = random_weights(type, rows, cols, rng);
      const auto kernels = make(rows, cols);
      for (const auto& k : kernels) {
        EXPECT_NE(k, nullptr) << key << " " << target.name << " " << rows << "x" << cols;
        if (!k) return checked;
        EXPECT_EQ(k->variant.layout, hand.layout);
        EXPECT_EQ(k->variant.input, MatmulInput::F32);
      }
      for (int n_tokens : token_counts) {
        Activations x = random_activations(cols, n_tokens, rng);
        const int64_t stride = rows + 3;
        std::vector<float> want(n_tokens * stride, -7.0f), by_hand(want), got(want);
        MatmulArgs a = ref::matmul_args(w.t, x.x.data(), {}, want.data(), n_tokens, stride);
        ref.fn(&a, 0, rows);
        a.out = by_hand.data();
        run_uneven(hand.fn, a, rows);
        std::vector<double> mag(rows * n_tokens);
        for (int64_t r = 0; r < rows; ++r) {
          const std::vector<float> row = dequantized_row(w.t, r);
          for (int t = 0; t < n_tokens; ++t)
            for (int64_t j = 0; j < cols; ++j) mag[r * n_tokens + t] += std::fabs(row[j] * x.x[t * cols + j]);
        }
        for (const auto& k : kernels) {
          std::fill(got.begin(), got.end(), -7.0f);
          a.out = got.data();
          run_uneven(k->variant.fn, a, rows);
          if (!outputs_match(got, want, &by_hand, mag, rows, n_tokens, stride, 1e-6, k->variant.name)) return checked;
          ++checked;
        }
      }
    }
  return checked;
}

}  // namespace bf::test
