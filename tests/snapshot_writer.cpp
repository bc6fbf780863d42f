// Test helper for snapshot_test's kill test: saves snapshot FIRST (A or B), then the other,
// then FIRST again, ... to PATH with save_snapshot_atomic until it is killed. Prints
// nothing; exits 1 on an error.
// With COUNT it stops after COUNT saves, reads PATH back and says which snapshot it holds
// (exit 0 if it is the last one saved): a check of the same code in the unikernel, whose
// FAT16 disk holds /state.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "snapshot/snapshot.h"
#include "snapshot_samples.h"

int main(int argc, char** argv) {
  if ((argc != 3 && argc != 4) || (argv[2][0] != 'A' && argv[2][0] != 'B')) {
    std::fprintf(stderr, "usage: snapshot_writer PATH A|B [COUNT]\n");
    return 2;
  }
  const char first_name = argv[2][0], other_name = first_name == 'A' ? 'B' : 'A';
  const bf::Snapshot first = bf::test::sample_snapshot(first_name), other = bf::test::sample_snapshot(other_name);
  const long count = argc == 4 ? std::atol(argv[3]) : -1;
  try {
    for (long i = 0; count < 0 || i < count; ++i) bf::save_snapshot_atomic(argv[1], i % 2 ? other : first);
    const bf::Snapshot back = bf::read_snapshot(argv[1]);
    const char last = count % 2 ? first_name : other_name;
    const char held = back == first ? first_name : back == other ? other_name : '?';
    std::printf("snapshot_writer: %ld saves, %s holds %c (%s)\n", count, argv[1], held, held == last ? "ok" : "WRONG");
    return held == last ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "snapshot_writer: %s\n", e.what());
    return 1;
  }
}
