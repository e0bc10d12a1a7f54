#include "projections/stats.h"

#include <algorithm>
#include <cmath>

namespace projections {

std::optional<Interval> WilsonInterval(uint64_t k, uint64_t n, double z) {
  if (n == 0) return std::nullopt;
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(k) / nn;
  const double z2 = z * z;
  const double centre = p + z2 / (2 * nn);
  const double spread = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  const double denom = 1 + z2 / nn;
  Interval out{(centre - spread) / denom, (centre + spread) / denom};
  // Rounding can leave the bounds a hair inside; SPEC §8 makes them exact.
  if (k == 0) out.low = 0;
  if (k == n) out.high = 1;
  return out;
}

std::string_view ToString(FunnelFlag flag) {
  switch (flag) {
    case FunnelFlag::kAbove998:
      return "above_998";
    case FunnelFlag::kAbove95:
      return "above_95";
    case FunnelFlag::kWithin:
      return "within";
    case FunnelFlag::kBelow95:
      return "below_95";
    case FunnelFlag::kBelow998:
      return "below_998";
    case FunnelFlag::kNoDecisions:
      return "no_decisions";
  }
  return "no_decisions";
}

FunnelPoint Funnel(uint64_t k, uint64_t n, std::optional<double> p0) {
  FunnelPoint out;
  out.n = n;
  if (n == 0 || !p0) return out;  // no rate: kNoDecisions
  const double p = static_cast<double>(k) / static_cast<double>(n);
  out.p = p;
  const double q0 = *p0;
  if (q0 <= 0 || q0 >= 1) {
    out.limits95 = out.limits998 = Interval{q0, q0};
    out.flag =
        p == q0 ? FunnelFlag::kWithin : (p > q0 ? FunnelFlag::kAbove998 : FunnelFlag::kBelow998);
    return out;
  }
  const double se = std::sqrt(q0 * (1 - q0) / static_cast<double>(n));
  out.z = (p - q0) / se;
  auto limits = [&](double zq) {
    return Interval{std::clamp(q0 - zq * se, 0.0, 1.0), std::clamp(q0 + zq * se, 0.0, 1.0)};
  };
  out.limits95 = limits(kZ95);
  out.limits998 = limits(kZ998);
  if (p > out.limits998->high) {
    out.flag = FunnelFlag::kAbove998;
  } else if (p > out.limits95->high) {
    out.flag = FunnelFlag::kAbove95;
  } else if (p < out.limits998->low) {
    out.flag = FunnelFlag::kBelow998;
  } else if (p < out.limits95->low) {
    out.flag = FunnelFlag::kBelow95;
  } else {
    out.flag = FunnelFlag::kWithin;
  }
  return out;
}

int64_t WholeDays(ledger::Micros from, ledger::Micros to) {
  const ledger::Micros d = to - from;
  // Floor division: a negative elapsed time rounds down too.
  return d >= 0 ? d / ledger::kMicrosPerDay
                : -((-d + ledger::kMicrosPerDay - 1) / ledger::kMicrosPerDay);
}

int64_t NearestRank(const std::vector<int64_t>& sorted, uint64_t num, uint64_t den) {
  const uint64_t n = sorted.size();
  uint64_t rank = (num * n + den - 1) / den;  // ceil(num * n / den)
  rank = std::clamp<uint64_t>(rank, 1, n);
  return sorted[rank - 1];
}

namespace {

// Sorts whole-day waits. Waits span a few thousand days at most, so a large
// set is sorted by counting, in time linear in its size: the views' largest
// sets (England's waits over a year of a national ledger) are hundreds of
// thousands long.
void SortDays(std::vector<int64_t>& days) {
  if (days.size() < 4096) {
    std::sort(days.begin(), days.end());
    return;
  }
  const auto [lo, hi] = std::minmax_element(days.begin(), days.end());
  const int64_t first = *lo;
  const uint64_t range = static_cast<uint64_t>(*hi - *lo) + 1;
  if (range > 4 * days.size()) {
    std::sort(days.begin(), days.end());
    return;
  }
  std::vector<uint32_t> counts(range);
  for (int64_t d : days) ++counts[static_cast<size_t>(d - first)];
  size_t at = 0;
  for (size_t v = 0; v < range; ++v) {
    for (uint32_t k = 0; k < counts[v]; ++k) days[at++] = first + static_cast<int64_t>(v);
  }
}

}  // namespace

WaitSummary SummarizeWaits(std::vector<int64_t>& days) {
  WaitSummary out;
  out.n = days.size();
  if (days.empty()) return out;
  SortDays(days);
  double sum = 0;
  for (int64_t d : days) sum += static_cast<double>(d);
  out.mean = sum / static_cast<double>(days.size());
  out.median = NearestRank(days, 1, 2);
  out.p92 = NearestRank(days, 92, 100);
  out.max = days.back();
  return out;
}

OpenSummary SummarizeOpen(std::vector<int64_t>& days) {
  OpenSummary out;
  out.count = days.size();
  if (days.empty()) return out;
  SortDays(days);
  out.median = NearestRank(days, 1, 2);
  for (int64_t d : days) {
    out.over_21 += d > 21;
    out.over_126 += d > 126;
  }
  return out;
}

std::vector<uint64_t> WeekBands(const std::vector<int64_t>& days) {
  std::vector<uint64_t> out(kWeekBands);
  for (int64_t d : days) {
    const int64_t band = d <= 0 ? 0 : (d - 1) / 7;
    out[static_cast<size_t>(std::min<int64_t>(band, kWeekBands - 1))] += 1;
  }
  return out;
}

std::vector<GroupRates> Disparities(const std::vector<GroupCounts>& groups) {
  std::vector<GroupRates> out(groups.size());
  std::optional<double> best;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].decisions == 0) continue;
    const double rate =
        static_cast<double>(groups[i].approved) / static_cast<double>(groups[i].decisions);
    out[i].approval_rate = rate;
    if (groups[i].decisions >= kMinGroupDecisions && (!best || rate > *best)) best = rate;
  }
  if (!best || *best <= 0) return out;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].decisions < kMinGroupDecisions) continue;
    out[i].disparity_ratio = *out[i].approval_rate / *best;
    out[i].four_fifths_flag = *out[i].disparity_ratio < 0.8;
  }
  return out;
}

}  // namespace projections
