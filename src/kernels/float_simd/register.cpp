#include "kernels/families.h"
#include "kernels/variant.h"

namespace bf {

void add_float_simd_variants(KernelRegistry&) {}

}  // namespace bf
