// Answers too big to build in memory (GET /orders/ without a limit, /events/ pages; Server-Sent
// Events later): the body is produced a piece at a time on the reactor thread, only as fast as
// the client reads it, and sent with chunked transfer encoding (HTTP/1.0: until the close).
//
// The guard drives it (guard.h): it asks the body for a piece of about kStreamPiece bytes when
// the socket has taken the previous one, spends at most kStreamSlice on one answer before other
// connections are served, and waits for Pistache to report the socket writable when it is full.
// What one streamed answer holds is its body's state and one piece; a client that leaves drops it.
#pragma once

#include <pistache/http.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "server/http/http_util.h"
#include "server/http/metrics.h"

namespace orderlog::http {

// Bytes asked of a body per piece: one chunk, and one send.
inline constexpr size_t kStreamPiece = 64 * 1024;
// The reactor's time on one streamed answer before it turns to other connections.
inline constexpr auto kStreamSlice = std::chrono::milliseconds(1);

class BodySource {
 public:
  virtual ~BodySource() = default;
  // Reactor thread: appends the next part of the body to *out (about `budget` bytes, at least
  // one unless the body is complete); false once it has appended the last.
  virtual bool Next(std::string* out, size_t budget) = 0;
  // After Next returned false: the body could not be produced to its end (a read failed after
  // the head was sent). The client must not take it for whole: the connection is reset.
  virtual bool broken() const { return false; }
};

// Reactor thread, inside a handler: answers `code` with `headers` and the body `body` produces.
// A body that fits in one piece is sent as Reply sends it (with its Content-Length); a longer one
// is streamed, and so is the rest of the connection: requests pipelined behind it wait for it.
void ReplyStreamed(Pistache::Http::ResponseWriter& rw, const RequestContext& ctx, Metrics& metrics,
                   int code, const ReplyHeaders& headers, std::unique_ptr<BodySource> body,
                   const char* content_type = nullptr);

enum class PieceResult { kMore, kLast, kBroken };
// Appends a piece of `body` to *out as one chunk of chunked transfer encoding (nothing if `body`
// adds nothing) or, when `chunked` is false, as it is; after the last piece, the terminating
// chunk. kBroken: the body failed, and what it appended is not to be sent.
PieceResult AppendPiece(BodySource& body, bool chunked, std::string* out);

}  // namespace orderlog::http
