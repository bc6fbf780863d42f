// Kernel generation off the token path: a thread of its own takes generation jobs in
// order, so no token waits for code to be written (a matvec takes about 0.1 ms to
// generate, a third of a stories15M token). The tuner polls a job's `done` flag before
// each token and races the kernel once it is there. Where no thread can be had (the
// unikernel runs one thread per CPU and the pool may hold them all), threaded() is false
// and the tuner runs jobs itself, one per token, with run().
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "jit/jit.h"

namespace bf {

struct GenerationJob {
  DType type = DType::F32;
  IsaLevel isa = IsaLevel::Sse2;
  CpuInfo cpu;
  int64_t rows = 0, cols = 0;
  jit::MatvecConf conf;             // a token-step matvec's knobs, unless
  std::optional<jit::GemmConf> gemm;  // a prompt GEMM's
  // Written by the generator thread before it sets `done` (release); read after (acquire).
  std::unique_ptr<jit::GeneratedKernel> result;
  uint64_t cycles = 0;  // TSC cycles the generation took
  std::atomic<bool> done{false};
};

class GeneratorThread {
 public:
  GeneratorThread() = default;
  ~GeneratorThread();  // finishes the job in hand, drops the rest, joins
  GeneratorThread(const GeneratorThread&) = delete;
  GeneratorThread& operator=(const GeneratorThread&) = delete;

  // Queues a job; the thread starts with the first one. Without a thread the job waits
  // for the caller to run() it.
  void submit(std::shared_ptr<GenerationJob> job);
  bool threaded() const { return !no_thread_; }
  // Generates `job` on the calling thread and marks it done.
  static void run(GenerationJob& job);

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<GenerationJob>> queue_;  // guarded by mutex_
  bool stop_ = false;                                 // guarded by mutex_
  bool no_thread_ = false;                            // the thread could not be started
  std::thread thread_;
};

}  // namespace bf
