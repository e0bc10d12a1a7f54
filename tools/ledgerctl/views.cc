// ledgerctl replay, diff, and export --view: a view as JSON, the figures that changed between two
// moments, or a view as CSV.
#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "commands.h"
#include "tables.h"
#include "wire/json_text.h"
#include "wire/view_csv.h"
#include "wire/view_json.h"

namespace ledgerctl {

namespace json = boost::json;

namespace {

// The view filters every view command takes: --from --to --at --area
// --reason --stage (and --as-of, read by the caller). Returns a usage
// message when one is malformed, else "".
std::string ParseFilters(const Args& a, projections::ViewQuery* q) {
  auto flag = [&](const char* k) -> const std::string* {
    auto it = a.flags.find(k);
    return it == a.flags.end() ? nullptr : &it->second;
  };
  if (auto v = flag("from")) {
    if (!(q->from_day = ledger::ParseDate(*v))) return "--from must be YYYY-MM-DD";
  }
  if (auto v = flag("to")) {
    if (!(q->to_day = ledger::ParseDate(*v))) return "--to must be YYYY-MM-DD";
  }
  if (auto v = flag("at")) {
    if (!(q->at = ledger::ParseTimestamp(*v))) return "--at must be an RFC 3339 time";
  }
  if (auto v = flag("area")) q->area = *v;
  if (auto v = flag("reason")) {
    if (!(q->reason = ledger::ParseEnum<ledger::RefusalReason>(*v))) return "unknown --reason";
  }
  if (auto v = flag("stage")) {
    if (!(q->stage = ledger::ParseEnum<ledger::RefusalStage>(*v))) return "unknown --stage";
  }
  const std::string view = a.Has("view") ? a.flags.at("view") : "";
  if (view.empty()) return "--view is required";
  if (view != "fairness" && view != "waiting-times" && view != "refusals" && view != "areas") {
    return "--view must be fairness, waiting-times, refusals or areas";
  }
  return "";
}

// A view, written by `write` (wire::ToJson, or wire::ToCsv as the API's
// ?format=csv).
template <typename Out, typename Write>
ledger::Result<Out> ComputeView(projections::Projector& p, const std::string& view,
                                const projections::ViewQuery& q, Write write) {
  auto as = [&](auto report) -> ledger::Result<Out> {
    if (!report.ok()) return report.status();
    return write(*report);
  };
  if (view == "fairness") return as(p.Fairness(q));
  if (view == "waiting-times") return as(p.WaitingTimes(q));
  if (view == "refusals") return as(p.Refusals(q));
  return as(p.Areas(q));
}

ledger::Result<json::object> ComputeView(projections::Projector& p, const std::string& view,
                                         const projections::ViewQuery& q) {
  return ComputeView<json::object>(p, view, q, [](const auto& r) { return wire::ToJson(r); });
}

}  // namespace

// replay, and export --view: one view as the ledger stood at --as-of.
int Replay(const Args& a) {
  projections::ViewQuery q;
  if (!ParseAsOf(a, &q)) return Usage("--as-of must be a seq or an RFC 3339 time");
  if (std::string bad = ParseFilters(a, &q); !bad.empty()) return Usage(bad);
  const bool csv = a.command == "export";
  if (csv && a.Has("after")) return Usage("--after is for exporting events, not a view");
  int code = 0;
  std::optional<Opened> o = OpenViews(a, &code);
  if (!o) return code;
  const std::string& view = a.flags.at("view");
  ledger::Result<std::string> out =
      csv ? ComputeView<std::string>(*o->projector, view, q,
                                     [](const auto& r) { return wire::ToCsv(r); })
          : ComputeView<std::string>(*o->projector, view, q, [](const auto& r) {
              return wire::Serialize(wire::ToJson(r)) + "\n";
            });
  if (!out.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", out.status().ToString().c_str());
    return 1;
  }
  std::cout << *out;
  return 0;
}

// diff: every figure of a view that differs between two moments.
int Diff(const Args& a) {
  auto as_of = a.values.find("as-of");
  if (as_of == a.values.end() || as_of->second.size() != 2) {
    return Usage("diff takes --as-of twice: the earlier moment, then the later");
  }
  projections::ViewQuery q;
  if (std::string bad = ParseFilters(a, &q); !bad.empty()) return Usage(bad);
  std::array<projections::ViewQuery, 2> at = {q, q};
  for (size_t i = 0; i < 2; ++i) {
    Args one;
    one.flags["as-of"] = as_of->second[i];
    if (!ParseAsOf(one, &at[i])) return Usage("--as-of must be a seq or an RFC 3339 time");
  }
  int code = 0;
  std::optional<Opened> o = OpenViews(a, &code);
  if (!o) return code;
  const std::string& view = a.flags.at("view");
  std::array<json::object, 2> answers;
  for (size_t i = 0; i < 2; ++i) {
    auto r = ComputeView(*o->projector, view, at[i]);
    if (!r.ok()) {
      std::fprintf(stderr, "ledgerctl: %s\n", r.status().ToString().c_str());
      return 1;
    }
    answers[i] = std::move(r).value();
  }
  // Figures by path, in the later answer's order, then those only earlier.
  std::map<std::string, json::value> before;
  for (auto& [path, v] : ledgerctl::Figures(answers[0])) before.emplace(path, v);
  json::array changes;
  for (auto& [path, v] : ledgerctl::Figures(answers[1])) {
    auto it = before.find(path);
    json::value old = it == before.end() ? json::value(nullptr) : it->second;
    if (it != before.end()) before.erase(it);
    if (old != v) changes.push_back(json::object{{"figure", path}, {"before", old}, {"after", v}});
  }
  for (auto& [path, v] : before) {
    changes.push_back(json::object{{"figure", path}, {"before", v}, {"after", nullptr}});
  }
  json::object out{{"view", view},
                   {"before_as_of_seq", answers[0].at("as_of_seq")},
                   {"after_as_of_seq", answers[1].at("as_of_seq")},
                   {"changed", changes.size()},
                   {"changes", std::move(changes)}};
  std::cout << wire::Serialize(out) << '\n';
  return 0;
}

}  // namespace ledgerctl
