// The pool covers every index exactly once, whatever the split, the thread count or
// how many dispatches follow each other; and it works with a single thread.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "threads/pool.h"

namespace bf {
namespace {

TEST(ThreadPool, EveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {1, 2, 7, 64, 1000, 4099}) {
      for (int64_t grain : {1, 3, 16, 5000}) {
        std::vector<std::atomic<int>> hits(n);
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          EXPECT_LE(0, b);
          EXPECT_LE(b, e);
          EXPECT_LE(e, n);
          if (e < n) {
            EXPECT_EQ(e % grain, 0) << "chunk ends off the grain";
          }
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n " << n << " grain " << grain << " i " << i;
      }
    }
  }
}

TEST(ThreadPool, ManyBackToBackDispatchesAndIdleGaps) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int round = 0; round < 20000; ++round)
    pool.parallel_for(64, 1, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
  EXPECT_EQ(total.load(), 20000 * 64);
  // Let the worker park, then wake it.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pool.parallel_for(64, 1, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
  EXPECT_EQ(total.load(), 20001 * 64);
}

}  // namespace
}  // namespace bf
