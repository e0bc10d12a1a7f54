// Reads: events, streams, the feed, briefs, heads, proofs and view stores.
#include "ledger_impl.h"

namespace ledger {

// ---------------------------------------------------------------------------
// Reads

Result<std::string> Ledger::Impl::GetStored(uint64_t seq) const {
  std::string v;
  rocksdb::Status s = DbGet(rocksdb::ReadOptions(), keys::Event(seq), &v);
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
  rocksdb::Status s = DbGet(rocksdb::ReadOptions(), keys::StreamHead(id), &v);
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
  std::unique_ptr<rocksdb::Iterator> it = DbIterator(ro);
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
  std::unique_ptr<rocksdb::Iterator> it = DbIterator(ro);
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
  // A projection over a read-only ledger checkpoints elsewhere
  // (ProjectorOptions::store, a MemoryViewStore).
  if (read_only()) return ReadOnly();
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
  rocksdb::Status s = DbGet(rocksdb::ReadOptions(), keys::MerkleNode(level, index), &v);
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
  if (!signer_) return NoSigningKey();
  SignedTreeHead sth = signer_->Sign(*head);
  std::string existing;
  if (DbGet(rocksdb::ReadOptions(), keys::SignedHead(size), &existing).ok()) return sth;
  // A read-only open keeps nothing: Verify() checks the heads the writer
  // handed out, and this one was handed out by no one but its caller.
  if (read_only()) return sth;
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

Result<std::string> Ledger::Impl::ReadTile(const tiles::Tile& tile, uint64_t size) const {
  if (size > Size())
    return Status::NotFound("the ledger has fewer than " + std::to_string(size) + " events");
  const unsigned level = tile.level * tiles::kTileHeight;
  // The perfect subtrees of 2^level leaves the tree holds.
  const uint64_t nodes = level >= 64 ? 0 : size >> level;
  const uint64_t first = tile.index * tiles::kTileWidth;
  if (tile.width == 0 || tile.width > tiles::kTileWidth ||
      tile.index > (UINT64_MAX >> tiles::kTileHeight) || first + tile.width > nodes) {
    return Status::NotFound("no tile " + tiles::Path(tile) + " in a tree of " +
                            std::to_string(size) + " leaves");
  }
  std::string out;
  if (tile.entries) {
    LEDGER_RETURN_IF_ERROR(
        ScanStored(first, first + tile.width, [&out](uint64_t seq, std::string_view stored) {
          // The stored value is the chain hash, then the bytes.
          const std::string_view bytes = stored.substr(32);
          if (bytes.size() > tiles::kMaxEntryBytes) {
            return Status::Corruption("event " + std::to_string(seq) +
                                      " is longer than an entry bundle holds");
          }
          out.push_back(static_cast<char>(bytes.size() >> 8));
          out.push_back(static_cast<char>(bytes.size() & 0xff));
          out.append(bytes);
          return Status::Ok();
        }));
    return out;
  }
  out.reserve(32 * tile.width);
  for (uint64_t i = 0; i < tile.width; ++i) {
    Result<Hash> node = ReadNode(level, first + i);
    if (!node.ok()) return node.status();
    out.append(AsBytes(*node));
  }
  return out;
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

}  // namespace ledger
