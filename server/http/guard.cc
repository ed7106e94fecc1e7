#include "server/http/guard.h"

#include <pistache/peer.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

#include "server/http/json_out.h"

namespace orderlog::http {

namespace Http = Pistache::Http;

namespace {

// Pistache's Http::Handler::onInput is private, so the guard cannot call it on itself; it hands
// the bytes to an inner RouterHandler instead, which needs the transport the guard was given.
// Tcp::Handler::transport_ is private too: this is the standard-sanctioned way to name a private
// member (explicit instantiation is exempt from access checking, [temp.spec.general]/6).
struct TransportMember {
  using type = Pistache::Tcp::Transport* Pistache::Tcp::Handler::*;
  friend type Get(TransportMember);
};
template <typename Tag, typename Tag::type M>
struct Expose {
  friend typename Tag::type Get(Tag) { return M; }
};
template struct Expose<TransportMember, &Pistache::Tcp::Handler::transport_>;

// Connections whose peers are gone are forgotten at most this long after (Pistache's idle sweep
// drops peers without telling the handler).
constexpr auto kPurgeEvery = std::chrono::seconds(5);

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

GuardedRouterHandler::GuardedRouterHandler(std::shared_ptr<Pistache::Rest::Router> routes,
                                           GuardLimits limits, Metrics* metrics)
    : RouterHandler(routes),
      router_(std::move(routes)),
      limits_(std::move(limits)),
      metrics_(metrics),
      inner_(std::make_shared<Pistache::Rest::Private::RouterHandler>(router_)) {}

std::shared_ptr<Pistache::Tcp::Handler> GuardedRouterHandler::clone() const {
  auto copy = std::make_shared<GuardedRouterHandler>(*this);
  copy->inner_ = std::make_shared<Pistache::Rest::Private::RouterHandler>(router_);
  copy->inner_->setMaxRequestSize(getMaxRequestSize());
  copy->inner_->setMaxResponseSize(getMaxResponseSize());
  copy->inner_->setHeaderTimeout(getHeaderTimeout());
  copy->inner_->setBodyTimeout(getBodyTimeout());
  copy->mailbox_.reset();
  copy->connections_.clear();
  return copy;
}

void GuardedRouterHandler::Purge(std::chrono::steady_clock::time_point now) {
  const size_t dropped =
      std::erase_if(connections_, [](const auto& entry) { return entry.second.peer.expired(); });
  if (metrics_ != nullptr) {
    for (size_t i = 0; i < dropped; ++i) metrics_->ConnectionClosed();
  }
  next_purge_ = now + kPurgeEvery;
}

size_t GuardedRouterHandler::PistacheRequestLimit(const GuardLimits& l) {
  // Worst case the guard lets through: request line + headers + a chunked body of one-byte
  // chunks ("1\r\nX\r\n" = 6 bytes per body byte) + the last chunk and trailers.
  return l.head.max_request_line + l.head.max_header_section + 6 * l.max_body +
         l.head.max_header_section + 64;
}

void GuardedRouterHandler::onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  // The request parser, through the inner handler that uses it (Http::Handler::onConnection is
  // private, but public as the Tcp::Handler override). Bells get one too: the idle sweep reads it.
  static_cast<Pistache::Tcp::Handler*>(inner_.get())->onConnection(peer);
  if (ReactorMailbox::IsBell(*peer)) return;
  Connection& c = connections_.emplace(peer->getID(), Connection{peer, {}}).first->second;
  const size_t open = metrics_ != nullptr ? metrics_->ConnectionOpened() : connections_.size();
  if (open > limits_.max_connections) {  // the open ones keep being served
    if (metrics_ != nullptr) metrics_->ConnectionRefused();
    SendAndClose(peer, Refusal{503, "Service Unavailable", "Too many connections", ""}, c.frame);
    c.frame.state = Frame::State::kClosed;
  }
}

void GuardedRouterHandler::onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  // Pistache queues every send by the peer's descriptor number and writes it on a later turn of
  // the reactor. The peer's number is about to be closed, and a connection accepted in the same
  // turn can be given it: it would then receive this peer's queued answers. Writing the queue out
  // now, while every number still names the peer its answer was sent to, closes that window (and
  // costs nothing per request).
  // Not when Pistache's timeout sweep may have queued a 408 for this peer (its request has been
  // waiting longer than a timeout; sending the 408 marks the peer idle, so only the time tells):
  // that write's completion removes the peer, while Pistache's caller still holds a reference
  // into its peer table. Such a peer is being closed by Pistache itself anyway.
  const auto since = std::chrono::steady_clock::now() - Http::Handler::getParser(peer)->time();
  if (since < std::min(limits_.header_timeout, limits_.body_timeout)) transport()->flush();
  if (connections_.erase(peer->getID()) != 0 && metrics_ != nullptr) metrics_->ConnectionClosed();
  RouterHandler::onDisconnection(peer);
}

void GuardedRouterHandler::onInput(const char* buffer, size_t len,
                                   const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  const auto now = std::chrono::steady_clock::now();
  if (!mailbox_)
    mailbox_ = std::make_shared<ReactorMailbox>(transport(), limits_.keepalive_timeout);
  mailbox_->Tend(now);
  if (now >= next_purge_) Purge(now);
  const auto it = connections_.find(peer->getID());
  if (it == connections_.end()) {  // only bells are not connections
    mailbox_->RunPosted();
  } else {
    Frame& f = it->second.frame;
    if (f.state == Frame::State::kClosed) return;  // refused: nothing more is read
    if (auto refusal = Scan(f, buffer, len)) {
      SendAndClose(peer, *refusal, f);
      f.state = Frame::State::kClosed;
    } else {
      if (f.send_continue) {  // Expect: 100-continue, and nothing refused the request
        f.send_continue = false;
        SendContinue(peer);
      }
      inner_.get()->*Get(TransportMember{}) = transport();
      static_cast<Pistache::Tcp::Handler*>(inner_.get())->onInput(buffer, len, peer);
    }
  }
}

std::optional<GuardedRouterHandler::Refusal> GuardedRouterHandler::Scan(Frame& f, const char* p,
                                                                        size_t n) {
  using S = Frame::State;
  size_t i = 0;
  while (i < n) {
    switch (f.state) {
      case S::kHead: {
        const size_t before = f.head.size();
        f.head.append(p + i, n - i);
        const size_t end = HeadEnd(f.head, before >= 2 ? before - 2 : 0);
        const size_t line_end = f.head.find('\n');
        if (line_end == std::string::npos && f.head.size() > limits_.head.max_request_line) {
          return Refuse(f, 414, "URI Too Long", "Request line too long");
        }
        if (end == std::string::npos) {
          if (f.head.size() > limits_.head.max_request_line + limits_.head.max_header_section) {
            return Refuse(f, 431, "Request Header Fields Too Large", "Request headers too large");
          }
          return std::nullopt;  // the head continues in the next read
        }
        const size_t consumed = end - before;  // bytes of this read that were head
        f.head.resize(end);
        if (auto r = OnHead(f)) return r;
        f.head.clear();
        i += consumed;
        break;
      }
      case S::kBody: {
        const uint64_t take = std::min<uint64_t>(f.body_left, n - i);
        f.body_left -= take;
        i += take;
        if (f.body_left == 0) f.state = S::kHead;
        break;
      }
      case S::kChunkSize:
      case S::kTrailer: {
        const char c = p[i++];
        if (c != '\n') {
          if (c != '\r') f.line.push_back(c);
          if (f.line.size() > 1024) return Refuse(f, 400, "Bad Request", "Malformed chunked body");
          break;
        }
        if (f.state == S::kTrailer) {
          if (f.line.empty()) f.state = S::kHead;  // end of the chunked message
          f.line.clear();
          break;
        }
        const std::string_view hex = Trim(std::string_view(f.line).substr(0, f.line.find(';')));
        uint64_t size = 0;
        auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
        if (hex.empty() || ec != std::errc() || ptr != hex.data() + hex.size()) {
          return Refuse(f, 400, "Bad Request", "Malformed chunk size");
        }
        f.line.clear();
        f.chunked_total += size;
        if (size > limits_.max_body || f.chunked_total > limits_.max_body) {
          return Refuse(f, 413, "Payload Too Large",
                        "Request body larger than " + std::to_string(limits_.max_body) + " bytes");
        }
        if (size == 0) {
          f.state = S::kTrailer;
        } else {
          f.body_left = size;
          f.state = S::kChunkData;
        }
        break;
      }
      case S::kChunkData: {
        const uint64_t take = std::min<uint64_t>(f.body_left, n - i);
        f.body_left -= take;
        i += take;
        if (f.body_left == 0) {
          f.state = S::kChunkCrlf;
          f.body_left = 2;
        }
        break;
      }
      case S::kChunkCrlf: {
        ++i;
        if (--f.body_left == 0) f.state = S::kChunkSize;
        break;
      }
      case S::kClosed:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<GuardedRouterHandler::Refusal> GuardedRouterHandler::OnHead(Frame& f) {
  const auto error = ParseRequestHead(f.head, limits_.head, &f.request);
  const RequestHead& head = f.request;
  if (error) return Refuse(f, error->code, error->reason, error->detail);
  if (head.content_length && *head.content_length > limits_.max_body) {
    return Refuse(f, 413, "Payload Too Large",
                  "Request body larger than " + std::to_string(limits_.max_body) + " bytes");
  }
  const bool body = head.chunked || (head.content_length && *head.content_length > 0);
  // The route, token and size checks above come first: a refused request's body is never asked
  // for (RFC 9110 §10.1.1).
  if (head.expect_continue && body) {
    const Refusal early = Refuse(f, 0, "", "");
    if (early.code != 0) return early;
    f.send_continue = true;
  }
  if (head.chunked) {
    f.state = Frame::State::kChunkSize;
    f.chunked_total = 0;
  } else if (head.content_length && *head.content_length > 0) {
    f.state = Frame::State::kBody;
    f.body_left = *head.content_length;
  } else {
    f.state = Frame::State::kHead;
  }
  return std::nullopt;
}

// The contract's order holds for refused requests too: 404/405, then 401, then the refusal.
GuardedRouterHandler::Refusal GuardedRouterHandler::Refuse(const Frame& f, int code,
                                                           std::string reason, std::string detail) {
  const RequestHead& head = f.request;
  if (!head.path.empty()) {  // the request line was understood
    const Classified c = Classify(head.method, head.path);
    if (c.route == RouteId::kUnmatched) return {404, "Not Found", "Not Found", ""};
    if (!c.method_allowed) return {405, "Method Not Allowed", "Method Not Allowed", c.allow};
    if (!limits_.auth_token.empty() && c.route != RouteId::kHealth &&
        head.authorization != "Bearer " + limits_.auth_token) {
      return {401, "Unauthorized", "Not authenticated", ""};
    }
  }
  return {code, std::move(reason), std::move(detail), ""};
}

void GuardedRouterHandler::SendContinue(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  try {
    peer->send(Pistache::RawBuffer(std::string(kContinue), kContinue.size()))
        .then([](ssize_t) {}, [](std::exception_ptr) {});
  } catch (const std::exception&) {
    // The client has gone; the request's own answer meets the same fate.
  }
}

void GuardedRouterHandler::SendAndClose(const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                                        const Refusal& r, const Frame& f) {
  const std::string body = ErrorJson(r.detail);
  std::string resp =
      "HTTP/1.1 " + std::to_string(r.code) + " " + r.reason +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n";
  if (!r.allow.empty()) resp += "Allow: " + r.allow + "\r\n";
  if (r.code == 401) resp += "WWW-Authenticate: Bearer\r\n";
  resp += "\r\n";
  if (f.request.method != "HEAD") resp += body;  // a HEAD answer has no body, only its length
  if (metrics_ != nullptr) {
    const RequestHead& head = f.request;
    metrics_->CountRequest(Classify(head.method, head.path).route,
                           head.method.empty() ? "?" : head.method, r.code,
                           std::chrono::nanoseconds(0));
  }
  // Close once the answer is written: the rest of the refused request is never read.
  std::weak_ptr<Pistache::Tcp::Peer> weak = peer;
  auto close = [weak] {
    if (auto p = weak.lock()) ::shutdown(p->fd(), SHUT_RDWR);
  };
  const size_t size = resp.size();
  try {
    peer->send(Pistache::RawBuffer(std::move(resp), size))
        .then([close](ssize_t) { close(); }, [close](std::exception_ptr) { close(); });
  } catch (const std::exception&) {
    close();
  }
}

}  // namespace orderlog::http
