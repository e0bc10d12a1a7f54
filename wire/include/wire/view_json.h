// The JSON of every view (SPEC §4, §6; the worked example in
// tests/data/examples gives their exact shapes), made from the typed
// reports of projections/views.h. The one place a report becomes JSON: the
// API, ledgerctl and the tests all write views through it.
//
// Absent figures (a rate without decisions, an area missing from the
// reference file) are null; dates are "YYYY-MM-DD", months "YYYY-MM",
// moments FormatMicros'. Keys are written in a fixed order.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "projections/views.h"

namespace wire {

boost::json::object ToJson(const projections::FairnessReport& report);
boost::json::object ToJson(const projections::WaitingTimesReport& report);
boost::json::object ToJson(const projections::RefusalsReport& report);
boost::json::object ToJson(const projections::AreasReport& report);
boost::json::object ToJson(const projections::TrendReport& report);
// Person-level (pseudonymous ids): the referrals behind a figure.
boost::json::object ToJson(const projections::ReferralListReport& report);
// Person-level: the referral's events as stored, data as posted.
boost::json::object ToJson(const projections::ReferralReport& report);

// "YYYY-MM-DDTHH:MM:SS.ffffffZ": a moment always with six fractional digits.
std::string FormatMicros(ledger::Micros t);

}  // namespace wire
