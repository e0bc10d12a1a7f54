#include "brief_block.h"

#include <array>
#include <cstring>

#include "codec.h"
#include "ledger/varint.h"

namespace ledger::internal {
namespace {

using varint::GetString;
using varint::PutString;

// For each type, how many values each of the brief's six enumeration slots
// may take (EventBrief::enums); 1 for a slot the type lacks, which holds 0.
using Limits = std::array<uint8_t, 6>;
template <typename... E>
constexpr Limits LimitsOf() {
  Limits l{1, 1, 1, 1, 1, 1};
  size_t i = 0;
  ((l[i++] = static_cast<uint8_t>(EnumCount<E>())), ...);
  return l;
}
constexpr std::array<Limits, EnumCount<EventType>()> kLimits = {
    LimitsOf<Referrer, Substance, AgeBand, Sex, Ethnicity, Disability>(),  // referral.received
    LimitsOf<AssessmentOutcome>(),                                         // assessment.completed
    LimitsOf<FundingRoute>(),                                              // funding.requested
    LimitsOf<>(),                                                          // funding.approved
    LimitsOf<RefusalStage, RefusalReason>(),                               // referral.refused
    LimitsOf<>(),                                                          // appeal.lodged
    LimitsOf<AppealOutcome>(),                                             // appeal.decided
    LimitsOf<>(),                                                          // placement.offered
    LimitsOf<>(),                                                          // placement.started
    LimitsOf<PlacementOutcome>(),                                          // placement.ended
    LimitsOf<WithdrawnBy>(),                                               // referral.withdrawn
    LimitsOf<>(),                                                          // record.corrected
};

constexpr size_t kFixed = 1 + 6 + 8 + 8;

void PutMicros(Micros v, std::string* out) { varint::PutFixed64(static_cast<uint64_t>(v), out); }

Micros GetMicros(const char* p) { return static_cast<Micros>(varint::GetFixed64(p)); }

Status Damaged(uint64_t seq, std::string_view what) {
  return Status::Corruption("the brief of event " + std::to_string(seq) + " " + std::string(what));
}

}  // namespace

void AppendBriefRecord(const EventBrief& brief, std::string_view canonical, std::string* out) {
  out->push_back(static_cast<char>(brief.type));
  out->append(reinterpret_cast<const char*>(brief.enums.data()), brief.enums.size());
  PutMicros(brief.occurred_at, out);
  PutMicros(brief.recorded_at, out);
  PutString(brief.referral_id, out);
  PutString(brief.key, out);
  if (brief.type == EventType::kRecordCorrected) PutString(canonical, out);
}

Status ReadBriefRecord(std::string_view* in, uint64_t seq, EventBrief* out) {
  if (in->size() < kFixed) return Damaged(seq, "is cut short");
  const char* p = in->data();
  const auto type = static_cast<uint8_t>(p[0]);
  if (type >= kLimits.size()) return Damaged(seq, "holds an unknown event type");
  EventBrief& b = *out;
  b.seq = seq;
  b.type = static_cast<EventType>(type);
  std::memcpy(b.enums.data(), p + 1, 6);
  for (size_t i = 0; i < 6; ++i) {
    if (b.enums[i] >= kLimits[type][i]) return Damaged(seq, "holds an unknown enumeration value");
  }
  b.occurred_at = GetMicros(p + 7);
  b.recorded_at = GetMicros(p + 15);
  in->remove_prefix(kFixed);
  if (!GetString(in, &b.referral_id) || !GetString(in, &b.key)) return Damaged(seq, "is cut short");
  b.correction = nullptr;
  if (b.type != EventType::kRecordCorrected) return Status::Ok();
  std::string_view canonical;
  if (!GetString(in, &canonical)) return Damaged(seq, "is cut short");
  EventBrief whole;
  if (Status st = DecodeBrief(canonical, &whole); !st.ok()) {
    return Damaged(seq, "holds a correction that does not decode: " + st.message());
  }
  if (whole.seq != seq || whole.type != EventType::kRecordCorrected) {
    return Damaged(seq, "holds another event's correction");
  }
  b.correction = whole.correction;
  return Status::Ok();
}

}  // namespace ledger::internal
