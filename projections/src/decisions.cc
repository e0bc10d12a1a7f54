// The decisions views: /v1/fairness (first decisions, funnel plot, equality
// groups) and /v1/areas (each area's headline figures), from one scan.
#include <algorithm>
#include <array>
#include <chrono>

#include "projections/views.h"
#include "scan.h"

namespace projections {

using ledger::EnumCount;

namespace {

struct Dimension {
  std::string_view name;
  int slot;
  size_t offset;  // of its first group in Decisions::groups
  size_t count;
};
constexpr std::array<Dimension, 5> kDimensions{{
    {"sex", slot::kSex, 0, EnumCount<ledger::Sex>()},
    {"ethnicity", slot::kEthnicity, 4, EnumCount<ledger::Ethnicity>()},
    {"age_band", slot::kAgeBand, 10, EnumCount<ledger::AgeBand>()},
    {"substance", slot::kSubstance, 20, EnumCount<ledger::Substance>()},
    {"disability", slot::kDisability, 24, EnumCount<ledger::Disability>()},
}};
constexpr size_t kGroups = 27;
static_assert(kDimensions[4].offset + kDimensions[4].count == kGroups);

std::string_view GroupName(size_t dim, size_t value) {
  switch (dim) {
    case 0:
      return ledger::ToString(static_cast<ledger::Sex>(value));
    case 1:
      return ledger::ToString(static_cast<ledger::Ethnicity>(value));
    case 2:
      return ledger::ToString(static_cast<ledger::AgeBand>(value));
    case 3:
      return ledger::ToString(static_cast<ledger::Substance>(value));
    default:
      return ledger::ToString(static_cast<ledger::Disability>(value));
  }
}

// A population's counts, as the scan adds them up.
struct Decisions {
  uint64_t referrals = 0, decisions = 0, approved = 0, refused = 0, overturned = 0, placements = 0;
  CountsBy<ledger::RefusalReason> by_reason{};
  CountsBy<ledger::RefusalStage> by_stage{};
  std::array<GroupCounts, kGroups> groups{};
};

void Count(const Facts& f, const scan::Period& period, Decisions* d) {
  if (period.Contains(f.received_at)) ++d->referrals;
  if (f.decided && period.Contains(f.decided_at)) {
    ++d->decisions;
    if (f.first_refused) {
      ++d->refused;
      ++d->by_reason[f.first_reason];
      ++d->by_stage[f.first_stage];
      if (f.upheld) ++d->overturned;
    } else {
      ++d->approved;
    }
    for (const Dimension& dim : kDimensions) {
      GroupCounts& g = d->groups[dim.offset + f.received[dim.slot]];
      ++g.decisions;
      ++(f.first_refused ? g.refused : g.approved);
    }
  }
  if (f.started && period.Contains(f.started_at)) ++d->placements;
}

void Add(const Decisions& from, Decisions* to) {
  to->referrals += from.referrals;
  to->decisions += from.decisions;
  to->approved += from.approved;
  to->refused += from.refused;
  to->overturned += from.overturned;
  to->placements += from.placements;
  for (size_t i = 0; i < from.by_reason.size(); ++i) to->by_reason[i] += from.by_reason[i];
  for (size_t i = 0; i < from.by_stage.size(); ++i) to->by_stage[i] += from.by_stage[i];
  for (size_t i = 0; i < kGroups; ++i) {
    to->groups[i].decisions += from.groups[i].decisions;
    to->groups[i].approved += from.groups[i].approved;
    to->groups[i].refused += from.groups[i].refused;
  }
}

// England and every area's decisions in the period, as of as_of.
struct DecisionScan {
  Decisions england;
  std::vector<Decisions> areas;  // by area pool id
  std::vector<char> named;       // by area pool id: some referral names it
  std::vector<uint64_t> open;    // by area pool id: pathways open at p.at, when asked
  std::optional<double> p0;
};

// The decisions of the period; with `count_open`, also each area's pathways
// open at p.at, in the same pass.
DecisionScan ScanDecisions(const ReadModel& model, const ViewParams& p, bool count_open = false) {
  DecisionScan empty;
  empty.areas.resize(model.areas().size());
  empty.named.resize(model.areas().size());
  if (count_open) empty.open.resize(model.areas().size());
  const scan::Period period = scan::PeriodOf(p);
  std::vector<DecisionScan> parts =
      scan::EachReferral(model, p.as_of, empty, [&](size_t i, const Facts& f, DecisionScan* s) {
        s->named[f.area] = 1;
        Count(f, period, &s->england);
        Count(f, period, &s->areas[f.area]);
        if (count_open && f.received_at <= p.at &&
            ledger::IsOpen(scan::OpenStateAt(model, i, f, p.as_of, p.at).first)) {
          ++s->open[f.area];
        }
      });
  DecisionScan s = std::move(parts[0]);
  for (size_t t = 1; t < parts.size(); ++t) {
    Add(parts[t].england, &s.england);
    for (size_t a = 0; a < s.areas.size(); ++a) Add(parts[t].areas[a], &s.areas[a]);
    scan::AddNamed(parts[t].named, &s.named);
    for (size_t a = 0; a < s.open.size(); ++a) s.open[a] += parts[t].open[a];
  }
  s.p0 = scan::Ratio(s.england.refused, s.england.decisions);
  return s;
}

// The counts and the refusal rate of `d`, into the figures of a fairness
// view or of a trend's period (both name them alike).
template <typename Figures>
void SetCounts(const Decisions& d, Figures* out) {
  out->referrals = d.referrals;
  out->decisions = d.decisions;
  out->approved = d.approved;
  out->refused = d.refused;
  out->overturned_on_appeal = d.overturned;
  out->placements_started = d.placements;
  out->refusal_rate = scan::Ratio(d.refused, d.decisions);
  out->refusal_rate_ci95 = WilsonInterval(d.refused, d.decisions);
}

DecisionFigures FiguresOf(const Decisions& d) {
  DecisionFigures out;
  SetCounts(d, &out);
  out.refusals_by_reason = d.by_reason;
  out.refusals_by_stage = d.by_stage;
  for (size_t di = 0; di < kDimensions.size(); ++di) {
    const Dimension& dim = kDimensions[di];
    const std::vector<GroupCounts> groups(d.groups.begin() + dim.offset,
                                          d.groups.begin() + dim.offset + dim.count);
    const std::vector<GroupRates> rates = Disparities(groups);
    EqualityDimension& e = out.equality.emplace_back();
    e.name = dim.name;
    for (size_t v = 0; v < dim.count; ++v)
      e.groups.push_back({GroupName(di, v), groups[v], rates[v]});
  }
  return out;
}

}  // namespace

FairnessReport FairnessView(const ReadModel& model, const ViewParams& p) {
  const DecisionScan s = ScanDecisions(model, p);
  FairnessReport out;
  scan::Stamp(p, &out);
  out.p0 = s.p0;
  out.england = FiguresOf(s.england);
  out.england_population = EnglandPopulation();
  const Decisions none;
  for (const auto& [code, id] : scan::ListedAreas(model, s.named, p)) {
    const Decisions& d = id >= 0 ? s.areas[id] : none;
    out.areas.push_back({code, FiguresOf(d), Funnel(d.refused, d.decisions, s.p0),
                         scan::ReferenceOf(code, d.referrals, d.placements)});
  }
  return out;
}

AreasReport AreasView(const ReadModel& model, const ViewParams& p) {
  const DecisionScan s = ScanDecisions(model, p, /*count_open=*/true);
  AreasReport out;
  scan::Stamp(p, &out);
  out.at = p.at;
  out.p0 = s.p0;
  const Decisions none;
  for (const auto& [code, id] : scan::ListedAreas(model, s.named, p)) {
    const Decisions& d = id >= 0 ? s.areas[id] : none;
    AreaHeadline& a = out.areas.emplace_back();
    a.code = code;
    a.referrals = d.referrals;
    a.decisions = d.decisions;
    a.refused = d.refused;
    a.refusal_rate = scan::Ratio(d.refused, d.decisions);
    a.funnel_flag = Funnel(d.refused, d.decisions, s.p0).flag;
    a.placements_started = d.placements;
    a.open_pathways = id >= 0 ? s.open[id] : 0;
    a.reference = scan::ReferenceOf(code, d.referrals, d.placements);
  }
  return out;
}

std::vector<std::pair<int64_t, int64_t>> TrendPeriods(int64_t from_day, int64_t to_day,
                                                      TrendInterval interval) {
  using namespace std::chrono;
  const int step = interval == TrendInterval::kMonth     ? 1
                   : interval == TrendInterval::kQuarter ? 3
                                                         : 12;
  // The first interval start on or after from_day: the first of a month
  // whose number (from 0) is a multiple of `step`.
  const year_month_day from{sys_days{days{from_day}}};
  int64_t month = static_cast<int>(from.year()) * 12LL + static_cast<unsigned>(from.month()) - 1;
  if (static_cast<unsigned>(from.day()) != 1) ++month;
  month = (month + step - 1) / step * step;
  auto start_of = [](int64_t m) {
    return static_cast<int64_t>(
        sys_days{year{static_cast<int>(m / 12)} / static_cast<unsigned>(m % 12 + 1) / 1}
            .time_since_epoch()
            .count());
  };
  std::vector<std::pair<int64_t, int64_t>> out;
  for (;; month += step) {
    const int64_t begin = start_of(month), end = start_of(month + step);
    if (end > to_day) break;
    out.emplace_back(begin, end);
    if (out.size() > kMaxTrendPeriods) break;  // the caller refuses it
  }
  return out;
}

// One scan: each referral counts, as the fairness view counts it, in the
// period of each of its received, first decision and start moments, for
// England and (when it is the area asked for) the area: every period's
// figures are those of the fairness view asked for that period alone.
TrendReport TrendView(const ReadModel& model, const ViewParams& p) {
  const std::vector<std::pair<int64_t, int64_t>> bounds =
      TrendPeriods(*p.from_day, *p.to_day, p.interval);
  std::vector<scan::Period> periods;
  std::vector<ledger::Micros> starts;
  for (const auto& [from, to] : bounds) {
    periods.push_back({from * ledger::kMicrosPerDay, to * ledger::kMicrosPerDay});
    starts.push_back(from * ledger::kMicrosPerDay);
  }
  std::optional<size_t> area;
  if (p.area) {
    if (std::optional<uint32_t> id = model.areas().Find(*p.area)) area = *id;
  }
  struct Part {
    std::vector<Decisions> england, area;
  };
  Part empty;
  empty.england.resize(periods.size());
  empty.area.resize(area ? periods.size() : 0);
  // The period that holds t, if any.
  auto period_of = [&](ledger::Micros t) -> std::optional<size_t> {
    auto it = std::upper_bound(starts.begin(), starts.end(), t);
    if (it == starts.begin()) return std::nullopt;
    const size_t k = static_cast<size_t>(it - starts.begin()) - 1;
    if (!periods[k].Contains(t)) return std::nullopt;
    return k;
  };
  std::vector<Part> parts =
      scan::EachReferral(model, p.as_of, empty, [&](size_t, const Facts& f, Part* part) {
        std::array<std::optional<size_t>, 3> touched = {
            period_of(f.received_at), f.decided ? period_of(f.decided_at) : std::nullopt,
            f.started ? period_of(f.started_at) : std::nullopt};
        for (size_t i = 0; i < touched.size(); ++i) {
          if (!touched[i]) continue;
          // Each period once, however many of its moments fall in it.
          if (std::find(touched.begin(), touched.begin() + i, touched[i]) != touched.begin() + i) {
            continue;
          }
          Count(f, periods[*touched[i]], &part->england[*touched[i]]);
          if (area && f.area == *area) Count(f, periods[*touched[i]], &part->area[*touched[i]]);
        }
      });
  for (size_t t = 1; t < parts.size(); ++t) {
    for (size_t k = 0; k < periods.size(); ++k) {
      Add(parts[t].england[k], &parts[0].england[k]);
      if (area) Add(parts[t].area[k], &parts[0].area[k]);
    }
  }
  auto figures = [](const Decisions& d) {
    TrendFigures out;
    SetCounts(d, &out);
    return out;
  };
  TrendReport out;
  scan::Stamp(p, &out);
  out.interval = p.interval;
  out.area = p.area;
  const Decisions none;
  for (size_t k = 0; k < periods.size(); ++k) {
    TrendPeriod& period = out.periods.emplace_back();
    period.from_day = bounds[k].first;
    period.to_day = bounds[k].second;
    period.england = figures(parts[0].england[k]);
    period.figures = p.area ? figures(area ? parts[0].area[k] : none) : period.england;
  }
  return out;
}

}  // namespace projections
