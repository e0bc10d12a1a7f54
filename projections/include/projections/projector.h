// The projection runner (SPEC §7): keeps the read model in step with the
// ledger, checkpoints it, and answers the views.
//
// The read model lives in memory. Its records are also written to the
// ledger's view store "views", in chunks, each chunk in the same atomic write
// as the checkpoint (the seq it reflects), so a crash never leaves the stored
// state ahead of or behind its checkpoint. On open the stored chunks are
// reloaded and the runner catches up from the checkpoint; a store that is
// missing or does not decode is rebuilt from seq 1. Rebuilding and following
// apply the same records in the same seq order, so they give the same views,
// byte for byte.
//
// Thread safety: every method may be called from any thread. Views read the
// model under a shared lock; the runner takes it exclusively for each chunk.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>

#include "ledger/ledger.h"
#include "projections/model.h"
#include "projections/views.h"

namespace projections {

struct ProjectorOptions {
  // The ledger view store that holds the checkpointed model.
  std::string store_name = "views";
  // Most events applied and checkpointed in one write.
  size_t chunk_events = 16384;
  // Another store to hold it instead (a ledger::MemoryViewStore, say), which
  // must outlive the projector; store_name is then unused.
  ledger::ViewStore* store = nullptr;
};

// A view request as the API parses it; Resolve() fills in the defaults.
struct ViewQuery {
  std::optional<int64_t> from_day, to_day;  // days since 1970-01-01
  // as_of: a seq, or a time on recorded_at; neither means the head. A seq
  // beyond the head is the head.
  std::optional<uint64_t> as_of_seq;
  std::optional<ledger::Micros> as_of_time;
  // Open pathways' moment; default: `to` at 00:00Z, else the recorded_at of
  // the as_of event.
  std::optional<ledger::Micros> at;
  std::optional<std::string> area;
  std::optional<ledger::RefusalReason> reason;
  std::optional<ledger::RefusalStage> stage;
  TrendInterval interval = TrendInterval::kQuarter;  // trends only
  // Referral lists only.
  ListFigure figure = ListFigure::kReferrals;
  std::optional<std::string> after;
  size_t limit = 100;
};

class Projector {
 public:
  // Loads the checkpointed model of `ledger` (which must outlive the
  // projector), without catching up: call Start() or CatchUp().
  static ledger::Result<std::unique_ptr<Projector>> Open(ledger::Ledger* ledger,
                                                         ProjectorOptions options = {});
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // Starts the runner thread: it catches up, then applies each durable
  // append as the ledger reports it.
  void Start();
  // Applies and checkpoints every durable event not yet applied.
  ledger::Status CatchUp();
  // Drops the model and its checkpoint and replays the ledger from seq 1.
  ledger::Status Rebuild();

  // The seq the model reflects.
  uint64_t applied() const { return applied_.load(std::memory_order_acquire); }
  // The seq of the stored checkpoint.
  ledger::Result<uint64_t> Checkpoint() const;
  // Waits until applied() >= seq; false on timeout.
  bool WaitFor(uint64_t seq, std::chrono::milliseconds timeout) const;

  // The query with as_of resolved to a seq (at most applied()) and `at` set.
  ledger::Result<ViewParams> Resolve(const ViewQuery& query) const;

  // Each view as the ledger stood at the query's as_of (views.h).
  ledger::Result<FairnessReport> Fairness(const ViewQuery& query) const;
  ledger::Result<WaitingTimesReport> WaitingTimes(const ViewQuery& query) const;
  ledger::Result<RefusalsReport> Refusals(const ViewQuery& query) const;
  ledger::Result<AreasReport> Areas(const ViewQuery& query) const;
  // kInvalidArgument (naming `from`, `to`) without both bounds, or for
  // more than kMaxTrendPeriods periods.
  ledger::Result<TrendReport> Trend(const ViewQuery& query) const;
  // REQUIRES: query.area.
  ledger::Result<ReferralListReport> ReferralList(const ViewQuery& query) const;
  // kNotFound when the referral has no event within as_of.
  ledger::Result<ReferralReport> Referral(std::string_view referral_id,
                                          const ViewQuery& query) const;

  // Runs fn on the model under the shared lock.
  void Read(const std::function<void(const ReadModel&)>& fn) const;

 private:
  Projector(ledger::Ledger* ledger, ledger::ViewStore* store, ProjectorOptions options);
  ledger::Status Load();
  ledger::Status CatchUpLocked();  // REQUIRES: catchup_mu_ held
  // Applies the events scan(apply) gives, which must end at seq `upto`,
  // then stores them with the checkpoint. REQUIRES: catchup_mu_ held.
  using ApplyFn = std::function<ledger::Status(const ledger::EventBrief&)>;
  ledger::Status ApplyChunk(uint64_t upto,
                            const std::function<ledger::Status(const ApplyFn&)>& scan);
  void Run();
  // view(model, params) under the shared lock, the query resolved.
  template <typename Report>
  ledger::Result<Report> View(const ViewQuery& query,
                              Report (*view)(const ReadModel&, const ViewParams&)) const;

  ledger::Ledger* ledger_;
  ledger::ViewStore* store_;
  const ProjectorOptions options_;

  mutable std::shared_mutex model_mu_;
  ReadModel model_;
  std::atomic<uint64_t> applied_{0};

  // Serialises catching up. Records applied but not yet stored (a failed
  // write) wait in pending_, so the stored chunks never have a gap.
  std::mutex catchup_mu_;
  std::string pending_;
  uint64_t pending_first_ = 0;

  mutable std::mutex wait_mu_;
  mutable std::condition_variable applied_cv_;

  // Shared with the ledger listener, which may outlive the projector.
  struct Wake {
    std::mutex mu;
    std::condition_variable cv;
    bool signalled = false;
    bool stopping = false;
  };
  std::shared_ptr<Wake> wake_ = std::make_shared<Wake>();
  std::thread runner_;
};

}  // namespace projections
