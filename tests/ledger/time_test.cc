#include "ledger/time.h"

#include <gtest/gtest.h>

namespace ledger {
namespace {

TEST(Timestamp, ParsesTheFormsSpec8Accepts) {
  const Micros base =
      DaysFromCivil(2025, 3, 1) * kMicrosPerDay + (9 * 3600 + 30 * 60) * kMicrosPerSecond;
  EXPECT_EQ(ParseTimestamp("2025-03-01T09:30:00Z"), base);
  EXPECT_EQ(ParseTimestamp("2025-03-01T09:30:00+00:00"), base);
  EXPECT_EQ(ParseTimestamp("2025-03-01T09:30:00.5Z"), base + 500000);
  EXPECT_EQ(ParseTimestamp("2025-03-01T09:30:00.123456Z"), base + 123456);
  // Up to 9 fractional digits, kept to the microsecond (truncated).
  EXPECT_EQ(ParseTimestamp("2025-03-01T09:30:00.123456789Z"), base + 123456);
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseTimestamp("1969-12-31T23:59:59Z"), -kMicrosPerSecond);
  EXPECT_EQ(ParseTimestamp("2024-02-29T00:00:00Z"), DaysFromCivil(2024, 2, 29) * kMicrosPerDay);
}

TEST(Timestamp, RejectsEverythingElse) {
  for (const char* bad : {"",
                          "2025-03-01",
                          "2025-03-01t09:30:00Z",
                          "2025-03-01T09:30:00z",
                          "2025-03-01 09:30:00Z",
                          "2025-03-01T09:30:00",
                          "2025-03-01T09:30:00-00:00",
                          "2025-03-01T09:30:00+01:00",
                          "2025-03-01T09:30:00.Z",
                          "2025-03-01T09:30:00.1234567890Z",
                          "2025-02-29T00:00:00Z",
                          "2025-13-01T00:00:00Z",
                          "2025-00-10T00:00:00Z",
                          "2025-04-31T00:00:00Z",
                          "2025-03-01T24:00:00Z",
                          "2025-03-01T23:60:00Z",
                          "2025-03-01T23:59:60Z",
                          "2025-3-01T09:30:00Z",
                          "+2025-03-01T09:30:00Z",
                          "2025-03-01T09:30:00Z ",
                          " 2025-03-01T09:30:00Z",
                          "2025-03-01T09:30:00ZZ",
                          "２025-03-01T09:30:00Z",
                          "2025-03-01T09:30:00.12a4Z"}) {
    EXPECT_EQ(ParseTimestamp(bad), std::nullopt) << bad;
  }
}

TEST(Timestamp, FormatsWithMicrosecondsOnlyWhenPresent) {
  Micros t = *ParseTimestamp("2025-03-01T09:30:00Z");
  EXPECT_EQ(FormatTimestamp(t), "2025-03-01T09:30:00Z");
  EXPECT_EQ(FormatTimestamp(t + 1500), "2025-03-01T09:30:00.001500Z");
  EXPECT_EQ(FormatTimestamp(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(ParseTimestamp(FormatTimestamp(t + 7)), t + 7);
}

TEST(Date, ParsesRealCalendarDatesOnly) {
  EXPECT_EQ(ParseDate("1970-01-01"), 0);
  EXPECT_EQ(ParseDate("2000-02-29"), DaysFromCivil(2000, 2, 29));
  EXPECT_EQ(ParseDate("1900-02-29"), std::nullopt);
  EXPECT_EQ(ParseDate("2025-06-31"), std::nullopt);
  EXPECT_EQ(ParseDate("2025-06-3"), std::nullopt);
  EXPECT_EQ(ParseDate("2025-06-30T00:00:00Z"), std::nullopt);
  EXPECT_EQ(FormatDate(DaysFromCivil(2026, 12, 31)), "2026-12-31");
}

}  // namespace
}  // namespace ledger
