// tsa/internal/stamp_workers.h — the fixed set of threads Stamper calls run on.
//
// A Stamper may block for as long as consensus takes, so it cannot run on the HTTP
// server's one I/O thread. The set is a counting semaphore and a pool in one: a job is
// taken only while fewer than threads_max jobs are taken and unfinished, so the queue
// never holds more jobs than there are idle threads, and a caller learns at once that
// there is no room (the gateway's 503) instead of waiting.
#ifndef BELFRY_TSA_INTERNAL_STAMP_WORKERS_H_
#define BELFRY_TSA_INTERNAL_STAMP_WORKERS_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace belfry::tsa::internal {

// StampWorkers: threads_max threads running jobs. Thread-safe.
class StampWorkers {
 public:
  explicit StampWorkers(size_t threads_max);
  ~StampWorkers();  // Stop()s and Join()s
  StampWorkers(const StampWorkers&) = delete;
  StampWorkers& operator=(const StampWorkers&) = delete;

  // Starts the threads (once; later calls do nothing).
  void Start();
  // Takes `job` unless threads_max jobs are taken and unfinished, or after Stop: false
  // then, and `job` is destroyed unrun.
  bool TrySubmit(std::function<void()> job);
  // Takes no more jobs and drops the ones not started; does not wait for running ones.
  void Stop();
  // Waits for the threads, which end once their running job returns. After Stop.
  void Join();
  // Jobs taken and not finished.
  size_t in_flight() const;

 private:
  void Run();

  const size_t threads_max_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  size_t taken_ = 0;                         // guarded by mu_; queued + running
  bool started_ = false;                     // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;         // written under mu_ by Start, read by Join
};

}  // namespace belfry::tsa::internal

#endif  // BELFRY_TSA_INTERNAL_STAMP_WORKERS_H_
