#include "graph/op.h"

namespace bf {

const char* op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::Embed: return "embed";
    case OpKind::RmsNorm: return "rmsnorm";
    case OpKind::Matvec: return "matvec";
    case OpKind::Rope: return "rope";
    case OpKind::Attention: return "attention";
    case OpKind::SwiGLU: return "swiglu";
    case OpKind::Add: return "add";
  }
  return "?";
}

uint64_t OpInstance::bytes_per_call(const StepArgs& step) const {
  switch (kind) {
    case OpKind::Matvec: return weight->bytes + 4 * static_cast<uint64_t>(cols + rows);
    case OpKind::Embed: return weight->bytes / static_cast<uint64_t>(weight->rows) + 4 * static_cast<uint64_t>(rows);
    case OpKind::Attention: return 2ull * 4 * static_cast<uint64_t>(step.pos + 1) * static_cast<uint64_t>(config->kv_dim());
    default: return 4ull * 3 * static_cast<uint64_t>(rows);
  }
}

}  // namespace bf
