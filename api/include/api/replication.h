// Standbys (docs/OPERATIONS.md, "Standbys and failover"): one writer, the
// primary; standbys that copy its events byte for byte, verify each
// against the primary's signed checkpoints, and serve every read.
//
// The standby pulls: GET /v1/replication/events?after=N&wait_ms=W&standby=URL
// (a regulator's or auditor's credential of the primary) answers the events
// after N (as the feed writes them) and the primary's checkpoint of the
// tree they end, waiting up to W ms for one when there is none. Asking for
// the events after N says the standby holds N durably: that is how the
// primary learns what each standby named by --standby confirmed.
//
// On the primary, ReplicationHub holds what the standbys confirmed, parks
// the requests that wait for events, and holds back what depends on a
// standby: in `sync` mode the acknowledgement of an append until a standby
// confirmed it (a 503 after `sync_wait`), and in both modes the checkpoint
// it publishes (a tree no standby holds whole is not published).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/status.h"
#include "ledger/view_store.h"

namespace api {

enum class ReplicationMode { kAsync, kSync };

struct ReplicationOptions {
  // The standbys whose confirmations count (ledgerd --standby URL), each
  // as it names itself in its requests (its --advertise URL).
  std::vector<std::string> standbys;
  // A standby bound to its credential (ledgerd --standby NAME=URL): only
  // that credential's requests confirm for it. Unbound, any regulator's or
  // auditor's credential that names the URL does.
  std::map<std::string, std::string> credential_of;  // URL -> credential name
  ReplicationMode mode = ReplicationMode::kSync;
  // How long a sync append waits for a standby's confirmation before it is
  // answered 503 (it is durable on the primary all the same).
  std::chrono::milliseconds sync_wait{2000};
  // Fencing: how often each named standby's /healthz is asked whether it
  // has been promoted (0: never), and the CA for https standbys.
  std::chrono::milliseconds fence_interval{2000};
  std::string ca_file;
};

// What /metrics and /healthz show of one standby.
struct StandbyConfirmation {
  std::string url;
  uint64_t confirmed = 0;                      // the size it holds durably, as it last said
  std::chrono::steady_clock::time_point at{};  // when it last asked
};

class ReplicationHub {
 public:
  ReplicationHub(ledger::Ledger* ledger, ReplicationOptions options);
  ~ReplicationHub();

  // Calls `ready` (on the hub's thread) once the ledger holds an event
  // after `after`, or once `wait` has passed.
  void WaitForEvents(uint64_t after, std::chrono::milliseconds wait, std::function<void()> ready);
  // A standby that calls itself `url` holds `size` events durably, says
  // the credential named `credential`. Ignored unless `url` is one of
  // options.standbys and, when it is bound, `credential` is its own.
  void Confirm(const std::string& url, uint64_t size, const std::string& credential);
  // Calls `done(true)` once a named standby confirmed `seq`, or
  // `done(false)` after options.sync_wait; at once with true in async
  // mode.
  void WaitForStandby(uint64_t seq, std::function<void(bool)> done);

  // The largest tree a named standby holds whole: what may be published.
  uint64_t ReplicatedSize() const;
  // Fencing: asks each named standby's /healthz once whether it is now a
  // primary (a promoted standby); once one says so, this ledger is a former
  // primary and takes no appends until it is restarted as a standby.
  // The hub asks every options.fence_interval on its own as well.
  void ProbeStandbys();
  // The promoted standby's URL, once one was seen.
  std::optional<std::string> FencedBy() const;

  // Terms: a ledger that never was a standby is in term 0; a standby
  // promoted takes the term after its primary's. A primary is fenced only
  // by a promoted standby of a later term than its own, so a new primary
  // that names its former primary as its standby is not fenced by it.
  // Kept in the ledger's "replication" view store.
  uint64_t term() const;
  // The promotion of a standby whose primary was in `primary_term`.
  ledger::Status Promote(uint64_t primary_term);
  bool Named(const std::string& url) const;
  std::vector<StandbyConfirmation> Confirmations() const;
  const ReplicationOptions& options() const { return options_; }

 private:
  struct EventWaiter {
    uint64_t after;
    std::chrono::steady_clock::time_point deadline;
    std::function<void()> ready;
  };
  struct AckWaiter {
    uint64_t seq;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(bool)> done;
  };
  void Run();

  ledger::Ledger* ledger_;
  ReplicationOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<EventWaiter> events_;
  std::vector<AckWaiter> acks_;
  std::map<std::string, StandbyConfirmation> confirmed_;
  // The ledger's listener outlives the hub: it reaches the hub only
  // through this, which the hub clears when it goes.
  struct Wake;
  std::shared_ptr<Wake> wake_;
  std::optional<std::string> fenced_by_;
  ledger::ViewStore* store_ = nullptr;  // the "replication" view store
  uint64_t term_ = 0;
  std::thread thread_;
  std::thread fence_thread_;
};

// ---------------------------------------------------------------------------
// The standby side: ledgerd --standby-of URL --token T.

struct StandbyOptions {
  std::string primary;  // http[s]://HOST[:PORT] of the primary
  std::string token;    // a regulator's or auditor's credential there
  // How this standby names itself to the primary: one of the primary's
  // --standby URLs, for its confirmations to count there. Empty: it copies
  // all the same, as a read replica the primary does not wait for.
  std::string advertise;
  std::string ca_file;  // for an https primary; empty: the system's roots
  // This ledger's own term (ReplicationHub::term). A ledger that was
  // promoted once (term > 0) copies only from a primary of its term or a
  // later one: restarted by mistake as a standby of the former primary it
  // replaced (a stale --standby-of), it stops instead of copying.
  uint64_t own_term = 0;
  std::chrono::milliseconds wait{1000};  // each request's long poll
  std::chrono::milliseconds retry{500};  // after a failure to reach it
};

// What a standby shows of itself (/healthz, /metrics).
struct StandbyState {
  uint64_t copied = 0;        // events it holds
  uint64_t primary_size = 0;  // the primary's size, as last seen
  uint64_t primary_term = 0;  // the primary's term (ReplicationHub::term)
  bool stopped = false;       // at an event or checkpoint that did not verify
  std::string error;          // why it stopped, or the last failure to reach
};

class Standby {
 public:
  // kInvalidArgument for a primary that is not an http(s) URL.
  static ledger::Result<std::unique_ptr<Standby>> Open(ledger::Ledger* ledger,
                                                       StandbyOptions options);
  ~Standby();
  void Start();
  void Stop();
  StandbyState State() const;
  const StandbyOptions& options() const { return options_; }

 private:
  Standby(ledger::Ledger* ledger, StandbyOptions options);
  void Run();
  // One request's worth of copying; a status that is not OK and not
  // kIOError stops the standby (it did not verify).
  ledger::Status CopyOnce();

  ledger::Ledger* ledger_;
  StandbyOptions options_;
  struct Peer;
  std::unique_ptr<Peer> peer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  StandbyState state_;
  std::thread thread_;
};

}  // namespace api
