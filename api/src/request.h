// A request's target and query parameters, read once and checked like
// bodies: every bad or unknown parameter named (docs/API.md, "Answers").
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/event.h"
#include "ledger/status.h"
#include "ledger/time.h"
#include "projections/projector.h"

namespace api {

// Whether a Content-Type names application/json (parameters allowed).
bool IsJsonMediaType(std::string_view ct);

// A whole number of at most 19 decimal digits (so it fits in 63 bits).
std::optional<uint64_t> ParseCount(std::string_view text);

// A parsed request target: its path segments and query parameters.
struct Target {
  std::vector<std::string> segments;
  std::map<std::string, std::string> params;
  std::vector<ledger::FieldError> errors;  // repeated parameters
};

// The path segments and query parameters of an origin-form target, or
// nullopt when it does not parse.
std::optional<Target> ParseTarget(const std::string& target);

// Query parameters of one route: each is read once; what is left unread is
// an unknown parameter (400).
class Params {
 public:
  explicit Params(Target& t) : t_(t), errors_(t.errors) {}

  std::optional<std::string> Take(const std::string& key) {
    auto it = t_.params.find(key);
    if (it == t_.params.end()) return std::nullopt;
    std::string v = std::move(it->second);
    t_.params.erase(it);
    // An empty value ("area=") is a parameter not given, as from an empty
    // form field.
    if (v.empty()) return std::nullopt;
    return v;
  }
  std::optional<uint64_t> Uint(const std::string& key, uint64_t max, uint64_t min = 0) {
    auto v = Take(key);
    if (!v) return std::nullopt;
    std::optional<uint64_t> out = ParseCount(*v);
    if (!out || *out > max || *out < min) {
      Bad(key, "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    return out;
  }
  std::optional<int64_t> Date(const std::string& key) {
    auto v = Take(key);
    if (!v) return std::nullopt;
    auto d = ledger::ParseDate(*v);
    if (!d) Bad(key, "must be a date, YYYY-MM-DD");
    return d;
  }
  std::optional<ledger::Micros> Time(const std::string& key) {
    auto v = Take(key);
    if (!v) return std::nullopt;
    auto t = ledger::ParseTimestamp(*v);
    if (!t) Bad(key, "must be an RFC 3339 UTC time, as 2025-01-31T09:00:00Z");
    return t;
  }
  template <typename E>
  std::optional<E> Enum(const std::string& key) {
    auto v = Take(key);
    if (!v) return std::nullopt;
    auto e = ledger::ParseEnum<E>(*v);
    if (!e) {
      std::string allowed;
      for (size_t i = 0; i < ledger::EnumCount<E>(); ++i) {
        allowed += (i ? ", " : "") + std::string(ledger::ToString(static_cast<E>(i)));
      }
      Bad(key, "must be one of " + allowed);
    }
    return e;
  }
  void Bad(const std::string& key, std::string message) {
    errors_.push_back({key, std::move(message)});
  }
  bool HasError(const std::string& key) const {
    return std::any_of(errors_.begin(), errors_.end(),
                       [&](const ledger::FieldError& e) { return e.field == key; });
  }
  // The 400 for bad or unknown parameters, or OK.
  ledger::Status Finish() {
    for (const auto& [key, value] : t_.params) Bad(key, "is not a parameter of this route");
    t_.params.clear();
    return ledger::Status::InvalidFields(errors_);
  }

 private:
  Target& t_;
  std::vector<ledger::FieldError> errors_;
};

// from, to, as_of (a seq or a time) and at.
projections::ViewQuery PeriodQuery(Params& p);

}  // namespace api
