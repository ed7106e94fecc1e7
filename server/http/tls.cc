#include "server/http/tls.h"

#include <openssl/ssl.h>

#include <stdexcept>

#include "server/http/pistache_private.h"

namespace orderlog::http {

void UseTls(Pistache::Http::Endpoint& endpoint, const std::string& cert, const std::string& key) {
  endpoint.useSSL(cert, key);  // compression off (CRIME), ECDH on: Pistache's defaults
  SSL_CTX* ctx = pistache_private::SslContextOf(pistache_private::ListenerOf(endpoint));
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    throw std::runtime_error("cannot require TLS 1.2 or later");
  }
}

}  // namespace orderlog::http
