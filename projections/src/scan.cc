#include "scan.h"

namespace projections {

namespace scan {

std::atomic<size_t> min_per_part{ScanSplit{}.min_per_part};
std::atomic<size_t> max_parts{ScanSplit{}.max_parts};

Period PeriodOf(const ViewParams& p) {
  Period out;
  if (p.from_day) out.from = *p.from_day * ledger::kMicrosPerDay;
  if (p.to_day) out.to = *p.to_day * ledger::kMicrosPerDay;
  return out;
}

namespace {

// The state after the first n events dated at or before `at` (business time
// never runs backwards in a stream, so they are a prefix), and the index of
// the latest placement.offered among them (-1: none).
struct StateAt {
  ledger::ReferralState state = ledger::ReferralState::kNone;
  int offered = -1;
};
StateAt StateAtTime(const Referral& r, size_t n, ledger::Micros at) {
  StateAt out;
  for (size_t i = 0; i < n && r.recs[i].occurred_at <= at; ++i) {
    out.state = NextState(out.state, r.recs[i]);
    if (r.recs[i].type == ledger::EventType::kPlacementOffered) out.offered = static_cast<int>(i);
  }
  return out;
}

}  // namespace

std::pair<ledger::ReferralState, int64_t> WalkStateAt(const ReadModel& model, size_t i,
                                                      uint64_t as_of, ledger::Micros at) {
  const Referral& r = model.referrals()[i];
  const size_t n = CountWithin(r, as_of);
  const StateAt st = StateAtTime(r, n, at);
  return {st.state, st.offered >= 0 ? static_cast<int64_t>(Effective(r, n, st.offered).x) : -1};
}

void AddNamed(const std::vector<char>& from, std::vector<char>* to) {
  for (size_t i = 0; i < from.size(); ++i) (*to)[i] |= from[i];
}

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

AreaReference ReferenceOf(std::string_view code, uint64_t referrals, uint64_t placements) {
  AreaReference out;
  out.info = FindReferenceArea(code);
  if (out.info && out.info->population > 0) {
    const double people = static_cast<double>(out.info->population);
    out.referrals_per_100k = static_cast<double>(referrals) * 100000.0 / people;
    out.placements_per_100k = static_cast<double>(placements) * 100000.0 / people;
  }
  return out;
}

std::optional<double> Ratio(uint64_t count, uint64_t total) {
  if (total == 0) return std::nullopt;
  return static_cast<double>(count) / static_cast<double>(total);
}

}  // namespace scan

void SetScanSplit(ScanSplit split) {
  scan::min_per_part.store(split.min_per_part, std::memory_order_relaxed);
  scan::max_parts.store(split.max_parts, std::memory_order_relaxed);
}

}  // namespace projections
