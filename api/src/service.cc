#include "api/service.h"

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <array>
#include <list>
#include <unordered_map>
#include <mutex>
#include <set>
#include <sstream>

#include "ledger/event_json.h"
#include "ledger/merkle.h"
#include "projections/areas.h"

namespace api {

namespace json = boost::json;
namespace urls = boost::urls;
using ledger::Code;
using ledger::FieldError;
using ledger::Result;
using ledger::Status;

// ---------------------------------------------------------------------------
// Problems

unsigned HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kForbidden: return 403;
    case Code::kNotFound: return 404;
    case Code::kConflict: return 409;
    case Code::kStateViolation: return 422;
    case Code::kResourceExhausted: return 503;
    case Code::kIOError:
    case Code::kCorruption:
    case Code::kInternal: return 500;
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
    const bool control = n == 1 ? (c < 0x20 || c == 0x7F)
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
      list.push_back(json::object{{"field", Printable(e.field)}, {"message", Printable(e.message)}});
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

namespace {

HttpResponse Json(unsigned status, const json::value& v) {
  HttpResponse r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

// ---------------------------------------------------------------------------
// Routes

enum class RouteId {
  kAppend,
  kBatch,
  kFeed,
  kSubscribe,
  kReferral,
  kAreas,
  kAreaFairness,
  kAreaWaits,
  kFairness,
  kWaits,
  kRefusals,
  kHead,
  kInclusion,
  kConsistency,
  kMe,  // GET /v1/me: the credential's role and scope
  kHealth,
  kMetrics,
  kOpenApi,
  kDashboard,  // GET /: the dashboard's page
  kWebAsset,   // GET /web/{file}: its script and style sheet
};
constexpr int kRouteCount = static_cast<int>(RouteId::kWebAsset) + 1;

// The template of each route, as /metrics labels it.
const char* RouteTemplate(RouteId id) {
  switch (id) {
    case RouteId::kAppend: return "POST /v1/events";
    case RouteId::kBatch: return "POST /v1/events/batch";
    case RouteId::kFeed: return "GET /v1/events";
    case RouteId::kSubscribe: return "GET /v1/events/subscribe";
    case RouteId::kReferral: return "GET /v1/referrals/{id}";
    case RouteId::kAreas: return "GET /v1/areas";
    case RouteId::kAreaFairness: return "GET /v1/areas/{code}/fairness";
    case RouteId::kAreaWaits: return "GET /v1/areas/{code}/waiting-times";
    case RouteId::kFairness: return "GET /v1/fairness";
    case RouteId::kWaits: return "GET /v1/waiting-times";
    case RouteId::kRefusals: return "GET /v1/refusals";
    case RouteId::kHead: return "GET /v1/ledger/head";
    case RouteId::kInclusion: return "GET /v1/ledger/proof/inclusion";
    case RouteId::kConsistency: return "GET /v1/ledger/proof/consistency";
    case RouteId::kMe: return "GET /v1/me";
    case RouteId::kHealth: return "GET /healthz";
    case RouteId::kMetrics: return "GET /metrics";
    case RouteId::kOpenApi: return "GET /v1/openapi.json";
    case RouteId::kDashboard: return "GET /";
    case RouteId::kWebAsset: return "GET /web/{file}";
  }
  return "other";
}

struct Matched {
  RouteId id;
  std::string param;  // the referral id or area code of the path
};

// The route of a path, or nullopt (404). `method_ok` is false when the path
// exists for another method (405).
std::optional<Matched> MatchPath(const std::vector<std::string>& s, const std::string& method,
                                 bool* method_ok) {
  auto route = [&](RouteId id, const char* want, std::string param = "") -> std::optional<Matched> {
    *method_ok = method == want || (std::string_view(want) == "GET" && method == "HEAD");
    return Matched{id, std::move(param)};
  };
  const size_t n = s.size();
  if (n == 0) return route(RouteId::kDashboard, "GET");
  if (n == 2 && s[0] == "web") return route(RouteId::kWebAsset, "GET", s[1]);
  if (n == 1 && s[0] == "healthz") return route(RouteId::kHealth, "GET");
  if (n == 1 && s[0] == "metrics") return route(RouteId::kMetrics, "GET");
  if (n < 2 || s[0] != "v1") return std::nullopt;
  const std::string& a = s[1];
  if (n == 2 && a == "openapi.json") return route(RouteId::kOpenApi, "GET");
  if (n == 2 && a == "me") return route(RouteId::kMe, "GET");
  if (n == 2 && a == "events") {
    *method_ok = method == "GET" || method == "POST";
    return Matched{method == "POST" ? RouteId::kAppend : RouteId::kFeed, ""};
  }
  if (n == 3 && a == "events" && s[2] == "batch") return route(RouteId::kBatch, "POST");
  if (n == 3 && a == "events" && s[2] == "subscribe") return route(RouteId::kSubscribe, "GET");
  if (n == 3 && a == "referrals") return route(RouteId::kReferral, "GET", s[2]);
  if (n == 2 && a == "areas") return route(RouteId::kAreas, "GET");
  if (n == 4 && a == "areas" && s[3] == "fairness") return route(RouteId::kAreaFairness, "GET", s[2]);
  if (n == 4 && a == "areas" && s[3] == "waiting-times") return route(RouteId::kAreaWaits, "GET", s[2]);
  if (n == 2 && a == "fairness") return route(RouteId::kFairness, "GET");
  if (n == 2 && a == "waiting-times") return route(RouteId::kWaits, "GET");
  if (n == 2 && a == "refusals") return route(RouteId::kRefusals, "GET");
  if (n == 3 && a == "ledger" && s[2] == "head") return route(RouteId::kHead, "GET");
  if (n == 4 && a == "ledger" && s[2] == "proof" && s[3] == "inclusion") {
    return route(RouteId::kInclusion, "GET");
  }
  if (n == 4 && a == "ledger" && s[2] == "proof" && s[3] == "consistency") {
    return route(RouteId::kConsistency, "GET");
  }
  return std::nullopt;
}

// Whether a role may ever use a route; scope is checked later, per request.
bool RoleMay(Role role, RouteId id) {
  switch (id) {
    case RouteId::kAppend:
    case RouteId::kBatch:
      return role == Role::kPartnership || role == Role::kProvider;
    case RouteId::kFeed:
    case RouteId::kSubscribe:
      return role == Role::kRegulator || role == Role::kAuditor;
    case RouteId::kReferral:
      return role != Role::kAuditor;
    case RouteId::kAreas:
    case RouteId::kAreaFairness:
    case RouteId::kAreaWaits:
    case RouteId::kFairness:
    case RouteId::kWaits:
    case RouteId::kRefusals:
      return role == Role::kRegulator || role == Role::kPartnership;
    case RouteId::kHead:
    case RouteId::kInclusion:
    case RouteId::kConsistency:
    case RouteId::kMe:
    case RouteId::kHealth:
    case RouteId::kMetrics:
    case RouteId::kOpenApi:
    case RouteId::kDashboard:
    case RouteId::kWebAsset:
      return true;
  }
  return false;
}

// Liveness and metrics carry no person data and are read by probes.
// The API's own description is public too.
bool NeedsCredential(RouteId id) {
  return id != RouteId::kHealth && id != RouteId::kMetrics && id != RouteId::kOpenApi &&
         id != RouteId::kDashboard && id != RouteId::kWebAsset;
}

bool IsJsonMediaType(std::string_view ct) {
  const size_t semi = ct.find(';');
  std::string_view type = ct.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  if (type.size() != kJson.size()) return false;
  for (size_t i = 0; i < type.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(type[i])) != kJson[i]) return false;
  }
  return true;
}

// A whole number of at most 19 decimal digits (so it fits in 63 bits).
std::optional<uint64_t> ParseCount(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return out;
}

// A parsed request target: its path segments and query parameters.
struct Target {
  std::vector<std::string> segments;
  std::map<std::string, std::string> params;
  std::vector<FieldError> errors;  // repeated parameters
};

std::optional<Target> ParseTarget(const std::string& target) {
  auto u = urls::parse_origin_form(target);
  if (!u) return std::nullopt;
  Target t;
  for (auto seg : u->segments()) t.segments.emplace_back(seg);
  // A '+' is a plus sign, as RFC 3986 has it, not a space as in HTML forms:
  // times such as 2025-01-01T00:00:00+00:00 arrive as written (no parameter
  // of this API holds a space).
  for (auto p : u->params(urls::encoding_opts(/*space_as_plus=*/false))) {
    // An empty piece ("?", "a=1&&b=2") names nothing, as in HTML forms.
    if (p.key.empty() && !p.has_value) continue;
    std::string key(p.key);
    if (t.params.count(key)) t.errors.push_back({key, "is given more than once"});
    t.params[key] = std::string(p.value);
  }
  return t;
}

// Query parameters of one route: each is read once; what is left unread is
// an unknown parameter (400).
class Params {
 public:
  explicit Params(Target& t) : t_(t), errors_(t.errors) {}

  std::optional<std::string> Take(const std::string& key) {
    auto it = t_.params.find(key);
    if (it == t_.params.end()) return std::nullopt;
    std::string v = std::move(it->second);
    t_.params.erase(it);
    // An empty value ("area=") is a parameter not given, as from an empty
    // form field.
    if (v.empty()) return std::nullopt;
    return v;
  }
  std::optional<uint64_t> Uint(const std::string& key, uint64_t max, uint64_t min = 0) {
    auto v = Take(key);
    if (!v) return std::nullopt;
    std::optional<uint64_t> out = ParseCount(*v);
    if (!out || *out > max || *out < min) {
      Bad(key, "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    return out;
  }
  std::optional<int64_t> Date(const std::string& key) {
    auto v = Take(key);
    if (!v) return std::nullopt;
    auto d = ledger::ParseDate(*v);
    if (!d) Bad(key, "must be a date, YYYY-MM-DD");
    return d;
  }
  std::optional<ledger::Micros> Time(const std::string& key) {
    auto v = Take(key);
    if (!v) return std::nullopt;
    auto t = ledger::ParseTimestamp(*v);
    if (!t) Bad(key, "must be an RFC 3339 UTC time, as 2025-01-31T09:00:00Z");
    return t;
  }
  template <typename E>
  std::optional<E> Enum(const std::string& key) {
    auto v = Take(key);
    if (!v) return std::nullopt;
    auto e = ledger::ParseEnum<E>(*v);
    if (!e) {
      std::string allowed;
      for (size_t i = 0; i < ledger::EnumCount<E>(); ++i) {
        allowed += (i ? ", " : "") + std::string(ledger::ToString(static_cast<E>(i)));
      }
      Bad(key, "must be one of " + allowed);
    }
    return e;
  }
  void Bad(const std::string& key, std::string message) {
    errors_.push_back({key, std::move(message)});
  }
  bool HasError(const std::string& key) const {
    return std::any_of(errors_.begin(), errors_.end(),
                       [&](const FieldError& e) { return e.field == key; });
  }
  // The 400 for bad or unknown parameters, or OK.
  Status Finish() {
    for (const auto& [key, value] : t_.params) Bad(key, "is not a parameter of this route");
    t_.params.clear();
    return Status::InvalidFields(errors_);
  }

 private:
  Target& t_;
  std::vector<FieldError> errors_;
};

// from, to, as_of (a seq or a time) and at.
projections::ViewQuery PeriodQuery(Params& p) {
  projections::ViewQuery q;
  q.from_day = p.Date("from");
  q.to_day = p.Date("to");
  if (q.from_day && q.to_day && *q.to_day < *q.from_day) p.Bad("to", "must not be before from");
  if (auto as_of = p.Take("as_of")) {
    if (std::optional<uint64_t> seq = ParseCount(*as_of)) {
      q.as_of_seq = seq;
    } else if (std::all_of(as_of->begin(), as_of->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      q.as_of_seq = UINT64_MAX;  // a seq too large to hold is beyond the head: the head
    } else if (auto t = ledger::ParseTimestamp(*as_of)) {
      q.as_of_time = *t;
    } else {
      p.Bad("as_of", "must be a seq or an RFC 3339 UTC time");
    }
  }
  q.at = p.Time("at");
  return q;
}

json::object SignedHeadJson(const ledger::SignedTreeHead& sth) {
  json::object o;
  o["size"] = sth.head.size;
  o["root_hash"] = ledger::ToHex(sth.head.root);
  o["timestamp"] = sth.head.size ? json::value(ledger::FormatTimestamp(sth.head.timestamp))
                                 : json::value();
  o["signature"] = ledger::ToHex(sth.signature);
  return o;
}

// Whether `cred` may see the referral `s` (SPEC §8, "Scope in detail"): a
// regulator every one; a partnership those of its areas (as corrected); a
// provider those that an offer or a start names one of its providers in (as
// corrected). To any other, the referral is as one that does not exist.
// REQUIRES: s.placements filled for a provider.
bool MayRead(const Credential& cred, const ledger::StreamInfo& s) {
  switch (cred.role) {
    case Role::kRegulator: return true;
    case Role::kPartnership: return cred.areas.count(s.area) > 0;
    case Role::kProvider:
      return std::any_of(s.placements.begin(), s.placements.end(),
                         [&](const ledger::Placement& p) { return cred.providers.count(p.provider); });
    case Role::kAuditor: return false;
  }
  return false;
}

// The referral `id` as `cred` may see it now: its description, or kNotFound
// worded as for a referral that does not exist.
Result<ledger::StreamInfo> VisibleStream(const ledger::Ledger& ledger, const Credential& cred,
                                         const std::string& id) {
  Result<ledger::StreamInfo> s = ledger.DescribeStream(id, cred.role == Role::kProvider);
  if (s.ok() && !MayRead(cred, *s)) return Status::NotFound("no referral " + id);
  return s;
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
        out += json::serialize(ledger::EventToJson(e));
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

// The scope check of an append (SPEC §8: 403 once the body is read; a
// referral the credential may not see is kNotFound, which the ledger checks
// as a referral that does not exist).
Status Authorize(const Credential& c, const ledger::NewEvent& e, const ledger::StreamInfo& s) {
  const ledger::EventType type = ledger::TypeOf(e.data);
  if (c.role == Role::kPartnership) {
    // A new referral's area is its own; one already received elsewhere is
    // the 409 that follows.
    if (const auto* r = std::get_if<ledger::ReferralReceived>(&e.data)) {
      if (c.areas.count(r->area)) return Status::Ok();
      return Status::Forbidden("area " + r->area + " is outside the credential's scope");
    }
    if (!s.exists) return Status::Ok();  // the 422 that follows
    if (!MayRead(c, s)) return Status::NotFound("not visible");
    // A correction of the area moves the referral: to an area of the scope only.
    if (const auto* d = std::get_if<ledger::RecordCorrected>(&e.data)) {
      for (const ledger::CorrectedField& f : d->fields) {
        const auto* area = std::get_if<std::string>(&f.value);
        if (f.name == "area" && area && !c.areas.count(*area)) {
          return Status::Forbidden("area " + *area + " (data.fields.area) is outside the credential's scope");
        }
      }
    }
    return Status::Ok();
  }
  if (c.role == Role::kProvider) {
    // The commissioning partnership records the offer a provider made; the
    // provider records the start and the end of its own placement.
    if (type != ledger::EventType::kPlacementStarted && type != ledger::EventType::kPlacementEnded) {
      return Status::Forbidden("a provider records only placement.started and placement.ended, not " +
                               std::string(ledger::ToString(type)));
    }
    if (!s.exists) return Status::Ok();  // the 422 that follows
    if (!MayRead(c, s)) return Status::NotFound("not visible");
    auto latest = [&](ledger::EventType t) -> const ledger::Placement* {
      for (auto p = s.placements.rbegin(); p != s.placements.rend(); ++p) {
        if (p->type == t) return &*p;
      }
      return nullptr;
    };
    if (const auto* d = std::get_if<ledger::PlacementStarted>(&e.data)) {
      const ledger::Placement* offer = latest(ledger::EventType::kPlacementOffered);
      if (!offer || !c.providers.count(offer->provider)) {
        return Status::Forbidden("the referral's latest offer is not from the credential's providers");
      }
      if (d->provider != offer->provider) {
        return Status::Forbidden("data.provider must be " + offer->provider +
                                 ", the provider of the referral's latest offer");
      }
      return Status::Ok();
    }
    const ledger::Placement* start = latest(ledger::EventType::kPlacementStarted);
    if (!start || !c.providers.count(start->provider)) {
      return Status::Forbidden("the referral is not in placement with the credential's providers");
    }
    return Status::Ok();
  }
  return Status::Forbidden("role " + std::string(ToString(c.role)) + " may not append");
}

}  // namespace

// ---------------------------------------------------------------------------
// Service

// Recent answers of aggregate views, least recently used out first.
class Service::ViewCache {
 public:
  explicit ViewCache(size_t capacity) : capacity_(capacity) {}
  std::optional<std::string> Get(const std::string& key) {
    std::lock_guard l(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void Put(const std::string& key, const std::string& body) {
    if (capacity_ == 0) return;
    std::lock_guard l(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
    order_.emplace_front(key, body);
    index_[key] = order_.begin();
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<std::string, std::string>> order_;
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
};

// A token bucket of append events per credential (ServiceOptions::
// append_rate): each holds up to `burst` events and refills at `rate` a
// second.
class Service::AppendLimiter {
 public:
  AppendLimiter(double rate, double burst) : rate_(rate), burst_(std::max(burst, 1000.0)) {}
  // 0 when `who` may append `events` now, which are taken from its bucket;
  // else the seconds until it may, and nothing is taken.
  double Take(const std::string& who, double events) {
    if (rate_ <= 0) return 0;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard l(mu_);
    auto [it, fresh] = buckets_.try_emplace(who, Bucket{burst_, now});
    Bucket& b = it->second;
    if (!fresh) {
      b.tokens = std::min(burst_, b.tokens + rate_ * std::chrono::duration<double>(now - b.at).count());
      b.at = now;
    }
    if (b.tokens >= events) {
      b.tokens -= events;
      return 0;
    }
    return (events - b.tokens) / rate_;
  }
  double rate() const { return rate_; }

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  const double rate_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // by actor; one per credential
};

// Latency histogram bounds, milliseconds.
constexpr double kBuckets[] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};
constexpr size_t kBucketCount = std::size(kBuckets);

struct Service::Metrics {
  std::mutex mu;
  std::map<std::pair<std::string, unsigned>, uint64_t> requests;  // (route, status)
  std::array<uint64_t, kBucketCount + 1> latency{};                // the last is +Inf
  double latency_sum_ms = 0;
  uint64_t latency_count = 0;
  uint64_t events_appended = 0;
};

Service::Service(ledger::Ledger* ledger, projections::Projector* projector, TokenStore tokens,
                 ServiceOptions options)
    : ledger_(ledger),
      projector_(projector),
      tokens_(std::move(tokens)),
      options_(options),
      metrics_(std::make_unique<Metrics>()),
      cache_(std::make_unique<ViewCache>(options.view_cache_entries)),
      limiter_(std::make_unique<AppendLimiter>(options.append_rate, options.append_burst)) {}

Service::~Service() = default;

void Service::Observe(const HttpRequest& request, unsigned status, double millis) const {
  std::optional<Target> target = ParseTarget(request.target);
  bool method_ok = true;
  std::optional<Matched> route =
      target ? MatchPath(target->segments, request.method, &method_ok) : std::nullopt;
  std::string name = route && method_ok ? RouteTemplate(route->id) : "unmatched";
  size_t bucket = 0;
  while (bucket < kBucketCount && millis > kBuckets[bucket]) ++bucket;
  std::lock_guard l(metrics_->mu);
  ++metrics_->requests[{std::move(name), status}];
  ++metrics_->latency[bucket];
  metrics_->latency_sum_ms += millis;
  ++metrics_->latency_count;
  if (route && (route->id == RouteId::kAppend || route->id == RouteId::kBatch) &&
      (status == 201)) {
    // Counted by request here; the head size below counts events.
    ++metrics_->events_appended;
  }
}

std::string Service::MetricsText() const {
  std::ostringstream out;
  std::lock_guard l(metrics_->mu);
  out << "# HELP ledger_http_requests_total Requests answered, by route and status.\n"
      << "# TYPE ledger_http_requests_total counter\n";
  for (const auto& [key, count] : metrics_->requests) {
    out << "ledger_http_requests_total{route=\"" << key.first << "\",status=\"" << key.second
        << "\"} " << count << "\n";
  }
  out << "# HELP ledger_http_request_duration_seconds Time to answer a request.\n"
      << "# TYPE ledger_http_request_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBucketCount; ++i) {
    cumulative += metrics_->latency[i];
    out << "ledger_http_request_duration_seconds_bucket{le=\"";
    if (i < kBucketCount) {
      out << kBuckets[i] / 1000;
    } else {
      out << "+Inf";
    }
    out << "\"} " << cumulative << "\n";
  }
  out << "ledger_http_request_duration_seconds_sum " << metrics_->latency_sum_ms / 1000 << "\n"
      << "ledger_http_request_duration_seconds_count " << metrics_->latency_count << "\n";
  out << "# HELP ledger_append_requests_total Append requests that appended events.\n"
      << "# TYPE ledger_append_requests_total counter\n"
      << "ledger_append_requests_total " << metrics_->events_appended << "\n";
  const uint64_t size = ledger_->Size();
  const uint64_t applied = projector_->applied();
  out << "# HELP ledger_head_size Durable events in the ledger.\n"
      << "# TYPE ledger_head_size gauge\n"
      << "ledger_head_size " << size << "\n"
      << "# HELP ledger_projection_lag_events Events the projections have not applied yet.\n"
      << "# TYPE ledger_projection_lag_events gauge\n"
      << "ledger_projection_lag_events " << (size > applied ? size - applied : 0) << "\n";
  return out.str();
}

const Credential* Service::CredentialOf(const HttpRequest& request) const {
  std::string_view auth = request.authorization;
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() <= kBearer.size()) return nullptr;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(auth[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i]))) {
      return nullptr;
    }
  }
  return tokens_.Authenticate(auth.substr(kBearer.size()));
}

std::optional<HttpResponse> Service::Precheck(const HttpRequest& request) const {
  std::optional<Target> target = ParseTarget(request.target);
  bool method_ok = true;
  std::optional<Matched> route;
  if (target) route = MatchPath(target->segments, request.method, &method_ok);
  // 401 comes first (SPEC §8), for a target that does not parse too.
  const bool needs_credential = !route || NeedsCredential(route->id);
  const Credential* cred = needs_credential ? CredentialOf(request) : nullptr;
  if (needs_credential && !cred) {
    return Problem(401, request.authorization.empty()
                            ? "a bearer token is required"
                            : "the bearer token is not known");
  }
  if (!target) return Problem(400, "the request target is not a valid path");
  if (!route) return Problem(404, "no route " + std::string(request.target.substr(0, 200)));
  if (!method_ok) {
    HttpResponse r = Problem(405, request.method + " is not allowed here");
    r.headers.emplace_back("Allow", route->id == RouteId::kBatch ? "POST" : "GET");
    return r;
  }
  if (cred && !RoleMay(cred->role, route->id)) {
    return Problem(403, "role " + std::string(ToString(cred->role)) + " may not use this route");
  }
  if (request.method == "POST") {
    if ((request.content_length && *request.content_length > kMaxBodyBytes) ||
        request.body.size() > kMaxBodyBytes) {
      return Problem(413, "the body is over 1,048,576 bytes");
    }
    if (!request.body_pending && !IsJsonMediaType(request.content_type)) {
      return Problem(415, "the media type must be application/json, not '" +
                              request.content_type.substr(0, 100) + "'");
    }
  }
  return std::nullopt;
}

void Service::Handle(HttpRequest request, std::function<void(HttpResponse)> done) const {
  if (auto early = Precheck(request)) return done(std::move(*early));
  Target target = *ParseTarget(request.target);
  bool method_ok = true;
  const Matched route = *MatchPath(target.segments, request.method, &method_ok);
  const Credential* cred = CredentialOf(request);
  Params params(target);

  // --- appends -------------------------------------------------------------
  if (route.id == RouteId::kAppend || route.id == RouteId::kBatch) {
    if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
    Result<json::value> body = ledger::ParseStrictJson(request.body);
    if (!body.ok()) return done(ProblemFor(body.status()));
    const ledger::Micros now = ledger::NowMicros();
    // Where the body fails for other fields, a correction's fields are
    // checked against a target already written too, so that their errors
    // come with the others' (ParseAppendRequest); not in a referral the
    // credential may not see, whose events show nowhere.
    auto targets = [this, cred](uint64_t seq,
                                std::string_view referral) -> std::optional<ledger::EventType> {
      if (seq > ledger_->Size()) return std::nullopt;
      Result<ledger::Event> e = ledger_->GetEvent(seq);
      if (!e.ok() || !VisibleStream(*ledger_, *cred, e->referral_id).ok()) return std::nullopt;
      return ledger::CorrectableType(*e, referral);
    };
    std::vector<ledger::AppendRequest> requests;
    if (route.id == RouteId::kAppend) {
      Result<ledger::AppendRequest> one = ledger::ParseAppendRequest(*body, now, targets);
      if (!one.ok()) return done(ProblemFor(one.status()));
      requests.push_back(std::move(one).value());
    } else {
      Result<std::vector<ledger::AppendRequest>> many =
          ledger::ParseBatchRequest(*body, now, targets);
      if (!many.ok()) return done(ProblemFor(many.status()));
      requests = std::move(many).value();
    }
    // The rate limit counts events that could be appended: after 400, before
    // the checks against the ledger.
    if (const double wait = limiter_->Take(cred->Actor(), static_cast<double>(requests.size()));
        wait > 0) {
      HttpResponse r = Problem(
          429, "this credential may append " + std::to_string(static_cast<long>(limiter_->rate())) +
                   " events a second on average; nothing was appended");
      r.headers.emplace_back("Retry-After", std::to_string(static_cast<long>(std::ceil(wait))));
      return done(std::move(r));
    }
    ledger::WriteContext ctx;
    ctx.actor = cred->Actor();
    const Credential credential = *cred;
    ctx.authorize = [credential](const ledger::NewEvent& e, const ledger::StreamInfo& s) {
      return Authorize(credential, e, s);
    };
    ctx.with_placements = credential.role == Role::kProvider;
    const bool batch = route.id == RouteId::kBatch;
    ctx.batch = batch;
    ledger_->AppendAsync(std::move(requests), std::move(ctx),
                         [done, batch](Result<std::vector<ledger::AppendResult>> r) {
                           if (!r.ok()) return done(ProblemFor(r.status()));
                           bool all_replayed = true;
                           for (const auto& one : *r) all_replayed = all_replayed && one.replayed;
                           const unsigned status = all_replayed ? 200 : 201;
                           if (!batch) return done(Json(status, AppendResultJson(r->front())));
                           json::array list;
                           for (const auto& one : *r) list.push_back(AppendResultJson(one));
                           done(Json(status, json::object{{"events", std::move(list)}}));
                         });
    return;
  }

  // --- reads ---------------------------------------------------------------
  // The cache key of an aggregate view: the same target over the same
  // projected ledger gives the same answer.
  std::string cache_key;
  bool no_store = false;  // person-level data (SPEC §8)
  auto respond = [&](Result<json::object> r) {
    if (!r.ok()) return done(ProblemFor(r.status()));
    // Every view carries the signed head of the ledger it was computed over.
    if (const json::value* seq = r->if_contains("as_of_seq")) {
      Result<ledger::SignedTreeHead> sth = ledger_->SignedHead(seq->to_number<uint64_t>());
      if (sth.ok()) (*r)["tree_head"] = SignedHeadJson(*sth);
    }
    HttpResponse out = Json(200, *r);
    if (no_store) out.headers.emplace_back("Cache-Control", "no-store");
    if (!cache_key.empty()) cache_->Put(cache_key, out.body);
    done(std::move(out));
  };
  auto view_query = [&]() -> Result<projections::ViewQuery> {
    projections::ViewQuery q = PeriodQuery(params);
    if (route.id == RouteId::kRefusals) {
      if (auto area = params.Take("area")) {
        if (std::string problem = ledger::CheckAreaCode(*area); !problem.empty()) {
          params.Bad("area", problem);
        }
        q.area = *area;
      }
      q.reason = params.Enum<ledger::RefusalReason>("reason");
      q.stage = params.Enum<ledger::RefusalStage>("stage");
    }
    LEDGER_RETURN_IF_ERROR(params.Finish());
    projector_->WaitFor(ledger_->Size(), options_.projection_wait);
    cache_key = request.target + "#" + std::to_string(projector_->applied());
    return q;
  };
  // Whether an area is known: in the reference data, or named by a referral
  // (SPEC §6: an unknown area is 404).
  auto area_known = [&](const std::string& code) {
    bool known = projections::FindReferenceArea(code) != nullptr;
    projector_->Read([&](const projections::ReadModel& m) {
      known = known || m.areas().Find(code).has_value();
    });
    return known;
  };
  // A cached answer for the key view_query() set, if any.
  auto cached = [&]() -> bool {
    std::optional<std::string> body = cache_->Get(cache_key);
    if (!body) return false;
    HttpResponse r;
    r.body = std::move(*body);
    done(std::move(r));
    return true;
  };

  switch (route.id) {
    case RouteId::kOpenApi: {
      HttpResponse r;
      r.body = std::string(OpenApiDocument());
      return done(std::move(r));
    }
    case RouteId::kDashboard:
    case RouteId::kWebAsset: {
      std::optional<HttpResponse> page =
          WebAsset(route.id == RouteId::kDashboard ? "index.html" : route.param);
      if (!page) return done(Problem(404, "no dashboard file " + route.param.substr(0, 100)));
      return done(std::move(*page));
    }
    case RouteId::kMetrics: {
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = MetricsText();
      return done(std::move(r));
    }
    case RouteId::kHealth: {
      json::object o{{"status", "ok"}, {"size", ledger_->Size()},
                     {"projections_applied", projector_->applied()}};
      return done(Json(200, o));
    }
    case RouteId::kFeed: {
      const uint64_t after = params.Uint("after", UINT64_MAX / 2).value_or(0);
      const uint64_t limit = params.Uint("limit", 10000, 1).value_or(1000);
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      HttpResponse r;
      r.headers.emplace_back("Cache-Control", "no-store");
      r.stream = FeedStream(ledger_, after, limit);
      return done(std::move(r));
    }
    case RouteId::kReferral: {
      projections::ViewQuery q;
      if (auto as_of = PeriodQuery(params); as_of.as_of_seq || as_of.as_of_time || as_of.at) {
        q.as_of_seq = as_of.as_of_seq;
        q.as_of_time = as_of.as_of_time;
        q.at = as_of.at;
      }
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      if (Result<ledger::StreamInfo> s = VisibleStream(*ledger_, *cred, route.param); !s.ok()) {
        return done(ProblemFor(s.status()));
      }
      projector_->WaitFor(ledger_->Size(), options_.projection_wait);
      Result<json::object> view = projector_->Referral(route.param, q);
      if (!view.ok()) return done(ProblemFor(view.status()));
      // Person-level data: never kept by a cache on the way.
      no_store = true;
      return respond(std::move(view));
    }
    case RouteId::kAreaFairness:
    case RouteId::kAreaWaits: {
      if (!ledger::CheckAreaCode(route.param).empty()) {
        return done(Problem(404, "no area " + route.param));
      }
      Result<projections::ViewQuery> q = view_query();
      if (!q.ok()) return done(ProblemFor(q.status()));
      if (cached()) return;
      q->area = route.param;
      Result<projections::ViewParams> resolved = projector_->Resolve(*q);
      if (!resolved.ok()) return done(ProblemFor(resolved.status()));
      if (!area_known(route.param)) return done(Problem(404, "no area " + route.param));
      return respond(route.id == RouteId::kAreaFairness ? projector_->Fairness(*q)
                                                        : projector_->WaitingTimes(*q));
    }
    case RouteId::kAreas:
    case RouteId::kFairness:
    case RouteId::kWaits:
    case RouteId::kRefusals: {
      Result<projections::ViewQuery> q = view_query();
      if (!q.ok()) return done(ProblemFor(q.status()));
      // An area filter names a known area, as an area's own routes do.
      if (q->area && !area_known(*q->area)) return done(Problem(404, "no area " + *q->area));
      if (cached()) return;
      switch (route.id) {
        case RouteId::kAreas: return respond(projector_->Areas(*q));
        case RouteId::kFairness: return respond(projector_->Fairness(*q));
        case RouteId::kWaits: return respond(projector_->WaitingTimes(*q));
        default: return respond(projector_->Refusals(*q));
      }
    }
    case RouteId::kMe: {
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      json::array areas, providers;
      for (const std::string& a : cred->areas) areas.push_back(json::value(a));
      for (const std::string& p : cred->providers) providers.push_back(json::value(p));
      return done(Json(200, json::object{{"name", cred->name},
                                         {"role", ToString(cred->role)},
                                         {"actor", cred->Actor()},
                                         {"areas", std::move(areas)},
                                         {"providers", std::move(providers)}}));
    }
    case RouteId::kHead: {
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      Result<ledger::SignedTreeHead> sth = ledger_->SignedHead(ledger_->Size());
      if (!sth.ok()) return done(ProblemFor(sth.status()));
      json::object o = SignedHeadJson(*sth);
      o["public_key_pem"] = ledger_->PublicKeyPem();
      return done(Json(200, o));
    }
    case RouteId::kInclusion: {
      // Seqs start at 1; a seq or size beyond the ledger is not found.
      const auto seq = params.Uint("seq", UINT64_MAX / 2, 1);
      auto size = params.Uint("size", UINT64_MAX / 2, 1);
      if (!seq && !params.HasError("seq")) params.Bad("seq", "is required");
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      if (!size) size = ledger_->Size();
      if (*seq > *size || *size > ledger_->Size()) {
        return done(Problem(404, "no event " + std::to_string(*seq) + " in a ledger of size " +
                                     std::to_string(*size)));
      }
      Result<std::vector<ledger::Hash>> proof = ledger_->InclusionProof(*seq, *size);
      if (!proof.ok()) return done(ProblemFor(proof.status()));
      Result<ledger::SignedTreeHead> sth = ledger_->SignedHead(*size);
      if (!sth.ok()) return done(ProblemFor(sth.status()));
      Result<std::string> bytes = ledger_->GetCanonicalBytes(*seq);
      if (!bytes.ok()) return done(ProblemFor(bytes.status()));
      Result<ledger::Event> event = ledger_->GetEvent(*seq);
      if (!event.ok()) return done(ProblemFor(event.status()));
      ledger::Hash prev{};
      if (*seq > 1) {
        Result<ledger::Event> before = ledger_->GetEvent(*seq - 1);
        if (!before.ok()) return done(ProblemFor(before.status()));
        prev = before->hash;
      }
      json::object o{{"seq", *seq},
                     {"size", *size},
                     {"leaf_index", *seq - 1},
                     {"leaf_hash", ledger::ToHex(ledger::LeafHash(*bytes))},
                     {"audit_path", HashesJson(*proof)},
                     {"tree_head", SignedHeadJson(*sth)},
                     {"prev_hash", ledger::ToHex(prev)},
                     {"hash", ledger::ToHex(event->hash)}};
      // The event's canonical bytes let a client recompute the leaf and the
      // chain link itself; they hold the event's data, so only a credential
      // that may read the event's referral gets them.
      const bool readable = cred->role == Role::kAuditor ||
                            VisibleStream(*ledger_, *cred, event->referral_id).ok();
      HttpResponse r;
      if (readable) {
        o["leaf"] = ledger::ToHex(*bytes);
        r.headers.emplace_back("Cache-Control", "no-store");
      }
      r.body = json::serialize(o);
      return done(std::move(r));
    }
    case RouteId::kConsistency: {
      // Sizes start at 1 (RFC 6962 proves nothing from the empty tree);
      // from after to is malformed; a size beyond the ledger is not found.
      const auto from = params.Uint("from", UINT64_MAX / 2, 1);
      auto to = params.Uint("to", UINT64_MAX / 2, 1);
      if (!from && !params.HasError("from")) params.Bad("from", "is required");
      if (from && to && *from > *to) params.Bad("from", "must not be after to");
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      if (!to) to = ledger_->Size();
      if (*from > *to || *to > ledger_->Size()) {
        return done(Problem(404, "no sizes " + std::to_string(*from) + " to " +
                                     std::to_string(*to) + " in this ledger"));
      }
      Result<std::vector<ledger::Hash>> proof = ledger_->ConsistencyProof(*from, *to);
      if (!proof.ok()) return done(ProblemFor(proof.status()));
      Result<ledger::SignedTreeHead> a = ledger_->SignedHead(*from);
      Result<ledger::SignedTreeHead> b = ledger_->SignedHead(*to);
      if (!a.ok() || !b.ok()) return done(ProblemFor(!a.ok() ? a.status() : b.status()));
      return done(Json(200, json::object{{"from", *from},
                                         {"to", *to},
                                         {"proof", HashesJson(*proof)},
                                         {"from_head", SignedHeadJson(*a)},
                                         {"to_head", SignedHeadJson(*b)}}));
    }
    case RouteId::kSubscribe:  // streamed by the server
    case RouteId::kAppend:
    case RouteId::kBatch:
      break;
  }
  done(Problem(500, "unrouted request"));
}

namespace internal {
extern const char kOpenApiJson[];
extern const char kWebIndexHtml[];
extern const char kWebAppJs[];
extern const char kWebAppCss[];
extern const char kWebVerifyJs[];
}  // namespace internal

std::optional<HttpResponse> Service::WebAsset(std::string_view file) {
  struct Asset {
    std::string_view name, content_type;
    const char* body;
  };
  static constexpr Asset kAssets[] = {
      {"index.html", "text/html; charset=utf-8", internal::kWebIndexHtml},
      {"app.js", "text/javascript; charset=utf-8", internal::kWebAppJs},
      {"app.css", "text/css; charset=utf-8", internal::kWebAppCss},
      {"verify.js", "text/javascript; charset=utf-8", internal::kWebVerifyJs},
  };
  for (const Asset& a : kAssets) {
    if (a.name != file) continue;
    HttpResponse r;
    r.content_type = std::string(a.content_type);
    r.body = a.body;
    // The page may load and call nothing but this server: no CDN, no fonts
    // or scripts from elsewhere, no framing by other sites.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  return std::nullopt;
}

std::vector<std::string> Service::RouteTemplates() {
  std::vector<std::string> out;
  for (int i = 0; i < kRouteCount; ++i) out.emplace_back(RouteTemplate(static_cast<RouteId>(i)));
  return out;
}

std::string_view Service::OpenApiDocument() { return internal::kOpenApiJson; }

bool Service::IsSubscription(const HttpRequest& request) const {
  std::optional<Target> target = ParseTarget(request.target);
  bool method_ok = true;
  std::optional<Matched> route =
      target ? MatchPath(target->segments, request.method, &method_ok) : std::nullopt;
  return route && method_ok && route->id == RouteId::kSubscribe;
}

std::variant<uint64_t, HttpResponse> Service::StartSubscription(const HttpRequest& request) const {
  Target target = *ParseTarget(request.target);
  Params params(target);
  uint64_t after = params.Uint("after", UINT64_MAX / 2).value_or(0);
  if (!request.last_event_id.empty()) {
    if (std::optional<uint64_t> seq = ParseCount(request.last_event_id)) {
      after = *seq;
    } else {
      params.Bad("Last-Event-ID", "must be the seq of an event");
    }
  }
  if (Status st = params.Finish(); !st.ok()) return ProblemFor(st);
  return after;
}

Result<std::string> Service::NextFrames(uint64_t* cursor, size_t max_bytes) const {
  std::string out;
  const uint64_t size = ledger_->Size();
  // A few events at a time, until the bound is passed or none is left.
  while (*cursor < size && out.size() < max_bytes) {
    const uint64_t upto = std::min(size, *cursor + 64);
    LEDGER_RETURN_IF_ERROR(ledger_->ScanEvents(*cursor, upto, [&](const ledger::Event& e) {
      out += "id: " + std::to_string(e.seq) + "\nevent: " +
             std::string(ledger::ToString(e.type())) + "\ndata: " +
             json::serialize(ledger::EventToJson(e)) + "\n\n";
      return Status::Ok();
    }));
    *cursor = upto;
  }
  return out;
}

}  // namespace api
