// Every kernel call is counted from the first one, per op instance and per shape class.
#include <gtest/gtest.h>

#include "graph/forward.h"
#include "graph/profile.h"
#include "test_support.h"

namespace bf {
namespace {

TEST(Profile, EveryOpInstanceCountsEveryCall) {
  auto model = load_model(test::shared_path("models/stories260K/stories260K.bin"));
  Forward forward(*model, {2, 32, Tier::Parallel});
  const int steps = 7;
  for (int pos = 0; pos < steps; ++pos) forward.step(1 + pos, pos);
  // embed, 14 per layer, final norm, classifier
  ASSERT_EQ(forward.ops().size(), 1u + 14u * model->config.n_layers + 2u);
  for (const OpInstance* op : forward.ops()) {
    EXPECT_EQ(op->slot.calls, static_cast<uint64_t>(steps)) << op->name;
    EXPECT_STREQ(op->slot.variant, "ref-mt") << op->name;
  }
  std::vector<ProfileRow> rows = profile_by_shape(forward.ops());
  uint64_t calls = 0, cycles = 0;
  for (const ProfileRow& r : rows) {
    calls += r.calls;
    cycles += r.cycles;
  }
  EXPECT_EQ(calls, steps * forward.ops().size());
  EXPECT_GT(cycles, 0u);
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_GE(rows[i - 1].cycles, rows[i].cycles);
  // stories260K: wq and wo share the 64x64 F32 class across all 5 layers.
  auto it = std::find_if(rows.begin(), rows.end(), [](const ProfileRow& r) { return r.shape_class == "matvec F32 64x64"; });
  ASSERT_NE(it, rows.end());
  EXPECT_EQ(it->instances, 2 * model->config.n_layers);
  EXPECT_NE(format_profile(rows).find("matvec F32 64x64"), std::string::npos);
}

}  // namespace
}  // namespace bf
