// The ledger's private room: Ledger::Impl and what its parts share. The
// parts live in files of their own: ledger_open.cc (opening, the commit
// log's replay, brief blocks), commit.cc (the commit, sync and answer
// threads), append_rules.cc (the checks each appended event meets, SPEC §8),
// reads.cc (events, streams, heads, proofs, view stores), verify.cc, and
// ledger.cc (the public face). Nothing outside ledger/src includes it.
#pragma once

#include <pthread.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "brief_block.h"
#include "codec.h"
#include "commit_log.h"
#include "key_layout.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/request_digest.h"
#include "rocks_view_store.h"
#include "stream_set.h"

namespace ledger {

using internal::StreamHead;
namespace keys = internal::keys;

namespace internal {
// Writes `contents` to `path` (mode `mode`) through a synced temporary file
// renamed over it (tree_head.cc).
Status WriteFileAtomically(const std::string& path, const std::string& contents, mode_t mode);
}  // namespace internal

// What signing asks of a read-only open that has no signing key.
inline Status NoSigningKey() {
  return Status::InvalidArgument(
      "this read-only open has no signing key: give where it is kept (--signing-key)");
}

// What one group commit has accepted so far but not yet written: read before
// the cache and the database.
struct Overlay {
  std::unordered_map<std::string, StreamHead> streams;
  // keys::IdempotencyScope(actor, key) -> seq, digest
  std::unordered_map<std::string, std::pair<uint64_t, Hash>> idempotency;
  std::vector<Event> events;  // consecutive seqs from first_seq
  uint64_t first_seq = 0;

  const Event* FindEvent(uint64_t seq) const {
    if (events.empty() || seq < first_seq || seq >= first_seq + events.size()) return nullptr;
    return &events[seq - first_seq];
  }
  void MergeFrom(Overlay&& other) {
    // Nodes move across whole (no allocation); a stream already here takes
    // the newer head.
    while (!other.streams.empty()) {
      auto moved = streams.insert(other.streams.extract(other.streams.begin()));
      if (!moved.inserted) moved.position->second = std::move(moved.node.mapped());
    }
    for (auto& [k, v] : other.idempotency) idempotency[k] = v;
    if (events.empty()) first_seq = other.first_seq;
    for (Event& e : other.events) events.push_back(std::move(e));
  }
};

// One append waiting in the commit queue. It owns its requests, since an
// asynchronous caller need not keep them alive.
struct Writer {
  std::vector<AppendRequest> requests;
  WriteContext ctx;
  // For AppendRecorded: each request's own recording, and where it must land.
  // Empty for every other append.
  struct Recording {
    Micros recorded_at = 0;
    std::string actor;
    uint64_t seq = 0;
    std::optional<Hash> hash;
  };
  std::vector<Recording> recorded;
  std::optional<Hash> expected_root;  // AppendRecorded's: the tree's root after them
  AppendCallback done;
  Result<std::vector<AppendResult>> result = Status::Internal("not processed");
};

// A group's batch once it is in the commit log, and the write state after
// it: what the commit thread applies to RocksDB's memtable while the sync
// thread syncs the log (Ledger::Impl::Apply).
struct Logged {
  rocksdb::WriteBatch batch;
  Overlay overlay;  // its events and stream heads
  Hash hash{};      // the chain hash of its last event
  CompactRange tree;
  std::string briefs;      // brief records since the last block boundary
  bool completed = false;  // it completed a brief block
  bool tail_ok = true;
};

// Hands groups from one thread of the commit pipeline to the next, in order.
// The taker takes everything queued at once.
template <typename T>
class Handoff {
 public:
  void Push(T item) {
    {
      std::lock_guard l(mu_);
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
  }
  // Blocks until something is queued or Stop() was called; empty only once
  // stopped with nothing left.
  std::deque<T> TakeAll() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return stopping_ || !items_.empty(); });
    std::deque<T> out;
    out.swap(items_);
    return out;
  }
  void Stop() {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  bool stopping_ = false;
};

class Ledger::Impl {
 public:
  explicit Impl(LedgerOptions options) : options_(std::move(options)) {}
  ~Impl();

  Status Open(const std::string& dir);
  // Whether it was opened read-only (LedgerOptions::read_only): nothing in
  // its directory is written, and every write is refused (ReadOnly()).
  bool read_only() const { return options_.read_only; }
  // The refusal of a write to a ledger opened read-only.
  static Status ReadOnly() {
    return Status::Forbidden("the ledger is open read-only: nothing can be written");
  }
  void AppendAsync(std::vector<AppendRequest> requests, WriteContext ctx, AppendCallback done);
  Result<std::vector<AppendResult>> AppendRecorded(std::span<const RecordedRequest> requests,
                                                   std::optional<Hash> expected_root);
  // Starts the commit, sync and answer threads. REQUIRES: Open() succeeded.
  void Start() {
    answerer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ledger-answer");
      AnswerLoop();
    });
    syncer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ledger-sync");
      SyncLoop();
    });
    committer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ledger-commit");
      CommitLoop();
    });
  }

  uint64_t Size() const { return durable_.load(std::memory_order_acquire); }
  Result<Event> GetEvent(uint64_t seq) const;
  Result<std::string> GetStored(uint64_t seq) const;  // hash || canonical bytes
  Result<std::vector<Event>> ReadStream(std::string_view id) const;
  Result<StreamInfo> DescribeStream(std::string_view id, bool with_placements) const;
  // The stream head as written (it may name events not yet durable);
  // kNotFound "no referral ID" when there is none.
  Result<StreamHead> ReadStoredHead(std::string_view id) const;
  Result<std::vector<Event>> ReadFeed(uint64_t after, size_t limit) const;
  Status ScanEvents(uint64_t after, uint64_t upto,
                    const std::function<Status(const Event&)>& fn) const;
  Status ScanBriefs(uint64_t after, uint64_t upto,
                    const std::function<Status(const EventBrief&)>& fn) const;
  Result<uint64_t> SeqAtTime(Micros t) const;
  Result<ViewStore*> OpenViewStore(const std::string& name);
  TreeHead Head() const;
  Result<TreeHead> HeadAt(uint64_t size) const;
  Result<std::string> ReadTile(const tiles::Tile& tile, uint64_t size) const;
  Result<SignedTreeHead> SignedHead(uint64_t size) const;
  Result<std::vector<Hash>> InclusionProof(uint64_t seq, uint64_t size) const;
  Result<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to) const;
  VerifyReport Verify(const std::function<void(uint64_t, uint64_t)>& on_progress) const;
  void Subscribe(std::function<void(uint64_t)> listener) {
    std::lock_guard l(listeners_mu_);
    listeners_.push_back(std::move(listener));
  }

  // The signing key, or nullptr for a read-only open without it.
  const Signer* signer() const { return signer_.get(); }
  const std::string& public_key() const { return public_key_; }
  const std::string& public_key_pem() const { return public_key_pem_; }
  const std::vector<SigningKeyPeriod>& key_history() const { return key_history_; }
  // Whether `sth` carries a valid signature of a key of the history that
  // signed while the tree could have that size: the key's own, or a later
  // key's re-signing it.
  bool SignedByItsKey(const SignedTreeHead& sth) const;
  // The latest checkpoint signed (size and note): asked for again and again
  // (/log/checkpoint, every view), and Ed25519 signing is deterministic, so
  // it is signed once per size.
  mutable std::mutex checkpoint_mu;
  mutable uint64_t checkpoint_size = UINT64_MAX;
  mutable std::string checkpoint_note;
  const LedgerOptions& options() const { return options_; }

 private:
  // Every read of the database goes through these two: in a read-only open
  // they read the commit log's records that RocksDB's tables do not hold
  // yet (unflushed_) over the database, else the database alone.
  rocksdb::Status DbGet(const rocksdb::ReadOptions& ro, const std::string& key,
                        std::string* value) const {
    return unflushed_ ? unflushed_->GetFromBatchAndDB(db_.get(), ro, key, value)
                      : db_->Get(ro, key, value);
  }
  std::unique_ptr<rocksdb::Iterator> DbIterator(const rocksdb::ReadOptions& ro) const {
    rocksdb::Iterator* base = db_->NewIterator(ro);
    if (!unflushed_) return std::unique_ptr<rocksdb::Iterator>(base);
    return std::unique_ptr<rocksdb::Iterator>(
        unflushed_->NewIteratorWithBase(db_->DefaultColumnFamily(), base, &ro));
  }

  // Calls fn(seq, stored value) for each durable event with after < seq <=
  // upto, in order; kCorruption when one is missing.
  Status ScanStored(uint64_t after, uint64_t upto,
                    const std::function<Status(uint64_t, std::string_view)>& fn) const;
  // ScanBriefs of events not in a usable brief block: decoded one by one.
  Status ScanBriefsOfEvents(uint64_t after, uint64_t upto,
                            const std::function<Status(const EventBrief&)>& fn) const;
  // At open: writes the complete brief blocks that are missing or of another
  // format (a ledger written by an older build), then reads the records of
  // the events after the last complete block into brief_tail_.
  Status PrepareBriefBlocks();
  // Queues a checked writer for the commit thread.
  void Enqueue(std::unique_ptr<Writer> w);
  // The commit thread: takes groups from the queue, checks each and writes
  // its events to the commit log (not yet synced), hands the group to the
  // sync thread, then writes it to RocksDB's memtable (Apply).
  void CommitLoop();
  // The sync thread: syncs the commit log once for every group written
  // since its last sync and queues them to be answered.
  void SyncLoop();
  // The answer thread: once a group is in the memtable too, makes it
  // visible and runs the writers' callbacks, in commit order, so that
  // the sync thread can begin the next sync at once.
  void AnswerLoop();

  // --- write stage; called only by the commit thread ---
  // Checks each writer of `group` and writes the accepted events in one
  // batch to the commit log (not synced), setting every writer's result.
  // When it wrote, sets *segment to the log file to sync and *logged to
  // what Apply needs. Returns the status of the write itself.
  Status WriteGroup(const std::vector<Writer*>& group,
                    std::shared_ptr<internal::LogSegment>* segment, std::optional<Logged>* logged);
  // Writes a logged group's batch to RocksDB's memtable (without RocksDB's
  // own log) and makes it the write state the next group is checked
  // against; then tells the answer thread, which answers the group only
  // after both this and its sync. On failure, fails the ledger.
  void Apply(Logged logged);
  // The answer thread: waits until every event up to `seq` is applied, or
  // the ledger has failed (its status).
  Status WaitApplied(uint64_t seq);
  // The 8-byte number at the front of a record of `size` bytes (the head,
  // 40: its size; the log start, 8: a generation), read at `tier`; 0 when
  // there is none, kCorruption when it has another size.
  Result<uint64_t> ReadLeadingU64(const std::string& key, size_t size,
                                  rocksdb::ReadTier tier = rocksdb::kReadAllTier) const;
  // The last seq RocksDB holds in its tables (not only in its memtable): the
  // commit log may overwrite the records of events up to it.
  Result<uint64_t> PersistedSeq() const {
    return ReadLeadingU64(keys::Head(), 40, rocksdb::kPersistedTier);
  }
  // At open, after any replay: puts the id of every stream head in the
  // database into streams_.
  Status LoadStreamSet();
  // At open, after any replay: moves each idempotency key an older build
  // kept unscoped ('I') to its scoped record ('K') under the actor of the
  // event it names (key_layout.h).
  Status ScopeIdempotencyKeys();
  // At open: replays the commit log's records of events RocksDB lost with
  // its memtable (a crash), makes them durable in its tables and moves the
  // log's start past every record on disk.
  Status OpenCommitLog(const std::string& dir);
  // The RocksDB options of the ledger's database (and view_family_options_).
  rocksdb::Options DatabaseOptions();
  // Open() of a read-only ledger (LedgerOptions::read_only, which says what
  // it sees and why).
  Status OpenReadOnly(const std::string& dir);
  // At open, once the database (and in a read-only open, unflushed_) holds
  // every durable event: reads the head record and the tree's peaks into
  // the write state and the durable head.
  Status LoadHead();
  // The signing key and its public key (LedgerOptions::signing_key_file):
  // a writer's is made when the ledger is new, else loaded; a read-only
  // open reads the public key file when the signing key is not there.
  Status LoadKeys(const std::string& dir);
  // Reads the key history ('V') and, for a writer, checks the signing key
  // against its last key, records the first key of a ledger without one,
  // and a rotation (LedgerOptions::adopt_signing_key).
  Status LoadKeyHistory();
  // kResourceExhausted when the ledger's filesystem is below
  // options_.min_free_bytes plus twice `batch_bytes` (see LedgerOptions).
  // Commit thread only.
  Status CheckFreeSpace(uint64_t batch_bytes);
  // Checks one writer's requests against `group_overlay`; on success fills
  // `delta` with what they change and `results`.
  Status ProcessWriter(const Writer& w, const Overlay& group_overlay, Micros now,
                       Micros recorded_at, Overlay* delta, std::vector<AppendResult>* results);
  Result<StreamHead> LoadStream(const std::string& id, const Overlay& group, const Overlay& delta);
  // `scoped` is keys::IdempotencyScope(actor, key).
  Result<std::optional<std::pair<uint64_t, Hash>>> LoadIdempotency(const std::string& scoped,
                                                                   const Overlay& group,
                                                                   const Overlay& delta);
  Result<Event> LoadWrittenEvent(uint64_t seq, const Overlay& group, const Overlay& delta);
  // Sets *verdict to that of w.ctx.authorize on `ev` going to the stream
  // `head` (OK without one); kNotFound only for a stream the writer may
  // not see. Fails only when the stream's events cannot be read.
  Status Scope(const Writer& w, const NewEvent& ev, const StreamHead& head, const Overlay& group,
               const Overlay& delta, Status* verdict);
  // The field errors of w's corrections from request `first` on against
  // their targets already written (each said to be about its event), or OK.
  Status LaterCorrectionFieldErrors(const Writer& w, size_t first, const Overlay& group,
                                    const Overlay& delta);

  // Makes the events up to `head` (synced) visible to readers and tells
  // the subscribers.
  void Publish(const TreeHead& head);

  Result<Hash> ReadNode(unsigned level, uint64_t index) const;
  NodeReader Nodes() const {
    return [this](unsigned level, uint64_t index) { return ReadNode(level, index); };
  }

  LedgerOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  // Read-only opens only: the commit log's records of the events the
  // database's tables do not hold yet, in memory, read before the database
  // by DbGet and DbIterator; and the directory (outside the ledger's) that a
  // RocksDB secondary instance needs as its own.
  std::unique_ptr<rocksdb::WriteBatchWithIndex> unflushed_;
  std::string secondary_dir_;
  std::unique_ptr<internal::CommitLog> log_;  // written by the commit thread only
  std::unique_ptr<Signer> signer_;
  std::string public_key_, public_key_pem_;
  std::vector<SigningKeyPeriod> key_history_;
  rocksdb::ColumnFamilyOptions view_family_options_;
  // Every column family handle, the default's included; released before the
  // database closes.
  std::vector<rocksdb::ColumnFamilyHandle*> families_;
  std::mutex views_mu_;
  std::map<std::string, std::unique_ptr<RocksViewStore>, std::less<>> views_;

  // Write-stage state, owned by whichever thread leads the commit queue.
  uint64_t written_seq_ = 0;
  Hash written_hash_{};
  Micros written_recorded_at_ = 0;
  CompactRange tree_;
  // The format byte and the brief records of the events after the last
  // complete brief block (brief_block.h), up to written_seq_. When they
  // could not be read at open (a damaged event), brief_tail_ok_ is false
  // and the block they belong to is not written (its events are read
  // instead); the blocks after it are.
  std::string brief_tail_ = std::string(1, internal::kBriefBlockFormat);
  bool brief_tail_ok_ = true;
  // Stream heads as written, of the streams appended to or read lately: one
  // slot per hash of the id, a newer stream replacing an older one (the
  // database has them all). Fixed slots, reused in place: no allocation per
  // stream and no clearing, which in a node-based table cost the commit
  // thread more than the lookups it saved.
  struct CachedStream {
    std::string id;  // empty: the slot is unused
    StreamHead head;
  };
  static constexpr size_t kStreamCacheSlots = 1 << 15;
  std::vector<CachedStream> stream_cache_ = std::vector<CachedStream>(kStreamCacheSlots);
  // Every stream id in the database or written since (stream_set.h): a new
  // referral's id is known to be new without reading the database.
  internal::StreamSet streams_;
  CachedStream& StreamSlot(std::string_view id) {
    return stream_cache_[std::hash<std::string_view>{}(id) & (kStreamCacheSlots - 1)];
  }
  void CacheStream(const std::string& id, StreamHead head) {
    CachedStream& slot = StreamSlot(id);
    slot.id.assign(id);
    slot.head = std::move(head);
  }

  // The commit queue, drained by the commit thread: each group of queued
  // writers is checked and written with one RocksDB write, synced later by
  // the sync thread.
  std::mutex mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Writer>> queue_;
  bool stopping_ = false;
  std::string dir_;  // the ledger directory, for the free-space check
  // The filesystem's free bytes as last read, when, and the bytes of the
  // batches written since: CheckFreeSpace's estimate between reads.
  uint64_t free_read_ = 0;
  std::chrono::steady_clock::time_point free_read_at_{};
  uint64_t written_since_free_read_ = 0;
  std::thread committer_;

  // Groups written but not yet synced, in write order, for the sync thread.
  // A group is answered only once a sync that began after its write has
  // returned, so an acknowledged event is always on disk; while one group
  // is being synced the commit thread checks and writes the next.
  struct Written {
    std::vector<std::unique_ptr<Writer>> writers;
    std::optional<TreeHead> head;  // the head after the group; none if it wrote nothing
    std::shared_ptr<internal::LogSegment> segment;  // the log file holding it
  };
  Handoff<Written> to_sync_;
  // Makes every writer accepted in a group of `groups` that wrote events
  // fail with `st` (their sync or memtable write failed), and unpublishes
  // those groups.
  static void Refuse(std::deque<Written>* groups, const Status& st);
  std::thread syncer_;
  // Groups synced (or failed), for the answer thread.
  Handoff<Written> to_answer_;
  std::thread answerer_;

  // After a failed write or sync the in-memory write state may not match
  // the disk: every later append is refused with this status until the
  // ledger is reopened. Set by either thread.
  std::mutex failed_mu_;
  Status failed_;
  std::atomic<bool> has_failed_{false};
  void Fail(const Status& st) {
    {
      std::lock_guard l(failed_mu_);
      if (failed_.ok()) failed_ = st;
      has_failed_.store(true, std::memory_order_release);
    }
    // The answer thread waiting for a group to be applied must learn it never will.
    { std::lock_guard l(applied_mu_); }
    applied_cv_.notify_all();
  }
  Status Failed() {
    if (!has_failed_.load(std::memory_order_acquire)) return Status::Ok();
    std::lock_guard l(failed_mu_);
    return failed_;
  }

  // The last seq applied to RocksDB's memtable (Apply), for the answer thread.
  std::mutex applied_mu_;
  std::condition_variable applied_cv_;
  uint64_t applied_seq_ = 0;

  mutable std::mutex head_mu_;
  TreeHead durable_head_;  // the head readers see: synced events only
  std::atomic<uint64_t> durable_{0};

  std::mutex listeners_mu_;
  std::vector<std::function<void(uint64_t)>> listeners_;
};

// A stored event's canonical bytes: what follows its 32-byte chain hash.
inline Result<std::string_view> CanonicalOf(std::string_view stored) {
  if (stored.size() < 32) return Status::Corruption("stored event is shorter than its hash");
  return stored.substr(32);
}

// Decodes the brief of the stored event `seq` (DecodeBrief's lifetime);
// `canonical`, when given, gets its canonical bytes. kCorruption when the
// event does not decode or holds another seq.
inline Status DecodeStoredBrief(uint64_t seq, std::string_view stored, EventBrief* brief,
                                std::string_view* canonical = nullptr) {
  Result<std::string_view> bytes = CanonicalOf(stored);
  if (!bytes.ok()) return bytes.status();
  LEDGER_RETURN_IF_ERROR(internal::DecodeBrief(*bytes, brief));
  if (brief->seq != seq) {
    return Status::Corruption("event " + std::to_string(seq) + " holds seq " +
                              std::to_string(brief->seq));
  }
  if (canonical) *canonical = *bytes;
  return Status::Ok();
}

// Appends the brief record of the stored event `seq` to `out`.
inline Status AppendBriefRecordOfStored(uint64_t seq, std::string_view stored, std::string* out) {
  EventBrief brief;
  std::string_view bytes;
  LEDGER_RETURN_IF_ERROR(DecodeStoredBrief(seq, stored, &brief, &bytes));
  internal::AppendBriefRecord(brief, bytes, out);
  return Status::Ok();
}

}  // namespace ledger
