// The ledger's witness client (SPEC §9, c2sp.org/tlog-witness): it submits
// the ledger's checkpoints to the witnesses the operator names, and
// publishes only a checkpoint that a quorum of them cosigned.
//
// At most once per interval, and only when the tree grew past what is
// published, one round: the checkpoint of the durable size goes to every
// witness at once (old size, consistency proof from it, checkpoint). A 409
// names the size the witness holds: the round proves again from there. A
// returned cosignature is checked (cosignature/v1, the witness's key) before
// it is kept. What each witness cosigned, and the published checkpoint, are
// kept in the ledger's "witnesses" store, so a restart resumes from them.
//
// A witness that is down or slow delays publication only: appends never
// wait for a round.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "ledger/status.h"

namespace api {

struct WitnessConfig {
  std::string name;  // how logs and metrics call it
  std::string url;   // the submission prefix, http or https: POST <url>/add-checkpoint
  std::string vkey;  // its cosigner key (type 0x04)
};
// "NAME,URL,VKEY" (ledgerd --witness); kInvalidArgument naming what is wrong.
ledger::Result<WitnessConfig> ParseWitness(std::string_view flag);

struct WitnessOptions {
  std::vector<WitnessConfig> witnesses;
  size_t quorum = 0;  // 0: every witness named
  std::chrono::milliseconds interval{1000};
  // Each submission's whole exchange, connection included.
  std::chrono::milliseconds timeout{5000};
  // The CA (PEM) that https witnesses' certificates are checked against;
  // empty: the system's trusted roots.
  std::string ca_file;
  // When set, the largest tree that may be sent (a primary's: what a
  // standby holds whole, ReplicationHub::ReplicatedSize).
  std::function<uint64_t()> size_limit;
};

// What /metrics shows of one witness.
struct WitnessStatus {
  std::string name;
  uint64_t cosigned_size = 0;  // the largest size it cosigned for us
  uint64_t failures = 0;       // submissions that gave no valid cosignature
  std::string last_error;      // why the latest failure failed ("" after a success)
};

class Witnesses {
 public:
  // Reads the kept state; kInvalidArgument for a bad key, a duplicate name
  // or a quorum above the number of witnesses.
  static ledger::Result<std::unique_ptr<Witnesses>> Open(ledger::Ledger* ledger,
                                                         WitnessOptions options);
  ~Witnesses();  // Stop()

  // Starts the rounds on a thread of its own.
  void Start();
  void Stop();

  // The latest checkpoint with the quorum, its witnesses' cosignature lines
  // appended; nullopt when there is none yet.
  std::optional<std::string> Published() const;
  uint64_t PublishedSize() const;
  std::vector<WitnessStatus> States() const;
  size_t quorum() const { return quorum_; }
  const std::vector<WitnessConfig>& configs() const { return options_.witnesses; }

  // One round now (what the thread does each interval): for tests and for
  // the thread. True when it published a new checkpoint.
  bool RunRound();

 private:
  struct Peer;
  Witnesses(ledger::Ledger* ledger, WitnessOptions options);
  // Submits `checkpoint` (of `size`) to one witness: its cosignature line,
  // or nullopt (the failure counted).
  std::optional<std::string> Submit(Peer& peer, uint64_t size, const std::string& checkpoint);
  void Run();

  ledger::Ledger* ledger_;
  WitnessOptions options_;
  size_t quorum_ = 0;
  ledger::ViewStore* store_ = nullptr;
  std::vector<std::unique_ptr<Peer>> peers_;
  mutable std::mutex mu_;  // guards published_ and the peers' status
  std::string published_;
  uint64_t published_size_ = 0;
  std::mutex round_mu_;  // one round at a time
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace api
