// Hand-worked scenarios of SPEC §8's rules, each through a real ledger and
// the projector: open pathways, decisions, corrections and as_of.
#include <gtest/gtest.h>

#include <map>

#include "ledger/ledger.h"
#include "projections/areas.h"
#include "projections/projector.h"
#include "test_util.h"
#include "wire/view_json.h"

namespace projections {
namespace {

namespace json = boost::json;
using ledger::testing::Received;
using ledger::testing::Req;
using ledger::testing::T;

constexpr const char* kA = "E08000002";
constexpr const char* kB = "E09000017";

ledger::ReferralRefused Refused(
    ledger::RefusalStage stage = ledger::RefusalStage::kFundingPanel,
    ledger::RefusalReason reason = ledger::RefusalReason::kInsufficientBudget) {
  return ledger::ReferralRefused{stage, reason, "panel-1", std::nullopt};
}
ledger::FundingApproved Approved() { return ledger::FundingApproved{"panel-1", 12}; }
ledger::AppealDecided Decided(ledger::AppealOutcome o) {
  return ledger::AppealDecided{o, "appeals-1"};
}
ledger::RecordCorrected Correct(uint64_t seq, std::string field, std::string value) {
  return ledger::RecordCorrected{seq, "recorded wrongly", {{std::move(field), std::move(value)}}};
}

class Views : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = ledger::Ledger::Open(dir_.path(), ledger::testing::TestOptions());
    ASSERT_TRUE(opened.ok());
    ledger_ = std::move(opened).value();
    auto p = Projector::Open(ledger_.get());
    ASSERT_TRUE(p.ok());
    projector_ = std::move(p).value();
  }

  uint64_t Add(const std::string& id, ledger::Micros at, ledger::EventData data) {
    auto r = ledger_->Append(Req(id, at, std::move(data)), ledger::testing::Writer());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(projector_->CatchUp().ok());
    return r.ok() ? r->seq : 0;
  }

  // A query of the calendar year 2025 (T(0) is 2025-01-01).
  static ViewQuery Year() {
    ViewQuery q;
    q.from_day = ledger::DaysFromCivil(2025, 1, 1);
    q.to_day = ledger::DaysFromCivil(2026, 1, 1);
    return q;
  }

  json::object Waits(ViewQuery q) {
    auto r = projector_->WaitingTimes(q);
    EXPECT_TRUE(r.ok());
    return r.ok() ? wire::ToJson(*r) : json::object();
  }
  json::object Fairness(ViewQuery q) {
    auto r = projector_->Fairness(q);
    EXPECT_TRUE(r.ok());
    return r.ok() ? wire::ToJson(*r) : json::object();
  }
  json::object Refusals(ViewQuery q) {
    auto r = projector_->Refusals(q);
    EXPECT_TRUE(r.ok());
    return r.ok() ? wire::ToJson(*r) : json::object();
  }
  // The referral's view as the API writes it.
  ledger::Result<json::object> Referral(const std::string& id, ViewQuery q) {
    auto r = projector_->Referral(id, q);
    if (!r.ok()) return r.status();
    return wire::ToJson(*r);
  }
  int64_t OpenCount(ledger::Micros at) {
    ViewQuery q;
    q.at = at;
    return Waits(q).at("england").at("open").at("count").as_uint64();
  }

  ledger::testing::TempDir dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<Projector> projector_;
};

// The referral index finds every id it was given, across its own growth
// and a Reserve part way (which rehashes what it holds), and nothing else.
TEST(IdIndex, FindsEveryIdAcrossGrowthAndReserve) {
  IdIndex index;
  std::vector<std::string> ids;
  auto key = [&](uint32_t n) { return std::string_view(ids[n]); };
  for (uint32_t i = 0; i < 5000; ++i) {
    ids.push_back("r-" + std::to_string(i));
    index.Add(ids.back(), i);
    if (i == 1000) index.Reserve(20000);
  }
  EXPECT_EQ(index.size(), 5000u);
  EXPECT_GE(index.MemoryBytes(), 2 * 20000 * sizeof(uint64_t));
  for (uint32_t i = 0; i < ids.size(); ++i) EXPECT_EQ(index.Find(ids[i], key), i) << ids[i];
  EXPECT_FALSE(index.Find("r-5000", key).has_value());
  EXPECT_FALSE(index.Find("", key).has_value());
}

TEST_F(Views, AnUpheldAppealReopensThePathwayCountedFromReceipt) {
  Add("r1", T(0), Received());
  Add("r1", T(10), Refused());
  Add("r1", T(20), ledger::AppealLodged{"abstinent now"});
  Add("r1", T(30), Decided(ledger::AppealOutcome::kUpheld));
  EXPECT_EQ(OpenCount(T(5)), 1);
  EXPECT_EQ(OpenCount(T(15)), 0);  // refused
  EXPECT_EQ(OpenCount(T(25)), 0);  // under appeal
  ViewQuery q;
  q.at = T(35);
  json::object open = Waits(q).at("england").at("open").as_object();
  EXPECT_EQ(open.at("count").as_uint64(), 1u);
  EXPECT_EQ(open.at("median").as_int64(), 35);  // from the original receipt
  EXPECT_EQ(open.at("over_21").as_uint64(), 1u);
  // The first decision stays a refusal, overturned on appeal.
  json::object england = Fairness(Year()).at("england").as_object();
  EXPECT_EQ(england.at("refused").as_uint64(), 1u);
  EXPECT_EQ(england.at("approved").as_uint64(), 0u);
  EXPECT_EQ(england.at("overturned_on_appeal").as_uint64(), 1u);
}

TEST_F(Views, ARefusalAfterApprovalIsNotAFirstDecisionButIsARefusalPattern) {
  Add("r1", T(0), Received());
  Add("r1", T(10), Approved());
  Add("r1", T(12), ledger::PlacementOffered{"1-123456789", "2025-02-01"});
  Add("r1", T(20),
      Refused(ledger::RefusalStage::kProvider, ledger::RefusalReason::kComplexNeedsUnsupported));
  json::object england = Fairness(Year()).at("england").as_object();
  EXPECT_EQ(england.at("decisions").as_uint64(), 1u);
  EXPECT_EQ(england.at("approved").as_uint64(), 1u);
  EXPECT_EQ(england.at("refused").as_uint64(), 0u);
  EXPECT_EQ(england.at("refusals_by_stage").at("provider").as_uint64(), 0u);
  json::object refusals = Refusals(Year());
  EXPECT_EQ(refusals.at("total").as_uint64(), 1u);
  EXPECT_EQ(refusals.at("by_reason_stage_month").as_array()[0].at("stage").as_string(), "provider");
  // It ends the open pathway; before it, the offer counted for its provider.
  EXPECT_EQ(OpenCount(T(21)), 0);
  ViewQuery q;
  q.at = T(15);
  json::object w = Waits(q);
  EXPECT_EQ(w.at("providers").at("1-123456789").at("open").at("count").as_uint64(), 1u);
}

TEST_F(Views, AnAreaCorrectionMovesTheWholeReferral) {
  const uint64_t received = Add("r1", T(0), Received(kA));
  Add("r1", T(5), Refused());
  Add("r1", T(7), ledger::AppealLodged{"grounds"});
  const uint64_t before = ledger_->Size();
  Add("r1", T(8), Correct(received, "area", kB));
  json::object f = Fairness(Year());
  EXPECT_FALSE(f.at("areas").as_object().contains(kA));
  EXPECT_EQ(f.at("areas").at(kB).at("refused").as_uint64(), 1u);
  EXPECT_EQ(f.at("areas").at(kB).at("referrals").as_uint64(), 1u);
  // As of the seq before the correction it was in the first area.
  ViewQuery q = Year();
  q.as_of_seq = before;
  json::object then = Fairness(q);
  EXPECT_EQ(then.at("as_of_seq").as_uint64(), before);
  EXPECT_EQ(then.at("areas").at(kA).at("refused").as_uint64(), 1u);
  EXPECT_FALSE(then.at("areas").as_object().contains(kB));
  auto referral = Referral("r1", ViewQuery{});
  ASSERT_TRUE(referral.ok());
  EXPECT_EQ(referral->at("area").as_string(), kB);
  EXPECT_EQ(referral->at("received").at("area").as_string(), kB);
  EXPECT_EQ(referral->at("events").as_array().size(), 4u);
}

TEST_F(Views, ACorrectionRecordedAfterAsOfIsNotApplied) {
  Add("r1", T(0), Received());
  const uint64_t refusal = Add("r1", T(10), Refused());
  const uint64_t before = ledger_->Size();
  // Dated a year later, it still applies to the 2025 refusal, but only as of
  // its own seq.
  Add("r1", T(400), Correct(refusal, "reason", "not_ready"));
  json::object now = Fairness(Year()).at("england").as_object();
  EXPECT_EQ(now.at("refusals_by_reason").at("not_ready").as_uint64(), 1u);
  EXPECT_EQ(now.at("refusals_by_reason").at("insufficient_budget").as_uint64(), 0u);
  ViewQuery q = Year();
  q.as_of_seq = before;
  json::object then = Fairness(q).at("england").as_object();
  EXPECT_EQ(then.at("refusals_by_reason").at("not_ready").as_uint64(), 0u);
  EXPECT_EQ(then.at("refusals_by_reason").at("insufficient_budget").as_uint64(), 1u);
  EXPECT_EQ(Refusals(q).at("by_reason_stage_month").as_array()[0].at("reason").as_string(),
            "insufficient_budget");
}

TEST_F(Views, TheLatestCorrectionOfAFieldWinsAndOthersKeepTheirValues) {
  const uint64_t received = Add("r1", T(0), Received());
  Add("r1", T(1), Correct(received, "sex", "male"));
  Add("r1", T(2), Correct(received, "ethnicity", "asian"));
  Add("r1", T(3), Correct(received, "sex", "not_stated"));
  Add("r1", T(4), Approved());
  json::object eq = Fairness(Year()).at("england").at("equality").as_object();
  EXPECT_EQ(eq.at("sex").at("not_stated").at("decisions").as_uint64(), 1u);
  EXPECT_EQ(eq.at("sex").at("female").at("decisions").as_uint64(), 0u);
  EXPECT_EQ(eq.at("ethnicity").at("asian").at("decisions").as_uint64(), 1u);
  EXPECT_EQ(eq.at("age_band").at("30-34").at("decisions").as_uint64(), 1u);  // not corrected
}

TEST_F(Views, DecisionWaitsInWholeDaysAcrossMidnight) {
  // Received at 23:59, decided 00:01 two days later: 1 whole day.
  Add("r1", T(0, 86400 - 60), Received());
  Add("r1", T(2, 60), Approved());
  json::object d = Waits(Year()).at("england").at("decisions").as_object();
  EXPECT_EQ(d.at("n").as_uint64(), 1u);
  EXPECT_EQ(d.at("median").as_int64(), 1);
}

TEST_F(Views, PeriodsPlaceEachFigureByItsOwnEvent) {
  // Received in 2024, decided in 2025: a decision of 2025, not a referral.
  Add("r1", T(-10), Received());
  Add("r1", T(3), Refused());
  json::object e = Fairness(Year()).at("england").as_object();
  EXPECT_EQ(e.at("referrals").as_uint64(), 0u);
  EXPECT_EQ(e.at("decisions").as_uint64(), 1u);
  ViewQuery q;
  q.to_day = ledger::DaysFromCivil(2025, 1, 1);  // [unbounded, 2025-01-01)
  json::object before = Fairness(q).at("england").as_object();
  EXPECT_EQ(before.at("referrals").as_uint64(), 1u);
  EXPECT_EQ(before.at("decisions").as_uint64(), 0u);
  EXPECT_TRUE(before.at("refusal_rate").is_null());
  EXPECT_TRUE(before.at("refusal_rate_ci95").is_null());
}

TEST_F(Views, AnEnglandRateOfZeroAndAnAreaWithoutDecisions) {
  Add("r1", T(0), Received(kA));
  Add("r1", T(1), Approved());
  Add("r2", T(0), Received(kB));
  json::object f = Fairness(Year());
  EXPECT_EQ(f.at("p0").as_double(), 0.0);
  EXPECT_EQ(f.at("areas").at(kA).at("funnel").at("flag").as_string(), "within");
  EXPECT_TRUE(f.at("areas").at(kA).at("funnel").at("z").is_null());
  EXPECT_EQ(f.at("areas").at(kB).at("funnel").at("flag").as_string(), "no_decisions");
  EXPECT_TRUE(f.at("areas").at(kB).at("refusal_rate_ci95").is_null());
  // Reference data: population and rates per 100,000.
  EXPECT_EQ(f.at("areas").at(kA).at("name").as_string(), "Bury");
  EXPECT_EQ(f.at("areas").at(kA).at("population").as_uint64(), 193800u);
}

TEST_F(Views, AsOfATimeSelectsTheLastEventRecordedByThen) {
  Add("r1", T(0), Received());
  const ledger::Micros first_recorded = ledger_->GetEvent(1)->recorded_at;
  Add("r2", T(0), Received());
  ViewQuery q = Year();
  q.as_of_time = first_recorded;
  // The test clock is fixed, so both share a recorded_at: both are in.
  EXPECT_EQ(Fairness(q).at("as_of_seq").as_uint64(), 2u);
  q.as_of_time = first_recorded - 1;
  EXPECT_EQ(Fairness(q).at("as_of_seq").as_uint64(), 0u);
  // Before the first event, with no `to`: open pathways at the time asked
  // for, since there is no as_of event to take it from.
  ViewQuery before;
  before.as_of_time = first_recorded - 1;
  EXPECT_EQ(Waits(before).at("at").as_string(), wire::FormatMicros(first_recorded - 1));
  q.as_of_time.reset();
  q.as_of_seq = 99;  // beyond the head: the head
  EXPECT_EQ(Fairness(q).at("as_of_seq").as_uint64(), 2u);
}

TEST_F(Views, AReferralNotYetReceivedAsOfIsNotFound) {
  Add("r1", T(0), Received());
  Add("r2", T(0), Received());
  ViewQuery q;
  q.as_of_seq = 1;
  EXPECT_TRUE(projector_->Referral("r1", q).ok());
  EXPECT_EQ(projector_->Referral("r2", q).status().code(), ledger::Code::kNotFound);
  EXPECT_EQ(projector_->Referral("nope", q).status().code(), ledger::Code::kNotFound);
  auto open = Referral("r1", ViewQuery{});
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->at("state").as_string(), "received");
  EXPECT_TRUE(open->at("waiting_days").is_int64());
}

}  // namespace
}  // namespace projections

namespace projections {
namespace {

// The April 2023 unitary authorities: in the reference data with their
// Census 2021 populations (sums of their districts), in use from
// 2023-04-01; the counties they replaced until then; England's population
// counted once.
TEST(ReferenceAreas, April2023SuccessorsHoldTheirPredecessorsPeople) {
  EXPECT_EQ(EnglandPopulation(), 56489800u);
  const int64_t cutover = ledger::DaysFromCivil(2023, 4, 1);
  const std::map<std::string, std::pair<std::string, uint64_t>> successors = {
      {"E06000063", {"Cumberland", 273200}},
      {"E06000064", {"Westmorland and Furness", 226600}},
      {"E06000065", {"North Yorkshire", 615500}},
      {"E06000066", {"Somerset", 571600}}};
  std::map<std::string, uint64_t> taken;  // replaced code -> successors' people
  for (const auto& [code, expected] : successors) {
    const AreaInfo* a = FindReferenceArea(code);
    ASSERT_NE(a, nullptr) << code;
    EXPECT_EQ(a->name, expected.first);
    EXPECT_EQ(a->population, expected.second);
    EXPECT_EQ(a->in_use_from, cutover);
    EXPECT_FALSE(a->InUse(cutover - 1));
    EXPECT_TRUE(a->InUse(cutover));
    ASSERT_EQ(a->replaces.size(), 1u);
    taken[a->replaces[0]] += a->population;
  }
  ASSERT_EQ(taken.size(), 3u);
  for (const auto& [code, people] : taken) {
    const AreaInfo* old = FindReferenceArea(code);
    ASSERT_NE(old, nullptr) << code;
    EXPECT_EQ(old->population, people) << code;
    EXPECT_EQ(old->in_use_to, cutover);
    EXPECT_TRUE(old->InUse(cutover - 1));
  }
  size_t in_use_before = 0, in_use_after = 0;
  for (const AreaInfo& a : ReferenceAreas()) {
    in_use_before += a.InUse(cutover - 1);
    in_use_after += a.InUse(cutover);
  }
  EXPECT_EQ(in_use_before, 152u);
  EXPECT_EQ(in_use_after, 153u);
}

}  // namespace
}  // namespace projections
