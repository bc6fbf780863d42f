// The kernel-choice flags shared by run and bench.
#include "cli/commands.h"
#include "util/error.h"

namespace bf::cli {

void add_kernel_options(CLI::App& cmd, std::string& max_isa, int& batch, std::string& kv_type) {
  cmd.add_option("--max-isa", max_isa,
                 "Use no kernel above this level: sse2, avx2, avx512 or avx512vnni (default: the best this CPU has)");
  cmd.add_option("-b,--batch", batch, "Prompt tokens processed together (one weight pass per chunk)")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  cmd.add_option("--kv-type", kv_type, "KV cache element type: f32 or f16")->capture_default_str();
}

IsaLevel parse_max_isa(const std::string& name) {
  if (name.empty()) return IsaLevel::Avx512Vnni;
  if (auto level = parse_isa_level(name)) return *level;
  throw InputError("--max-isa", "unknown ISA level '" + name + "' (sse2, avx2, avx512 or avx512vnni)");
}

KvType parse_kv_type(const std::string& name) {
  if (name == "f32") return KvType::F32;
  if (name == "f16") return KvType::F16;
  throw InputError("--kv-type", "unknown KV cache type '" + name + "' (f32 or f16)");
}

}  // namespace bf::cli
