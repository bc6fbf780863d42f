#include "graph/profile.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <tuple>

namespace bf {

namespace {
std::string shape_class(const OpInstance& op) {
  char buf[96];
  if (op.kind == OpKind::Matmul || op.kind == OpKind::Embed)
    std::snprintf(buf, sizeof buf, "%s %s %" PRId64 "x%" PRId64, op_kind_name(op.kind),
                  std::string(dtype_name(op.weight->type)).c_str(), op.weight->rows, op.weight->cols);
  else
    std::snprintf(buf, sizeof buf, "%s %" PRId64, op_kind_name(op.kind), op.rows);
  return buf;
}

uint64_t weight_bytes(const OpInstance& op) {
  if (op.kind != OpKind::Matmul) return 0;
  return op.packed.bytes ? op.packed.bytes : op.weight->bytes;
}

// Bytes and multiply-adds of `calls` calls covering `tokens` tokens in all.
void add_traffic(ProfileRow& row, const OpInstance& op, uint64_t calls, uint64_t tokens) {
  if (op.kind == OpKind::Matmul) {
    row.bytes += calls * weight_bytes(op) + 4 * tokens * static_cast<uint64_t>(op.rows + op.cols);
    row.macs += tokens * static_cast<uint64_t>(op.rows) * static_cast<uint64_t>(op.cols);
  } else {
    row.bytes += 4 * 3 * tokens * static_cast<uint64_t>(op.rows);
  }
}
}  // namespace

std::vector<ProfileRow> profile_by_shape(const std::vector<OpInstance*>& ops, const TierOf& tier_of) {
  std::map<std::tuple<std::string, std::string, std::string>, ProfileRow> by_class;
  auto row_for = [&](const std::string& cls, const Variant& v, const OpInstance& op, bool prompt) -> ProfileRow& {
    const std::string tier = tier_of ? tier_of(op, prompt) : "fixed";
    ProfileRow& row = by_class[{cls, v.name, tier}];
    row.tier = tier;
    return row;
  };
  for (const OpInstance* op : ops) {
    if (!op->enabled) continue;
    const std::string cls = shape_class(*op);
    const bool own_step_rows = op->step.variant && op->step.variant != op->variant && op->step.calls > 0;
    if (own_step_rows) {
      ProfileRow& s = row_for(cls + " n1", *op->step.variant, *op, false);
      ++s.instances;
      s.calls += op->step.calls;
      s.cycles += op->step.cycles;
      add_traffic(s, *op, op->step.calls, op->step.calls);
    }
    const uint64_t calls = op->calls - (own_step_rows ? op->step.calls : 0);
    const uint64_t cycles = op->cycles - (own_step_rows ? op->step.cycles : 0);
    const uint64_t tokens = op->tokens_run - (own_step_rows ? op->step.calls : 0);
    if (!calls && own_step_rows) continue;
    ProfileRow& row = row_for(cls, *op->variant, *op, own_step_rows);
    ++row.instances;
    row.calls += calls;
    row.cycles += cycles;
    add_traffic(row, *op, calls, tokens);
  }
  std::vector<ProfileRow> rows;
  for (auto& [key, row] : by_class) {
    row.shape_class = std::get<0>(key);
    row.variant = std::get<1>(key);
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(), [](const ProfileRow& a, const ProfileRow& b) { return a.cycles > b.cycles; });
  return rows;
}

double tsc_hz() {
  static const double hz = [] {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const uint64_t c0 = read_tsc();
    while (clock::now() - t0 < std::chrono::milliseconds(20)) {
    }
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    return static_cast<double>(read_tsc() - c0) / s;
  }();
  return hz;
}

double profiler_cycles_per_call() {
  // The runner's bookkeeping is two TSC reads and a handful of counter adds: time the
  // reads in a loop (the adds hide in their latency) and keep the fastest of a few rounds.
  static const double cost = [] {
    double best = 1e9;
    for (int round = 0; round < 5; ++round) {
      constexpr int kReads = 2000;
      uint64_t sink = 0;
      const uint64_t t0 = read_tsc();
      for (int i = 0; i < kReads; ++i) sink += read_tsc();
      const uint64_t dt = read_tsc() - t0;
      asm volatile("" : : "r"(sink));
      best = std::min(best, 2.0 * static_cast<double>(dt) / kReads);
    }
    return best;
  }();
  return cost;
}

std::string format_profile(const std::vector<ProfileRow>& rows) {
  uint64_t total = 0, calls = 0;
  for (const ProfileRow& r : rows) {
    total += r.cycles;
    calls += r.calls;
  }
  const double hz = tsc_hz();
  std::string out =
      "op shape class                   calls        ms  share   throughput  inst  variant                                   tier\n";
  char line[256];
  for (const ProfileRow& r : rows) {
    const double seconds = r.cycles / hz;
    char speed[32] = "";
    if (seconds > 0 && r.macs) std::snprintf(speed, sizeof speed, "%7.1f GOP/s", 2.0 * r.macs / seconds / 1e9);
    else if (seconds > 0) std::snprintf(speed, sizeof speed, "%7.1f GB/s", r.bytes / seconds / 1e9);
    // Prompt chunks are compute-bound, token steps bandwidth-bound: say which figure fits.
    if (r.macs && r.shape_class.ends_with(" n1")) std::snprintf(speed, sizeof speed, "%7.1f GB/s", r.bytes / seconds / 1e9);
    std::snprintf(line, sizeof line, "%-31s %7" PRIu64 " %9.2f %5.1f%% %12s %5d  %-41s %s\n", r.shape_class.c_str(),
                  r.calls, seconds * 1e3, total ? 100.0 * r.cycles / total : 0.0, speed, r.instances,
                  r.variant.c_str(), r.tier.c_str());
    out += line;
  }
  const double overhead = calls * profiler_cycles_per_call();
  std::snprintf(line, sizeof line, "profiler: %" PRIu64 " calls x %.0f cycles = %.3f%% of the profiled time\n", calls,
                profiler_cycles_per_call(), total ? 100.0 * overhead / total : 0.0);
  out += line;
  return out;
}

}  // namespace bf
