// The state machine of SPEC §3, cell by cell: every event type from every
// state is either the transition the SPEC draws or a kStateViolation.
#include "ledger/state_machine.h"

#include <gtest/gtest.h>

#include <map>

#include "test_util.h"

namespace ledger {
namespace {

using S = ReferralState;

EventData Sample(EventType t, bool upheld = true) {
  switch (t) {
    case EventType::kReferralReceived:
      return testing::Received();
    case EventType::kAssessmentCompleted:
      return AssessmentCompleted{};
    case EventType::kFundingRequested:
      return FundingRequested{FundingRoute::kNhs, 4};
    case EventType::kFundingApproved:
      return FundingApproved{"p", 4};
    case EventType::kReferralRefused:
      return ReferralRefused{};
    case EventType::kAppealLodged:
      return AppealLodged{"g"};
    case EventType::kAppealDecided:
      return AppealDecided{upheld ? AppealOutcome::kUpheld : AppealOutcome::kDismissed, "d"};
    case EventType::kPlacementOffered:
      return PlacementOffered{"1-123456789", "2025-01-01"};
    case EventType::kPlacementStarted:
      return PlacementStarted{"1-123456789"};
    case EventType::kPlacementEnded:
      return PlacementEnded{};
    case EventType::kReferralWithdrawn:
      return ReferralWithdrawn{};
    case EventType::kRecordCorrected:
      return RecordCorrected{1, "r", {{"sex", std::string("male")}}};
  }
  return ReferralWithdrawn{};
}

const std::vector<S> kAllStates = {
    S::kNone,        S::kReceived, S::kAssessed,    S::kAwaitingFunding, S::kApproved, S::kRefused,
    S::kUnderAppeal, S::kOffered,  S::kInPlacement, S::kEnded,           S::kWithdrawn};

TEST(StateMachine, EveryCellMatchesTheSpec) {
  // (type, from) -> to, transcribed from SPEC §3.
  std::map<std::pair<EventType, S>, S> allowed;
  auto add = [&](EventType t, std::vector<S> from, S to) {
    for (S f : from) allowed[{t, f}] = to;
  };
  add(EventType::kReferralReceived, {S::kNone}, S::kReceived);
  add(EventType::kAssessmentCompleted, {S::kReceived}, S::kAssessed);
  add(EventType::kFundingRequested, {S::kReceived, S::kAssessed}, S::kAwaitingFunding);
  add(EventType::kFundingApproved, {S::kReceived, S::kAssessed, S::kAwaitingFunding}, S::kApproved);
  add(EventType::kReferralRefused,
      {S::kReceived, S::kAssessed, S::kAwaitingFunding, S::kApproved, S::kOffered}, S::kRefused);
  add(EventType::kAppealLodged, {S::kRefused}, S::kUnderAppeal);
  add(EventType::kAppealDecided, {S::kUnderAppeal}, S::kApproved);  // upheld
  add(EventType::kPlacementOffered, {S::kApproved, S::kOffered}, S::kOffered);
  add(EventType::kPlacementStarted, {S::kApproved, S::kOffered}, S::kInPlacement);
  add(EventType::kPlacementEnded, {S::kInPlacement}, S::kEnded);
  add(EventType::kReferralWithdrawn,
      {S::kReceived, S::kAssessed, S::kAwaitingFunding, S::kApproved, S::kRefused, S::kUnderAppeal,
       S::kOffered},
      S::kWithdrawn);
  for (S f : kAllStates) {
    if (f != S::kNone) allowed[{EventType::kRecordCorrected, f}] = f;
  }

  int checked = 0;
  for (size_t t = 0; t < EnumCount<EventType>(); ++t) {
    const auto type = static_cast<EventType>(t);
    for (S from : kAllStates) {
      Result<S> got = Transition(from, Sample(type));
      auto it = allowed.find({type, from});
      if (it == allowed.end()) {
        ASSERT_FALSE(got.ok()) << ToString(type) << " from " << ToString(from);
        EXPECT_EQ(got.status().code(), Code::kStateViolation);
        // The message names the transition.
        EXPECT_NE(got.status().message().find(ToString(type)), std::string::npos);
        if (from != S::kNone) {
          EXPECT_NE(got.status().message().find(ToString(from)), std::string::npos)
              << got.status().message();
        }
      } else {
        ASSERT_TRUE(got.ok()) << ToString(type) << " from " << ToString(from) << ": "
                              << got.status().ToString();
        EXPECT_EQ(*got, it->second) << ToString(type) << " from " << ToString(from);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12 * 11);
}

TEST(StateMachine, DismissedAppealReturnsToRefused) {
  EXPECT_EQ(*Transition(S::kUnderAppeal, Sample(EventType::kAppealDecided, false)), S::kRefused);
  EXPECT_EQ(*Transition(S::kUnderAppeal, Sample(EventType::kAppealDecided, true)), S::kApproved);
}

TEST(StateMachine, OpenStates) {
  for (S s : kAllStates) {
    bool open = s == S::kReceived || s == S::kAssessed || s == S::kAwaitingFunding ||
                s == S::kApproved || s == S::kOffered;
    EXPECT_EQ(IsOpen(s), open) << ToString(s);
  }
}

}  // namespace
}  // namespace ledger
