// A descriptor held in reserve for the moment accept fails for lack of descriptors.
//
// When accept fails with EMFILE or ENFILE, Pistache 0.0.5's listener logs the error and polls
// again; the connection is still pending, so the accept thread spins at full speed for as long as
// descriptors are short, and the client waits. The listener's only hook on that path is its
// string logger, so the SpareDescriptor is installed as that logger: on such an error it closes
// the spare, accepts the pending connection with the number that frees, answers it 503 and closes
// it, then takes the spare again (as nginx and libuv do). If the spare cannot be taken again
// (another thread took the number meanwhile), the next failure backs off for a few milliseconds
// instead of spinning. The connection cap (main.cc) keeps this rare: it leaves a reserve.
//
// Threads: Install on the main thread before the endpoint serves; log() on the accept thread.
#pragma once

#include <pistache/endpoint.h>
#include <pistache/string_logger.h>

#include <atomic>
#include <memory>
#include <string>

#include "server/http/metrics.h"

namespace orderlog::http {

class SpareDescriptor : public Pistache::Log::StringLogger {
 public:
  // Takes the spare and installs it as the endpoint's listener logger (Pistache 0.0.5 passes no
  // logger to its listener itself). Before Endpoint::serve.
  // tls: the port speaks TLS, so the 503 (plain text) is not sent; the connection is closed.
  static std::shared_ptr<SpareDescriptor> Install(Pistache::Http::Endpoint& endpoint,
                                                  Metrics* metrics, bool tls = false);
  SpareDescriptor(const int* listen_fd, Metrics* metrics, bool tls);
  ~SpareDescriptor() override;

  void log(Pistache::Log::Level level, const std::string& message) override;
  bool isEnabledFor(Pistache::Log::Level level) const override;

  // Connections accepted with the spare and refused (for tests and metrics).
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  void RefuseOne();

  const int* const listen_fd_;  // the listener's own, read when needed: it binds after Install
  Metrics* const metrics_;
  int spare_ = -1;       // accept thread only (after Install)
  std::string refusal_;  // the whole 503 answer; empty on a TLS port
  std::atomic<uint64_t> used_{0};
};

}  // namespace orderlog::http
