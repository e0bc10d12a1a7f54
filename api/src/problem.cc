// problem+json (RFC 9457) and the plain HTTP helpers of http.h.
#include <boost/json.hpp>

#include "api/http.h"

namespace api {

namespace json = boost::json;
using ledger::Code;
using ledger::FieldError;
using ledger::Result;
using ledger::Status;

unsigned HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kForbidden:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kConflict:
      return 409;
    case Code::kStateViolation:
      return 422;
    case Code::kResourceExhausted:
      return 503;
    case Code::kIOError:
    case Code::kCorruption:
    case Code::kInternal:
      return 500;
  }
  return 500;
}

namespace {

struct ProblemKind {
  unsigned status;
  const char* slug;
  const char* title;
};
constexpr ProblemKind kProblems[] = {
    {400, "invalid-request", "The request is not valid"},
    {401, "unauthenticated", "No or unknown credential"},
    {403, "forbidden", "Outside the credential's role or scope"},
    {404, "not-found", "Not found"},
    {405, "method-not-allowed", "Method not allowed"},
    {409, "conflict", "Conflict with the referral's stream"},
    {413, "body-too-large", "The body is over 1 MiB"},
    {431, "header-too-large", "The request header is too large"},
    {415, "unsupported-media-type", "The body must be application/json"},
    {422, "state-violation", "The event breaks the referral's rules"},
    {429, "too-many-requests", "Too many requests from this client"},
    {500, "internal", "Internal error"},
    {503, "unavailable", "The service cannot take this request now"},
};

// The length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no
// overlong forms, surrogates or code points past U+10FFFF), or 0.
size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F)) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

Result<std::string> WholeBody(HttpResponse& r) {
  if (r.shared_body) return *r.shared_body;
  if (!r.stream) return r.body;
  std::string out;
  for (;;) {
    Result<std::string> piece = r.stream();
    if (!piece.ok()) return piece.status();
    if (piece->empty()) return out;
    out += *piece;
  }
}

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceLength(text.substr(i));
    const auto c = static_cast<unsigned char>(text[i]);
    const bool control =
        n == 1 ? (c < 0x20 || c == 0x7F)
               : (n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0);
    if (n == 0 || control) {
      // A control character of two bytes (U+0080-U+009F) is written whole.
      const size_t bytes = n == 0 ? 1 : n;
      for (size_t k = 0; k < bytes; ++k) {
        static constexpr char kHex[] = "0123456789abcdef";
        const auto byte = static_cast<unsigned char>(text[i + k]);
        out += "\\x";
        out += kHex[byte >> 4];
        out += kHex[byte & 15];
      }
      i += bytes;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

HttpResponse Problem(unsigned status, const std::string& detail,
                     const std::vector<FieldError>& errors) {
  const ProblemKind* kind = nullptr;
  for (const ProblemKind& k : kProblems) {
    if (k.status == status || (!kind && k.status == 500)) kind = &k;
  }
  json::object o;
  o["type"] = std::string("urn:rehab-access-ledger:problem:") + kind->slug;
  o["title"] = kind->title;
  o["status"] = status;
  o["detail"] = Printable(detail);
  if (status == 400 || !errors.empty()) {
    json::array list;
    for (const FieldError& e : errors) {
      list.push_back(
          json::object{{"field", Printable(e.field)}, {"message", Printable(e.message)}});
    }
    o["errors"] = std::move(list);
  }
  HttpResponse r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = json::serialize(o);
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

HttpResponse ProblemFor(const Status& status) {
  return Problem(HttpStatusFor(status.code()), status.message(), status.field_errors());
}

}  // namespace api
