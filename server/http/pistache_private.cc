#include "server/http/pistache_private.h"

#include <mutex>

namespace orderlog::http::pistache_private {

namespace {

// Explicit instantiation is exempt from access checking ([temp.spec.general]/6): the
// standard-sanctioned way to name a private member. `auto` also covers members whose types name
// private types (Transport's queues hold its private WriteEntry).
template <typename Tag, auto Member>
struct Expose {
  friend constexpr auto Get(Tag) { return Member; }
};

struct HandlerTransport {
  friend constexpr auto Get(HandlerTransport);
};
struct TransportWritesQueue {
  friend constexpr auto Get(TransportWritesQueue);
};
struct TransportToWrite {
  friend constexpr auto Get(TransportToWrite);
};
struct TransportToWriteLock {
  friend constexpr auto Get(TransportToWriteLock);
};
struct EndpointListener {
  friend constexpr auto Get(EndpointListener);
};
struct ListenerLogger {
  friend constexpr auto Get(ListenerLogger);
};
struct ListenerFd {
  friend constexpr auto Get(ListenerFd);
};
struct ListenerSslContext {
  friend constexpr auto Get(ListenerSslContext);
};

template struct Expose<HandlerTransport, &Pistache::Tcp::Handler::transport_>;
template struct Expose<TransportWritesQueue, &Pistache::Tcp::Transport::writesQueue>;
template struct Expose<TransportToWrite, &Pistache::Tcp::Transport::toWrite>;
template struct Expose<TransportToWriteLock, &Pistache::Tcp::Transport::toWriteLock>;
template struct Expose<EndpointListener, &Pistache::Http::Endpoint::listener>;
template struct Expose<ListenerLogger, &Pistache::Tcp::Listener::logger_>;
template struct Expose<ListenerFd, &Pistache::Tcp::Listener::listen_fd>;
template struct Expose<ListenerSslContext, &Pistache::Tcp::Listener::ssl_ctx_>;

}  // namespace

Pistache::Tcp::Transport*& TransportOf(Pistache::Tcp::Handler& handler) {
  return handler.*Get(HandlerTransport{});
}

bool NothingQueuedFor(Pistache::Tcp::Transport& transport, Pistache::Fd fd) {
  // Sends land in writesQueue (from any thread; here only the reactor sends) and move to toWrite
  // on the reactor's next turn. The reactor is the queue's one consumer, so empty() is exact here.
  if (!(transport.*Get(TransportWritesQueue{})).empty()) return false;
  std::lock_guard<std::mutex> lock(transport.*Get(TransportToWriteLock{}));
  const auto& to_write = transport.*Get(TransportToWrite{});
  return to_write.find(fd) == to_write.end();
}

Pistache::Tcp::Listener& ListenerOf(Pistache::Http::Endpoint& endpoint) {
  return endpoint.*Get(EndpointListener{});
}

PISTACHE_STRING_LOGGER_T& LoggerOf(Pistache::Tcp::Listener& listener) {
  return listener.*Get(ListenerLogger{});
}

int& ListenFdOf(Pistache::Tcp::Listener& listener) {
  return listener.*Get(ListenerFd{});
}

::ssl_ctx_st* SslContextOf(Pistache::Tcp::Listener& listener) {
  return static_cast<::ssl_ctx_st*>((listener.*Get(ListenerSslContext{})).get());
}

}  // namespace orderlog::http::pistache_private
