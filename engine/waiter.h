// A one-shot hand-off of a value from the thread that completes an operation to a thread blocked
// waiting for it: the blocking forms of asynchronous calls (Log::Sync, OrderService::*AndWait).
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>

namespace orderlog {

template <typename T>
class Waiter {
 public:
  // Any thread, once.
  void Set(T v) {
    std::lock_guard lk(mu_);
    value_.emplace(std::move(v));
    cv_.notify_one();  // under the lock: the waiter cannot destroy us before we are done
  }
  // The waiting thread: blocks until Set.
  T Wait() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return value_.has_value(); });
    return std::move(*value_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;  // GUARDED_BY(mu_)
};

}  // namespace orderlog
