// orderlog-inspect's shared pieces: exit codes, the one place output is written (text lines or
// JSON), and the checks several subcommands share. One file per subcommand beside it.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cinttypes>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/check.h"
#include "engine/cursor.h"
#include "engine/log.h"
#include "engine/segment.h"
#include "server/domain/events.h"
#include "server/domain/order_json.h"
#include "server/domain/order_service.h"
#include "server/domain/snapshot.h"

namespace orderlog::inspect {

using namespace orderlog::domain;  // the tool speaks the domain's language throughout
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr int kOk = 0;
constexpr int kProblems = 1;
constexpr int kUnusable = 2;

// output.cc
void Out(const std::string& line);  // one line of output (text, or a JSON document)
void Err(const std::string& line);
std::string Json(const std::function<void(JsonWriter&)>& fn);
void Key(JsonWriter& w, std::string_view k);
void Str(JsonWriter& w, std::string_view s);
std::string Ts(int64_t ms);
std::string HumanBytes(uint64_t n);
std::string Hex(std::string_view bytes, size_t max);
// One record as a line: decoded when it is an order event, raw (hex) otherwise.
std::string EventLine(const RecordView& rec, bool json);
bool DirUsable(const std::string& dir);
// The segments and their bounds without reading every record (headers, footers, .idx files, the
// active tail): what segments, snapshots and tail need. nullopt (said why) if unusable.
std::optional<CheckReport> SummaryCheck(const std::string& dir);

// snapshots.cc, shared with verify.cc
struct SnapshotCheck {
  SnapshotInfo info;
  Status status;  // header and body
};
void MarkAheadOfLog(std::vector<SnapshotCheck>* snaps, Position log_last);
std::vector<SnapshotCheck> CheckSnapshots(const std::string& dir, Position log_last);
class Report;
Report SnapshotReport(const SnapshotCheck& s, bool detailed);

// The subcommands, one file each; each returns the exit code.
struct DumpFilter {
  uint64_t from = 1;
  uint64_t to = UINT64_MAX;
  uint64_t limit = UINT64_MAX;
  std::string order;
  std::string type;
};

int Segments(const std::string& dir, bool json);
int Dump(const std::string& dir, const DumpFilter& f, bool json);
int Order(const std::string& dir, const std::string& id, bool json);
int Verify(const std::string& dir, bool json);
int Stats(const std::string& dir, bool json);
int Snapshots(const std::string& dir, bool json);
int Repair(const std::string& dir, bool yes, bool json);
int Tail(const std::string& dir, uint64_t n, bool follow, bool json);

}  // namespace orderlog::inspect
