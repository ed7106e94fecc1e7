// orderlog-inspect: the operator's view of a data directory, read through the engine's and the
// domain's own code (LogCursor, CheckLog, Log read-only, snapshots). Takes no lock and writes
// nothing, so it may run beside a live server — except `repair --yes`, which takes the lock.
//
// Exit codes: 0 done (verify: clean), 1 problems found or the request could not be carried out,
// 2 unusable arguments or directory.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/check.h"
#include "engine/cursor.h"
#include "engine/log.h"
#include "engine/repair.h"
#include "engine/segment.h"
#include "server/domain/events.h"
#include "server/domain/order_service.h"
#include "server/domain/snapshot.h"
#include "server/http/json_out.h"

namespace {

using namespace orderlog;
using namespace orderlog::domain;
using Clock = std::chrono::steady_clock;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr int kOk = 0;
constexpr int kProblems = 1;
constexpr int kUnusable = 2;

// Output is line-buffered into a large buffer: dump of millions of records is write()-bound.
void Out(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}
void Err(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
}

std::string Ts(int64_t ms) {
  return ms == 0 ? "-" : FormatTimestamp(ms);
}

std::string HumanBytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(n) / (1ull << 30));
  } else if (n >= (1u << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(n) / (1u << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof(buf), "%" PRIu64 " B", n);
  }
  return buf;
}

std::string Json(const std::function<void(JsonWriter&)>& fn) {
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  fn(w);
  return std::string(b.GetString(), b.GetSize());
}
void Key(JsonWriter& w, std::string_view k) {
  w.Key(k.data(), static_cast<unsigned>(k.size()));
}
void Str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<unsigned>(s.size()));
}

std::string Hex(std::string_view bytes, size_t max) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    out += digits[static_cast<uint8_t>(bytes[i]) >> 4];
    out += digits[static_cast<uint8_t>(bytes[i]) & 15];
  }
  if (bytes.size() > max) out += "...";
  return out;
}

// One record as a line: decoded when it is an order event, raw (hex) otherwise.
std::string EventLine(const RecordView& rec, bool json) {
  auto decoded = ToOrderEventRecord(rec);
  if (json) {
    if (decoded.ok()) return http::EventJson(*decoded, true);
    return Json([&](JsonWriter& w) {
      w.StartObject();
      Key(w, "position");
      w.Uint64(rec.position.value);
      Key(w, "order_id");
      Str(w, rec.stream);
      Key(w, "version");
      w.Uint64(rec.version.value);
      Key(w, "type");
      Str(w, EventTypeName(rec.type));
      Key(w, "type_code");
      w.Uint(rec.type);
      Key(w, "timestamp");
      Str(w, FormatTimestamp(rec.timestamp_ms));
      Key(w, "error");
      Str(w, decoded.status().message());
      Key(w, "payload_hex");
      Str(w, Hex(rec.payload, rec.payload.size()));
      w.EndObject();
    });
  }
  std::string line = std::to_string(rec.position.value) + "  " + std::string(rec.stream) + " v" +
                     std::to_string(rec.version.value) + "  " + FormatTimestamp(rec.timestamp_ms) +
                     "  ";
  if (!decoded.ok()) {
    return line + EventTypeName(rec.type) + "(" + std::to_string(rec.type) + ") " +
           std::to_string(rec.payload.size()) + " bytes " + Hex(rec.payload, 32) +
           "  ERROR: " + decoded.status().message();
  }
  if (const auto* c = std::get_if<OrderCreated>(&decoded->event)) {
    line += "OrderCreated customer_id=" + c->customer_id + " product=" + c->product +
            " quantity=" + std::to_string(c->quantity);
    if (!c->idempotency_key.empty()) line += " idempotency_key=" + c->idempotency_key;
  } else {
    const auto& s = std::get<OrderStatusChanged>(decoded->event);
    line += std::string("OrderStatusChanged ") + StatusName(s.old_status) + " -> " +
            StatusName(s.new_status);
  }
  return line;
}

bool DirUsable(const std::string& dir) {
  if (Env::Default()->Exists(dir) && Env::Default()->ListDir(dir).ok()) return true;
  Err("orderlog-inspect: " + dir + " is not a readable directory");
  return false;
}

// The segments and their bounds without reading every record (headers, footers, .idx files, the
// active tail): what segments, snapshots and tail need. nullopt (said why) if unusable.
std::optional<CheckReport> SummaryCheck(const std::string& dir) {
  if (!DirUsable(dir)) return std::nullopt;
  CheckOptions opt;
  opt.records = false;
  auto report = CheckLog(Env::Default(), dir, opt);
  if (!report.ok()) {
    Err(report.status().ToString());
    return std::nullopt;
  }
  return std::move(report).value();
}

std::optional<uint16_t> ParseType(const std::string& t) {
  if (t == "OrderCreated") return static_cast<uint16_t>(EventType::kOrderCreated);
  if (t == "OrderStatusChanged") return static_cast<uint16_t>(EventType::kOrderStatusChanged);
  if (!t.empty() && t.size() <= 5 && t.find_first_not_of("0123456789") == std::string::npos) {
    const unsigned long v = std::stoul(t);
    if (v <= 0xFFFF) return static_cast<uint16_t>(v);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------

int Segments(const std::string& dir, bool json) {
  const auto report = SummaryCheck(dir);
  if (!report) return kUnusable;
  if (json) {
    Out(Json([&](JsonWriter& w) {
      w.StartArray();
      for (const auto& s : report->segments) {
        w.StartObject();
        Key(w, "file");
        Str(w, s.path);
        Key(w, "base");
        w.Uint64(s.base.value);
        Key(w, "last");
        w.Uint64(s.last.value);
        Key(w, "records");
        w.Uint64(s.records);
        Key(w, "bytes");
        w.Uint64(s.bytes);
        Key(w, "state");
        Str(w, s.sealed ? "sealed" : "active");
        Key(w, "first_timestamp");
        s.records ? Str(w, FormatTimestamp(s.first_timestamp_ms)) : (void)w.Null();
        Key(w, "last_timestamp");
        s.records ? Str(w, FormatTimestamp(s.last_timestamp_ms)) : (void)w.Null();
        Key(w, "index");
        Str(w, s.sealed ? IndexFileStateName(s.index) : "none");
        if (!s.index_problem.empty()) {
          Key(w, "index_problem");
          Str(w, s.index_problem);
        }
        w.EndObject();
      }
      w.EndArray();
    }));
  } else {
    char line[512];
    std::snprintf(line, sizeof(line), "%-26s %12s %12s %10s %12s %-7s %-24s %-24s %s", "file",
                  "base", "last", "records", "bytes", "state", "first", "last written", "index");
    Out(line);
    for (const auto& s : report->segments) {
      const std::string name = s.path.substr(s.path.rfind('/') + 1);
      std::snprintf(line, sizeof(line),
                    "%-26s %12" PRIu64 " %12" PRIu64 " %10" PRIu64 " %12" PRIu64
                    " %-7s %-24s %-24s %s",
                    name.c_str(), s.base.value, s.last.value, s.records, s.bytes,
                    s.sealed ? "sealed" : "active", Ts(s.first_timestamp_ms).c_str(),
                    Ts(s.last_timestamp_ms).c_str(), s.sealed ? IndexFileStateName(s.index) : "-");
      Out(line);
    }
    Out(std::to_string(report->segments.size()) + " segments, " + std::to_string(report->records) +
        " records, " + HumanBytes(report->bytes));
  }
  for (const auto& p : report->problems) Err("problem: " + p.ToString());
  return report->problems.empty() ? kOk : kProblems;
}

// ---------------------------------------------------------------------------------------------

struct DumpFilter {
  uint64_t from = 1;
  uint64_t to = UINT64_MAX;
  uint64_t limit = UINT64_MAX;
  std::string order;
  std::string type;
};

int Dump(const std::string& dir, const DumpFilter& f, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  std::optional<uint16_t> type;
  if (!f.type.empty()) {
    type = ParseType(f.type);
    if (!type) {
      Err("--type: OrderCreated, OrderStatusChanged or a type number, not " + f.type);
      return kUnusable;
    }
  }
  auto cursor = LogCursor::Open(Env::Default(), dir, Position(f.from == 0 ? 0 : f.from - 1));
  if (!cursor.ok()) {
    Err(cursor.status().ToString());
    return kUnusable;
  }
  uint64_t printed = 0;
  RecordView rec;
  LogCursor::Next r;
  while (printed < f.limit && (r = (*cursor)->Read(&rec)) == LogCursor::Next::kRecord) {
    if (rec.position.value > f.to) break;
    if (!f.order.empty() && rec.stream != f.order) continue;
    if (type && rec.type != *type) continue;
    Out(EventLine(rec, json));
    ++printed;
  }
  std::fflush(stdout);
  if (printed < f.limit && r == LogCursor::Next::kProblem) {
    Err("problem: " + (*cursor)->problem().ToString());
    return kProblems;
  }
  if (auto tail = (*cursor)->pending_tail()) Err("note: " + *tail);
  return kOk;
}

// ---------------------------------------------------------------------------------------------

int Order(const std::string& dir, const std::string& id, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  if (!OrderId::Parse(id)) {
    Err("not an order id (a lower-case UUID): " + id);
    return kUnusable;
  }
  LogOptions opt;
  opt.read_only = true;
  auto log = Log::Open(dir, opt);
  if (!log.ok()) {
    Err(log.status().ToString());
    return kUnusable;
  }
  for (const auto& p : (*log)->open_problems()) Err("problem: " + p.ToString());
  std::vector<Event> events;
  Status s = (*log)->ReadStream(id, StreamVersion(1), SIZE_MAX, &events);
  if (!s.ok()) {
    Err(s.ToString());
    return kProblems;
  }
  if (events.empty()) {
    Err("order " + id + " not found");
    return kProblems;
  }
  std::vector<OrderEventRecord> history;
  OrderState state;
  int rc = kOk;
  for (const auto& ev : events) {
    auto rec = ToOrderEventRecord(
        RecordView{ev.position, ev.version, ev.type, ev.timestamp_ms, ev.stream, ev.payload, 0});
    if (!rec.ok()) {
      Err("problem: " + rec.status().ToString());
      rc = kProblems;
      break;
    }
    Status applied = ApplyEvent(&state, rec->event, rec->version, rec->timestamp_ms);
    if (!applied.ok()) {
      Err("problem: position " + std::to_string(ev.position.value) + ": " + applied.message());
      rc = kProblems;
      break;
    }
    history.push_back(std::move(rec).value());
  }
  state.id = *OrderId::Parse(id);
  if (json) {
    Out("{\"order\":" + http::OrderJson(state) + ",\"events\":" + http::EventsJson(history, false) +
        "}");
  } else {
    for (const auto& ev : events) {
      Out(EventLine(
          RecordView{ev.position, ev.version, ev.type, ev.timestamp_ms, ev.stream, ev.payload, 0},
          false));
    }
    Out("state: " + id + " customer_id=" + state.customer_id + " product=" + state.product +
        " quantity=" + std::to_string(state.quantity) + " status=" + StatusName(state.status) +
        " version=" + std::to_string(state.version) +
        " created_at=" + FormatTimestamp(state.created_at_ms) +
        " updated_at=" + FormatTimestamp(state.updated_at_ms));
  }
  return rc;
}

// ---------------------------------------------------------------------------------------------

struct SnapshotCheck {
  SnapshotInfo info;
  Status status;  // header and body
};

// A snapshot covering positions the log does not have cannot be loaded on it.
void MarkAheadOfLog(std::vector<SnapshotCheck>* snaps, Position log_last) {
  for (auto& s : *snaps) {
    if (s.status.ok() && s.info.position > log_last) {
      s.status = Status::Corruption(s.info.path + " offset 16: covers position " +
                                    std::to_string(s.info.position.value) +
                                    " but the log ends at " + std::to_string(log_last.value));
    }
  }
}

std::vector<SnapshotCheck> CheckSnapshots(const std::string& dir, Position log_last) {
  std::vector<SnapshotCheck> out;
  for (auto& info : ListSnapshots(Env::Default(), dir)) {
    SnapshotCheck c{info, info.status};
    if (c.status.ok()) c.status = VerifySnapshot(Env::Default(), info.path);
    out.push_back(std::move(c));
  }
  MarkAheadOfLog(&out, log_last);
  return out;
}

void SnapshotJson(JsonWriter& w, const SnapshotCheck& s, bool detailed) {
  w.StartObject();
  Key(w, "file");
  Str(w, s.info.path);
  Key(w, "position");
  w.Uint64(s.info.position.value);
  if (detailed) {
    Key(w, "revision");
    w.Uint(s.info.revision);
    Key(w, "bytes");
    w.Uint64(s.info.bytes);
  }
  Key(w, "valid");
  w.Bool(s.status.ok());
  if (!s.status.ok()) {
    Key(w, "problem");
    Str(w, s.status.message());
  }
  w.EndObject();
}

int Verify(const std::string& dir, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  const auto t0 = Clock::now();
  auto last_line = t0;
  CheckOptions opt;
  opt.progress = [&](uint64_t done, uint64_t total) {
    const auto now = Clock::now();
    if (now - last_line < std::chrono::seconds(1) || done >= total) return;
    last_line = now;
    std::fprintf(stderr, "verify: %s of %s (%.0f%%)\n", HumanBytes(done).c_str(),
                 HumanBytes(total).c_str(), 100.0 * static_cast<double>(done) / total);
  };
  // Snapshots are verified on the other core while the log is checked.
  auto snapshot_check =
      std::async(std::launch::async, [&dir] { return CheckSnapshots(dir, Position(UINT64_MAX)); });
  auto report = CheckLog(Env::Default(), dir, opt);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  auto snaps = snapshot_check.get();
  if (!report.ok()) {
    Err(report.status().ToString());
    return kUnusable;
  }
  // ... and against the log's end, damaged or not.
  const Position log_end =
      report->highest_seen.value > report->last.value ? report->highest_seen : report->last;
  MarkAheadOfLog(&snaps, log_end);
  size_t bad_snaps = 0;
  for (const auto& s : snaps) bad_snaps += !s.status.ok();
  const bool clean = report->problems.empty() && bad_snaps == 0;
  if (json) {
    Out(Json([&](JsonWriter& w) {
      w.StartObject();
      Key(w, "clean");
      w.Bool(clean);
      Key(w, "records");
      w.Uint64(report->records);
      Key(w, "segments");
      w.Uint64(report->segments.size());
      Key(w, "bytes");
      w.Uint64(report->bytes);
      Key(w, "streams");
      w.Uint64(report->streams);
      Key(w, "last_clean_position");
      w.Uint64(report->last.value);
      Key(w, "seconds");
      w.Double(seconds);
      Key(w, "problems");
      w.StartArray();
      for (const auto& p : report->problems) {
        w.StartObject();
        Key(w, "file");
        Str(w, p.file);
        Key(w, "offset");
        w.Uint64(p.offset);
        Key(w, "problem");
        Str(w, p.what);
        w.EndObject();
      }
      w.EndArray();
      Key(w, "snapshots");
      w.StartArray();
      for (const auto& s : snaps) SnapshotJson(w, s, false);
      w.EndArray();
      w.EndObject();
    }));
  } else {
    for (const auto& p : report->problems) Out(p.ToString());
    for (const auto& s : snaps) {
      if (!s.status.ok()) Out(s.status.message());
    }
    char line[256];
    std::snprintf(line, sizeof(line),
                  "verify: %" PRIu64 " records in %zu segments (%s), %" PRIu64
                  " streams, %zu snapshots: %s (log checked in %.2f s, %.1f M records/s)",
                  report->records, report->segments.size(), HumanBytes(report->bytes).c_str(),
                  report->streams, snaps.size(),
                  clean
                      ? "clean"
                      : (std::to_string(report->problems.size() + bad_snaps) + " problems").c_str(),
                  seconds, static_cast<double>(report->records) / seconds / 1e6);
    Out(line);
  }
  return clean ? kOk : kProblems;
}

// ---------------------------------------------------------------------------------------------

int Stats(const std::string& dir, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  ServiceOptions opt;
  opt.data_dir = dir;
  opt.log.read_only = true;
  opt.info = [](const std::string& line) { Err("stats: " + line); };
  StartupReport startup;
  auto svc = OrderService::Open(opt, &startup);
  if (!svc.ok()) {
    Err(svc.status().ToString());
    return kProblems;
  }
  const Log& log = (*svc)->log();
  for (const auto& p : log.open_problems()) Err("problem: " + p.ToString());
  const LogStats ls = log.Stats();
  const auto segments = log.Segments();
  // Events and bytes by type: one sequential pass.
  std::map<uint16_t, std::pair<uint64_t, uint64_t>> by_type;
  uint64_t record_bytes = 0;
  Status scanned = log.Scan(Position(0), [&](const RecordView& rec) {
    auto& t = by_type[rec.type];
    ++t.first;
    t.second += rec.length;
    record_bytes += rec.length;
    return true;
  });
  if (!scanned.ok()) Err("problem: " + scanned.ToString());
  std::array<size_t, kStatusCount> by_status{};
  for (int s = 0; s < kStatusCount; ++s) {
    ListFilter filter;
    filter.status = static_cast<OrderStatus>(s);
    (*svc)->List(filter, 0, 0, &by_status[s]);
  }
  const auto snaps = ListSnapshots(Env::Default(), dir);
  const uint64_t events = ls.committed.value;
  const uint64_t model_bytes = (*svc)->model().MemoryUsage();
  if (json) {
    Out(Json([&](JsonWriter& w) {
      w.StartObject();
      Key(w, "events");
      w.Uint64(events);
      Key(w, "orders");
      w.Uint64((*svc)->order_count());
      Key(w, "events_by_type");
      w.StartObject();
      for (const auto& [type, n] : by_type) {
        Key(w, EventTypeName(type));
        w.Uint64(n.first);
      }
      w.EndObject();
      Key(w, "orders_by_status");
      w.StartObject();
      for (int s = 0; s < kStatusCount; ++s) {
        Key(w, StatusName(static_cast<OrderStatus>(s)));
        w.Uint64(by_status[s]);
      }
      w.EndObject();
      Key(w, "segments");
      w.StartArray();
      for (const auto& seg : segments) {
        w.StartObject();
        Key(w, "file");
        Str(w, seg.path);
        Key(w, "records");
        w.Uint64(seg.records);
        Key(w, "bytes");
        w.Uint64(seg.bytes);
        w.EndObject();
      }
      w.EndArray();
      Key(w, "average_record_bytes");
      w.Double(events ? static_cast<double>(record_bytes) / events : 0);
      Key(w, "snapshot_positions");
      w.StartArray();
      for (const auto& s : snaps) w.Uint64(s.position.value);
      w.EndArray();
      Key(w, "index_memory_bytes");
      w.Uint64(ls.index_memory_bytes);
      Key(w, "read_model_memory_bytes");
      w.Uint64(model_bytes);
      w.EndObject();
    }));
    return kOk;
  }
  Out("events:      " + std::to_string(events) + " (last position " +
      std::to_string(ls.committed.value) + ")");
  for (const auto& [type, n] : by_type) {
    char line[128];
    std::snprintf(line, sizeof(line), "  %-20s %12" PRIu64 "  %s", EventTypeName(type), n.first,
                  HumanBytes(n.second).c_str());
    Out(line);
  }
  Out("orders:      " + std::to_string((*svc)->order_count()));
  for (int s = 0; s < kStatusCount; ++s) {
    char line[128];
    std::snprintf(line, sizeof(line), "  %-20s %12zu", StatusName(static_cast<OrderStatus>(s)),
                  by_status[s]);
    Out(line);
  }
  char avg[64];
  std::snprintf(avg, sizeof(avg), "%.1f", events ? static_cast<double>(record_bytes) / events : 0);
  Out("records:     average " + std::string(avg) + " bytes");
  Out("segments:    " + std::to_string(segments.size()));
  for (const auto& seg : segments) {
    Out("  " + seg.path.substr(seg.path.rfind('/') + 1) + "  " + std::to_string(seg.records) +
        " records  " + HumanBytes(seg.bytes) + (seg.sealed ? "  sealed" : "  active"));
  }
  std::string positions;
  for (const auto& s : snaps)
    positions += (positions.empty() ? "" : ", ") + std::to_string(s.position.value);
  Out("snapshots:   " + (snaps.empty() ? std::string("none") : "at positions " + positions));
  Out("memory:      index " + HumanBytes(ls.index_memory_bytes) + " (" +
      std::to_string(ls.streams) + " streams), read model " + HumanBytes(model_bytes));
  return kOk;
}

// ---------------------------------------------------------------------------------------------

int Snapshots(const std::string& dir, bool json) {
  const auto report = SummaryCheck(dir);
  if (!report) return kUnusable;
  const auto snaps = CheckSnapshots(dir, report->highest_seen);
  bool all_valid = true;
  if (json) {
    Out(Json([&](JsonWriter& w) {
      w.StartArray();
      for (const auto& s : snaps) SnapshotJson(w, s, true);
      w.EndArray();
    }));
  }
  for (const auto& s : snaps) {
    all_valid &= s.status.ok();
    if (json) continue;
    Out(s.info.path.substr(s.info.path.rfind('/') + 1) + "  position " +
        std::to_string(s.info.position.value) + "  revision " + std::to_string(s.info.revision) +
        "  " + HumanBytes(s.info.bytes) + "  " +
        (s.status.ok() ? std::string("valid") : "INVALID: " + s.status.message()));
  }
  if (!json && snaps.empty()) Out("no snapshots");
  return all_valid ? kOk : kProblems;
}

// ---------------------------------------------------------------------------------------------

std::string UtcStamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

int Repair(const std::string& dir, bool yes, bool json) {
  if (!DirUsable(dir)) return kUnusable;
  auto plan = PlanRepair(Env::Default(), dir);
  if (!plan.ok()) {
    Err(plan.status().ToString());
    return kProblems;
  }
  // Snapshots the cut log would not support (or that are damaged) go aside with it.
  std::vector<std::string> snapshots_moved;
  for (const auto& s : CheckSnapshots(dir, plan->keep_last)) {
    if (!s.status.ok()) snapshots_moved.push_back(s.info.path);
  }
  const bool nothing = plan->nothing_to_do() && snapshots_moved.empty();
  const uint64_t lost = plan->highest_seen.value > plan->keep_last.value
                            ? plan->highest_seen.value - plan->keep_last.value
                            : 0;
  std::vector<std::string> lines;
  for (const auto& p : plan->problems) lines.push_back("problem: " + p.ToString());
  if (plan->cut) {
    lines.push_back("keep: positions 1.." + std::to_string(plan->keep_last.value));
    lines.push_back(lost ? "lose: positions " + std::to_string(plan->keep_last.value + 1) + ".." +
                               std::to_string(plan->highest_seen.value) + " (" +
                               std::to_string(lost) +
                               " events, counting every position seen past the damage)"
                         : "lose: no event (only bytes that are not a whole record)");
    lines.push_back((plan->cut_offset == 0 ? "remove: " + plan->cut_file
                                           : "cut: " + plan->cut_file + " at offset " +
                                                 std::to_string(plan->cut_offset)) +
                    " (" + std::to_string(plan->bytes_removed) + " bytes removed in all)");
  }
  for (const auto& f : plan->files_moved) lines.push_back("move aside: " + f);
  for (const auto& f : snapshots_moved) lines.push_back("move aside: " + f);
  const std::string side = JoinPath(dir, "repair-" + UtcStamp());
  if (nothing) lines.push_back("nothing to repair");
  Status applied;
  if (!nothing && yes) {
    applied = ApplyRepair(Env::Default(), dir, *plan, side, snapshots_moved);
    lines.push_back(applied.ok() ? "repaired: everything removed is kept in " + side
                                 : "repair refused: " + applied.ToString());
  } else if (!nothing) {
    lines.push_back(
        "dry run: nothing changed; run again with --yes to repair (what is removed "
        "is kept in " +
        dir + "/repair-<time>/)");
  }
  if (json) {
    Out(Json([&](JsonWriter& w) {
      w.StartObject();
      Key(w, "needed");
      w.Bool(!nothing);
      Key(w, "applied");
      w.Bool(!nothing && yes && applied.ok());
      Key(w, "keep_last");
      w.Uint64(plan->keep_last.value);
      Key(w, "events_lost");
      w.Uint64(plan->cut ? lost : 0);
      Key(w, "messages");
      w.StartArray();
      for (const auto& l : lines) Str(w, l);
      w.EndArray();
      w.EndObject();
    }));
  } else {
    for (const auto& l : lines) Out(l);
  }
  if (nothing) return kOk;
  if (!yes) return kProblems;
  return applied.ok() ? kOk : kProblems;
}

// ---------------------------------------------------------------------------------------------

volatile std::sig_atomic_t g_stop = 0;

int Tail(const std::string& dir, uint64_t n, bool follow, bool json) {
  const auto report = SummaryCheck(dir);
  if (!report) return kUnusable;
  const uint64_t last = report->last.value;
  auto cursor = LogCursor::Open(Env::Default(), dir, Position(last > n ? last - n : 0));
  if (!cursor.ok()) {
    Err(cursor.status().ToString());
    return kUnusable;
  }
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  RecordView rec;
  for (;;) {
    const auto r = (*cursor)->Read(&rec);
    if (r == LogCursor::Next::kRecord) {
      Out(EventLine(rec, json));
      continue;
    }
    std::fflush(stdout);
    if (r == LogCursor::Next::kProblem) {
      Err("problem: " + (*cursor)->problem().ToString());
      return kProblems;
    }
    if (!follow || g_stop) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  static char out_buf[1 << 20];
  std::setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));

  CLI::App app{
      "orderlog-inspect: look into an orderlog data directory (read-only; safe beside a running "
      "server, except `repair --yes`)"};
  app.require_subcommand(1);
  std::string dir;
  bool json = false;
  auto with_dir = [&](CLI::App* sub, bool data_output = true) {
    sub->add_option("DIR", dir, "the data directory")->required();
    if (data_output) sub->add_flag("--json", json, "machine-readable output (JSON / JSON Lines)");
  };

  auto* segments = app.add_subcommand("segments",
                                      "every segment file: positions, records, "
                                      "bytes, sealed or active, timestamps, index");
  with_dir(segments);

  DumpFilter filter;
  auto* dump = app.add_subcommand("dump", "records in position order, decoded, one per line");
  with_dir(dump);
  dump->add_option("--from", filter.from, "first position")->check(CLI::PositiveNumber);
  dump->add_option("--to", filter.to, "last position")->check(CLI::PositiveNumber);
  dump->add_option("--limit", filter.limit, "at most N records");
  dump->add_option("--order", filter.order, "only this order's events");
  dump->add_option("--type", filter.type, "only events of this type (name or number)");

  std::string order_id;
  auto* order = app.add_subcommand("order", "one order's history and folded state");
  with_dir(order);
  order->add_option("ID", order_id, "the order id")->required();

  auto* verify = app.add_subcommand(
      "verify",
      "check every record, segment, index file and snapshot; exit 0 clean, 1 problems, "
      "2 unusable");
  with_dir(verify);

  auto* stats = app.add_subcommand("stats", "events, orders, types, statuses, sizes, memory");
  with_dir(stats);

  auto* snapshots = app.add_subcommand("snapshots", "snapshot files: position, size, valid");
  with_dir(snapshots);

  bool yes = false;
  auto* repair = app.add_subcommand(
      "repair",
      "cut a torn tail or the log at its first corrupt record (keeping what is cut); "
      "without --yes only says what it would do");
  with_dir(repair);
  repair->add_flag("--yes", yes, "do it (takes the directory lock: stop the server first)");

  uint64_t lines = 10;
  bool follow = false;
  auto* tail = app.add_subcommand("tail", "the last events; with -f, follow new ones");
  with_dir(tail);
  tail->add_option("-n,--lines", lines, "how many of the last events (default 10)");
  tail->add_flag("-f,--follow", follow, "keep printing events as the server appends them");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUnusable;
  }
  if (*segments) return Segments(dir, json);
  if (*dump) return Dump(dir, filter, json);
  if (*order) return Order(dir, order_id, json);
  if (*verify) return Verify(dir, json);
  if (*stats) return Stats(dir, json);
  if (*snapshots) return Snapshots(dir, json);
  if (*repair) return Repair(dir, yes, json);
  if (*tail) return Tail(dir, lines, follow, json);
  return kUnusable;
}
