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

constexpr uint16_t Bits(std::initializer_list<S> states) {
  uint16_t out = 0;
  for (S s : states) out |= static_cast<uint16_t>(1u << static_cast<unsigned>(s));
  return out;
}

// SPEC §3's table, one row per event type in EventType's order: the states
// the event is allowed from and the state it leads to. appeal.decided leads
// to `to` when upheld, else to kRefused; record.corrected keeps the state.
struct Row {
  uint16_t from;
  S to;
};
constexpr std::array<Row, EnumCount<EventType>()> kTable{{
    {Bits({S::kNone}), S::kReceived},                           // referral.received
    {Bits({S::kReceived}), S::kAssessed},                       // assessment.completed
    {Bits({S::kReceived, S::kAssessed}), S::kAwaitingFunding},  // funding.requested
    {Bits({S::kReceived, S::kAssessed, S::kAwaitingFunding}), S::kApproved},  // funding.approved
    {Bits({S::kReceived, S::kAssessed, S::kAwaitingFunding, S::kApproved, S::kOffered}),
     S::kRefused},                                         // referral.refused
    {Bits({S::kRefused}), S::kUnderAppeal},                // appeal.lodged
    {Bits({S::kUnderAppeal}), S::kApproved},               // appeal.decided (upheld)
    {Bits({S::kApproved, S::kOffered}), S::kOffered},      // placement.offered
    {Bits({S::kApproved, S::kOffered}), S::kInPlacement},  // placement.started
    {Bits({S::kInPlacement}), S::kEnded},                  // placement.ended
    {Bits({S::kReceived, S::kAssessed, S::kAwaitingFunding, S::kApproved, S::kRefused,
           S::kUnderAppeal, S::kOffered}),
     S::kWithdrawn},  // referral.withdrawn
    {static_cast<uint16_t>(((1u << kStates) - 1) & ~Bits({S::kNone})),
     S::kNone},  // record.corrected: any state once received; keeps it
}};

bool Allowed(S from, EventType type) {
  return (kTable[static_cast<size_t>(type)].from >> static_cast<unsigned>(from)) & 1u;
}

}  // namespace

std::optional<ReferralState> NextState(ReferralState from, EventType type, bool upheld) {
  if (!Allowed(from, type)) return std::nullopt;
  if (type == EventType::kRecordCorrected) return from;
  if (type == EventType::kAppealDecided && !upheld) return S::kRefused;
  return kTable[static_cast<size_t>(type)].to;
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
