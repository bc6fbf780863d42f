#include <algorithm>
#include <stdexcept>

#include "kernels/families.h"
#include "kernels/variant.h"

namespace bf {

const char* op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::Embed: return "embed";
    case OpKind::RmsNorm: return "rmsnorm";
    case OpKind::Quantize: return "quantize";
    case OpKind::Matmul: return "matmul";
    case OpKind::Rope: return "rope";
    case OpKind::KvStore: return "kvstore";
    case OpKind::Attention: return "attention";
    case OpKind::SwiGLU: return "swiglu";
    case OpKind::Add: return "add";
  }
  return "?";
}

KernelRegistry KernelRegistry::builtin() {
  KernelRegistry r;
  add_reference_variants(r);
  add_float_simd_variants(r);
  add_int8_avx2_variants(r);
  add_int8_avx512_variants(r);
  return r;
}

const Variant& KernelRegistry::add(Variant v) {
  if (find(v.name)) throw std::logic_error("kernel variant '" + v.name + "' added twice");
  if (!v.fn) throw std::logic_error("kernel variant '" + v.name + "' has no function");
  variants_.push_back(std::make_unique<Variant>(std::move(v)));
  return *variants_.back();
}

const Variant* KernelRegistry::find(std::string_view name) const {
  for (auto& v : variants_)
    if (v->name == name) return v.get();
  return nullptr;
}

namespace {
bool fits(const Variant& v, OpKind op, const TensorView* weight) {
  if (v.op != op) return false;
  if (op != OpKind::Matmul) return true;
  if (!weight || v.type != weight->type) return false;
  return !v.accepts || v.accepts(*weight);
}
}  // namespace

std::vector<const Variant*> KernelRegistry::candidates(OpKind op, const CpuInfo& cpu, const TensorView* weight) const {
  std::vector<const Variant*> out;
  for (auto& v : variants_)
    if (fits(*v, op, weight) && v->runs_on(cpu)) out.push_back(v.get());
  std::stable_sort(out.begin(), out.end(), [](const Variant* a, const Variant* b) {
    if (a->isa != b->isa) return a->isa > b->isa;
    return a->rank > b->rank;
  });
  return out;
}

const Variant& KernelRegistry::best(OpKind op, const CpuInfo& cpu, const TensorView* weight, bool reference_only,
                                    std::optional<DType> prefer) const {
  if (reference_only) {
    for (auto& v : variants_)
      if (v->reference && fits(*v, op, weight)) return *v;
  } else {
    auto c = candidates(op, cpu, weight);
    if (!c.empty() && prefer) {
      const IsaLevel top = c.front()->isa;
      auto it = std::find_if(c.begin(), c.end(), [&](const Variant* v) { return v->isa == top && v->type == *prefer; });
      if (it != c.end()) return **it;
    }
    if (!c.empty()) return *c.front();
  }
  throw std::logic_error(std::string("no kernel variant for ") + op_kind_name(op));
}

}  // namespace bf
