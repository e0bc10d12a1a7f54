// The JSON form of events (SPEC §6 request bodies, §8 input rules) and of
// stored events as the API and the export tools write them.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "ledger/event.h"
#include "ledger/ledger.h"
#include "ledger/request_digest.h"
#include "ledger/status.h"

namespace wire {

using ledger::AppendRequest;
using ledger::Event;
using ledger::EventType;
using ledger::Micros;
using ledger::Result;

// Largest batch SPEC §8 accepts.
inline constexpr size_t kMaxBatchEvents = 1000;

// Parses `text` as exactly one JSON value under SPEC §8's rules: an empty body,
// trailing bytes, invalid UTF-8, duplicate object keys, comments, NaN or
// nesting deeper than 64 are kInvalidArgument (field "body").
Result<boost::json::value> ParseStrictJson(std::string_view text);

// CorrectableType (event.h) of the written event `seq` for a correction in
// the stream `referral_id`; nullopt also when `seq` is not written.
using CorrectionTargetType =
    std::function<std::optional<EventType>(uint64_t seq, std::string_view referral_id)>;

// Parses one POST /v1/events body: the client fields of §3 plus the optional
// `expected_version` and `idempotency_key`. Every bad field is named
// ("type", "data.area", "data.fields"); unknown fields, including the
// ledger's own (`seq`, `hash`, ...) and person data (`name`), are errors.
// `now` is the server clock for the 5-minute future limit.
//
// A record.corrected's `fields` are checked here for shape and for the names
// no correction may touch. When the body fails for other fields, they are
// also checked, with `targets`, against the type of a target already
// written, so that their errors are named with every other field's (SPEC
// §6). A body that passes goes to Ledger::Append, which checks them against
// the target it reads (also one written earlier in the same batch).
Result<AppendRequest> ParseAppendRequest(const boost::json::value& body, Micros now,
                                         const CorrectionTargetType& targets = nullptr);

// Parses a POST /v1/events/batch body {"events": [...]} of 1 to 1000 events.
// Field errors are named "events[i].<field>", every event's at once.
Result<std::vector<AppendRequest>> ParseBatchRequest(const boost::json::value& body, Micros now,
                                                     const CorrectionTargetType& targets = nullptr);

// The ledger's failure of an append, named as SPEC §6 names a batch's
// errors: a failure about event i (Status::event) has its message and
// fields prefixed "events[i]"; field errors of several events are each
// named "events[i].<field>" and the message lists them again. A status
// about no event is unchanged. The API names a batch's errors so (even a
// batch of one); a single event's are its own fields ("data.area").
ledger::Status NameEvents(const ledger::Status& status);

// A stored event: seq, version, type, referral_id, occurred_at, recorded_at,
// actor, data, hash (hex), and idempotency_key when it had one.
boost::json::object EventToJson(const Event& event);

// An event as EventToJson writes it (ledgerctl export, the feed), as a
// request that keeps its seq, recorded_at, actor and chain hash
// (Ledger::AppendRecorded): import --restore and a standby's copying.
// kInvalidArgument naming every bad field.
Result<ledger::RecordedRequest> ParseRecordedEvent(boost::json::object body);

}  // namespace wire
