// The ledger: a durable, tamper-evident, append-only store of referral events
// (SPEC §3, §5, §7, §8).
//
// Thread safety: every method may be called from any thread at any time.
// Appends are group-committed by one commit thread, which checks and writes
// each group of queued appends while the previous group is being synced by a
// sync thread; one sync covers every group written before it began. An append
// is acknowledged (returns, or calls back) only once its events are synced,
// and readers see only synced events.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ledger/event.h"
#include "ledger/hash.h"
#include "ledger/note.h"
#include "ledger/state_machine.h"
#include "ledger/status.h"
#include "ledger/tiles.h"
#include "ledger/tree_head.h"
#include "ledger/view_store.h"

namespace ledger {

struct LedgerOptions {
  // The server clock: stamps recorded_at and bounds occurred_at (5 minutes
  // ahead at most). Tests replace it.
  std::function<Micros()> clock = NowMicros;
  // Most events one group commit takes from the queue. A request is never
  // split across groups, so a single request may exceed it.
  size_t max_group_events = 16384;
  // RocksDB block cache, bytes.
  size_t block_cache_bytes = 64 << 20;
  // Appends are refused with kResourceExhausted (nothing written) while the
  // filesystem holding the ledger has less free space than this plus twice
  // the group's size, so that a filling disk stops appends before a write
  // can fail half way, and RocksDB keeps room to flush and compact. They
  // resume by themselves once space returns. 0 turns the check off.
  uint64_t min_free_bytes = 256ull << 20;
  // RocksDB's memtable, bytes. Appends reach RocksDB's tables when a
  // memtable fills and is flushed; until then they live in the commit log,
  // which therefore holds about twice this (docs/LEDGER.md).
  size_t write_buffer_bytes = 64 << 20;
  // Size of each commit log file. A file is reused once its events are all
  // in RocksDB's tables; a record larger than this gets a file of its own.
  uint64_t log_segment_bytes = 16 << 20;
  // Commit log records reach the disk by direct writes, each durable on
  // return, where the filesystem allows them; else (or when false) through
  // the page cache and fdatasync (ledger/src/commit_log.h).
  bool direct_log_writes = true;
  // Called on the commit thread just before a group's batch is written to
  // RocksDB's memtable, which happens while the sync thread syncs its
  // commit log record. A seam for tests that hold that moment; unset in
  // service.
  std::function<void()> before_apply;
  // The log's origin (SPEC §9): the first line of its checkpoints and the
  // key name they are signed under. A schema-less URL.
  std::string origin = std::string(note::kDefaultOrigin);
  // Opens an existing ledger to read it, writing nothing in its directory,
  // even while another process (ledgerd) has it open and appends to it: for
  // the investigator's tools (ledgerctl verify, export, replay, diff,
  // timeline), which must neither stop the service nor change what they
  // examine.
  //
  // What it sees: the ledger as it stood at the open, every event that the
  // writer had acknowledged by then included, and fixed from then on (it
  // does not follow later appends). The database is opened as a RocksDB
  // secondary instance (DB::OpenAsSecondary), the mode RocksDB supports
  // beside a live primary that holds the database's LOCK:
  // DB::OpenForReadOnly is undefined behaviour beside a writer (rocksdb/db.h)
  // and Open itself takes the LOCK. A secondary reads the tables the
  // primary's MANIFEST lists and RocksDB's WAL, but the writer puts its
  // events in RocksDB without the WAL: an acknowledged event that RocksDB
  // has not yet flushed to a table lives only in the ledger's commit log
  // (ledger/src/commit_log.h). So the commit log's records after the
  // database's head are read too, into memory, as a writer's open would
  // replay them, but without writing them anywhere. It may also see the
  // events of a record whose sync had not returned at the open (an append
  // about to be acknowledged, which only a power cut at that moment could
  // still undo), never a torn or partial record (each is checksummed), and
  // always a prefix of the ledger: the log is read in seq order up to its
  // first gap. If the writer reused a log file between the database's open
  // and the log's read (a gap with records after it), the open is tried
  // again, a few times, after which it keeps the prefix it read.
  //
  // Nothing in the directory is created, written, renamed or recovered:
  // no signing key is made (kNotFound when there is no ledger), the commit
  // log is not replayed into the database, the brief blocks an older build
  // lacks are not written (reads decode the events instead). RocksDB's own
  // files for the secondary (its info log) go to a temporary directory
  // elsewhere, removed at close. Appends, AppendRecorded and OpenViewStore
  // fail with kForbidden ("the ledger is open read-only"); SignedHead signs
  // a head it has not handed out before without keeping it.
  bool read_only = false;
  // Where the signing key (Ed25519, PEM, 0600) is; empty: in the ledger's
  // directory (SigningKeyPath). Kept apart from the data, the directory
  // holds only the public keys (docs/OPERATIONS.md, "Key custody"). A new
  // ledger makes its key there. A writer opens only with the key that signs
  // now (the last of KeyHistory()); a read-only open without the key
  // verifies all the same, but Checkpoint and SignedHead then fail.
  std::string signing_key_file;
  // Key rotation (writers only): the key at signing_key_file, made there if
  // there is none, signs from the ledger's present size on. Recorded in the
  // key history; the keys before it stay in it, so what they signed stays
  // verifiable, and a head larger than that size signed by an earlier key
  // fails Verify().
  bool adopt_signing_key = false;
};

// One signing key of the ledger's history: it signs heads and checkpoints
// from the tree of `from_size` events on; an earlier key signed those up to
// that size at most.
struct SigningKeyPeriod {
  uint64_t from_size = 0;
  std::string public_key;  // Ed25519, 32 raw bytes
  bool operator==(const SigningKeyPeriod&) const = default;
};

// What a writer's scope check sees of the stream an event goes to, and
// what Ledger::DescribeStream tells of one.
struct StreamInfo {
  bool exists = false;
  uint64_t version = 0;
  ReferralState state = ReferralState::kNone;
  std::string area;      // as corrected; for a new stream, the event's own area
  std::string provider;  // latest offered or started provider; "" if none
  // Its placement events in stream order, each naming its provider as
  // corrected: filled only when asked for (WriteContext::with_placements,
  // DescribeStream's argument), since it reads the stream's events.
  std::vector<Placement> placements;
};

// Who is writing, and what they may write.
struct WriteContext {
  // Recorded as each event's actor ("role:name"). Never taken from the body.
  std::string actor;
  // Optional scope check, run for each event after its fields are valid and
  // before conflicts are checked (SPEC §8's order: 403 before 409 and 422).
  // Return OK to allow, or a kForbidden status to refuse, or kNotFound for a
  // stream the writer may not see: it is then checked as a stream that does
  // not exist (409 for an expected_version other than 0, else 422 "unknown
  // referral"), and a correction's fields are not checked against a target
  // in it, so that its existence shows nowhere. kNotFound is ignored for a
  // referral.received, whose existing stream is a 409 whoever sends it.
  std::function<Status(const NewEvent& event, const StreamInfo& stream)> authorize;
  // Whether authorize needs StreamInfo::placements (reading the stream's
  // events on the commit thread).
  bool with_placements = false;
};

// An event recorded elsewhere, brought in with its own recording: for
// restoring an exported ledger (ledgerctl import --restore) and for loading
// generated history. Only trusted tools use it; the HTTP API never does, so a
// client can never set recorded_at or actor.
struct RecordedRequest {
  AppendRequest request;
  Micros recorded_at = 0;  // when it was recorded
  std::string actor;       // "role:name" of who recorded it
  // A restore names where each event must land: its seq (0: anywhere) and
  // the chain hash it had (unset: not checked).
  uint64_t seq = 0;
  std::optional<Hash> hash;
};

// The outcome of one appended event.
struct AppendResult {
  uint64_t seq = 0;
  uint64_t version = 0;
  Hash hash{};
  Micros recorded_at = 0;
  // True when the idempotency key had been used with the same body: nothing
  // was appended and these are the first append's figures (HTTP 200).
  bool replayed = false;
  bool operator==(const AppendResult&) const = default;
};

// The outcome of Verify().
struct VerifyReport {
  bool ok = true;
  uint64_t events_checked = 0;
  uint64_t signed_heads_checked = 0;
  uint64_t first_bad_seq = 0;  // 0 when ok, or when the fault is not in an event
  std::string problem;         // empty when ok
};

// Receives the outcome of an asynchronous append.
using AppendCallback = std::function<void(Result<std::vector<AppendResult>>)>;

class Ledger {
 public:
  // Opens the ledger in directory `dir`, creating it (and its signing key)
  // when missing. Fails with kIOError or kCorruption when the directory cannot
  // be used. With options.read_only, opens an existing ledger only (kNotFound
  // when `dir` holds none) and writes nothing (LedgerOptions::read_only).
  static Result<std::unique_ptr<Ledger>> Open(const std::string& dir, LedgerOptions options = {});
  // Whether `dir` holds a ledger (its database and public key), looked at
  // without opening it: a read-only tool asks before Open, which would
  // create one.
  static bool Exists(const std::string& dir);
  // The ledger's Ed25519 public key (32 raw bytes) in `dir`, read from its
  // public key file without opening the ledger (it may be running).
  // kNotFound when there is no ledger there.
  static Result<std::string> ReadPublicKey(const std::string& dir);
  // Where the ledger in `dir` keeps its signing key (PEM, 0600) unless
  // LedgerOptions::signing_key_file puts it elsewhere; its public key is
  // there with ".pub" added, wherever the signing key is.
  static std::string SigningKeyPath(const std::string& dir);
  ~Ledger();

  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends `requests` in order, all or nothing, after checking each against
  // the ledger as left by the ones before it. Returns one result per request
  // once every appended event is synced to disk.
  //
  // Checks, in SPEC §8's order, stopping at the first request that fails:
  // field rules (kInvalidArgument, including correction fields that do not fit
  // the target's type), ctx.authorize (kForbidden), idempotency (same key and
  // body: replayed; other body: kStateViolation), a second referral.received
  // or an expected_version mismatch (kConflict), then the state machine, time
  // order and correction targets (kStateViolation). A failure's message names
  // the request's index when there is more than one. Nothing is appended on
  // failure. kResourceExhausted when the disk is full, kIOError on other
  // storage failures.
  Result<std::vector<AppendResult>> Append(std::span<const AppendRequest> requests,
                                           const WriteContext& ctx);
  Result<AppendResult> Append(const AppendRequest& request, const WriteContext& ctx);

  // As Append, without blocking the caller: `done` gets the outcome. It runs
  // on the calling thread for requests whose fields are invalid, else on the
  // ledger's answer thread once the group is durable (or failed); it must be
  // quick and must not wait for another append (it may start one with
  // AppendAsync). `done` and `ctx` are destroyed on that same thread right
  // after `done` returns, so what they hold is released then, not later.
  // ctx.authorize also runs on the commit thread.
  void AppendAsync(std::vector<AppendRequest> requests, WriteContext ctx, AppendCallback done);

  // Appends events recorded elsewhere, all or nothing, with the checks of
  // Append (no scope check), except that each event keeps its recorded_at
  // and actor. Their recorded_at must not decrease, must be no earlier than
  // the ledger's last and no later than the clock, and bounds the event's
  // occurred_at (5 minutes ahead at most) as the clock does for Append: all
  // kInvalidArgument. An event whose seq or chain hash differs from the one
  // it names fails the whole call with kCorruption ("the history was
  // altered"). Never grouped with other appends, so that one altered event
  // leaves nothing written. With `expected_root`, the tree they make must
  // have that root (a checkpoint's), else kCorruption and nothing written:
  // a standby checks what it copies before it keeps it.
  Result<std::vector<AppendResult>> AppendRecorded(std::span<const RecordedRequest> requests,
                                                   std::optional<Hash> expected_root = {});

  // Number of durable events: the seq of the last one, 0 when empty.
  uint64_t Size() const;

  // The event at `seq`; kNotFound beyond Size().
  Result<Event> GetEvent(uint64_t seq) const;
  // The exact stored bytes that `seq`'s chain link and Merkle leaf hash.
  Result<std::string> GetCanonicalBytes(uint64_t seq) const;
  // The events of one referral in version order; kNotFound if it has none.
  Result<std::vector<Event>> ReadStream(std::string_view referral_id) const;
  // What a writer's scope check would see of a referral now (its state,
  // version and area as the ledger has written them, which may include an
  // append whose sync has not returned yet), with its placements when
  // `with_placements`; kNotFound if it has no durable event.
  Result<StreamInfo> DescribeStream(std::string_view referral_id, bool with_placements) const;
  // Up to `limit` events with seq > after, in seq order.
  Result<std::vector<Event>> ReadFeed(uint64_t after, size_t limit) const;
  // Calls fn(event) for each durable event with after < seq <= upto, in seq
  // order, without holding them all. Stops at the first non-OK status fn
  // returns, and returns it.
  Status ScanEvents(uint64_t after, uint64_t upto,
                    const std::function<Status(const Event&)>& fn) const;
  // As ScanEvents, with each event's brief (EventBrief): what aggregate
  // views read, for a reader of every event. Read from the brief blocks (a
  // compact copy of every 1,024 events' briefs, which Verify() checks
  // against the events), else decoded from the events without copying a
  // string. The brief is valid only during fn. Several threads may scan at
  // once (the projections' rebuild reads ranges side by side).
  Status ScanBriefs(uint64_t after, uint64_t upto,
                    const std::function<Status(const EventBrief&)>& fn) const;
  // The largest seq whose recorded_at <= t (0 if none): SPEC §8's as_of time.
  Result<uint64_t> SeqAtTime(Micros t) const;

  // The tree head of the whole ledger, or of its first `size` events.
  TreeHead Head() const;
  Result<TreeHead> HeadAt(uint64_t size) const;
  // The head of the first `size` events, signed. Each signed head is kept,
  // so Verify() can later show it still matches. kNotFound beyond Size().
  Result<SignedTreeHead> SignedHead(uint64_t size) const;
  // Audit path of event `seq` in the tree of the first `size` events.
  Result<std::vector<Hash>> InclusionProof(uint64_t seq, uint64_t size) const;
  // Proof that the tree of `from` events is a prefix of the tree of `to`.
  Result<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to) const;

  // The C2SP checkpoint of the first `size` events (SPEC §9): a signed
  // note of CheckpointText(origin, size, root) under the key name = the
  // origin. kNotFound beyond the durable size.
  Result<std::string> Checkpoint(uint64_t size) const;
  // A tile (c2sp.org/tlog-tiles, ledger/tiles.h) of the tree of the first
  // `size` events, read from what is stored: a hash tile is tile.width
  // hashes of 32 bytes, from the stored nodes (those of the levels not
  // stored, 0 to 3, hashed from the stored events); an entry
  // bundle is tile.width events' canonical bytes, each after its length as a
  // big-endian uint16. kNotFound when the tree of `size` leaves does not hold
  // that many nodes at the tile's level.
  Result<std::string> ReadTile(const tiles::Tile& tile, uint64_t size) const;
  // The signed-note verifier key of the checkpoints ("<origin>+<key id>+...").
  std::string VerifierKey() const;
  const std::string& origin() const;
  const std::string& PublicKey() const;     // Ed25519, 32 raw bytes
  const std::string& PublicKeyPem() const;  // the same, PEM
  // Every key the ledger has signed with, oldest first; the last signs now.
  std::vector<SigningKeyPeriod> KeyHistory() const;

  // Recomputes the hash chain, every Merkle node, every brief block and
  // every signed head from the stored bytes, and checks envelopes (gap-free
  // seq, versions, recorded_at order). Names the first seq that does not match. `on_progress`, when
  // given, is called with the number of events checked so far and the
  // total, every 65,536 events. It checks every event written, including any
  // whose sync has not yet returned while appends go on.
  VerifyReport Verify(
      const std::function<void(uint64_t done, uint64_t total)>& on_progress = nullptr) const;

  // The view store `name` (lower-case letters, digits, '_' and '-'), created
  // when missing: a keyspace of the ledger's database for a projection's
  // state and checkpoint. It belongs to the ledger and must not be used after
  // the ledger is destroyed.
  Result<ViewStore*> OpenViewStore(const std::string& name);

  // Calls `listener(size)` each time the durable size grows, from the thread
  // that made it grow. The listener must be quick and must not append.
  void Subscribe(std::function<void(uint64_t size)> listener);

 private:
  class Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger
