#include "server/domain/order_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "server/domain/snapshot.h"
#include "server/domain/text.h"

namespace orderlog::domain {

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

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

template <typename T>
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<T>> value;
  void Set(const Result<T>& r) {
    std::lock_guard lk(mu);
    value.emplace(r);
    cv.notify_one();
  }
  Result<T> Wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return value.has_value(); });
    return std::move(*value);
  }
};

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

void OrderService::Info(const std::string& line) const {
  if (options_.info) {
    options_.info(line);
  } else {
    std::fprintf(stderr, "orderlog: %s\n", line.c_str());
  }
}

Result<std::unique_ptr<OrderService>> OrderService::Open(const ServiceOptions& options,
                                                         StartupReport* report) {
  std::unique_ptr<OrderService> svc(new OrderService(options));
  StartupReport local;
  ORDERLOG_RETURN_IF_ERROR(svc->Start(report != nullptr ? report : &local));
  return svc;
}

Status OrderService::Start(StartupReport* report) {
  const auto t0 = Clock::now();
  Env* env = options_.log.env != nullptr ? options_.log.env : Env::Default();
  const auto snapshots =
      options_.load_snapshot ? ListSnapshots(env, options_.data_dir) : std::vector<SnapshotInfo>{};
  // Loading the snapshot and opening the log are independent: do them on both cores.
  struct Attempt {
    size_t index;
    std::unique_ptr<ReadModel> model;
    Position position;
    double seconds = 0;
  };
  std::vector<std::pair<size_t, std::string>> refused;  // snapshot index, why
  auto try_load = [&](size_t from, Position limit) -> std::optional<Attempt> {
    for (size_t i = from; i < snapshots.size(); ++i) {
      const SnapshotInfo& snap = snapshots[i];
      if (!snap.status.ok()) {
        refused.emplace_back(i, snap.status.message());
        continue;
      }
      if (snap.position > limit) {
        refused.emplace_back(i, "it covers position " + std::to_string(snap.position.value) +
                                    " but the log ends at " + std::to_string(limit.value));
        continue;
      }
      const auto t_load = Clock::now();
      auto fresh = std::make_unique<ReadModel>();
      auto loaded = LoadSnapshot(env, snap.path, fresh.get());
      if (loaded.ok()) return Attempt{i, std::move(fresh), *loaded, SecondsSince(t_load)};
      refused.emplace_back(i, loaded.status().message());
    }
    return std::nullopt;
  };
  std::optional<Attempt> chosen;
  std::thread loader([&] { chosen = try_load(0, Position(UINT64_MAX)); });
  auto log = Log::Open(options_.data_dir, options_.log);
  loader.join();
  if (!log.ok()) return log.status();
  log_ = std::move(log).value();
  const Position end = log_->committed_position();
  if (chosen && chosen->position > end) {  // rare: the log lost its tail; try older ones
    refused.emplace_back(chosen->index, "it covers position " +
                                            std::to_string(chosen->position.value) +
                                            " but the log ends at " + std::to_string(end.value));
    chosen = try_load(chosen->index + 1, end);
  }
  for (const auto& [i, why] : refused) {
    Info("skipping snapshot " + snapshots[i].path + ": " + why);
    report->skipped_snapshots.push_back(snapshots[i].path + ": " + why);
  }
  if (chosen) {
    model_ = std::move(chosen->model);
    report->snapshot_position = chosen->position;
    report->snapshot_path = snapshots[chosen->index].path;
    report->snapshot_load_seconds = chosen->seconds;
  }
  last_snapshot_ = report->snapshot_position.value;

  // Replay the tail of the log.
  const auto t_replay = Clock::now();
  auto last_progress = t_replay;
  const uint64_t to_replay = end.value - model_->position().value;
  uint64_t replayed = 0;
  ORDERLOG_RETURN_IF_ERROR(model_->Replay(*log_, [&](uint64_t n) {
    replayed = n;
    if (Clock::now() - last_progress < std::chrono::seconds(1)) return;
    last_progress = Clock::now();
    char buf[160];
    std::snprintf(buf, sizeof(buf), "replaying: %llu of %llu events, %.0f events/s",
                  static_cast<unsigned long long>(n), static_cast<unsigned long long>(to_replay),
                  static_cast<double>(n) / SecondsSince(t_replay));
    Info(buf);
  }));
  replayed = model_->position().value - report->snapshot_position.value;
  report->events_replayed = replayed;
  report->replay_seconds = SecondsSince(t_replay);
  report->total_seconds = SecondsSince(t0);
  if (options_.snapshot_every > 0) next_snapshot_at_ = NextSnapshotAfter(model_->position());
  if (options_.log.read_only) return Status::Ok();  // inspection: no snapshots, no commands
  snap_thread_ = std::thread([this] { SnapshotLoop(); });
  return Status::Ok();
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
                    [this, id, id_text, key, event = std::move(event),
                     done = std::move(done)](const Result<AppendResult>& r) {
                      if (r.ok()) {
                        Status applied = model_->Apply(r->position, id_text, event,
                                                       r->version.value, r->timestamp_ms);
                        if (!applied.ok())
                          Info("read model refused its own event: " + applied.ToString());
                      }
                      std::vector<CreateCallback> followers;
                      {
                        std::lock_guard g(decide_mu_);
                        if (!key.empty()) {
                          auto it = pending_keys_.find(key);
                          followers = std::move(it->second.followers);
                          pending_keys_.erase(it);
                        }
                      }
                      Settle(id_text);
                      if (r.ok()) {
                        Deliver(done, Result<CreateResult>(CreateResult{id, false}));
                        for (auto& f : followers)
                          Deliver(f, Result<CreateResult>(CreateResult{id, true}));
                        AfterCommit(r->position);
                      } else {
                        Deliver(done, Result<CreateResult>(r.status()));
                        for (auto& f : followers) Deliver(f, Result<CreateResult>(r.status()));
                      }
                    });
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
  log_->AppendAsync(
      AppendView{cmd.order_id, ExpectedVersion::Exact(StreamVersion(version)),
                 static_cast<uint16_t>(EventType::kOrderStatusChanged), payload},
      [this, id = cmd.order_id, event, done = std::move(done)](const Result<AppendResult>& r) {
        if (r.ok()) {
          Status applied = model_->Apply(r->position, id, event, r->version.value, r->timestamp_ms);
          if (!applied.ok()) Info("read model refused its own event: " + applied.ToString());
        }
        Settle(id);
        if (r.ok()) {
          Deliver(done, Result<ChangeResult>(ChangeResult{r->version.value, false}));
          AfterCommit(r->position);
        } else {
          Deliver(done, Result<ChangeResult>(r.status()));
        }
      });
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
  auto w = std::make_shared<Waiter<CreateResult>>();
  Create(std::move(cmd), [w](const Result<CreateResult>& r) { w->Set(r); });
  return w->Wait();
}

Result<ChangeResult> OrderService::ChangeStatusAndWait(ChangeStatusCommand cmd) {
  auto w = std::make_shared<Waiter<ChangeResult>>();
  ChangeStatus(std::move(cmd), [w](const Result<ChangeResult>& r) { w->Set(r); });
  return w->Wait();
}

// ---------------------------------------------------------------------------------------------
// Queries that read the log

Result<OrderEventRecord> ToOrderEventRecord(const RecordView& rec) {
  auto decoded = DecodeEvent(rec.type, rec.payload);
  if (!decoded.ok()) {
    return Status::Corruption("position " + std::to_string(rec.position.value) + ": " +
                              decoded.status().message());
  }
  return OrderEventRecord{
      rec.position,     rec.version.value,       static_cast<EventType>(rec.type),
      rec.timestamp_ms, std::string(rec.stream), std::move(decoded).value()};
}

namespace {
Result<OrderEventRecord> ToRecord(const Event& ev) {
  return ToOrderEventRecord(
      RecordView{ev.position, ev.version, ev.type, ev.timestamp_ms, ev.stream, ev.payload, 0});
}
}  // namespace

Result<std::vector<OrderEventRecord>> OrderService::ReadOrder(std::string_view order_id) const {
  if (!OrderId::Parse(order_id)) return Status::NotFound("Order not found");
  std::vector<Event> events;
  ORDERLOG_RETURN_IF_ERROR(log_->ReadStream(order_id, StreamVersion(1), SIZE_MAX, &events));
  if (events.empty()) return Status::NotFound("Order not found");
  std::vector<OrderEventRecord> out;
  out.reserve(events.size());
  for (const auto& ev : events) {
    auto rec = ToRecord(ev);
    if (!rec.ok()) return rec.status();
    out.push_back(std::move(rec).value());
  }
  return out;
}

Status OrderService::History(std::string_view order_id, std::vector<OrderEventRecord>* out) const {
  auto events = ReadOrder(order_id);
  if (!events.ok()) return events.status();
  *out = std::move(events).value();
  return Status::Ok();
}

Status OrderService::Feed(Position after, size_t limit, std::vector<OrderEventRecord>* out) const {
  std::vector<Event> events;
  ORDERLOG_RETURN_IF_ERROR(log_->ReadRange(after, limit, &events));
  for (const auto& ev : events) {
    auto rec = ToRecord(ev);
    if (!rec.ok()) return rec.status();
    out->push_back(std::move(rec).value());
  }
  return Status::Ok();
}

Result<OrderState> OrderService::GetAtVersion(std::string_view order_id, uint64_t n) const {
  auto events = ReadOrder(order_id);
  if (!events.ok()) return events.status();
  if (n == 0 || n > events->size()) {
    return Status::NotFound("Order " + std::string(order_id) + " has no version " +
                            std::to_string(n));
  }
  OrderState state;
  state.id = *OrderId::Parse(order_id);
  for (uint64_t i = 0; i < n; ++i) {
    const auto& e = (*events)[i];
    ORDERLOG_RETURN_IF_ERROR(ApplyEvent(&state, e.event, e.version, e.timestamp_ms));
  }
  return state;
}

Result<OrderState> OrderService::GetAsOf(std::string_view order_id, int64_t unix_ms) const {
  auto events = ReadOrder(order_id);
  if (!events.ok()) return events.status();
  OrderState state;
  state.id = *OrderId::Parse(order_id);
  for (const auto& e : *events) {
    if (e.timestamp_ms > unix_ms) break;
    ORDERLOG_RETURN_IF_ERROR(ApplyEvent(&state, e.event, e.version, e.timestamp_ms));
  }
  if (state.version == 0) return Status::NotFound("Order did not exist yet at that time");
  return state;
}

// ---------------------------------------------------------------------------------------------
// Snapshots

// Every snapshot_every events, or every order_count/4 events once the model is larger than that:
// a snapshot's cost grows with the model, so a fixed interval would have a server with millions of
// orders writing snapshots back to back (the soak showed p99 climbing from 4 to 18 ms as the
// snapshot thread took a core). A quarter of the orders keeps snapshot work a small, constant
// share of the writes, and a restart replays at most that many events after loading the snapshot
// (about a third of the snapshot's own load time).
uint64_t OrderService::NextSnapshotAfter(Position position) const {
  return position.value + std::max<uint64_t>(options_.snapshot_every, model_->order_count() / 4);
}

void OrderService::AfterCommit(Position position) {
  const uint64_t due = next_snapshot_at_.load(std::memory_order_relaxed);
  if (due == 0 || position.value < due) return;
  std::lock_guard lk(snap_mu_);
  if (snap_running_ || snap_request_) {  // one at a time: this one once it is done
    snap_due_while_busy_ = true;
    return;
  }
  next_snapshot_at_ = NextSnapshotAfter(position);
  snap_request_ = model_->Freeze();  // O(chunks): appends are not held up
  snap_cv_.notify_one();
}

void OrderService::SnapshotLoop() {
  std::unique_lock lk(snap_mu_);
  for (;;) {
    snap_cv_.wait(lk, [&] { return snap_stop_ || snap_request_ != nullptr; });
    if (!snap_request_) break;
    auto frozen = std::move(snap_request_);
    snap_running_ = true;
    lk.unlock();
    Status s = WriteSnapshotNow(*frozen);
    if (!s.ok()) Info("snapshot failed: " + s.ToString());
    frozen.reset();
    lk.lock();
    snap_running_ = false;
    if (snap_due_while_busy_ && !snap_stop_) {
      snap_due_while_busy_ = false;
      const Position now = model_->position();
      next_snapshot_at_ = NextSnapshotAfter(now);
      snap_request_ = model_->Freeze();
    }
  }
}

Status OrderService::WriteSnapshotNow(const ReadModel::Frozen& frozen) {
  std::lock_guard w(snap_write_mu_);
  if (frozen.position().value <= last_snapshot_.load()) return Status::Ok();  // nothing new
  Env* env = options_.log.env != nullptr ? options_.log.env : Env::Default();
  auto written = WriteSnapshot(env, options_.data_dir, frozen);
  if (!written.ok()) return written.status();
  last_snapshot_ = frozen.position().value;
  return PruneSnapshots(env, options_.data_dir);
}

Status OrderService::TakeSnapshot() {
  auto frozen = model_->Freeze();
  return WriteSnapshotNow(*frozen);
}

Status OrderService::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  {
    std::lock_guard g(decide_mu_);
    closing_ = true;  // no command reaches the log after this
  }
  Status log_status = log_ ? log_->Close() : Status::Ok();  // completes everything in flight
  if (snap_thread_.joinable()) {
    {
      std::lock_guard lk(snap_mu_);
      snap_stop_ = true;
    }
    snap_cv_.notify_one();
    snap_thread_.join();
  }
  if (log_ && options_.snapshot_on_close && !options_.log.read_only && log_status.ok()) {
    Status s = TakeSnapshot();
    if (!s.ok()) Info("closing snapshot failed: " + s.ToString());
  }
  return log_status;
}

}  // namespace orderlog::domain
