// Timestamps and dates as SPEC §8 accepts and writes them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ledger {

using Micros = int64_t;  // microseconds since 1970-01-01T00:00:00Z

inline constexpr Micros kMicrosPerSecond = 1'000'000;
inline constexpr Micros kMicrosPerDay = 86'400 * kMicrosPerSecond;

// Parses an RFC 3339 UTC time: "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+00:00)", with
// upper-case T and Z. Fractions beyond the microsecond are truncated. Any
// other form, offset or an impossible date (2025-02-29, 24:00:00, a leap
// second) gives nullopt.
std::optional<Micros> ParseTimestamp(std::string_view text);

// "YYYY-MM-DDTHH:MM:SSZ", with ".ffffff" before the Z when the time has a
// sub-second part.
std::string FormatTimestamp(Micros t);

// Parses a calendar date "YYYY-MM-DD" to days since 1970-01-01, or nullopt.
std::optional<int64_t> ParseDate(std::string_view text);
// "YYYY-MM-DD" of days since 1970-01-01.
std::string FormatDate(int64_t days);

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
// The month of a day as year * 12 + (month - 1), and its "YYYY-MM".
int64_t MonthOfDay(int64_t days);
std::string FormatMonth(int64_t month);

// The system clock now, in microseconds.
Micros NowMicros();

}  // namespace ledger
