#include "projections/views.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <system_error>
#include <thread>
#include <tuple>

#include "ledger/event_json.h"
#include "projections/areas.h"
#include "projections/stats.h"

namespace projections {

namespace json = boost::json;
using ledger::EnumCount;
using ledger::EventType;
using ledger::Micros;
using ledger::ReferralState;
using ledger::RefusalReason;
using ledger::RefusalStage;

namespace {

// --- a referral's facts as of a seq -----------------------------------------

struct Period {
  std::optional<Micros> from, to;
  bool Contains(Micros t) const { return (!from || t >= *from) && (!to || t < *to); }
};

Period PeriodOf(const ViewParams& p) {
  Period out;
  if (p.from_day) out.from = *p.from_day * ledger::kMicrosPerDay;
  if (p.to_day) out.to = *p.to_day * ledger::kMicrosPerDay;
  return out;
}

// Calls scan(begin, end, &part) over the referrals [0, n) in parts, one per
// core, each with its own part, and returns the parts for the caller to
// merge. A view reads every referral's summary, so its time grows with the
// ledger; splitting the scan keeps a large ledger's as_of views fast. The
// parts take blocks of referrals in turn rather than one range each, so
// that they share the work whatever the as_of (referrals are numbered in
// order of receipt: those after as_of are skipped at once). The model is
// only read. Small models are scanned on the calling thread.
std::atomic<size_t> scan_min_per_part{ScanSplit{}.min_per_part};
std::atomic<size_t> scan_max_parts{ScanSplit{}.max_parts};

template <typename Part, typename Scan>
std::vector<Part> ScanInParts(size_t n, const Part& empty, Scan scan) {
  constexpr size_t kBlock = 4096;
  size_t max_parts = scan_max_parts.load(std::memory_order_relaxed);
  if (max_parts == 0)
    max_parts = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 4);
  const size_t min_per_part =
      std::max<size_t>(1, scan_min_per_part.load(std::memory_order_relaxed));
  const size_t parts = std::clamp<size_t>(n / min_per_part, 1, max_parts);
  const size_t block =
      parts == 1 ? std::max<size_t>(n, 1) : std::min(kBlock, (n + parts - 1) / parts);
  std::vector<Part> out(parts, empty);
  auto run = [&](size_t t) {
    for (size_t b = t * block; b < n; b += parts * block) scan(b, std::min(n, b + block), &out[t]);
  };
  std::vector<std::thread> workers;
  for (size_t t = 1; t < parts; ++t) {
    try {
      workers.emplace_back(run, t);
    } catch (const std::system_error&) {
      run(t);  // no thread to be had: this one does it
    }
  }
  run(0);
  for (std::thread& w : workers) w.join();
  return out;
}

// ScanInParts over the facts of each referral as of `as_of`: calls
// fn(i, facts, &part) for every referral i that had an event by then.
template <typename Part, typename Fn>
std::vector<Part> ScanFacts(const ReadModel& model, uint64_t as_of, const Part& empty, Fn fn) {
  return ScanInParts(model.referrals().size(), empty, [&](size_t begin, size_t end, Part* part) {
    Facts scratch;
    for (size_t i = begin; i < end; ++i) {
      if (const Facts* f = model.FactsOf(i, as_of, &scratch)) fn(i, *f, part);
    }
  });
}

// The state after the first n events dated at or before `at` (business time
// never runs backwards in a stream, so they are a prefix), and the index of
// the latest placement.offered among them (-1: none).
struct StateAt {
  ReferralState state = ReferralState::kNone;
  int offered = -1;
};
StateAt StateAtTime(const Referral& r, size_t n, Micros at) {
  StateAt out;
  for (size_t i = 0; i < n && r.recs[i].occurred_at <= at; ++i) {
    out.state = NextState(out.state, r.recs[i]);
    if (r.recs[i].type == EventType::kPlacementOffered) out.offered = static_cast<int>(i);
  }
  return out;
}

// Referral i's state at `at` and its latest offer's provider by then (-1:
// none). From its facts when `at` is at or after its last event; else
// walked.
std::pair<ReferralState, int64_t> OpenStateAt(const ReadModel& model, size_t i, const Facts& f,
                                              uint64_t as_of, Micros at) {
  if (at >= f.last_occurred_at) {
    return {f.state, f.offered ? static_cast<int64_t>(f.offered_provider) : -1};
  }
  const Referral& r = model.referrals()[i];
  const size_t n = CountWithin(r, as_of);
  const StateAt st = StateAtTime(r, n, at);
  return {st.state, st.offered >= 0 ? static_cast<int64_t>(Effective(r, n, st.offered).x) : -1};
}

// --- JSON helpers --------------------------------------------------------------

json::value Opt(const std::optional<double>& v) { return v ? json::value(*v) : json::value(); }
json::value Opt(const std::optional<int64_t>& v) { return v ? json::value(*v) : json::value(); }
json::value Opt(const std::optional<Interval>& v) {
  if (!v) return json::value();
  return json::array{v->low, v->high};
}
json::value Ratio(uint64_t num, uint64_t den) {
  if (den == 0) return json::value();
  return json::value(static_cast<double>(num) / static_cast<double>(den));
}
json::value DateOrNull(const std::optional<int64_t>& day) {
  if (!day) return json::value();
  return json::value(ledger::FormatDate(*day));
}

// as_of_seq, from and to: every period view starts with them.
json::object Header(const ViewParams& p) {
  json::object o;
  o["as_of_seq"] = p.as_of;
  o["from"] = DateOrNull(p.from_day);
  o["to"] = DateOrNull(p.to_day);
  return o;
}

template <typename E, size_t N>
json::object EnumCounts(const std::array<uint64_t, N>& counts) {
  static_assert(N == EnumCount<E>());
  json::object o;
  for (size_t i = 0; i < N; ++i) o[ledger::ToString(static_cast<E>(i))] = counts[i];
  return o;
}

// Adds the reference data of an area: name, region, population and rates per
// 100,000 people (null when the area is not in the reference file).
void AddPopulation(const AreaInfo* info, uint64_t referrals, uint64_t placements, json::object* o) {
  (*o)["name"] = info ? json::value(info->name) : json::value();
  (*o)["region"] = info ? json::value(info->region) : json::value();
  (*o)["population"] = info ? json::value(info->population) : json::value();
  auto per100k = [&](uint64_t count) -> json::value {
    if (!info || info->population == 0) return json::value();
    return static_cast<double>(count) * 100000.0 / static_cast<double>(info->population);
  };
  (*o)["referrals_per_100k"] = per100k(referrals);
  (*o)["placements_per_100k"] = per100k(placements);
}

// The areas a view lists: the one asked for, else every area named (as
// corrected) within as_of, in code order. Returns pool ids, or -1 for an
// asked-for area no referral names.
std::vector<std::pair<std::string, int64_t>> ListedAreas(const ReadModel& model,
                                                         const std::vector<char>& named,
                                                         const ViewParams& p) {
  std::vector<std::pair<std::string, int64_t>> out;
  if (p.area) {
    auto id = model.areas().Find(*p.area);
    out.emplace_back(*p.area, id ? static_cast<int64_t>(*id) : -1);
    return out;
  }
  for (size_t i = 0; i < named.size(); ++i) {
    if (named[i]) out.emplace_back(model.areas().Get(static_cast<uint32_t>(i)), i);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// --- decisions (fairness) ------------------------------------------------------

struct Dimension {
  const char* name;
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

struct Decisions {
  uint64_t referrals = 0, decisions = 0, approved = 0, refused = 0, overturned = 0, placements = 0;
  std::array<uint64_t, EnumCount<RefusalReason>()> by_reason{};
  std::array<uint64_t, EnumCount<RefusalStage>()> by_stage{};
  std::array<GroupCounts, kGroups> groups{};
};

void Count(const Facts& f, const Period& period, Decisions* d) {
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

// England and every area's decisions in the period, as of as_of.
struct DecisionScan {
  Decisions england;
  std::vector<Decisions> areas;  // by area pool id
  std::vector<char> named;       // by area pool id: some referral names it
  std::vector<uint64_t> open;    // by area pool id: pathways open at p.at, when asked
  std::optional<double> p0;
};

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

// Ors `from` into `to`, both indexed by area pool id.
void AddNamed(const std::vector<char>& from, std::vector<char>* to) {
  for (size_t i = 0; i < from.size(); ++i) (*to)[i] |= from[i];
}

// The decisions of the period; with `count_open`, also each area's pathways
// open at p.at, in the same pass.
DecisionScan ScanDecisions(const ReadModel& model, const ViewParams& p, bool count_open = false) {
  DecisionScan empty;
  empty.areas.resize(model.areas().size());
  empty.named.resize(model.areas().size());
  if (count_open) empty.open.resize(model.areas().size());
  const Period period = PeriodOf(p);
  std::vector<DecisionScan> parts =
      ScanFacts(model, p.as_of, empty, [&](size_t i, const Facts& f, DecisionScan* s) {
        s->named[f.area] = 1;
        Count(f, period, &s->england);
        Count(f, period, &s->areas[f.area]);
        if (count_open && f.received_at <= p.at &&
            ledger::IsOpen(OpenStateAt(model, i, f, p.as_of, p.at).first)) {
          ++s->open[f.area];
        }
      });
  DecisionScan s = std::move(parts[0]);
  for (size_t t = 1; t < parts.size(); ++t) {
    Add(parts[t].england, &s.england);
    for (size_t a = 0; a < s.areas.size(); ++a) Add(parts[t].areas[a], &s.areas[a]);
    AddNamed(parts[t].named, &s.named);
    for (size_t a = 0; a < s.open.size(); ++a) s.open[a] += parts[t].open[a];
  }
  if (s.england.decisions > 0) {
    s.p0 = static_cast<double>(s.england.refused) / static_cast<double>(s.england.decisions);
  }
  return s;
}

json::object DecisionsJson(const Decisions& d) {
  json::object o;
  o["referrals"] = d.referrals;
  o["decisions"] = d.decisions;
  o["approved"] = d.approved;
  o["refused"] = d.refused;
  o["overturned_on_appeal"] = d.overturned;
  o["refusal_rate"] = Ratio(d.refused, d.decisions);
  o["refusal_rate_ci95"] = Opt(WilsonInterval(d.refused, d.decisions));
  o["refusals_by_reason"] = EnumCounts<RefusalReason>(d.by_reason);
  o["refusals_by_stage"] = EnumCounts<RefusalStage>(d.by_stage);
  o["placements_started"] = d.placements;
  json::object equality;
  for (size_t di = 0; di < kDimensions.size(); ++di) {
    const Dimension& dim = kDimensions[di];
    std::vector<GroupCounts> groups(d.groups.begin() + dim.offset,
                                    d.groups.begin() + dim.offset + dim.count);
    const std::vector<GroupRates> rates = Disparities(groups);
    json::object groups_json;
    for (size_t v = 0; v < dim.count; ++v) {
      json::object g;
      g["decisions"] = groups[v].decisions;
      g["approved"] = groups[v].approved;
      g["refused"] = groups[v].refused;
      g["approval_rate"] = Opt(rates[v].approval_rate);
      g["disparity_ratio"] = Opt(rates[v].disparity_ratio);
      g["four_fifths_flag"] = rates[v].four_fifths_flag;
      groups_json[GroupName(di, v)] = std::move(g);
    }
    equality[dim.name] = std::move(groups_json);
  }
  o["equality"] = std::move(equality);
  return o;
}

json::object FunnelJson(const FunnelPoint& f) {
  json::object o;
  o["n"] = f.n;
  o["p"] = Opt(f.p);
  o["z"] = Opt(f.z);
  o["limits95"] = Opt(f.limits95);
  o["limits998"] = Opt(f.limits998);
  o["flag"] = ToString(f.flag);
  return o;
}

uint64_t EnglandPopulation() {
  uint64_t total = 0;
  for (const AreaInfo& a : ReferenceAreas()) total += a.population;
  return total;
}

// --- waits -----------------------------------------------------------------------

struct Waits {
  std::vector<int64_t> completed, decisions, open;
};

json::array WeekBandsJson(const std::vector<int64_t>& days) {
  json::array out;
  for (uint64_t n : WeekBands(days)) out.push_back(n);
  return out;
}

json::object WaitJson(std::vector<int64_t>& days) {
  const WaitSummary s = SummarizeWaits(days);
  json::object o;
  o["n"] = s.n;
  o["mean"] = Opt(s.mean);
  o["median"] = Opt(s.median);
  o["p92"] = Opt(s.p92);
  o["max"] = Opt(s.max);
  o["by_week"] = WeekBandsJson(days);
  return o;
}

json::object OpenJson(std::vector<int64_t>& days) {
  const OpenSummary s = SummarizeOpen(days);
  json::object o;
  o["count"] = s.count;
  o["median"] = Opt(s.median);
  o["over_21"] = s.over_21;
  o["over_126"] = s.over_126;
  o["by_week"] = WeekBandsJson(days);
  return o;
}

json::object WaitsJson(Waits& w, bool with_decisions) {
  json::object o;
  o["completed"] = WaitJson(w.completed);
  o["open"] = OpenJson(w.open);
  if (with_decisions) o["decisions"] = WaitJson(w.decisions);
  return o;
}

// --- refusal patterns -----------------------------------------------------------

constexpr size_t kReasons = EnumCount<RefusalReason>();
using ReasonCounts = std::array<uint64_t, kReasons>;

std::string_view ReasonName(size_t r) { return ledger::ToString(static_cast<RefusalReason>(r)); }

// The top 3 reasons by count (ties by code), with their share of `total`
// and England's share of the same reason.
json::array TopReasons(const ReasonCounts& counts, uint64_t total, const ReasonCounts& england,
                       uint64_t england_total) {
  std::vector<size_t> order;
  for (size_t r = 0; r < kReasons; ++r) {
    if (counts[r] > 0) order.push_back(r);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (counts[a] != counts[b]) return counts[a] > counts[b];
    return ReasonName(a) < ReasonName(b);
  });
  if (order.size() > 3) order.resize(3);
  json::array out;
  for (size_t r : order) {
    json::object o;
    o["reason"] = ReasonName(r);
    o["count"] = counts[r];
    o["share"] = Ratio(counts[r], total);
    o["england_share"] = Ratio(england[r], england_total);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

void SetScanSplit(ScanSplit split) {
  scan_min_per_part.store(split.min_per_part, std::memory_order_relaxed);
  scan_max_parts.store(split.max_parts, std::memory_order_relaxed);
}

std::string FormatMicros(Micros t) {
  std::string s = ledger::FormatTimestamp(t);
  if (s.find('.') == std::string::npos) s.insert(s.size() - 1, ".000000");
  return s;
}

std::vector<std::string> AreasNamed(const ReadModel& model, uint64_t as_of) {
  std::vector<char> named(model.areas().size());
  Facts scratch;
  for (size_t i = 0; i < model.referrals().size(); ++i) {
    if (const Facts* f = model.FactsOf(i, as_of, &scratch)) named[f->area] = 1;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < named.size(); ++i) {
    if (named[i]) out.push_back(model.areas().Get(static_cast<uint32_t>(i)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

json::object FairnessView(const ReadModel& model, const ViewParams& p) {
  const DecisionScan s = ScanDecisions(model, p);
  json::object o = Header(p);
  o["p0"] = Opt(s.p0);
  json::object england = DecisionsJson(s.england);
  england["population"] = EnglandPopulation();
  o["england"] = std::move(england);
  json::object areas;
  const Decisions none;
  for (const auto& [code, id] : ListedAreas(model, s.named, p)) {
    const Decisions& d = id >= 0 ? s.areas[id] : none;
    json::object a = DecisionsJson(d);
    a["funnel"] = FunnelJson(Funnel(d.refused, d.decisions, s.p0));
    AddPopulation(FindReferenceArea(code), d.referrals, d.placements, &a);
    areas[code] = std::move(a);
  }
  o["areas"] = std::move(areas);
  return o;
}

// Moves the waits of `from` to the end of `to`'s (their order does not
// matter: every summary sorts them).
void Append(Waits&& from, Waits* to) {
  to->completed.insert(to->completed.end(), from.completed.begin(), from.completed.end());
  to->decisions.insert(to->decisions.end(), from.decisions.begin(), from.decisions.end());
  to->open.insert(to->open.end(), from.open.begin(), from.open.end());
}

json::object WaitingTimesView(const ReadModel& model, const ViewParams& p) {
  const Period period = PeriodOf(p);
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
      ScanFacts(model, p.as_of, empty, [&](size_t i, const Facts& f, Part* w) {
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
          const auto [state, offered] = OpenStateAt(model, i, f, p.as_of, p.at);
          if (ledger::IsOpen(state)) {
            const int64_t d = WholeDays(f.received_at, p.at);
            w->england.open.push_back(d);
            w->areas[area].open.push_back(d);
            if (in_scope && state == ReferralState::kOffered && offered >= 0) {
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
    AddNamed(parts[t].named, &w.named);
  }
  json::object o = Header(p);
  o["at"] = FormatMicros(p.at);
  o["england"] = WaitsJson(w.england, true);
  json::object areas_json;
  Waits none;
  for (const auto& [code, id] : ListedAreas(model, w.named, p)) {
    areas_json[code] = WaitsJson(id >= 0 ? w.areas[id] : none, true);
  }
  o["areas"] = std::move(areas_json);
  // Providers with a completed or open pathway, in id order.
  std::vector<std::pair<std::string_view, size_t>> providers;
  for (size_t v = 0; v < w.providers.size(); ++v) {
    if (!w.providers[v].completed.empty() || !w.providers[v].open.empty()) {
      providers.emplace_back(model.providers().Get(static_cast<uint32_t>(v)), v);
    }
  }
  std::sort(providers.begin(), providers.end());
  json::object providers_json;
  for (const auto& [id, v] : providers) providers_json[id] = WaitsJson(w.providers[v], false);
  o["providers"] = std::move(providers_json);
  return o;
}

// Refusal counts by (month, reason, stage): a flat array over the months
// seen, grown at either end as refusals come.
class MonthCells {
 public:
  static constexpr size_t kPerMonth = kReasons * EnumCount<RefusalStage>();
  void Add(int64_t month, size_t cell, uint64_t n = 1) {
    if (counts_.empty()) first_ = month;
    if (month < first_) {
      counts_.insert(counts_.begin(), static_cast<size_t>(first_ - month) * kPerMonth, 0);
      first_ = month;
    }
    const size_t at = static_cast<size_t>(month - first_) * kPerMonth + cell;
    if (at >= counts_.size()) counts_.resize((at / kPerMonth + 1) * kPerMonth, 0);
    counts_[at] += n;
  }
  void Merge(const MonthCells& other) {
    for (size_t at = 0; at < other.counts_.size(); ++at) {
      if (other.counts_[at])
        Add(other.first_ + static_cast<int64_t>(at / kPerMonth), at % kPerMonth, other.counts_[at]);
    }
  }
  // Calls fn(month, cell, count) for each non-zero count.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (size_t at = 0; at < counts_.size(); ++at) {
      if (counts_[at])
        fn(first_ + static_cast<int64_t>(at / kPerMonth), at % kPerMonth, counts_[at]);
    }
  }

 private:
  int64_t first_ = 0;
  std::vector<uint64_t> counts_;
};

json::object RefusalsView(const ReadModel& model, const ViewParams& p) {
  const Period period = PeriodOf(p);
  std::optional<uint32_t> only;
  if (p.area) only = model.areas().Find(*p.area);
  constexpr size_t kStages = EnumCount<RefusalStage>();
  struct Part {
    uint64_t total = 0, england_total = 0;
    ReasonCounts england{};
    std::vector<ReasonCounts> area_reasons;  // by area pool id
    std::vector<uint64_t> area_totals;
    std::vector<char> named;
    MonthCells cells;
    std::vector<uint64_t> by_decider;  // by decider pool id
    std::array<uint64_t, EnumCount<ledger::Referrer>()> by_referrer{};
    std::array<uint64_t, EnumCount<ledger::Substance>()> by_substance{};
  };
  Part empty;
  empty.area_reasons.resize(model.areas().size());
  empty.area_totals.resize(model.areas().size());
  empty.named.resize(model.areas().size());
  empty.by_decider.resize(model.deciders().size());
  std::vector<Part> parts =
      ScanFacts(model, p.as_of, empty, [&](size_t i, const Facts& f, Part* c) {
        // One refusal of this referral, dated `at`.
        auto count = [&](Micros at, uint8_t reason, uint8_t stage, uint32_t decider) {
          if (!period.Contains(at)) return;
          if ((p.reason && *p.reason != static_cast<RefusalReason>(reason)) ||
              (p.stage && *p.stage != static_cast<RefusalStage>(stage))) {
            return;
          }
          ++c->england[reason];
          ++c->england_total;
          ++c->area_reasons[f.area][reason];
          ++c->area_totals[f.area];
          if (p.area && !(only && *only == f.area)) return;
          ++c->total;
          c->cells.Add(ledger::MonthOfDay(WholeDays(0, at)), reason * kStages + stage);
          ++c->by_decider[decider];
          ++c->by_referrer[f.received[slot::kReferrer]];
          ++c->by_substance[f.received[slot::kSubstance]];
        };
        c->named[f.area] = 1;
        if (f.refusals == 1) {
          count(f.refusal_at, f.refusal_reason, f.refusal_stage, f.refusal_decider);
          return;
        }
        if (f.refusals == 0) return;
        // More than one refusal: each is read from the events.
        const Referral& r = model.referrals()[i];
        const size_t n = CountWithin(r, p.as_of);
        for (size_t j = 1; j < n; ++j) {
          if (r.recs[j].type != EventType::kReferralRefused) continue;
          const Rec& data = Effective(r, n, j);
          count(r.recs[j].occurred_at, data.e[slot::kReason], data.e[slot::kStage], data.x);
        }
      });
  Part sum = std::move(parts[0]);
  for (size_t t = 1; t < parts.size(); ++t) {
    const Part& q = parts[t];
    sum.total += q.total;
    sum.england_total += q.england_total;
    for (size_t r = 0; r < kReasons; ++r) sum.england[r] += q.england[r];
    for (size_t a = 0; a < sum.area_reasons.size(); ++a) {
      for (size_t r = 0; r < kReasons; ++r) sum.area_reasons[a][r] += q.area_reasons[a][r];
      sum.area_totals[a] += q.area_totals[a];
    }
    AddNamed(q.named, &sum.named);
    sum.cells.Merge(q.cells);
    for (size_t d = 0; d < sum.by_decider.size(); ++d) sum.by_decider[d] += q.by_decider[d];
    for (size_t i = 0; i < sum.by_referrer.size(); ++i) sum.by_referrer[i] += q.by_referrer[i];
    for (size_t i = 0; i < sum.by_substance.size(); ++i) sum.by_substance[i] += q.by_substance[i];
  }
  const uint64_t total = sum.total, england_total = sum.england_total;
  const ReasonCounts& england = sum.england;
  const std::vector<ReasonCounts>& area_reasons = sum.area_reasons;
  const std::vector<uint64_t>& area_totals = sum.area_totals;
  const std::vector<char>& named = sum.named;
  // Cells in (reason name, stage name, month) order; deciders by name.
  std::map<std::tuple<std::string_view, std::string_view, int64_t>, uint64_t> cells;
  sum.cells.ForEach([&](int64_t month, size_t cell, uint64_t n) {
    cells[{ReasonName(cell / kStages), ledger::ToString(static_cast<RefusalStage>(cell % kStages)),
           month}] = n;
  });
  std::map<std::string_view, uint64_t> by_decider;
  for (size_t d = 0; d < sum.by_decider.size(); ++d) {
    if (sum.by_decider[d])
      by_decider[model.deciders().Get(static_cast<uint32_t>(d))] = sum.by_decider[d];
  }
  const auto& by_referrer = sum.by_referrer;
  const auto& by_substance = sum.by_substance;
  json::object o = Header(p);
  json::object filters;
  filters["area"] = p.area ? json::value(*p.area) : json::value();
  filters["reason"] = p.reason ? json::value(ledger::ToString(*p.reason)) : json::value();
  filters["stage"] = p.stage ? json::value(ledger::ToString(*p.stage)) : json::value();
  o["filters"] = std::move(filters);
  o["total"] = total;
  json::array cells_json;
  for (const auto& [key, count] : cells) {
    json::object c;
    c["reason"] = std::get<0>(key);
    c["stage"] = std::get<1>(key);
    c["month"] = ledger::FormatMonth(std::get<2>(key));
    c["count"] = count;
    cells_json.push_back(std::move(c));
  }
  o["by_reason_stage_month"] = std::move(cells_json);
  json::object deciders;
  for (const auto& [id, count] : by_decider) deciders[id] = count;
  o["by_decided_by"] = std::move(deciders);
  o["by_referrer"] = EnumCounts<ledger::Referrer>(by_referrer);
  o["by_substance"] = EnumCounts<ledger::Substance>(by_substance);
  const auto listed = ListedAreas(model, named, p);
  json::object by_area;
  json::object top_areas;
  for (const auto& [code, id] : listed) {
    by_area[code] = id >= 0 ? area_totals[id] : 0;
    top_areas[code] = id >= 0
                          ? TopReasons(area_reasons[id], area_totals[id], england, england_total)
                          : json::array();
  }
  o["by_area"] = std::move(by_area);
  json::object top;
  top["england"] = TopReasons(england, england_total, england, england_total);
  top["areas"] = std::move(top_areas);
  o["top_reasons"] = std::move(top);
  return o;
}

json::object AreasView(const ReadModel& model, const ViewParams& p) {
  const DecisionScan s = ScanDecisions(model, p, /*count_open=*/true);
  json::object o = Header(p);
  o["at"] = FormatMicros(p.at);
  o["p0"] = Opt(s.p0);
  json::array areas;
  for (const auto& [code, id] : ListedAreas(model, s.named, p)) {
    const Decisions none;
    const Decisions& d = id >= 0 ? s.areas[id] : none;
    json::object a;
    a["code"] = code;
    a["referrals"] = d.referrals;
    a["decisions"] = d.decisions;
    a["refused"] = d.refused;
    a["refusal_rate"] = Ratio(d.refused, d.decisions);
    a["funnel_flag"] = ToString(Funnel(d.refused, d.decisions, s.p0).flag);
    a["placements_started"] = d.placements;
    a["open_pathways"] = id >= 0 ? s.open[id] : 0;
    AddPopulation(FindReferenceArea(code), d.referrals, d.placements, &a);
    areas.push_back(std::move(a));
  }
  o["areas"] = std::move(areas);
  return o;
}

json::object ReferralView(const std::vector<ledger::Event>& events, uint64_t as_of, Micros at) {
  ledger::ReferralReceived received;
  Micros received_at = 0;
  ReferralState state = ReferralState::kNone;
  std::optional<std::pair<EventType, Micros>> first;
  std::optional<Micros> started;
  bool upheld = false;
  json::array events_json;
  for (const ledger::Event& e : events) {
    if (e.seq > as_of) break;
    if (auto next = ledger::Transition(state, e.data); next.ok()) state = *next;
    const EventType type = ledger::TypeOf(e.data);
    if (const auto* d = std::get_if<ledger::ReferralReceived>(&e.data)) {
      received = *d;
      received_at = e.occurred_at;
    } else if (type == EventType::kFundingApproved || type == EventType::kReferralRefused) {
      if (!first) first = {type, e.occurred_at};
    } else if (const auto* d = std::get_if<ledger::AppealDecided>(&e.data)) {
      upheld = upheld || d->outcome == ledger::AppealOutcome::kUpheld;
    } else if (type == EventType::kPlacementStarted) {
      started = e.occurred_at;
    } else if (const auto* d = std::get_if<ledger::RecordCorrected>(&e.data)) {
      if (d->corrects_seq == events.front().seq) {
        ledger::EventData data = received;
        ledger::ApplyCorrection(d->fields, &data);
        received = std::get<ledger::ReferralReceived>(data);
      }
    }
    json::object ej = ledger::EventToJson(e);
    events_json.push_back(std::move(ej));
  }
  json::object o;
  o["as_of_seq"] = as_of;
  o["referral_id"] = events.front().referral_id;
  o["area"] = received.area;
  o["state"] = ledger::ToString(state);
  o["received"] = ledger::EventDataToJson(received);
  o["first_decision"] =
      first ? json::value(first->first == EventType::kReferralRefused ? "refused" : "approved")
            : json::value();
  o["overturned_on_appeal"] = first && first->first == EventType::kReferralRefused && upheld;
  o["decision_wait_days"] =
      first ? json::value(WholeDays(received_at, first->second)) : json::value();
  o["start_wait_days"] = started ? json::value(WholeDays(received_at, *started)) : json::value();
  o["waiting_days"] = ledger::IsOpen(state)
                          ? json::value(std::max<int64_t>(0, WholeDays(received_at, at)))
                          : json::value();
  o["events"] = std::move(events_json);
  return o;
}

}  // namespace projections
