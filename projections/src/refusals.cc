// /v1/refusals: refusals by reason x stage x month, decider, referrer,
// substance and area, with the top reasons against England's shares.
#include <map>
#include <tuple>

#include "projections/views.h"
#include "scan.h"

namespace projections {

using ledger::EnumCount;
using ledger::RefusalReason;
using ledger::RefusalStage;

namespace {

constexpr size_t kReasons = EnumCount<RefusalReason>();
constexpr size_t kStages = EnumCount<RefusalStage>();
using ReasonCounts = CountsBy<RefusalReason>;

std::string_view ReasonName(size_t r) { return ledger::ToString(static_cast<RefusalReason>(r)); }

// The top 3 reasons by count (ties by name), with their share of `total`
// and England's share of the same reason.
std::vector<ReasonShare> TopReasons(const ReasonCounts& counts, uint64_t total,
                                    const ReasonCounts& england, uint64_t england_total) {
  std::vector<size_t> order;
  for (size_t r = 0; r < kReasons; ++r) {
    if (counts[r] > 0) order.push_back(r);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (counts[a] != counts[b]) return counts[a] > counts[b];
    return ReasonName(a) < ReasonName(b);
  });
  if (order.size() > 3) order.resize(3);
  std::vector<ReasonShare> out;
  for (size_t r : order) {
    out.push_back({static_cast<RefusalReason>(r), counts[r], scan::Ratio(counts[r], total),
                   scan::Ratio(england[r], england_total)});
  }
  return out;
}

// Refusal counts by (month, reason, stage): a flat array over the months
// seen, grown at either end as refusals come.
class MonthCells {
 public:
  static constexpr size_t kPerMonth = kReasons * kStages;
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
    other.ForEach([&](int64_t month, size_t cell, uint64_t n) { Add(month, cell, n); });
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

// What one part of the scan counts.
struct Part {
  uint64_t total = 0, england_total = 0;
  ReasonCounts england{};
  std::vector<ReasonCounts> area_reasons;  // by area pool id
  std::vector<uint64_t> area_totals;
  std::vector<char> named;
  MonthCells cells;
  std::vector<uint64_t> by_decider;  // by decider pool id
  CountsBy<ledger::Referrer> by_referrer{};
  CountsBy<ledger::Substance> by_substance{};

  void Merge(const Part& q) {
    total += q.total;
    england_total += q.england_total;
    for (size_t r = 0; r < kReasons; ++r) england[r] += q.england[r];
    for (size_t a = 0; a < area_reasons.size(); ++a) {
      for (size_t r = 0; r < kReasons; ++r) area_reasons[a][r] += q.area_reasons[a][r];
      area_totals[a] += q.area_totals[a];
    }
    scan::AddNamed(q.named, &named);
    cells.Merge(q.cells);
    for (size_t d = 0; d < by_decider.size(); ++d) by_decider[d] += q.by_decider[d];
    for (size_t i = 0; i < by_referrer.size(); ++i) by_referrer[i] += q.by_referrer[i];
    for (size_t i = 0; i < by_substance.size(); ++i) by_substance[i] += q.by_substance[i];
  }
};

}  // namespace

RefusalsReport RefusalsView(const ReadModel& model, const ViewParams& p) {
  const scan::Period period = scan::PeriodOf(p);
  std::optional<uint32_t> only;
  if (p.area) only = model.areas().Find(*p.area);
  Part empty;
  empty.area_reasons.resize(model.areas().size());
  empty.area_totals.resize(model.areas().size());
  empty.named.resize(model.areas().size());
  empty.by_decider.resize(model.deciders().size());
  std::vector<Part> parts =
      scan::EachReferral(model, p.as_of, empty, [&](size_t i, const Facts& f, Part* c) {
        // One refusal of this referral, dated `at`.
        auto count = [&](ledger::Micros at, uint8_t reason, uint8_t stage, uint32_t decider) {
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
          if (r.recs[j].type != ledger::EventType::kReferralRefused) continue;
          const Rec& data = Effective(r, n, j);
          count(r.recs[j].occurred_at, data.e[slot::kReason], data.e[slot::kStage], data.x);
        }
      });
  Part sum = std::move(parts[0]);
  for (size_t t = 1; t < parts.size(); ++t) sum.Merge(parts[t]);

  RefusalsReport out;
  scan::Stamp(p, &out);
  out.area = p.area;
  out.reason = p.reason;
  out.stage = p.stage;
  out.total = sum.total;
  // Cells in (reason name, stage name, month) order.
  std::map<std::tuple<std::string_view, std::string_view, int64_t>, RefusalCell> cells;
  sum.cells.ForEach([&](int64_t month, size_t cell, uint64_t n) {
    const auto reason = static_cast<RefusalReason>(cell / kStages);
    const auto stage = static_cast<RefusalStage>(cell % kStages);
    cells[{ledger::ToString(reason), ledger::ToString(stage), month}] = {reason, stage, month, n};
  });
  for (const auto& [key, cell] : cells) out.by_reason_stage_month.push_back(cell);
  // Deciders by id.
  std::map<std::string_view, uint64_t> by_decider;
  for (size_t d = 0; d < sum.by_decider.size(); ++d) {
    if (sum.by_decider[d])
      by_decider[model.deciders().Get(static_cast<uint32_t>(d))] = sum.by_decider[d];
  }
  for (const auto& [id, count] : by_decider) out.by_decided_by.push_back({std::string(id), count});
  out.by_referrer = sum.by_referrer;
  out.by_substance = sum.by_substance;
  out.england_top_reasons =
      TopReasons(sum.england, sum.england_total, sum.england, sum.england_total);
  for (const auto& [code, id] : scan::ListedAreas(model, sum.named, p)) {
    if (id < 0) {
      out.areas.push_back({code, 0, {}});
      continue;
    }
    out.areas.push_back(
        {code, sum.area_totals[id],
         TopReasons(sum.area_reasons[id], sum.area_totals[id], sum.england, sum.england_total)});
  }
  return out;
}

}  // namespace projections
