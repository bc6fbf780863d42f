#include "graph/profile.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>

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
}  // namespace

std::vector<ProfileRow> profile_by_shape(const std::vector<OpInstance*>& ops) {
  std::map<std::pair<std::string, std::string>, ProfileRow> by_class;
  for (const OpInstance* op : ops) {
    if (!op->enabled) continue;
    ProfileRow& row = by_class[{shape_class(*op), op->variant->name}];
    ++row.instances;
    row.calls += op->calls;
    row.cycles += op->cycles;
  }
  std::vector<ProfileRow> rows;
  for (auto& [key, row] : by_class) {
    row.shape_class = key.first;
    row.variant = key.second;
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(), [](const ProfileRow& a, const ProfileRow& b) { return a.cycles > b.cycles; });
  return rows;
}

std::string format_profile(const std::vector<ProfileRow>& rows) {
  uint64_t total = 0;
  for (const ProfileRow& r : rows) total += r.cycles;
  std::string out =
      "op shape class                  variant                       inst      calls    Mcycles  cycles/call  share\n";
  char line[200];
  for (const ProfileRow& r : rows) {
    std::snprintf(line, sizeof line, "%-31s %-29s %5d %10" PRIu64 " %10.2f %12.0f %5.1f%%\n", r.shape_class.c_str(),
                  r.variant.c_str(), r.instances, r.calls, r.cycles / 1e6, r.calls ? double(r.cycles) / r.calls : 0.0,
                  total ? 100.0 * r.cycles / total : 0.0);
    out += line;
  }
  return out;
}

}  // namespace bf
