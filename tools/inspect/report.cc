#include "tools/inspect/report.h"

#include <algorithm>
#include <cstdio>

namespace orderlog::inspect {

Report& Report::Add(std::string key, Report value) {
  members_.emplace_back(std::move(key), std::move(value));
  return *this;
}

Report& Report::Push(Report value) {
  items_.push_back(std::move(value));
  return *this;
}

Report& Report::Text(std::string line) {
  text_ = std::move(line);
  return *this;
}

void Report::WriteJson(JsonWriter& w) const {
  switch (kind_) {
    case Kind::kNull:
      w.Null();
      break;
    case Kind::kBool:
      w.Bool(bool_);
      break;
    case Kind::kUint:
      w.Uint64(uint_);
      break;
    case Kind::kDouble:
      w.Double(double_);
      break;
    case Kind::kString:
      Str(w, string_);
      break;
    case Kind::kObject:
      w.StartObject();
      for (const auto& [key, value] : members_) {
        Key(w, key);
        value.WriteJson(w);
      }
      w.EndObject();
      break;
    case Kind::kList:
      w.StartArray();
      for (const auto& item : items_) item.WriteJson(w);
      w.EndArray();
      break;
  }
}

std::string Report::Json() const {
  return inspect::Json([this](JsonWriter& w) { WriteJson(w); });
}

std::string Report::ScalarText() const {
  if (!text_.empty()) return text_;
  switch (kind_) {
    case Kind::kNull:
      return "-";
    case Kind::kBool:
      return bool_ ? "yes" : "no";
    case Kind::kUint:
      return std::to_string(uint_);
    case Kind::kDouble: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.2f", double_);
      return buf;
    }
    case Kind::kString:
      return string_;
    case Kind::kObject:
    case Kind::kList:
      break;
  }
  return "";
}

std::vector<std::string> Report::TextLines() const {
  std::vector<std::string> out;
  AppendText(&out, "");
  return out;
}

void Report::AppendText(std::vector<std::string>* out, const std::string& indent) const {
  if (!text_.empty() || scalar()) {
    out->push_back(indent + ScalarText());
    return;
  }
  if (kind_ == Kind::kList) {
    const bool table =
        !items_.empty() && items_.front().kind_ == Kind::kObject && items_.front().text_.empty();
    if (table) {
      AppendTable(out, indent);
    } else {
      for (const auto& item : items_) item.AppendText(out, indent);
    }
    return;
  }
  size_t width = 0;
  for (const auto& [key, value] : members_) width = std::max(width, key.size());
  for (const auto& [key, value] : members_) {
    const std::string label = indent + key + ":" + std::string(width - key.size() + 1, ' ');
    const bool inline_list =
        value.kind_ == Kind::kList && value.text_.empty() &&
        std::all_of(value.items_.begin(), value.items_.end(),
                    [](const Report& i) { return i.scalar() && i.text_.empty(); });
    if (value.scalar() || !value.text_.empty()) {
      out->push_back(label + value.ScalarText());
    } else if (inline_list) {
      std::string line;
      for (const auto& i : value.items_) line += (line.empty() ? "" : ", ") + i.ScalarText();
      out->push_back(label + (line.empty() ? "none" : line));
    } else if (value.kind_ == Kind::kList && value.items_.empty()) {
      out->push_back(label + "none");
    } else {
      out->push_back(indent + key + ":");
      value.AppendText(out, indent + "  ");
    }
  }
}

void Report::AppendTable(std::vector<std::string>* out, const std::string& indent) const {
  std::vector<std::string> columns;
  for (const auto& [key, value] : items_.front().members_) columns.push_back(key);
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> width(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) width[c] = columns[c].size();
  for (const auto& item : items_) {
    auto& row = rows.emplace_back(columns.size());
    for (const auto& [key, value] : item.members_) {
      const auto at = std::find(columns.begin(), columns.end(), key);
      if (at == columns.end()) continue;
      const size_t c = static_cast<size_t>(at - columns.begin());
      row[c] = value.scalar() || !value.text_.empty() ? value.ScalarText() : "...";
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = indent;
    for (size_t c = 0; c < cells.size(); ++c) {
      s += cells[c];
      if (c + 1 < cells.size()) s += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    out->push_back(s);
  };
  line(columns);
  for (const auto& row : rows) line(row);
}

Report BytesReport(uint64_t bytes) {
  return Report(bytes).Text(HumanBytes(bytes));
}

Report FileReport(const std::string& path) {
  return Report(path).Text(path.substr(path.rfind('/') + 1));
}

Report ProblemReport(const LogProblem& p) {
  Report r = Report::Object();
  r.Add("file", p.file).Add("offset", p.offset).Add("problem", p.reason);
  return r.Text(p.ToString());
}

void Print(const Report& r, bool json) {
  if (json) {
    Out(r.Json());
    return;
  }
  for (const auto& line : r.TextLines()) Out(line);
}

}  // namespace orderlog::inspect
