// The JSON form of events (SPEC §6 request bodies, §8 input rules) and of
// stored events as the API and the export tools write them.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string_view>
#include <vector>

#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger {

// Largest batch SPEC §8 accepts.
inline constexpr size_t kMaxBatchEvents = 1000;

// Parses `text` as exactly one JSON value under SPEC §8's rules: an empty body,
// trailing bytes, invalid UTF-8, duplicate object keys, comments, NaN or
// nesting deeper than 64 are kInvalidArgument (field "body").
Result<boost::json::value> ParseStrictJson(std::string_view text);

// Parses one POST /v1/events body: the client fields of §3 plus the optional
// `expected_version` and `idempotency_key`. Every bad field is named
// ("type", "data.area", "data.fields"); unknown fields, including the
// ledger's own (`seq`, `hash`, ...) and person data (`name`), are errors.
// `now` is the server clock for the 5-minute future limit.
//
// A record.corrected's `fields` are checked here only for shape and for the
// names no correction may touch; whether they fit the target's type is known
// once the target is read (Ledger::Append does it).
Result<AppendRequest> ParseAppendRequest(const boost::json::value& body, Micros now);

// Parses a POST /v1/events/batch body {"events": [...]} of 1 to 1000 events.
// Field errors are named "events[i].<field>", every event's at once.
Result<std::vector<AppendRequest>> ParseBatchRequest(const boost::json::value& body, Micros now);

// The `data` object of an event, as posted.
boost::json::object EventDataToJson(const EventData& data);

// The request body that would append `request` (keys of §6). Parsing its
// output gives `request` back.
boost::json::object AppendRequestToJson(const AppendRequest& request);

// A stored event: seq, version, type, referral_id, occurred_at, recorded_at,
// actor, data, hash (hex), and idempotency_key when it had one.
boost::json::object EventToJson(const Event& event);

// SHA-256 of the canonical form of `request`: what "the same body" means for
// idempotency. Key order, spacing and equivalent spellings of a time do not
// change it.
Hash RequestDigest(const AppendRequest& request);

}  // namespace ledger
