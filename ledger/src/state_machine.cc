#include "ledger/state_machine.h"

#include <array>
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
constexpr size_t kStates = static_cast<size_t>(S::kWithdrawn) + 1;

bool Allowed(S from, EventType type) {
  return (kTransitions[static_cast<size_t>(type)].from >> static_cast<unsigned>(from)) & 1u;
}

}  // namespace

std::optional<ReferralState> NextState(ReferralState from, EventType type, bool upheld) {
  if (!Allowed(from, type)) return std::nullopt;
  return StateAfter(from, type, upheld);
}

Result<ReferralState> Transition(ReferralState from, const EventData& data) {
  const EventType type = TypeOf(data);
  const auto* appeal = std::get_if<AppealDecided>(&data);
  const bool upheld = appeal && appeal->outcome == AppealOutcome::kUpheld;
  if (std::optional<S> to = NextState(from, type, upheld)) return *to;
  std::string msg = std::string(ToString(type)) + " is not allowed ";
  if (from == S::kNone) {
    msg += "for a referral that has not been received";
  } else {
    msg += "in state '" + std::string(ToString(from)) + "'";
  }
  // record.corrected's states are every state but none: it only needs the
  // referral to exist.
  if (type == EventType::kRecordCorrected) return Status::StateViolation(std::move(msg));
  msg += " (allowed from:";
  bool first = true;
  for (size_t s = 0; s < kStates; ++s) {
    if (!Allowed(static_cast<S>(s), type)) continue;
    msg += first ? " " : ", ";
    msg += ToString(static_cast<S>(s));
    first = false;
  }
  msg += ")";
  return Status::StateViolation(std::move(msg));
}

}  // namespace ledger
