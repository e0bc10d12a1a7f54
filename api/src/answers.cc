#include "answers.h"

#include <zlib.h>

#include <algorithm>
#include <memory>

#include "view_cache.h"
#include "wire/event_json.h"
#include "wire/json_text.h"

namespace api {

namespace json = boost::json;
using ledger::Result;
using ledger::Status;

HttpResponse Json(unsigned status, const json::value& v) {
  HttpResponse r;
  r.status = status;
  r.body = wire::Serialize(v);  // numbers in plain decimal (SPEC §11)
  return r;
}

json::object SignedHeadJson(const ledger::SignedTreeHead& sth) {
  json::object o;
  o["size"] = sth.head.size;
  o["root_hash"] = ledger::ToHex(sth.head.root);
  o["timestamp"] =
      sth.head.size ? json::value(ledger::FormatTimestamp(sth.head.timestamp)) : json::value();
  o["signature"] = ledger::ToHex(sth.signature);
  return o;
}

json::array HashesJson(const std::vector<ledger::Hash>& hashes) {
  json::array out;
  for (const ledger::Hash& h : hashes) out.push_back(json::value(ledger::ToHex(h)));
  return out;
}

json::object AppendResultJson(const ledger::AppendResult& r) {
  json::object o;
  o["seq"] = r.seq;
  o["version"] = r.version;
  o["hash"] = ledger::ToHex(r.hash);
  o["recorded_at"] = ledger::FormatTimestamp(r.recorded_at);
  return o;
}

// The body of GET /v1/events, {"events": [...], "next_after": N, "head": H},
// as a stream of pieces (HttpResponse::stream): never more than about
// kStreamPieceBytes of it in memory, however many events it holds. The
// events are those after `after` that were durable when it began.
std::function<Result<std::string>()> FeedStream(const ledger::Ledger* ledger, uint64_t after,
                                                uint64_t limit) {
  const uint64_t size = ledger->Size();
  const uint64_t upto = after + std::min(limit, size - std::min(after, size));
  struct Cursor {
    uint64_t next;  // the events after it are still to send
    bool opened = false;
    bool closed = false;
  };
  auto cursor = std::make_shared<Cursor>(Cursor{after});
  return [ledger, after, upto, cursor]() -> Result<std::string> {
    std::string out;
    if (cursor->closed) return out;
    if (!cursor->opened) {
      out = "{\"events\":[";
      cursor->opened = true;
    }
    while (cursor->next < upto && out.size() < kStreamPieceBytes) {
      const uint64_t to = std::min(upto, cursor->next + 64);
      LEDGER_RETURN_IF_ERROR(ledger->ScanEvents(cursor->next, to, [&](const ledger::Event& e) {
        if (e.seq > after + 1) out += ',';
        out += json::serialize(wire::EventToJson(e));
        return Status::Ok();
      }));
      cursor->next = to;
    }
    if (cursor->next >= upto) {
      out += "],\"next_after\":" + std::to_string(upto) +
             ",\"head\":" + std::to_string(ledger->Size()) + "}";
      cursor->closed = true;
    }
    return out;
  };
}

}  // namespace api

namespace api {

std::string Gzip(std::string_view bytes) {
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper (RFC 1952), not raw zlib.
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return "";
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : "";
}

CachedAnswer::CachedAnswer(std::string body, bool immutable)
    : body_(std::move(body)),
      immutable_(immutable),
      etag_("\"" + ledger::ToHex(ledger::Sha256(body_)).substr(0, 32) + "\"") {}

const std::string& CachedAnswer::Gzipped() const {
  std::call_once(gzip_once_, [this] { gzip_ = Gzip(body_); });
  return gzip_;
}

}  // namespace api
