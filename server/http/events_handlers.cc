// /events/ — the global feed.
#include "server/domain/order_json.h"
#include "server/http/api.h"
#include "server/http/json_out.h"
#include "server/http/streamed_answer.h"

namespace orderlog::http {

namespace {

// A page of the feed written as the client reads it, read from the log a batch at a time. It
// ends at the position that was committed when the page was asked for (as one read then would).
class FeedBody final : public BodySource {
 public:
  FeedBody(const domain::OrderService* svc, Position after, size_t limit)
      : svc_(svc), after_(after), left_(limit), end_(svc->position()) {}

  // The first batch, read before anything is answered: a failure here is answered as such.
  Status Start() { return Read(); }

  bool Next(std::string* out, size_t budget) override {
    const size_t start = out->size();
    if (!opened_) {
      out->push_back('[');
      opened_ = true;
    }
    while (out->size() - start < budget) {
      if (next_ == batch_.size()) {
        if (left_ == 0 || after_.value >= end_.value) break;
        if (Status s = Read(); !s.ok()) {
          broken_ = true;
          return false;
        }
        if (batch_.empty()) break;
      }
      if (wrote_one_) out->push_back(',');
      wrote_one_ = true;
      domain::AppendEventJson(batch_[next_++], /*with_order_id=*/true, out);
    }
    if (next_ < batch_.size() || (left_ > 0 && after_.value < end_.value)) return true;
    out->push_back(']');
    return false;
  }
  bool broken() const override { return broken_; }

 private:
  static constexpr size_t kBatch = 256;
  Status Read() {
    batch_.clear();
    next_ = 0;
    const size_t n =
        std::min<uint64_t>({left_, kBatch, end_.value - std::min(after_.value, end_.value)});
    if (n == 0) return Status::Ok();
    ORDERLOG_RETURN_IF_ERROR(svc_->Feed(after_, n, &batch_));
    if (!batch_.empty()) after_ = batch_.back().position;
    left_ -= batch_.size();
    if (batch_.size() < n) left_ = 0;  // the log ends before the page does
    return Status::Ok();
  }

  const domain::OrderService* svc_;
  Position after_;
  size_t left_;
  const Position end_;
  std::vector<domain::OrderEventRecord> batch_;
  size_t next_ = 0;
  bool opened_ = false;
  bool wrote_one_ = false;
  bool broken_ = false;
};

}  // namespace

void Api::Feed(const Request& req, Writer& rw, RequestContext& ctx) {
  constexpr uint64_t kDefaultLimit = 1000;
  constexpr uint64_t kMaxLimit = 10'000;
  uint64_t after = 0;
  uint64_t limit = kDefaultLimit;
  if (!CountParam(req, "after", &after, rw, ctx) || !CountParam(req, "limit", &limit, rw, ctx)) {
    return;
  }
  limit = std::min(limit, kMaxLimit);
  auto body = std::make_unique<FeedBody>(svc_, Position(after), limit);
  if (Status s = body->Start(); !s.ok()) {
    ReplyStatus(rw, ctx, s);
    return;
  }
  ReplyStreamed(rw, ctx, *metrics_, 200, {}, std::move(body));
}

}  // namespace orderlog::http
