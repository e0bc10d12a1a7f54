#include "ledger/state_machine.h"

#include <initializer_list>
#include <string>

namespace ledger {

std::string_view ToString(ReferralState state) {
  static constexpr std::string_view kNames[] = {
      "none",         "received", "assessed",     "awaiting_funding",
      "approved",     "refused",  "under_appeal", "offered",
      "in_placement", "ended",    "withdrawn"};
  return kNames[static_cast<size_t>(state)];
}

bool IsOpen(ReferralState s) {
  return s == ReferralState::kReceived || s == ReferralState::kAssessed ||
         s == ReferralState::kAwaitingFunding || s == ReferralState::kApproved ||
         s == ReferralState::kOffered;
}

namespace {

using S = ReferralState;

Result<ReferralState> Allow(S from, EventType type, std::initializer_list<S> allowed, S to) {
  for (S a : allowed) {
    if (a == from) return to;
  }
  std::string msg = std::string(ToString(type)) + " is not allowed ";
  if (from == S::kNone) {
    msg += "for a referral that has not been received";
  } else {
    msg += "in state '" + std::string(ToString(from)) + "'";
  }
  msg += " (allowed from:";
  bool first = true;
  for (S a : allowed) {
    msg += first ? " " : ", ";
    msg += ToString(a);
    first = false;
  }
  msg += ")";
  return Status::StateViolation(std::move(msg));
}

}  // namespace

Result<ReferralState> Transition(ReferralState from, const EventData& data) {
  const EventType type = TypeOf(data);
  switch (type) {
    case EventType::kReferralReceived:
      return Allow(from, type, {S::kNone}, S::kReceived);
    case EventType::kAssessmentCompleted:
      return Allow(from, type, {S::kReceived}, S::kAssessed);
    case EventType::kFundingRequested:
      return Allow(from, type, {S::kReceived, S::kAssessed}, S::kAwaitingFunding);
    case EventType::kFundingApproved:
      return Allow(from, type, {S::kReceived, S::kAssessed, S::kAwaitingFunding}, S::kApproved);
    case EventType::kReferralRefused:
      return Allow(from, type,
                   {S::kReceived, S::kAssessed, S::kAwaitingFunding, S::kApproved, S::kOffered},
                   S::kRefused);
    case EventType::kAppealLodged:
      return Allow(from, type, {S::kRefused}, S::kUnderAppeal);
    case EventType::kAppealDecided: {
      bool upheld = std::get<AppealDecided>(data).outcome == AppealOutcome::kUpheld;
      return Allow(from, type, {S::kUnderAppeal}, upheld ? S::kApproved : S::kRefused);
    }
    case EventType::kPlacementOffered:
      return Allow(from, type, {S::kApproved, S::kOffered}, S::kOffered);
    case EventType::kPlacementStarted:
      return Allow(from, type, {S::kApproved, S::kOffered}, S::kInPlacement);
    case EventType::kPlacementEnded:
      return Allow(from, type, {S::kInPlacement}, S::kEnded);
    case EventType::kReferralWithdrawn:
      return Allow(from, type,
                   {S::kReceived, S::kAssessed, S::kAwaitingFunding, S::kApproved, S::kRefused,
                    S::kUnderAppeal, S::kOffered},
                   S::kWithdrawn);
    case EventType::kRecordCorrected:
      if (from == S::kNone) {
        return Status::StateViolation(
            "record.corrected is not allowed for a referral that has not been received");
      }
      return from;
  }
  return Status::Internal("unknown event type");
}

}  // namespace ledger
