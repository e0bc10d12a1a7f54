// Verify(): everything recomputed from the stored bytes.
#include "ledger_impl.h"

namespace ledger {

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
  // (written in the same batch as the events it covers). A read-only open
  // never changes once open, so it needs none (and a RocksDB secondary
  // instance takes none).
  struct SnapshotRelease {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snapshot;
    ~SnapshotRelease() {
      if (snapshot) db->ReleaseSnapshot(snapshot);
    }
  } snapshot{db_.get(), read_only() ? nullptr : db_->GetSnapshot()};
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.snapshot = snapshot.snapshot;
  std::string head;
  rocksdb::Status head_status = DbGet(ro, keys::Head(), &head);
  if (!head_status.ok() && !head_status.IsNotFound()) return bad(0, head_status.ToString());
  if (head_status.ok() && head.size() != 40) return bad(0, "the head record has the wrong size");
  const uint64_t size = head_status.ok() ? keys::GetU64(head) : 0;
  std::unique_ptr<rocksdb::Iterator> events = DbIterator(ro);
  std::unique_ptr<rocksdb::Iterator> nodes = DbIterator(ro);
  std::unique_ptr<rocksdb::Iterator> blocks = DbIterator(ro);
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
    std::unique_ptr<rocksdb::Iterator> heads = DbIterator(ro);
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
    if (!DbGet(ro, keys::SignedHead(sz), &v).ok() || v.size() != 8 + 32 + 64) {
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
    if (!SignedByItsKey(sth)) {
      return bad(0, "signed head of size " + std::to_string(sz) + " has a bad signature");
    }
    ++report.signed_heads_checked;
  }
  return report;
}

}  // namespace ledger
