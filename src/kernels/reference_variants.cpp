#include "kernels/families.h"
#include "kernels/variant.h"

namespace bf {

void add_reference_variants(KernelRegistry&) {}

}  // namespace bf
