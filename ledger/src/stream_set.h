// The set of every stream id in a ledger, kept in memory as 64-bit
// fingerprints, so that the writer can tell a new referral's id from an
// existing one without reading the database.
//
// Why: most streams begin with a `referral.received` whose id is new, and
// the writer must prove that no head exists for it. In RocksDB that proof is
// a search of the memtable and a filter probe of every table that could
// hold the key: about a sixth of the commit thread's time when every append
// is a new referral (bench/RESULTS.md). Here it is one hash and, mostly, one
// probe.
//
// Contract: Insert() is called for every stream id the database holds (at
// open, by a scan) and for every stream the writer creates, before any
// later group is checked. Then MayContain(id) is false only for ids the
// database does not hold. It may be true for a new id whose fingerprint
// another id shares (probability about n / 2^64 for n streams): the caller
// settles "maybe" by reading the database, so the set is never wrong, only
// sometimes not decisive.
//
// Open addressing with linear probing, kept at most half full: 8 bytes a
// slot, 16 to 32 bytes a stream (32 MiB for a million streams).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace ledger::internal {

class StreamSet {
 public:
  bool MayContain(std::string_view id) const {
    const uint64_t fp = Fingerprint(id);
    for (size_t i = fp & mask(); slots_[i] != 0; i = (i + 1) & mask()) {
      if (slots_[i] == fp) return true;
    }
    return false;
  }

  void Insert(std::string_view id) {
    if (Place(Fingerprint(id)) && 2 * size_ > slots_.size()) Grow();
  }

  size_t size() const { return size_; }

 private:
  // 0 marks an empty slot, so no fingerprint is 0.
  static uint64_t Fingerprint(std::string_view id) {
    const uint64_t h = std::hash<std::string_view>{}(id);
    return h == 0 ? 1 : h;
  }
  size_t mask() const { return slots_.size() - 1; }

  // True when fp was not there.
  bool Place(uint64_t fp) {
    size_t i = fp & mask();
    for (; slots_[i] != 0; i = (i + 1) & mask()) {
      if (slots_[i] == fp) return false;
    }
    slots_[i] = fp;
    ++size_;
    return true;
  }

  void Grow() {
    std::vector<uint64_t> old(slots_.size() * 2);
    old.swap(slots_);
    size_ = 0;
    for (uint64_t fp : old) {
      if (fp != 0) Place(fp);
    }
  }

  std::vector<uint64_t> slots_ = std::vector<uint64_t>(1024);  // a power of two
  size_t size_ = 0;
};

}  // namespace ledger::internal
