#include "server/http/json_out.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace orderlog::http {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string Take(const rapidjson::StringBuffer& b) {
  return std::string(b.GetString(), b.GetSize());
}

}  // namespace

std::string ErrorJson(std::string_view detail) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  Str(w, "detail");
  Str(w, detail);
  w.EndObject();
  return Take(b);
}

std::string MessageJson(std::string_view order_id, std::string_view message) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  Str(w, "order_id");
  Str(w, order_id);
  Str(w, "message");
  Str(w, message);
  w.EndObject();
  return Take(b);
}

std::string HealthJson(uint64_t position, uint64_t orders, const char* status,
                       const std::string& detail) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  Str(w, "status");
  Str(w, status);
  if (!detail.empty()) {
    Str(w, "detail");
    Str(w, detail);
  }
  Str(w, "position");
  w.Uint64(position);
  Str(w, "orders");
  w.Uint64(orders);
  w.EndObject();
  return Take(b);
}

}  // namespace orderlog::http
