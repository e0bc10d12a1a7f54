// Hand-worked checks of every formula of SPEC §4 and §8.
#include "projections/stats.h"

#include <gtest/gtest.h>

namespace projections {
namespace {

TEST(Wilson, NoDecisionsHasNoInterval) { EXPECT_FALSE(WilsonInterval(0, 0).has_value()); }

TEST(Wilson, ZeroRefusalsStartAtExactlyZero) {
  auto ci = WilsonInterval(0, 10);
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->low, 0.0);
  // z^2 / (n + z^2) with z = 1.959964: 3.841459 / 13.841459.
  EXPECT_NEAR(ci->high, 0.2775327, 1e-6);
}

TEST(Wilson, AllRefusedEndAtExactlyOne) {
  auto ci = WilsonInterval(10, 10);
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->high, 1.0);
  EXPECT_NEAR(ci->low, 1 - 0.2775327, 1e-6);
}

TEST(Wilson, OneInTwo) {
  // The textbook interval for 1 of 2: (0.0945, 0.9055), symmetric about 0.5.
  auto ci = WilsonInterval(1, 2);
  ASSERT_TRUE(ci);
  EXPECT_NEAR(ci->low, 0.094531, 1e-6);
  EXPECT_NEAR(ci->low + ci->high, 1.0, 1e-12);
}

TEST(Wilson, TheExampleEnglandRate) {
  // 69 refused of 150 decisions (tests/data/examples/fairness_2025.json).
  auto ci = WilsonInterval(69, 150);
  ASSERT_TRUE(ci);
  EXPECT_NEAR(ci->low, 0.38223583360562274, 1e-15);
  EXPECT_NEAR(ci->high, 0.5397617859745504, 1e-15);
}

TEST(Funnel, FlagsBesideTheLimits) {
  // p0 = 0.5, n = 100: se = 0.05, 95% limits 0.5 -/+ 0.0979982, 99.8% limits
  // 0.5 -/+ 0.1545116.
  auto f = Funnel(60, 100, 0.5);
  ASSERT_TRUE(f.limits95 && f.limits998 && f.z);
  EXPECT_NEAR(f.limits95->low, 0.4020018, 1e-9);
  EXPECT_NEAR(f.limits95->high, 0.5979982, 1e-9);
  EXPECT_NEAR(f.limits998->low, 0.3454884, 1e-9);
  EXPECT_NEAR(f.limits998->high, 0.6545116, 1e-9);
  EXPECT_NEAR(*f.z, 2.0, 1e-12);
  EXPECT_EQ(f.flag, FunnelFlag::kAbove95);                      // 0.60 > 0.5980
  EXPECT_EQ(Funnel(59, 100, 0.5).flag, FunnelFlag::kWithin);    // 0.59 < 0.5980
  EXPECT_EQ(Funnel(65, 100, 0.5).flag, FunnelFlag::kAbove95);   // 0.65 < 0.6545
  EXPECT_EQ(Funnel(66, 100, 0.5).flag, FunnelFlag::kAbove998);  // 0.66 > 0.6545
  EXPECT_EQ(Funnel(41, 100, 0.5).flag, FunnelFlag::kWithin);    // 0.41 > 0.4020
  EXPECT_EQ(Funnel(40, 100, 0.5).flag, FunnelFlag::kBelow95);   // 0.40 < 0.4020
  EXPECT_EQ(Funnel(35, 100, 0.5).flag, FunnelFlag::kBelow95);   // 0.35 > 0.3455
  EXPECT_EQ(Funnel(34, 100, 0.5).flag, FunnelFlag::kBelow998);  // 0.34 < 0.3455
  EXPECT_EQ(Funnel(50, 100, 0.5).flag, FunnelFlag::kWithin);
}

TEST(Funnel, APointOnAClippedLimitIsInTheInnerBand) {
  // p0 = 0.1, n = 1: every lower limit is below 0 and clipped to exactly 0,
  // so p = 0 sits on both lower limits: within, not below.
  auto low = Funnel(0, 1, 0.1);
  ASSERT_TRUE(low.limits95 && low.limits998);
  EXPECT_EQ(low.limits95->low, 0.0);
  EXPECT_EQ(low.limits998->low, 0.0);
  EXPECT_EQ(low.flag, FunnelFlag::kWithin);
  // p0 = 0.9, n = 1: the upper limits clip to exactly 1, and p = 1 is on them.
  auto high = Funnel(1, 1, 0.9);
  EXPECT_EQ(high.limits95->high, 1.0);
  EXPECT_EQ(high.limits998->high, 1.0);
  EXPECT_EQ(high.flag, FunnelFlag::kWithin);
}

TEST(Funnel, EnglandRateOfZeroOrOne) {
  auto zero_same = Funnel(0, 10, 0.0);
  EXPECT_EQ(zero_same.flag, FunnelFlag::kWithin);
  EXPECT_FALSE(zero_same.z.has_value());
  EXPECT_EQ(Funnel(1, 10, 0.0).flag, FunnelFlag::kAbove998);
  EXPECT_FALSE(Funnel(1, 10, 0.0).z.has_value());
  EXPECT_EQ(Funnel(10, 10, 1.0).flag, FunnelFlag::kWithin);
  EXPECT_EQ(Funnel(9, 10, 1.0).flag, FunnelFlag::kBelow998);
}

TEST(Funnel, NoDecisions) {
  auto f = Funnel(0, 0, 0.4);
  EXPECT_EQ(f.flag, FunnelFlag::kNoDecisions);
  EXPECT_FALSE(f.p || f.z || f.limits95 || f.limits998);
  EXPECT_EQ(ToString(f.flag), "no_decisions");
  // Without any decision in England there is no p0 either.
  EXPECT_EQ(Funnel(1, 2, std::nullopt).flag, FunnelFlag::kNoDecisions);
}

TEST(Disparity, FiveDecisionRule) {
  // A group of 4 decisions with the best rate is not the reference and gets
  // no ratio; the reference is the best group with at least 5.
  auto r = Disparities({{4, 4, 0}, {5, 4, 1}, {10, 6, 4}, {0, 0, 0}});
  EXPECT_EQ(r[0].approval_rate, 1.0);
  EXPECT_FALSE(r[0].disparity_ratio.has_value());
  EXPECT_FALSE(r[0].four_fifths_flag);
  EXPECT_EQ(r[1].disparity_ratio, 1.0);
  EXPECT_FALSE(r[1].four_fifths_flag);
  EXPECT_NEAR(*r[2].disparity_ratio, 0.75, 1e-15);
  EXPECT_TRUE(r[2].four_fifths_flag);
  EXPECT_FALSE(r[3].approval_rate.has_value());
  EXPECT_FALSE(r[3].disparity_ratio.has_value());
}

TEST(Disparity, ExactlyFourFifthsIsNotFlagged) {
  auto r = Disparities({{5, 5, 0}, {5, 4, 1}});
  EXPECT_EQ(r[1].disparity_ratio, 0.8);
  EXPECT_FALSE(r[1].four_fifths_flag);
}

TEST(Disparity, NoEligibleGroupOrABestRateOfZero) {
  for (const auto& groups : {std::vector<GroupCounts>{{4, 3, 1}, {2, 1, 1}},
                             std::vector<GroupCounts>{{5, 0, 5}, {6, 0, 6}}}) {
    for (const GroupRates& g : Disparities(groups)) {
      EXPECT_FALSE(g.disparity_ratio.has_value());
      EXPECT_FALSE(g.four_fifths_flag);
    }
  }
}

TEST(Waits, NearestRankMedianIsTheLowerMiddle) {
  EXPECT_EQ(NearestRank({1, 2, 3, 4}, 1, 2), 2);
  EXPECT_EQ(NearestRank({1, 2, 3}, 1, 2), 2);
  EXPECT_EQ(NearestRank({7}, 1, 2), 7);
}

TEST(Waits, P92UsesExactIntegerRanks) {
  // 0.92 * 25 is 23.000000000000004 in floating point, whose ceiling is 24;
  // the rank is 23.
  std::vector<int64_t> v;
  for (int i = 1; i <= 25; ++i) v.push_back(i * 10);
  EXPECT_EQ(NearestRank(v, 92, 100), 230);
  v.resize(50);
  for (int i = 0; i < 50; ++i) v[i] = i + 1;
  EXPECT_EQ(NearestRank(v, 92, 100), 46);
  v.resize(1);
  EXPECT_EQ(NearestRank(v, 92, 100), 1);
}

TEST(Waits, Summary) {
  std::vector<int64_t> days{30, 10, 20, 40};
  WaitSummary s = SummarizeWaits(days);
  EXPECT_EQ(s.n, 4u);
  EXPECT_EQ(*s.mean, 25.0);
  EXPECT_EQ(*s.median, 20);
  EXPECT_EQ(*s.p92, 40);  // rank ceil(3.68) = 4
  EXPECT_EQ(*s.max, 40);
  std::vector<int64_t> none;
  WaitSummary e = SummarizeWaits(none);
  EXPECT_EQ(e.n, 0u);
  EXPECT_FALSE(e.mean || e.median || e.p92 || e.max);
}

TEST(Waits, LargeSetsSortedByCountingGiveTheSameSummaries) {
  // Large enough to be sorted by counting, with a spread and a negative end.
  std::vector<int64_t> days;
  uint64_t x = 12345;
  for (int i = 0; i < 20000; ++i) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    days.push_back(static_cast<int64_t>((x >> 33) % 3000) - 2);
  }
  std::vector<int64_t> sorted = days;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> a = days, b = days;
  const WaitSummary w = SummarizeWaits(a);
  EXPECT_EQ(a, sorted);
  EXPECT_EQ(*w.median, sorted[9999]);
  EXPECT_EQ(*w.p92, sorted[18399]);
  EXPECT_EQ(*w.max, sorted.back());
  double sum = 0;
  for (int64_t d : sorted) sum += static_cast<double>(d);
  EXPECT_EQ(*w.mean, sum / 20000.0);
  const OpenSummary o = SummarizeOpen(b);
  EXPECT_EQ(b, sorted);
  EXPECT_EQ(*o.median, sorted[9999]);
}

TEST(Waits, OverThresholdsAreStrict) {
  std::vector<int64_t> days{21, 22, 126, 127, 5};
  OpenSummary s = SummarizeOpen(days);
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(*s.median, 22);
  EXPECT_EQ(s.over_21, 3u);
  EXPECT_EQ(s.over_126, 1u);
}

TEST(Waits, WeekBandsAgreeWithTheThreeAndEighteenWeekMarks) {
  const std::vector<int64_t> days{0, 7, 8, 21, 22, 126, 127, 364, 365, 2000};
  const std::vector<uint64_t> bands = WeekBands(days);
  ASSERT_EQ(bands.size(), kWeekBands);
  EXPECT_EQ(bands[0], 2u);   // 0 and 7 days: up to one week
  EXPECT_EQ(bands[1], 1u);   // 8
  EXPECT_EQ(bands[2], 1u);   // 21: not over 3 weeks
  EXPECT_EQ(bands[3], 1u);   // 22
  EXPECT_EQ(bands[17], 1u);  // 126: not over 18 weeks
  EXPECT_EQ(bands[18], 1u);  // 127
  EXPECT_EQ(bands[51], 1u);  // 364
  EXPECT_EQ(bands[52], 2u);  // over 52 weeks
  std::vector<int64_t> sorted = days;
  const OpenSummary s = SummarizeOpen(sorted);
  uint64_t over3 = 0, over18 = 0;
  for (size_t k = 3; k < kWeekBands; ++k) over3 += bands[k];
  for (size_t k = 18; k < kWeekBands; ++k) over18 += bands[k];
  EXPECT_EQ(over3, s.over_21);
  EXPECT_EQ(over18, s.over_126);
}

TEST(Waits, WholeDaysAcrossMidnight) {
  const ledger::Micros day = ledger::kMicrosPerDay;
  const ledger::Micros minute = 60 * ledger::kMicrosPerSecond;
  const ledger::Micros late = 10 * day + 23 * 60 * minute + 59 * minute;  // 23:59
  EXPECT_EQ(WholeDays(late, late + 2 * minute), 0);                       // 00:01 the next day
  EXPECT_EQ(WholeDays(late, late + day - 1), 0);
  EXPECT_EQ(WholeDays(late, late + day), 1);
  EXPECT_EQ(WholeDays(late, late + 3 * day + minute), 3);
}

}  // namespace
}  // namespace projections
