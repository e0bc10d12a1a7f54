// Cap'n Proto encoding of stored events and stream heads (schema/event.capnp).
// The only place that touches generated Cap'n Proto code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ledger/event.h"
#include "ledger/state_machine.h"
#include "ledger/status.h"

namespace ledger::internal {

// The canonical bytes of `event` (its envelope and data; not its hash).
std::string EncodeEvent(const Event& event);

// Decodes canonical bytes; the result's hash is left zero. Bytes that are not
// a well-formed event of a type this build knows give kCorruption.
Result<Event> DecodeEvent(std::string_view bytes);

// Decodes canonical bytes into `out` without copying strings (EventBrief):
// its views are valid until this thread's next decode. Refuses what
// DecodeEvent refuses, except that fields no brief holds are not read.
Status DecodeBrief(std::string_view bytes, EventBrief* out);

// The per-stream record the writer checks new events against; it is also
// the stream's index.
struct StreamHead {
  ReferralState state = ReferralState::kNone;
  Micros last_occurred_at = 0;
  std::string area;            // as corrected
  std::string provider;        // of the latest placement.offered / placement.started
  uint64_t provider_seq = 0;   // the event `provider` was taken from
  std::vector<uint64_t> seqs;  // seqs[v - 1] is the seq of version v

  uint64_t version() const { return seqs.size(); }
  bool operator==(const StreamHead&) const = default;

  // Folds in `e`, the stream's next event, which the state machine takes to
  // `next`; a correction merges into area and provider as ApplyCorrection
  // would into their events.
  void Apply(const Event& e, ReferralState next);
};

std::string EncodeStreamHead(const StreamHead& head);
Result<StreamHead> DecodeStreamHead(std::string_view bytes);

}  // namespace ledger::internal
