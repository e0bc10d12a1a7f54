#include "routes.h"

namespace api {

const char* RouteTemplate(RouteId id) {
  switch (id) {
    case RouteId::kAppend:
      return "POST /v1/events";
    case RouteId::kBatch:
      return "POST /v1/events/batch";
    case RouteId::kFeed:
      return "GET /v1/events";
    case RouteId::kSubscribe:
      return "GET /v1/events/subscribe";
    case RouteId::kReferral:
      return "GET /v1/referrals/{id}";
    case RouteId::kAreas:
      return "GET /v1/areas";
    case RouteId::kAreaFairness:
      return "GET /v1/areas/{code}/fairness";
    case RouteId::kAreaWaits:
      return "GET /v1/areas/{code}/waiting-times";
    case RouteId::kFairness:
      return "GET /v1/fairness";
    case RouteId::kWaits:
      return "GET /v1/waiting-times";
    case RouteId::kRefusals:
      return "GET /v1/refusals";
    case RouteId::kHead:
      return "GET /v1/ledger/head";
    case RouteId::kInclusion:
      return "GET /v1/ledger/proof/inclusion";
    case RouteId::kConsistency:
      return "GET /v1/ledger/proof/consistency";
    case RouteId::kMe:
      return "GET /v1/me";
    case RouteId::kHealth:
      return "GET /healthz";
    case RouteId::kMetrics:
      return "GET /metrics";
    case RouteId::kOpenApi:
      return "GET /v1/openapi.json";
    case RouteId::kDashboard:
      return "GET /";
    case RouteId::kWebAsset:
      return "GET /web/{file}";
    case RouteId::kLogCheckpoint:
      return "GET /log/checkpoint";
    case RouteId::kLogTile:
      return "GET /log/tile/{L}/{N}";
    case RouteId::kLogEntries:
      return "GET /log/tile/entries/{N}";
    case RouteId::kReplication:
      return "GET /v1/replication/events";
    case RouteId::kTrend:
      return "GET /v1/trend";
    case RouteId::kAreaTrend:
      return "GET /v1/areas/{code}/trend";
    case RouteId::kAreaReferrals:
      return "GET /v1/areas/{code}/referrals";
  }
  return "other";
}

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
  if (n == 2 && s[0] == "log" && s[1] == "checkpoint") return route(RouteId::kLogCheckpoint, "GET");
  // A hash tile or an entry bundle: the path after "/log/" is checked by
  // tiles::ParsePath.
  if (n >= 4 && s[0] == "log" && s[1] == "tile") {
    std::string tile = "tile";
    for (size_t i = 2; i < n; ++i) tile += "/" + s[i];
    return route(s[2] == "entries" ? RouteId::kLogEntries : RouteId::kLogTile, "GET", tile);
  }
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
  if (n == 4 && a == "areas" && s[3] == "fairness")
    return route(RouteId::kAreaFairness, "GET", s[2]);
  if (n == 4 && a == "areas" && s[3] == "waiting-times")
    return route(RouteId::kAreaWaits, "GET", s[2]);
  if (n == 4 && a == "areas" && s[3] == "trend") return route(RouteId::kAreaTrend, "GET", s[2]);
  if (n == 4 && a == "areas" && s[3] == "referrals") {
    return route(RouteId::kAreaReferrals, "GET", s[2]);
  }
  if (n == 2 && a == "fairness") return route(RouteId::kFairness, "GET");
  if (n == 2 && a == "trend") return route(RouteId::kTrend, "GET");
  if (n == 2 && a == "waiting-times") return route(RouteId::kWaits, "GET");
  if (n == 2 && a == "refusals") return route(RouteId::kRefusals, "GET");
  if (n == 3 && a == "ledger" && s[2] == "head") return route(RouteId::kHead, "GET");
  if (n == 3 && a == "replication" && s[2] == "events") return route(RouteId::kReplication, "GET");
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
    case RouteId::kLogEntries:   // every event, as the feed gives them
    case RouteId::kReplication:  // the same, for a standby
      return role == Role::kRegulator || role == Role::kAuditor;
    case RouteId::kReferral:
      return role != Role::kAuditor;
    case RouteId::kAreas:
    case RouteId::kAreaFairness:
    case RouteId::kAreaWaits:
    case RouteId::kFairness:
    case RouteId::kWaits:
    case RouteId::kRefusals:
    case RouteId::kTrend:
    case RouteId::kAreaTrend:
    case RouteId::kAreaReferrals:  // a partnership's own areas only (service.cc)
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
    case RouteId::kLogCheckpoint:
    case RouteId::kLogTile:
      return true;
  }
  return false;
}

// Liveness and metrics carry no person data and are read by probes.
// The API's own description is public too, and so are the checkpoint and
// the hash tiles: sizes, roots and node hashes, which anyone may check
// (SPEC §9).
bool NeedsCredential(RouteId id) {
  return id != RouteId::kHealth && id != RouteId::kMetrics && id != RouteId::kOpenApi &&
         id != RouteId::kDashboard && id != RouteId::kWebAsset && id != RouteId::kLogCheckpoint &&
         id != RouteId::kLogTile;
}

}  // namespace api
