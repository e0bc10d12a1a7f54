// Every view as a CSV table (SPEC §11; the layouts are in docs/API.md,
// "Tables (CSV)"): RFC 4180, a header row, one row per population (England,
// each area, each provider) or, for refusal patterns and a referral, one
// row per breakdown cell or event. A row holds exactly the figures of the
// JSON answer (wire/view_json.h), made from it: a figure's column is its
// path in the row's JSON object, names joined by '.' ("refusals_by_reason.
// not_ready", "equality.sex.female.approval_rate"), an interval's bounds
// ".low" and ".high" ("refusal_rate_ci95.low", "funnel.limits95.high"), a
// list's entries by position ("completed.by_week.0"). Numbers are plain
// decimal as in the JSON; an absent figure (null) is an empty cell. The
// columns of a view never depend on its data.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "projections/views.h"

namespace wire {

std::string ToCsv(const projections::FairnessReport& report);
std::string ToCsv(const projections::WaitingTimesReport& report);
std::string ToCsv(const projections::RefusalsReport& report);
std::string ToCsv(const projections::AreasReport& report);
std::string ToCsv(const projections::TrendReport& report);
std::string ToCsv(const projections::ReferralListReport& report);
std::string ToCsv(const projections::ReferralReport& report);

// One field as CSV writes it: quoted when it holds a comma, quote or line
// break.
std::string CsvField(std::string_view s);
// A text cell (a name, an id, a free-text field; never a number): as
// CsvField, but one that a spreadsheet would take for a formula (starting
// with =, +, -, @, a tab or a carriage return) is prefixed with an
// apostrophe, as OWASP advises against CSV injection.
std::string CsvText(std::string_view s);

}  // namespace wire
