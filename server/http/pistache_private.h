// What Pistache 0.0.5 keeps private and orderlog has to reach, named in one place. Each use says
// why at its call site; a Pistache upgrade is checked here first.
#pragma once

#include <pistache/endpoint.h>
#include <pistache/listener.h>
#include <pistache/tcp.h>
#include <pistache/transport.h>

#include <memory>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace orderlog::http::pistache_private {

// Tcp::Handler::transport_: the guard's inner handler needs the transport the guard was given.
Pistache::Tcp::Transport*& TransportOf(Pistache::Tcp::Handler& handler);

// Reactor thread of `transport`: whether no write for `fd` waits anywhere in Pistache (neither
// in the queue of sends not yet taken up nor in the descriptor's own write queue), so that bytes
// written to the socket now cannot overtake anything sent earlier.
bool NothingQueuedFor(Pistache::Tcp::Transport& transport, Pistache::Fd fd);

// Endpoint::listener, Listener::logger_ and Listener::listen_fd: the spare descriptor replaces
// the listener's logger to see accept's failures, and needs the listening socket.
Pistache::Tcp::Listener& ListenerOf(Pistache::Http::Endpoint& endpoint);
PISTACHE_STRING_LOGGER_T& LoggerOf(Pistache::Tcp::Listener& listener);
int& ListenFdOf(Pistache::Tcp::Listener& listener);
// Listener::ssl_ctx_: the server requires TLS 1.2 and later on the context Pistache made.
// Null before Endpoint::useSSL.
::ssl_ctx_st* SslContextOf(Pistache::Tcp::Listener& listener);

}  // namespace orderlog::http::pistache_private
