// TLS on the server's own port (--tls-cert / --tls-key, PEM), through Pistache 0.0.5's OpenSSL
// support: the listener's accept thread runs each handshake, and the reactor reads and writes
// through the connection's SSL object. Everything the guard does (framing, refusals, pipelining,
// streaming, closing) sees the same bytes as over plain TCP; what differs is below it:
//  - the guard writes to a TLS connection through Pistache (SSL_write), never with send();
//  - an orderly close sends TLS's close_notify before the TCP FIN (SendThenShut);
//  - the spare descriptor's 503 is not sent on a TLS port (it would be plain text): the
//    connection is closed;
//  - Pistache runs the handshake blocking on its accept thread, one connection at a time, with a
//    10 s receive and send timeout it sets on the accepted socket (seen with strace; not in its
//    0.0.5 tag). A client that connects and says nothing holds every other handshake for those
//    10 s: on a port open to hostile clients, terminate TLS in HAProxy in front (README).
#pragma once

#include <pistache/endpoint.h>

#include <string>

namespace orderlog::http {

// Before serving: loads the certificate chain and key, TLS 1.2 and later only. Throws with
// OpenSSL's reason if they do not load or do not match.
void UseTls(Pistache::Http::Endpoint& endpoint, const std::string& cert, const std::string& key);

}  // namespace orderlog::http
