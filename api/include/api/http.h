// The plain HTTP types the service answers with, and problem+json (RFC
// 9457): no Beast here, so that routes are tested without a socket and the
// server (server.h) only moves bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/status.h"

namespace api {

inline constexpr uint64_t kMaxBodyBytes = 1 << 20;  // 1,048,576

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // origin form: "/v1/fairness?from=2025-01-01"
  std::string authorization;
  std::string content_type;
  std::string last_event_id;    // server-sent events: resume after this seq
  std::string accept;           // the Accept header: text/csv asks for a view as CSV
  std::string accept_encoding;  // gzip: a large view's answer is sent gzipped
  std::string if_none_match;    // entity tags the client holds: 304 for a match
  std::optional<uint64_t> content_length;
  // A chunked body not read yet: its size, and so the 413 that comes
  // before 415 (SPEC §8), is known only once it is read.
  bool body_pending = false;
  std::string body;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // A body shared with a cache (a view's answer, a full tile): when set,
  // `body` is unused and these bytes are sent as they are, never copied.
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers;
  // A body too large to hold whole (the feed): when set, `body` is unused
  // and the server calls this again and again for the body's next piece (at
  // most about kStreamPieceBytes), sending each with chunked coding once
  // the client has taken the one before, until it returns an empty piece.
  // A failure after the first piece closes the connection without the last
  // chunk, so the client sees the body is cut short.
  std::function<ledger::Result<std::string>()> stream;
};

// About the most a streamed response holds in memory at once.
inline constexpr size_t kStreamPieceBytes = 64 * 1024;

// The whole body of `r`, its stream drained (for callers without a socket).
ledger::Result<std::string> WholeBody(HttpResponse& r);

// `text` with each byte that is not part of valid UTF-8, and each control
// character, written as \xHH: safe for a JSON string and for a log line
// (a request may put any bytes in its path).
std::string Printable(std::string_view text);

// RFC 9457 problem details: type, title, status, detail and, for field
// errors, errors: [{field, message}], every string made Printable.
HttpResponse Problem(unsigned status, const std::string& detail,
                     const std::vector<ledger::FieldError>& errors = {});
// The response for a failed ledger or projection call. The one place that
// maps ledger codes to HTTP statuses.
unsigned HttpStatusFor(ledger::Code code);
HttpResponse ProblemFor(const ledger::Status& status);

}  // namespace api
