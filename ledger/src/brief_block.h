// Brief blocks: a compact copy of what views read of each event
// (EventBrief), kept beside the events so that a full read of the log for
// the views (Ledger::ScanBriefs) costs a key per kBriefBlockEvents events
// instead of a key, a decompression share and a Cap'n Proto decode per
// event.
//
// Block b holds the briefs of seqs b*kBriefBlockEvents+1 ..
// (b+1)*kBriefBlockEvents. It is written in the same batch as the event that
// completes it, so it is there exactly when all its events are; the
// events after the last complete block are read from the events
// themselves. A block is a pure function of its events' canonical bytes:
// Verify() recomputes every one and names the first seq whose brief does
// not match. A block of another format (an older or newer build) is not
// used: its events are read instead, and Open rewrites it.
//
// Value: one format byte, then one record per event, in seq order:
//   type (1) | enums (6) | occurred_at (8, LE) | recorded_at (8, LE) |
//   varint length + referral_id | varint length + key |
//   record.corrected only: varint length + the event's canonical bytes
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger::internal {

inline constexpr uint64_t kBriefBlockEvents = 1024;
inline constexpr char kBriefBlockFormat = 1;

// The block that holds seq (seq >= 1).
inline uint64_t BriefBlockOf(uint64_t seq) { return (seq - 1) / kBriefBlockEvents; }

// Appends the record of `brief` to `out`. `canonical` is the event's
// canonical bytes; only a correction's record holds them.
void AppendBriefRecord(const EventBrief& brief, std::string_view canonical, std::string* out);

// Reads the record at the front of `*in` as the brief of event `seq`, and
// advances `*in` past it. A correction's `out->correction` is valid until
// this thread's next read or decode (as DecodeBrief's). Refuses, as
// kCorruption, a record that is cut short, holds a type or enumeration
// value this build does not know, or a correction that does not decode or
// names another seq.
Status ReadBriefRecord(std::string_view* in, uint64_t seq, EventBrief* out);

}  // namespace ledger::internal
