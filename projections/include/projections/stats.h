// The statistics of SPEC §4 and §8, as pure functions: Wilson score
// intervals, funnel-plot limits and flags, disparity ratios and
// nearest-rank waiting-time summaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ledger/time.h"

namespace projections {

inline constexpr double kZ95 = 1.959964;
inline constexpr double kZ998 = 3.090232;

struct Interval {
  double low = 0;
  double high = 0;
  bool operator==(const Interval&) const = default;
};

// Wilson score interval of k successes in n trials at normal quantile z.
// nullopt when n = 0; the low bound is exactly 0 when k = 0 and the high
// bound exactly 1 when k = n. REQUIRES: k <= n.
std::optional<Interval> WilsonInterval(uint64_t k, uint64_t n, double z = kZ95);

enum class FunnelFlag { kAbove998, kAbove95, kWithin, kBelow95, kBelow998, kNoDecisions };
std::string_view ToString(FunnelFlag flag);

// An area's point on the funnel plot: k refusals of n decisions against the
// England rate p0 (nullopt when England has no decisions).
struct FunnelPoint {
  uint64_t n = 0;
  std::optional<double> p;                      // k / n; nullopt when n = 0
  std::optional<double> z;                      // nullopt when n = 0 or p0 is 0 or 1
  std::optional<Interval> limits95, limits998;  // clipped to [0, 1]; nullopt when n = 0
  FunnelFlag flag = FunnelFlag::kNoDecisions;
};
// Comparisons are strict: a point exactly on a limit is in the inner band.
// When p0 is 0 or 1 the limits collapse to p0, z is nullopt and the flag is
// kWithin when p = p0, else kAbove998 / kBelow998.
FunnelPoint Funnel(uint64_t k, uint64_t n, std::optional<double> p0);

// Whole days from `from` to `to`: floor(elapsed / 24 h).
int64_t WholeDays(ledger::Micros from, ledger::Micros to);

// The value at rank ceil(num * n / den) (1-based, exact integer arithmetic)
// of an ascending list. REQUIRES: sorted non-empty, 0 < num <= den.
int64_t NearestRank(const std::vector<int64_t>& sorted, uint64_t num, uint64_t den);

// n, mean, median (rank ceil(n/2)), p92 (rank ceil(92n/100)) and max of a
// set of waits in days; the optional figures are nullopt when it is empty.
struct WaitSummary {
  uint64_t n = 0;
  std::optional<double> mean;
  std::optional<int64_t> median, p92, max;
};
// Sorts `days`.
WaitSummary SummarizeWaits(std::vector<int64_t>& days);

// Pathways open at a moment: how many, their median wait, and how many have
// waited strictly more than 21 and 126 days.
struct OpenSummary {
  uint64_t count = 0;
  std::optional<int64_t> median;
  uint64_t over_21 = 0;
  uint64_t over_126 = 0;
};
// Sorts `days`.
OpenSummary SummarizeOpen(std::vector<int64_t>& days);

// A distribution of waits in whole weeks, as the dashboard draws it: element
// k (k < 52) counts waits w of 7k < w <= 7(k+1) days (element 0 also takes
// w = 0), element 52 those over 364 days. So "over 3 weeks" (w > 21) is the
// sum from element 3 and "over 18 weeks" (w > 126) the sum from element 18.
inline constexpr size_t kWeekBands = 53;
std::vector<uint64_t> WeekBands(const std::vector<int64_t>& days);

// Disparity of one group's approval rate against the best rate among the
// groups of its dimension with at least kMinGroupDecisions decisions.
inline constexpr uint64_t kMinGroupDecisions = 5;
struct GroupCounts {
  uint64_t decisions = 0;
  uint64_t approved = 0;
  uint64_t refused = 0;
};
struct GroupRates {
  std::optional<double> approval_rate;    // nullopt with no decisions
  std::optional<double> disparity_ratio;  // nullopt under 5 decisions or no usable reference
  bool four_fifths_flag = false;          // ratio below 0.8
};
// One result per group, in the same order.
std::vector<GroupRates> Disparities(const std::vector<GroupCounts>& groups);

}  // namespace projections
