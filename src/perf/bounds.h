// The two speed limits `bareflow bench` states its figures against, measured in the
// same run with the same threads as the forward pass.
//
// Generation reads every weight once per token, so its bound is bytes per token over
// the read bandwidth. A batched prompt multiplies each weight by many tokens, so its
// bound is the peak 8-bit multiply-accumulate rate of the ISA level the kernels use.
// Both are "best of several runs": a bound must not be beaten by the thing it bounds.
#pragma once
#include <cstdint>
#include <string_view>

#include "cpu/cpu.h"

namespace bf {

class ThreadPool;

struct Bandwidth {
  double gbs = 0;             // 1e9 bytes per second, the best pass
  uint64_t buffer_bytes = 0;  // size of the buffer read
  int passes = 0;             // timed passes the best was taken from
};

// The buffer the bandwidth is read from: at least 4x the last-level cache and at least
// 1 GiB, so no cache can hold a useful part of it (l3_bytes may be 0: unknown).
uint64_t bandwidth_buffer_bytes(const CpuInfo& cpu);

// Read bandwidth with every thread of `pool`, each reading several interleaved streams
// with the widest loads `cpu` has, over a buffer of bandwidth_buffer_bytes(cpu) whose
// pages are faulted in first. Best of `passes` passes, fewer (but at least 5) once about
// 2 s are spent, fault-in included. Falls back to a smaller buffer if 1 GiB cannot be
// mapped (buffer_bytes says which).
Bandwidth measure_read_bandwidth(ThreadPool& pool, const CpuInfo& cpu = CpuInfo::host(), int passes = 7);

// The instructions measure_int8_peak times at `level`, e.g. "vpdpbusd zmm".
std::string_view int8_peak_kernel(IsaLevel level, const CpuInfo& cpu);

// Peak 8-bit multiply-accumulate rate in GOP/s (2 ops per MAC) of the instructions an
// integer kernel of `level` uses, from a register-only loop of independent
// accumulator chains on every thread of `pool`: the best of at least `runs` runs of about
// 1 ms, more while under about 0.5 s. Throws std::invalid_argument if `cpu` lacks
// `level`.
double measure_int8_peak(ThreadPool& pool, IsaLevel level, const CpuInfo& cpu, int runs = 7);

}  // namespace bf
