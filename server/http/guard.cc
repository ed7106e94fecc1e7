#include "server/http/guard.h"

#include <openssl/ssl.h>
#include <pistache/peer.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "server/http/http_util.h"
#include "server/http/json_out.h"
#include "server/http/pistache_fields.h"
#include "server/http/pistache_private.h"

namespace orderlog::http {

namespace Http = Pistache::Http;
namespace Polling = Pistache::Polling;

namespace {

// Connections whose peers are gone are forgotten at most this long after (Pistache's idle sweep
// drops peers without telling the handler).
constexpr auto kPurgeEvery = std::chrono::seconds(5);

// The request being handed to Pistache on this thread, for AnswerTurn::Defer and BatchAnswer.
struct Handing {
  GuardedRouterHandler* guard;
  size_t connection;
  std::string* outbox;
  bool keep_alive;
  bool deferred = false;
  std::unique_ptr<BodySource> body;  // a streamed answer (BatchStream)
  bool chunked = true;
};
thread_local Handing* handing = nullptr;

}  // namespace

AnswerTurn AnswerTurn::Defer() {
  AnswerTurn turn;
  if (handing != nullptr) {  // else not under a guard (nothing waits for the answer)
    handing->deferred = true;
    turn.guard_ = handing->guard;
    turn.connection_ = handing->connection;
  }
  return turn;
}

bool BatchAnswer(const Pistache::Tcp::Peer& peer, std::string& answer) {
  if (handing == nullptr || handing->connection != peer.getID()) return false;
  handing->outbox->append(answer);
  return true;
}

bool BatchStream(const Pistache::Tcp::Peer& peer, std::string& bytes,
                 std::unique_ptr<BodySource>& body, bool chunked) {
  if (handing == nullptr || handing->connection != peer.getID()) return false;
  handing->outbox->append(bytes);
  handing->body = std::move(body);
  handing->chunked = chunked;
  return true;
}

std::optional<bool> HandedKeepsAlive() {
  if (handing == nullptr) return std::nullopt;
  return handing->keep_alive;
}

void AnswerTurn::Answer(const std::function<void()>& send) const {
  if (guard_ == nullptr) {
    send();
    return;
  }
  guard_->AnswerTurnCame(connection_, send);
}

GuardedRouterHandler::GuardedRouterHandler(std::shared_ptr<Pistache::Rest::Router> routes,
                                           GuardLimits limits, Metrics* metrics)
    : RouterHandler(routes),
      router_(std::move(routes)),
      limits_(std::move(limits)),
      metrics_(metrics),
      inner_(std::make_shared<Pistache::Rest::Private::RouterHandler>(router_)) {
  limits_.framing.check_fields = &FieldsPistacheRefuses;
}

std::shared_ptr<Pistache::Tcp::Handler> GuardedRouterHandler::clone() const {
  auto copy = std::make_shared<GuardedRouterHandler>(*this);  // Pistache's settings with it
  copy->inner_ = std::make_shared<Pistache::Rest::Private::RouterHandler>(router_);
  copy->inner_->setMaxRequestSize(getMaxRequestSize());
  copy->inner_->setMaxResponseSize(getMaxResponseSize());
  copy->inner_->setHeaderTimeout(getHeaderTimeout());
  copy->inner_->setBodyTimeout(getBodyTimeout());
  copy->mailbox_.reset();
  copy->connections_.clear();
  copy->recency_.clear();
  return copy;
}

size_t GuardedRouterHandler::PistacheRequestLimit(const GuardLimits& l) {
  // Worst case the guard lets through: request line + headers + a chunked body of one-byte
  // chunks ("1\r\nX\r\n" = 6 bytes per body byte) + the last chunk and trailers.
  const FramingLimits& f = l.framing;
  return f.head.max_request_line + f.head.max_header_section + 6 * f.max_body +
         f.head.max_header_section + 64;
}

// ---- connections -------------------------------------------------------------------------

void GuardedRouterHandler::onConnection(const PeerPtr& peer) {
  // The request parser, through the inner handler that uses it (Http::Handler::onConnection is
  // private, but public as the Tcp::Handler override). Bells get one too: the idle sweep reads it.
  static_cast<Pistache::Tcp::Handler*>(inner_.get())->onConnection(peer);
  if (ReactorMailbox::IsBell(*peer)) return;
  const auto now = Clock::now();
  const size_t id = peer->getID();
  Connection& c = connections_.emplace(id, Connection{}).first->second;
  c.peer = peer;
  c.last_input = now;
  c.recency = recency_.insert(recency_.end(), id);
  const size_t open = metrics_ != nullptr ? metrics_->ConnectionOpened() : connections_.size();
  if (open > limits_.max_connections && !Evict(now)) {  // the open ones keep being served
    if (metrics_ != nullptr) metrics_->ConnectionRefused();
    Refuse(c, peer, Refusal{503, "Too many connections", ""}, {}, CloseReason::kOverCapacity);
  }
}

// The connection heard from least recently, if it has been quiet for kEvictQuietFor and owes no
// answer: an idle keep-alive connection, or one trickling a request (slowloris). Closed at once;
// Pistache sees the close and disconnects it.
bool GuardedRouterHandler::Evict(Clock::time_point now) {
  for (const size_t id : recency_) {
    Connection& c = connections_.at(id);
    if (now - c.last_input < kEvictQuietFor) return false;  // the rest are more recent
    if (c.closing || c.answer_deferred || c.streaming || !c.waiting.empty()) continue;
    const PeerPtr peer = c.peer.lock();
    if (!peer) continue;
    StopReading(c, CloseReason::kEvicted);
    ::shutdown(peer->fd(), SHUT_RDWR);
    return true;
  }
  return false;
}

void GuardedRouterHandler::Forget(std::unordered_map<size_t, Connection>::iterator it,
                                  CloseReason reason) {
  if (metrics_ != nullptr) metrics_->ConnectionClosed(it->second.close_reason.value_or(reason));
  recency_.erase(it->second.recency);
  connections_.erase(it);
}

void GuardedRouterHandler::Purge(Clock::time_point now) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    auto next = std::next(it);
    const Connection& c = it->second;
    if (c.peer.expired()) {
      // Dropped by Pistache's sweep: after 408 if a request was under way, else idle.
      const bool busy =
          c.framer.mid_request() || c.answer_deferred || c.streaming || !c.waiting.empty();
      Forget(it, busy ? CloseReason::kTimedOut : CloseReason::kIdle);
    }
    it = next;
  }
  next_purge_ = now + kPurgeEvery;
}

void GuardedRouterHandler::onDisconnection(const PeerPtr& peer) {
  // Pistache queues every send by the peer's descriptor number and writes it on a later turn of
  // the reactor. The peer's number is about to be closed, and a connection accepted in the same
  // turn can be given it: it would then receive this peer's queued answers. Writing the queue out
  // now, while every number still names the peer its answer was sent to, closes that window (and
  // costs nothing per request).
  // Not when Pistache's timeout sweep may have queued a 408 for this peer (its request has been
  // waiting longer than a timeout; sending the 408 marks the peer idle, so only the time tells):
  // that write's completion removes the peer, while Pistache's caller still holds a reference
  // into its peer table. Such a peer is being closed by Pistache itself anyway.
  const auto since = Clock::now() - Http::Handler::getParser(peer)->time();
  if (since < std::min(limits_.header_timeout, limits_.body_timeout)) {
    // The flush writes until Pistache's queue is empty, and a streamed answer whose piece it
    // writes would queue its next one at once: such turns wait until the flush is done.
    flushing_ = true;
    transport()->flush();
    flushing_ = false;
    for (const size_t id : turns_after_flush_) {
      const auto it = connections_.find(id);
      const PeerPtr other = it == connections_.end() ? nullptr : it->second.peer.lock();
      if (other && it->second.streaming && other != peer) QueueStreamTurn(it->second, other);
    }
    turns_after_flush_.clear();
  }
  if (auto it = connections_.find(peer->getID()); it != connections_.end()) {
    Forget(it, CloseReason::kClient);
  }
  RouterHandler::onDisconnection(peer);
}

// ---- input -------------------------------------------------------------------------------

void GuardedRouterHandler::onInput(const char* buffer, size_t len, const PeerPtr& peer) {
  const auto now = Clock::now();
  if (!mailbox_)
    mailbox_ = std::make_shared<ReactorMailbox>(transport(), limits_.keepalive_timeout);
  mailbox_->Tend(now);
  if (now >= next_purge_) Purge(now);
  const auto it = connections_.find(peer->getID());
  if (it == connections_.end()) {  // only bells are not connections
    mailbox_->RunPosted();
    return;
  }
  Connection& c = it->second;
  if (c.closing) return;  // nothing more is read
  c.last_input = now;
  recency_.splice(recency_.end(), recency_, c.recency);
  c.paused = false;  // it was read: Pistache has re-enabled reading since any pause
  size_t i = 0;
  while (i < len && !c.closing) {
    RequestFramer::Step step = c.framer.Next(buffer + i, len - i, limits_.framing);
    if (step.refusal) {
      if (c.waiting.empty() && MayHand(c)) {
        Refuse(c, peer, *step.refusal, c.framer.request(), CloseReason::kRefused);
      } else {  // answered in its turn
        Piece& piece = c.waiting.emplace_back();
        piece.refused = std::make_shared<const Piece::Refused>(
            Piece::Refused{std::move(*step.refusal), c.framer.request()});
        piece.ends_request = true;
        c.waiting_bytes += kPieceCost;
      }
      break;
    }
    Take(c, peer, buffer + i, step.used, step.request_done);
    i += step.used;
  }
  Flush(c, peer);
  if (c.waiting_bytes > kDropAbove) {  // reads that happened before a pause took hold
    StopReading(c, CloseReason::kSlowReader);
    // Aborted, not shut down: Pistache reads a connection until the socket is empty, and a
    // shut-down socket still takes in what a client keeps sending.
    Abort(peer);
    return;
  }
  AdjustReading(c, peer);
}

void GuardedRouterHandler::Take(Connection& c, const PeerPtr& peer, const char* p, size_t n,
                                bool ends_request) {
  const bool send_continue = c.framer.TakeContinue();
  const bool keep_alive = c.framer.request().keep_alive;
  if (c.handing_partial || (c.waiting.empty() && MayHand(c))) {
    Hand(c, peer, p, n, ends_request, send_continue, keep_alive);
    return;
  }
  if (c.waiting.empty() || c.waiting.back().ends_request) {
    c.waiting.emplace_back();
    c.waiting_bytes += kPieceCost;
  }
  Piece& piece = c.waiting.back();
  piece.bytes.append(p, n);
  piece.ends_request = ends_request;
  piece.send_continue = piece.send_continue || send_continue;
  piece.keep_alive = keep_alive;
  c.waiting_bytes += n;
}

void GuardedRouterHandler::Hand(Connection& c, const PeerPtr& peer, const char* p, size_t n,
                                bool ends_request, bool send_continue, bool keep_alive) {
  // Expect: 100-continue, and nothing refused the request: the interim answer goes out with the
  // answers before it, at the end of this turn, and the client sends the body.
  if (send_continue) c.outbox += "HTTP/1.1 100 Continue\r\n\r\n";
  Handing now{this, peer->getID(), &c.outbox, keep_alive};
  Handing* const outer = std::exchange(handing, &now);
  // Http::Handler::onInput is private, so the guard cannot call it on itself; it hands the bytes
  // to an inner RouterHandler, which needs the transport the guard was given.
  pistache_private::TransportOf(*inner_) = transport();
  static_cast<Pistache::Tcp::Handler*>(inner_.get())->onInput(p, n, peer);
  handing = outer;
  c.handing_partial = !ends_request;
  if (!ends_request) return;
  ++c.unconfirmed;
  if (now.body) {  // Flush starts sending it; the requests behind wait until it has been sent
    c.streaming = std::make_shared<Streaming>(metrics_);
    c.streaming->body = std::move(now.body);
    c.streaming->chunked = now.chunked;
    c.close_after_answer = !keep_alive || !now.chunked;
  } else if (now.deferred) {
    c.answer_deferred = true;
    c.close_after_answer = !keep_alive;
  } else if (!keep_alive) {
    CloseAfterAnswers(c, peer, CloseReason::kRequested);
  } else if (c.unconfirmed >= kMarkEvery && !c.mark_queued) {
    Flush(c, peer);
    if (c.unconfirmed >= kMarkEvery) SendMark(c, peer);  // not all written at once
  }
}

void GuardedRouterHandler::Flush(Connection& c, const PeerPtr& peer) {
  if (c.outbox.empty()) return;
  if (WriteOutbox(c, peer) && c.streaming && !c.streaming->waiting) Stream(c, peer);
}

bool GuardedRouterHandler::WriteOutbox(Connection& c, const PeerPtr& peer, bool now) {
  std::string out = std::exchange(c.outbox, std::string());
  // Pistache would take the answers through its send queue: an eventfd write and read, three
  // epoll changes and a turn of the reactor, per send. Written here, they cost one send(). Not
  // over TLS, where the bytes must go through the connection's SSL object (Pistache's send).
  if (now && peer->ssl() == nullptr &&
      pistache_private::NothingQueuedFor(*transport(), peer->fd())) {
    ssize_t n;
    do {
      n = ::send(peer->fd(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(out.size())) {
      // Every answer so far is written: only a deferred one is not.
      c.unconfirmed = c.answer_deferred ? 1 : 0;
      return true;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;  // gone: Pistache sees it
    if (n > 0) out.erase(0, static_cast<size_t>(n));
  }
  // Behind what waits in Pistache, or what the socket did not take, or a streamed answer's turn
  // given up: Pistache writes it on a later turn of the reactor, when the socket can take it, and
  // says so; a streamed answer goes on then.
  const size_t size = out.size();
  try {
    auto sent = peer->send(Pistache::RawBuffer(std::move(out), size));
    if (c.streaming) {
      c.streaming->waiting = true;
      const size_t id = peer->getID();
      // Runs at the end of Pistache's write of this connection's queue (its lock released).
      sent.then([this, id](ssize_t) { StreamTurn(id); }, Pistache::Async::IgnoreException);
    } else {
      sent.then([](ssize_t) {}, Pistache::Async::IgnoreException);
    }
  } catch (const std::exception&) {
  }
  return false;
}

void GuardedRouterHandler::Stream(Connection& c, const PeerPtr& peer) {
  // The client has taken what was sent: it is reading, so Pistache's sweep must not take the
  // connection for idle (its clock restarts when the parser is reset; no request is being parsed
  // while an answer streams, the next ones wait in the guard).
  Http::Handler::getParser(peer)->reset();
  const auto until = Clock::now() + kStreamSlice;
  for (;;) {
    Streaming& s = *c.streaming;
    const PieceResult piece = AppendPiece(*s.body, s.chunked, &c.outbox);
    if (piece != PieceResult::kMore) {
      c.streaming.reset();  // the body and the view it held go now; the last bytes are in outbox
      if (piece == PieceResult::kBroken) {
        // The client must not take what it got for the whole answer: the connection is reset
        // (no terminating chunk, no orderly close).
        c.outbox.clear();
        StopReading(c, CloseReason::kRefused);
        Abort(peer);
        return;
      }
      StreamEnded(c, peer);
      return;
    }
    // Past the slice, the piece goes through Pistache's queue: it is written on a later turn of
    // the reactor, after the other connections ready now, and its completion brings the next
    // turn of this answer (StreamTurn). (A task posted to the mailbox would not do: the bell is
    // read until it is empty, and each turn would ring it again.)
    const bool in_slice = Clock::now() < until;
    if (!WriteOutbox(c, peer, in_slice) || !in_slice) return;
  }
}

void GuardedRouterHandler::StreamTurn(size_t id) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  const PeerPtr peer = c.peer.lock();
  if (!peer || !c.streaming || c.closing) return;
  if (flushing_) {
    turns_after_flush_.push_back(id);
    return;
  }
  c.streaming->waiting = false;
  try {
    Stream(c, peer);  // the outbox is empty: its last piece was handed to Pistache whole
  } catch (const std::exception&) {
    // Inside Pistache's write loop: nothing may escape into it.
  }
}

// An empty write through Pistache's queue whose completion, on a later turn of the reactor,
// brings the streamed answer's next turn.
void GuardedRouterHandler::QueueStreamTurn(Connection& c, const PeerPtr& peer) {
  c.streaming->waiting = true;
  const size_t id = peer->getID();
  try {
    peer->send(Pistache::RawBuffer(std::string(), 0))
        .then([this, id](ssize_t) { StreamTurn(id); }, Pistache::Async::IgnoreException);
  } catch (const std::exception&) {
  }
}

void GuardedRouterHandler::StreamEnded(Connection& c, const PeerPtr& peer) {
  if (c.close_after_answer) {
    CloseAfterAnswers(c, peer, CloseReason::kRequested);  // sends the last bytes first
    return;
  }
  Pump(c, peer);  // ends with a Flush of the last bytes and of the answers handed after them
}

// Hands waiting requests to Pistache while their turn has come.
void GuardedRouterHandler::Pump(Connection& c, const PeerPtr& peer) {
  while (!c.waiting.empty() && MayHand(c)) {
    Piece piece = std::move(c.waiting.front());
    c.waiting.pop_front();
    c.waiting_bytes -= piece.bytes.size() + kPieceCost;
    if (piece.refused) {
      Refuse(c, peer, piece.refused->refusal, piece.refused->head, CloseReason::kRefused);
      return;
    }
    Hand(c, peer, piece.bytes.data(), piece.bytes.size(), piece.ends_request, piece.send_continue,
         piece.keep_alive);
  }
  Flush(c, peer);
  if (!c.closing) AdjustReading(c, peer);
}

void GuardedRouterHandler::AnswerTurnCame(size_t id, const std::function<void()>& send) {
  const auto it = connections_.find(id);
  const PeerPtr peer = it == connections_.end() ? nullptr : it->second.peer.lock();
  if (!peer) {
    send();  // to a peer that is gone: Reply finds that out itself
    return;
  }
  Connection& c = it->second;
  Handing now{this, id, &c.outbox, !c.close_after_answer};
  Handing* const outer = std::exchange(handing, &now);
  send();
  handing = outer;
  if (c.closing) {
    Flush(c, peer);
    return;
  }
  c.answer_deferred = false;
  if (c.close_after_answer) {
    CloseAfterAnswers(c, peer, CloseReason::kRequested);
    return;
  }
  Pump(c, peer);  // ends with a Flush
}

// ---- writes, reading and closing ---------------------------------------------------------

void GuardedRouterHandler::SendMark(Connection& c, const PeerPtr& peer) {
  c.mark_queued = true;
  c.unconfirmed = 0;
  const size_t id = peer->getID();
  // Runs on this reactor thread, inside Pistache's write of the connection's queue; never if
  // the connection goes first (its queue is dropped unwritten).
  auto written = [this, id] { MarkWritten(id); };
  peer->send(Pistache::RawBuffer(std::string(), 0))
      .then([written](ssize_t) { written(); }, [written](std::exception_ptr) { written(); });
}

void GuardedRouterHandler::MarkWritten(size_t id) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  c.mark_queued = false;
  const PeerPtr peer = c.peer.lock();
  if (!peer || c.closing) return;
  // Everything queued for the connection before the mark is written, so Pistache has no write
  // waiting for the socket to drain: the interest can be set to reading or to nothing without
  // losing a write's wake-up. (A write queued after the mark that finds the socket full asks for
  // both again itself.)
  const bool pause = c.waiting_bytes > kPauseAbove;
  if (pause != c.paused) {
    transport()->reactor()->modifyFd(
        transport()->key(), peer->fd(),
        pause ? Polling::NotifyOn::None : Polling::NotifyOn::Read | Polling::NotifyOn::Shutdown,
        Polling::Mode::Edge);
    c.paused = pause;
  }
  Pump(c, peer);
}

// Pausing or resuming reads waits for a mark to be written (see MarkWritten).
void GuardedRouterHandler::AdjustReading(Connection& c, const PeerPtr& peer) {
  const bool pause = c.waiting_bytes > kPauseAbove;
  if (pause != c.paused && !c.mark_queued) SendMark(c, peer);
}

// After the answers queued so far, the server's side is shut: the client reads them to the end,
// sees the close, and closes too (Pistache then disconnects the peer).
void GuardedRouterHandler::CloseAfterAnswers(Connection& c, const PeerPtr& peer,
                                             CloseReason reason) {
  Flush(c, peer);
  StopReading(c, reason);
  SendThenShut(peer, std::string(), SHUT_WR);
}

// The refusal goes out after the answers before it, then both directions are shut: the rest of
// the refused request is never read.
void GuardedRouterHandler::Refuse(Connection& c, const PeerPtr& peer, const Refusal& r,
                                  const RequestHead& head, CloseReason reason) {
  Flush(c, peer);
  StopReading(c, reason);
  RequestContext ctx;  // closing, whatever the request asked; a HEAD answer has no body
  ctx.head = head.method == "HEAD";
  ReplyHeaders headers;
  if (!r.allow.empty()) headers.allow = r.allow;
  headers.www_authenticate = r.code == 401;
  if (metrics_ != nullptr) {
    metrics_->CountRequest(Classify(head.method, head.path).route,
                           head.method.empty() ? "?" : head.method, r.code,
                           std::chrono::nanoseconds(0));
  }
  SendThenShut(peer, SerializeAnswer(ctx, r.code, ErrorJson(r.detail), headers), SHUT_RDWR);
}

// connect(AF_UNSPEC) dissolves the connection (the client gets a reset), so the next read fails
// and Pistache drops the peer.
void GuardedRouterHandler::Abort(const PeerPtr& peer) {
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  ::connect(peer->fd(), &unspec, sizeof unspec);
}

void GuardedRouterHandler::StopReading(Connection& c, CloseReason reason) {
  c.streaming.reset();
  c.closing = true;
  c.close_reason = reason;
  c.waiting.clear();
  c.waiting_bytes = 0;
}

void GuardedRouterHandler::SendThenShut(const PeerPtr& peer, std::string bytes, int how) {
  std::weak_ptr<Pistache::Tcp::Peer> weak = peer;
  auto shut = [weak, how] {
    if (auto p = weak.lock()) {
      // Over TLS the end of the data is TLS's close_notify (RFC 8446 §6.1), before the FIN:
      // without it a client cannot tell the end of a body from a cut connection. One record,
      // written without waiting for the client's own.
      if (p->ssl() != nullptr) SSL_shutdown(static_cast<SSL*>(p->ssl()));
      ::shutdown(p->fd(), how);
    }
  };
  const size_t size = bytes.size();
  try {
    peer->send(Pistache::RawBuffer(std::move(bytes), size))
        .then([shut](ssize_t) { shut(); }, [shut](std::exception_ptr) { shut(); });
  } catch (const std::exception&) {
    shut();
  }
}

}  // namespace orderlog::http
