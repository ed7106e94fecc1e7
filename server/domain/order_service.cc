#include "server/domain/order_service.h"

#include <algorithm>
#include <cstdio>

#include "engine/waiter.h"
#include "server/domain/snapshot.h"
#include "server/domain/text.h"

namespace orderlog::domain {

namespace {

Status CheckField(const char* name, std::string_view value) {
  if (value.empty() || value.size() > kMaxFieldBytes) {
    return Status::InvalidArgument(std::string(name) + " must be 1 to " +
                                   std::to_string(kMaxFieldBytes) + " bytes of UTF-8");
  }
  if (!IsValidUtf8(value, /*reject_controls=*/true)) {
    return Status::InvalidArgument(std::string(name) +
                                   " must be valid UTF-8 without control characters");
  }
  return Status::Ok();
}

bool SameBody(const CreateCommand& a, const std::string& customer, const std::string& product,
              uint32_t quantity) {
  return a.customer_id == customer && a.product == product &&
         static_cast<uint64_t>(a.quantity) == quantity;
}

}  // namespace

Status ValidateCreate(const CreateCommand& cmd) {
  ORDERLOG_RETURN_IF_ERROR(CheckField("customer_id", cmd.customer_id));
  ORDERLOG_RETURN_IF_ERROR(CheckField("product", cmd.product));
  if (cmd.quantity < kMinQuantity || cmd.quantity > kMaxQuantity) {
    return Status::InvalidArgument("quantity must be an integer from " +
                                   std::to_string(kMinQuantity) + " to " +
                                   std::to_string(kMaxQuantity));
  }
  return Status::Ok();
}

bool IfMatch::Matches(uint64_t v) const {
  return any || std::find(versions.begin(), versions.end(), v) != versions.end();
}

OrderService::OrderService(const ServiceOptions& options)
    : options_(options), model_(std::make_unique<ReadModel>()) {}

OrderService::~OrderService() {
  (void)Close();
}

// ---------------------------------------------------------------------------------------------
// Commands

void OrderService::Create(CreateCommand cmd, CreateCallback done) {
  Status valid = ValidateCreate(cmd);
  if (!valid.ok()) {
    done(valid);
    return;
  }
  std::unique_lock lk(decide_mu_);
  if (closing_) {  // after Close the log would answer inline, under this lock
    lk.unlock();
    done(Status::Closed("the service is shutting down"));
    return;
  }
  const std::string key = cmd.idempotency_key;
  if (!key.empty()) {
    if (auto it = pending_keys_.find(key); it != pending_keys_.end()) {
      const PendingKey& p = it->second;
      if (!SameBody(cmd, p.body.customer_id, p.body.product,
                    static_cast<uint32_t>(p.body.quantity))) {
        lk.unlock();
        done(Status::Conflict("Idempotency-Key was already used with a different request body"));
        return;
      }
      it->second.followers.push_back(std::move(done));  // answered when the first one is
      return;
    }
    if (auto k = model_->FindKey(key)) {
      lk.unlock();
      if (!SameBody(cmd, k->customer_id, k->product, k->quantity)) {
        done(Status::Conflict("Idempotency-Key was already used with a different request body"));
      } else {
        done(CreateResult{k->id, true});
      }
      return;
    }
  }
  const OrderId id = OrderId::Random();
  const std::string id_text = id.ToString();
  OrderCreated event{cmd.customer_id, cmd.product, static_cast<uint32_t>(cmd.quantity), key};
  std::string payload = EncodeEvent(event);
  if (!key.empty()) pending_keys_.emplace(key, PendingKey{cmd, id, {}});
  pending_[id_text] = PendingOrder{OrderStatus::kProcessing, 1, 1};
  log_->AppendAsync(AppendView{id_text, ExpectedVersion::NoStream(),
                               static_cast<uint16_t>(EventType::kOrderCreated), payload},
                    [this, c = CreateInFlight{id, id_text, key, std::move(event), std::move(done)}](
                        const Result<AppendResult>& r) { CompleteCreate(c, r); });
}

void OrderService::CompleteCreate(const CreateInFlight& c, const Result<AppendResult>& r) {
  if (r.ok()) {
    Status applied =
        model_->Apply(r->position, c.id_text, c.event, r->version.value, r->timestamp_ms);
    if (!applied.ok()) Info("read model refused its own event: " + applied.ToString());
  }
  std::vector<CreateCallback> followers;  // later creates with the same idempotency key
  {
    std::lock_guard g(decide_mu_);
    if (!c.key.empty()) {
      auto it = pending_keys_.find(c.key);
      followers = std::move(it->second.followers);
      pending_keys_.erase(it);
    }
  }
  Settle(c.id_text);
  if (!r.ok()) {
    Deliver(c.done, Result<CreateResult>(r.status()));
    for (auto& f : followers) Deliver(f, Result<CreateResult>(r.status()));
    return;
  }
  Deliver(c.done, Result<CreateResult>(CreateResult{c.id, false}));
  for (auto& f : followers) Deliver(f, Result<CreateResult>(CreateResult{c.id, true}));
  snapshots_->AfterCommit(r->position);
}

void OrderService::ChangeStatus(ChangeStatusCommand cmd, ChangeCallback done) {
  if (!OrderId::Parse(cmd.order_id)) {
    done(Status::NotFound("Order not found"));
    return;
  }
  std::unique_lock lk(decide_mu_);
  if (closing_) {
    lk.unlock();
    done(Status::Closed("the service is shutting down"));
    return;
  }
  OrderStatus status;
  uint64_t version;
  if (auto it = pending_.find(cmd.order_id); it != pending_.end()) {
    status = it->second.status;
    version = it->second.version;
  } else if (auto state = model_->Get(cmd.order_id)) {
    status = state->status;
    version = state->version;
  } else {
    lk.unlock();
    done(Status::NotFound("Order not found"));
    return;
  }
  if (cmd.if_match && !cmd.if_match->Matches(version)) {
    lk.unlock();
    done(Status::FailedPrecondition("If-Match does not match: the order is at version " +
                                    std::to_string(version)));
    return;
  }
  if (status == cmd.new_status) {
    lk.unlock();
    done(ChangeResult{version, true});
    return;
  }
  if (!CanTransition(status, cmd.new_status)) {
    lk.unlock();
    done(Status::Conflict(std::string("Cannot change status from ") + StatusName(status) + " to " +
                          StatusName(cmd.new_status) + " (current status: " + StatusName(status) +
                          ")"));
    return;
  }
  OrderStatusChanged event{status, cmd.new_status};
  auto& p = pending_[cmd.order_id];
  p.status = cmd.new_status;
  p.version = version + 1;
  ++p.inflight;
  const std::string payload = EncodeEvent(event);
  log_->AppendAsync(AppendView{cmd.order_id, ExpectedVersion::Exact(StreamVersion(version)),
                               static_cast<uint16_t>(EventType::kOrderStatusChanged), payload},
                    [this, c = ChangeInFlight{cmd.order_id, event, std::move(done)}](
                        const Result<AppendResult>& r) { CompleteChange(c, r); });
}

void OrderService::CompleteChange(const ChangeInFlight& c, const Result<AppendResult>& r) {
  if (r.ok()) {
    Status applied = model_->Apply(r->position, c.id, c.event, r->version.value, r->timestamp_ms);
    if (!applied.ok()) Info("read model refused its own event: " + applied.ToString());
  }
  Settle(c.id);
  if (!r.ok()) {
    Deliver(c.done, Result<ChangeResult>(r.status()));
    return;
  }
  Deliver(c.done, Result<ChangeResult>(ChangeResult{r->version.value, false}));
  snapshots_->AfterCommit(r->position);
}

// Runs a caller's completion on the log's writer thread; an exception from it must not take the
// writer (and so the process) down.
template <typename T>
void OrderService::Deliver(const std::function<void(const Result<T>&)>& done, const Result<T>& r) {
  try {
    done(r);
  } catch (const std::exception& e) {
    Info(std::string("a command completion threw: ") + e.what());
  } catch (...) {
    Info("a command completion threw");
  }
}

void OrderService::Settle(const std::string& order_id) {
  std::lock_guard g(decide_mu_);
  auto it = pending_.find(order_id);
  if (it != pending_.end() && --it->second.inflight == 0) pending_.erase(it);
}

Result<CreateResult> OrderService::CreateAndWait(CreateCommand cmd) {
  auto w = std::make_shared<Waiter<Result<CreateResult>>>();
  Create(std::move(cmd), [w](const Result<CreateResult>& r) { w->Set(r); });
  return w->Wait();
}

Result<ChangeResult> OrderService::ChangeStatusAndWait(ChangeStatusCommand cmd) {
  auto w = std::make_shared<Waiter<Result<ChangeResult>>>();
  ChangeStatus(std::move(cmd), [w](const Result<ChangeResult>& r) { w->Set(r); });
  return w->Wait();
}

Status OrderService::TakeSnapshot() {
  return snapshots_->TakeNow();
}

Status OrderService::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  {
    std::lock_guard g(decide_mu_);
    closing_ = true;  // no command reaches the log after this
  }
  Status log_status = log_ ? log_->Close() : Status::Ok();  // completes everything in flight
  if (snapshots_) snapshots_->Stop();
  if (snapshots_ && options_.snapshot_on_close && !options_.log.read_only && log_status.ok()) {
    Status s = snapshots_->TakeNow();
    if (!s.ok()) Info("closing snapshot failed: " + s.ToString());
  }
  return log_status;
}

}  // namespace orderlog::domain
