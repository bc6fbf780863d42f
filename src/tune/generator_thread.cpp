#include "tune/generator_thread.h"

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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  }
  wake_.notify_one();
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
    const uint64_t t0 = read_tsc();
    job->result = jit::generate_matvec(job->type, job->isa, job->cpu, job->rows, job->cols, job->conf);
    job->cycles = read_tsc() - t0;
    job->done.store(true, std::memory_order_release);
  }
}

}  // namespace bf
