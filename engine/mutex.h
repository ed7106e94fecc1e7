// Mutexes, condition variables and thread roles that clang's thread-safety analysis understands
// (engine/thread_annotations.h). libstdc++'s std::mutex carries no attributes, so these wrap it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "engine/thread_annotations.h"

namespace orderlog {

// One step of a short busy-wait: tells the core it is spinning (no memory-order speculation to
// unwind, the sibling hyper-thread gets the pipeline).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class CondVar;

class ORDERLOG_CAPABILITY("mutex") Mutex {
 public:
  void Lock() ORDERLOG_ACQUIRE() { mu_.lock(); }
  void Unlock() ORDERLOG_RELEASE() { mu_.unlock(); }
  bool TryLock() ORDERLOG_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // For a mutex held a few tens of nanoseconds at a time: a thread that finds it taken tries
  // again for a moment before it sleeps in the kernel (a glibc mutex sleeps at once, and then
  // every unlock by the other side is a futex wake system call).
  void LockSpinning() ORDERLOG_ACQUIRE() {
    for (int i = 0; i < 64; ++i) {
      if (mu_.try_lock()) return;
      CpuRelax();
    }
    mu_.lock();
  }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Waits always re-check their condition in a loop at the call site (a lambda predicate would be
// invisible to the analysis).
class CondVar {
 public:
  void Wait(Mutex* mu) ORDERLOG_REQUIRES(mu) {
    std::unique_lock lk(mu->mu_, std::adopt_lock);
    cv_.wait(lk);
    lk.release();
  }
  // false on timeout.
  bool WaitFor(Mutex* mu, std::chrono::nanoseconds d) ORDERLOG_REQUIRES(mu) {
    std::unique_lock lk(mu->mu_, std::adopt_lock);
    const bool signalled = cv_.wait_for(lk, d) == std::cv_status::no_timeout;
    lk.release();
    return signalled;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

class ORDERLOG_CAPABILITY("shared mutex") SharedMutex {
 public:
  void Lock() ORDERLOG_ACQUIRE() { mu_.lock(); }
  void Unlock() ORDERLOG_RELEASE() { mu_.unlock(); }
  void LockShared() ORDERLOG_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() ORDERLOG_RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a Mutex, or a SharedMutex exclusively, for its scope; may let it go and take it again.
template <typename M>
class ORDERLOG_SCOPED_CAPABILITY ExclusiveLock {
 public:
  explicit ExclusiveLock(M* mu) ORDERLOG_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  struct Spinning {};
  ExclusiveLock(M* mu, Spinning) ORDERLOG_ACQUIRE(mu) : mu_(mu) { mu_->LockSpinning(); }
  ~ExclusiveLock() ORDERLOG_RELEASE() {
    if (held_) mu_->Unlock();
  }
  ExclusiveLock(const ExclusiveLock&) = delete;
  ExclusiveLock& operator=(const ExclusiveLock&) = delete;
  void Unlock() ORDERLOG_RELEASE() {
    mu_->Unlock();
    held_ = false;
  }
  void Lock() ORDERLOG_ACQUIRE() {
    mu_->Lock();
    held_ = true;
  }

 private:
  M* const mu_;
  bool held_ = true;
};
using MutexLock = ExclusiveLock<Mutex>;
using WriterLock = ExclusiveLock<SharedMutex>;

class ORDERLOG_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ORDERLOG_ACQUIRE_SHARED(mu) : mu_(mu) { mu_->LockShared(); }
  ~ReaderLock() ORDERLOG_RELEASE() { mu_->UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// A thread as a capability: fields only one thread may touch are guarded by its role, functions
// only it may run require the role, and the thread's loop (or code that runs while the thread
// does not exist yet, or no longer) claims the role with Assume(). So "only the writer thread
// touches this" is checked by the compiler like a mutex.
class ORDERLOG_CAPABILITY("thread role") ThreadRole {
 public:
  void Assume() const ORDERLOG_ASSERT_CAPABILITY(this) {}
};

}  // namespace orderlog
