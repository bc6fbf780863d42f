#include "kernels/families.h"
#include "kernels/variant.h"

namespace bf {

void add_int8_avx2_variants(KernelRegistry&) {}

}  // namespace bf
