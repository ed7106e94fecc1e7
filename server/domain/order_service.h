// The order service: the write side (commands decided against the current state and appended to
// the log; order_service.cc), the read side (the read model; history, feed and time travel read
// the log: order_history.cc), start-up from the newest valid snapshot plus the tail of the log
// (order_startup.cc), and periodic snapshots (snapshot_scheduler.h). The HTTP layer and the
// tools sit on top of this; it knows nothing of HTTP.
//
// Threads: every method may be called from any thread. Command completions run on the log's
// writer thread, after the event is durable (per the durability mode) and folded into the read
// model, so a client told "done" sees its change in its next query.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/log.h"
#include "server/domain/events.h"
#include "server/domain/order.h"
#include "server/domain/read_model.h"
#include "server/domain/snapshot_scheduler.h"

namespace orderlog::domain {

struct ServiceOptions {
  std::string data_dir = "./data";
  // log.read_only: open for inspection (no lock, nothing written, no snapshots; commands fail
  // with kReadOnly) — the state as of the open.
  LogOptions log;
  // Events between snapshots (0: only at shutdown); with more than 4 * snapshot_every orders, a
  // quarter of the order count instead, so snapshot work stays proportional to the writes.
  uint64_t snapshot_every = 100'000;
  bool snapshot_on_close = true;
  bool load_snapshot = true;  // false: ignore snapshots at start-up, replay the whole log
  // Start-up and snapshot messages (progress of long replays, skipped snapshots). Default: stderr.
  std::function<void(const std::string&)> info;
};

struct StartupReport {
  Position snapshot_position;  // 0: no snapshot used
  std::string snapshot_path;
  std::vector<std::string> skipped_snapshots;  // each with the reason
  uint64_t events_replayed = 0;
  double snapshot_load_seconds = 0;
  double replay_seconds = 0;
  double total_seconds = 0;
};

struct CreateCommand {
  std::string customer_id;
  std::string product;
  int64_t quantity = 0;
  std::string idempotency_key;  // empty: none
};

struct CreateResult {
  OrderId id;
  bool repeated = false;  // an earlier create with the same idempotency key answered
};

// If-Match: "*" or a list of versions.
struct IfMatch {
  bool any = false;
  std::vector<uint64_t> versions;
  bool Matches(uint64_t v) const;
};

struct ChangeStatusCommand {
  std::string order_id;
  OrderStatus new_status = OrderStatus::kProcessing;
  std::optional<IfMatch> if_match;
};

struct ChangeResult {
  uint64_t version = 0;
  bool noop = false;  // the order already had that status: no event
};

// One event of the log as the order domain sees it.
struct OrderEventRecord {
  Position position;
  uint64_t version = 0;
  EventType type = EventType::kOrderCreated;
  int64_t timestamp_ms = 0;
  std::string order_id;
  OrderEvent event;
};

// Decodes a record of the log as an order event; Corruption (naming the position) if it is not one.
Result<OrderEventRecord> ToOrderEventRecord(const RecordView& rec);

// Checks the fields of a create against the API's rules (sizes, control characters, UTF-8,
// quantity range); InvalidArgument naming the field otherwise.
Status ValidateCreate(const CreateCommand& cmd);

class OrderService {
 public:
  static Result<std::unique_ptr<OrderService>> Open(const ServiceOptions& options,
                                                    StartupReport* report = nullptr);
  ~OrderService();
  OrderService(const OrderService&) = delete;
  OrderService& operator=(const OrderService&) = delete;

  using CreateCallback = std::function<void(const Result<CreateResult>&)>;
  using ChangeCallback = std::function<void(const Result<ChangeResult>&)>;

  // Errors: InvalidArgument (bad fields), Conflict (idempotency key reused with another body),
  // ReadOnly / NoSpace / Closed (the log cannot take writes).
  void Create(CreateCommand cmd, CreateCallback done);
  // Errors: NotFound, FailedPrecondition (If-Match), Conflict (illegal transition; the message
  // names the current status), ReadOnly / NoSpace / Closed.
  void ChangeStatus(ChangeStatusCommand cmd, ChangeCallback done);
  Result<CreateResult> CreateAndWait(CreateCommand cmd);
  Result<ChangeResult> ChangeStatusAndWait(ChangeStatusCommand cmd);

  std::optional<OrderState> Get(std::string_view order_id) const { return model_->Get(order_id); }
  // The state after the order's first n events; NotFound if it has fewer.
  Result<OrderState> GetAtVersion(std::string_view order_id, uint64_t n) const;
  // The state as of an instant (inclusive); NotFound if the order did not exist yet.
  Result<OrderState> GetAsOf(std::string_view order_id, int64_t unix_ms) const;
  std::vector<OrderState> List(const ListFilter& filter, size_t offset, size_t limit,
                               size_t* total) const {
    return model_->List(filter, offset, limit, total);
  }
  // The order's events; NotFound for an unknown order.
  Status History(std::string_view order_id, std::vector<OrderEventRecord>* out) const;
  // Events with positions > after, at most limit, in position order.
  Status Feed(Position after, size_t limit, std::vector<OrderEventRecord>* out) const;

  Position position() const { return log_->committed_position(); }
  size_t order_count() const { return model_->order_count(); }
  Status health() const { return log_->health(); }
  Position last_snapshot_position() const { return snapshots_->last(); }
  const Log& log() const { return *log_; }
  const ReadModel& model() const { return *model_; }

  // Writes a snapshot now (waits for it).
  Status TakeSnapshot();
  // Finishes in-flight commands, takes the closing snapshot, closes the log. Idempotent.
  Status Close();

 private:
  struct PendingOrder {
    OrderStatus status;
    uint64_t version;
    int inflight;
  };
  struct PendingKey {
    CreateCommand body;
    OrderId id;
    std::vector<CreateCallback> followers;
  };
  // A create whose append is in flight: what its completion needs.
  struct CreateInFlight {
    OrderId id;
    std::string id_text;
    std::string key;  // the idempotency key, empty for none
    OrderCreated event;
    CreateCallback done;
  };
  // A status change whose append is in flight.
  struct ChangeInFlight {
    std::string id;
    OrderStatusChanged event;
    ChangeCallback done;
  };

  explicit OrderService(const ServiceOptions& options);
  // order_startup.cc
  Status Start(StartupReport* report);
  void Info(const std::string& line) const;
  // The completions, on the log's writer thread once the append is durable (or has failed):
  // fold the event into the read model, settle the pending state, answer the callers.
  void CompleteCreate(const CreateInFlight& c, const Result<AppendResult>& r);
  void CompleteChange(const ChangeInFlight& c, const Result<AppendResult>& r);
  void Settle(const std::string& order_id);  // an append for this order completed
  template <typename T>
  void Deliver(const std::function<void(const Result<T>&)>& done, const Result<T>& r);
  // order_history.cc
  Result<std::vector<OrderEventRecord>> ReadOrder(std::string_view order_id) const;

  ServiceOptions options_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<ReadModel> model_;
  std::unique_ptr<SnapshotScheduler> snapshots_;  // made at start-up, once the model is loaded

  // Decisions are made one at a time, against the read model plus the appends still in flight.
  std::mutex decide_mu_;
  std::unordered_map<std::string, PendingOrder> pending_;     // GUARDED_BY(decide_mu_)
  std::unordered_map<std::string, PendingKey> pending_keys_;  // GUARDED_BY(decide_mu_)
  bool closing_ = false;                                      // GUARDED_BY(decide_mu_)
  bool closed_ = false;
};

}  // namespace orderlog::domain
