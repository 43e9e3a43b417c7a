#include "tsa/internal/stamp_workers.h"

#include <utility>

#include "base/check.h"

namespace belfry::tsa::internal {

StampWorkers::StampWorkers(size_t threads_max) : threads_max_(threads_max) {
  BELFRY_CHECK(threads_max_ > 0);
}

StampWorkers::~StampWorkers() {
  Stop();
  Join();
}

void StampWorkers::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  threads_.reserve(threads_max_);
  for (size_t i = 0; i < threads_max_; ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

bool StampWorkers::TrySubmit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_ || taken_ >= threads_max_) return false;
    ++taken_;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void StampWorkers::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    taken_ -= queue_.size();
    dropped.swap(queue_);
  }
  wake_.notify_all();
  // `dropped` dies here, outside the lock: a job's captures may take locks of their own.
}

void StampWorkers::Join() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    BELFRY_CHECK(stopping_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) {
    t.join();
  }
}

size_t StampWorkers::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return taken_;
}

void StampWorkers::Run() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
    job = nullptr;  // its captures (the reply) go before the slot is given back
    std::lock_guard<std::mutex> lock(mu_);
    --taken_;
  }
}

}  // namespace belfry::tsa::internal
