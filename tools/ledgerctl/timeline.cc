// ledgerctl timeline: one referral's history, one line per event.
#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <string>

#include "commands.h"
#include "ledger/event_json.h"

namespace ledgerctl {

namespace json = boost::json;

namespace {

// A duration as a person reads it: "45m", "3h12m", "2d4h", "3w1d".
std::string Lag(ledger::Micros d) {
  const int64_t minutes = std::max<int64_t>(0, d) / (60 * ledger::kMicrosPerSecond);
  const int64_t h = minutes / 60, days = h / 24;
  char buf[48];
  if (minutes < 60)
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(minutes));
  else if (h < 24)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(h),
                  static_cast<long long>(minutes % 60));
  else if (days < 14)
    std::snprintf(buf, sizeof buf, "%lldd%lldh", static_cast<long long>(days),
                  static_cast<long long>(h % 24));
  else
    std::snprintf(buf, sizeof buf, "%lldw%lldd", static_cast<long long>(days / 7),
                  static_cast<long long>(days % 7));
  return buf;
}

}  // namespace

int Timeline(const Args& a) {
  if (a.positional.size() != 1) return Usage("timeline takes one REFERRAL");
  projections::ViewQuery q;
  if (!ParseAsOf(a, &q)) return Usage("--as-of must be a seq or an RFC 3339 time");
  int code = 0;
  std::optional<Opened> o = OpenViews(a, &code);
  if (!o) return code;
  auto view = o->projector->Referral(a.positional[0], q);
  if (!view.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", view.status().message().c_str());
    return 1;
  }
  const json::object& v = *view;
  auto text = [](const json::value& x) { return std::string(x.as_string()); };
  std::printf("referral %s, area %s, state %s (as of seq %s)\n", a.positional[0].c_str(),
              text(v.at("area")).c_str(), text(v.at("state")).c_str(),
              json::serialize(v.at("as_of_seq")).c_str());
  // Each event: when it happened, what it was, and when and by whom it was
  // recorded (the lag between the two is part of the record).
  for (const json::value& e : v.at("events").as_array()) {
    const auto occurred = ledger::ParseTimestamp(text(e.at("occurred_at")));
    const auto recorded = ledger::ParseTimestamp(text(e.at("recorded_at")));
    std::printf("  %8s  %-27s %-21s %s  [recorded %s later by %s]\n",
                json::serialize(e.at("seq")).c_str(), text(e.at("occurred_at")).c_str(),
                text(e.at("type")).c_str(), json::serialize(e.at("data")).c_str(),
                occurred && recorded ? Lag(*recorded - *occurred).c_str() : "?",
                text(e.at("actor")).c_str());
  }
  std::string facts;
  if (const json::value& first = v.at("first_decision"); first.is_string()) {
    facts += "first decision: " + text(first) + " after " +
             json::serialize(v.at("decision_wait_days")) + " days";
    if (v.at("overturned_on_appeal").as_bool()) facts += ", overturned on appeal";
  } else {
    facts += "no decision yet";
  }
  if (const json::value& w = v.at("start_wait_days"); !w.is_null()) {
    facts += "; placement started " + json::serialize(w) + " days after referral";
  }
  if (const json::value& w = v.at("waiting_days"); !w.is_null()) {
    facts += "; open, waiting " + json::serialize(w) + " days so far";
  }
  std::printf("%s\n", facts.c_str());
  return 0;
}

}  // namespace ledgerctl
