#include "tune/generator_thread.h"

#include <system_error>

#include "graph/op.h"

namespace bf {

GeneratorThread::~GeneratorThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    queue_.clear();
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void GeneratorThread::submit(std::shared_ptr<GenerationJob> job) {
  if (no_thread_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!thread_.joinable()) {
      try {
        thread_ = std::thread([this] { loop(); });
      } catch (const std::system_error&) {
        no_thread_ = true;
        return;
      }
    }
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void GeneratorThread::run(GenerationJob& job) {
  const uint64_t t0 = read_tsc();
  job.result = job.gemm ? jit::generate_gemm(job.type, job.isa, job.cpu, job.rows, job.cols, *job.gemm)
                        : jit::generate_matvec(job.type, job.isa, job.cpu, job.rows, job.cols, job.conf);
  job.cycles = read_tsc() - t0;
  job.done.store(true, std::memory_order_release);
}

void GeneratorThread::loop() {
  for (;;) {
    std::shared_ptr<GenerationJob> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    run(*job);
  }
}

}  // namespace bf
