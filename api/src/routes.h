// The API's routes: each path and method, the template /metrics labels it
// with, and which roles may ever use it (scope is checked per request).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/access.h"

namespace api {

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
  kDashboard,      // GET /: the dashboard's page
  kWebAsset,       // GET /web/{file}: its script and style sheet
  kLogCheckpoint,  // GET /log/checkpoint: the C2SP checkpoint (SPEC §9)
  kLogTile,        // GET /log/tile/{L}/{N}[.p/{W}]: a hash tile (SPEC §9)
  kLogEntries,     // GET /log/tile/entries/{N}[.p/{W}]: an entry bundle (SPEC §9)
  kReplication,    // GET /v1/replication/events: what a standby copies (replication.h)
  kTrend,          // GET /v1/trend: England's decisions period by period (SPEC §11)
  kAreaTrend,      // GET /v1/areas/{code}/trend: an area's, England's beside
  kAreaReferrals,  // GET /v1/areas/{code}/referrals: the referrals behind a figure
};
constexpr int kRouteCount = static_cast<int>(RouteId::kAreaReferrals) + 1;

// The template of each route, as /metrics labels it.
const char* RouteTemplate(RouteId id);

struct Matched {
  RouteId id;
  std::string param;  // the referral id or area code of the path
};

// The route of a path's segments, or nullopt (404). `method_ok` is false
// when the path exists for another method (405).
std::optional<Matched> MatchPath(const std::vector<std::string>& s, const std::string& method,
                                 bool* method_ok);

// Whether a role may ever use a route; scope is checked later, per request.
bool RoleMay(Role role, RouteId id);

// Whether a route needs a credential: liveness, metrics, the API's own
// description and the dashboard's files do not.
bool NeedsCredential(RouteId id);

}  // namespace api
