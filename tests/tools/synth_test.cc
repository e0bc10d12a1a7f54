// The synthetic ledger generator: deterministic, valid when appended with its
// recordings, recorded with realistic lags, every pathway present, and
// calibrated so that about 0.8% of the adults in treatment reach rehab.
#include "synth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <vector>

#include "ledger/ledger.h"
#include "test_util.h"
#include "wire/event_json.h"

namespace {

using ledger::DaysFromCivil;
using ledger::kMicrosPerDay;
using ledger::Micros;

synth::Options FiveYears(uint64_t referrals, uint64_t seed = 1) {
  synth::Options opt;
  opt.seed = seed;
  opt.referrals = referrals;
  opt.start = DaysFromCivil(2021, 1, 1) * kMicrosPerDay;
  opt.end = DaysFromCivil(2026, 1, 1) * kMicrosPerDay;
  return opt;
}

std::vector<synth::Generated> All(const synth::Options& opt) {
  synth::Generator gen(opt);
  std::vector<synth::Generated> out;
  synth::Generated g;
  while (gen.Next(&g)) out.push_back(std::move(g));
  return out;
}

std::string Serialized(const synth::Generated& g) {
  return boost::json::serialize(ledger::AppendRequestToJson(g.request)) + " " +
         std::to_string(g.recorded_at) + " " + g.actor;
}

TEST(Synth, SameSeedSameLedgerOtherSeedAnother) {
  auto a = All(FiveYears(300, 5)), b = All(FiveYears(300, 5)), c = All(FiveYears(300, 6));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(Serialized(a[i]), Serialized(b[i])) << i;
  ASSERT_FALSE(c.empty());
  EXPECT_NE(Serialized(a[0]), Serialized(c[0]));
}

TEST(Synth, RecordedInOrderWithRealisticLagsAndValidWhenAppended) {
  const synth::Options opt = FiveYears(3000);
  const auto events = All(opt);
  std::vector<Micros> lags;
  std::map<std::string, size_t> types;
  std::set<std::string> roles;
  for (size_t i = 0; i < events.size(); ++i) {
    const synth::Generated& g = events[i];
    if (i > 0) {
      ASSERT_GE(g.recorded_at, events[i - 1].recorded_at) << i;
    }
    ASSERT_GE(g.recorded_at, g.request.event.occurred_at) << i;
    ASSERT_LT(g.recorded_at, opt.end) << i;
    lags.push_back(g.recorded_at - g.request.event.occurred_at);
    ++types[std::string(ledger::ToString(ledger::TypeOf(g.request.event.data)))];
    roles.insert(g.actor.substr(0, g.actor.find(':')));
  }
  // Most are recorded within hours; some days later; a few weeks later.
  std::sort(lags.begin(), lags.end());
  const Micros hour = 3600 * ledger::kMicrosPerSecond;
  EXPECT_LT(lags[lags.size() / 2], 4 * hour);
  EXPECT_GT(lags[lags.size() * 9 / 10], kMicrosPerDay);
  EXPECT_GT(lags.back(), 14 * kMicrosPerDay);
  // Every pathway of the state machine, and both kinds of recorder.
  for (const char* t :
       {"referral.received", "assessment.completed", "funding.requested", "funding.approved",
        "referral.refused", "appeal.lodged", "appeal.decided", "placement.offered",
        "placement.started", "placement.ended", "referral.withdrawn", "record.corrected"}) {
    EXPECT_GT(types[t], 0u) << t;
  }
  EXPECT_EQ(roles, (std::set<std::string>{"partnership", "provider"}));

  // Appended with their recordings, every one is accepted, in one call each
  // (a ledger checks each against those before it).
  ledger::testing::TempDir dir;
  auto opened = ledger::Ledger::Open(dir.path());
  ASSERT_TRUE(opened.ok());
  ledger::Ledger& l = **opened;
  std::vector<ledger::RecordedRequest> batch;
  for (const synth::Generated& g : events) {
    ledger::RecordedRequest r;
    r.request = g.request;
    r.recorded_at = g.recorded_at;
    r.actor = g.actor;
    batch.push_back(std::move(r));
  }
  auto appended = l.AppendRecorded(batch);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  EXPECT_EQ(l.Size(), events.size());
  EXPECT_EQ(l.GetEvent(l.Size())->recorded_at, events.back().recorded_at);
  EXPECT_TRUE(l.Verify().ok);
}

TEST(Synth, AboutOneInAHundredAndTwentyFiveInTreatmentReachRehab) {
  const synth::Options base = FiveYears(0);
  const uint64_t referrals = synth::CalibratedReferrals(base.start, base.end);
  // 1,826 days (4.999 years) x 290,000 x 0.8% / 0.46 of referrals placed.
  EXPECT_NEAR(static_cast<double>(referrals), 25214, 1);
  synth::Options opt = base;
  opt.referrals = referrals;
  synth::Generator gen(opt);
  synth::Generated g;
  double started = 0;
  while (gen.Next(&g))
    started += std::holds_alternative<ledger::PlacementStarted>(g.request.event.data);
  const double share = started / 5.0 / synth::kTreatmentPopulation;
  EXPECT_NEAR(share, 0.008, 0.0008) << started;
}

}  // namespace

// From April 2023 referrals name the unitary authorities that replaced
// Cumbria, North Yorkshire and Somerset, and before it the counties; every
// correction changes the value it corrects.
TEST(Synth, April2023SuccessorCodesAndCorrectionsThatChangeAValue) {
  const auto events = All(FiveYears(8000, 3));
  const std::set<std::string> replaced = {"E10000006", "E10000023", "E10000027"};
  const std::set<std::string> successors = {"E06000063", "E06000064", "E06000065", "E06000066"};
  const std::string cutover = "2023-04-01";
  std::map<std::string, size_t> named;
  std::vector<boost::json::object> bodies;
  for (const synth::Generated& g : events) {
    bodies.push_back(ledger::AppendRequestToJson(g.request));
  }
  size_t corrections = 0;
  for (const boost::json::object& b : bodies) {
    const std::string type(b.at("type").as_string());
    const boost::json::object& data = b.at("data").as_object();
    if (type == "referral.received") {
      const std::string area(data.at("area").as_string());
      const bool after = std::string(b.at("occurred_at").as_string()) >= cutover;
      EXPECT_FALSE(after && replaced.count(area)) << area;
      EXPECT_FALSE(!after && successors.count(area)) << area;
      ++named[area];
    }
    if (type == "record.corrected") {
      // Appended in order, the event of seq N is the Nth generated.
      const uint64_t target = data.at("corrects_seq").to_number<uint64_t>();
      ASSERT_LE(target, bodies.size());
      const boost::json::object& was = bodies[target - 1].at("data").as_object();
      for (const auto& [field, value] : data.at("fields").as_object()) {
        EXPECT_NE(was.at(field), value) << "a correction of " << field << " to the value it had";
      }
      ++corrections;
    }
  }
  for (const std::string& code : successors) EXPECT_GT(named[code], 0u) << code;
  for (const std::string& code : replaced) EXPECT_GT(named[code], 0u) << code;
  EXPECT_GT(corrections, 50u);
}
