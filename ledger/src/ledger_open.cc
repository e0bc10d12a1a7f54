// Opening a ledger: its database, signing key, commit log replay, idempotency keys of older builds
// and brief blocks; and closing it.
#include <stdlib.h>

#include <cerrno>
#include <cstdarg>
#include <fstream>
#include <sstream>

#include "ledger_impl.h"

namespace ledger {

// ---------------------------------------------------------------------------
// Open and close

rocksdb::Options Ledger::Impl::DatabaseOptions() {
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
  return opts;
}

Status Ledger::Impl::Open(const std::string& dir) {
  if (read_only()) return OpenReadOnly(dir);
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
  const rocksdb::Options opts = DatabaseOptions();
  const std::string path = dir + keys::kDatabaseDir;
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
  LEDGER_RETURN_IF_ERROR(LoadHead());
  // After the database's lock is held: a second writer (a rotation beside
  // a running ledgerd) is refused before it makes a key.
  LEDGER_RETURN_IF_ERROR(LoadKeys(dir));
  LEDGER_RETURN_IF_ERROR(LoadKeyHistory());
  return PrepareBriefBlocks();
}

Status Ledger::Impl::LoadKeys(const std::string& dir) {
  const std::string path =
      options_.signing_key_file.empty() ? dir + keys::kSigningKeyFile : options_.signing_key_file;
  // A key is made only for a new ledger or a rotation: a path mistyped for
  // a ledger's key must not make a stray key.
  const bool make = !read_only() && (!Ledger::Exists(dir) || options_.adopt_signing_key);
  Result<std::unique_ptr<Signer>> signer = make ? Signer::LoadOrCreate(path) : Signer::Load(path);
  if (signer.ok()) {
    signer_ = std::move(signer).value();
    public_key_ = signer_->public_key();
    public_key_pem_ = signer_->public_key_pem();
    return Status::Ok();
  }
  if (!read_only() || signer.status().code() != Code::kNotFound) return signer.status();
  // Read-only, without the signing key: the public key of the directory.
  Result<std::string> key = Ledger::ReadPublicKey(dir);
  if (!key.ok()) return key.status();
  public_key_ = *key;
  std::ifstream in(Ledger::SigningKeyPath(dir) + ".pub");
  std::stringstream pem;
  pem << in.rdbuf();
  public_key_pem_ = pem.str();
  return Status::Ok();
}

Status Ledger::Impl::LoadKeyHistory() {
  key_history_.clear();
  std::unique_ptr<rocksdb::Iterator> it = DbIterator(rocksdb::ReadOptions());
  const std::string prefix(1, keys::kKeyPeriod);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != 9 || it->value().size() != 32) {
      return Status::Corruption("a key history record has the wrong size");
    }
    key_history_.push_back(
        {keys::GetU64(std::string_view(it->key().data() + 1, 8)), it->value().ToString()});
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "read the key history"));
  const uint64_t size = durable_head_.size;
  if (read_only()) {
    // A ledger that has not been opened by a writer since keys were kept.
    if (key_history_.empty()) key_history_.push_back({0, public_key_});
    return Status::Ok();
  }
  const std::string vkey = note::VerifierKey(options_.origin, public_key_);
  if (!key_history_.empty() && key_history_.back().public_key == public_key_) return Status::Ok();
  if (key_history_.empty() && !options_.adopt_signing_key) {
    // The first open since keys were kept: the key must be the one whose
    // public key the directory holds.
    Result<std::string> known = Ledger::ReadPublicKey(dir_);
    if (known.ok() && *known != public_key_) {
      return Status::InvalidArgument("the signing key (vkey " + vkey +
                                     ") is not this ledger's (vkey " +
                                     note::VerifierKey(options_.origin, *known) + ")");
    }
  }
  if (!key_history_.empty() && !options_.adopt_signing_key) {
    return Status::InvalidArgument(
        "the signing key (vkey " + vkey + ") is not the one this ledger signs with since size " +
        std::to_string(key_history_.back().from_size) + " (vkey " +
        note::VerifierKey(options_.origin, key_history_.back().public_key) +
        "): give that key, or move to this one with `ledgerctl key rotate`");
  }
  if (!key_history_.empty() && key_history_.back().from_size >= size) {
    return Status::InvalidArgument("the key was rotated at size " + std::to_string(size) +
                                   " already: append before rotating again");
  }
  const uint64_t from = key_history_.empty() ? 0 : size;
  LEDGER_RETURN_IF_ERROR(
      FromRocks(db_->Put(rocksdb::WriteOptions(), keys::KeyPeriod(from), public_key_),
                "record the signing key"));
  key_history_.push_back({from, public_key_});
  // The directory's public key is the key that signs now, wherever the
  // signing key is kept.
  if (!options_.signing_key_file.empty() || from > 0) {
    LEDGER_RETURN_IF_ERROR(internal::WriteFileAtomically(Ledger::SigningKeyPath(dir_) + ".pub",
                                                         public_key_pem_, 0600));
  }
  return Status::Ok();
}

bool Ledger::Impl::SignedByItsKey(const SignedTreeHead& sth) const {
  // A key signed while the tree grew from its from_size to the next key's:
  // heads of any size up to the next key's from_size (it may sign an
  // earlier head again); the last key, any.
  for (size_t i = 0; i < key_history_.size(); ++i) {
    const bool in_period =
        i + 1 == key_history_.size() || sth.head.size <= key_history_[i + 1].from_size;
    if (in_period && VerifyTreeHead(sth, key_history_[i].public_key)) return true;
  }
  return false;
}

namespace {

// RocksDB's info log of a read-only open: dropped. It would otherwise be a
// file, and the ledger's directory is not to be written.
class SilentLogger final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

// Puts the operations of a commit log record (a WriteBatch of the default
// column family's puts) into an indexed batch, in order. Anything else
// was never written by the ledger: kCorruption.
class IntoIndex final : public rocksdb::WriteBatch::Handler {
 public:
  explicit IntoIndex(rocksdb::WriteBatchWithIndex* out) : out_(out) {}
  rocksdb::Status PutCF(uint32_t family, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    return family == 0 ? out_->Put(key, value) : Foreign();
  }
  rocksdb::Status DeleteCF(uint32_t family, const rocksdb::Slice& key) override {
    return family == 0 ? out_->Delete(key) : Foreign();
  }
  rocksdb::Status SingleDeleteCF(uint32_t, const rocksdb::Slice&) override { return Foreign(); }
  rocksdb::Status DeleteRangeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return Foreign();
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return Foreign();
  }
  rocksdb::Status PutEntityCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return Foreign();
  }
  rocksdb::Status PutBlobIndexCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return Foreign();
  }

 private:
  static rocksdb::Status Foreign() {
    return rocksdb::Status::Corruption(
        "a commit log record holds an operation the ledger never writes");
  }
  rocksdb::WriteBatchWithIndex* out_;
};

}  // namespace

Status Ledger::Impl::OpenReadOnly(const std::string& dir) {
  dir_ = dir;
  if (!Ledger::Exists(dir)) return Status::NotFound(dir + " holds no ledger");
  LEDGER_RETURN_IF_ERROR(LoadKeys(dir));

  rocksdb::Options opts = DatabaseOptions();
  opts.create_if_missing = false;
  // A secondary keeps every table file open from its open on, so that one
  // the writer deletes meanwhile (after a compaction) is still read.
  opts.max_open_files = -1;
  opts.info_log = std::make_shared<SilentLogger>();
  // The secondary's own directory, outside the ledger's.
  std::error_code ec;
  const std::filesystem::path tmp = std::filesystem::temp_directory_path(ec);
  std::string pattern = (tmp / "ledger-read-only-XXXXXX").string();
  if (ec || ::mkdtemp(pattern.data()) == nullptr) {
    return Status::IOError("cannot make a temporary directory for a read-only open: " +
                           std::string(std::strerror(errno)));
  }
  secondary_dir_ = pattern;
  const std::string path = dir + keys::kDatabaseDir;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(opts)}};
  // Each try opens the database as the writer has it now, then reads the
  // commit log's records past the database's head. A try that sees the
  // writer move on in between (a gap in the log, or a file gone under the
  // open) is made again; the last one's prefix is kept.
  constexpr int kTries = 6;
  Status st;
  for (int attempt = 1; attempt <= kTries; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
    unflushed_.reset();
    if (db_) {
      for (rocksdb::ColumnFamilyHandle* h : families_) db_->DestroyColumnFamilyHandle(h);
    }
    families_.clear();
    db_.reset();
    rocksdb::DB* raw = nullptr;
    st = FromRocks(rocksdb::DB::OpenAsSecondary(rocksdb::DBOptions(opts), path, secondary_dir_,
                                                families, &families_, &raw),
                   "open " + dir + " read-only");
    if (!st.ok()) continue;
    db_.reset(raw);
    Result<uint64_t> start = ReadLeadingU64(keys::LogStart(), 8);
    Result<uint64_t> head = ReadLeadingU64(keys::Head(), 40);
    if (!start.ok() || !head.ok()) return !start.ok() ? start.status() : head.status();
    auto unflushed = std::make_unique<rocksdb::WriteBatchWithIndex>(rocksdb::BytewiseComparator(),
                                                                    0, /*overwrite_key=*/true);
    bool replayed = false;
    auto replay = [&](uint64_t first, uint64_t last, std::string_view payload) -> Status {
      rocksdb::WriteBatch batch{std::string(payload)};
      IntoIndex into(unflushed.get());
      LEDGER_RETURN_IF_ERROR(FromRocks(batch.Iterate(&into), "read the commit log"));
      std::string now;
      LEDGER_RETURN_IF_ERROR(FromRocks(
          unflushed->GetFromBatchAndDB(db_.get(), rocksdb::ReadOptions(), keys::Head(), &now),
          "read the commit log"));
      if (now.size() != 40 || keys::GetU64(now) != last) {
        return Status::Corruption("commit log record of events " + std::to_string(first) + ".." +
                                  std::to_string(last) + " does not leave the head at " +
                                  std::to_string(last));
      }
      replayed = true;
      return Status::Ok();
    };
    bool whole = true;
    st = internal::CommitLog::Read(dir + "/log", *start, *head, replay, &whole);
    if (!st.ok()) return st;
    if (replayed) unflushed_ = std::move(unflushed);
    if (whole) break;
  }
  if (!st.ok()) return st;
  LEDGER_RETURN_IF_ERROR(LoadHead());
  return LoadKeyHistory();
}

Status Ledger::Impl::LoadHead() {
  std::string head;
  rocksdb::Status s = DbGet(rocksdb::ReadOptions(), keys::Head(), &head);
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
  if (!DbGet(rocksdb::ReadOptions(), keys::Event(written_seq_ + 1), &after).IsNotFound()) {
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
  return Status::Ok();
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
  rocksdb::Status s = DbGet(ro, key, &value);
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
  auto log = internal::CommitLog::Open(dir + "/log", options_.log_segment_bytes, *start, *head,
                                       replay, options_.direct_log_writes);
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
  db_.reset();
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(secondary_dir_, ec);
  }
}

bool Ledger::Exists(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_directory(dir + keys::kDatabaseDir, ec) &&
         std::filesystem::exists(dir + keys::kSigningKeyFile + std::string(".pub"), ec);
}

std::string Ledger::SigningKeyPath(const std::string& dir) { return dir + keys::kSigningKeyFile; }

Result<std::string> Ledger::ReadPublicKey(const std::string& dir) {
  const std::string path = SigningKeyPath(dir) + ".pub";
  std::ifstream in(path);
  std::stringstream pem;
  pem << in.rdbuf();
  if (!in) return Status::NotFound(dir + " holds no ledger (no " + path + ")");
  std::optional<std::string> key = PublicKeyFromPem(pem.str());
  if (!key) return Status::Corruption(path + " is not an Ed25519 public key");
  return *key;
}

}  // namespace ledger
