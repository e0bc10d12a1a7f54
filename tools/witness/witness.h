// A transparency-log witness (c2sp.org/tlog-witness, SPEC §9) that a
// regulator can run itself: it cosigns a log's checkpoint only when it is
// consistent with everything it cosigned of that log before, and keeps the
// evidence of every inconsistent one it refused.
//
// Its directory holds its Ed25519 key (witness.key, created on first use)
// and a RocksDB database (state/) with, per log origin, the latest
// checkpoint it cosigned, and the evidence. Every change is synced before
// the answer that reports it; checking a submission against the state and
// recording it are one step (a mutex), so two submissions cannot roll the
// state back (tlog-witness's race).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/note.h"
#include "ledger/status.h"
#include "ledger/tree_head.h"

namespace rocksdb {
class DB;
}

namespace witness {

struct Options {
  std::string dir;
  // The cosigner's key name: a schema-less URL naming this witness. Kept
  // in the directory at creation; a later open must name the same.
  std::string name;
  // The logs it witnesses: their verifier keys (the key name is the
  // origin). Submissions for any other origin are 404. A log may be named
  // by more than one key: while it rotates its key (docs/OPERATIONS.md,
  // "Key custody"), a checkpoint signed by either is the log's.
  std::vector<std::string> log_keys;
  // POSIX seconds now, for the cosignatures' timestamps and the evidence.
  std::function<uint64_t()> clock;
};

// One add-checkpoint answer: 200 with cosignature lines, or the status of
// tlog-witness (400, 403, 404, 409 with text/x.tlog.size, 422) and a reason.
struct Answer {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// What a refused, inconsistent checkpoint showed: both signed checkpoints.
struct Evidence {
  std::string origin;
  uint64_t received_at = 0;  // POSIX seconds
  std::string reason;
  std::string cosigned;  // the checkpoint this witness had cosigned (signed note)
  std::string refused;   // the submitted checkpoint (signed note)
  uint64_t old_size = 0;
  std::vector<std::string> proof;  // base64 hashes, as submitted
};

// One evidence record as a JSON object (what `ledgerctl witness evidence`
// prints, one a line).
std::string EvidenceJson(const Evidence& evidence);

class Witness {
 public:
  static ledger::Result<std::unique_ptr<Witness>> Open(Options options);
  ~Witness();

  // The cosigner's verifier key ("<name>+<id>+<base64(0x04 || key)>").
  std::string VerifierKey() const;
  // Answers POST <prefix>/add-checkpoint with this body.
  Answer AddCheckpoint(std::string_view body);
  // The latest checkpoint cosigned for `origin` (a signed note), or "".
  ledger::Result<std::string> Latest(std::string_view origin) const;

  // The evidence kept in `dir`, oldest first, read without writing
  // anything (the witness may be running).
  static ledger::Result<std::vector<Evidence>> ReadEvidence(const std::string& dir);
  // The verifier key kept in `dir`, read without writing anything.
  static ledger::Result<std::string> ReadVerifierKey(const std::string& dir);

 private:
  Witness() = default;
  ledger::Status Keep(const Evidence& evidence);

  Options options_;
  std::unique_ptr<ledger::Signer> signer_;
  // The keys of each log, by origin.
  std::map<std::string, std::vector<ledger::note::Verifier>, std::less<>> logs_;
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex mu_;  // one submission at a time: check and record are one step
  uint64_t evidence_count_ = 0;
};

// Serves POST /add-checkpoint on address:port (0: any free port) until
// *stop is set, one thread per connection, keep-alive. `listening` is
// called with the port once it accepts.
ledger::Status Serve(Witness* witness, const std::string& address, uint16_t port,
                     const std::function<bool()>& stop,
                     const std::function<void(uint16_t)>& listening);

}  // namespace witness
