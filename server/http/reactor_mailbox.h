// Runs tasks on one Pistache reactor thread, posted from any thread.
//
// Pistache 0.0.5 is safe only on a peer's own reactor thread: a response sent from another thread
// races the reactor on the send's promise and on the peer's lifetime (../shared/PISTACHE.md §5
// #21). So the log's writer thread never touches a peer, a ResponseWriter or a promise: it posts
// a task here, and the reactor runs it.
//
// The wake-up is a socketpair whose far end is registered with the reactor as one more peer, the
// "bell": the reactor reads its bytes like any connection's and hands them to our handler, which
// runs the posted tasks. A 0.0.5 reactor offers nothing better: a second handler on it breaks its
// dispatch (Reactor::handleFds looks handlers up with map::at on an empty map), and its own
// cross-thread queues can lose a wake-up (#1199).
//
// Pistache's idle sweep closes a peer that has been idle for the keep-alive timeout, the bell
// too. Tend() refreshes the bell while the reactor is busy and, after a quiet spell that may have
// cost it, rings a new one, so a bell is always registered when a task is posted.
//
// Threads: Post() from any thread; everything else on the reactor thread the mailbox was made on.
#pragma once

#include <pistache/peer.h>
#include <pistache/transport.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace orderlog::http {

class ReactorMailbox : public std::enable_shared_from_this<ReactorMailbox> {
 public:
  using Task = std::function<void()>;

  // Reactor thread. `idle_close` is the endpoint's keep-alive timeout. The mailbox becomes the
  // calling thread's Current().
  ReactorMailbox(Pistache::Tcp::Transport* transport, std::chrono::milliseconds idle_close);
  ~ReactorMailbox();
  ReactorMailbox(const ReactorMailbox&) = delete;
  ReactorMailbox& operator=(const ReactorMailbox&) = delete;

  // The mailbox of the calling reactor thread; nullptr on any other thread.
  static std::shared_ptr<ReactorMailbox> Current();

  // True if `peer` is a bell: its bytes are wake-ups, not HTTP (it carries no frame of the guard).
  static bool IsBell(const Pistache::Tcp::Peer& peer);

  // Any thread. `task` runs on the reactor thread, after every task posted before it. A task
  // still queued when the mailbox is destroyed (the reactor has stopped) is destroyed unrun.
  void Post(Task task);

  // Reactor thread, on every input the reactor delivers: keeps a live bell registered.
  void Tend(std::chrono::steady_clock::time_point now);
  // Reactor thread, on the bell's input: runs the tasks posted so far.
  void RunPosted();

 private:
  using Clock = std::chrono::steady_clock;

  void RingNewBell(Clock::time_point now);
  void RingLocked();  // REQUIRES(mu_)

  Pistache::Tcp::Transport* const transport_;
  const std::chrono::milliseconds idle_close_;

  // Reactor thread only.
  std::shared_ptr<Pistache::Tcp::Peer> bell_;
  Clock::time_point refreshed_{};
  std::vector<Task> running_;

  std::mutex mu_;
  std::vector<Task> posted_;  // GUARDED_BY(mu_)
  int ring_fd_ = -1;          // GUARDED_BY(mu_): our end of the current bell
  // A ring failed: Pistache has closed the bell (a task waited longer than the idle timeout).
  std::atomic<bool> ring_failed_{false};
};

}  // namespace orderlog::http
