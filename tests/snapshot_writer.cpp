// Test helper for snapshot_test's kill test: saves snapshot FIRST (A or B), then the other,
// then FIRST again, ... to PATH with save_snapshot_atomic until it is killed. Prints
// nothing; exits 1 on an error.
#include <cstdio>
#include <exception>

#include "snapshot/snapshot.h"
#include "snapshot_samples.h"

int main(int argc, char** argv) {
  if (argc != 3 || (argv[2][0] != 'A' && argv[2][0] != 'B')) {
    std::fprintf(stderr, "usage: snapshot_writer PATH A|B\n");
    return 2;
  }
  const bf::Snapshot first = bf::test::sample_snapshot(argv[2][0]), other = bf::test::sample_snapshot(argv[2][0] == 'A' ? 'B' : 'A');
  try {
    for (unsigned i = 0;; ++i) bf::save_snapshot_atomic(argv[1], i % 2 ? other : first);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "snapshot_writer: %s\n", e.what());
    return 1;
  }
}
