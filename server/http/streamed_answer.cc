#include "server/http/streamed_answer.h"

#include <pistache/peer.h>

#include <charconv>

#include "server/http/guard.h"

namespace orderlog::http {

PieceResult AppendPiece(BodySource& body, bool chunked, std::string* out) {
  if (!chunked) {
    if (body.Next(out, kStreamPiece)) return PieceResult::kMore;
    return body.broken() ? PieceResult::kBroken : PieceResult::kLast;
  }
  // The chunk's size goes in front of its data: room for it is kept (eight hex digits; leading
  // zeros are allowed, RFC 9112 §7.1) and filled in once the piece is written.
  constexpr size_t kSizeField = 8;
  const size_t at = out->size();
  out->append(kSizeField, '0');
  out->append("\r\n");
  const bool more = body.Next(out, kStreamPiece);
  const size_t size = out->size() - at - kSizeField - 2;
  if (size == 0) {
    out->resize(at);  // an empty chunk would end the body
  } else {
    char digits[16];
    const auto len = static_cast<size_t>(std::to_chars(digits, digits + 16, size, 16).ptr - digits);
    out->replace(at + kSizeField - len, len, digits, len);  // a piece is far below 4 GiB
    out->append("\r\n");
  }
  if (more) return PieceResult::kMore;
  if (body.broken()) return PieceResult::kBroken;
  out->append("0\r\n\r\n");
  return PieceResult::kLast;
}

void ReplyStreamed(Pistache::Http::ResponseWriter& rw, const RequestContext& ctx, Metrics& metrics,
                   int code, const ReplyHeaders& headers, std::unique_ptr<BodySource> body,
                   const char* content_type) {
  std::string first;
  if (!body->Next(&first, kStreamPiece)) {
    if (body->broken()) {
      ReplyError(rw, ctx, metrics, 500, "The answer could not be read");
    } else {
      Reply(rw, ctx, metrics, code, first, headers, content_type);
    }
    return;
  }
  // Longer than a piece. HTTP/1.1: chunked. HTTP/1.0 has no chunks: the body ends with the
  // connection. A HEAD answer has the same head and no body.
  const bool chunked = !ctx.http10;
  RequestContext streamed = ctx;
  if (!chunked) streamed.keep_alive_answer = false;
  std::string bytes = SerializeHead(streamed, code, headers, content_type,
                                    chunked ? BodyEnd::kChunked : BodyEnd::kClose);
  metrics.CountRequest(ctx.route, ctx.method, code, std::chrono::steady_clock::now() - ctx.start);
  try {
    const std::shared_ptr<Pistache::Tcp::Peer> peer = rw.peer();
    peer->setIdle(true);
    if (ctx.head) {
      if (!BatchAnswer(*peer, bytes)) {
        const size_t size = bytes.size();
        peer->send(Pistache::RawBuffer(std::move(bytes), size))
            .then([](ssize_t) {}, Pistache::Async::IgnoreException);
      }
      return;
    }
    // The first piece, as its chunk, goes with the head.
    struct FirstThenRest : BodySource {
      std::string first;
      std::unique_ptr<BodySource> rest;
      bool Next(std::string* out, size_t budget) override {
        if (!first.empty()) {
          out->append(first);
          first.clear();
          return true;
        }
        return rest->Next(out, budget);
      }
      bool broken() const override { return rest->broken(); }
    };
    auto first_then_rest = std::make_unique<FirstThenRest>();
    first_then_rest->first = std::move(first);
    first_then_rest->rest = std::move(body);
    std::unique_ptr<BodySource> whole = std::move(first_then_rest);
    AppendPiece(*whole, chunked, &bytes);  // the first piece: never the last
    if (BatchStream(*peer, bytes, whole, chunked)) return;
    // Not under a guard (nothing of the server's own): the whole body now.
    PieceResult piece = PieceResult::kMore;
    while (piece == PieceResult::kMore) piece = AppendPiece(*whole, chunked, &bytes);
    if (piece == PieceResult::kBroken) return;
    const size_t size = bytes.size();
    peer->send(Pistache::RawBuffer(std::move(bytes), size))
        .then([](ssize_t) {}, Pistache::Async::IgnoreException);
  } catch (const std::exception&) {
  }
}

}  // namespace orderlog::http
