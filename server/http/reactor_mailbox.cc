#include "server/http/reactor_mailbox.h"

#include <pistache/http.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace orderlog::http {

namespace {

using namespace std::chrono_literals;

thread_local ReactorMailbox* t_current = nullptr;

// Peer data that marks a bell.
const std::string kBellKey = "orderlog.bell";

// A bell is refreshed at most this often: a refresh resets its parser, which allocates.
constexpr auto kRefreshEvery = 1s;
// Pistache's idle sweep runs every 500 ms; a bell older than the idle timeout less this margin may
// already be closed, so a new one is rung instead of refreshing it.
constexpr auto kSweepMargin = 2s;

}  // namespace

ReactorMailbox::ReactorMailbox(Pistache::Tcp::Transport* transport,
                               std::chrono::milliseconds idle_close)
    : transport_(transport), idle_close_(idle_close) {
  t_current = this;
  RingNewBell(Clock::now());
}

ReactorMailbox::~ReactorMailbox() {
  if (t_current == this) t_current = nullptr;
  std::lock_guard lk(mu_);
  if (ring_fd_ >= 0) ::close(ring_fd_);
}

std::shared_ptr<ReactorMailbox> ReactorMailbox::Current() {
  return t_current != nullptr ? t_current->shared_from_this() : nullptr;
}

bool ReactorMailbox::IsBell(const Pistache::Tcp::Peer& peer) {
  return peer.tryGetData(kBellKey) != nullptr;
}

void ReactorMailbox::Post(Task task) {
  std::lock_guard lk(mu_);
  posted_.push_back(std::move(task));
  // One ring per batch: the reactor takes every task posted before it runs them.
  if (posted_.size() == 1) RingLocked();
}

void ReactorMailbox::RingLocked() {
  const char byte = 1;
  if (ring_fd_ < 0 || (::send(ring_fd_, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
                       errno != EAGAIN && errno != EWOULDBLOCK)) {
    // EAGAIN means unread rings, so a wake-up is pending. Anything else: the bell is gone, and
    // the reactor's next input rings a new one (RingNewBell rings it if tasks are waiting).
    ring_failed_.store(true, std::memory_order_relaxed);
  }
}

void ReactorMailbox::Tend(Clock::time_point now) {
  const bool failed = ring_failed_.load(std::memory_order_relaxed);
  if (bell_ && !failed && now - refreshed_ < kRefreshEvery) return;
  const auto stale_after =
      std::max<std::chrono::milliseconds>(idle_close_ / 2, idle_close_ - kSweepMargin);
  if (!bell_ || failed || now - refreshed_ > stale_after) {
    RingNewBell(now);
    return;
  }
  // Pistache's sweep measures idleness from the parser's last reset.
  Pistache::Http::Handler::getParser(bell_)->reset();
  bell_->setIdle(true);
  refreshed_ = now;
}

void ReactorMailbox::RingNewBell(Clock::time_point now) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    return;  // out of descriptors: keep the old bell, try again at the next input
  }
  auto bell =
      Pistache::Tcp::Peer::Create(fds[0], Pistache::Address("127.0.0.1", Pistache::Port(0)));
  bell->putData(kBellKey, std::make_shared<bool>(true));
  try {
    // On the reactor's own thread this registers the peer at once (no cross-thread queue).
    transport_->handleNewPeer(bell);
  } catch (const std::exception&) {
    ::close(fds[1]);
    return;
  }
  bell->setIdle(true);  // only the keep-alive timeout applies to it, never the header timeout
  bell_ = std::move(bell);
  refreshed_ = now;
  int old = -1;
  {
    std::lock_guard lk(mu_);
    old = ring_fd_;
    ring_fd_ = fds[1];
    ring_failed_.store(false, std::memory_order_relaxed);
    if (!posted_.empty()) RingLocked();
  }
  // The old bell, if Pistache still has it, reads end-of-file and is dropped like a client.
  if (old >= 0) ::close(old);
}

void ReactorMailbox::RunPosted() {
  {
    std::lock_guard lk(mu_);
    running_.swap(posted_);
  }
  for (Task& task : running_) {
    try {
      task();
    } catch (...) {
      // A task answers a client; whatever went wrong there must not stop the reactor.
    }
  }
  running_.clear();
}

}  // namespace orderlog::http
