// The connection guard: a Pistache handler that sees every byte a client sends before Pistache's
// parser does, so that each connection is served as HTTP/1.1 says, which Pistache 0.0.5 alone
// does not (../shared/PISTACHE.md §3, §5):
//  - Framing (request_framer.h): a malformed or oversized request gets a JSON 4xx and the
//    connection is closed; nothing after it is ever parsed as another request (Pistache's own
//    413 keeps the connection open and parses the rest of the body: request smuggling).
//  - Pipelining: 0.0.5 drops whatever follows the first request of a read, so requests are
//    handed to Pistache one at a time, each once the previous one has been answered. A write is
//    answered later, from the log's writer thread (AnswerTurn): the requests behind it wait, and
//    answers leave in request order. What waits is bounded: past kPauseAbove bytes the reactor
//    stops reading the connection until its answers have drained (back-pressure), and a client
//    that has not read kMarkEvery answers is not handed more requests until it does.
//  - Connection: close (and HTTP/1.0 without keep-alive): closed once the answer is written.
//  - Expect: 100-continue gets its 100 when the request's turn comes and nothing refused it.
//  - --max-connections: past it, the connection quiet the longest (for kEvictQuietFor at least,
//    with no answer owed) is closed to make room; if none is, the new one is answered 503 and
//    closed, and the open ones are served as before.
//
// Threads: one clone runs per reactor thread, and every call below runs on that thread. The clone
// also owns the reactor's ReactorMailbox: the bell's input arrives here and runs posted tasks.
#pragma once

#include <pistache/router.h>

#include <chrono>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/http/metrics.h"
#include "server/http/reactor_mailbox.h"
#include "server/http/request_framer.h"
#include "server/http/streamed_answer.h"

namespace orderlog::http {

struct GuardLimits {
  FramingLimits framing;
  // The endpoint's timeouts (main passes these to Pistache). Keep-alive: Pistache closes a peer
  // idle for that long (bells too). Header and body: it answers 408 and closes the peer.
  std::chrono::milliseconds keepalive_timeout{60'000};
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  // Open connections at most (across reactor threads).
  size_t max_connections = 10'000;
};

class GuardedRouterHandler;

// The turn of a request whose answer is sent later than its handler returns (a write, answered
// once durable). Until Answer(), the connection's later requests wait, so answers stay in order.
class AnswerTurn {
 public:
  AnswerTurn() = default;
  // Reactor thread, inside a handler: the request being handled will be answered later.
  static AnswerTurn Defer();
  // Reactor thread, once that answer is ready: `send` sends it (through Reply); the guard writes
  // it together with the answers to the requests that waited behind it, which it hands on.
  void Answer(const std::function<void()>& send) const;

 private:
  friend class GuardedRouterHandler;
  GuardedRouterHandler* guard_ = nullptr;
  size_t connection_ = 0;
};

// Reactor thread: if the guard is handing Pistache a request of `peer` right now, takes the
// whole answer to it, to be written together with the answers to the requests handed with it
// (one send when the guard's turn ends, in request order); false otherwise (the caller sends).
bool BatchAnswer(const Pistache::Tcp::Peer& peer, std::string& answer);

// Reactor thread: like BatchAnswer for the head (and first piece) of a streamed answer; the guard
// takes `body` too and sends the rest of it as the client reads (streamed_answer.h). False, and
// nothing taken, when the guard is not handing Pistache a request of `peer`.
bool BatchStream(const Pistache::Tcp::Peer& peer, std::string& bytes,
                 std::unique_ptr<BodySource>& body, bool chunked);

// Reactor thread, inside a handler: whether the connection stays open after the request the
// guard is handing Pistache, as the guard decided it from every Connection field of the request
// (Pistache keeps only the first); nullopt outside a guard's hand.
std::optional<bool> HandedKeepsAlive();

class GuardedRouterHandler : public Pistache::Rest::Private::RouterHandler {
 public:
  GuardedRouterHandler(std::shared_ptr<Pistache::Rest::Router> routes, GuardLimits limits,
                       Metrics* metrics);
  std::shared_ptr<Pistache::Tcp::Handler> clone() const override;

  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;

  // The Pistache request size limit that the guard's own limits keep out of reach.
  static size_t PistacheRequestLimit(const GuardLimits& limits);

  // Past this many bytes read and not yet handed to Pistache, a connection is not read from.
  static constexpr size_t kPauseAbove = 256 * 1024;
  // Requests handed between two write marks (see Connection::unconfirmed).
  static constexpr uint32_t kMarkEvery = 32;
  // Past this many bytes waiting (reads Pistache made before a pause took hold), the client is
  // dropped: it keeps sending while not reading its answers.
  static constexpr size_t kDropAbove = 16 * 1024 * 1024;
  // A connection quiet for this long, with no answer owed, may be closed to admit a new one.
  static constexpr auto kEvictQuietFor = std::chrono::seconds(1);

 private:
  using Clock = std::chrono::steady_clock;
  using PeerPtr = std::shared_ptr<Pistache::Tcp::Peer>;
  friend class AnswerTurn;
  friend bool BatchAnswer(const Pistache::Tcp::Peer& peer, std::string& answer);
  friend bool BatchStream(const Pistache::Tcp::Peer& peer, std::string& bytes,
                          std::unique_ptr<BodySource>& body, bool chunked);

  // Bytes of a request read while an earlier one is still owed its answer.
  struct Piece {
    std::string bytes;
    bool ends_request = false;
    bool send_continue = false;
    bool keep_alive = true;
    struct Refused {
      Refusal refusal;
      RequestHead head;  // method and route, for the answer and the metrics
    };
    std::shared_ptr<const Refused> refused;  // answered in its turn, then the connection closes
  };
  // What a waiting piece costs beyond its bytes (counted against the bounds).
  static constexpr size_t kPieceCost = sizeof(Piece) + 32;
  // A streamed answer under way (streamed_answer.h).
  struct Streaming {
    explicit Streaming(Metrics* m) : metrics(m) {
      if (metrics != nullptr) metrics->StreamOpened();
    }
    ~Streaming() {
      if (metrics != nullptr) metrics->StreamClosed();
    }
    Streaming(const Streaming&) = delete;
    Streaming& operator=(const Streaming&) = delete;
    Metrics* metrics;
    std::unique_ptr<BodySource> body;
    bool chunked = true;
    // A piece is in Pistache's queue: its completion (StreamTurn) brings the next turn.
    bool waiting = false;
  };
  struct Connection {
    std::weak_ptr<Pistache::Tcp::Peer> peer;
    RequestFramer framer;
    std::deque<Piece> waiting;
    size_t waiting_bytes = 0;
    bool handing_partial = false;  // Pistache has the start of a request, and gets the rest
    bool answer_deferred = false;  // Pistache's last request is answered later (AnswerTurn)
    bool close_after_answer = false;
    bool closing = false;  // nothing more is read: refused, evicted or closing after an answer
    std::optional<CloseReason> close_reason;
    // Requests handed since the last write mark was queued. A mark is an empty write queued
    // after answers: once it is written, so are they (Pistache writes a connection's queue in
    // order). Its completion is also where reading is paused and resumed: Pistache re-enables
    // reading whenever a connection's queue drains, so that is the moment to decide.
    uint32_t unconfirmed = 0;
    bool mark_queued = false;
    bool paused = false;  // as far as we know, the reactor is not reading it
    std::string outbox;   // answers batched while handing requests (BatchAnswer), not yet sent
    // Its last answer, still being sent (shared only so that a clone, made before any connection,
    // can copy the map).
    std::shared_ptr<Streaming> streaming;
    Clock::time_point last_input;
    std::list<size_t>::iterator recency;  // its place in recency_
  };

  bool MayHand(const Connection& c) const {
    return !c.closing && !c.answer_deferred && !c.streaming &&
           !(c.mark_queued && c.unconfirmed >= kMarkEvery);
  }
  // Takes the bytes of one request (or of its start or continuation) read from the connection.
  void Take(Connection& c, const PeerPtr& peer, const char* p, size_t n, bool ends_request);
  void Hand(Connection& c, const PeerPtr& peer, const char* p, size_t n, bool ends_request,
            bool send_continue, bool keep_alive);
  void Pump(Connection& c, const PeerPtr& peer);
  // Sends the batched answers; before anything else is sent on the connection. Written to the
  // socket at once when nothing of the connection waits in Pistache's queues (the usual case);
  // what the socket does not take, and everything when something waits, goes through Pistache.
  void Flush(Connection& c, const PeerPtr& peer);
  // Flush's write: true if the outbox went to the socket whole, now. `now` false: through
  // Pistache's queue in any case (a streamed answer giving up its turn).
  bool WriteOutbox(Connection& c, const PeerPtr& peer, bool now = true);
  // Sends the streamed answer's next pieces: until the socket is full (then Pistache reports
  // when it has written the rest), the answer ends, or kStreamSlice is spent (then the piece goes
  // through Pistache's queue, written after the other connections ready are served).
  void Stream(Connection& c, const PeerPtr& peer);
  void StreamTurn(size_t id);
  void QueueStreamTurn(Connection& c, const PeerPtr& peer);
  void StreamEnded(Connection& c, const PeerPtr& peer);
  void AnswerTurnCame(size_t id, const std::function<void()>& send);
  void SendMark(Connection& c, const PeerPtr& peer);
  void MarkWritten(size_t id);
  void AdjustReading(Connection& c, const PeerPtr& peer);
  void CloseAfterAnswers(Connection& c, const PeerPtr& peer, CloseReason reason);
  void Refuse(Connection& c, const PeerPtr& peer, const Refusal& r, const RequestHead& head,
              CloseReason reason);
  // Nothing more of the connection is read or handed; its waiting requests are dropped.
  void StopReading(Connection& c, CloseReason reason);
  // Resets the connection: the client gets an error, not an orderly end.
  static void Abort(const PeerPtr& peer);
  // Sends `bytes` after what is queued, then shuts the socket (`how`: SHUT_WR or SHUT_RDWR).
  void SendThenShut(const PeerPtr& peer, std::string bytes, int how);
  bool Evict(Clock::time_point now);
  // Forgets connections whose peers Pistache has dropped without onDisconnection.
  void Purge(Clock::time_point now);
  void Forget(std::unordered_map<size_t, Connection>::iterator it, CloseReason reason);

  // Inside transport()->flush() (onDisconnection): streamed answers' turns wait for its end.
  bool flushing_ = false;
  std::vector<size_t> turns_after_flush_;
  std::shared_ptr<Pistache::Rest::Router> router_;
  GuardLimits limits_;
  Metrics* metrics_;
  // The Http::Handler that parses and routes what the guard lets through (per reactor clone).
  std::shared_ptr<Pistache::Rest::Private::RouterHandler> inner_;
  // Made on the reactor's first input (the transport knows its thread only once it runs).
  std::shared_ptr<ReactorMailbox> mailbox_;
  // By Peer::getID(), which is never reused (descriptor numbers and addresses are). Kept here,
  // not as peer data: a peer's last reference can be dropped on Pistache's accept thread, and
  // what it owns would be destroyed there.
  std::unordered_map<size_t, Connection> connections_;
  std::list<size_t> recency_;  // connection ids, the least recently heard from first
  Clock::time_point next_purge_{};
};

}  // namespace orderlog::http
