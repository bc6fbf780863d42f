// Kernel variants and the registry that lists them.
//
// Each op kind (and, for Matmul, each weight type) has an open list of variants: the
// reference first, then one or more per ISA level, later the generated ones. A variant
// joins by being added to a KernelRegistry; nothing switches over variant names. The
// engine installs, per op instance, the best usable variant (highest ISA level, then
// highest rank) unless told otherwise, and the tuner may install any other.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cpu/cpu.h"
#include "kernels/contract.h"
#include "kernels/tensor_view.h"
#include "util/stream_memory.h"

namespace bf {

enum class OpKind : uint8_t { Embed, RmsNorm, Quantize, Matmul, Rope, KvStore, Attention, SwiGLU, Add };
const char* op_kind_name(OpKind k);

// What a Matmul variant reads as its input vector.
enum class MatmulInput : uint8_t { F32, Q8 };

// A weight matrix rewritten into a variant's layout at load time. The buffer comes from
// allocate_stream_buffer (huge pages), in `arena` when the caller sets one, and is owned
// here; `w` and `w_scales` are what the kernel gets in MatmulArgs.
struct PackedWeight {
  StreamArena* arena = nullptr;  // set by the caller before the repack
  StreamBuffer storage{nullptr, [](uint8_t*) {}};
  const void* w = nullptr;
  const float* w_scales = nullptr;
  size_t bytes = 0;  // bytes the kernel streams per full pass
};

// How the runner splits an op's units over the pool: chunks of at least `grain` units
// (0: derived from the work per unit) on one thread (`threads` == 1) or all of them (0).
struct Split {
  int64_t grain = 0;
  int threads = 0;
};

struct Variant {
  std::string name;  // exact and unique, "<op>.<type>.<isa>[.<layout>]", e.g. "matmul.q4_0.avx512vnni.r4"
  OpKind op = OpKind::Add;
  DType type = DType::F32;           // Matmul: the weight type read; other ops: F32
  IsaLevel isa = IsaLevel::Sse2;     // the lowest level the code needs
  // Extra CPU features beyond the level (AVX-VNNI, AMX); null when the level suffices.
  bool (*usable)(const CpuInfo& cpu) = nullptr;
  int rank = 0;                      // among usable variants of the same level, the higher wins
  bool reference = false;            // the semantic spec of its op (and type); one per op/type
  KernelFn fn = nullptr;
  Split split;
  int32_t max_tokens = 0;  // 0: any n_tokens; 1: token steps only

  // Matmul only.
  MatmulInput input = MatmulInput::F32;
  std::string layout = "native";     // weight layout the kernel expects
  // Rewrites a native tensor into `layout` (null for "native").
  void (*repack)(const TensorView& native, PackedWeight& out) = nullptr;
  // Shapes the kernel handles (null: every legal shape of `type`).
  bool (*accepts)(const TensorView& w) = nullptr;

  // Counters over every op instance that ran this variant.
  mutable uint64_t calls = 0;
  mutable uint64_t cycles = 0;

  bool runs_on(const CpuInfo& cpu) const { return cpu.has(isa) && (!usable || usable(cpu)); }
};

class KernelRegistry {
 public:
  // Every built-in variant: reference, portable multithread-safe and per-ISA kernels.
  static KernelRegistry builtin();

  // Adds a variant (its name must be new). Returns it.
  const Variant& add(Variant v);

  // The variant named `name`, or null.
  const Variant* find(std::string_view name) const;

  // Usable variants for an op (and weight type/shape for Matmul), best first.
  std::vector<const Variant*> candidates(OpKind op, const CpuInfo& cpu, const TensorView* weight = nullptr) const;

  // The best usable variant, or the reference when `reference_only`. For ops whose
  // kernels take several element types (the KV cache ops), `prefer` picks, among the
  // variants of the best level, the one written for that type.
  const Variant& best(OpKind op, const CpuInfo& cpu, const TensorView* weight = nullptr,
                      bool reference_only = false, std::optional<DType> prefer = std::nullopt) const;

  const std::vector<std::unique_ptr<Variant>>& all() const { return variants_; }

 private:
  std::vector<std::unique_ptr<Variant>> variants_;  // stable addresses: slots point into them
};

}  // namespace bf
