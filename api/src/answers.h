// The JSON the API answers with, beside the views' own: signed heads,
// proofs' hashes, append results, and the feed as a stream of pieces.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api/http.h"
#include "ledger/ledger.h"

namespace api {

// A 200-or-other answer of JSON `v`.
HttpResponse Json(unsigned status, const boost::json::value& v);

// `bytes` gzipped (RFC 1952, zlib level 6); empty if zlib fails.
std::string Gzip(std::string_view bytes);

// {size, root_hash, timestamp, signature}, hashes in hex.
boost::json::object SignedHeadJson(const ledger::SignedTreeHead& sth);
boost::json::array HashesJson(const std::vector<ledger::Hash>& hashes);
// {seq, version, hash, recorded_at}.
boost::json::object AppendResultJson(const ledger::AppendResult& r);

// The body of GET /v1/events, {"events": [...], "next_after": N, "head": H},
// as a stream of pieces (HttpResponse::stream): never more than about
// kStreamPieceBytes of it in memory, however many events it holds. The
// events are those after `after` that were durable when it began.
std::function<ledger::Result<std::string>()> FeedStream(const ledger::Ledger* ledger,
                                                        uint64_t after, uint64_t limit);

}  // namespace api
