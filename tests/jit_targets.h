// What the generated-kernel tests share: the weight types, the four targets a generator takes (a level, and
// at Avx2 the dot kind), the uneven row ranges a runner may hand a kernel, the bound of
// variants_test, and the parameter naming.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "cpu/cpu.h"
#include "kernels/contract.h"
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

// A test case: a weight type at a target.
struct JitCase {
  DType type;
  JitTarget target;
};
inline void PrintTo(const JitCase& c, std::ostream* os) { *os << dtype_key(c.type) << " " << c.target.name; }
inline std::string jit_case_name(const ::testing::TestParamInfo<JitCase>& info) {
  return std::string(dtype_key(info.param.type)) + "_" + info.param.target.name;
}

}  // namespace bf::test
