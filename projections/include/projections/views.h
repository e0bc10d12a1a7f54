// The views of SPEC §4 and §8, computed from the read model as the ledger
// stood at a seq, as plain structs: the figures and nothing of how they are
// written. JSON (the shapes of the worked example, tests/data/examples) is
// made from them at the edge, in wire/view_json.h; a CSV table or a
// disclosure-controlled copy is made from the same structs.
//
// Every list in a report is in the order the API writes it: areas by code,
// providers and deciders by id, refusal cells by (reason, stage, month)
// name. An enum-indexed array holds one count per value of the enum, in the
// enum's order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/event.h"
#include "ledger/state_machine.h"
#include "projections/areas.h"
#include "projections/model.h"
#include "projections/stats.h"

namespace projections {

// The periods of a trend (SPEC §11): calendar months, quarters starting
// in January, April, July and October, or years starting in January.
// Wire names (ledger::ToString, ledger::ParseEnum) below.
enum class TrendInterval { kMonth, kQuarter, kYear };

// The figure a referral list stands behind (SPEC §11): a count of the
// fairness view, or the waiting-times view's open pathways at `at`. Wire
// names (ledger::ToString, ledger::ParseEnum) below.
enum class ListFigure {
  kReferrals,
  kDecisions,
  kApproved,
  kRefused,
  kOverturnedOnAppeal,
  kPlacementsStarted,
  kOpenPathways
};

}  // namespace projections

namespace ledger {
template <>
struct EnumTraits<projections::TrendInterval> {
  static constexpr std::string_view kNames[] = {"month", "quarter", "year"};
};
template <>
struct EnumTraits<projections::ListFigure> {
  static constexpr std::string_view kNames[] = {
      "referrals",          "decisions",    "approved", "refused", "overturned_on_appeal",
      "placements_started", "open_pathways"};
};
}  // namespace ledger

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
  // The trend's periods.
  TrendInterval interval = TrendInterval::kQuarter;
  // A referral list: its figure, and its page (the ids after `after`, at
  // most `limit`).
  ListFigure figure = ListFigure::kReferrals;
  std::optional<std::string> after;
  size_t limit = 100;
};

template <typename E>
using CountsBy = std::array<uint64_t, ledger::EnumCount<E>()>;

// --- decisions (fairness, areas) -------------------------------------------

// One group of an equality dimension (a sex, an ethnicity, ...): its first
// decisions and their rates against the dimension's best-approved group.
struct EqualityGroup {
  std::string_view name;  // the enum value's name, e.g. "female"
  GroupCounts counts;
  GroupRates rates;
};
// A protected or recorded characteristic and every one of its groups, in
// the enum's order.
struct EqualityDimension {
  std::string_view name;  // "sex", "ethnicity", "age_band", "substance", "disability"
  std::vector<EqualityGroup> groups;
};

// The first decisions of the period of a population (England or an area).
struct DecisionFigures {
  uint64_t referrals = 0;  // received in the period
  uint64_t decisions = 0;  // first decisions in the period
  uint64_t approved = 0;
  uint64_t refused = 0;
  uint64_t overturned_on_appeal = 0;          // of the refused, upheld on appeal
  uint64_t placements_started = 0;            // in the period
  std::optional<double> refusal_rate;         // refused / decisions; none without decisions
  std::optional<Interval> refusal_rate_ci95;  // Wilson
  CountsBy<ledger::RefusalReason> refusals_by_reason{};
  CountsBy<ledger::RefusalStage> refusals_by_stage{};
  std::vector<EqualityDimension> equality;  // the five dimensions, in SPEC §4's order
};

// An area's reference data: `info` is null when the reference file lacks
// the area (its rates are then none too); rates are per 100,000 people.
struct AreaReference {
  const AreaInfo* info = nullptr;  // static reference data
  std::optional<double> referrals_per_100k, placements_per_100k;
};

struct AreaFairness {
  std::string code;
  DecisionFigures decisions;
  FunnelPoint funnel;  // its refusals against p0
  AreaReference reference;
};

// /v1/fairness, /v1/areas/{code}/fairness.
struct FairnessReport {
  uint64_t as_of_seq = 0;
  std::optional<int64_t> from_day, to_day;
  std::optional<double> p0;  // England's refusal rate; none without decisions
  DecisionFigures england;
  uint64_t england_population = 0;  // the reference file's total
  std::vector<AreaFairness> areas;  // the one asked for, else every area named
};

// One line of /v1/areas: an area's headline figures for the period.
struct AreaHeadline {
  std::string code;
  uint64_t referrals = 0, decisions = 0, refused = 0;
  std::optional<double> refusal_rate;
  FunnelFlag funnel_flag = FunnelFlag::kNoDecisions;
  uint64_t placements_started = 0;
  uint64_t open_pathways = 0;  // at `at`
  AreaReference reference;
};

// /v1/areas.
struct AreasReport {
  uint64_t as_of_seq = 0;
  std::optional<int64_t> from_day, to_day;
  ledger::Micros at = 0;
  std::optional<double> p0;
  std::vector<AreaHeadline> areas;
};

// --- trends ----------------------------------------------------------------

// A population's first decisions and placements in one period of a trend:
// the figures of the fairness view asked for that period alone.
struct TrendFigures {
  uint64_t referrals = 0, decisions = 0, approved = 0, refused = 0;
  uint64_t overturned_on_appeal = 0, placements_started = 0;
  std::optional<double> refusal_rate;
  std::optional<Interval> refusal_rate_ci95;
};
struct TrendPeriod {
  int64_t from_day = 0, to_day = 0;  // [from, to), days since 1970-01-01
  TrendFigures figures;              // the area's, or England's
  TrendFigures england;
};

// /v1/trend, /v1/areas/{code}/trend: every whole interval that [from, to)
// covers, in order.
struct TrendReport {
  uint64_t as_of_seq = 0;
  std::optional<int64_t> from_day, to_day;
  TrendInterval interval = TrendInterval::kQuarter;
  std::optional<std::string> area;
  std::vector<TrendPeriod> periods;
};

// The whole intervals of `interval` within [from_day, to_day), in order
// (none when it covers none).
std::vector<std::pair<int64_t, int64_t>> TrendPeriods(int64_t from_day, int64_t to_day,
                                                      TrendInterval interval);
// The most periods a trend has.
inline constexpr size_t kMaxTrendPeriods = 240;

// --- referral lists --------------------------------------------------------

enum class FirstDecision { kApproved, kRefused };
std::string_view ToString(FirstDecision d);

struct ListedReferral {
  std::string referral_id;
  ledger::Micros received_at = 0;
  ledger::ReferralState state = ledger::ReferralState::kNone;  // as of as_of
  std::optional<FirstDecision> first_decision;
  std::optional<ledger::Micros> decided_at;
};

// /v1/areas/{code}/referrals: the referrals counted in one figure of an
// area, by id, a page at a time; `total` is the figure.
struct ReferralListReport {
  uint64_t as_of_seq = 0;
  std::optional<int64_t> from_day, to_day;
  ledger::Micros at = 0;
  std::string area;
  ListFigure figure = ListFigure::kReferrals;
  std::optional<ledger::RefusalReason> reason;
  std::optional<ledger::RefusalStage> stage;
  uint64_t total = 0;
  std::vector<ListedReferral> referrals;  // the page, by id
  std::optional<std::string> next_after;  // the page's last id, when more follow
};

// --- waits -----------------------------------------------------------------

// Waits in whole days: the summary and the distribution by week
// (WeekBands).
struct WaitFigures {
  WaitSummary summary;
  std::vector<uint64_t> by_week;
};
struct OpenFigures {
  OpenSummary summary;
  std::vector<uint64_t> by_week;
};

// A population's pathways: completed (received to placement started) in the
// period, open at `at`, and (not for providers) decisions in the period.
struct PathwayWaits {
  WaitFigures completed;
  OpenFigures open;
  std::optional<WaitFigures> decisions;
};

struct AreaWaits {
  std::string code;
  PathwayWaits waits;
};
struct ProviderWaits {
  std::string provider;
  PathwayWaits waits;
};

// /v1/waiting-times, /v1/areas/{code}/waiting-times.
struct WaitingTimesReport {
  uint64_t as_of_seq = 0;
  std::optional<int64_t> from_day, to_day;
  ledger::Micros at = 0;
  PathwayWaits england;
  std::vector<AreaWaits> areas;
  // Providers with a completed or an open pathway (of the area asked for).
  std::vector<ProviderWaits> providers;
};

// --- refusal patterns ------------------------------------------------------

struct RefusalCell {
  ledger::RefusalReason reason;
  ledger::RefusalStage stage;
  int64_t month;  // months since 1970-01
  uint64_t count;
};

// One of the top reasons: its count, its share of the population's
// refusals and England's share of the same reason.
struct ReasonShare {
  ledger::RefusalReason reason;
  uint64_t count = 0;
  std::optional<double> share, england_share;
};

struct AreaRefusals {
  std::string code;
  uint64_t total = 0;  // refusals matching the reason and stage filters
  std::vector<ReasonShare> top_reasons;
};

struct DeciderRefusals {
  std::string decided_by;
  uint64_t count = 0;
};

// /v1/refusals: refusals (every refusal, not only first decisions) in the
// period that match the filters.
struct RefusalsReport {
  uint64_t as_of_seq = 0;
  std::optional<int64_t> from_day, to_day;
  std::optional<std::string> area;
  std::optional<ledger::RefusalReason> reason;
  std::optional<ledger::RefusalStage> stage;
  uint64_t total = 0;  // of the area asked for, else England
  std::vector<RefusalCell> by_reason_stage_month;
  std::vector<DeciderRefusals> by_decided_by;
  CountsBy<ledger::Referrer> by_referrer{};
  CountsBy<ledger::Substance> by_substance{};
  std::vector<ReasonShare> england_top_reasons;  // at most 3
  std::vector<AreaRefusals> areas;               // the one asked for, else every area named
};

// --- one referral ----------------------------------------------------------

// /v1/referrals/{id}: one referral as the ledger stood at as_of.
struct ReferralReport {
  uint64_t as_of_seq = 0;
  std::string referral_id;
  ledger::ReferralState state = ledger::ReferralState::kNone;
  ledger::ReferralReceived received;  // as corrected; received.area is its area
  std::optional<FirstDecision> first_decision;
  bool overturned_on_appeal = false;
  std::optional<int64_t> decision_wait_days, start_wait_days;
  std::optional<int64_t> waiting_days;  // to `at`, only while it is open
  std::vector<ledger::Event> events;    // seq <= as_of, data as posted
};

// --- the views -------------------------------------------------------------

FairnessReport FairnessView(const ReadModel& model, const ViewParams& params);
WaitingTimesReport WaitingTimesView(const ReadModel& model, const ViewParams& params);
RefusalsReport RefusalsView(const ReadModel& model, const ViewParams& params);
AreasReport AreasView(const ReadModel& model, const ViewParams& params);
// REQUIRES: params.from_day and to_day, covering at most kMaxTrendPeriods
// intervals (Projector::Trend checks).
TrendReport TrendView(const ReadModel& model, const ViewParams& params);
// REQUIRES: params.area.
ReferralListReport ReferralListView(const ReadModel& model, const ViewParams& params);
// REQUIRES: `events` are the referral's events in order, the first with
// seq <= as_of.
ReferralReport ReferralView(std::vector<ledger::Event> events, uint64_t as_of, ledger::Micros at);

// How the views split their scan over the referrals: into at most
// max_parts contiguous ranges (0: one per core, at most 4) of at least
// min_per_part referrals each, scanned on their own threads and merged.
// Every split gives the same views; tests change it to check that.
struct ScanSplit {
  size_t min_per_part = 50000;
  size_t max_parts = 0;
};
void SetScanSplit(ScanSplit split);

}  // namespace projections
