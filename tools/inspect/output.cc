// Output helpers shared by every subcommand.
#include "tools/inspect/inspect.h"

namespace orderlog::inspect {

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

std::string EventLine(const RecordView& rec, bool json) {
  auto decoded = ToOrderEventRecord(rec);
  if (json) {
    if (decoded.ok()) return EventJson(*decoded, true);
    return UndecodableEventJson(rec, decoded.status().message(),
                                Hex(rec.payload, rec.payload.size()));
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

}  // namespace orderlog::inspect
