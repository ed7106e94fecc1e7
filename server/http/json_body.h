// Strict parsing of request bodies: one JSON object, nothing else. What is not well-formed JSON in
// the contract's sense (empty or blank body, invalid UTF-8, a lone surrogate escape, duplicate
// keys at any depth, trailing garbage, a non-object) is an error (400); a leading UTF-8 byte-order
// mark is skipped. The top-level members are kept with their JSON type and, for numbers, their
// literal text, so that `2.0`, `1e2` and `-0` can be told from the integer 2.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace orderlog::http {

enum class JsonType : unsigned char { kNull, kBool, kNumber, kString, kObject, kArray };

struct JsonMember {
  JsonType type = JsonType::kNull;
  std::string text;  // strings: the decoded value; numbers: the literal; booleans: true/false
};

struct JsonObject {
  std::map<std::string, JsonMember, std::less<>> members;
  const JsonMember* Find(std::string_view name) const {
    auto it = members.find(name);
    return it == members.end() ? nullptr : &it->second;
  }
};

struct JsonParseResult {
  std::optional<JsonObject> object;
  std::string error;  // when !object: why, for the 400 detail
};

JsonParseResult ParseJsonObject(std::string_view body);

// A JSON integer literal (no fraction, no exponent, not "-0") within int64; nullopt otherwise.
std::optional<int64_t> ParseIntegerLiteral(std::string_view literal);

}  // namespace orderlog::http
