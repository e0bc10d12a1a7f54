// The views of SPEC §4 and §8, computed from the read model as the ledger
// stood at a seq, in the JSON shapes of the worked example
// (tests/data/examples).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ledger/event.h"
#include "ledger/state_machine.h"
#include "projections/model.h"

namespace projections {

// What a view is asked for, with every default already resolved.
struct ViewParams {
  // Events with seq <= as_of count; corrections too, whatever their date.
  uint64_t as_of = 0;
  // The period [from, to), UTC midnights as days since 1970-01-01; a
  // missing bound is unbounded.
  std::optional<int64_t> from_day, to_day;
  // When open pathways are counted (waiting times).
  ledger::Micros at = 0;
  // Only this area under "areas" (England and p0 still cover every area).
  std::optional<std::string> area;
  // Refusal-pattern filters.
  std::optional<ledger::RefusalReason> reason;
  std::optional<ledger::RefusalStage> stage;
};

// Decisions per area and for England, with the funnel plot and equality
// groups (/v1/fairness, /v1/areas/{code}/fairness).
boost::json::object FairnessView(const ReadModel& model, const ViewParams& params);
// Completed, decision and open waits per area, per provider and for England
// (/v1/waiting-times, /v1/areas/{code}/waiting-times).
boost::json::object WaitingTimesView(const ReadModel& model, const ViewParams& params);
// Refusals by reason x stage x month, decider, referrer, substance and area,
// with top reasons against England's shares (/v1/refusals).
boost::json::object RefusalsView(const ReadModel& model, const ViewParams& params);
// Every area with headline figures for the period: name, population,
// referrals, decisions, refusal rate, funnel flag, open pathways (/v1/areas).
boost::json::object AreasView(const ReadModel& model, const ViewParams& params);

// The codes of every area a referral names (as corrected) within as_of, in
// code order.
std::vector<std::string> AreasNamed(const ReadModel& model, uint64_t as_of);

// One referral as the ledger stood at as_of: its stored events (seq <=
// as_of) with data as posted, its state, its corrected receipt and area, its
// first decision, whether that was overturned on appeal, and its waits in
// whole days; waiting_days, counted to `at`, only while it is open.
// REQUIRES: `events` are the referral's events with seq <= as_of, in order,
// and not empty.
boost::json::object ReferralView(const std::vector<ledger::Event>& events, uint64_t as_of,
                                 ledger::Micros at);

// How the views split their scan over the referrals: into at most
// max_parts contiguous ranges (0: one per core, at most 4) of at least
// min_per_part referrals each, scanned on their own threads and merged.
// Every split gives the same views; tests change it to check that.
struct ScanSplit {
  size_t min_per_part = 50000;
  size_t max_parts = 0;
};
void SetScanSplit(ScanSplit split);

// "YYYY-MM-DDTHH:MM:SS.ffffffZ": a time always with six fractional digits.
std::string FormatMicros(ledger::Micros t);

}  // namespace projections
