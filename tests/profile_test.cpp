// Every kernel call is counted from the first one, per op instance and per shape class.
#include <gtest/gtest.h>

#include "graph/forward.h"
#include "graph/profile.h"
#include "test_support.h"

namespace bf {
namespace {

TEST(Profile, EveryOpInstanceCountsEveryCall) {
  auto model = load_model(test::shared_path("models/stories260K/stories260K.bin"));
  Forward forward(*model, ForwardOptions{.threads = 2, .context = 32});
  const int steps = 7;
  for (int pos = 0; pos < steps; ++pos) forward.step(1 + pos, pos);
  // embed, 19 per layer (4 of them quantize ops), final norm, its quantize op, classifier
  ASSERT_EQ(forward.ops().size(), 1u + 19u * model->config.n_layers + 3u);
  size_t enabled = 0;
  for (const OpInstance* op : forward.ops()) {
    // stories260K is F32: no matmul reads 8-bit input, so no quantize op runs.
    EXPECT_EQ(op->enabled, op->kind != OpKind::Quantize) << op->name;
    EXPECT_EQ(op->calls, op->enabled ? static_cast<uint64_t>(steps) : 0u) << op->name;
    ASSERT_NE(op->variant, nullptr) << op->name;
    EXPECT_EQ(op->variant->op, op->kind) << op->name;
    enabled += op->enabled;
  }
  std::vector<ProfileRow> rows = profile_by_shape(forward.ops());
  uint64_t calls = 0, cycles = 0;
  for (const ProfileRow& r : rows) {
    calls += r.calls;
    cycles += r.cycles;
  }
  EXPECT_EQ(calls, steps * enabled);
  EXPECT_GT(cycles, 0u);
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_GE(rows[i - 1].cycles, rows[i].cycles);
  // stories260K: wq and wo share the 64x64 F32 class across all 5 layers.
  auto it = std::find_if(rows.begin(), rows.end(), [](const ProfileRow& r) { return r.shape_class == "matmul F32 64x64"; });
  ASSERT_NE(it, rows.end());
  EXPECT_EQ(it->instances, 2 * model->config.n_layers);
  EXPECT_NE(format_profile(rows).find("matmul F32 64x64"), std::string::npos);
}

}  // namespace
}  // namespace bf
