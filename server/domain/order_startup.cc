// OrderService's start-up: the newest valid snapshot (loaded while the log opens), then the tail
// of the log replayed into the read model.
#include <chrono>
#include <cstdio>
#include <thread>

#include "server/domain/order_service.h"
#include "server/domain/snapshot.h"

namespace orderlog::domain {

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

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
  snapshots_ = std::make_unique<SnapshotScheduler>(
      SnapshotScheduler::Options{options_.data_dir, env, options_.snapshot_every,
                                 [this](const std::string& line) { Info(line); }},
      model_.get(), report->snapshot_position);
  if (!options_.log.read_only) snapshots_->Start();  // inspection: no snapshots, no commands
  return Status::Ok();
}

}  // namespace orderlog::domain
