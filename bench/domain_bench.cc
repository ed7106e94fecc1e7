// Domain benchmarks: restart (snapshot + tail, or full replay) of 1 M- and 10 M-event order logs,
// replay rate into the read model, snapshot write time and size, how long taking the snapshot's
// copy holds up appends, and read-model memory per order.
//
//   orderlog-bench --benchmark_filter='Restart|Snapshot'
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "bench/bench_util.h"
#include "server/domain/order_service.h"
#include "server/domain/snapshot.h"

namespace orderlog::bench {
namespace {

using domain::EventType;
using domain::OrderStatus;
using Clock = std::chrono::steady_clock;

// An order log of `events` events written through the engine with the domain's own encoding:
// orders of 1 to 3 events (10% / 30% / 60%: 2.5 events an order on average; a legal history
// has at most 3), 100 k customers, 1 k products, creates and changes interleaved. Ends with a
// snapshot. Built once under BenchRoot().
std::string BuildOrderLog(uint64_t events) {
  const std::string dir = KeptLogDir("orders-" + std::to_string(events));
  if (std::filesystem::exists(dir + "/COMPLETE")) return dir;
  std::filesystem::remove_all(dir);
  {
    LogOptions lo;
    lo.durability = Durability::kNone;
    auto log = std::move(Log::Open(dir, lo)).value();
    std::mt19937_64 rng(42);
    struct Live {
      std::string id;
      int remaining;  // events still to come
      OrderStatus status;
    };
    std::vector<Live> live;
    std::atomic<int64_t> inflight{0};
    auto submit = [&](std::string stream, EventType type, std::string payload) {
      while (inflight.load(std::memory_order_relaxed) > (1 << 16)) std::this_thread::yield();
      inflight.fetch_add(1, std::memory_order_relaxed);
      log->AppendAsync(AppendRequest{std::move(stream), ExpectedVersion::Any(),
                                     static_cast<uint16_t>(type), std::move(payload)},
                       [&](const Result<AppendResult>&) { inflight.fetch_sub(1); });
    };
    uint64_t written = 0;
    while (written < events) {
      if (live.size() < 1000 || rng() % 5 < 2) {  // 40% creates: 2.5 events an order
        const uint64_t r = rng() % 10;
        const int n = r == 0 ? 1 : (r < 4 ? 2 : 3);
        domain::OrderCreated c{"customer-" + std::to_string(rng() % 100'000),
                               "product-" + std::to_string(rng() % 1'000),
                               static_cast<uint32_t>(1 + rng() % 10), ""};
        const std::string id = domain::OrderId::Random().ToString();
        submit(id, EventType::kOrderCreated, domain::EncodeEvent(c));
        if (n > 1) live.push_back({id, n - 1, OrderStatus::kProcessing});
      } else {
        const size_t i = rng() % live.size();
        Live& o = live[i];
        OrderStatus next =
            o.status == OrderStatus::kProcessing
                ? (o.remaining == 1 ? OrderStatus::kCancelled : OrderStatus::kShipped)
                : OrderStatus::kDelivered;
        submit(o.id, EventType::kOrderStatusChanged,
               domain::EncodeEvent(domain::OrderStatusChanged{o.status, next}));
        o.status = next;
        if (--o.remaining == 0) {
          live[i] = std::move(live.back());
          live.pop_back();
        }
      }
      ++written;
    }
    if (!log->Sync().ok()) std::abort();
  }
  {
    domain::ServiceOptions so;
    so.data_dir = dir;
    so.info = [](const std::string&) {};
    auto svc = std::move(domain::OrderService::Open(so)).value();  // replays, snapshots at close
  }
  std::FILE* f = std::fopen((dir + "/COMPLETE").c_str(), "w");
  std::fclose(f);
  return dir;
}

// Time from nothing to a ready service: open the log, load the snapshot (or not), replay the tail.
void BM_Restart(benchmark::State& state) {
  const auto events = static_cast<uint64_t>(state.range(0));
  const bool snapshot = state.range(1) != 0;
  const std::string dir = BuildOrderLog(events);
  domain::StartupReport report;
  size_t orders = 0;
  size_t model_bytes = 0;
  for (auto _ : state) {
    domain::ServiceOptions so;
    so.data_dir = dir;
    so.load_snapshot = snapshot;
    so.snapshot_on_close = false;
    so.info = [](const std::string&) {};
    report = {};
    auto svc = domain::OrderService::Open(so, &report);
    if (!svc.ok()) {
      state.SkipWithError(svc.status().ToString().c_str());
      break;
    }
    state.PauseTiming();
    orders = (*svc)->order_count();
    model_bytes = (*svc)->model().MemoryUsage();
    svc->reset();
    state.ResumeTiming();
  }
  state.counters["orders"] = static_cast<double>(orders);
  state.counters["replayed"] = static_cast<double>(report.events_replayed);
  state.counters["replay_events_per_s"] =
      report.replay_seconds > 0
          ? static_cast<double>(report.events_replayed) / report.replay_seconds
          : 0;
  state.counters["snapshot_load_s"] = report.snapshot_load_seconds;
  state.counters["model_B_per_order"] =
      static_cast<double>(model_bytes) / static_cast<double>(orders);
}
BENCHMARK(BM_Restart)
    ->ArgNames({"events", "snapshot"})
    ->ArgsProduct({{1'000'000, 10'000'000}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

// Writing a snapshot of the 1 M- and 10 M-event models; freeze_us is how long taking its copy holds
// the read model's lock (the only part that delays appends).
void BM_SnapshotWrite(benchmark::State& state) {
  const std::string dir = BuildOrderLog(static_cast<uint64_t>(state.range(0)));
  domain::ServiceOptions so;
  so.data_dir = dir;
  so.snapshot_on_close = false;
  so.info = [](const std::string&) {};
  auto svc = std::move(domain::OrderService::Open(so)).value();
  const std::string out = FreshDir("snapshot-write");
  double freeze_us = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto frozen = svc->model().Freeze();
    freeze_us =
        std::max(freeze_us, std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    auto written = domain::WriteSnapshot(Env::Default(), out, *frozen);
    if (!written.ok()) state.SkipWithError(written.status().ToString().c_str());
    bytes = written.ok() ? *written : 0;
  }
  state.counters["freeze_us_max"] = freeze_us;
  state.counters["snapshot_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["B_per_order"] =
      static_cast<double>(bytes) / static_cast<double>(svc->order_count());
}
BENCHMARK(BM_SnapshotWrite)
    ->ArgNames({"events"})
    ->Arg(1'000'000)
    ->Arg(10'000'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace orderlog::bench
