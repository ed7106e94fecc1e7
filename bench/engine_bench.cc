// Engine benchmarks: append throughput and latency by durability mode, payload size and number
// of appenders; the raw framed write() loop of the same records as the physical limit; the
// fdatasync latency of this disk; verified scans; stream reads; open time of a 10 M-event log.
//
//   orderlog-bench --benchmark_filter='Append|RawWrite|Fdatasync'
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "engine/check.h"
#include "engine/log.h"
#include "engine/record.h"

namespace orderlog::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kStreams = 10'000;
constexpr int kBatch = 100'000;  // appends per benchmark iteration in the async benchmarks

// Stream ids shaped like order ids (36 characters).
const std::vector<std::string>& StreamIds() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> v;
    char buf[64];
    for (int i = 0; i < kStreams; ++i) {
      std::snprintf(buf, sizeof(buf), "%08x-0000-4000-8000-%012x", i * 2654435761u, i);
      v.emplace_back(buf);
    }
    return v;
  }();
  return ids;
}

std::unique_ptr<Log> OpenLog(const std::string& dir, Durability d, bool preallocate = false) {
  LogOptions opts;
  opts.durability = d;
  opts.sync_interval = std::chrono::milliseconds(10);
  opts.preallocate = preallocate;
  auto log = Log::Open(dir, opts);
  if (!log.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), log.status().ToString().c_str());
    std::abort();
  }
  return std::move(log).value();
}

// Completions of asynchronous appends, counted on cache lines of their own that the submitter
// reads only while waiting: a counter both threads touch for every append would bounce between
// the cores and measure that instead.
struct AsyncTally {
  struct alignas(64) Counter {
    std::atomic<int64_t> value{0};
  };
  Counter completed;
  Counter errors;
  int64_t submitted = 0;
};

// kBatch appends from this thread without waiting (stream ids in turn, from *n on), then waits
// until all of them are acknowledged: the writer and the submitter run in parallel.
// submit(stream id, completion) queues one append (the completion is a lambda: the callee makes
// its AppendCallback of it, once, as a direct AppendAsync call would).
template <typename Submit>
void SubmitBatchAndWait(Submit submit, uint64_t* n, AsyncTally* tally) {
  const auto& ids = StreamIds();
  for (int i = 0; i < kBatch; ++i, ++*n) {
    submit(ids[*n % kStreams], [tally](const Result<AppendResult>& r) {
      if (!r.ok()) tally->errors.value.fetch_add(1, std::memory_order_relaxed);
      tally->completed.value.fetch_add(1, std::memory_order_release);
    });
  }
  tally->submitted += kBatch;
  while (tally->completed.value.load(std::memory_order_acquire) < tally->submitted) {
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

void AppendBatchAndWait(Log& log, const std::string& payload, uint64_t* n, AsyncTally* tally) {
  SubmitBatchAndWait(
      [&](std::string_view id, auto&& done) {
        log.AppendAsync(AppendView{id, ExpectedVersion::Any(), 1, payload},
                        std::forward<decltype(done)>(done));
      },
      n, tally);
}

// Appends to *buf the framed records (EncodeRecord, as the log writes them) of positions *n + 1
// to *n + count, stream ids in turn as the engine benchmarks append them.
void EncodeRawRecords(std::string* buf, size_t count, const std::string& payload, uint64_t* n) {
  const auto& ids = StreamIds();
  for (size_t i = 0; i < count; ++i, ++*n) {
    RecordView rec;
    rec.position = Position(*n + 1);
    rec.version = StreamVersion(*n / kStreams + 1);
    rec.type = 1;
    rec.timestamp_ms = 1'795'000'000'000;
    rec.stream = ids[*n % kStreams];
    rec.payload = payload;
    EncodeRecord(buf, rec);
  }
}

// A small append to fd and its fdatasync (what one synced append costs the disk at least).
bool WriteAndFdatasync(int fd, const std::string& rec) {
  if (::write(fd, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size())) return false;
  return ::fdatasync(fd) == 0;
}

// A log as the server runs it (LogOptions::preallocate) in its steady state: appends from this
// thread until it writes into a zero-filled spare segment. (A brand-new log's first segment is an
// ordinary file until the first spare is ready, about an eighth of a segment later.)
std::unique_ptr<Log> OpenWarmLog(const std::string& dir, Durability d) {
  auto log = OpenLog(dir, d, /*preallocate=*/true);
  if (d == Durability::kNone) return log;  // preallocation applies to synced modes only
  AsyncTally tally;
  uint64_t n = 0;
  const std::string payload(100, 'w');
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (log->Stats().preallocated_segments == 0 && Clock::now() < deadline) {
    AppendBatchAndWait(*log, payload, &n, &tally);
  }
  if (log->Stats().preallocated_segments == 0) {
    std::fprintf(stderr, "%s: no spare segment after 60 s of appends\n", dir.c_str());
    std::abort();
  }
  return log;
}

// One thread submits kBatch appends per iteration, then waits for all of them
// (AppendBatchAndWait).
void BM_AppendAsync(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'x');
  const auto durability = static_cast<Durability>(state.range(1));
  auto log = OpenWarmLog(FreshDir("append-async"), durability);
  AsyncTally tally;
  uint64_t n = 0;
  for (auto _ : state) AppendBatchAndWait(*log, payload, &n, &tally);
  const LogStats stats = log->Stats();
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.SetBytesProcessed(static_cast<int64_t>(stats.appended_bytes));
  const uint64_t fsyncs = stats.fsync.count();
  state.counters["fsyncs"] = static_cast<double>(fsyncs);
  state.counters["events_per_fsync"] =
      fsyncs ? static_cast<double>(n) / static_cast<double>(fsyncs) : 0;
  if (tally.errors.value.load() != 0) state.SkipWithError("appends failed");
}
BENCHMARK(BM_AppendAsync)
    ->ArgNames({"payload", "durability"})
    ->ArgsProduct({{100, 1024},
                   {static_cast<int>(Durability::kNone), static_cast<int>(Durability::kInterval),
                    static_cast<int>(Durability::kSync)}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// N threads, each calling the blocking Append; reports p50/p99 append latency and the log's own
// mean fdatasync. prealloc:1 is the log as the server runs it (OpenWarmLog), prealloc:0 with
// segments that are ordinary, growing files.
std::unique_ptr<Log> g_shared_log;
LogStats g_stats_before;  // at the start of the timed run
LatencyHistogram g_latency;
LatencyHistogram::Snapshot g_latency_before;  // at the start of the timed run
std::atomic<int> g_finished{0};

void BM_AppendBlocking(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'x');
  const auto durability = static_cast<Durability>(state.range(1));
  if (state.thread_index() == 0) {
    g_shared_log.reset();  // closed before FreshDir empties its directory
    g_shared_log = state.range(2) != 0 ? OpenWarmLog(FreshDir("append-blocking"), durability)
                                       : OpenLog(FreshDir("append-blocking"), durability);
    g_latency_before = g_latency.Read();
    g_finished = 0;
    g_stats_before = g_shared_log->Stats();
  }
  const auto& ids = StreamIds();
  uint64_t n = static_cast<uint64_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto r =
        g_shared_log->Append(AppendView{ids[n++ % kStreams], ExpectedVersion::Any(), 1, payload});
    g_latency.Observe(Clock::now() - t0);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  if (g_finished.fetch_add(1) + 1 == state.threads()) {  // the last thread reports for all
    const LatencyHistogram::Snapshot latency = g_latency.Read().Since(g_latency_before);
    state.counters["p50_us"] = latency.PercentileMicros(0.50);
    state.counters["p99_us"] = latency.PercentileMicros(0.99);
    const LatencyHistogram::Snapshot fsync =
        g_shared_log->Stats().fsync.Since(g_stats_before.fsync);
    state.counters["fsyncs"] = static_cast<double>(fsync.count());
    // The mean fdatasync under this load (it is not the quiet figure BM_Fdatasync measures).
    state.counters["fsync_us"] =
        fsync.count() ? static_cast<double>(fsync.sum_micros) / static_cast<double>(fsync.count())
                      : 0;
    // The disk's own tail under this load, beside the appends' p99.
    state.counters["fsync_p99_us"] = fsync.PercentileMicros(0.99);
    state.counters["fsync_p50_us"] = fsync.PercentileMicros(0.50);
  }
}
BENCHMARK(BM_AppendBlocking)
    ->ArgNames({"payload", "durability", "prealloc"})
    ->ArgsProduct({{100, 1024},
                   {static_cast<int>(Durability::kNone), static_cast<int>(Durability::kInterval),
                    static_cast<int>(Durability::kSync)},
                   {1}})
    ->Args({100, static_cast<int>(Durability::kSync), 0})  // segments as ordinary files
    ->Threads(1)
    ->Threads(8)
    ->Threads(64)
    ->UseRealTime();

// The physical limit: the same framed records (EncodeRecord) written with plain write() calls,
// `batch` records per write(), and an fdatasync() after each write when sync=1. No index, no
// queue, no threads.
void BM_RawWrite(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'x');
  const auto batch = static_cast<size_t>(state.range(1));
  const bool sync = state.range(2) != 0;
  const std::string path = FreshDir("raw-write") + "/raw.seg";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  std::string buf;
  uint64_t n = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {  // one iteration: one write() of `batch` records (+ fdatasync)
    buf.clear();
    EncodeRawRecords(&buf, batch, payload, &n);
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
      state.SkipWithError("write failed");
    }
    if (sync) ::fdatasync(fd);
    bytes += buf.size();
  }
  ::close(fd);
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_RawWrite)
    ->ArgNames({"payload", "batch", "sync"})
    ->Args({100, 7000, 0})  // ~1 MiB per write(), like a busy buffered log
    ->Args({1024, 1000, 0})
    ->Args({100, 1, 1})   // one appender, one fdatasync per record
    ->Args({100, 64, 1})  // 64 appenders' worth per fdatasync
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// fdatasync latency of this disk for a small append (what sync-mode throughput is made of).
void BM_Fdatasync(benchmark::State& state) {
  const std::string path = FreshDir("fdatasync") + "/f";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  const std::string rec(150, 'r');
  for (auto _ : state) {
    if (!WriteAndFdatasync(fd, rec)) state.SkipWithError("write or fdatasync failed");
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Fdatasync)->Unit(benchmark::kMicrosecond)->UseRealTime();

// What a blocked thread costs this machine to wake: a ring of `threads` threads, each asleep on
// a mutex and condition variable of its own (as a blocking Append waits), each waking the next;
// one iteration is one round from this thread back to it. Group commit with many blocking
// appenders pays this for every append on top of the fdatasync, and on 2 vCPUs a batch's waiters
// queue for the cores: the floor under the 64-appender latency.
void BM_WakeHandoff(benchmark::State& state) {
  struct alignas(64) Slot {
    std::mutex mu;
    std::condition_variable cv;
    bool go = false;
    bool stop = false;
    void Signal(bool last = false) {
      {
        std::lock_guard lk(mu);
        go = true;
        stop = last;
      }
      cv.notify_one();
    }
    bool Wait() {  // false once told to stop
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return go; });
      go = false;
      return !stop;
    }
  };
  const int n = static_cast<int>(state.range(0));
  std::vector<Slot> slots(static_cast<size_t>(n) + 1);  // slots[n]: this thread
  std::vector<std::thread> ring;
  for (int i = 0; i < n; ++i) {
    ring.emplace_back([&slots, i] {
      while (slots[i].Wait()) slots[i + 1].Signal();
    });
  }
  const auto t0 = Clock::now();
  for (auto _ : state) {
    slots[0].Signal();
    slots[static_cast<size_t>(n)].Wait();
  }
  const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  for (int i = 0; i < n; ++i) slots[i].Signal(/*last=*/true);
  for (auto& t : ring) t.join();
  state.counters["handoff_us"] = us / static_cast<double>(state.iterations() * (n + 1));
}
BENCHMARK(BM_WakeHandoff)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(8)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The two ratio targets, measured interleaved: the engine and its reference take turns inside
// every iteration, so both see the same disk latency and the same state of the page cache (run
// apart, seconds apart, a shared VM moves either by far more than the difference measured).

// Turns of `turn(payload, &n)` (kBatch appends to what is measured, acknowledged) and of the
// raw framed write() loop writing as many records to a file of its own, timed apart, so that both
// see the same disk and page cache. Counters: <name>_per_s, raw_per_s, ratio (of the totals) and
// median_turn_ratio (the median of the turns' ratios, which a VM stall in one turn barely moves).
template <typename Turn>
void InterleaveWithRawLoop(benchmark::State& state, const std::string& dir, const std::string& name,
                           Turn turn) {
  const int fd = ::open((dir + "/raw.seg").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  const std::string payload(100, 'x');
  uint64_t n = 0;
  uint64_t raw_n = 0;
  double measured_s = 0;
  double raw_s = 0;
  SampleSet turn_ratios;  // (any samples: here raw time / measured time of each turn)
  std::string buf;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    turn(payload, &n);
    const auto t1 = Clock::now();
    for (int done = 0; done < kBatch; done += 7000) {
      buf.clear();
      EncodeRawRecords(&buf, std::min(7000, kBatch - done), payload, &raw_n);
      if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
        state.SkipWithError("write failed");
      }
    }
    const auto t2 = Clock::now();
    const double m = std::chrono::duration<double>(t1 - t0).count();
    const double r = std::chrono::duration<double>(t2 - t1).count();
    measured_s += m;
    raw_s += r;
    turn_ratios.Add({r / m});
  }
  ::close(fd);
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters[name + "_per_s"] = static_cast<double>(n) / measured_s;
  state.counters["raw_per_s"] = static_cast<double>(raw_n) / raw_s;
  state.counters["ratio"] = raw_s / measured_s;
  state.counters["median_turn_ratio"] = turn_ratios.Percentile(0.5);
}

// Buffered appends from one thread (100 000 per turn, as BM_AppendAsync) against the raw write()
// loop of the same records (7000 per write(), as BM_RawWrite).
void BM_BufferedVsRawWrite(benchmark::State& state) {
  const std::string dir = FreshDir("buffered-vs-raw");
  auto log = OpenLog(dir + "/log", Durability::kNone);
  AsyncTally tally;
  InterleaveWithRawLoop(state, dir, "engine", [&](const std::string& payload, uint64_t* n) {
    AppendBatchAndWait(*log, payload, n, &tally);
  });
  if (tally.errors.value.load() != 0) state.SkipWithError("appends failed");
}
BENCHMARK(BM_BufferedVsRawWrite)->Unit(benchmark::kMillisecond)->UseRealTime();

// The least that handing appends from the caller's thread to a writer thread costs here: the
// caller queues each append as AppendAsync does (a mutex, its bytes copied into the queue, a
// completion), and one thread takes the queue, encodes each record (EncodeRecord), writes in
// pieces of 128 KiB and calls the completions. No version check, stream table, index, segments
// or checksum of the segment: a ceiling for the engine side of BM_BufferedVsRawWrite, measured
// against the same raw loop in the same turns.
class MinimalHandoff {
 public:
  explicit MinimalHandoff(int fd)
      : fd_(fd), thread_([this] {
          ::pthread_setname_np(::pthread_self(), "bare-writer");  // for perf and top -H
          Loop();
        }) {}
  ~MinimalHandoff() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void Submit(std::string_view stream, std::string_view payload, AppendCallback done) {
    bool wake = false;
    {
      std::lock_guard lk(mu_);
      wake = queue_.empty();
      if (wake) filled_.store(true, std::memory_order_relaxed);
      queue_.push_back({bytes_.size(), stream.size(), payload.size(), std::move(done)});
      bytes_.append(stream);
      bytes_.append(payload);
    }
    if (wake) cv_.notify_one();
  }
  bool failed() const { return failed_.load(); }

 private:
  struct Item {
    size_t at;
    size_t stream_size;
    size_t payload_size;
    AppendCallback done;
  };

  void Loop() {
    std::vector<Item> batch;
    std::string bytes;
    std::string buf;
    uint64_t position = 0;
    for (;;) {
      // The engine's writer polls this long before it sleeps, too.
      for (int i = 0; i < 2000 && !filled_.load(std::memory_order_relaxed); ++i) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        batch.swap(queue_);
        bytes.swap(bytes_);
        filled_.store(false, std::memory_order_relaxed);
      }
      std::vector<AppendResult> results(batch.size());
      for (size_t i = 0; i < batch.size(); ++i) {
        const Item& it = batch[i];
        RecordView rec;
        rec.position = Position(++position);
        rec.version = StreamVersion(1);
        rec.type = 1;
        rec.timestamp_ms = 1'795'000'000'000;
        rec.stream = std::string_view(bytes.data() + it.at, it.stream_size);
        rec.payload = std::string_view(bytes.data() + it.at + it.stream_size, it.payload_size);
        EncodeRecord(&buf, rec);
        results[i] = AppendResult{rec.position, rec.version, rec.timestamp_ms};
        if (buf.size() >= (128 << 10)) Write(&buf);
      }
      Write(&buf);
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(results[i]);
      batch.clear();
      bytes.clear();
    }
  }
  void Write(std::string* buf) {
    if (::write(fd_, buf->data(), buf->size()) != static_cast<ssize_t>(buf->size())) {
      failed_.store(true);
    }
    buf->clear();
  }

  const int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> filled_{false};
  std::atomic<bool> failed_{false};
  std::vector<Item> queue_;  // GUARDED_BY(mu_)
  std::string bytes_;        // GUARDED_BY(mu_)
  bool stop_ = false;        // GUARDED_BY(mu_)
  std::thread thread_;
};

void BM_HandoffBound(benchmark::State& state) {
  const std::string dir = FreshDir("handoff-bound");
  const int fd =
      ::open((dir + "/handoff.seg").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  AsyncTally tally;
  {
    MinimalHandoff handoff(fd);
    InterleaveWithRawLoop(state, dir, "handoff", [&](const std::string& payload, uint64_t* n) {
      SubmitBatchAndWait(
          [&](std::string_view id, auto&& done) {
            handoff.Submit(id, payload, std::forward<decltype(done)>(done));
          },
          n, &tally);
    });
    if (handoff.failed()) state.SkipWithError("hand-off write failed");
  }
  ::close(fd);
}
BENCHMARK(BM_HandoffBound)->Unit(benchmark::kMillisecond)->UseRealTime();

// One thread's blocking appends in sync mode against a small append + fdatasync of a plain file
// (what BM_Fdatasync measures), 50 of each per turn, in the same directory.
void BM_SyncAppendVsFdatasync(benchmark::State& state) {
  const std::string dir = FreshDir("sync-vs-fdatasync");
  auto log = OpenWarmLog(dir + "/log", Durability::kSync);
  const std::string path = dir + "/f";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  const std::string rec(150, 'r');
  const std::string payload(100, 'x');
  const auto& ids = StreamIds();
  constexpr int kTurn = 50;
  uint64_t n = 0;
  double append_s = 0;
  double fsync_s = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    for (int i = 0; i < kTurn; ++i, ++n) {
      if (!log->Append(AppendView{ids[n % kStreams], ExpectedVersion::Any(), 1, payload}).ok()) {
        state.SkipWithError("append failed");
      }
    }
    const auto t1 = Clock::now();
    for (int i = 0; i < kTurn; ++i) {
      if (!WriteAndFdatasync(fd, rec)) state.SkipWithError("write or fdatasync failed");
    }
    const auto t2 = Clock::now();
    append_s += std::chrono::duration<double>(t1 - t0).count();
    fsync_s += std::chrono::duration<double>(t2 - t1).count();
  }
  ::close(fd);
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["append_per_s"] = static_cast<double>(n) / append_s;
  state.counters["fdatasync_us"] = fsync_s * 1e6 / static_cast<double>(n);
  state.counters["ratio"] = fsync_s / append_s;
}
BENCHMARK(BM_SyncAppendVsFdatasync)->Unit(benchmark::kMillisecond)->UseRealTime();

// A log of `events` events with 100-byte payloads, `per_stream` events per stream, built once
// and kept under BenchRoot() for later runs.
std::string BuildLog(uint64_t events, uint64_t per_stream) {
  const std::string dir =
      KeptLogDir("log-" + std::to_string(events) + "-" + std::to_string(per_stream));
  if (std::filesystem::exists(dir + "/COMPLETE")) return dir;
  std::filesystem::remove_all(dir);
  auto log = OpenLog(dir, Durability::kNone);
  const std::string payload(100, 'p');
  std::atomic<int64_t> inflight{0};
  for (uint64_t i = 0; i < events; ++i) {
    while (inflight.load(std::memory_order_relaxed) > (1 << 16)) std::this_thread::yield();
    inflight.fetch_add(1, std::memory_order_relaxed);
    log->AppendAsync(
        AppendRequest{StreamId(StreamOf(i, per_stream)), ExpectedVersion::Any(), 1, payload},
        [&](const Result<AppendResult>&) { inflight.fetch_sub(1); });
  }
  if (!log->Sync().ok()) std::abort();
  log.reset();
  std::FILE* f = std::fopen((dir + "/COMPLETE").c_str(), "w");
  std::fclose(f);
  return dir;
}

std::unique_ptr<Log> OpenReadOnly(const std::string& dir) {
  LogOptions ro;
  ro.read_only = true;
  return std::move(Log::Open(dir, ro)).value();
}

// The scan figures are for a warm page cache (the logs are 0.2 and 2 GB; other benchmarks' data
// may have pushed them out): one untimed pass first.
void WarmUp(const Log& log) {
  if (!log.Scan(Position(0), [](const RecordView&) { return true; }).ok()) std::abort();
}

// Reads every event of a 1 M-event log through Scan (checksums verified), warm cache.
void BM_Scan(benchmark::State& state) {
  const std::string dir = BuildLog(1'000'000, 4);
  auto log = OpenReadOnly(dir);
  WarmUp(*log);
  uint64_t events = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    Status s = log->Scan(Position(0), [&](const RecordView& rec) {
      ++events;
      bytes += rec.length;
      return true;
    });
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Scan)->Unit(benchmark::kMillisecond)->UseRealTime();

// Scan of the 10 M-event log (2.5 M streams): the reference rate for BM_Verify10M.
void BM_Scan10M(benchmark::State& state) {
  const std::string dir = BuildLog(10'000'000, 4);
  auto log = OpenReadOnly(dir);
  WarmUp(*log);
  uint64_t events = 0;
  for (auto _ : state) {
    Status s = log->Scan(Position(0), [&](const RecordView&) {
      ++events;
      return true;
    });
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
BENCHMARK(BM_Scan10M)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// The full check behind `orderlog-inspect verify` (records, positions, per-stream versions,
// .idx files, whole-segment checksums) of the same 10 M-event log. Target: >= 0.7x BM_Scan10M.
// Arg: worker threads (0: one per core, what the tool uses); 1 shows the work of one core.
void VerifyBench(benchmark::State& state, unsigned threads) {
  const std::string dir = BuildLog(10'000'000, 4);
  WarmUp(*OpenReadOnly(dir));
  CheckOptions options;
  options.threads = threads;
  uint64_t events = 0;
  for (auto _ : state) {
    auto report = CheckLog(Env::Default(), dir, options);
    if (!report.ok() || !report->problems.empty()) state.SkipWithError("verify failed");
    events += report.ok() ? report->records : 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
void BM_Verify10M(benchmark::State& state) {
  VerifyBench(state, 0);
}
BENCHMARK(BM_Verify10M)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
void BM_VerifyOneThread10M(benchmark::State& state) {
  VerifyBench(state, 1);
}
BENCHMARK(BM_VerifyOneThread10M)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// The inspect issue's figure, measured so that a shared VM's drift cannot tilt it: every
// iteration times one Scan of the 10 M-event log and then one full check of it, back to back.
// ratio = verify rate / scan rate over all iterations. bench/run runs it in a process of its own,
// like the tool (after the rest of the suite the heap and page state of the process differ).
void BM_VerifyVsScan10M(benchmark::State& state) {
  const std::string dir = BuildLog(10'000'000, 4);
  auto log = OpenReadOnly(dir);
  WarmUp(*log);
  double scan_s = 0;
  double verify_s = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    uint64_t n = 0;
    const auto t0 = Clock::now();
    Status s = log->Scan(Position(0), [&](const RecordView&) {
      ++n;
      return true;
    });
    const auto t1 = Clock::now();
    auto report = CheckLog(Env::Default(), dir, CheckOptions{});
    const auto t2 = Clock::now();
    if (!s.ok() || !report.ok() || !report->problems.empty() || report->records != n) {
      state.SkipWithError("scan or verify failed");
      break;
    }
    scan_s += std::chrono::duration<double>(t1 - t0).count();
    verify_s += std::chrono::duration<double>(t2 - t1).count();
    events += n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  if (scan_s > 0 && verify_s > 0) {
    state.counters["scan_per_s"] = static_cast<double>(events) / scan_s;
    state.counters["verify_per_s"] = static_cast<double>(events) / verify_s;
    state.counters["ratio"] = scan_s / verify_s;
  }
}
BENCHMARK(BM_VerifyVsScan10M)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

// Reads whole streams (4 events each) by id, random order, warm cache.
void BM_ReadStream(benchmark::State& state) {
  const std::string dir = BuildLog(1'000'000, 4);
  auto log = OpenReadOnly(dir);
  uint64_t n = 0;
  std::vector<Event> events;
  for (auto _ : state) {
    const std::string id = StreamId((n++ * 2654435761u) % 249'856);  // complete streams
    events.clear();
    if (!log->ReadStream(id, StreamVersion(1), 100, &events).ok() || events.size() != 4) {
      state.SkipWithError("stream read failed");
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReadStream)->UseRealTime();

// Opens a 10 M-event log (2.5 M streams; all but the active segment sealed) and reports the
// index memory per event and per stream.
void BM_Open10M(benchmark::State& state) {
  const std::string dir = BuildLog(10'000'000, 4);
  LogStats stats;
  for (auto _ : state) {
    auto log = Log::Open(dir, {});
    if (!log.ok()) {
      state.SkipWithError(log.status().ToString().c_str());
      break;
    }
    stats = (*log)->Stats();
    state.PauseTiming();
    log->reset();
    state.ResumeTiming();
  }
  const double events = static_cast<double>(stats.committed.value);
  const double streams = static_cast<double>(stats.streams);
  state.counters["events"] = events;
  state.counters["streams"] = streams;
  state.counters["segments"] = static_cast<double>(stats.segments);
  state.counters["index_B_per_event"] =
      static_cast<double>(stats.index_memory_bytes - stats.stream_table_bytes) / events;
  state.counters["index_B_per_stream"] = static_cast<double>(stats.stream_table_bytes) / streams;
}
BENCHMARK(BM_Open10M)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace
}  // namespace orderlog::bench
