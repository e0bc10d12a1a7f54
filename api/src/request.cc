#include "request.h"

#include <boost/url.hpp>
#include <cctype>

namespace api {

namespace urls = boost::urls;
using ledger::FieldError;
using ledger::Status;

bool IsJsonMediaType(std::string_view ct) {
  const size_t semi = ct.find(';');
  std::string_view type = ct.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  if (type.size() != kJson.size()) return false;
  for (size_t i = 0; i < type.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(type[i])) != kJson[i]) return false;
  }
  return true;
}

// A whole number of at most 19 decimal digits (so it fits in 63 bits).
std::optional<uint64_t> ParseCount(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return out;
}

std::optional<Target> ParseTarget(const std::string& target) {
  auto u = urls::parse_origin_form(target);
  if (!u) return std::nullopt;
  Target t;
  for (auto seg : u->segments()) t.segments.emplace_back(seg);
  // A '+' is a plus sign, as RFC 3986 has it, not a space as in HTML forms:
  // times such as 2025-01-01T00:00:00+00:00 arrive as written (no parameter
  // of this API holds a space).
  for (auto p : u->params(urls::encoding_opts(/*space_as_plus=*/false))) {
    // An empty piece ("?", "a=1&&b=2") names nothing, as in HTML forms.
    if (p.key.empty() && !p.has_value) continue;
    std::string key(p.key);
    if (t.params.count(key)) t.errors.push_back({key, "is given more than once"});
    t.params[key] = std::string(p.value);
  }
  return t;
}

// from, to, as_of (a seq or a time) and at.
projections::ViewQuery PeriodQuery(Params& p) {
  projections::ViewQuery q;
  q.from_day = p.Date("from");
  q.to_day = p.Date("to");
  if (q.from_day && q.to_day && *q.to_day < *q.from_day) p.Bad("to", "must not be before from");
  if (auto as_of = p.Take("as_of")) {
    if (std::optional<uint64_t> seq = ParseCount(*as_of)) {
      q.as_of_seq = seq;
    } else if (std::all_of(as_of->begin(), as_of->end(),
                           [](char c) { return c >= '0' && c <= '9'; })) {
      q.as_of_seq = UINT64_MAX;  // a seq too large to hold is beyond the head: the head
    } else if (auto t = ledger::ParseTimestamp(*as_of)) {
      q.as_of_time = *t;
    } else {
      p.Bad("as_of", "must be a seq or an RFC 3339 UTC time");
    }
  }
  q.at = p.Time("at");
  return q;
}

}  // namespace api
