// /v1/areas/{code}/referrals: the referrals behind a figure (SPEC §11),
// chosen by the very tests the fairness and waiting-times views count with,
// so that a list's total is always its figure.
#include <algorithm>

#include "projections/views.h"
#include "scan.h"

namespace projections {

namespace {

// Whether referral i (its facts `f`, in the area) counts in p.figure.
bool Counts(const ReadModel& model, size_t i, const Facts& f, const ViewParams& p,
            const scan::Period& period) {
  const bool decided = f.decided && period.Contains(f.decided_at);
  // reason and stage narrow refusals as refusals_by_reason/_stage do.
  const bool refused = decided && f.first_refused &&
                       (!p.reason || f.first_reason == static_cast<uint8_t>(*p.reason)) &&
                       (!p.stage || f.first_stage == static_cast<uint8_t>(*p.stage));
  switch (p.figure) {
    case ListFigure::kReferrals:
      return period.Contains(f.received_at);
    case ListFigure::kDecisions:
      return decided;
    case ListFigure::kApproved:
      return decided && !f.first_refused;
    case ListFigure::kRefused:
      return refused;
    case ListFigure::kOverturnedOnAppeal:
      return refused && f.upheld;
    case ListFigure::kPlacementsStarted:
      return f.started && period.Contains(f.started_at);
    case ListFigure::kOpenPathways:
      return f.received_at <= p.at &&
             ledger::IsOpen(scan::OpenStateAt(model, i, f, p.as_of, p.at).first);
  }
  return false;
}

}  // namespace

ReferralListReport ReferralListView(const ReadModel& model, const ViewParams& p) {
  ReferralListReport out;
  scan::Stamp(p, &out);
  out.at = p.at;
  out.area = *p.area;
  out.figure = p.figure;
  out.reason = p.reason;
  out.stage = p.stage;
  const std::optional<uint32_t> area = model.areas().Find(*p.area);
  if (!area) return out;  // no referral names it
  const scan::Period period = scan::PeriodOf(p);
  using Part = std::vector<size_t>;
  std::vector<Part> parts =
      scan::EachReferral(model, p.as_of, Part{}, [&](size_t i, const Facts& f, Part* part) {
        if (f.area == *area && Counts(model, i, f, p, period)) part->push_back(i);
      });
  std::vector<size_t> counted;
  for (Part& part : parts) counted.insert(counted.end(), part.begin(), part.end());
  out.total = counted.size();
  const auto& referrals = model.referrals();
  auto id = [&](size_t i) -> const std::string& { return referrals[i].id; };
  // The page: the ids after `after`, the least `limit` of them, in order.
  if (p.after) {
    std::erase_if(counted, [&](size_t i) { return id(i) <= *p.after; });
  }
  const size_t n = std::min(p.limit, counted.size());
  std::partial_sort(counted.begin(), counted.begin() + n, counted.end(),
                    [&](size_t a, size_t b) { return id(a) < id(b); });
  Facts scratch;
  for (size_t k = 0; k < n; ++k) {
    const Facts& f = *model.FactsOf(counted[k], p.as_of, &scratch);
    ListedReferral& r = out.referrals.emplace_back();
    r.referral_id = id(counted[k]);
    r.received_at = f.received_at;
    r.state = f.state;
    if (f.decided) {
      r.first_decision = f.first_refused ? FirstDecision::kRefused : FirstDecision::kApproved;
      r.decided_at = f.decided_at;
    }
  }
  if (n < counted.size()) out.next_after = out.referrals.back().referral_id;
  return out;
}

}  // namespace projections
