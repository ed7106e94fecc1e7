#include "server/http/http_util.h"

#include <pistache/peer.h>

#include <charconv>

#include "server/http/errors.h"
#include "server/http/guard.h"
#include "server/http/json_out.h"

namespace orderlog::http {

namespace Http = Pistache::Http;

RequestContext MakeContext(const Http::Request& req, RouteId route) {
  RequestContext ctx;
  ctx.route = route;
  ctx.method = Http::methodString(req.method());
  // The answer says what the guard does with the connection afterwards. Outside a guard (no
  // one closes anything), the same rule on the one Connection field Pistache keeps.
  if (const std::optional<bool> kept = HandedKeepsAlive()) {
    ctx.keep_alive_answer = *kept;
  } else {
    const auto connection = req.headers().tryGetRaw("Connection");
    ctx.keep_alive_answer = KeepsAlive(req.version() == Http::Version::Http10,
                                       connection ? connection->value() : std::string());
  }
  ctx.head = req.method() == Http::Method::Head;
  ctx.http10 = req.version() == Http::Version::Http10;
  return ctx;
}

namespace {

// Everything up to the line that tells the body's length (status line, Connection, our headers,
// Content-Type), with room for `reserve` more bytes.
std::string HeadUpToLength(const RequestContext& ctx, int code, const ReplyHeaders& h,
                           const char* content_type, size_t reserve) {
  std::string out;
  out.reserve(192 + reserve);
  out += ctx.http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(code);
  out += ' ';
  out += Http::codeString(static_cast<Http::Code>(code));
  out += "\r\nConnection: ";
  out += ctx.keep_alive_answer ? "Keep-Alive" : "Close";
  if (h.etag) out += "\r\nETag: \"" + *h.etag + "\"";
  if (h.location) out += "\r\nLocation: " + *h.location;
  if (h.total_count) out += "\r\nX-Total-Count: " + std::to_string(*h.total_count);
  if (h.allow) out += "\r\nAllow: " + *h.allow;
  if (h.www_authenticate) out += "\r\nWWW-Authenticate: Bearer";
  out += "\r\nContent-Type: ";
  out += content_type != nullptr ? content_type : "application/json";
  return out;
}

}  // namespace

// The whole answer, laid out as Pistache's ResponseWriter lays it out (status line, Connection,
// the answer's own headers, Content-Type, Content-Length, body) but written here: a HEAD answer
// needs its GET's Content-Length without the body, which the writer cannot do, and answers to
// pipelined requests are sent together (guard.h, BatchAnswer), one write for the lot instead of
// Pistache's queue entry, epoll change and send per answer.
std::string SerializeAnswer(const RequestContext& ctx, int code, const std::string& body,
                            const ReplyHeaders& h, const char* content_type) {
  std::string out = HeadUpToLength(ctx, code, h, content_type, ctx.head ? 0 : body.size());
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  if (!ctx.head) out += body;  // a HEAD answer has the length and no body (RFC 9110 §9.3.2)
  return out;
}

std::string SerializeHead(const RequestContext& ctx, int code, const ReplyHeaders& h,
                          const char* content_type, BodyEnd end) {
  std::string out = HeadUpToLength(ctx, code, h, content_type, 0);
  if (end == BodyEnd::kChunked) out += "\r\nTransfer-Encoding: chunked";
  out += "\r\n\r\n";
  return out;
}

void Reply(Http::ResponseWriter& rw, const RequestContext& ctx, Metrics& metrics, int code,
           const std::string& body, const ReplyHeaders& h, const char* content_type) {
  std::string answer = SerializeAnswer(ctx, code, body, h, content_type);
  // Counted before the send: a client that has its answer may ask /metrics at once.
  metrics.CountRequest(ctx.route, ctx.method, code, std::chrono::steady_clock::now() - ctx.start);
  // A client that has gone makes rw.peer() throw, or the send's promise reject later: neither
  // may escape into the reactor.
  try {
    const std::shared_ptr<Pistache::Tcp::Peer> peer = rw.peer();
    peer->setIdle(true);  // what the writer's send does: the request is answered
    if (BatchAnswer(*peer, answer)) return;
    const size_t size = answer.size();
    peer->send(Pistache::RawBuffer(std::move(answer), size))
        .then([](ssize_t) {}, Pistache::Async::IgnoreException);
  } catch (const std::exception&) {
  }
}

PreparedReply ErrorReply(const Status& status) {
  HttpError e = ToHttpError(status);
  return {e.code, ErrorJson(e.detail), {}};
}

void ReplyError(Http::ResponseWriter& rw, const RequestContext& ctx, Metrics& metrics, int code,
                const std::string& detail, const ReplyHeaders& headers) {
  Reply(rw, ctx, metrics, code, ErrorJson(detail), headers);
}

namespace {
int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> QueryParam(const Http::Request& req, const std::string& name) {
  auto raw = req.query().get(name);
  if (!raw) return std::nullopt;
  std::string out;
  const std::string& s = *raw;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) << 4 | Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<uint64_t> ParseCount(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace orderlog::http
