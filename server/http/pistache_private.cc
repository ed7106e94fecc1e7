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

// A tag naming one member, and the instantiation that defines its Get.
#define ORDERLOG_EXPOSE(Tag, member) \
  struct Tag {                       \
    friend constexpr auto Get(Tag);  \
  };                                 \
  template struct Expose<Tag, member>

ORDERLOG_EXPOSE(HandlerTransport, &Pistache::Tcp::Handler::transport_);
ORDERLOG_EXPOSE(TransportWritesQueue, &Pistache::Tcp::Transport::writesQueue);
ORDERLOG_EXPOSE(TransportToWrite, &Pistache::Tcp::Transport::toWrite);
ORDERLOG_EXPOSE(TransportToWriteLock, &Pistache::Tcp::Transport::toWriteLock);
ORDERLOG_EXPOSE(EndpointListener, &Pistache::Http::Endpoint::listener);
ORDERLOG_EXPOSE(ListenerLogger, &Pistache::Tcp::Listener::logger_);
ORDERLOG_EXPOSE(ListenerFd, &Pistache::Tcp::Listener::listen_fd);
ORDERLOG_EXPOSE(ListenerSslContext, &Pistache::Tcp::Listener::ssl_ctx_);

#undef ORDERLOG_EXPOSE

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
