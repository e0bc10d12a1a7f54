// The per-referral state machine of SPEC §3.
#pragma once

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

// SPEC §3's table, the one both the ledger's checks and the projections
// read: the state an event of `type` leads to from `from` (appeal.decided:
// kApproved when `upheld`, else kRefused), or nullopt when the event is not
// allowed there. record.corrected keeps any state but kNone.
std::optional<ReferralState> NextState(ReferralState from, EventType type, bool upheld = false);

// NextState for an event's data, or kStateViolation naming the event type,
// the state and the states it is allowed from.
Result<ReferralState> Transition(ReferralState from, const EventData& data);

// True for the states SPEC §8 counts as an open pathway.
bool IsOpen(ReferralState state);

}  // namespace ledger
