// The per-referral state machine of SPEC §3.
#pragma once

#include <array>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger {

enum class ReferralState : uint8_t {
  kNone,  // the stream does not exist yet
  kReceived,
  kAssessed,
  kAwaitingFunding,
  kApproved,
  kRefused,
  kUnderAppeal,
  kOffered,
  kInPlacement,
  kEnded,
  kWithdrawn,
};

std::string_view ToString(ReferralState state);

namespace internal {
constexpr uint16_t StateBits(std::initializer_list<ReferralState> states) {
  uint16_t out = 0;
  for (ReferralState s : states) out |= static_cast<uint16_t>(1u << static_cast<unsigned>(s));
  return out;
}
}  // namespace internal

// SPEC §3's table, one row per event type in EventType's order: the states
// (bits by ReferralState) the event is allowed from and the state it leads
// to. appeal.decided leads to `to` when upheld, else to kRefused;
// record.corrected is allowed in any state but kNone and keeps it.
struct TransitionRow {
  uint16_t from;
  ReferralState to;
};
inline constexpr std::array<TransitionRow, EnumCount<EventType>()> kTransitions = [] {
  using S = ReferralState;
  using internal::StateBits;
  return std::array<TransitionRow, EnumCount<EventType>()>{{
      {StateBits({S::kNone}), S::kReceived},                           // referral.received
      {StateBits({S::kReceived}), S::kAssessed},                       // assessment.completed
      {StateBits({S::kReceived, S::kAssessed}), S::kAwaitingFunding},  // funding.requested
      {StateBits({S::kReceived, S::kAssessed, S::kAwaitingFunding}),
       S::kApproved},  // funding.approved
      {StateBits({S::kReceived, S::kAssessed, S::kAwaitingFunding, S::kApproved, S::kOffered}),
       S::kRefused},                                              // referral.refused
      {StateBits({S::kRefused}), S::kUnderAppeal},                // appeal.lodged
      {StateBits({S::kUnderAppeal}), S::kApproved},               // appeal.decided (upheld)
      {StateBits({S::kApproved, S::kOffered}), S::kOffered},      // placement.offered
      {StateBits({S::kApproved, S::kOffered}), S::kInPlacement},  // placement.started
      {StateBits({S::kInPlacement}), S::kEnded},                  // placement.ended
      {StateBits({S::kReceived, S::kAssessed, S::kAwaitingFunding, S::kApproved, S::kRefused,
                  S::kUnderAppeal, S::kOffered}),
       S::kWithdrawn},  // referral.withdrawn
      {StateBits({S::kReceived, S::kAssessed, S::kAwaitingFunding, S::kApproved, S::kRefused,
                  S::kUnderAppeal, S::kOffered, S::kInPlacement, S::kEnded, S::kWithdrawn}),
       S::kNone},  // record.corrected: keeps the state
  }};
}();

// The state an event of `type` leads to from `from`, by the table, without
// asking whether it is allowed there: for a fold over events the ledger
// already accepted (the projections'), in their scans' inner loops.
inline ReferralState StateAfter(ReferralState from, EventType type, bool upheld) {
  if (type == EventType::kRecordCorrected) return from;
  if (type == EventType::kAppealDecided && !upheld) return ReferralState::kRefused;
  return kTransitions[static_cast<size_t>(type)].to;
}

// The table, with its check: the one both the ledger's checks and the
// projections read: the state an event of `type` leads to from `from` (appeal.decided:
// kApproved when `upheld`, else kRefused), or nullopt when the event is not
// allowed there. record.corrected keeps any state but kNone.
std::optional<ReferralState> NextState(ReferralState from, EventType type, bool upheld = false);

// NextState for an event's data, or kStateViolation naming the event type,
// the state and the states it is allowed from.
Result<ReferralState> Transition(ReferralState from, const EventData& data);

// True for the states SPEC §8 counts as an open pathway.
bool IsOpen(ReferralState state);

}  // namespace ledger
