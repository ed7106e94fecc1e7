// Small helpers shared by the handlers: the one layout of every answer (Pistache 0.0.5's
// writer cannot send a HEAD answer or custom headers: addRaw headers are dropped), the reply path
// that counts every response in the metrics, and query-parameter parsing.
#pragma once

#include <pistache/http.h>

#include <chrono>
#include <optional>
#include <string>

#include "engine/status.h"
#include "server/http/metrics.h"
#include "server/http/routes.h"

namespace orderlog::http {

// What a handler knows about the request it answers, kept past the Request's lifetime.
struct RequestContext {
  RouteId route = RouteId::kUnmatched;
  std::string method;
  bool keep_alive_answer = false;  // the answer says Connection: Keep-Alive (else Close)
  bool head = false;               // a HEAD request: every answer goes without its body
  bool http10 = false;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

RequestContext MakeContext(const Pistache::Http::Request& req, RouteId route);

struct ReplyHeaders {
  std::optional<std::string> etag;  // the version, unquoted
  std::optional<std::string> location;
  std::optional<uint64_t> total_count;
  std::optional<std::string> allow;
  bool www_authenticate = false;
};

// An answer worked out off the reactor thread (by a write's completion), sent later from it.
struct PreparedReply {
  int code = 200;
  std::string body;  // JSON
  ReplyHeaders headers;
};

// The JSON error answer for a failed status (errors.h decides the code).
PreparedReply ErrorReply(const Status& status);

// The whole answer as bytes: status line (the reason phrase from the code), Connection, the
// headers, Content-Type (JSON unless content_type says otherwise), Content-Length, and the body
// unless ctx.head. Every answer of the server is laid out here.
std::string SerializeAnswer(const RequestContext& ctx, int code, const std::string& body,
                            const ReplyHeaders& headers = {}, const char* content_type = nullptr);
// How the client finds the end of a body that is not known in full yet (streamed_answer.h).
enum class BodyEnd { kChunked, kClose };
// The head of such an answer: as SerializeAnswer lays it out, with Transfer-Encoding: chunked or
// no length at all in place of Content-Length.
std::string SerializeHead(const RequestContext& ctx, int code, const ReplyHeaders& headers,
                          const char* content_type, BodyEnd end);

// Sends a JSON body (or, with content_type, another kind) and counts the response.
// Reactor thread only, like every use of a ResponseWriter.
void Reply(Pistache::Http::ResponseWriter& rw, const RequestContext& ctx, Metrics& metrics,
           int code, const std::string& body, const ReplyHeaders& headers = {},
           const char* content_type = nullptr);
void ReplyError(Pistache::Http::ResponseWriter& rw, const RequestContext& ctx, Metrics& metrics,
                int code, const std::string& detail, const ReplyHeaders& headers = {});

// Query parameter, percent-decoded ('+' is a space); nullopt if absent.
std::optional<std::string> QueryParam(const Pistache::Http::Request& req, const std::string& name);
// A non-negative decimal integer ("0", "17"); nullopt for anything else.
std::optional<uint64_t> ParseCount(const std::string& s);

}  // namespace orderlog::http
