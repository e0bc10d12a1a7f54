#include "projections/model.h"

#include <algorithm>
#include <cstring>

#include "ledger/varint.h"

namespace projections {

using ledger::varint::GetString;
using ledger::varint::GetVarint;
using ledger::varint::PutString;
using ledger::varint::PutVarint;

using ledger::EventType;
using ledger::Status;

uint32_t StringPool::Intern(std::string_view s) {
  if (std::optional<uint32_t> id = Find(s)) return *id;
  const auto id = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(s);
  ids_.Add(s, id);
  return id;
}

std::optional<uint32_t> StringPool::Find(std::string_view s) const {
  return ids_.Find(s, [this](uint32_t id) -> std::string_view { return strings_[id]; });
}

void IdIndex::Add(uint64_t h, uint32_t n) {
  if (hashes_.size() <= n) hashes_.resize(n + 1);
  hashes_[n] = h;
  // At most half full, so that a probe ends soon.
  if (2 * (size_ + 1) > slots_.size()) {
    const size_t capacity = std::max<size_t>(1024, 2 * slots_.size());
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    size_ = 0;
    for (uint32_t m = 0; m < hashes_.size(); ++m) {
      if (m != n) Put(hashes_[m], m);
    }
  }
  Put(h, n);
}

void IdIndex::Reserve(size_t n) {
  hashes_.reserve(n);
  size_t capacity = std::max<size_t>(1024, slots_.size());
  while (capacity < 2 * n) capacity *= 2;
  if (capacity == slots_.size()) return;
  slots_.assign(capacity, 0);
  mask_ = capacity - 1;
  size_ = 0;
  for (uint32_t m = 0; m < hashes_.size(); ++m) Put(hashes_[m], m);
}

void IdIndex::Put(uint64_t h, uint32_t n) {
  const uint64_t tag = static_cast<uint32_t>(h >> 32) | 1u;
  size_t i = h & mask_;
  while (slots_[i] != 0) i = (i + 1) & mask_;
  slots_[i] = tag << 32 | n;
  ++size_;
}

namespace {

template <typename E>
void SetEnum(const ledger::CorrectedField& f, uint8_t* slot) {
  if (const auto* s = std::get_if<std::string>(&f.value)) {
    if (auto v = ledger::ParseEnum<E>(*s)) *slot = static_cast<uint8_t>(*v);
  }
}

// Merges the correction's fields that the views read into `rec` (the
// target's reduced data) and `x` (its string). Other fields (person, notes,
// weeks, dates) do not reach any view.
void MergeCorrection(EventType target_type, const ledger::RecordCorrected& c, Rec* rec,
                     std::string* x) {
  for (const ledger::CorrectedField& f : c.fields) {
    const auto* text = std::get_if<std::string>(&f.value);
    switch (target_type) {
      case EventType::kReferralReceived:
        if (f.name == "area" && text) *x = *text;
        if (f.name == "referrer") SetEnum<ledger::Referrer>(f, &rec->e[slot::kReferrer]);
        if (f.name == "substance") SetEnum<ledger::Substance>(f, &rec->e[slot::kSubstance]);
        if (f.name == "age_band") SetEnum<ledger::AgeBand>(f, &rec->e[slot::kAgeBand]);
        if (f.name == "sex") SetEnum<ledger::Sex>(f, &rec->e[slot::kSex]);
        if (f.name == "ethnicity") SetEnum<ledger::Ethnicity>(f, &rec->e[slot::kEthnicity]);
        if (f.name == "disability") SetEnum<ledger::Disability>(f, &rec->e[slot::kDisability]);
        break;
      case EventType::kReferralRefused:
        if (f.name == "stage") SetEnum<ledger::RefusalStage>(f, &rec->e[slot::kStage]);
        if (f.name == "reason") SetEnum<ledger::RefusalReason>(f, &rec->e[slot::kReason]);
        if (f.name == "decided_by" && text) *x = *text;
        break;
      case EventType::kPlacementOffered:
      case EventType::kPlacementStarted:
        if (f.name == "provider" && text) *x = *text;
        break;
      default:
        break;
    }
  }
}

}  // namespace

StringPool* ReadModel::PoolFor(EventType type) {
  switch (type) {
    case EventType::kReferralReceived:
      return &areas_;
    case EventType::kReferralRefused:
      return &deciders_;
    case EventType::kPlacementOffered:
    case EventType::kPlacementStarted:
      return &providers_;
    default:
      return nullptr;
  }
}

std::optional<uint32_t> ReadModel::FindReferral(std::string_view id) const {
  return FindReferral(id, IdIndex::HashOf(id));
}

std::optional<uint32_t> ReadModel::FindReferral(std::string_view id, uint64_t id_hash) const {
  return index_.Find(id, id_hash,
                     [this](uint32_t n) -> std::string_view { return referrals_[n].id; });
}

Status ReadModel::Add(uint32_t referral, std::string_view new_id, uint64_t id_hash,
                      const Rec& rec) {
  if (referral == referrals_.size()) {
    if (rec.type != EventType::kReferralReceived) {
      return Status::Internal("seq " + std::to_string(rec.seq) + " opens a referral without " +
                              "referral.received");
    }
    referrals_.push_back(Referral{std::string(new_id), {}, false});
    // Most referrals have a handful of events: one allocation for them.
    referrals_.back().recs.reserve(kRecsReserved);
    summaries_.emplace_back();
    index_.Add(id_hash, referral);
  } else if (referral > referrals_.size()) {
    return Status::Internal("seq " + std::to_string(rec.seq) + " names an unknown referral");
  }
  Referral& r = referrals_[referral];
  r.recs.push_back(rec);
  if (rec.type == EventType::kRecordCorrected) r.has_corrections = true;
  Summarise(referral);
  applied_ = rec.seq;
  return Status::Ok();
}

Status ReadModel::Apply(const ledger::Event& event, std::string* encoded) {
  return Apply(ledger::BriefOf(event), encoded);
}

Status ReadModel::Apply(const ledger::EventBrief& event, std::string* encoded) {
  return ApplyHashed(event, IdIndex::HashOf(event.referral_id), encoded);
}

Status ReadModel::ApplyHashed(const ledger::EventBrief& event, uint64_t id_hash,
                              std::string* encoded) {
  if (event.seq != applied_ + 1) {
    return Status::Internal("the read model is at seq " + std::to_string(applied_) +
                            " and was given seq " + std::to_string(event.seq));
  }
  const uint32_t ref =
      FindReferral(event.referral_id, id_hash).value_or(static_cast<uint32_t>(referrals_.size()));
  Rec rec;
  rec.seq = event.seq;
  rec.occurred_at = event.occurred_at;
  rec.type = event.type;
  EventType payload_type = rec.type;
  std::string_view x = event.key;
  std::string corrected_x;
  switch (rec.type) {
    // The enumerations the views read; the brief's order is the slots'.
    case EventType::kReferralReceived:
    case EventType::kReferralRefused:
    case EventType::kAppealDecided:
      std::copy(event.enums.begin(), event.enums.end(), rec.e.begin());
      break;
    case EventType::kRecordCorrected: {
      const ledger::RecordCorrected* d = event.correction;
      if (d == nullptr) return Status::Internal("a correction without its data");
      if (ref >= referrals_.size()) return Status::Internal("correction of an unknown referral");
      const std::vector<Rec>& recs = referrals_[ref].recs;
      auto t = std::lower_bound(recs.begin(), recs.end(), d->corrects_seq,
                                [](const Rec& r, uint64_t seq) { return r.seq < seq; });
      if (t == recs.end() || t->seq != d->corrects_seq || t->type == EventType::kRecordCorrected) {
        return Status::Internal("seq " + std::to_string(event.seq) + " corrects seq " +
                                std::to_string(d->corrects_seq) + ", not an event of its referral");
      }
      const auto target = static_cast<uint32_t>(t - recs.begin());
      payload_type = t->type;
      // Start from the latest correction of the same event, else the event.
      const Rec* base = &*t;
      for (auto it = recs.rbegin(); it != recs.rend() && it->seq > t->seq; ++it) {
        if (it->type == EventType::kRecordCorrected && it->target == target) {
          base = &*it;
          break;
        }
      }
      rec.e = base->e;
      if (StringPool* pool = PoolFor(payload_type)) corrected_x = pool->Get(base->x);
      MergeCorrection(payload_type, *d, &rec, &corrected_x);
      rec.target = target;
      x = corrected_x;
      break;
    }
    default:
      break;
  }
  // Only the types with a pool keep their string.
  StringPool* pool = PoolFor(payload_type);
  if (pool) {
    rec.x = pool->Intern(x);
  } else {
    x = {};
  }

  if (encoded) {
    PutVarint(ref, encoded);
    if (ref == referrals_.size()) PutString(event.referral_id, encoded);
    encoded->push_back(static_cast<char>(rec.type));
    char t[8];
    std::memcpy(t, &rec.occurred_at, 8);
    encoded->append(t, 8);
    encoded->append(reinterpret_cast<const char*>(rec.e.data()), rec.e.size());
    PutString(x, encoded);
    if (rec.type == EventType::kRecordCorrected) PutVarint(rec.target, encoded);
  }
  return Add(ref, event.referral_id, id_hash, rec);
}

namespace {
// Fetches every cache line of [p, p + bytes) (for writing when rw is 1).
template <int rw>
void PrefetchLines(const void* p, size_t bytes) {
  const auto* c = static_cast<const char*>(p);
  const uintptr_t first = reinterpret_cast<uintptr_t>(c) & ~uintptr_t{63};
  const uintptr_t last = reinterpret_cast<uintptr_t>(c + bytes - 1) & ~uintptr_t{63};
  for (uintptr_t line = first; line <= last; line += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(line), rw);
  }
}
}  // namespace

Status ReadModel::ApplyAll(std::span<const ledger::EventBrief> events, std::string* encoded) {
  // Three steps ahead of the event applied: its index slot (kSlot events
  // ahead), then, with the slot at hand, the referral's record and summary
  // (kRecord), then, with the record at hand, the end of its events (kEnd).
  constexpr size_t kSlot = 12, kRecord = 6, kEnd = 3, kRing = 16;
  std::array<uint64_t, kRing> hashes{};
  const size_t n = events.size();
  for (size_t i = 0; i < std::min(n, kSlot); ++i)
    hashes[i % kRing] = IdIndex::HashOf(events[i].referral_id);
  for (size_t i = 0; i < n; ++i) {
    if (i + kSlot < n) {
      const uint64_t h = IdIndex::HashOf(events[i + kSlot].referral_id);
      hashes[(i + kSlot) % kRing] = h;
      index_.Prefetch(h);
    }
    if (i + kRecord < n) {
      if (std::optional<uint32_t> r = index_.Candidate(hashes[(i + kRecord) % kRing]);
          r && *r < referrals_.size()) {
        PrefetchLines<0>(&referrals_[*r], sizeof(Referral));
        PrefetchLines<1>(&summaries_[*r], sizeof(Summary));
      }
    }
    if (i + kEnd < n) {
      if (std::optional<uint32_t> r = index_.Candidate(hashes[(i + kEnd) % kRing]);
          r && *r < referrals_.size()) {
        // The new record goes after the last, which summarising reads
        // (a referral with corrections walks all of them: rare).
        const std::vector<Rec>& recs = referrals_[*r].recs;
        if (!recs.empty()) PrefetchLines<1>(&recs.back(), 2 * sizeof(Rec));
      }
    }
    LEDGER_RETURN_IF_ERROR(ApplyHashed(events[i], hashes[i % kRing], encoded));
  }
  return Status::Ok();
}

Status ReadModel::ApplyEncoded(std::string_view* in) {
  auto bad = [this] {
    return Status::Corruption("read model record of seq " + std::to_string(applied_ + 1) +
                              " does not decode");
  };
  uint64_t ref = 0;
  std::string_view id, x;
  if (!GetVarint(in, &ref) || ref > referrals_.size()) return bad();
  if (ref == referrals_.size() && !GetString(in, &id)) return bad();
  if (in->size() < 1 + 8 + 7) return bad();
  Rec rec;
  rec.seq = applied_ + 1;
  const auto type = static_cast<uint8_t>(in->front());
  if (type >= ledger::EnumCount<EventType>()) return bad();
  rec.type = static_cast<EventType>(type);
  std::memcpy(&rec.occurred_at, in->data() + 1, 8);
  std::memcpy(rec.e.data(), in->data() + 9, 7);
  in->remove_prefix(16);
  if (!GetString(in, &x)) return bad();
  EventType payload_type = rec.type;
  if (rec.type == EventType::kRecordCorrected) {
    uint64_t target = 0;
    if (!GetVarint(in, &target) || ref >= referrals_.size() ||
        target >= referrals_[ref].recs.size()) {
      return bad();
    }
    rec.target = static_cast<uint32_t>(target);
    payload_type = referrals_[ref].recs[target].type;
  }
  if (StringPool* pool = PoolFor(payload_type)) rec.x = pool->Intern(x);
  const uint64_t id_hash = ref == referrals_.size() ? IdIndex::HashOf(id) : 0;
  return Add(static_cast<uint32_t>(ref), id, id_hash, rec);
}

size_t CountWithin(const Referral& r, uint64_t as_of) {
  if (r.recs.empty() || r.recs.front().seq > as_of) return 0;
  if (r.recs.back().seq <= as_of) return r.recs.size();
  return std::upper_bound(r.recs.begin(), r.recs.end(), as_of,
                          [](uint64_t s, const Rec& rec) { return s < rec.seq; }) -
         r.recs.begin();
}

const Rec& Effective(const Referral& r, size_t n, size_t i) {
  if (r.has_corrections) {
    for (size_t j = n; j-- > i + 1;) {
      const Rec& c = r.recs[j];
      if (c.type == EventType::kRecordCorrected && c.target == i) return c;
    }
  }
  return r.recs[i];
}

ledger::ReferralState NextState(ledger::ReferralState s, const Rec& rec) {
  // A stored event was allowed where it stands; the table gives its state.
  const bool upheld = rec.type == EventType::kAppealDecided &&
                      rec.e[slot::kOutcome] == static_cast<uint8_t>(ledger::AppealOutcome::kUpheld);
  return ledger::StateAfter(s, rec.type, upheld);
}

namespace {

// Advances `f`, the facts of the first i events of `r`, by event i, where
// the corrections among the first n events apply (i < n).
void Step(const Referral& r, size_t n, size_t i, Facts* f, int* offered) {
  const Rec& rec = r.recs[i];
  f->state = NextState(f->state, rec);
  switch (rec.type) {
    case EventType::kFundingApproved:
    case EventType::kReferralRefused: {
      const bool refused = rec.type == EventType::kReferralRefused;
      const Rec* data = refused ? &Effective(r, n, i) : nullptr;
      if (!f->decided) {
        f->decided = true;
        f->decided_at = rec.occurred_at;
        f->first_refused = refused;
        if (refused) {
          f->first_reason = data->e[slot::kReason];
          f->first_stage = data->e[slot::kStage];
        }
      }
      if (refused && f->refusals++ == 0) {
        f->refusal_at = rec.occurred_at;
        f->refusal_reason = data->e[slot::kReason];
        f->refusal_stage = data->e[slot::kStage];
        f->refusal_decider = data->x;
      }
      break;
    }
    case EventType::kAppealDecided:
      if (rec.e[slot::kOutcome] == static_cast<uint8_t>(ledger::AppealOutcome::kUpheld)) {
        f->upheld = true;
      }
      break;
    case EventType::kPlacementOffered:
      *offered = static_cast<int>(i);
      break;
    case EventType::kPlacementStarted:
      f->started = true;
      f->started_at = rec.occurred_at;
      f->start_provider = Effective(r, n, i).x;
      break;
    default:
      break;
  }
  f->last_occurred_at = rec.occurred_at;
}

}  // namespace

Facts FactsAt(const Referral& r, uint64_t as_of) {
  Facts f;
  const size_t n = CountWithin(r, as_of);
  if (n == 0) return f;
  f.exists = true;
  const Rec& receipt = Effective(r, n, 0);
  f.area = receipt.x;
  f.received = receipt.e;
  f.received_at = r.recs[0].occurred_at;
  int offered = -1;
  for (size_t i = 0; i < n; ++i) Step(r, n, i, &f, &offered);
  if (offered >= 0) {
    f.offered = true;
    f.offered_provider = Effective(r, n, offered).x;
  }
  return f;
}

void ReadModel::Summarise(uint32_t referral) {
  const Referral& r = referrals_[referral];
  Summary& s = summaries_[referral];
  const size_t i = r.recs.size() - 1;
  s.last_seq = r.recs[i].seq;
  if (i == 0 || r.has_corrections) {
    // A correction can change what earlier events mean: walk them all.
    s.first_seq = r.recs.front().seq;
    s.facts = FactsAt(r, s.last_seq);
    return;
  }
  // Without corrections each event is its own data: the facts at the
  // previous event, advanced by this one, are the facts at this one.
  int offered = -1;
  Step(r, i + 1, i, &s.facts, &offered);
  if (offered >= 0) {
    s.facts.offered = true;
    s.facts.offered_provider = r.recs[i].x;
  }
}

void ReadModel::Reserve(size_t referrals) {
  referrals_.reserve(referrals);
  summaries_.reserve(referrals);
  index_.Reserve(referrals);
}

uint64_t ReadModel::MemoryBytes() const {
  uint64_t bytes =
      referrals_.capacity() * sizeof(Referral) + summaries_.capacity() * sizeof(Summary);
  for (const Referral& r : referrals_) bytes += r.recs.capacity() * sizeof(Rec) + r.id.capacity();
  bytes += index_.MemoryBytes() + referrals_.size() * sizeof(uint64_t);
  return bytes;
}

}  // namespace projections
