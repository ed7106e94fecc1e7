#include "server/http/json_body.h"

#include "server/domain/text.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <set>
#include <vector>

namespace orderlog::http {

std::optional<int64_t> ParseIntegerLiteral(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t k = i; k < s.size(); ++k) {
    if (s[k] < '0' || s[k] > '9') return std::nullopt;  // fraction or exponent
  }
  if (s[i] == '0' && s.size() > i + 1) return std::nullopt;  // leading zero (not JSON)
  if (s == "-0") return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;  // out of range
  return v;
}

namespace {

// SAX handler: checks duplicate keys at every depth and string encodings, and records the
// top-level members.
class Handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Handler> {
 public:
  bool Null() { return Value(JsonType::kNull, {}); }
  bool Bool(bool b) { return Value(JsonType::kBool, b ? "true" : "false"); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return Value(JsonType::kNumber, std::string_view(s, n));
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (!domain::IsValidUtf8(std::string_view(s, n)))
      return Fail("invalid UTF-8 or lone surrogate in a string");
    return Value(JsonType::kString, std::string_view(s, n));
  }
  bool StartObject() {
    if (!Value(JsonType::kObject, {})) return false;
    keys_.emplace_back();
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    const std::string_view key(s, n);
    if (!domain::IsValidUtf8(key)) return Fail("invalid UTF-8 or lone surrogate in a key");
    if (!keys_.back().emplace(key).second)
      return Fail("duplicate key \"" + std::string(key) + "\"");
    if (keys_.size() == 1) pending_key_ = std::string(key);
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool StartArray() {
    if (!Value(JsonType::kArray, {})) return false;
    keys_.emplace_back();  // arrays have no keys; keeps depth bookkeeping uniform
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    keys_.pop_back();
    --depth_;
    return true;
  }

  JsonObject object;
  std::string error;
  bool root_is_object = false;

 private:
  bool Value(JsonType type, std::string_view text) {
    if (depth_ == 0) {
      root_is_object = type == JsonType::kObject;
      if (!root_is_object) return Fail("the body must be a JSON object");
    } else if (depth_ == 1) {
      object.members[pending_key_] = JsonMember{type, std::string(text)};
    }
    if (type == JsonType::kObject || type == JsonType::kArray) {
      if (++depth_ > kMaxDepth) return Fail("JSON nested too deeply");
    }
    return true;
  }
  bool Fail(std::string why) {
    error = std::move(why);
    return false;
  }

  static constexpr int kMaxDepth = 64;
  int depth_ = 0;
  std::string pending_key_;
  std::vector<std::set<std::string, std::less<>>> keys_;
};

}  // namespace

JsonParseResult ParseJsonObject(std::string_view body) {
  JsonParseResult result;
  if (body.size() >= 3 && body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    result.error = "Request body is empty; a JSON object is required";
    return result;
  }
  Handler handler;
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(body.data(), body.size());
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag;
  rapidjson::ParseResult ok = reader.Parse<kFlags>(ms, handler);
  if (!ok) {
    result.error = !handler.error.empty()
                       ? "Malformed JSON: " + handler.error
                       : std::string("Malformed JSON at offset ") + std::to_string(ok.Offset()) +
                             ": " + rapidjson::GetParseError_En(ok.Code());
    return result;
  }
  result.object = std::move(handler.object);
  return result;
}

}  // namespace orderlog::http
