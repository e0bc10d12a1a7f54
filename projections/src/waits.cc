// /v1/waiting-times: completed, decision and open waits per area, per
// provider and for England.
#include "projections/views.h"
#include "scan.h"

namespace projections {

namespace {

struct Waits {
  std::vector<int64_t> completed, decisions, open;
};

// Moves the waits of `from` to the end of `to`'s (their order does not
// matter: every summary sorts them).
void Append(Waits&& from, Waits* to) {
  to->completed.insert(to->completed.end(), from.completed.begin(), from.completed.end());
  to->decisions.insert(to->decisions.end(), from.decisions.begin(), from.decisions.end());
  to->open.insert(to->open.end(), from.open.begin(), from.open.end());
}

WaitFigures WaitFiguresOf(std::vector<int64_t>& days) {
  WaitFigures out;
  out.summary = SummarizeWaits(days);
  out.by_week = WeekBands(days);
  return out;
}

// Sorts the waits of `w`.
PathwayWaits FiguresOf(Waits& w, bool with_decisions) {
  PathwayWaits out;
  out.completed = WaitFiguresOf(w.completed);
  out.open.summary = SummarizeOpen(w.open);
  out.open.by_week = WeekBands(w.open);
  if (with_decisions) out.decisions = WaitFiguresOf(w.decisions);
  return out;
}

}  // namespace

WaitingTimesReport WaitingTimesView(const ReadModel& model, const ViewParams& p) {
  const scan::Period period = scan::PeriodOf(p);
  std::optional<uint32_t> only;  // the area asked for, when it is named
  if (p.area) only = model.areas().Find(*p.area);
  struct Part {
    Waits england;
    std::vector<Waits> areas;      // by area pool id
    std::vector<Waits> providers;  // by provider pool id
    std::vector<char> named;
  };
  Part empty;
  empty.areas.resize(model.areas().size());
  empty.providers.resize(model.providers().size());
  empty.named.resize(model.areas().size());
  std::vector<Part> parts =
      scan::EachReferral(model, p.as_of, empty, [&](size_t i, const Facts& f, Part* w) {
        const uint32_t area = f.area;
        w->named[area] = 1;
        const bool in_scope = !p.area || (only && *only == area);
        if (f.started && period.Contains(f.started_at)) {
          const int64_t d = WholeDays(f.received_at, f.started_at);
          w->england.completed.push_back(d);
          w->areas[area].completed.push_back(d);
          if (in_scope) w->providers[f.start_provider].completed.push_back(d);
        }
        if (f.decided && period.Contains(f.decided_at)) {
          const int64_t d = WholeDays(f.received_at, f.decided_at);
          w->england.decisions.push_back(d);
          w->areas[area].decisions.push_back(d);
        }
        if (f.received_at <= p.at) {
          const auto [state, offered] = scan::OpenStateAt(model, i, f, p.as_of, p.at);
          if (ledger::IsOpen(state)) {
            const int64_t d = WholeDays(f.received_at, p.at);
            w->england.open.push_back(d);
            w->areas[area].open.push_back(d);
            if (in_scope && state == ledger::ReferralState::kOffered && offered >= 0) {
              w->providers[static_cast<size_t>(offered)].open.push_back(d);
            }
          }
        }
      });
  Part w = std::move(parts[0]);
  for (size_t t = 1; t < parts.size(); ++t) {
    Append(std::move(parts[t].england), &w.england);
    for (size_t a = 0; a < w.areas.size(); ++a) Append(std::move(parts[t].areas[a]), &w.areas[a]);
    for (size_t v = 0; v < w.providers.size(); ++v) {
      Append(std::move(parts[t].providers[v]), &w.providers[v]);
    }
    scan::AddNamed(parts[t].named, &w.named);
  }
  WaitingTimesReport out;
  scan::Stamp(p, &out);
  out.at = p.at;
  out.england = FiguresOf(w.england, true);
  Waits none;
  for (const auto& [code, id] : scan::ListedAreas(model, w.named, p)) {
    out.areas.push_back({code, FiguresOf(id >= 0 ? w.areas[id] : none, true)});
  }
  // Providers with a completed or open pathway, in id order.
  std::vector<std::pair<std::string_view, size_t>> providers;
  for (size_t v = 0; v < w.providers.size(); ++v) {
    if (!w.providers[v].completed.empty() || !w.providers[v].open.empty()) {
      providers.emplace_back(model.providers().Get(static_cast<uint32_t>(v)), v);
    }
  }
  std::sort(providers.begin(), providers.end());
  for (const auto& [id, v] : providers) {
    out.providers.push_back({std::string(id), FiguresOf(w.providers[v], false)});
  }
  return out;
}

}  // namespace projections
