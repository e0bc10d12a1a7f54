// The canonical JSON form of a request, and its digest: what "the same
// body" means for an idempotency key (SPEC §8). The ledger stores the digest
// with each key, so this form is part of the stored format: it never changes.
// Parsing requests is the edge's (wire/event_json.h), not the ledger's.
#pragma once

#include <boost/json/object.hpp>

#include "ledger/event.h"
#include "ledger/hash.h"

namespace ledger {

// The `data` object of an event, as posted.
boost::json::object EventDataToJson(const EventData& data);

// The request body that would append `request` (keys of §6). Parsing its
// output gives `request` back.
boost::json::object AppendRequestToJson(const AppendRequest& request);

// SHA-256 of the canonical form of `request`: what "the same body" means for
// idempotency, the same JSON value (SPEC §8). Key order, spacing and string
// escapes do not change it; another spelling of the same time does (the
// request's occurred_at_text, where it was read from JSON).
Hash RequestDigest(const AppendRequest& request);

}  // namespace ledger
