// What a subcommand reports, described once and printed either as JSON (--json) or as text, so
// that the two outputs cannot drift apart. A tree: objects (members in order), lists, scalars.
//
// Text: an object is one "key: value" line per member, keys aligned, nested objects and lists
// indented under their key; a list of objects is a table (the first item's keys are the columns);
// a list of scalars is one comma-separated line (of scalars given Text(), one line each). A node
// given Text() prints that instead (a
// summary line, a problem as "file offset n: why", a byte count as "1.5 MiB").
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tools/inspect/inspect.h"

namespace orderlog::inspect {

class Report {
 public:
  static Report Object() { return Report(Kind::kObject); }
  static Report List() { return Report(Kind::kList); }
  static Report Null() { return Report(Kind::kNull); }
  Report(uint64_t v) : kind_(Kind::kUint), uint_(v) {}                    // NOLINT
  Report(double v) : kind_(Kind::kDouble), double_(v) {}                  // NOLINT
  Report(bool v) : kind_(Kind::kBool), bool_(v) {}                        // NOLINT
  Report(std::string v) : kind_(Kind::kString), string_(std::move(v)) {}  // NOLINT
  Report(const char* v) : Report(std::string(v)) {}                       // NOLINT

  // Object member, in order.
  Report& Add(std::string key, Report value);
  // List item.
  Report& Push(Report value);
  // How this node reads in text output (a line).
  Report& Text(std::string line);

  void WriteJson(JsonWriter& w) const;
  std::string Json() const;
  std::vector<std::string> TextLines() const;

 private:
  enum class Kind : unsigned char { kNull, kBool, kUint, kDouble, kString, kObject, kList };
  explicit Report(Kind k) : kind_(k) {}
  bool scalar() const { return kind_ != Kind::kObject && kind_ != Kind::kList; }
  std::string ScalarText() const;
  void AppendText(std::vector<std::string>* out, const std::string& indent) const;
  void AppendTable(std::vector<std::string>* out, const std::string& indent) const;

  Kind kind_;
  bool bool_ = false;
  uint64_t uint_ = 0;
  double double_ = 0;
  std::string string_;
  std::string text_;
  std::vector<std::pair<std::string, Report>> members_;  // kObject
  std::vector<Report> items_;                            // kList
};

// Writes the report: one JSON document, or its text lines.
void Print(const Report& r, bool json);

// The shapes several subcommands print.
Report BytesReport(uint64_t bytes);          // the number; "1.5 MiB" in text
Report FileReport(const std::string& path);  // the path; its last component in text
Report ProblemReport(const LogProblem& p);   // {file, offset, problem}; "file offset n: why"

}  // namespace orderlog::inspect
