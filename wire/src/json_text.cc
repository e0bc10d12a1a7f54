#include "wire/json_text.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

namespace wire {

namespace json = boost::json;

namespace {

void Append(const json::value& v, std::string* out) {
  switch (v.kind()) {
    case json::kind::null:
      *out += "null";
      return;
    case json::kind::bool_:
      *out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::int64:
      *out += std::to_string(v.get_int64());
      return;
    case json::kind::uint64:
      *out += std::to_string(v.get_uint64());
      return;
    case json::kind::double_:
      *out += FormatDecimal(v.get_double());
      return;
    case json::kind::string:
      *out += json::serialize(v.get_string());
      return;
    case json::kind::array: {
      *out += '[';
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) *out += ',';
        first = false;
        Append(e, out);
      }
      *out += ']';
      return;
    }
    case json::kind::object: {
      *out += '{';
      bool first = true;
      for (const json::key_value_pair& kv : v.get_object()) {
        if (!first) *out += ',';
        first = false;
        *out += json::serialize(json::string_view(kv.key()));
        *out += ':';
        Append(kv.value(), out);
      }
      *out += '}';
      return;
    }
  }
}

}  // namespace

std::string FormatDecimal(double d) {
  if (!std::isfinite(d)) return "null";
  // Fixed notation with no precision: the shortest that round-trips. The
  // largest double is 309 digits; the smallest subnormal 1,076 characters.
  char buf[1100];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  if (ec != std::errc()) return "null";
  std::string out(buf, end);
  if (out.find('.') == std::string::npos) out += ".0";
  return out;
}

std::string Serialize(const json::value& v) {
  std::string out;
  Append(v, &out);
  return out;
}

}  // namespace wire
