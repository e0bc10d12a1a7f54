// Compares a view with an expected answer by the rules of
// tests/data/examples/README.md: every expected key must be present with an
// equal value (extra keys are allowed), arrays match element by element,
// integers exactly, other numbers within 1e-9 relative, and strings holding
// an RFC 3339 time as instants.
#pragma once

#include <boost/json.hpp>
#include <cmath>
#include <string>

#include "ledger/time.h"

namespace ledger::testing {

// Empty when `actual` matches `expected`, else where and how it differs.
inline std::string JsonMismatch(const boost::json::value& expected,
                                const boost::json::value& actual, const std::string& path = "$") {
  namespace json = boost::json;
  auto differ = [&](const std::string& why) {
    return path + ": " + why + " (expected " + json::serialize(expected) + ", got " +
           json::serialize(actual) + ")";
  };
  switch (expected.kind()) {
    case json::kind::object: {
      if (!actual.is_object()) return differ("not an object");
      for (const auto& [key, value] : expected.as_object()) {
        const json::value* got = actual.as_object().if_contains(key);
        if (!got) return path + "." + std::string(key) + ": missing";
        std::string m = JsonMismatch(value, *got, path + "." + std::string(key));
        if (!m.empty()) return m;
      }
      return "";
    }
    case json::kind::array: {
      if (!actual.is_array()) return differ("not an array");
      const auto& e = expected.as_array();
      const auto& a = actual.as_array();
      if (e.size() != a.size()) return differ("length " + std::to_string(a.size()));
      for (size_t i = 0; i < e.size(); ++i) {
        std::string m = JsonMismatch(e[i], a[i], path + "[" + std::to_string(i) + "]");
        if (!m.empty()) return m;
      }
      return "";
    }
    case json::kind::int64:
    case json::kind::uint64: {
      if (!actual.is_int64() && !actual.is_uint64()) return differ("not an integer");
      const bool equal = expected.is_int64() && actual.is_int64()
                             ? expected.get_int64() == actual.get_int64()
                             : json::value_to<double>(expected) == json::value_to<double>(actual);
      return equal ? "" : differ("different integer");
    }
    case json::kind::double_: {
      if (!actual.is_number()) return differ("not a number");
      const double e = expected.get_double();
      const double a = json::value_to<double>(actual);
      if (e == 0) return a == 0 ? "" : differ("not exactly 0");
      return std::fabs(a - e) <= 1e-9 * std::fabs(e) ? "" : differ("beyond 1e-9 relative");
    }
    case json::kind::string: {
      if (!actual.is_string()) return differ("not a string");
      if (expected.as_string() == actual.as_string()) return "";
      auto te = ParseTimestamp(expected.as_string());
      auto ta = ParseTimestamp(actual.as_string());
      return te && ta && *te == *ta ? "" : differ("different string");
    }
    case json::kind::bool_:
      return actual.is_bool() && actual.get_bool() == expected.get_bool() ? ""
                                                                          : differ("different");
    case json::kind::null:
      return actual.is_null() ? "" : differ("not null");
  }
  return differ("unknown kind");
}

}  // namespace ledger::testing
