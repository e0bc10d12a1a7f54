#include "ledger/ledger.h"

#include <pthread.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/table.h>
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
#include "ledger/event_json.h"
#include "ledger/merkle.h"
#include "stream_set.h"

namespace ledger {

using internal::StreamHead;
namespace keys = internal::keys;

namespace {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNoSpace())
    return Status::ResourceExhausted(what + ": the disk is full (" + s.ToString() + ")");
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

// A request's errors inside a multi-event append, or any batch request,
// name it: "events[2]".
Status InRequest(const Status& st, size_t index, size_t count, bool batch = false) {
  if ((count <= 1 && !batch) || st.ok()) return st;
  return st.WithFieldPrefix("events[" + std::to_string(index) + "]");
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

// A view store on one column family of the ledger's database.
class RocksViewStore final : public ViewStore {
 public:
  RocksViewStore(std::string name, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf)
      : ViewStore(std::move(name)), db_(db), cf_(cf) {}

  Status Write(const Batch& batch) override {
    rocksdb::WriteBatch wb;
    for (const auto& [key, value] : Ops(batch)) {
      rocksdb::Status s = value ? wb.Put(cf_, key, *value) : wb.Delete(cf_, key);
      LEDGER_RETURN_IF_ERROR(FromRocks(s, "view store " + name()));
    }
    return FromRocks(db_->Write(rocksdb::WriteOptions(), &wb), "write view store " + name());
  }

  Result<std::optional<std::string>> Get(std::string_view key) const override {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, key, &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    LEDGER_RETURN_IF_ERROR(FromRocks(s, "read view store " + name()));
    return std::optional<std::string>(std::move(v));
  }

  Status Scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
    }
    return FromRocks(it->status(), "scan view store " + name());
  }

  Status Clear() override {
    // Every key of this family sorts below a key of 0xff bytes longer than
    // any the projections write.
    rocksdb::WriteBatch wb;
    LEDGER_RETURN_IF_ERROR(
        FromRocks(wb.DeleteRange(cf_, "", std::string(256, '\xff')), "clear view store " + name()));
    return FromRocks(db_->Write(rocksdb::WriteOptions(), &wb), "clear view store " + name());
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
};

bool ValidViewStoreName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == rocksdb::kDefaultColumnFamilyName) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

class Ledger::Impl {
 public:
  explicit Impl(LedgerOptions options) : options_(std::move(options)) {}
  ~Impl();

  Status Open(const std::string& dir);
  void AppendAsync(std::vector<AppendRequest> requests, WriteContext ctx, AppendCallback done);
  Result<std::vector<AppendResult>> AppendRecorded(std::span<const RecordedRequest> requests);
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
  Result<SignedTreeHead> SignedHead(uint64_t size) const;
  Result<std::vector<Hash>> InclusionProof(uint64_t seq, uint64_t size) const;
  Result<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to) const;
  VerifyReport Verify(const std::function<void(uint64_t, uint64_t)>& on_progress) const;
  void Subscribe(std::function<void(uint64_t)> listener) {
    std::lock_guard l(listeners_mu_);
    listeners_.push_back(std::move(listener));
  }

  const Signer& signer() const { return *signer_; }

 private:
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
  // their targets already written (named "events[j]..."), or OK.
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
  std::unique_ptr<internal::CommitLog> log_;  // written by the commit thread only
  std::unique_ptr<Signer> signer_;
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

// ---------------------------------------------------------------------------
// Open and close

Status Ledger::Impl::Open(const std::string& dir) {
  dir_ = dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create ledger directory " + dir + ": " + ec.message());
  // It holds person-level data and the signing key: its owner's alone. The
  // files in it are created 0600 by the ledger itself, and by RocksDB under
  // the process's umask, which the programs set to 077.
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  if (ec) return Status::IOError("cannot make " + dir + " private (0700): " + ec.message());
  auto signer = Signer::LoadOrCreate(dir + "/signing-key.pem");
  if (!signer.ok()) return signer.status();
  signer_ = std::move(signer).value();

  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.write_buffer_size = options_.write_buffer_bytes;
  opts.max_background_jobs = 2;
  // RocksDB's flushes and compactions yield the CPU to the commit thread,
  // which every append waits on (on two cores they otherwise take turns
  // with it); they still have every cycle it leaves. The pools are the
  // process's, shared by every ledger it opens.
  for (auto pool : {rocksdb::Env::LOW, rocksdb::Env::HIGH}) {
    rocksdb::Env::Default()->LowerThreadPoolCPUPriority(pool, rocksdb::CpuPriority::kLow);
  }
  opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // An append with an idempotency key looks up a key that mostly does not
  // exist yet (as would a new referral's stream head, but the stream set
  // answers that first): bloom filters, in the memtable and the tables,
  // answer those without a search.
  opts.memtable_prefix_bloom_size_ratio = 0.02;
  opts.memtable_whole_key_filtering = true;
  // Every full read (rebuild, Verify) decompresses every block: LZ4
  // decompresses faster than the default Snappy, for tables about a fifth
  // larger (docs/LEDGER.md).
  for (rocksdb::CompressionType c : rocksdb::GetSupportedCompressions()) {
    if (c == rocksdb::kLZ4Compression) opts.compression = c;
  }
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // View stores (projection state) are column families of their own.
  view_family_options_ = rocksdb::ColumnFamilyOptions(opts);
  view_family_options_.memtable_prefix_bloom_size_ratio = 0;
  const std::string path = dir + "/rocksdb";
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(opts), path, &names).ok()) {
    names = {rocksdb::kDefaultColumnFamilyName};  // a new database
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) {
    families.emplace_back(name, name == rocksdb::kDefaultColumnFamilyName
                                    ? rocksdb::ColumnFamilyOptions(opts)
                                    : view_family_options_);
  }
  rocksdb::DB* raw = nullptr;
  LEDGER_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::Open(rocksdb::DBOptions(opts), path, families, &families_, &raw),
                "open " + dir));
  db_.reset(raw);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == rocksdb::kDefaultColumnFamilyName) continue;
    views_[names[i]] = std::make_unique<RocksViewStore>(names[i], raw, families_[i]);
  }

  LEDGER_RETURN_IF_ERROR(OpenCommitLog(dir));
  LEDGER_RETURN_IF_ERROR(ScopeIdempotencyKeys());
  LEDGER_RETURN_IF_ERROR(LoadStreamSet());

  std::string head;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::Head(), &head);
  if (s.IsNotFound()) {
    durable_head_ = TreeHead{0, EmptyTreeRoot(), 0};
    return Status::Ok();
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read head"));
  if (head.size() != 40) return Status::Corruption("head record has the wrong size");
  written_seq_ = keys::GetU64(head);
  std::copy(head.begin() + 8, head.end(), written_hash_.begin());

  // The last event must be the head's, and nothing may follow it.
  Result<std::string> last = GetStored(written_seq_);
  if (!last.ok())
    return Status::Corruption("head names seq " + std::to_string(written_seq_) +
                              " which is missing");
  // A last event that does not decode is left for Verify() to name; the
  // ledger still opens so that it can be inspected.
  Result<Event> last_event = internal::DecodeEvent(std::string_view(*last).substr(32));
  written_recorded_at_ = last_event.ok() ? last_event->recorded_at : options_.clock();
  std::string after;
  if (!db_->Get(rocksdb::ReadOptions(), keys::Event(written_seq_ + 1), &after).IsNotFound()) {
    return Status::Corruption("events follow the recorded head");
  }

  std::vector<Hash> peaks;
  uint64_t start = 0;
  for (int l = 63; l >= 0; --l) {
    uint64_t width = uint64_t{1} << l;
    if (!(written_seq_ & width)) continue;
    Result<Hash> node = ReadNode(static_cast<unsigned>(l), start >> l);
    if (!node.ok()) return node.status();
    peaks.push_back(*node);
    start += width;
  }
  tree_ = CompactRange(written_seq_, std::move(peaks));
  durable_head_ = TreeHead{written_seq_, tree_.Root(), written_recorded_at_};
  durable_.store(written_seq_, std::memory_order_release);
  return PrepareBriefBlocks();
}

Status Ledger::Impl::ScopeIdempotencyKeys() {
  const std::string first(1, keys::kUnscopedIdempotency);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  // Each batch moves whole records, so a crash part way leaves the rest
  // unscoped for the next open.
  auto flush = [&] {
    Status st = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "scope idempotency keys");
    batch.Clear();
    return st;
  };
  for (it->Seek(first); it->Valid() && it->key().starts_with(first); it->Next()) {
    const std::string_view key = it->key().ToStringView().substr(1);
    const std::string value = it->value().ToString();
    if (value.size() != 40) return Status::Corruption("idempotency record has the wrong size");
    Result<std::string> stored = GetStored(keys::GetU64(value));
    if (!stored.ok()) return stored.status();
    Result<Event> event = internal::DecodeEvent(std::string_view(*stored).substr(32));
    if (!event.ok()) return event.status();
    batch.Put(keys::Idempotency(keys::IdempotencyScope(event->actor, key)), value);
    batch.Delete(it->key());
    if (batch.Count() >= 20000) LEDGER_RETURN_IF_ERROR(flush());
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "read idempotency keys"));
  return batch.Count() ? flush() : Status::Ok();
}

Status Ledger::Impl::LoadStreamSet() {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // read once, at open
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  const std::string prefix(1, keys::kStreamHead);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    // 'S' id 0x00 (key_layout.h)
    const std::string_view key = it->key().ToStringView();
    if (key.size() < 2 || key.back() != '\0') {
      return Status::Corruption("stream head key of the wrong form");
    }
    streams_.Insert(key.substr(1, key.size() - 2));
  }
  return FromRocks(it->status(), "read stream heads");
}

Result<uint64_t> Ledger::Impl::ReadLeadingU64(const std::string& key, size_t size,
                                              rocksdb::ReadTier tier) const {
  rocksdb::ReadOptions ro;
  ro.read_tier = tier;
  std::string value;
  rocksdb::Status s = db_->Get(ro, key, &value);
  if (s.IsNotFound()) return uint64_t{0};
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read record " + key.substr(0, 1)));
  if (value.size() != size) {
    return Status::Corruption("record '" + key.substr(0, 1) + "' has the wrong size (" +
                              std::to_string(value.size()) + " bytes, not " + std::to_string(size) +
                              ")");
  }
  return keys::GetU64(value);
}

Status Ledger::Impl::OpenCommitLog(const std::string& dir) {
  Result<uint64_t> start = ReadLeadingU64(keys::LogStart(), 8);
  if (!start.ok()) return start.status();
  Result<uint64_t> head = ReadLeadingU64(keys::Head(), 40);
  if (!head.ok()) return head.status();
  bool replayed = false;
  auto replay = [&](uint64_t first, uint64_t last, std::string_view payload) -> Status {
    rocksdb::WriteBatch batch{std::string(payload)};
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;
    LEDGER_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "open: replay commit log"));
    Result<uint64_t> now = ReadLeadingU64(keys::Head(), 40);
    if (!now.ok()) return now.status();
    if (*now != last) {
      return Status::Corruption("commit log record of events " + std::to_string(first) + ".." +
                                std::to_string(last) + " leaves the head at " +
                                std::to_string(*now));
    }
    replayed = true;
    return Status::Ok();
  };
  auto log =
      internal::CommitLog::Open(dir + "/log", options_.log_segment_bytes, *start, *head, replay,
                                options_.direct_log_writes);
  if (!log.ok()) return log.status();
  log_ = std::move(log).value();
  if (replayed) {
    // Into the tables before any record is overwritten or left behind.
    LEDGER_RETURN_IF_ERROR(FromRocks(db_->Flush(rocksdb::FlushOptions()), "open: flush replay"));
  }
  std::string value;
  keys::PutU64(log_->next_generation(), &value);
  rocksdb::WriteOptions synced;
  synced.sync = true;
  return FromRocks(db_->Put(synced, keys::LogStart(), value), "open: record log start");
}

namespace {
// A stored event's canonical bytes: what follows its 32-byte chain hash.
Result<std::string_view> CanonicalOf(std::string_view stored) {
  if (stored.size() < 32) return Status::Corruption("stored event is shorter than its hash");
  return stored.substr(32);
}

// Decodes the brief of the stored event `seq` (DecodeBrief's lifetime);
// `canonical`, when given, gets its canonical bytes. kCorruption when the
// event does not decode or holds another seq.
Status DecodeStoredBrief(uint64_t seq, std::string_view stored, EventBrief* brief,
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
Status AppendBriefRecordOfStored(uint64_t seq, std::string_view stored, std::string* out) {
  EventBrief brief;
  std::string_view bytes;
  LEDGER_RETURN_IF_ERROR(DecodeStoredBrief(seq, stored, &brief, &bytes));
  internal::AppendBriefRecord(brief, bytes, out);
  return Status::Ok();
}
}  // namespace

Status Ledger::Impl::PrepareBriefBlocks() {
  using internal::kBriefBlockEvents;
  const uint64_t complete = written_seq_ / kBriefBlockEvents;  // blocks 0 .. complete-1
  auto usable = [](std::string_view v) {
    return !v.empty() && v.front() == internal::kBriefBlockFormat;
  };
  // Blocks are written in order, so when the last is there so are the rest
  // (a block lost to damage is Verify's to name; ScanBriefs reads its
  // events). Otherwise the first that is missing or stale is found.
  uint64_t first = complete;
  std::string last;
  if (complete > 0 &&
      !(db_->Get(rocksdb::ReadOptions(), keys::BriefBlock(complete - 1), &last).ok() &&
        usable(last))) {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    first = 0;
    for (it->Seek(keys::BriefBlock(0)); it->Valid() && first < complete; it->Next(), ++first) {
      if (it->key() != keys::BriefBlock(first) || !usable(it->value().ToStringView())) break;
    }
    LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "read brief blocks"));
  }
  // Written a few blocks a batch, unsynced: they are derived, and one lost
  // to a crash is written again at the next open.
  rocksdb::WriteBatch batch;
  std::string block(1, internal::kBriefBlockFormat);
  Status st = ScanStored(first * kBriefBlockEvents, complete * kBriefBlockEvents,
                         [&](uint64_t seq, std::string_view stored) -> Status {
                           LEDGER_RETURN_IF_ERROR(AppendBriefRecordOfStored(seq, stored, &block));
                           if (seq % kBriefBlockEvents != 0) return Status::Ok();
                           batch.Put(keys::BriefBlock(internal::BriefBlockOf(seq)), block);
                           block.assign(1, internal::kBriefBlockFormat);
                           if (batch.Count() < 64) return Status::Ok();
                           Status w = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch),
                                                "write brief blocks");
                           batch.Clear();
                           return w;
                         });
  // A damaged event stops the writing of blocks; the ledger still opens, to
  // be inspected, and its events are read where a block is missing.
  if (batch.Count() > 0) {
    LEDGER_RETURN_IF_ERROR(
        FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "write brief blocks"));
  }
  if (!st.ok() && st.code() != Code::kCorruption) return st;
  brief_tail_.assign(1, internal::kBriefBlockFormat);
  Status tail = ScanStored(complete * kBriefBlockEvents, written_seq_,
                           [&](uint64_t seq, std::string_view stored) {
                             return AppendBriefRecordOfStored(seq, stored, &brief_tail_);
                           });
  if (!tail.ok() && tail.code() != Code::kCorruption) return tail;
  brief_tail_ok_ = tail.ok();
  return Status::Ok();
}

Ledger::Impl::~Impl() {
  if (committer_.joinable()) {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    committer_.join();  // commits whatever was queued first
  }
  // Each stage finishes what the one before handed it.
  to_sync_.Stop();
  if (syncer_.joinable()) syncer_.join();
  to_answer_.Stop();
  if (answerer_.joinable()) answerer_.join();
  views_.clear();
  for (rocksdb::ColumnFamilyHandle* h : families_) db_->DestroyColumnFamilyHandle(h);
  if (db_) db_->Close();
}

// ---------------------------------------------------------------------------
// Appends

void Ledger::Impl::AppendAsync(std::vector<AppendRequest> requests, WriteContext ctx,
                               AppendCallback done) {
  if (requests.empty()) {
    done(Status::BadField("events", "must hold at least one event"));
    return;
  }
  // Field rules first, for every request: field errors of any event win.
  const Micros now = options_.clock();
  std::vector<FieldError> errors;
  for (size_t i = 0; i < requests.size(); ++i) {
    std::vector<FieldError> bad = ValidateEvent(requests[i].event, now).field_errors();
    if (requests[i].idempotency_key) {
      std::string problem = CheckIdempotencyKey(*requests[i].idempotency_key);
      if (!problem.empty()) bad.push_back({"idempotency_key", problem});
    }
    Status st = InRequest(Status::InvalidFields(std::move(bad)), i, requests.size(), ctx.batch);
    errors.insert(errors.end(), st.field_errors().begin(), st.field_errors().end());
  }
  if (Status st = Status::InvalidFields(std::move(errors)); !st.ok()) {
    done(std::move(st));
    return;
  }
  auto w = std::make_unique<Writer>();
  w->requests = std::move(requests);
  w->ctx = std::move(ctx);
  w->done = std::move(done);
  Enqueue(std::move(w));
}

void Ledger::Impl::Enqueue(std::unique_ptr<Writer> w) {
  {
    std::lock_guard l(mu_);
    queue_.push_back(std::move(w));
  }
  queue_cv_.notify_one();
}

Result<std::vector<AppendResult>> Ledger::Impl::AppendRecorded(
    std::span<const RecordedRequest> requests) {
  if (requests.empty()) return Status::BadField("events", "must hold at least one event");
  const Micros now = options_.clock();
  std::vector<FieldError> errors;
  auto w = std::make_unique<Writer>();
  Micros previous = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const RecordedRequest& r = requests[i];
    // The event is checked as the clock stood when it was recorded.
    std::vector<FieldError> bad = ValidateEvent(r.request.event, r.recorded_at).field_errors();
    if (r.request.idempotency_key) {
      std::string problem = CheckIdempotencyKey(*r.request.idempotency_key);
      if (!problem.empty()) bad.push_back({"idempotency_key", problem});
    }
    if (r.recorded_at > now) {
      bad.push_back({"recorded_at", "is later than the clock (" + FormatTimestamp(now) + ")"});
    } else if (r.recorded_at < previous) {
      bad.push_back({"recorded_at", "is earlier than the previous event's"});
    }
    const size_t colon = r.actor.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == r.actor.size() ||
        r.actor.size() > 200 || HasControlCharacter(r.actor)) {
      bad.push_back({"actor", "must be role:name, at most 200 characters, no control characters"});
    }
    previous = std::max(previous, r.recorded_at);
    Status st = InRequest(Status::InvalidFields(std::move(bad)), i, requests.size());
    errors.insert(errors.end(), st.field_errors().begin(), st.field_errors().end());
    w->requests.push_back(r.request);
    w->recorded.push_back({r.recorded_at, r.actor, r.seq, r.hash});
  }
  if (Status st = Status::InvalidFields(std::move(errors)); !st.ok()) return st;
  std::promise<Result<std::vector<AppendResult>>> promise;
  auto future = promise.get_future();
  w->done = [&promise](Result<std::vector<AppendResult>> r) { promise.set_value(std::move(r)); };
  Enqueue(std::move(w));
  return future.get();
}

void Ledger::Impl::CommitLoop() {
  for (;;) {
    std::vector<std::unique_ptr<Writer>> group;
    {
      std::unique_lock l(mu_);
      queue_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to commit
      // No waiting for more writers: while this group is checked and
      // written the previous one is being synced, and the sync thread's
      // next sync covers every group written meanwhile.
      size_t events = 0;
      while (!queue_.empty()) {
        size_t n = queue_.front()->requests.size();
        if (!group.empty() && events + n > options_.max_group_events) break;
        // Recorded history commits alone (see AppendRecorded).
        if (!group.empty() &&
            (!group.back()->recorded.empty() || !queue_.front()->recorded.empty())) {
          break;
        }
        events += n;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<Writer*> writers;
    for (auto& w : group) writers.push_back(w.get());
    Written written;
    std::optional<Logged> logged;
    if (WriteGroup(writers, &written.segment, &logged).ok() && logged) {
      written.head = TreeHead{logged->overlay.events.back().seq, logged->tree.Root(),
                              logged->overlay.events.back().recorded_at};
    }
    written.writers = std::move(group);
    // The sync begins now, and the memtable is written while the disk
    // syncs: the group's latency is its check and log write, then the
    // longer of the two. The writers are the sync thread's from here on.
    to_sync_.Push(std::move(written));
    if (logged) Apply(std::move(*logged));
  }
}

void Ledger::Impl::Apply(Logged logged) {
  if (options_.before_apply) options_.before_apply();
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;                      // the commit log holds it (commit_log.h)
  wo.memtable_insert_hint_per_batch = true;  // the batch's keys are mostly in runs
  Status st = FromRocks(db_->Write(wo, &logged.batch), "append");
  if (!st.ok()) {
    // The in-memory state can no longer be trusted to match the disk:
    // refuse appends until reopened. The answer thread refuses this group.
    Fail(st);
    return;
  }
  Overlay& overlay = logged.overlay;
  written_seq_ = overlay.events.back().seq;
  written_hash_ = logged.hash;
  written_recorded_at_ = overlay.events.back().recorded_at;
  tree_ = std::move(logged.tree);
  if (logged.completed) brief_tail_.assign(1, internal::kBriefBlockFormat);
  brief_tail_.append(logged.briefs);
  brief_tail_ok_ = logged.tail_ok;
  for (auto& [id, h] : overlay.streams) {
    CacheStream(id, std::move(h));
    streams_.Insert(id);
  }
  {
    std::lock_guard l(applied_mu_);
    applied_seq_ = written_seq_;
  }
  applied_cv_.notify_one();
}

Status Ledger::Impl::WaitApplied(uint64_t seq) {
  std::unique_lock l(applied_mu_);
  applied_cv_.wait(l, [&] { return applied_seq_ >= seq || has_failed_.load(); });
  return applied_seq_ >= seq ? Status::Ok() : Failed();
}

void Ledger::Impl::Refuse(std::deque<Written>* groups, const Status& st) {
  for (Written& g : *groups) {
    if (!g.head) continue;
    g.head.reset();  // never published
    for (auto& w : g.writers) {
      if (w->result.ok()) w->result = st;
    }
  }
}

void Ledger::Impl::SyncLoop() {
  for (std::deque<Written> groups; !(groups = to_sync_.TakeAll()).empty();) {
    // One sync of each log file written covers every group taken: each was
    // written before it began.
    std::optional<TreeHead> head;
    Status st;
    internal::LogSegment* synced = nullptr;
    for (const Written& g : groups) {
      if (!g.head) continue;
      head = g.head;
      if (g.segment.get() != synced && st.ok()) {
        synced = g.segment.get();
        st = synced->Sync();
      }
    }
    if (head && !st.ok()) {
      Fail(st);
      Refuse(&groups, st);
    }
    // Answered only now that their group is durable (or failed): a refusal
    // too waits, since it may rest on a group before it that has yet to
    // reach the disk. The answer thread waits for the memtable write, so
    // that this thread can start the next sync at once.
    for (Written& g : groups) to_answer_.Push(std::move(g));
  }
}

void Ledger::Impl::AnswerLoop() {
  for (std::deque<Written> groups; !(groups = to_answer_.TakeAll()).empty();) {
    std::optional<TreeHead> head;
    for (const Written& g : groups) {
      if (g.head) head = g.head;
    }
    // Readers see only what is in the memtable, and an event that is not
    // there was never written to RocksDB (Apply).
    if (head) {
      if (Status st = WaitApplied(head->size); !st.ok()) {
        head.reset();
        Refuse(&groups, st);
      }
    }
    if (head) Publish(*head);  // before any answer: what is acknowledged is visible
    for (Written& g : groups) {
      for (auto& w : g.writers) {
        w->done(std::move(w->result));
        // Released at once, not with the next group: a callback may hold
        // what its caller waits to see released (AppendCallback).
        w.reset();
      }
    }
  }
}

Status Ledger::Impl::WriteGroup(const std::vector<Writer*>& group,
                                std::shared_ptr<internal::LogSegment>* segment,
                                std::optional<Logged>* logged) {
  // RocksDB counts every key comparison in a thread-local perf context unless
  // told not to; on the write path that costs more than the comparisons.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  if (Status failed = Failed(); !failed.ok()) {
    for (Writer* x : group) x->result = failed;
    return failed;
  }
  const Micros now = options_.clock();
  const Micros recorded_at = std::max(now, written_recorded_at_);
  const bool restoring = group.size() == 1 && !group.front()->recorded.empty();
  if (restoring && written_seq_ > 0 &&
      group.front()->recorded.front().recorded_at < written_recorded_at_) {
    Status st = Status::BadField(
        group.front()->requests.size() > 1 ? "events[0].recorded_at" : "recorded_at",
        "is earlier than the ledger's last recorded_at (" + FormatTimestamp(written_recorded_at_) +
            ")");
    group.front()->result = st;
    return st;
  }

  Overlay overlay;
  overlay.first_seq = written_seq_ + 1;
  size_t requests = 0;
  for (const Writer* x : group) requests += x->requests.size();
  overlay.events.reserve(requests);
  std::vector<Writer*> accepted;
  for (Writer* x : group) {
    Overlay delta;
    delta.first_seq = written_seq_ + 1 + overlay.events.size();
    std::vector<AppendResult> results;
    Status st = ProcessWriter(*x, overlay, now, recorded_at, &delta, &results);
    if (st.ok()) {
      overlay.MergeFrom(std::move(delta));
      x->result = std::move(results);
      accepted.push_back(x);
    } else {
      x->result = st;
    }
  }
  if (overlay.events.empty()) return Status::Ok();

  // Encode, chain and tree the accepted events, and write them in one batch.
  // Records go in key order, one kind after another, so that the memtable's
  // per-batch insert hint finds each next position next to the last.
  rocksdb::WriteBatch batch;
  Hash hash = written_hash_;
  CompactRange tree = tree_;
  std::string value;
  std::vector<std::pair<std::string, Hash>> nodes;
  nodes.reserve(overlay.events.size() / 8 + 64);
  // Brief records since the last block boundary, and the blocks this group
  // completes (brief_block.h).
  std::string briefs;
  bool tail_ok = brief_tail_ok_;
  bool completed = false;
  std::vector<std::pair<std::string, std::string>> blocks;
  for (Event& e : overlay.events) {
    std::string bytes = internal::EncodeEvent(e);
    hash = Sha256({AsBytes(hash), bytes});
    e.hash = hash;
    value.assign(AsBytes(hash));
    value.append(bytes);
    batch.Put(keys::Event(e.seq), value);
    tree.Append(LeafHash(bytes), [&](unsigned level, uint64_t index, const Hash& h) {
      if (level >= keys::kFirstStoredLevel) nodes.emplace_back(keys::MerkleNode(level, index), h);
    });
    internal::AppendBriefRecord(BriefOf(e), bytes, &briefs);
    if (e.seq % internal::kBriefBlockEvents == 0) {
      if (tail_ok) {
        std::string block = completed ? std::string(1, internal::kBriefBlockFormat) : brief_tail_;
        block.append(briefs);
        blocks.emplace_back(keys::BriefBlock(internal::BriefBlockOf(e.seq)), std::move(block));
      }
      briefs.clear();
      completed = true;
      tail_ok = true;
    }
  }
  for (const auto& [key, block] : blocks) batch.Put(key, block);
  for (const auto& [key, h] : nodes) batch.Put(key, AsBytes(h));
  std::vector<std::pair<std::string, std::string>> heads;
  for (const auto& [id, head] : overlay.streams) {
    heads.emplace_back(keys::StreamHead(id), internal::EncodeStreamHead(head));
  }
  std::sort(heads.begin(), heads.end());
  for (const auto& [key, v] : heads) batch.Put(key, v);
  if (restoring) {
    // Where each event landed must be where it was recorded, with the same
    // chain hash: else the history given is not the one that was exported.
    Writer& w = *group.front();
    const std::vector<AppendResult>& results = w.result.value();
    for (size_t i = 0; i < results.size(); ++i) {
      const Writer::Recording& want = w.recorded[i];
      const Event* e = results[i].replayed ? nullptr : overlay.FindEvent(results[i].seq);
      std::string problem;
      if (!e) {
        problem = "was already in the ledger (idempotency_key " +
                  w.requests[i].idempotency_key.value_or("") + ")";
      } else if (want.seq != 0 && want.seq != e->seq) {
        problem = "lands at seq " + std::to_string(e->seq) + ", not " + std::to_string(want.seq);
      } else if (want.hash && *want.hash != e->hash) {
        problem = "has chain hash " + ToHex(e->hash) + ", not " + ToHex(*want.hash) +
                  ": the history differs from the one recorded";
      }
      if (!problem.empty()) {
        w.result = Status::Corruption("event " + std::to_string(i) + " (seq " +
                                      std::to_string(want.seq) + ") " + problem);
        return w.result.status();
      }
    }
  }
  for (const auto& [key, entry] : overlay.idempotency) {
    std::string v;
    keys::PutU64(entry.first, &v);
    v.append(AsBytes(entry.second));
    batch.Put(keys::Idempotency(key), v);
  }
  const uint64_t last_seq = overlay.events.back().seq;
  std::string head;
  keys::PutU64(last_seq, &head);
  head.append(AsBytes(hash));
  batch.Put(keys::Head(), head);

  if (Status room = CheckFreeSpace(batch.GetDataSize()); !room.ok()) {
    for (Writer* x : accepted) x->result = room;
    return room;
  }
  // The batch goes to the commit log, not synced: the sync thread syncs the
  // log file for this group and any written while it waits, and only then
  // are they visible or acknowledged (readers stop at Size(), the synced
  // head). Apply then writes it to RocksDB's memtable.
  auto appended =
      log_->Append(overlay.first_seq, last_seq, batch.Data(), [this] { return PersistedSeq(); });
  if (!appended.ok()) {
    // The batch may or may not have reached the log: the in-memory state can
    // no longer be trusted to match the disk. Refuse appends until reopened.
    Fail(appended.status());
    for (Writer* x : accepted) x->result = appended.status();
    return appended.status();
  }
  *segment = std::move(appended).value();

  // The events' chain hashes are final.
  for (Writer* x : accepted) {
    for (AppendResult& r : x->result.value()) {
      // A retry answered from an event of this same group gets its hash here too.
      if (const Event* e = overlay.FindEvent(r.seq)) r.hash = e->hash;
    }
  }
  logged->emplace(Logged{std::move(batch), std::move(overlay), hash, std::move(tree),
                         std::move(briefs), completed, tail_ok});
  return Status::Ok();
}

Status Ledger::Impl::CheckFreeSpace(uint64_t batch_bytes) {
  if (options_.min_free_bytes == 0) return Status::Ok();
  const uint64_t needed = options_.min_free_bytes + 2 * batch_bytes;
  // A statvfs per group cost the commit thread about 2% of its time. Far
  // from the limit the free space is estimated, as last read less what the
  // ledger has written since, and read again every 50 ms (RocksDB's
  // flushes and compactions also use space); within 1 GiB of the limit it
  // is read for every group.
  constexpr uint64_t kEstimateAbove = 1ull << 30;
  constexpr auto kReadEvery = std::chrono::milliseconds(50);
  const auto now = std::chrono::steady_clock::now();
  const uint64_t estimate =
      free_read_ > written_since_free_read_ ? free_read_ - written_since_free_read_ : 0;
  if (estimate < needed + kEstimateAbove || now - free_read_at_ >= kReadEvery) {
    struct statvfs fs;
    if (statvfs(dir_.c_str(), &fs) != 0) return Status::Ok();  // unknown: let the write say
    free_read_ = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    free_read_at_ = now;
    written_since_free_read_ = 0;
  }
  if (free_read_ >= needed) {
    // The batch goes to the commit log and, later, to a table.
    written_since_free_read_ += 2 * batch_bytes;
    return Status::Ok();
  }
  return Status::ResourceExhausted(
      "the disk holding the ledger is full: " + std::to_string(free_read_ >> 20) +
      " MiB free, appends resume above " + std::to_string((needed + (1 << 20) - 1) >> 20) +
      " MiB; nothing was appended");
}

Result<StreamHead> Ledger::Impl::LoadStream(const std::string& id, const Overlay& group,
                                            const Overlay& delta) {
  if (auto it = delta.streams.find(id); it != delta.streams.end()) return it->second;
  if (auto it = group.streams.find(id); it != group.streams.end()) return it->second;
  // The set before the cache: a new referral's id is then one probe.
  if (!streams_.MayContain(id)) return StreamHead{};
  if (const CachedStream& slot = StreamSlot(id); slot.id == id) return slot.head;
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::StreamHead(id), &v);
  if (s.IsNotFound()) return StreamHead{};
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read stream " + id));
  Result<StreamHead> head = internal::DecodeStreamHead(v);
  if (head.ok()) CacheStream(id, *head);
  return head;
}

Result<std::optional<std::pair<uint64_t, Hash>>> Ledger::Impl::LoadIdempotency(
    const std::string& scoped, const Overlay& group, const Overlay& delta) {
  using Entry = std::optional<std::pair<uint64_t, Hash>>;
  if (auto it = delta.idempotency.find(scoped); it != delta.idempotency.end())
    return Entry(it->second);
  if (auto it = group.idempotency.find(scoped); it != group.idempotency.end())
    return Entry(it->second);
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::Idempotency(scoped), &v);
  if (s.IsNotFound()) return Entry();
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read idempotency key"));
  if (v.size() != 40) return Status::Corruption("idempotency record has the wrong size");
  Hash digest;
  std::copy(v.begin() + 8, v.end(), digest.begin());
  return Entry(std::make_pair(keys::GetU64(v), digest));
}

Result<Event> Ledger::Impl::LoadWrittenEvent(uint64_t seq, const Overlay& group,
                                             const Overlay& delta) {
  if (const Event* e = delta.FindEvent(seq)) return *e;
  if (const Event* e = group.FindEvent(seq)) return *e;
  if (seq == 0 || seq > written_seq_) return Status::NotFound("no event " + std::to_string(seq));
  std::string v;
  LEDGER_RETURN_IF_ERROR(FromRocks(db_->Get(rocksdb::ReadOptions(), keys::Event(seq), &v),
                                   "read event " + std::to_string(seq)));
  if (v.size() < 32) return Status::Corruption("event " + std::to_string(seq) + " is truncated");
  Result<Event> e = internal::DecodeEvent(std::string_view(v).substr(32));
  if (e.ok()) std::copy(v.begin(), v.begin() + 32, e->hash.begin());
  return e;
}

namespace {
// The field errors of a correction against its target (400), when the target
// is one that may be corrected at all; else OK, the 422 its own check gives.
Status CorrectionFieldsFit(const NewEvent& ev, const RecordCorrected& c,
                           const std::optional<Event>& target) {
  std::optional<EventType> type = target ? CorrectableType(*target, ev.referral_id) : std::nullopt;
  return type ? ValidateCorrectionFields(*type, c.fields) : Status::Ok();
}
}  // namespace

Status Ledger::Impl::LaterCorrectionFieldErrors(const Writer& w, size_t first, const Overlay& group,
                                                const Overlay& delta) {
  std::vector<FieldError> errors;
  for (size_t j = first; j < w.requests.size(); ++j) {
    const NewEvent& ev = w.requests[j].event;
    const auto* c = std::get_if<RecordCorrected>(&ev.data);
    if (!c) continue;
    // A target not written (yet) is the 422 its own check gives; one in a
    // stream the writer may not see is not looked at.
    Result<StreamHead> head = LoadStream(ev.referral_id, group, delta);
    if (!head.ok()) return head.status();
    Status scope;
    LEDGER_RETURN_IF_ERROR(Scope(w, ev, *head, group, delta, &scope));
    if (scope.code() == Code::kNotFound) continue;
    Result<Event> target = LoadWrittenEvent(c->corrects_seq, group, delta);
    if (!target.ok()) continue;
    Status st = InRequest(CorrectionFieldsFit(ev, *c, std::move(target).value()), j,
                          w.requests.size(), w.ctx.batch);
    errors.insert(errors.end(), st.field_errors().begin(), st.field_errors().end());
  }
  return Status::InvalidFields(std::move(errors));
}

Status Ledger::Impl::Scope(const Writer& w, const NewEvent& ev, const StreamHead& head,
                           const Overlay& group, const Overlay& delta, Status* verdict) {
  *verdict = Status::Ok();
  if (!w.ctx.authorize) return Status::Ok();
  const bool exists = head.state != ReferralState::kNone;
  StreamInfo info{exists, head.version(), head.state, head.area, head.provider, {}};
  if (const auto* r = std::get_if<ReferralReceived>(&ev.data); r && !exists) info.area = r->area;
  if (w.ctx.with_placements && exists) {
    std::vector<Event> events;
    for (uint64_t seq : head.seqs) {
      Result<Event> e = LoadWrittenEvent(seq, group, delta);
      if (!e.ok()) return e.status();
      events.push_back(std::move(e).value());
    }
    info.placements = PlacementsOf(events);
  }
  *verdict = w.ctx.authorize(ev, info);
  // A stream that exists is a 409 for a second referral.received, whoever
  // sends it: it is never hidden from one.
  if (verdict->code() == Code::kNotFound &&
      (!exists || TypeOf(ev.data) == EventType::kReferralReceived)) {
    *verdict = Status::Ok();
  }
  return Status::Ok();
}

Status Ledger::Impl::ProcessWriter(const Writer& w, const Overlay& group, Micros now,
                                   Micros recorded_at, Overlay* delta,
                                   std::vector<AppendResult>* results) {
  const size_t count = w.requests.size();
  for (size_t i = 0; i < count; ++i) {
    const AppendRequest& req = w.requests[i];
    const NewEvent& ev = req.event;
    const EventType type = TypeOf(ev.data);
    auto fail = [&](Status st) {
      if (st.code() != Code::kInvalidArgument) {
        // Field errors of any event win (SPEC §8): a later correction may
        // name fields its target, already written, lacks.
        Status later = LaterCorrectionFieldErrors(w, i + 1, group, *delta);
        if (!later.ok()) return later;
      }
      return InRequest(st, i, count, w.ctx.batch);
    };

    Result<StreamHead> loaded = LoadStream(ev.referral_id, group, *delta);
    if (!loaded.ok()) return loaded.status();
    StreamHead head = std::move(loaded).value();

    // The scope check is asked first, though its 403 is reported after
    // field errors (SPEC §8): a stream the writer may not see is checked
    // from here on as one that does not exist.
    Status scope;
    LEDGER_RETURN_IF_ERROR(Scope(w, ev, head, group, *delta, &scope));
    if (scope.code() == Code::kNotFound) {
      head = StreamHead{};
      scope = Status::Ok();
    }
    const bool exists = head.state != ReferralState::kNone;

    // A correction's fields are checked against its target's type (400),
    // when the target is one that may be corrected at all (else 422 below).
    std::optional<Event> target;
    const RecordCorrected* correction = std::get_if<RecordCorrected>(&ev.data);
    if (correction && exists) {
      Result<Event> t = LoadWrittenEvent(correction->corrects_seq, group, *delta);
      if (t.ok()) {
        target = std::move(t).value();
      } else if (t.status().code() != Code::kNotFound) {
        return t.status();
      }
      if (Status st = CorrectionFieldsFit(ev, *correction, target); !st.ok()) return fail(st);
    }

    if (!scope.ok()) return fail(scope);

    // A key is scoped to the credential that sent it (SPEC §8), which the
    // actor names.
    const std::string& actor = w.recorded.empty() ? w.ctx.actor : w.recorded[i].actor;
    std::optional<Hash> digest;
    std::string scoped_key;
    if (req.idempotency_key) {
      digest = RequestDigest(req);
      scoped_key = keys::IdempotencyScope(actor, *req.idempotency_key);
      auto found = LoadIdempotency(scoped_key, group, *delta);
      if (!found.ok()) return found.status();
      if (found->has_value()) {
        if ((*found)->second != *digest) {
          return fail(Status::StateViolation("idempotency_key '" + *req.idempotency_key +
                                             "' was already used with a different body"));
        }
        Result<Event> first = LoadWrittenEvent((*found)->first, group, *delta);
        if (!first.ok()) return first.status();
        results->push_back({first->seq, first->version, first->hash, first->recorded_at, true});
        continue;
      }
    }

    if (type == EventType::kReferralReceived && exists) {
      return fail(Status::Conflict("referral " + ev.referral_id + " has already been received"));
    }
    if (req.expected_version && *req.expected_version != head.version()) {
      return fail(Status::Conflict("expected_version is " + std::to_string(*req.expected_version) +
                                   " but referral " + ev.referral_id + " is at version " +
                                   std::to_string(head.version())));
    }

    if (!exists && type != EventType::kReferralReceived) {
      return fail(Status::StateViolation(std::string(ToString(type)) + " for unknown referral " +
                                         ev.referral_id));
    }
    Result<ReferralState> next = Transition(head.state, ev.data);
    if (!next.ok()) return fail(next.status());
    if (exists && ev.occurred_at < head.last_occurred_at) {
      return fail(Status::StateViolation("occurred_at " + FormatTimestamp(ev.occurred_at) +
                                         " is earlier than the referral's latest event (" +
                                         FormatTimestamp(head.last_occurred_at) +
                                         "); business time never runs backwards"));
    }
    if (correction) {
      const std::string seq = std::to_string(correction->corrects_seq);
      if (!target) return fail(Status::StateViolation("corrects_seq " + seq + " does not exist"));
      if (target->referral_id != ev.referral_id) {
        return fail(Status::StateViolation("corrects_seq " + seq + " belongs to another referral"));
      }
      if (target->type() == EventType::kRecordCorrected) {
        return fail(Status::StateViolation("corrects_seq " + seq + " is itself a correction"));
      }
      if (target->type() == EventType::kAppealDecided) {
        for (const CorrectedField& f : correction->fields) {
          if (f.name == "outcome") {
            return fail(Status::StateViolation("the outcome of appeal.decided " + seq +
                                               " cannot be corrected: it decided a transition"));
          }
        }
      }
    }

    // Accepted.
    Event e;
    e.seq = delta->first_seq + delta->events.size();
    e.version = head.version() + 1;
    e.referral_id = ev.referral_id;
    e.occurred_at = ev.occurred_at;
    e.recorded_at = w.recorded.empty() ? recorded_at : w.recorded[i].recorded_at;
    e.actor = actor;
    if (req.idempotency_key) e.idempotency_key = *req.idempotency_key;
    e.data = ev.data;

    head.seqs.push_back(e.seq);
    head.state = *next;
    head.last_occurred_at = ev.occurred_at;
    if (const auto* r = std::get_if<ReferralReceived>(&ev.data)) {
      head.area = r->area;
    } else if (const auto* o = std::get_if<PlacementOffered>(&ev.data)) {
      head.provider = o->provider;
      head.provider_seq = e.seq;
    } else if (const auto* s = std::get_if<PlacementStarted>(&ev.data)) {
      head.provider = s->provider;
      head.provider_seq = e.seq;
    } else if (correction) {
      for (const CorrectedField& f : correction->fields) {
        if (f.name == "area" && correction->corrects_seq == head.seqs.front()) {
          head.area = std::get<std::string>(f.value);
        }
        if (f.name == "provider" && correction->corrects_seq == head.provider_seq) {
          head.provider = std::get<std::string>(f.value);
        }
      }
    }
    delta->streams[ev.referral_id] = std::move(head);
    if (digest) delta->idempotency[scoped_key] = {e.seq, *digest};
    results->push_back({e.seq, e.version, Hash{}, e.recorded_at, false});
    delta->events.push_back(std::move(e));
  }
  return Status::Ok();
}

void Ledger::Impl::Publish(const TreeHead& head) {
  {
    std::lock_guard l(head_mu_);
    durable_head_ = head;
  }
  durable_.store(head.size, std::memory_order_release);
  std::lock_guard g(listeners_mu_);
  for (auto& f : listeners_) f(head.size);
}

// ---------------------------------------------------------------------------
// Reads

Result<std::string> Ledger::Impl::GetStored(uint64_t seq) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::Event(seq), &v);
  if (s.IsNotFound()) return Status::NotFound("no event with seq " + std::to_string(seq));
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read event " + std::to_string(seq)));
  if (v.size() < 32 + 8)
    return Status::Corruption("event " + std::to_string(seq) + " is truncated");
  return v;
}

namespace {
Result<Event> DecodeStored(std::string_view stored) {
  Result<std::string_view> bytes = CanonicalOf(stored);
  if (!bytes.ok()) return bytes.status();
  Result<Event> e = internal::DecodeEvent(*bytes);
  if (e.ok()) std::copy(stored.begin(), stored.begin() + 32, e->hash.begin());
  return e;
}
}  // namespace

Result<Event> Ledger::Impl::GetEvent(uint64_t seq) const {
  if (seq == 0 || seq > Size()) return Status::NotFound("no event with seq " + std::to_string(seq));
  Result<std::string> stored = GetStored(seq);
  if (!stored.ok()) return stored.status();
  return DecodeStored(*stored);
}

Result<StreamHead> Ledger::Impl::ReadStoredHead(std::string_view id) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::StreamHead(id), &v);
  if (s.IsNotFound()) return Status::NotFound("no referral " + std::string(id));
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read stream"));
  return internal::DecodeStreamHead(v);
}

Result<std::vector<Event>> Ledger::Impl::ReadStream(std::string_view id) const {
  const uint64_t size = Size();
  Result<StreamHead> head = ReadStoredHead(id);
  if (!head.ok()) return head.status();
  std::vector<Event> out;
  for (uint64_t seq : head->seqs) {
    if (seq > size) break;  // written but not yet durable
    Result<Event> e = GetEvent(seq);
    if (!e.ok()) return e.status();
    out.push_back(std::move(e).value());
  }
  if (out.empty()) return Status::NotFound("no referral " + std::string(id));
  return out;
}

Result<StreamInfo> Ledger::Impl::DescribeStream(std::string_view id, bool with_placements) const {
  const uint64_t size = Size();
  Result<StreamHead> head = ReadStoredHead(id);
  if (!head.ok()) return head.status();
  if (head->seqs.empty() || head->seqs.front() > size) {
    return Status::NotFound("no referral " + std::string(id));
  }
  StreamInfo info{true, head->version(), head->state, head->area, head->provider, {}};
  if (with_placements) {
    Result<std::vector<Event>> events = ReadStream(id);
    if (!events.ok()) return events.status();
    info.placements = PlacementsOf(*events);
  }
  return info;
}

Result<std::vector<Event>> Ledger::Impl::ReadFeed(uint64_t after, size_t limit) const {
  std::vector<Event> out;
  if (limit == 0) return out;
  const uint64_t upto = after + std::min<uint64_t>(limit, Size() - std::min(after, Size()));
  LEDGER_RETURN_IF_ERROR(ScanEvents(after, upto, [&out](const Event& e) {
    out.push_back(e);
    return Status::Ok();
  }));
  return out;
}

Status Ledger::Impl::ScanStored(uint64_t after, uint64_t upto,
                                const std::function<Status(uint64_t, std::string_view)>& fn) const {
  upto = std::min(upto, Size());
  if (after >= upto) return Status::Ok();
  // As on the write path: per-key counters cost more than a scan's work.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  rocksdb::ReadOptions ro;
  const std::string end = keys::Event(upto + 1);
  rocksdb::Slice end_slice(end);
  ro.iterate_upper_bound = &end_slice;
  ro.readahead_size = 2 << 20;
  // A scan reads each block once: keeping them would only evict the blocks
  // point reads use.
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  uint64_t expect = after + 1;
  for (it->Seek(keys::Event(expect)); it->Valid() && expect <= upto; it->Next(), ++expect) {
    const rocksdb::Slice key = it->key();
    if (key.size() != 9 || key[0] != keys::kEvent ||
        keys::GetU64(key.ToStringView().substr(1)) != expect) {
      return Status::Corruption("event " + std::to_string(expect) + " is missing");
    }
    LEDGER_RETURN_IF_ERROR(fn(expect, it->value().ToStringView()));
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "read events"));
  if (expect <= upto) return Status::Corruption("event " + std::to_string(expect) + " is missing");
  return Status::Ok();
}

Status Ledger::Impl::ScanEvents(uint64_t after, uint64_t upto,
                                const std::function<Status(const Event&)>& fn) const {
  return ScanStored(after, upto, [&fn](uint64_t, std::string_view stored) {
    Result<Event> e = DecodeStored(stored);
    if (!e.ok()) return e.status();
    return fn(*e);
  });
}

Status Ledger::Impl::ScanBriefs(uint64_t after, uint64_t upto,
                                const std::function<Status(const EventBrief&)>& fn) const {
  using internal::BriefBlockOf;
  using internal::kBriefBlockEvents;
  upto = std::min(upto, Size());
  if (after >= upto) return Status::Ok();
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  rocksdb::ReadOptions ro;
  const std::string end = keys::BriefBlock(BriefBlockOf(upto) + 1);
  rocksdb::Slice end_slice(end);
  ro.iterate_upper_bound = &end_slice;
  // No fixed read-ahead: a range of the log is a few blocks, and RocksDB's
  // own read-ahead grows as the scan goes on.
  ro.fill_cache = false;  // as ScanStored
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  EventBrief brief;
  uint64_t seq = after + 1;
  for (it->Seek(keys::BriefBlock(BriefBlockOf(seq))); seq <= upto;) {
    const uint64_t block = BriefBlockOf(seq);
    const uint64_t block_upto = std::min(upto, (block + 1) * kBriefBlockEvents);
    // The value is valid until the iterator moves: it moves past a block
    // once the block is read.
    std::string_view in;
    const bool found = it->Valid() && it->key() == keys::BriefBlock(block);
    if (found) in = it->value().ToStringView();
    if (in.empty() || in.front() != internal::kBriefBlockFormat) {
      if (found) it->Next();
      // Not written (the events after the last complete block), or left by
      // a build of another format, or lost: the events themselves.
      LEDGER_RETURN_IF_ERROR(ScanBriefsOfEvents(seq - 1, block_upto, fn));
      seq = block_upto + 1;
      continue;
    }
    in.remove_prefix(1);
    for (uint64_t s = block * kBriefBlockEvents + 1; s <= block_upto; ++s) {
      LEDGER_RETURN_IF_ERROR(internal::ReadBriefRecord(&in, s, &brief));
      if (s >= seq) LEDGER_RETURN_IF_ERROR(fn(brief));
    }
    if (block_upto == (block + 1) * kBriefBlockEvents && !in.empty()) {
      return Status::Corruption("brief block " + std::to_string(block) +
                                " holds more than its events");
    }
    it->Next();
    seq = block_upto + 1;
  }
  return FromRocks(it->status(), "read brief blocks");
}

Status Ledger::Impl::ScanBriefsOfEvents(uint64_t after, uint64_t upto,
                                        const std::function<Status(const EventBrief&)>& fn) const {
  EventBrief brief;
  return ScanStored(after, upto, [&](uint64_t seq, std::string_view stored) {
    LEDGER_RETURN_IF_ERROR(DecodeStoredBrief(seq, stored, &brief));
    return fn(brief);
  });
}

Result<ViewStore*> Ledger::Impl::OpenViewStore(const std::string& name) {
  if (!ValidViewStoreName(name)) {
    return Status::InvalidArgument("view store name " + name + " is not valid");
  }
  std::lock_guard l(views_mu_);
  auto it = views_.find(name);
  if (it != views_.end()) return static_cast<ViewStore*>(it->second.get());
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  LEDGER_RETURN_IF_ERROR(FromRocks(db_->CreateColumnFamily(view_family_options_, name, &cf),
                                   "create view store " + name));
  families_.push_back(cf);
  auto store = std::make_unique<RocksViewStore>(name, db_.get(), cf);
  ViewStore* out = store.get();
  views_[name] = std::move(store);
  return out;
}

Result<uint64_t> Ledger::Impl::SeqAtTime(Micros t) const {
  uint64_t lo = 0, hi = Size();  // invariant: recorded_at(lo) <= t (seq 0 is -inf)
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    Result<Event> e = GetEvent(mid);
    if (!e.ok()) return e.status();
    if (e->recorded_at <= t) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

Result<Hash> Ledger::Impl::ReadNode(unsigned level, uint64_t index) const {
  if (level < keys::kFirstStoredLevel) {
    // Not stored: recomputed from the (at most 2^level) events beneath it.
    if (level == 0) {
      Result<std::string> stored = GetStored(index + 1);
      if (!stored.ok()) return stored.status();
      return LeafHash(std::string_view(*stored).substr(32));
    }
    Result<Hash> left = ReadNode(level - 1, 2 * index);
    if (!left.ok()) return left;
    Result<Hash> right = ReadNode(level - 1, 2 * index + 1);
    if (!right.ok()) return right;
    return NodeHash(*left, *right);
  }
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::MerkleNode(level, index), &v);
  if (s.IsNotFound() || (s.ok() && v.size() != 32)) {
    return Status::Corruption("Merkle node level " + std::to_string(level) + " index " +
                              std::to_string(index) + " is missing");
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read Merkle node"));
  Hash h;
  std::copy(v.begin(), v.end(), h.begin());
  return h;
}

TreeHead Ledger::Impl::Head() const {
  std::lock_guard l(head_mu_);
  return durable_head_;
}

Result<TreeHead> Ledger::Impl::HeadAt(uint64_t size) const {
  TreeHead current = Head();
  if (size == current.size) return current;
  if (size > current.size) {
    return Status::NotFound("the ledger has " + std::to_string(current.size) + " events, not " +
                            std::to_string(size));
  }
  if (size == 0) return TreeHead{0, EmptyTreeRoot(), 0};
  Result<Hash> root = SubtreeRoot(Nodes(), 0, size);
  if (!root.ok()) return root.status();
  Result<Event> last = GetEvent(size);
  if (!last.ok()) return last.status();
  return TreeHead{size, *root, last->recorded_at};
}

Result<SignedTreeHead> Ledger::Impl::SignedHead(uint64_t size) const {
  Result<TreeHead> head = HeadAt(size);
  if (!head.ok()) return head.status();
  SignedTreeHead sth = signer_->Sign(*head);
  std::string existing;
  if (db_->Get(rocksdb::ReadOptions(), keys::SignedHead(size), &existing).ok()) return sth;
  // Keep it, so Verify() can show later that the ledger still matches every
  // head it handed out. Ed25519 is deterministic: re-signing gives the same.
  std::string v;
  keys::PutU64(static_cast<uint64_t>(sth.head.timestamp), &v);
  v.append(AsBytes(sth.head.root));
  v.append(sth.signature);
  LEDGER_RETURN_IF_ERROR(
      FromRocks(db_->Put(rocksdb::WriteOptions(), keys::SignedHead(size), v), "store signed head"));
  return sth;
}

Result<std::vector<Hash>> Ledger::Impl::InclusionProof(uint64_t seq, uint64_t size) const {
  if (size > Size())
    return Status::NotFound("the ledger has fewer than " + std::to_string(size) + " events");
  if (seq == 0 || seq > size) {
    return Status::BadField("seq", "must be from 1 to size (" + std::to_string(size) + ")");
  }
  return MakeInclusionProof(Nodes(), seq - 1, size);
}

Result<std::vector<Hash>> Ledger::Impl::ConsistencyProof(uint64_t from, uint64_t to) const {
  if (to > Size())
    return Status::NotFound("the ledger has fewer than " + std::to_string(to) + " events");
  if (from == 0 || from > to) {
    return Status::BadField("from", "must be from 1 to `to` (" + std::to_string(to) + ")");
  }
  return MakeConsistencyProof(Nodes(), from, to);
}

// ---------------------------------------------------------------------------
// Verify

VerifyReport Ledger::Impl::Verify(
    const std::function<void(uint64_t, uint64_t)>& on_progress) const {
  VerifyReport report;
  auto bad = [&](uint64_t seq, std::string problem) {
    report.ok = false;
    report.first_bad_seq = seq;
    report.problem = std::move(problem);
    return report;
  };
  // One consistent snapshot, so that appends made meanwhile are neither half
  // seen nor mistaken for damage. Its size is the head record it holds
  // (written in the same batch as the events it covers).
  struct SnapshotRelease {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snapshot;
    ~SnapshotRelease() { db->ReleaseSnapshot(snapshot); }
  } snapshot{db_.get(), db_->GetSnapshot()};
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.snapshot = snapshot.snapshot;
  std::string head;
  rocksdb::Status head_status = db_->Get(ro, keys::Head(), &head);
  if (!head_status.ok() && !head_status.IsNotFound()) return bad(0, head_status.ToString());
  if (head_status.ok() && head.size() != 40) return bad(0, "the head record has the wrong size");
  const uint64_t size = head_status.ok() ? keys::GetU64(head) : 0;
  std::unique_ptr<rocksdb::Iterator> events(db_->NewIterator(ro));
  std::unique_ptr<rocksdb::Iterator> nodes(db_->NewIterator(ro));
  std::unique_ptr<rocksdb::Iterator> blocks(db_->NewIterator(ro));
  events->Seek(std::string(1, keys::kEvent));
  nodes->Seek(std::string(1, keys::kMerkleNode));
  blocks->Seek(std::string(1, keys::kBriefBlock));
  // The brief block being recomputed, and where each of its records begins.
  std::string block(1, internal::kBriefBlockFormat);
  std::vector<size_t> record_at;
  record_at.reserve(internal::kBriefBlockEvents);

  Hash chain{};
  Micros last_recorded = INT64_MIN;
  CompactRange tree;
  std::unordered_map<std::string, uint64_t> versions;
  std::map<uint64_t, TreeHead> heads_to_check;  // size -> recomputed head, for signed heads
  {
    std::unique_ptr<rocksdb::Iterator> heads(db_->NewIterator(ro));
    for (heads->Seek(std::string(1, keys::kSignedHead));
         heads->Valid() && heads->key().starts_with(std::string(1, keys::kSignedHead));
         heads->Next()) {
      uint64_t sz = keys::GetU64(heads->key().ToStringView().substr(1));
      heads_to_check[sz] = TreeHead{sz, EmptyTreeRoot(), 0};
    }
  }

  for (uint64_t seq = 1; seq <= size; ++seq, events->Next()) {
    if (on_progress && seq % 65536 == 0) on_progress(seq, size);
    if (!events->Valid() || events->key() != keys::Event(seq)) {
      return bad(seq, "event is missing");
    }
    std::string_view stored = events->value().ToStringView();
    if (stored.size() < 40) return bad(seq, "stored event is truncated");
    std::string_view bytes = stored.substr(32);
    chain = Sha256({AsBytes(chain), bytes});
    if (std::memcmp(chain.data(), stored.data(), 32) != 0) {
      return bad(seq, "chain hash does not match the stored bytes");
    }
    Result<Event> e = internal::DecodeEvent(bytes);
    if (!e.ok()) return bad(seq, e.status().message());
    if (e->seq != seq) return bad(seq, "envelope names seq " + std::to_string(e->seq));
    if (e->recorded_at < last_recorded) return bad(seq, "recorded_at runs backwards");
    last_recorded = e->recorded_at;
    uint64_t& version = versions[e->referral_id];
    if (e->version != version + 1) {
      return bad(seq,
                 "version " + std::to_string(e->version) + " follows " + std::to_string(version));
    }
    version = e->version;

    std::string problem;
    tree.Append(LeafHash(bytes), [&](unsigned level, uint64_t index, const Hash& h) {
      if (!problem.empty() || level < keys::kFirstStoredLevel) return;
      if (!nodes->Valid() || nodes->key() != keys::MerkleNode(level, index) ||
          nodes->value() != rocksdb::Slice(reinterpret_cast<const char*>(h.data()), h.size())) {
        problem = "Merkle node level " + std::to_string(level) + " index " + std::to_string(index) +
                  " does not match";
        return;
      }
      nodes->Next();
    });
    if (!problem.empty()) return bad(seq, problem);

    record_at.push_back(block.size());
    internal::AppendBriefRecord(BriefOf(*e), bytes, &block);
    if (seq % internal::kBriefBlockEvents == 0) {
      const uint64_t first = seq - internal::kBriefBlockEvents + 1;
      if (!blocks->Valid() || blocks->key() != keys::BriefBlock(internal::BriefBlockOf(seq))) {
        return bad(first, "brief block of events " + std::to_string(first) + " to " +
                              std::to_string(seq) + " is missing");
      }
      const std::string_view stored = blocks->value().ToStringView();
      if (stored != block) {
        // The record holding the first byte that differs names the event.
        const size_t at = static_cast<size_t>(
            std::mismatch(block.begin(), block.end(), stored.begin(), stored.end()).first -
            block.begin());
        const size_t i = static_cast<size_t>(
            std::upper_bound(record_at.begin(), record_at.end(), at) - record_at.begin());
        const uint64_t named = first + (i == 0 ? 0 : i - 1);
        return bad(named, "brief copy does not match the event");
      }
      blocks->Next();
      block.assign(1, internal::kBriefBlockFormat);
      record_at.clear();
    }
    if (auto it = heads_to_check.find(seq); it != heads_to_check.end()) {
      it->second.root = tree.Root();
      it->second.timestamp = e->recorded_at;
    }
    ++report.events_checked;
  }
  if (events->Valid() && events->key().starts_with(std::string(1, keys::kEvent))) {
    return bad(size + 1, "an event follows the head");
  }
  if (nodes->Valid() && nodes->key().starts_with(std::string(1, keys::kMerkleNode))) {
    return bad(0, "a Merkle node follows the last event's");
  }
  if (blocks->Valid() && blocks->key().starts_with(std::string(1, keys::kBriefBlock))) {
    return bad(0, "a brief block follows the last complete one");
  }
  if (size > 0 && std::memcmp(head.data() + 8, chain.data(), 32) != 0) {
    return bad(0, "the head record does not match the events");
  }
  for (const auto& [sz, expected] : heads_to_check) {
    if (sz > size) continue;
    std::string v;
    if (!db_->Get(ro, keys::SignedHead(sz), &v).ok() || v.size() != 8 + 32 + 64) {
      return bad(0, "signed head of size " + std::to_string(sz) + " is unreadable");
    }
    SignedTreeHead sth;
    sth.head.size = sz;
    sth.head.timestamp = static_cast<Micros>(keys::GetU64(v));
    std::copy(v.begin() + 8, v.begin() + 40, sth.head.root.begin());
    sth.signature = v.substr(40);
    if (sth.head != expected) {
      return bad(sz, "signed head of size " + std::to_string(sz) + " does not match the events");
    }
    if (!VerifyTreeHead(sth, signer_->public_key())) {
      return bad(0, "signed head of size " + std::to_string(sz) + " has a bad signature");
    }
    ++report.signed_heads_checked;
  }
  return report;
}

// ---------------------------------------------------------------------------
// Ledger, the public face

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& dir, LedgerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  LEDGER_RETURN_IF_ERROR(impl->Open(dir));
  impl->Start();
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Result<std::vector<AppendResult>> Ledger::Append(std::span<const AppendRequest> requests,
                                                 const WriteContext& ctx) {
  std::promise<Result<std::vector<AppendResult>>> promise;
  auto future = promise.get_future();
  impl_->AppendAsync(
      std::vector<AppendRequest>(requests.begin(), requests.end()), ctx,
      [&promise](Result<std::vector<AppendResult>> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Ledger::AppendAsync(std::vector<AppendRequest> requests, WriteContext ctx,
                         AppendCallback done) {
  impl_->AppendAsync(std::move(requests), std::move(ctx), std::move(done));
}

Result<std::vector<AppendResult>> Ledger::AppendRecorded(
    std::span<const RecordedRequest> requests) {
  return impl_->AppendRecorded(requests);
}

Result<AppendResult> Ledger::Append(const AppendRequest& request, const WriteContext& ctx) {
  auto r = Append(std::span<const AppendRequest>(&request, 1), ctx);
  if (!r.ok()) return r.status();
  return r->front();
}

uint64_t Ledger::Size() const { return impl_->Size(); }
Result<Event> Ledger::GetEvent(uint64_t seq) const { return impl_->GetEvent(seq); }
Result<std::string> Ledger::GetCanonicalBytes(uint64_t seq) const {
  if (seq == 0 || seq > Size()) return Status::NotFound("no event with seq " + std::to_string(seq));
  Result<std::string> stored = impl_->GetStored(seq);
  if (!stored.ok()) return stored.status();
  return stored->substr(32);
}
Result<std::vector<Event>> Ledger::ReadStream(std::string_view id) const {
  return impl_->ReadStream(id);
}
Result<StreamInfo> Ledger::DescribeStream(std::string_view referral_id,
                                          bool with_placements) const {
  return impl_->DescribeStream(referral_id, with_placements);
}
Result<std::vector<Event>> Ledger::ReadFeed(uint64_t after, size_t limit) const {
  return impl_->ReadFeed(after, limit);
}
Status Ledger::ScanEvents(uint64_t after, uint64_t upto,
                          const std::function<Status(const Event&)>& fn) const {
  return impl_->ScanEvents(after, upto, fn);
}

Status Ledger::ScanBriefs(uint64_t after, uint64_t upto,
                          const std::function<Status(const EventBrief&)>& fn) const {
  return impl_->ScanBriefs(after, upto, fn);
}
Result<uint64_t> Ledger::SeqAtTime(Micros t) const { return impl_->SeqAtTime(t); }
Result<ViewStore*> Ledger::OpenViewStore(const std::string& name) {
  return impl_->OpenViewStore(name);
}
TreeHead Ledger::Head() const { return impl_->Head(); }
Result<TreeHead> Ledger::HeadAt(uint64_t size) const { return impl_->HeadAt(size); }
Result<SignedTreeHead> Ledger::SignedHead(uint64_t size) const { return impl_->SignedHead(size); }
Result<std::vector<Hash>> Ledger::InclusionProof(uint64_t seq, uint64_t size) const {
  return impl_->InclusionProof(seq, size);
}
Result<std::vector<Hash>> Ledger::ConsistencyProof(uint64_t from, uint64_t to) const {
  return impl_->ConsistencyProof(from, to);
}
const std::string& Ledger::PublicKey() const { return impl_->signer().public_key(); }
const std::string& Ledger::PublicKeyPem() const { return impl_->signer().public_key_pem(); }
VerifyReport Ledger::Verify(const std::function<void(uint64_t, uint64_t)>& on_progress) const {
  return impl_->Verify(on_progress);
}
void Ledger::Subscribe(std::function<void(uint64_t)> listener) {
  impl_->Subscribe(std::move(listener));
}

}  // namespace ledger
