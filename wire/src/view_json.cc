#include "wire/view_json.h"

#include "wire/event_json.h"

namespace wire {

namespace json = boost::json;
using namespace projections;

namespace {

template <typename T>
json::value Opt(const std::optional<T>& v) {
  return v ? json::value(*v) : json::value();
}
json::value Opt(const std::optional<Interval>& v) {
  if (!v) return json::value();
  return json::array{v->low, v->high};
}
json::value DateOrNull(const std::optional<int64_t>& day) {
  if (!day) return json::value();
  return json::value(ledger::FormatDate(*day));
}

// as_of_seq, from and to: every period view starts with them.
template <typename Report>
json::object Header(const Report& r) {
  json::object o;
  o["as_of_seq"] = r.as_of_seq;
  o["from"] = DateOrNull(r.from_day);
  o["to"] = DateOrNull(r.to_day);
  return o;
}

// {"value name": count, ...} in the enum's order.
template <typename E>
json::object EnumCounts(const CountsBy<E>& counts) {
  json::object o;
  for (size_t i = 0; i < counts.size(); ++i) o[ledger::ToString(static_cast<E>(i))] = counts[i];
  return o;
}

void AddReference(const AreaReference& r, json::object* o) {
  (*o)["name"] = r.info ? json::value(r.info->name) : json::value();
  (*o)["region"] = r.info ? json::value(r.info->region) : json::value();
  (*o)["population"] = r.info ? json::value(r.info->population) : json::value();
  (*o)["referrals_per_100k"] = Opt(r.referrals_per_100k);
  (*o)["placements_per_100k"] = Opt(r.placements_per_100k);
}

json::object DecisionsJson(const DecisionFigures& d) {
  json::object o;
  o["referrals"] = d.referrals;
  o["decisions"] = d.decisions;
  o["approved"] = d.approved;
  o["refused"] = d.refused;
  o["overturned_on_appeal"] = d.overturned_on_appeal;
  o["refusal_rate"] = Opt(d.refusal_rate);
  o["refusal_rate_ci95"] = Opt(d.refusal_rate_ci95);
  o["refusals_by_reason"] = EnumCounts<ledger::RefusalReason>(d.refusals_by_reason);
  o["refusals_by_stage"] = EnumCounts<ledger::RefusalStage>(d.refusals_by_stage);
  o["placements_started"] = d.placements_started;
  json::object equality;
  for (const EqualityDimension& dim : d.equality) {
    json::object groups;
    for (const EqualityGroup& g : dim.groups) {
      groups[g.name] = json::object{{"decisions", g.counts.decisions},
                                    {"approved", g.counts.approved},
                                    {"refused", g.counts.refused},
                                    {"approval_rate", Opt(g.rates.approval_rate)},
                                    {"disparity_ratio", Opt(g.rates.disparity_ratio)},
                                    {"four_fifths_flag", g.rates.four_fifths_flag}};
    }
    equality[dim.name] = std::move(groups);
  }
  o["equality"] = std::move(equality);
  return o;
}

json::object FunnelJson(const FunnelPoint& f) {
  return json::object{{"n", f.n},
                      {"p", Opt(f.p)},
                      {"z", Opt(f.z)},
                      {"limits95", Opt(f.limits95)},
                      {"limits998", Opt(f.limits998)},
                      {"flag", ToString(f.flag)}};
}

json::array WeeksJson(const std::vector<uint64_t>& by_week) {
  return json::array(by_week.begin(), by_week.end());
}

json::object WaitJson(const WaitFigures& w) {
  return json::object{{"n", w.summary.n},
                      {"mean", Opt(w.summary.mean)},
                      {"median", Opt(w.summary.median)},
                      {"p92", Opt(w.summary.p92)},
                      {"max", Opt(w.summary.max)},
                      {"by_week", WeeksJson(w.by_week)}};
}

json::object WaitsJson(const PathwayWaits& w) {
  json::object o;
  o["completed"] = WaitJson(w.completed);
  o["open"] = json::object{{"count", w.open.summary.count},
                           {"median", Opt(w.open.summary.median)},
                           {"over_21", w.open.summary.over_21},
                           {"over_126", w.open.summary.over_126},
                           {"by_week", WeeksJson(w.open.by_week)}};
  if (w.decisions) o["decisions"] = WaitJson(*w.decisions);
  return o;
}

json::array TopReasonsJson(const std::vector<ReasonShare>& top) {
  json::array out;
  for (const ReasonShare& r : top) {
    out.push_back(json::object{{"reason", ledger::ToString(r.reason)},
                               {"count", r.count},
                               {"share", Opt(r.share)},
                               {"england_share", Opt(r.england_share)}});
  }
  return out;
}

template <typename E>
json::value EnumOrNull(const std::optional<E>& v) {
  return v ? json::value(ledger::ToString(*v)) : json::value();
}

}  // namespace

std::string FormatMicros(ledger::Micros t) {
  std::string s = ledger::FormatTimestamp(t);
  if (s.find('.') == std::string::npos) s.insert(s.size() - 1, ".000000");
  return s;
}

json::object ToJson(const FairnessReport& r) {
  json::object o = Header(r);
  o["p0"] = Opt(r.p0);
  json::object england = DecisionsJson(r.england);
  england["population"] = r.england_population;
  o["england"] = std::move(england);
  json::object areas;
  for (const AreaFairness& a : r.areas) {
    json::object area = DecisionsJson(a.decisions);
    area["funnel"] = FunnelJson(a.funnel);
    AddReference(a.reference, &area);
    areas[a.code] = std::move(area);
  }
  o["areas"] = std::move(areas);
  return o;
}

json::object ToJson(const WaitingTimesReport& r) {
  json::object o = Header(r);
  o["at"] = FormatMicros(r.at);
  o["england"] = WaitsJson(r.england);
  json::object areas;
  for (const AreaWaits& a : r.areas) areas[a.code] = WaitsJson(a.waits);
  o["areas"] = std::move(areas);
  json::object providers;
  for (const ProviderWaits& p : r.providers) providers[p.provider] = WaitsJson(p.waits);
  o["providers"] = std::move(providers);
  return o;
}

json::object ToJson(const RefusalsReport& r) {
  json::object o = Header(r);
  o["filters"] = json::object{
      {"area", Opt(r.area)}, {"reason", EnumOrNull(r.reason)}, {"stage", EnumOrNull(r.stage)}};
  o["total"] = r.total;
  json::array cells;
  for (const RefusalCell& c : r.by_reason_stage_month) {
    cells.push_back(json::object{{"reason", ledger::ToString(c.reason)},
                                 {"stage", ledger::ToString(c.stage)},
                                 {"month", ledger::FormatMonth(c.month)},
                                 {"count", c.count}});
  }
  o["by_reason_stage_month"] = std::move(cells);
  json::object deciders;
  for (const DeciderRefusals& d : r.by_decided_by) deciders[d.decided_by] = d.count;
  o["by_decided_by"] = std::move(deciders);
  o["by_referrer"] = EnumCounts<ledger::Referrer>(r.by_referrer);
  o["by_substance"] = EnumCounts<ledger::Substance>(r.by_substance);
  json::object by_area, top_areas;
  for (const AreaRefusals& a : r.areas) {
    by_area[a.code] = a.total;
    top_areas[a.code] = TopReasonsJson(a.top_reasons);
  }
  o["by_area"] = std::move(by_area);
  o["top_reasons"] = json::object{{"england", TopReasonsJson(r.england_top_reasons)},
                                  {"areas", std::move(top_areas)}};
  return o;
}

json::object ToJson(const AreasReport& r) {
  json::object o = Header(r);
  o["at"] = FormatMicros(r.at);
  o["p0"] = Opt(r.p0);
  json::array areas;
  for (const AreaHeadline& a : r.areas) {
    json::object area{{"code", a.code},
                      {"referrals", a.referrals},
                      {"decisions", a.decisions},
                      {"refused", a.refused},
                      {"refusal_rate", Opt(a.refusal_rate)},
                      {"funnel_flag", ToString(a.funnel_flag)},
                      {"placements_started", a.placements_started},
                      {"open_pathways", a.open_pathways}};
    AddReference(a.reference, &area);
    areas.push_back(std::move(area));
  }
  o["areas"] = std::move(areas);
  return o;
}

json::object ToJson(const TrendReport& r) {
  json::object o = Header(r);
  o["interval"] = ledger::ToString(r.interval);
  o["area"] = Opt(r.area);
  auto figures = [](const TrendFigures& f) {
    return json::object{{"referrals", f.referrals},
                        {"decisions", f.decisions},
                        {"approved", f.approved},
                        {"refused", f.refused},
                        {"overturned_on_appeal", f.overturned_on_appeal},
                        {"refusal_rate", Opt(f.refusal_rate)},
                        {"refusal_rate_ci95", Opt(f.refusal_rate_ci95)},
                        {"placements_started", f.placements_started}};
  };
  json::array periods;
  for (const TrendPeriod& p : r.periods) {
    json::object period{{"from", ledger::FormatDate(p.from_day)},
                        {"to", ledger::FormatDate(p.to_day)}};
    for (auto& [k, v] : figures(p.figures)) period[k] = v;
    period["england"] = figures(p.england);
    periods.push_back(std::move(period));
  }
  o["periods"] = std::move(periods);
  return o;
}

json::object ToJson(const ReferralListReport& r) {
  json::object o = Header(r);
  o["at"] = FormatMicros(r.at);
  o["area"] = r.area;
  o["figure"] = ledger::ToString(r.figure);
  o["reason"] = EnumOrNull(r.reason);
  o["stage"] = EnumOrNull(r.stage);
  o["total"] = r.total;
  json::array referrals;
  for (const ListedReferral& l : r.referrals) {
    referrals.push_back(json::object{
        {"referral_id", l.referral_id},
        {"received_at", ledger::FormatTimestamp(l.received_at)},
        {"state", ledger::ToString(l.state)},
        {"first_decision",
         l.first_decision ? json::value(ToString(*l.first_decision)) : json::value()},
        {"decided_at",
         l.decided_at ? json::value(ledger::FormatTimestamp(*l.decided_at)) : json::value()}});
  }
  o["referrals"] = std::move(referrals);
  o["next_after"] = Opt(r.next_after);
  return o;
}

json::object ToJson(const ReferralReport& r) {
  json::object o;
  o["as_of_seq"] = r.as_of_seq;
  o["referral_id"] = r.referral_id;
  o["area"] = r.received.area;
  o["state"] = ledger::ToString(r.state);
  o["received"] = ledger::EventDataToJson(r.received);
  o["first_decision"] = r.first_decision ? json::value(ToString(*r.first_decision)) : json::value();
  o["overturned_on_appeal"] = r.overturned_on_appeal;
  o["decision_wait_days"] = Opt(r.decision_wait_days);
  o["start_wait_days"] = Opt(r.start_wait_days);
  o["waiting_days"] = Opt(r.waiting_days);
  json::array events;
  for (const ledger::Event& e : r.events) events.push_back(wire::EventToJson(e));
  o["events"] = std::move(events);
  return o;
}

}  // namespace wire
