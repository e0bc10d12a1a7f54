#include "api/service.h"

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <algorithm>
#include <cctype>
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
    {415, "unsupported-media-type", "The body must be application/json"},
    {422, "state-violation", "The event breaks the referral's rules"},
    {500, "internal", "Internal error"},
    {503, "unavailable", "The ledger cannot take writes now"},
};

}  // namespace

HttpResponse Problem(unsigned status, const std::string& detail,
                     const std::vector<FieldError>& errors) {
  const ProblemKind* kind = &kProblems[9];  // internal
  for (const ProblemKind& k : kProblems) {
    if (k.status == status) kind = &k;
  }
  json::object o;
  o["type"] = std::string("urn:rehab-access-ledger:problem:") + kind->slug;
  o["title"] = kind->title;
  o["status"] = status;
  o["detail"] = detail;
  if (status == 400 || !errors.empty()) {
    json::array list;
    for (const FieldError& e : errors) list.push_back(json::object{{"field", e.field}, {"message", e.message}});
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

// Why `cred` may not read the referral `view` (its /v1/referrals answer), or
// "" when it may: a partnership reads its areas' referrals (as corrected), a
// provider those offered to or placed with one of its providers.
std::string OutOfScope(const Credential& cred, const json::object& view) {
  if (cred.role == Role::kPartnership &&
      !cred.areas.count(std::string(view.at("area").as_string()))) {
    return "the referral's area is outside the credential's scope";
  }
  if (cred.role == Role::kProvider) {
    for (const json::value& e : view.at("events").as_array()) {
      const json::value* p = e.at("data").as_object().if_contains("provider");
      if (p && p->is_string() && cred.providers.count(std::string(p->as_string()))) return "";
    }
    return "the referral is not with the credential's providers";
  }
  return "";
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

// The scope check of an append (SPEC §8: 403 once the body is read).
Status Authorize(const Credential& c, const ledger::NewEvent& e, const ledger::StreamInfo& s) {
  const ledger::EventType type = ledger::TypeOf(e.data);
  if (c.role == Role::kPartnership) {
    // A new stream's area is the event's own; an unknown referral is left
    // for the 422 that follows.
    if (!s.exists && type != ledger::EventType::kReferralReceived) return Status::Ok();
    if (!c.areas.count(s.area)) {
      return Status::Forbidden("area " + s.area + " is outside the credential's scope");
    }
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
    std::string provider;
    if (const auto* d = std::get_if<ledger::PlacementOffered>(&e.data)) {
      provider = d->provider;
    } else if (const auto* d = std::get_if<ledger::PlacementStarted>(&e.data)) {
      provider = d->provider;
    } else if (type == ledger::EventType::kPlacementEnded) {
      // An unknown referral has no provider yet: left for the 422 that follows.
      if (!s.exists) return Status::Ok();
      provider = s.provider;
    } else {
      return Status::Forbidden("a provider may record only placement.* events, not " +
                               std::string(ledger::ToString(type)));
    }
    if (!c.providers.count(provider)) {
      return Status::Forbidden("provider " + (provider.empty() ? "(none)" : provider) +
                               " is outside the credential's scope");
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
      cache_(std::make_unique<ViewCache>(options.view_cache_entries)) {}

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
    // come with the others' (ParseAppendRequest).
    auto targets = [this](uint64_t seq,
                          std::string_view referral) -> std::optional<ledger::EventType> {
      if (seq > ledger_->Size()) return std::nullopt;
      Result<ledger::Event> e = ledger_->GetEvent(seq);
      return e.ok() ? ledger::CorrectableType(*e, referral) : std::nullopt;
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
    ledger::WriteContext ctx;
    ctx.actor = cred->Actor();
    const Credential credential = *cred;
    ctx.authorize = [credential](const ledger::NewEvent& e, const ledger::StreamInfo& s) {
      return Authorize(credential, e, s);
    };
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
  auto respond = [&](Result<json::object> r) {
    if (!r.ok()) return done(ProblemFor(r.status()));
    // Every view carries the signed head of the ledger it was computed over.
    if (const json::value* seq = r->if_contains("as_of_seq")) {
      Result<ledger::SignedTreeHead> sth = ledger_->SignedHead(seq->to_number<uint64_t>());
      if (sth.ok()) (*r)["tree_head"] = SignedHeadJson(*sth);
    }
    HttpResponse out = Json(200, *r);
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
      Result<std::vector<ledger::Event>> events = ledger_->ReadFeed(after, limit);
      if (!events.ok()) return done(ProblemFor(events.status()));
      json::array list;
      for (const ledger::Event& e : *events) list.push_back(ledger::EventToJson(e));
      const uint64_t next = events->empty() ? after : events->back().seq;
      return done(Json(200, json::object{{"events", std::move(list)},
                                         {"next_after", next},
                                         {"head", ledger_->Size()}}));
    }
    case RouteId::kReferral: {
      projections::ViewQuery q;
      if (auto as_of = PeriodQuery(params); as_of.as_of_seq || as_of.as_of_time || as_of.at) {
        q.as_of_seq = as_of.as_of_seq;
        q.as_of_time = as_of.as_of_time;
        q.at = as_of.at;
      }
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      projector_->WaitFor(ledger_->Size(), options_.projection_wait);
      Result<json::object> view = projector_->Referral(route.param, q);
      if (!view.ok()) return done(ProblemFor(view.status()));
      if (std::string why = OutOfScope(*cred, *view); !why.empty()) {
        return done(Problem(403, why));
      }
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
      bool readable = cred->role == Role::kRegulator || cred->role == Role::kAuditor;
      if (!readable) {
        projector_->WaitFor(ledger_->Size(), options_.projection_wait);
        Result<json::object> view = projector_->Referral(event->referral_id, {});
        readable = view.ok() && OutOfScope(*cred, *view).empty();
      }
      if (readable) o["leaf"] = ledger::ToHex(*bytes);
      return done(Json(200, o));
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
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
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

Result<std::string> Service::NextFrames(uint64_t* cursor, size_t max) const {
  std::string out;
  LEDGER_RETURN_IF_ERROR(
      ledger_->ScanEvents(*cursor, *cursor + max, [&](const ledger::Event& e) {
        out += "id: " + std::to_string(e.seq) + "\nevent: " +
               std::string(ledger::ToString(e.type())) + "\ndata: " +
               json::serialize(ledger::EventToJson(e)) + "\n\n";
        *cursor = e.seq;
        return Status::Ok();
      }));
  return out;
}

}  // namespace api
