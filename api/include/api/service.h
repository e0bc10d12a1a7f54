// The HTTP API of SPEC §6 without HTTP types: requests and responses are
// plain structs, so every route is tested without a socket too and the
// server (server.h) only moves bytes.
//
// Order of checks (SPEC §8): 401 (no or unknown credential), 403 (a role
// that may never use the route), 413 (body over 1 MiB), 415 (not JSON), 400
// (JSON, then fields, every bad one named), 403 (an area or provider outside
// the credential's scope), 409, 422. A rejected request appends nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "api/access.h"
#include "api/http.h"
#include "api/oidc.h"
#include "ledger/ledger.h"
#include "projections/projector.h"

namespace boost::json {
class object;
}

namespace api {

class AppendLimiter;   // append_limiter.h
class ReplicationHub;  // replication.h
class Standby;         // replication.h
class RequestMetrics;  // metrics.h
class ViewCache;       // view_cache.h
class Witnesses;       // witnesses.h

struct ServiceOptions {
  // Events each writing credential may append per second, with bursts of up
  // to append_burst (a token bucket); over it, 429 with Retry-After. An
  // append-only store cannot take back what a runaway or hostile client
  // wrote. 0 turns the limit off. A burst below a batch's 1,000 events would
  // refuse every full batch, so it is at least that.
  double append_rate = 1000;
  double append_burst = 10000;
  // How long a view waits for the projections to reach the ledger's head, so
  // a client reads its own writes; after it, the view answers as of what the
  // projections hold (and says so in as_of_seq).
  std::chrono::milliseconds projection_wait{2000};
  // Answers of aggregate views kept for repeated requests (0: none). A key
  // is the request target and the seq the projections reflect, so a new
  // event makes every earlier answer stale.
  size_t view_cache_entries = 512;
  // Full tiles kept in memory once read (they never change): hash tiles
  // (8 KiB each) and entry bundles (256 events each, tens of KiB).
  size_t hash_tile_cache_entries = 4096;
  size_t entry_bundle_cache_entries = 256;
  // When set, GET /log/checkpoint serves the latest checkpoint its witnesses'
  // quorum cosigned (503 until there is one), and /metrics shows each
  // witness (SPEC §9). Not owned; outlives the service.
  const Witnesses* witnesses = nullptr;
  // On a primary with standbys: what they confirmed holds back sync
  // appends' answers and the checkpoint published. Not owned.
  ReplicationHub* replication = nullptr;
  // On a standby: appends are 503 naming the primary, and /healthz and
  // /metrics show the copying. Not owned.
  const Standby* standby = nullptr;
};

class Service {
 public:
  Service(ledger::Ledger* ledger, projections::Projector* projector, TokenStore tokens,
          ServiceOptions options = {});
  ~Service();

  // The checks that need only the request line and headers: 401, 403 for
  // the role, 404/405 for the route, 413, 415. A response means "answer this
  // and do not read the body".
  std::optional<HttpResponse> Precheck(const HttpRequest& request) const;
  // Answers a whole request (Precheck included). `done` is called once,
  // perhaps on another thread (an append completes on the ledger's commit
  // thread).
  void Handle(HttpRequest request, std::function<void(HttpResponse)> done) const;

  // GET /v1/events/subscribe streams server-sent events; the server asks
  // these three. True for a subscription request.
  bool IsSubscription(const HttpRequest& request) const;
  // The seq a subscription starts after (Last-Event-ID wins over ?after=),
  // or the problem to answer instead. REQUIRES: Precheck passed.
  std::variant<uint64_t, HttpResponse> StartSubscription(const HttpRequest& request) const;
  // The frames ("id: SEQ\nevent: TYPE\ndata: JSON\n\n") of the durable
  // events after *cursor, which moves past them, stopping once about
  // `max_bytes` are made.
  ledger::Result<std::string> NextFrames(uint64_t* cursor, size_t max_bytes) const;

  // Every route the service answers, as "METHOD /path/{param}".
  static std::vector<std::string> RouteTemplates();
  // The OpenAPI 3.1 document served at /v1/openapi.json (api/openapi.json).
  static std::string_view OpenApiDocument();
  // A file of the dashboard (api/web/, compiled in) as its answer, with
  // the headers that keep the page to this server's origin; nullopt when
  // there is no such file. Served without a credential: the page asks for
  // a token and sends it with its API calls.
  static std::optional<HttpResponse> WebAsset(std::string_view file);

  // Counts an answered request for /metrics: by route template and status,
  // and its latency in the histogram.
  void Observe(const HttpRequest& request, unsigned status, double millis) const;

  // The credential of a request's bearer token (a token of the tokens file
  // or, with OpenID Connect, a JWT), or why there is none: the detail of
  // the 401.
  Authenticated Authenticate(const HttpRequest& request) const;
  // The credential of a request, or nullptr (for routes that need none, and
  // for logging).
  std::shared_ptr<const Credential> CredentialOf(const HttpRequest& request) const;

  // Takes a new tokens file's credentials (SIGHUP): requests after it are
  // checked against them; a request in flight keeps its credential.
  void ReloadTokens(TokenStore tokens);
  // Takes OpenID Connect settings (at start and on SIGHUP; nullptr: none).
  void ReloadOidc(std::shared_ptr<const OidcVerifier> oidc);
  std::shared_ptr<const OidcVerifier> Oidc() const { return oidc_.load(); }

  // A standby promoted (ledgerd, SIGUSR1): appends are taken from now on,
  // held back by `hub` as a primary's are. REQUIRES: the copier stopped.
  void Promote(ReplicationHub* hub);

  // What GET /healthz answers (and `ledgerctl status`): the ledger's size,
  // role and replication, and the HTTP status (503 for a standby that
  // stopped copying).
  std::pair<unsigned, boost::json::object> Health() const;

 private:
  std::string MetricsText() const;
  // GET /v1/replication/events: the events after `after` (at most
  // `limit`), the ledger's size, and the checkpoint of the tree they end.
  HttpResponse ReplicationAnswer(uint64_t after, uint64_t limit) const;
  // Adds to a view's answer of `size` events the C2SP checkpoint of that
  // size and, with witnesses, the latest witnessed checkpoint and the
  // consistency proof between the two (SPEC §9).
  void AddCheckpoints(uint64_t size, boost::json::object* o) const;
  ledger::Ledger* ledger_;
  projections::Projector* projector_;
  // The credentials in use (a credential of a store is an alias of it, so
  // that a store replaced by a reload lives while a request holds one).
  std::atomic<std::shared_ptr<const TokenStore>> tokens_;
  std::atomic<std::shared_ptr<const OidcVerifier>> oidc_;
  ServiceOptions options_;
  std::unique_ptr<RequestMetrics> metrics_;
  std::unique_ptr<ViewCache> cache_;
  std::unique_ptr<ViewCache> hash_tiles_;
  std::unique_ptr<ViewCache> entry_bundles_;
  std::unique_ptr<AppendLimiter> limiter_;
  // ServiceOptions::standby and ::replication, until a promotion changes them.
  std::atomic<const Standby*> standby_;
  std::atomic<ReplicationHub*> replication_;
};

}  // namespace api
