#include "api/service.h"

#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <memory>
#include <sstream>

#include "answers.h"
#include "api/replication.h"
#include "api/witnesses.h"
#include "append_limiter.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "metrics.h"
#include "projections/areas.h"
#include "request.h"
#include "routes.h"
#include "view_cache.h"
#include "wire/event_json.h"
#include "wire/view_csv.h"
#include "wire/view_json.h"

namespace api {

namespace json = boost::json;
using ledger::Result;
using ledger::Status;

namespace {

// Answers this large or larger are sent gzipped to a client that takes it.
constexpr size_t kGzipFromBytes = 1024;

// The comma-separated members of a header, each trimmed.
std::vector<std::string_view> Members(std::string_view header) {
  std::vector<std::string_view> out;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view m = header.substr(0, comma);
    while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
    while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
    if (!m.empty()) out.push_back(m);
    header = comma == std::string_view::npos ? "" : header.substr(comma + 1);
  }
  return out;
}

// Whether Accept-Encoding takes gzip (RFC 9110 §12.5.3): gzip, x-gzip or
// *, with a weight that is not zero.
bool TakesGzip(std::string_view accept_encoding) {
  for (std::string_view m : Members(accept_encoding)) {
    const size_t semi = m.find(';');
    std::string_view coding = m.substr(0, semi);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view weight = m.substr(semi + 1);
    while (!weight.empty() && weight.front() == ' ') weight.remove_prefix(1);
    // q=0, q=0.0, q=0.000: refused; any other weight takes it.
    if (weight.starts_with("q=") || weight.starts_with("Q=")) {
      weight.remove_prefix(2);
      if (weight.find_first_not_of("0.") == std::string_view::npos) continue;
    }
    return true;
  }
  return false;
}

// Whether If-None-Match names `etag` (weak comparison, RFC 9110 §13.1.2),
// or is "*".
bool HoldsTag(std::string_view if_none_match, std::string_view etag) {
  for (std::string_view m : Members(if_none_match)) {
    if (m == "*") return true;
    if (m.starts_with("W/")) m.remove_prefix(2);
    if (m == etag) return true;
  }
  return false;
}

}  // namespace

Service::Service(ledger::Ledger* ledger, projections::Projector* projector, TokenStore tokens,
                 ServiceOptions options)
    : ledger_(ledger),
      projector_(projector),
      options_(options),
      metrics_(std::make_unique<RequestMetrics>()),
      cache_(std::make_unique<ViewCache>(options.view_cache_entries)),
      hash_tiles_(std::make_unique<ViewCache>(options.hash_tile_cache_entries)),
      entry_bundles_(std::make_unique<ViewCache>(options.entry_bundle_cache_entries)),
      limiter_(std::make_unique<AppendLimiter>(options.append_rate, options.append_burst)),
      standby_(options.standby),
      replication_(options.replication) {
  ReloadTokens(std::move(tokens));
}

void Service::Promote(ReplicationHub* hub) {
  replication_.store(hub);
  standby_.store(nullptr);
}

Service::~Service() = default;

std::pair<unsigned, json::object> Service::Health() const {
  json::object o{{"status", "ok"},
                 {"size", ledger_->Size()},
                 {"projections_applied", projector_->applied()},
                 {"role", standby_.load() ? "standby" : "primary"}};
  if (ReplicationHub* hub = replication_.load()) o["term"] = hub->term();
  unsigned status = 200;
  if (const Standby* standby = standby_.load()) {
    // A standby that stopped copying serves an old ledger: out of a
    // load balancer's pool until someone looks.
    const StandbyState st = standby->State();
    o["primary"] = standby->options().primary;
    o["primary_size"] = st.primary_size;
    if (!st.error.empty()) o["replication_error"] = st.error;
    if (st.stopped) {
      o["status"] = "stopped";
      status = 503;
    }
  }
  if (ReplicationHub* hub = replication_.load(); hub && !hub->options().standbys.empty()) {
    json::array standbys;
    for (const StandbyConfirmation& c : hub->Confirmations()) {
      standbys.push_back(json::object{{"url", c.url}, {"confirmed", c.confirmed}});
    }
    o["standbys"] = std::move(standbys);
    o["replication"] = hub->options().mode == ReplicationMode::kSync ? "sync" : "async";
    if (std::optional<std::string> newer = hub->FencedBy()) {
      o["status"] = "fenced";
      o["promoted_standby"] = *newer;
    }
  }
  return {status, std::move(o)};
}

void Service::ReloadTokens(TokenStore tokens) {
  tokens_.store(std::make_shared<const TokenStore>(std::move(tokens)));
}

void Service::ReloadOidc(std::shared_ptr<const OidcVerifier> oidc) { oidc_.store(std::move(oidc)); }

void Service::Observe(const HttpRequest& request, unsigned status, double millis) const {
  std::optional<Target> target = ParseTarget(request.target);
  bool method_ok = true;
  std::optional<Matched> route =
      target ? MatchPath(target->segments, request.method, &method_ok) : std::nullopt;
  const bool known = route && method_ok;
  const bool appended =
      known && (route->id == RouteId::kAppend || route->id == RouteId::kBatch) && status == 201;
  metrics_->Observe(known ? RouteTemplate(route->id) : "unmatched", status, millis, appended);
}

std::string Service::MetricsText() const {
  std::ostringstream out;
  out << metrics_->Text();
  const uint64_t size = ledger_->Size();
  const uint64_t applied = projector_->applied();
  out << "# HELP ledger_head_size Durable events in the ledger.\n"
      << "# TYPE ledger_head_size gauge\n"
      << "ledger_head_size " << size << "\n"
      << "# HELP ledger_projection_lag_events Events the projections have not applied yet.\n"
      << "# TYPE ledger_projection_lag_events gauge\n"
      << "ledger_projection_lag_events " << (size > applied ? size - applied : 0) << "\n";
  if (options_.witnesses) {
    const std::vector<WitnessStatus> states = options_.witnesses->States();
    out << "# HELP ledger_checkpoint_published_size The size of the checkpoint /log/checkpoint "
           "serves, cosigned by the witnesses' quorum.\n"
        << "# TYPE ledger_checkpoint_published_size gauge\n"
        << "ledger_checkpoint_published_size " << options_.witnesses->PublishedSize() << "\n"
        << "# HELP ledger_witness_cosigned_size The largest size each witness cosigned.\n"
        << "# TYPE ledger_witness_cosigned_size gauge\n";
    for (const WitnessStatus& w : states) {
      out << "ledger_witness_cosigned_size{witness=\"" << w.name << "\"} " << w.cosigned_size
          << "\n";
    }
    out << "# HELP ledger_witness_lag_events Durable events each witness has not cosigned.\n"
        << "# TYPE ledger_witness_lag_events gauge\n";
    for (const WitnessStatus& w : states) {
      out << "ledger_witness_lag_events{witness=\"" << w.name << "\"} "
          << (size > w.cosigned_size ? size - w.cosigned_size : 0) << "\n";
    }
    out << "# HELP ledger_witness_failures_total Submissions that gave no valid cosignature.\n"
        << "# TYPE ledger_witness_failures_total counter\n";
    for (const WitnessStatus& w : states) {
      out << "ledger_witness_failures_total{witness=\"" << w.name << "\"} " << w.failures << "\n";
    }
  }
  if (ReplicationHub* hub = replication_.load(); hub && !hub->options().standbys.empty()) {
    out << "# HELP ledger_standby_lag_events Durable events each named standby has not "
           "confirmed.\n"
        << "# TYPE ledger_standby_lag_events gauge\n";
    for (const StandbyConfirmation& c : hub->Confirmations()) {
      // A label value escapes backslash, quote and newline (the exposition format).
      std::string label;
      for (char ch : c.url) {
        if (ch == '\\' || ch == '"') label += '\\';
        label += ch == '\n' ? std::string("\\n") : std::string(1, ch);
      }
      out << "ledger_standby_lag_events{standby=\"" << label << "\"} "
          << (size > c.confirmed ? size - c.confirmed : 0) << "\n";
    }
  }
  if (const Standby* standby = standby_.load()) {
    const StandbyState st = standby->State();
    out << "# HELP ledger_standby_primary_lag_events Events the primary holds that this standby "
           "has not copied.\n"
        << "# TYPE ledger_standby_primary_lag_events gauge\n"
        << "ledger_standby_primary_lag_events "
        << (st.primary_size > st.copied ? st.primary_size - st.copied : 0) << "\n"
        << "# HELP ledger_standby_stopped 1 when this standby stopped copying at something that "
           "did not verify.\n"
        << "# TYPE ledger_standby_stopped gauge\n"
        << "ledger_standby_stopped " << (st.stopped ? 1 : 0) << "\n";
  }
  return out.str();
}

void Service::AddCheckpoints(uint64_t size, json::object* o) const {
  Result<std::string> checkpoint = ledger_->Checkpoint(size);
  if (!checkpoint.ok()) return;
  (*o)["checkpoint"] = *checkpoint;
  if (!options_.witnesses) return;
  const std::optional<std::string> witnessed = options_.witnesses->Published();
  if (!witnessed) return;
  const uint64_t witnessed_size = options_.witnesses->PublishedSize();
  // From the smaller tree to the larger: the answer's tree is a prefix of
  // the witnessed one, or extends it.
  const uint64_t from = std::min(size, witnessed_size), to = std::max(size, witnessed_size);
  json::array proof;
  if (from > 0 && from < to) {
    Result<std::vector<ledger::Hash>> hashes = ledger_->ConsistencyProof(from, to);
    if (!hashes.ok()) return;
    for (const ledger::Hash& h : *hashes) {
      proof.emplace_back(ledger::note::HashToBase64(h));
    }
  }
  (*o)["witnessed_checkpoint"] = *witnessed;
  (*o)["consistency"] = json::object{{"from", from}, {"to", to}, {"proof", std::move(proof)}};
}

HttpResponse Service::ReplicationAnswer(uint64_t after, uint64_t limit) const {
  const uint64_t size = ledger_->Size();
  uint64_t upto = after + std::min(limit, size - std::min(after, size));
  std::string events;
  ledger::Micros last_recorded = 0;
  auto add = [&](const ledger::Event& e) {
    if (!events.empty()) events += ',';
    events += json::serialize(wire::EventToJson(e));
    last_recorded = e.recorded_at;
    return Status::Ok();
  };
  Status st = ledger_->ScanEvents(after, upto, add);
  // Never half a request: the events of one append (one commit group) share
  // their recorded_at, so the answer goes on while the next event has the
  // last one's. A standby that keeps this answer and nothing after it holds
  // every request whole, or not at all (`limit` is a soft bound).
  while (st.ok() && upto > after && upto < size) {
    Result<ledger::Event> next = ledger_->GetEvent(upto + 1);
    if (!next.ok()) {
      st = next.status();
      break;
    }
    if (next->recorded_at != last_recorded) break;
    st = add(*next);
    ++upto;
  }
  if (!st.ok()) return ProblemFor(st);
  ReplicationHub* hub = replication_.load();
  std::string body = "{\"events\":[" + events + "],\"head\":" + std::to_string(size) +
                     ",\"term\":" + std::to_string(hub ? hub->term() : 0);
  if (upto > after) {
    // The checkpoint of the tree they end, which the standby checks them
    // against before it keeps them.
    Result<std::string> checkpoint = ledger_->Checkpoint(upto);
    if (!checkpoint.ok()) return ProblemFor(checkpoint.status());
    body += ",\"checkpoint\":" + json::serialize(json::value(*checkpoint));
  }
  HttpResponse r;
  r.body = body + "}";
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Authenticated Service::Authenticate(const HttpRequest& request) const {
  std::string_view auth = request.authorization;
  if (auth.empty()) return {nullptr, "a bearer token is required"};
  constexpr std::string_view kBearer = "Bearer ";
  bool bearer = auth.size() > kBearer.size();
  for (size_t i = 0; bearer && i < kBearer.size(); ++i) {
    bearer = std::tolower(static_cast<unsigned char>(auth[i])) ==
             std::tolower(static_cast<unsigned char>(kBearer[i]));
  }
  if (!bearer) return {nullptr, "the Authorization header must be \"Bearer\" and a token"};
  const std::string_view token = auth.substr(kBearer.size());
  std::shared_ptr<const TokenStore> store = tokens_.load();
  if (const Credential* c = store->Authenticate(token)) {
    return {std::shared_ptr<const Credential>(store, c), ""};
  }
  std::shared_ptr<const OidcVerifier> oidc = oidc_.load();
  if (oidc && LooksLikeJwt(token)) return oidc->Verify(token);
  return {nullptr, "the bearer token is not known"};
}

std::shared_ptr<const Credential> Service::CredentialOf(const HttpRequest& request) const {
  return Authenticate(request).credential;
}

std::optional<HttpResponse> Service::Precheck(const HttpRequest& request) const {
  std::optional<Target> target = ParseTarget(request.target);
  bool method_ok = true;
  std::optional<Matched> route;
  if (target) route = MatchPath(target->segments, request.method, &method_ok);
  // 401 comes first (SPEC §8), for a target that does not parse too.
  const bool needs_credential = !route || NeedsCredential(route->id);
  std::shared_ptr<const Credential> cred;
  if (needs_credential) {
    Authenticated auth = Authenticate(request);
    if (!auth.credential) return Problem(401, auth.refusal);
    cred = std::move(auth.credential);
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
  if (route->id == RouteId::kAppend || route->id == RouteId::kBatch) {
    std::string elsewhere;
    if (const Standby* standby = standby_.load()) {
      elsewhere = "this ledger is a standby of " + standby->options().primary;
    } else if (ReplicationHub* hub = replication_.load()) {
      if (std::optional<std::string> newer = hub->FencedBy()) {
        elsewhere = "a standby of this ledger, " + *newer +
                    ", has been promoted: this former primary takes no appends until it is made "
                    "a standby of it";
      }
    }
    if (!elsewhere.empty()) {
      HttpResponse r = Problem(503, elsewhere + "; nothing was appended");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
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
  const std::shared_ptr<const Credential> cred = CredentialOf(request);
  Params params(target);

  // --- appends -------------------------------------------------------------
  if (route.id == RouteId::kAppend || route.id == RouteId::kBatch) {
    if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
    Result<json::value> body = wire::ParseStrictJson(request.body);
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
      Result<ledger::AppendRequest> one = wire::ParseAppendRequest(*body, now, targets);
      if (!one.ok()) return done(ProblemFor(one.status()));
      requests.push_back(std::move(one).value());
    } else {
      Result<std::vector<ledger::AppendRequest>> many =
          wire::ParseBatchRequest(*body, now, targets);
      if (!many.ok()) return done(ProblemFor(many.status()));
      requests = std::move(many).value();
    }
    // The rate limit counts events that could be appended: after 400, before
    // the checks against the ledger.
    if (const double wait = limiter_->Take(cred->Actor(), static_cast<double>(requests.size()));
        wait > 0) {
      HttpResponse r = Problem(429, "this credential may append " +
                                        std::to_string(static_cast<long>(limiter_->rate())) +
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
    ledger_->AppendAsync(
        std::move(requests), std::move(ctx),
        [done, batch, hub = replication_.load()](Result<std::vector<ledger::AppendResult>> r) {
          if (!r.ok()) {
            return done(ProblemFor(batch ? wire::NameEvents(r.status()) : r.status()));
          }
          bool all_replayed = true;
          uint64_t last = 0;
          for (const auto& one : *r) {
            all_replayed = all_replayed && one.replayed;
            last = std::max(last, one.seq);
          }
          const unsigned status = all_replayed ? 200 : 201;
          HttpResponse answer;
          if (!batch) {
            answer = Json(status, AppendResultJson(r->front()));
          } else {
            json::array list;
            for (const auto& one : *r) list.push_back(AppendResultJson(one));
            answer = Json(status, json::object{{"events", std::move(list)}});
          }
          if (!hub) return done(std::move(answer));
          // Sync replication: answered once a standby holds it too.
          hub->WaitForStandby(last, [done, answer = std::move(answer), last](bool held) mutable {
            if (held) return done(std::move(answer));
            HttpResponse r =
                Problem(503, "recorded on the primary up to seq " + std::to_string(last) +
                                 ", but no standby confirmed it in time; sent again with the same "
                                 "Idempotency-Key it is answered as recorded");
            r.headers.emplace_back("Retry-After", "1");
            done(std::move(r));
          });
        });
    return;
  }

  // --- reads ---------------------------------------------------------------
  // The cache key of an aggregate view: the same target over the same
  // projected ledger gives the same answer.
  std::string cache_key;
  bool no_store = false;  // person-level data (SPEC §8)
  // A view as CSV (SPEC §11): ?format=csv, or Accept: text/csv without a
  // format; its file name for a download.
  bool csv = false;
  std::string csv_name;
  auto take_format = [&](std::string name) {
    // Only the characters of codes and referral ids reach the header.
    std::erase_if(name, [](char c) {
      return !std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.';
    });
    csv_name = std::move(name);
    if (std::optional<std::string> f = params.Take("format")) {
      if (*f == "csv") {
        csv = true;
      } else if (*f != "json") {
        params.Bad("format", "must be json or csv");
      }
    } else {
      csv = request.accept.find("text/csv") != std::string::npos;
    }
  };
  // The headers of a view's answer, made or from the cache.
  auto view_headers = [&](HttpResponse* r) {
    if (csv) {
      r->content_type = "text/csv; charset=utf-8; header=present";
      r->headers.emplace_back("Content-Disposition",
                              "attachment; filename=\"" + csv_name + ".csv\"");
    }
    r->headers.emplace_back("Vary", "Accept, Accept-Encoding");
    if (no_store) r->headers.emplace_back("Cache-Control", "no-store");
  };
  // The as_of seq a view was asked at, if any: its answer never changes
  // once that seq is within the ledger.
  std::optional<uint64_t> asked_as_of;
  // A view's kept answer: 304 when the client holds it (If-None-Match),
  // gzipped when the client takes gzip and it is large, with its entity
  // tag and how long a client may keep it (SPEC §11).
  auto send_view = [&](ViewCache::Body a) {
    const bool gzip = a->body().size() >= kGzipFromBytes && TakesGzip(request.accept_encoding) &&
                      !a->Gzipped().empty();
    HttpResponse r;
    view_headers(&r);
    const std::string etag = gzip ? a->gzip_etag() : a->etag();
    r.headers.emplace_back("ETag", etag);
    r.headers.emplace_back("Cache-Control", a->immutable() ? "private, max-age=31536000, immutable"
                                                           : "private, no-cache");
    if (gzip) r.headers.emplace_back("Content-Encoding", "gzip");
    if (HoldsTag(request.if_none_match, etag)) {
      r.status = 304;
      return done(std::move(r));
    }
    r.shared_body = gzip ? std::shared_ptr<const std::string>(a, &a->Gzipped())
                         : std::shared_ptr<const std::string>(a, &a->body());
    done(std::move(r));
  };
  auto respond = [&]<typename Report>(Result<Report> r) {
    if (!r.ok()) return done(ProblemFor(r.status()));
    HttpResponse out;
    if (csv) {
      out.body = wire::ToCsv(*r);
    } else {
      json::object o = wire::ToJson(*r);
      // Every view carries the signed head of the ledger it was computed
      // over, and the C2SP checkpoint of that size tied to the witnessed one.
      Result<ledger::SignedTreeHead> sth = ledger_->SignedHead(r->as_of_seq);
      if (sth.ok()) o["tree_head"] = SignedHeadJson(*sth);
      AddCheckpoints(r->as_of_seq, &o);
      out = Json(200, o);
    }
    if (!cache_key.empty()) {
      auto kept = std::make_shared<const CachedAnswer>(std::move(out.body),
                                                       asked_as_of && *asked_as_of == r->as_of_seq);
      cache_->Put(cache_key, kept);
      return send_view(std::move(kept));
    }
    view_headers(&out);
    done(std::move(out));
  };
  auto view_query = [&]() -> Result<projections::ViewQuery> {
    projections::ViewQuery q = PeriodQuery(params);
    if (route.id == RouteId::kTrend || route.id == RouteId::kAreaTrend) {
      if (q.at) params.Bad("at", "is not a parameter of a trend");
      for (const auto& [bound, given] :
           {std::pair{"from", q.from_day.has_value()}, std::pair{"to", q.to_day.has_value()}}) {
        if (!given && !params.HasError(bound)) params.Bad(bound, "is required for a trend");
      }
      if (auto interval = params.Enum<projections::TrendInterval>("interval")) {
        q.interval = *interval;
      }
    }
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
    cache_key = request.target + "#" + std::to_string(projector_->applied()) + (csv ? "#csv" : "");
    asked_as_of = q.as_of_seq;
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
    ViewCache::Body kept = cache_->Get(cache_key);
    if (!kept) return false;
    send_view(std::move(kept));
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
      auto [status, o] = Health();
      return done(Json(status, o));
    }
    case RouteId::kReplication: {
      const std::optional<uint64_t> after = params.Uint("after", UINT64_MAX / 2);
      if (!after && !params.HasError("after")) params.Bad("after", "is required");
      const uint64_t wait_ms = params.Uint("wait_ms", 30000).value_or(0);
      const uint64_t limit = params.Uint("limit", 10000, 1).value_or(1000);
      const std::string standby = params.Take("standby").value_or("");
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      // Asking for what follows `after` says the standby holds `after`.
      ReplicationHub* hub = replication_.load();
      if (hub && !standby.empty()) hub->Confirm(standby, *after, cred->name);
      auto answer = [this, after = *after, limit, done]() {
        done(ReplicationAnswer(after, limit));
      };
      if (ledger_->Size() > *after || wait_ms == 0 || !hub) return answer();
      hub->WaitForEvents(*after, std::chrono::milliseconds(wait_ms), std::move(answer));
      return;
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
      take_format("referral-" + route.param);
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      if (Result<ledger::StreamInfo> s = VisibleStream(*ledger_, *cred, route.param); !s.ok()) {
        return done(ProblemFor(s.status()));
      }
      projector_->WaitFor(ledger_->Size(), options_.projection_wait);
      // Person-level data: never kept by a cache on the way.
      no_store = true;
      return respond(projector_->Referral(route.param, q));
    }
    case RouteId::kAreaReferrals: {
      if (!ledger::CheckAreaCode(route.param).empty()) {
        return done(Problem(404, "no area " + route.param));
      }
      // The referrals themselves (pseudonymous ids): as for a referral, a
      // partnership sees its own areas' only.
      if (cred->role == Role::kPartnership && !cred->areas.count(route.param)) {
        return done(ProblemFor(
            Status::Forbidden("area " + route.param + " is outside this credential's areas")));
      }
      projections::ViewQuery q = PeriodQuery(params);
      take_format("referrals-" + route.param);
      if (auto figure = params.Enum<projections::ListFigure>("figure")) {
        q.figure = *figure;
      } else if (!params.HasError("figure")) {
        params.Bad("figure", "is required");
      }
      q.reason = params.Enum<ledger::RefusalReason>("reason");
      q.stage = params.Enum<ledger::RefusalStage>("stage");
      const bool refusals = q.figure == projections::ListFigure::kRefused ||
                            q.figure == projections::ListFigure::kOverturnedOnAppeal;
      for (const auto& [name, given] :
           {std::pair{"reason", q.reason.has_value()}, std::pair{"stage", q.stage.has_value()}}) {
        if (given && !refusals && !params.HasError("figure")) {
          params.Bad(name, "narrows the figures refused and overturned_on_appeal only");
        }
      }
      if (std::optional<std::string> after = params.Take("after")) {
        if (std::string problem = ledger::CheckReferralId(*after); !problem.empty()) {
          params.Bad("after", problem);
        }
        q.after = *after;
      }
      q.limit = params.Uint("limit", 1000, 1).value_or(100);
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      projector_->WaitFor(ledger_->Size(), options_.projection_wait);
      no_store = true;  // person-level: never kept by a cache on the way
      q.area = route.param;
      if (Result<projections::ViewParams> r = projector_->Resolve(q); !r.ok()) {
        return done(ProblemFor(r.status()));
      }
      if (!area_known(route.param)) return done(Problem(404, "no area " + route.param));
      return respond(projector_->ReferralList(q));
    }
    case RouteId::kAreaFairness:
    case RouteId::kAreaWaits:
    case RouteId::kAreaTrend: {
      if (!ledger::CheckAreaCode(route.param).empty()) {
        return done(Problem(404, "no area " + route.param));
      }
      take_format((route.id == RouteId::kAreaFairness ? "fairness-"
                   : route.id == RouteId::kAreaWaits  ? "waiting-times-"
                                                      : "trend-") +
                  route.param);
      Result<projections::ViewQuery> q = view_query();
      if (!q.ok()) return done(ProblemFor(q.status()));
      if (cached()) return;
      q->area = route.param;
      Result<projections::ViewParams> resolved = projector_->Resolve(*q);
      if (!resolved.ok()) return done(ProblemFor(resolved.status()));
      if (!area_known(route.param)) return done(Problem(404, "no area " + route.param));
      if (route.id == RouteId::kAreaFairness) return respond(projector_->Fairness(*q));
      if (route.id == RouteId::kAreaTrend) return respond(projector_->Trend(*q));
      return respond(projector_->WaitingTimes(*q));
    }
    case RouteId::kAreas:
    case RouteId::kFairness:
    case RouteId::kWaits:
    case RouteId::kRefusals:
    case RouteId::kTrend: {
      take_format(route.id == RouteId::kAreas      ? "areas"
                  : route.id == RouteId::kFairness ? "fairness"
                  : route.id == RouteId::kWaits    ? "waiting-times"
                  : route.id == RouteId::kTrend    ? "trend"
                                                   : "refusals");
      Result<projections::ViewQuery> q = view_query();
      if (!q.ok()) return done(ProblemFor(q.status()));
      // An area filter names a known area, as an area's own routes do.
      if (q->area && !area_known(*q->area)) return done(Problem(404, "no area " + *q->area));
      if (cached()) return;
      switch (route.id) {
        case RouteId::kAreas:
          return respond(projector_->Areas(*q));
        case RouteId::kFairness:
          return respond(projector_->Fairness(*q));
        case RouteId::kWaits:
          return respond(projector_->WaitingTimes(*q));
        case RouteId::kTrend:
          return respond(projector_->Trend(*q));
        default:
          return respond(projector_->Refusals(*q));
      }
    }
    case RouteId::kMe: {
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      json::array areas, providers;
      for (const std::string& a : cred->areas) areas.push_back(json::value(a));
      for (const std::string& p : cred->providers) providers.push_back(json::value(p));
      json::object me{{"name", cred->name},
                      {"role", ToString(cred->role)},
                      {"actor", cred->Actor()},
                      {"areas", std::move(areas)},
                      {"providers", std::move(providers)}};
      // Signed in through an identity provider: which one.
      if (!cred->issuer.empty()) me["issuer"] = cred->issuer;
      return done(Json(200, std::move(me)));
    }
    case RouteId::kHead: {
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      Result<ledger::SignedTreeHead> sth = ledger_->SignedHead(ledger_->Size());
      if (!sth.ok()) return done(ProblemFor(sth.status()));
      json::object o = SignedHeadJson(*sth);
      o["public_key_pem"] = ledger_->PublicKeyPem();
      o["origin"] = ledger_->origin();
      o["vkey"] = ledger_->VerifierKey();
      // Every key the ledger has signed with and the size each signs from:
      // a checkpoint signed by an earlier key is the ledger's up to the next
      // key's from_size only.
      json::array keys;
      for (const ledger::SigningKeyPeriod& k : ledger_->KeyHistory()) {
        keys.push_back(
            json::object{{"from_size", k.from_size},
                         {"vkey", ledger::note::VerifierKey(ledger_->origin(), k.public_key)}});
      }
      o["keys"] = std::move(keys);
      if (options_.witnesses) {
        // Whom /log/checkpoint's cosignatures come from, to compare with
        // the keys a reader holds.
        json::array named;
        for (const WitnessConfig& w : options_.witnesses->configs()) {
          named.push_back(json::object{{"name", w.name}, {"vkey", w.vkey}});
        }
        o["witnesses"] = std::move(named);
        o["witness_quorum"] = options_.witnesses->quorum();
      }
      return done(Json(200, o));
    }
    case RouteId::kLogTile:
    case RouteId::kLogEntries: {
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      const std::optional<ledger::tiles::Tile> tile = ledger::tiles::ParsePath(route.param);
      if (!tile)
        return done(Problem(404, "no tile at /log/" + Printable(route.param.substr(0, 100))));
      // A full tile never changes: read once, then served from memory.
      const bool full = tile->width == ledger::tiles::kTileWidth;
      ViewCache& kept = tile->entries ? *entry_bundles_ : *hash_tiles_;
      ViewCache::Body hashes = full ? kept.Get(route.param) : nullptr;
      if (!hashes) {
        Result<std::string> read = ledger_->ReadTile(*tile, ledger_->Size());
        if (!read.ok()) return done(ProblemFor(read.status()));
        hashes = std::make_shared<const CachedAnswer>(std::move(read).value(), full);
        if (full) kept.Put(route.param, hashes);
      }
      HttpResponse r;
      r.content_type = "application/octet-stream";
      // Entry bundles hold person-level events: only caches that the
      // credential's holder controls may keep them.
      const char* audience = tile->entries ? "private" : "public";
      if (tile->width == ledger::tiles::kTileWidth) {
        // A full tile never changes: any cache allowed may keep it for good.
        r.headers.emplace_back("Cache-Control",
                               std::string(audience) + ", max-age=31536000, immutable");
        r.headers.emplace_back("ETag", hashes->etag());
      } else {
        r.headers.emplace_back("Cache-Control", std::string(audience) + ", max-age=1");
      }
      r.shared_body = std::shared_ptr<const std::string>(hashes, &hashes->body());
      return done(std::move(r));
    }
    case RouteId::kLogCheckpoint: {
      if (Status st = params.Finish(); !st.ok()) return done(ProblemFor(st));
      // With witnesses, only what their quorum cosigned is published.
      std::optional<std::string> published;
      if (options_.witnesses && !(published = options_.witnesses->Published())) {
        HttpResponse r =
            Problem(503, "no checkpoint has been cosigned by the witnesses' quorum yet");
        r.headers.emplace_back("Retry-After", "1");
        return done(std::move(r));
      }
      // With standbys, only a tree one of them holds whole.
      const uint64_t size =
          replication_.load() ? replication_.load()->ReplicatedSize() : ledger_->Size();
      Result<std::string> checkpoint =
          published ? Result<std::string>(std::move(*published)) : ledger_->Checkpoint(size);
      if (!checkpoint.ok()) return done(ProblemFor(checkpoint.status()));
      HttpResponse r;
      r.content_type = "text/plain; charset=utf-8";
      // It changes with every append: caches may keep it a moment only.
      r.headers.emplace_back("Cache-Control", "public, max-age=1");
      r.body = std::move(checkpoint).value();
      return done(std::move(r));
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
      const bool readable =
          cred->role == Role::kAuditor || VisibleStream(*ledger_, *cred, event->referral_id).ok();
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
      out += "id: " + std::to_string(e.seq) +
             "\nevent: " + std::string(ledger::ToString(e.type())) +
             "\ndata: " + json::serialize(wire::EventToJson(e)) + "\n\n";
      return Status::Ok();
    }));
    *cursor = upto;
  }
  return out;
}

}  // namespace api
