// ledgerctl timeline: one referral's history, one line per event.
#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <string>

#include "commands.h"
#include "wire/event_json.h"

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
  const projections::ReferralReport& v = *view;
  std::printf("referral %s, area %s, state %s (as of seq %llu)\n", v.referral_id.c_str(),
              v.received.area.c_str(), std::string(ledger::ToString(v.state)).c_str(),
              static_cast<unsigned long long>(v.as_of_seq));
  // Each event: when it happened, what it was, and when and by whom it was
  // recorded (the lag between the two is part of the record).
  for (const ledger::Event& e : v.events) {
    std::printf("  %8llu  %-27s %-21s %s  [recorded %s later by %s]\n",
                static_cast<unsigned long long>(e.seq),
                ledger::FormatTimestamp(e.occurred_at).c_str(),
                std::string(ledger::ToString(ledger::TypeOf(e.data))).c_str(),
                json::serialize(ledger::EventDataToJson(e.data)).c_str(),
                Lag(e.recorded_at - e.occurred_at).c_str(), e.actor.c_str());
  }
  std::string facts;
  if (v.first_decision) {
    facts += "first decision: " + std::string(projections::ToString(*v.first_decision)) +
             " after " + std::to_string(*v.decision_wait_days) + " days";
    if (v.overturned_on_appeal) facts += ", overturned on appeal";
  } else {
    facts += "no decision yet";
  }
  if (v.start_wait_days) {
    facts += "; placement started " + std::to_string(*v.start_wait_days) + " days after referral";
  }
  if (v.waiting_days) {
    facts += "; open, waiting " + std::to_string(*v.waiting_days) + " days so far";
  }
  std::printf("%s\n", facts.c_str());
  return 0;
}

}  // namespace ledgerctl
