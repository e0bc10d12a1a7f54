// The per-referral state machine of SPEC §3.
#pragma once

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

// The state after `data` is applied in `from`, or kStateViolation naming the
// event type, the state and the states it is allowed from. record.corrected
// leaves any existing state unchanged.
Result<ReferralState> Transition(ReferralState from, const EventData& data);

// True for the states SPEC §8 counts as an open pathway.
bool IsOpen(ReferralState state);

}  // namespace ledger
