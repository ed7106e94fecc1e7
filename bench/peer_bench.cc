// Peers: what people would otherwise use for an event log, on the same records, durability,
// batch sizes and concurrency as the engine's benchmarks.
//   - SQLite (WAL; an events table keyed by position, a unique index on (stream, version)):
//     synchronous=OFF without fsync, synchronous=FULL for an fsync per committed transaction.
//   - RocksDB (a key per position holding the record, plus a (stream, version) -> position key):
//     WriteOptions::sync off or on; one WriteBatch per batch.
// Each is compiled in only when its Debian package was found at configure time.
//
// Benchmarks (each with the engine's counterpart named in bench/run's report):
//   BM_PeerAppend/<peer>/payload/batch/sync      one appender, `batch` records per transaction
//   BM_PeerAppendThreads/<peer>/payload/sync     N threads, one record per transaction (p50/p99)
//   BM_PeerScan/<peer>                           replay: every event of the 1 M-event log in order
//   BM_PeerReadStream/<peer>                     one stream's 4 events by stream id
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "engine/latency_histogram.h"

#ifdef ORDERLOG_HAVE_SQLITE
#include <sqlite3.h>
#endif
#ifdef ORDERLOG_HAVE_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#endif

namespace orderlog::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kTimestamp = 1'795'000'000'000;
constexpr uint64_t kReplayEvents = 1'000'000;  // the same log as engine_bench's BM_Scan
constexpr uint64_t kPerStream = 4;

struct Rec {
  uint64_t position;
  std::string stream;
  uint64_t version;
  uint16_t type;
  int64_t ts;
  std::string_view payload;
};

// A peer store: opened on a directory, appends batches of records, reads them back.
class Peer {
 public:
  virtual ~Peer() = default;
  // Appends the records as one transaction; durable before returning when opened with sync.
  virtual bool Append(const std::vector<Rec>& batch) = 0;
  // Every record in position order; returns the count (0 on error).
  virtual uint64_t Scan(uint64_t* bytes) = 0;
  // The events of one stream in version order.
  virtual size_t ReadStream(const std::string& stream) = 0;
};

#ifdef ORDERLOG_HAVE_SQLITE
class SqlitePeer final : public Peer {
 public:
  static std::unique_ptr<SqlitePeer> Open(const std::string& dir, bool sync) {
    auto p = std::unique_ptr<SqlitePeer>(new SqlitePeer);
    if (sqlite3_open_v2((dir + "/events.db").c_str(), &p->db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return nullptr;
    }
    sqlite3_busy_timeout(p->db_, 60'000);
    const std::string pragmas =
        std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") + (sync ? "FULL" : "OFF") +
        ";"
        "CREATE TABLE IF NOT EXISTS events(position INTEGER PRIMARY KEY,"
        " stream TEXT NOT NULL, version INTEGER NOT NULL,"
        " type INTEGER NOT NULL, ts INTEGER NOT NULL, payload BLOB NOT NULL);"
        "CREATE UNIQUE INDEX IF NOT EXISTS events_stream"
        " ON events(stream, version);";
    if (!p->Exec(pragmas)) return nullptr;
    if (sqlite3_prepare_v2(p->db_, "INSERT INTO events VALUES(?,?,?,?,?,?)", -1, &p->insert_,
                           nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(p->db_,
                           "SELECT position, stream, version, type, ts, payload FROM events"
                           " ORDER BY position",
                           -1, &p->scan_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(p->db_,
                           "SELECT position, version, type, ts, payload FROM events"
                           " WHERE stream = ? ORDER BY version",
                           -1, &p->stream_, nullptr) != SQLITE_OK) {
      return nullptr;
    }
    return p;
  }
  ~SqlitePeer() override {
    sqlite3_finalize(insert_);
    sqlite3_finalize(scan_);
    sqlite3_finalize(stream_);
    sqlite3_close(db_);
  }

  bool Append(const std::vector<Rec>& batch) override {
    if (!Exec("BEGIN IMMEDIATE")) return false;
    for (const Rec& r : batch) {
      // position NULL: the next rowid (concurrent appenders share the table's sequence)
      if (r.position == 0) {
        sqlite3_bind_null(insert_, 1);
      } else {
        sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(r.position));
      }
      sqlite3_bind_text(insert_, 2, r.stream.data(), static_cast<int>(r.stream.size()),
                        SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 3, static_cast<sqlite3_int64>(r.version));
      sqlite3_bind_int(insert_, 4, r.type);
      sqlite3_bind_int64(insert_, 5, r.ts);
      sqlite3_bind_blob(insert_, 6, r.payload.data(), static_cast<int>(r.payload.size()),
                        SQLITE_STATIC);
      const int rc = sqlite3_step(insert_);
      sqlite3_reset(insert_);
      if (rc != SQLITE_DONE) {
        Exec("ROLLBACK");
        return false;
      }
    }
    return Exec("COMMIT");
  }

  uint64_t Scan(uint64_t* bytes) override {
    uint64_t n = 0;
    while (sqlite3_step(scan_) == SQLITE_ROW) {
      ++n;
      *bytes += static_cast<uint64_t>(sqlite3_column_bytes(scan_, 1)) +
                static_cast<uint64_t>(sqlite3_column_bytes(scan_, 5));
      benchmark::DoNotOptimize(sqlite3_column_blob(scan_, 5));
    }
    sqlite3_reset(scan_);
    return n;
  }

  size_t ReadStream(const std::string& stream) override {
    sqlite3_bind_text(stream_, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    size_t n = 0;
    while (sqlite3_step(stream_) == SQLITE_ROW) {
      benchmark::DoNotOptimize(sqlite3_column_blob(stream_, 4));
      ++n;
    }
    sqlite3_reset(stream_);
    return n;
  }

 private:
  SqlitePeer() = default;
  bool Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::fprintf(stderr, "sqlite: %s: %s\n", sql.c_str(), err != nullptr ? err : "?");
      sqlite3_free(err);
      return false;
    }
    return true;
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* scan_ = nullptr;
  sqlite3_stmt* stream_ = nullptr;
};
#endif  // ORDERLOG_HAVE_SQLITE

#ifdef ORDERLOG_HAVE_ROCKSDB
void PutBigEndian(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

class RocksPeer final : public Peer {
 public:
  static std::unique_ptr<RocksPeer> Open(const std::string& dir, bool sync) {
    auto p = std::unique_ptr<RocksPeer>(new RocksPeer);
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir + "/rocksdb", &db);
    if (!s.ok()) {
      std::fprintf(stderr, "rocksdb: %s\n", s.ToString().c_str());
      return nullptr;
    }
    p->db_.reset(db);
    p->write_.sync = sync;
    return p;
  }

  // Positions given as 0 take the next one from a counter (concurrent appenders).
  bool Append(const std::vector<Rec>& batch) override {
    rocksdb::WriteBatch wb;
    std::string key, value;
    for (const Rec& r : batch) {
      const uint64_t position = r.position != 0 ? r.position : next_.fetch_add(1) + 1;
      key.assign("p");
      PutBigEndian(&key, position);
      value.clear();
      const auto len = static_cast<uint16_t>(r.stream.size());
      value.append(reinterpret_cast<const char*>(&len), 2);
      value.append(r.stream);
      value.append(reinterpret_cast<const char*>(&r.version), 8);
      value.append(reinterpret_cast<const char*>(&r.type), 2);
      value.append(reinterpret_cast<const char*>(&r.ts), 8);
      value.append(r.payload);
      wb.Put(key, value);
      key.assign("s");
      key.append(r.stream);
      PutBigEndian(&key, r.version);
      std::string pos;
      PutBigEndian(&pos, position);
      wb.Put(key, pos);
    }
    return db_->Write(write_, &wb).ok();
  }

  uint64_t Scan(uint64_t* bytes) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    uint64_t n = 0;
    for (it->Seek("p"); it->Valid() && it->key().starts_with("p"); it->Next()) {
      ++n;
      *bytes += it->value().size();
      benchmark::DoNotOptimize(it->value().data());
    }
    return it->status().ok() ? n : 0;
  }

  size_t ReadStream(const std::string& stream) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    const std::string prefix = "s" + stream;
    size_t n = 0;
    std::string key, value;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      key.assign("p");
      key.append(it->value().data(), 8);
      if (db_->Get(rocksdb::ReadOptions(), key, &value).ok()) ++n;
    }
    return n;
  }

 private:
  RocksPeer() = default;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_;
  std::atomic<uint64_t> next_{0};
};
#endif  // ORDERLOG_HAVE_ROCKSDB

std::unique_ptr<Peer> OpenPeer(const std::string& name, const std::string& dir, bool sync) {
#ifdef ORDERLOG_HAVE_SQLITE
  if (name == "sqlite") return SqlitePeer::Open(dir, sync);
#endif
#ifdef ORDERLOG_HAVE_ROCKSDB
  if (name == "rocksdb") return RocksPeer::Open(dir, sync);
#endif
  (void)dir;
  (void)sync;
  return nullptr;
}

const std::vector<std::string>& Streams() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> v;
    for (uint64_t i = 0; i < 10'000; ++i) v.push_back(StreamId(i));
    return v;
  }();
  return ids;
}

// One appender, `batch` records per transaction (fsync per transaction with sync=1).
void PeerAppend(benchmark::State& state, const std::string& peer) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'x');
  const auto batch_size = static_cast<size_t>(state.range(1));
  const bool sync = state.range(2) != 0;
  auto db = OpenPeer(peer, FreshDir("peer-append-" + peer), sync);
  if (!db) {
    state.SkipWithError("open failed");
    return;
  }
  const auto& ids = Streams();
  std::vector<Rec> batch(batch_size);
  uint64_t n = 0;
  for (auto _ : state) {
    for (auto& r : batch) {
      r = Rec{n + 1, ids[n % ids.size()], n / ids.size() + 1, 1, kTimestamp, payload};
      ++n;
    }
    if (!db->Append(batch)) state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
}

// N threads, one record per transaction; p50/p99 latency.
std::unique_ptr<Peer> g_peer;
LatencyHistogram g_peer_latency;
LatencyHistogram::Snapshot g_peer_latency_before;  // at the start of the timed run
std::atomic<int> g_peer_finished{0};
std::atomic<uint64_t> g_peer_version{0};
std::mutex g_sqlite_open_mu;

void PeerAppendThreads(benchmark::State& state, const std::string& peer) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'x');
  const bool sync = state.range(1) != 0;
  const std::string dir = BenchRoot() + "/peer-threads-" + peer;
  if (state.thread_index() == 0) {
    g_peer.reset();  // Google Benchmark runs this function several times: close the last one
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    g_peer = OpenPeer(peer, dir, sync);
    g_peer_latency_before = g_peer_latency.Read();
    g_peer_finished = 0;
  }
  // SQLite: a connection per thread (what a threaded application does; SQLite serialises the
  // writers itself). RocksDB: one DB object shared by every thread (its write path batches
  // concurrent writers into one WAL write and sync).
  std::unique_ptr<Peer> own;
  Peer* db = nullptr;
  const auto& ids = Streams();
  std::vector<Rec> one(1);
  uint64_t n = static_cast<uint64_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    if (db == nullptr) {  // after the start barrier: thread 0 has opened the store
      state.PauseTiming();
      if (peer == "sqlite") {
        std::lock_guard lk(g_sqlite_open_mu);
        own = OpenPeer(peer, dir, sync);
        db = own.get();
      } else {
        db = g_peer.get();
      }
      state.ResumeTiming();
      if (db == nullptr) {
        state.SkipWithError("open failed");
        break;
      }
    }
    one[0] = Rec{0, ids[n++ % ids.size()], g_peer_version.fetch_add(1) + 1, 1, kTimestamp, payload};
    const auto t0 = Clock::now();
    if (!db->Append(one)) state.SkipWithError("append failed");
    g_peer_latency.Observe(Clock::now() - t0);
  }
  state.SetItemsProcessed(state.iterations());
  own.reset();
  if (g_peer_finished.fetch_add(1) + 1 == state.threads()) {
    const auto latency = g_peer_latency.Read().Since(g_peer_latency_before);
    state.counters["p50_us"] = latency.PercentileMicros(0.50);
    state.counters["p99_us"] = latency.PercentileMicros(0.99);
    g_peer.reset();  // every thread is done with it; not left to static destruction at exit
  }
}

// The 1 M-event replay log (engine_bench's BuildLog records) loaded into the peer once, kept
// under BenchRoot().
std::unique_ptr<Peer> ReplayPeer(const std::string& peer) {
  const std::string dir = BenchRoot() + "/peer-" + peer + "-" + std::to_string(kReplayEvents);
  const bool complete = std::filesystem::exists(dir + "/COMPLETE");
  if (!complete) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  auto db = OpenPeer(peer, dir, false);
  if (!db || complete) return db;
  const std::string payload(100, 'p');
  std::vector<Rec> batch;
  for (uint64_t i = 0; i < kReplayEvents; ++i) {
    batch.push_back(Rec{i + 1, StreamId(StreamOf(i, kPerStream)), VersionOf(i, kPerStream), 1,
                        kTimestamp, payload});
    if (batch.size() == 10'000) {
      if (!db->Append(batch)) return nullptr;
      batch.clear();
    }
  }
  if (!batch.empty() && !db->Append(batch)) return nullptr;
  db.reset();
  std::FILE* f = std::fopen((dir + "/COMPLETE").c_str(), "w");
  std::fclose(f);
  return OpenPeer(peer, dir, false);
}

void PeerScan(benchmark::State& state, const std::string& peer) {
  auto db = ReplayPeer(peer);
  if (!db) {
    state.SkipWithError("could not build the replay log");
    return;
  }
  uint64_t events = 0, bytes = 0;
  for (auto _ : state) {
    const uint64_t n = db->Scan(&bytes);
    if (n != kReplayEvents) state.SkipWithError("scan returned the wrong number of events");
    events += n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void PeerReadStream(benchmark::State& state, const std::string& peer) {
  auto db = ReplayPeer(peer);
  if (!db) {
    state.SkipWithError("could not build the replay log");
    return;
  }
  uint64_t n = 0;
  for (auto _ : state) {
    const std::string id = StreamId((n++ * 2654435761u) % 249'856);  // complete streams
    if (db->ReadStream(id) != kPerStream) state.SkipWithError("stream read failed");
  }
  state.SetItemsProcessed(state.iterations());
}

std::vector<std::string> AvailablePeers() {
  std::vector<std::string> peers;
#ifdef ORDERLOG_HAVE_SQLITE
  peers.push_back("sqlite");
#endif
#ifdef ORDERLOG_HAVE_ROCKSDB
  peers.push_back("rocksdb");
#endif
  return peers;
}

[[maybe_unused]] const bool kRegistered = [] {
  for (const std::string& peer : AvailablePeers()) {
    benchmark::RegisterBenchmark(("BM_PeerAppend/" + peer).c_str(), PeerAppend, peer)
        ->ArgNames({"payload", "batch", "sync"})
        ->Args({100, 1000, 0})  // buffered: BM_AppendAsync(none), BM_RawWrite(batch, no sync)
        ->Args({1024, 1000, 0})
        ->Args({100, 64, 1})  // 64 records per fsync: what 64 appenders share in group commit
        ->Args({100, 1, 1})   // one fsync per record: one blocking appender
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_PeerAppendThreads/" + peer).c_str(), PeerAppendThreads, peer)
        ->ArgNames({"payload", "sync"})
        ->Args({100, 0})
        ->Args({100, 1})
        ->Threads(1)
        ->Threads(8)
        ->Threads(64)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_PeerScan/" + peer).c_str(), PeerScan, peer)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_PeerReadStream/" + peer).c_str(), PeerReadStream, peer)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace orderlog::bench
