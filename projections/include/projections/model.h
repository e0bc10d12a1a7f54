// The read model every view is computed from: each referral's events,
// reduced to the fields the views read, with corrections pre-merged.
//
// It keeps every event (32 bytes each), not just the latest state, so that
// a view can be computed as the ledger stood at any seq (SPEC §4 as_of)
// without replaying the log: a referral's facts at as_of come from its
// events with seq <= as_of.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/event.h"
#include "ledger/state_machine.h"
#include "ledger/status.h"

namespace projections {

// One event of a referral, reduced.
struct Rec {
  uint64_t seq = 0;
  ledger::Micros occurred_at = 0;
  ledger::EventType type{};
  // Small enumerations of the data (of the target's data for
  // record.corrected), as uint8 of the ledger's enums:
  //   referral.received: referrer, substance, age_band, sex, ethnicity, disability
  //   referral.refused:  stage, reason
  //   appeal.decided:    outcome
  std::array<uint8_t, 7> e{};
  // An interned string of the data: area (referral.received, in areas()),
  // decided_by (referral.refused, in deciders()), provider
  // (placement.offered and .started, in providers()).
  uint32_t x = 0;
  // record.corrected only: the index, in its referral, of the event it
  // corrects. Its e and x then hold that event's data with this and every
  // earlier correction of it merged, so the latest correction within an
  // as_of is all a view needs.
  uint32_t target = 0;
};

// Indices of Rec::e for each type.
namespace slot {
inline constexpr int kReferrer = 0, kSubstance = 1, kAgeBand = 2, kSex = 3, kEthnicity = 4,
                     kDisability = 5;
inline constexpr int kStage = 0, kReason = 1;
inline constexpr int kOutcome = 0;
}  // namespace slot

struct Referral {
  std::string id;
  std::vector<Rec> recs;  // in stream (= seq) order
  bool has_corrections = false;
};

// What the views read of one referral as the ledger stood at a seq, with
// corrections within that seq applied.
struct Facts {
  bool exists = false;
  uint32_t area = 0;                  // in ReadModel::areas()
  std::array<uint8_t, 7> received{};  // the receipt's enumerations (slot::k...)
  ledger::Micros received_at = 0;
  // The first decision: the first funding.approved or referral.refused.
  bool decided = false;
  bool first_refused = false;
  ledger::Micros decided_at = 0;
  uint8_t first_reason = 0, first_stage = 0;  // when it was a refusal
  bool upheld = false;                        // an appeal was upheld
  bool started = false;
  ledger::Micros started_at = 0;
  uint32_t start_provider = 0;  // in ReadModel::providers()
  // Where the pathway stood after its last event.
  ledger::ReferralState state = ledger::ReferralState::kNone;
  ledger::Micros last_occurred_at = 0;
  bool offered = false;
  uint32_t offered_provider = 0;  // the latest offer's
  // referral.refused events (first decisions or not), and the first of them.
  uint32_t refusals = 0;
  ledger::Micros refusal_at = 0;
  uint8_t refusal_reason = 0, refusal_stage = 0;
  uint32_t refusal_decider = 0;  // in ReadModel::deciders()
  bool operator==(const Facts&) const = default;
};

// Numbers of strings kept elsewhere (referral ids, pooled strings): an open-addressing
// table of (hash tag, number) in one array, so that finding a referral
// costs a probe of that array and one comparison with the id it names,
// not a walk through separately allocated nodes.
class IdIndex {
 public:
  // The number of `id`, where key(n) gives the string of number n.
  template <typename Key>
  std::optional<uint32_t> Find(std::string_view id, const Key& key) const {
    return Find(id, HashOf(id), key);
  }
  // The same where h = HashOf(id).
  template <typename Key>
  std::optional<uint32_t> Find(std::string_view id, uint64_t h, const Key& key) const {
    if (slots_.empty()) return std::nullopt;
    const auto tag = static_cast<uint32_t>(h >> 32) | 1u;  // 0 marks an empty slot
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return std::nullopt;
      if (static_cast<uint32_t>(slot >> 32) == tag && key(static_cast<uint32_t>(slot)) == id) {
        return static_cast<uint32_t>(slot);
      }
    }
  }
  // For reading ahead: the hash Find would compute, a fetch of the slot it
  // starts at, and the number in the first slot whose tag matches (perhaps
  // not `id`'s: only a hint for prefetching).
  static uint64_t HashOf(std::string_view id) { return std::hash<std::string_view>()(id); }
  void Prefetch(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }
  std::optional<uint32_t> Candidate(uint64_t h) const {
    if (slots_.empty()) return std::nullopt;
    const auto tag = static_cast<uint32_t>(h >> 32) | 1u;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return std::nullopt;
      if (static_cast<uint32_t>(slot >> 32) == tag) return static_cast<uint32_t>(slot);
    }
  }
  // Adds number n for `id`, whose hash is h. REQUIRES: `id` is not in the index.
  void Add(std::string_view id, uint32_t n) { Add(HashOf(id), n); }
  // Makes room for `n` entries, so that adding them does not rehash.
  void Reserve(size_t n);
  void Add(uint64_t h, uint32_t n);
  size_t size() const { return size_; }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(uint64_t); }

 private:
  void Put(uint64_t h, uint32_t n);
  std::vector<uint64_t> slots_;   // tag << 32 | number; 0 when empty
  std::vector<uint64_t> hashes_;  // by number, to grow without the strings
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Interned strings, numbered in order of first appearance.
class StringPool {
 public:
  uint32_t Intern(std::string_view s);
  std::optional<uint32_t> Find(std::string_view s) const;
  const std::string& Get(uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }

 private:
  std::vector<std::string> strings_;
  IdIndex ids_;
};

// A referral's seq range and its facts at its last event: a view as of any
// seq at or after last_seq reads these without walking the events.
struct Summary {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  Facts facts;
};

// How many of the referral's events have seq <= as_of.
size_t CountWithin(const Referral& r, uint64_t as_of);
// The data of event i as corrected by the corrections among the first n
// events: the latest correction of it carries every earlier one merged.
const Rec& Effective(const Referral& r, size_t n, size_t i);
// The state after `rec`, for an event the ledger accepted.
ledger::ReferralState NextState(ledger::ReferralState s, const Rec& rec);
// The facts of the referral's events with seq <= as_of, by walking them.
Facts FactsAt(const Referral& r, uint64_t as_of);

class ReadModel {
 public:
  // Applies the next event of the ledger and, when `encoded` is given,
  // appends the reduced record's encoding to it (see ApplyEncoded).
  // REQUIRES: the ledger accepted it. kInternal when it is not the next seq
  // or does not fit the referral (a model out of step with its log).
  ledger::Status Apply(const ledger::Event& event, std::string* encoded = nullptr);
  // The same from the event's brief (Ledger::ScanBriefs).
  ledger::Status Apply(const ledger::EventBrief& event, std::string* encoded = nullptr);
  // Applies consecutive events as Apply does, fetching the memory each
  // will touch (its referral's index slot, record, events and summary) a
  // few events ahead: a large model is far bigger than the caches, and
  // waiting for that memory one event at a time is most of the cost.
  ledger::Status ApplyAll(std::span<const ledger::EventBrief> events, std::string* encoded);
  // Applies one record encoded by Apply from the front of `in`, consuming
  // it: a checkpoint is reloaded without the log. kCorruption when it does
  // not decode.
  ledger::Status ApplyEncoded(std::string_view* in);
  // Makes room for `referrals` referrals (an empty model about to take a
  // log whose size is known): no copy as the tables grow.
  void Reserve(size_t referrals);

  // The seq of the last event applied (0: none).
  uint64_t applied() const { return applied_; }
  const std::vector<Referral>& referrals() const { return referrals_; }
  // One per referral, in the same order.
  const std::vector<Summary>& summaries() const { return summaries_; }
  // The facts of referral i as of `as_of`, or nullptr when it had no event
  // by then. From its summary when it has no later event; else walked into
  // `scratch`.
  const Facts* FactsOf(size_t i, uint64_t as_of, Facts* scratch) const {
    const Summary& s = summaries_[i];
    if (s.first_seq > as_of) return nullptr;
    if (s.last_seq <= as_of) return &s.facts;
    *scratch = FactsAt(referrals_[i], as_of);
    return scratch;
  }
  std::optional<uint32_t> FindReferral(std::string_view id) const;
  const StringPool& areas() const { return areas_; }
  const StringPool& deciders() const { return deciders_; }
  const StringPool& providers() const { return providers_; }
  // Events applied, and bytes they take in memory (approximately).
  uint64_t MemoryBytes() const;

 private:
  // The pool of Rec::x for data of `type`, or nullptr when it has none.
  StringPool* PoolFor(ledger::EventType type);
  // FindReferral, given the id's hash (IdIndex::HashOf).
  std::optional<uint32_t> FindReferral(std::string_view id, uint64_t id_hash) const;
  // Apply, given the hash of the event's referral id (IdIndex::HashOf).
  ledger::Status ApplyHashed(const ledger::EventBrief& event, uint64_t id_hash,
                             std::string* encoded);
  ledger::Status Add(uint32_t referral, std::string_view new_id, uint64_t id_hash, const Rec& rec);
  // Brings the referral's summary up to its last event, which was just added.
  void Summarise(uint32_t referral);

  static constexpr size_t kRecsReserved = 6;
  uint64_t applied_ = 0;
  std::vector<Referral> referrals_;
  std::vector<Summary> summaries_;
  IdIndex index_;  // referral id -> its number in referrals_
  StringPool areas_, deciders_, providers_;
};

}  // namespace projections
