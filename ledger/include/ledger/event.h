// The domain events of SPEC §3: one struct per event type, the enumerations
// their fields draw from, and the envelope the ledger adds when it appends.
//
// These are plain values with no storage or wire types inside: the Cap'n Proto
// encoding lives in ledger/src/codec.cc, the JSON form at the edge in
// wire/event_json.h (the canonical form idempotency digests, in
// request_digest.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ledger/hash.h"
#include "ledger/status.h"
#include "ledger/time.h"

namespace ledger {

// ---------------------------------------------------------------------------
// Enumerations. Each lists its wire names in declaration order; the stored
// Cap'n Proto enums use the same order (checked by a test), so new values are
// only ever appended.

enum class EventType : uint8_t {
  kReferralReceived,
  kAssessmentCompleted,
  kFundingRequested,
  kFundingApproved,
  kReferralRefused,
  kAppealLodged,
  kAppealDecided,
  kPlacementOffered,
  kPlacementStarted,
  kPlacementEnded,
  kReferralWithdrawn,
  kRecordCorrected,
};
enum class Referrer : uint8_t {
  kCommunityTreatment,
  kGp,
  kHospital,
  kCriminalJustice,
  kSelf,
  kOther
};
enum class Substance : uint8_t { kOpiate, kNonOpiate, kAlcohol, kAlcoholAndNonOpiate };
enum class AgeBand : uint8_t {
  k18To24,
  k25To29,
  k30To34,
  k35To39,
  k40To44,
  k45To49,
  k50To54,
  k55To59,
  k60To64,
  k65Plus
};
enum class Sex : uint8_t { kFemale, kMale, kOther, kNotStated };
enum class Ethnicity : uint8_t { kAsian, kBlack, kMixed, kWhite, kOther, kNotStated };
enum class Disability : uint8_t { kYes, kNo, kNotStated };
enum class AssessmentOutcome : uint8_t { kSuitable, kNotSuitable };
enum class FundingRoute : uint8_t { kLocalAuthority, kRehabGrant, kNhs, kCriminalJustice, kOther };
enum class RefusalStage : uint8_t { kAssessment, kFundingPanel, kProvider };
enum class RefusalReason : uint8_t {
  kNotEligible,
  kNeedsMetInCommunity,
  kCommunityTreatmentFirst,
  kInsufficientBudget,
  kNoSuitableProvider,
  kNotReady,
  kComplexNeedsUnsupported,
  kOutOfArea,
  kIncompleteInformation,
  kPreviousPlacement,
  kOther,
};
enum class AppealOutcome : uint8_t { kUpheld, kDismissed };
enum class PlacementOutcome : uint8_t { kCompleted, kUnplannedExit, kTransferred };
enum class WithdrawnBy : uint8_t { kPerson, kReferrer };

// EnumNames<E>() is the list of E's wire names, indexed by value.
template <typename E>
struct EnumTraits;

#define LEDGER_ENUM_NAMES(E, ...)                               \
  template <>                                                   \
  struct EnumTraits<E> {                                        \
    static constexpr std::string_view kNames[] = {__VA_ARGS__}; \
  };

LEDGER_ENUM_NAMES(EventType, "referral.received", "assessment.completed", "funding.requested",
                  "funding.approved", "referral.refused", "appeal.lodged", "appeal.decided",
                  "placement.offered", "placement.started", "placement.ended", "referral.withdrawn",
                  "record.corrected")
LEDGER_ENUM_NAMES(Referrer, "community_treatment", "gp", "hospital", "criminal_justice", "self",
                  "other")
LEDGER_ENUM_NAMES(Substance, "opiate", "non_opiate", "alcohol", "alcohol_and_non_opiate")
LEDGER_ENUM_NAMES(AgeBand, "18-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59",
                  "60-64", "65+")
LEDGER_ENUM_NAMES(Sex, "female", "male", "other", "not_stated")
LEDGER_ENUM_NAMES(Ethnicity, "asian", "black", "mixed", "white", "other", "not_stated")
LEDGER_ENUM_NAMES(Disability, "yes", "no", "not_stated")
LEDGER_ENUM_NAMES(AssessmentOutcome, "suitable", "not_suitable")
LEDGER_ENUM_NAMES(FundingRoute, "local_authority", "rehab_grant", "nhs", "criminal_justice",
                  "other")
LEDGER_ENUM_NAMES(RefusalStage, "assessment", "funding_panel", "provider")
LEDGER_ENUM_NAMES(RefusalReason, "not_eligible", "needs_met_in_community",
                  "community_treatment_first", "insufficient_budget", "no_suitable_provider",
                  "not_ready", "complex_needs_unsupported", "out_of_area", "incomplete_information",
                  "previous_placement", "other")
LEDGER_ENUM_NAMES(AppealOutcome, "upheld", "dismissed")
LEDGER_ENUM_NAMES(PlacementOutcome, "completed", "unplanned_exit", "transferred")
LEDGER_ENUM_NAMES(WithdrawnBy, "person", "referrer")
#undef LEDGER_ENUM_NAMES

template <typename E>
constexpr size_t EnumCount() {
  return std::size(EnumTraits<E>::kNames);
}
template <typename E>
constexpr std::string_view ToString(E e) {
  return EnumTraits<E>::kNames[static_cast<size_t>(e)];
}
// The value whose wire name is `name` (exact, case-sensitive), or nullopt.
template <typename E>
constexpr std::optional<E> ParseEnum(std::string_view name) {
  for (size_t i = 0; i < EnumCount<E>(); ++i) {
    if (EnumTraits<E>::kNames[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Event data, one struct per type. Optional fields are std::optional; every
// other field is required. Field rules (lengths, patterns, ranges) are in
// ValidateEvent below and in SPEC §3/§8.

struct ReferralReceived {
  std::string person;  // pseudonym, never a name or NHS number
  std::string area;    // ONS code of the commissioning local authority
  Referrer referrer{};
  Substance substance{};
  AgeBand age_band{};
  Sex sex{};
  Ethnicity ethnicity{};
  Disability disability{};
  bool operator==(const ReferralReceived&) const = default;
};
struct AssessmentCompleted {
  AssessmentOutcome outcome{};
  std::optional<std::string> note;
  bool operator==(const AssessmentCompleted&) const = default;
};
struct FundingRequested {
  FundingRoute route{};
  int32_t weeks = 0;
  bool operator==(const FundingRequested&) const = default;
};
struct FundingApproved {
  std::string panel;
  int32_t weeks = 0;
  bool operator==(const FundingApproved&) const = default;
};
struct ReferralRefused {
  RefusalStage stage{};
  RefusalReason reason{};
  std::string decided_by;
  std::optional<std::string> note;
  bool operator==(const ReferralRefused&) const = default;
};
struct AppealLodged {
  std::string grounds;
  bool operator==(const AppealLodged&) const = default;
};
struct AppealDecided {
  AppealOutcome outcome{};
  std::string decided_by;
  bool operator==(const AppealDecided&) const = default;
};
struct PlacementOffered {
  std::string provider;       // CQC location id
  std::string planned_start;  // YYYY-MM-DD
  bool operator==(const PlacementOffered&) const = default;
};
struct PlacementStarted {
  std::string provider;
  bool operator==(const PlacementStarted&) const = default;
};
struct PlacementEnded {
  PlacementOutcome outcome{};
  bool operator==(const PlacementEnded&) const = default;
};
struct ReferralWithdrawn {
  WithdrawnBy by{};
  std::optional<std::string> note;
  bool operator==(const ReferralWithdrawn&) const = default;
};

// One corrected data field: its name in the target's data and the new value,
// as the JSON gave it (enum values by wire name; integers as integers).
struct CorrectedField {
  std::string name;
  std::variant<std::string, int64_t> value;
  bool operator==(const CorrectedField&) const = default;
};
struct RecordCorrected {
  uint64_t corrects_seq = 0;  // an earlier event of the same stream
  std::string reason;
  std::vector<CorrectedField> fields;  // non-empty; names unique
  bool operator==(const RecordCorrected&) const = default;
};

// The alternatives are in EventType order: data.index() is the type.
using EventData =
    std::variant<ReferralReceived, AssessmentCompleted, FundingRequested, FundingApproved,
                 ReferralRefused, AppealLodged, AppealDecided, PlacementOffered, PlacementStarted,
                 PlacementEnded, ReferralWithdrawn, RecordCorrected>;
static_assert(std::variant_size_v<EventData> == EnumCount<EventType>());

inline EventType TypeOf(const EventData& data) { return static_cast<EventType>(data.index()); }

// What a client asks to append: SPEC §3's client-set fields.
struct NewEvent {
  std::string referral_id;
  Micros occurred_at = 0;
  EventData data;
  bool operator==(const NewEvent&) const = default;
};

// One event of an append request, with its optional preconditions.
struct AppendRequest {
  NewEvent event;
  // The stream version the client last saw (0: the stream must be new).
  std::optional<uint64_t> expected_version;
  std::optional<std::string> idempotency_key;
  // occurred_at as the client wrote it, when the request was read from JSON;
  // empty when it was built in code. Only the idempotency digest reads it:
  // "same body" means the same JSON value (SPEC §8), so two spellings of one
  // time (2025-01-01T09:00:00Z, ...09:00:00.000Z, ...09:00:00+00:00) are two
  // bodies.
  std::string occurred_at_text;
  bool operator==(const AppendRequest&) const = default;
};

// An event as stored: the client's fields plus the ledger's envelope.
struct Event {
  uint64_t seq = 0;      // global position, 1, 2, 3 ... gap-free
  uint64_t version = 0;  // position in its stream, 1, 2, 3 ...
  std::string referral_id;
  Micros occurred_at = 0;
  Micros recorded_at = 0;       // non-decreasing with seq
  std::string actor;            // "role:name" of the credential that recorded it
  std::string idempotency_key;  // empty when none was given
  EventData data;
  Hash hash{};  // chain link: SHA-256(hash(seq-1) || canonical bytes)

  EventType type() const { return TypeOf(data); }
  bool operator==(const Event&) const = default;
};

// What aggregate views read of a stored event, decoded in place by
// Ledger::ScanBriefs: no string is copied, so the string views (and
// `correction`) are valid only during the callback that receives it.
// Fields a type lacks are zero or empty.
struct EventBrief {
  uint64_t seq = 0;
  std::string_view referral_id;
  Micros occurred_at = 0;
  Micros recorded_at = 0;
  EventType type{};
  // The data's enumerations, as the uint8 of their enums, in field order:
  //   referral.received: referrer, substance, age_band, sex, ethnicity, disability
  //   assessment.completed: outcome    funding.requested: route
  //   referral.refused: stage, reason  appeal.decided: outcome
  //   placement.ended: outcome         referral.withdrawn: by
  std::array<uint8_t, 6> enums{};
  // The data's one string that views group by: area (referral.received),
  // decided_by (referral.refused, appeal.decided), provider
  // (placement.offered, placement.started).
  std::string_view key;
  const RecordCorrected* correction = nullptr;  // record.corrected: its data
};

// The brief of `event`, pointing into it.
EventBrief BriefOf(const Event& event);

// ---------------------------------------------------------------------------
// Field rules (SPEC §3, §8) that need no ledger state. Every violated rule is
// reported, each as a FieldError named by its JSON path ("referral_id",
// "data.area", "data.fields.weeks").

// Checks every field of `event` against its rule. Returns OK or
// kInvalidArgument listing every bad field. `now` is the server clock, for the
// "at most 5 minutes ahead" rule.
Status ValidateEvent(const NewEvent& event, Micros now);
// The field rules of a whole request, the one check every request meets
// after it is parsed or built: ValidateEvent, and the idempotency key's.
Status ValidateRequest(const AppendRequest& request, Micros now);

// Checks the fields of a correction against the rules of the target's type
// (a field that type lacks, or an invalid value). Returns OK or
// kInvalidArgument naming "data.fields.<name>" for each bad field.
Status ValidateCorrectionFields(EventType target_type, const std::vector<CorrectedField>& fields);

// The type whose rules a correction in stream `referral_id` is checked
// against: `target`'s, when it is in that stream and is not itself a
// correction; else nullopt (such a target is the correction's 422, SPEC §8).
std::optional<EventType> CorrectableType(const Event& target, std::string_view referral_id);

// A placement.offered or placement.started of a referral, naming its
// provider as corrected (the latest correction of the event's provider wins).
struct Placement {
  uint64_t seq = 0;
  EventType type = EventType::kPlacementOffered;
  std::string provider;
  bool operator==(const Placement&) const = default;
};
// The placements of one referral's events, given in stream order.
std::vector<Placement> PlacementsOf(std::span<const Event> stream);

// How a correction merges into its target, the one rule every fold of a
// stream follows (the stored stream head, PlacementsOf, a referral's view):
// the listed fields of the event `corrects_seq` take the new values, and
// the other fields keep theirs; folded in stream order, the latest
// correction of a field wins.
//
// Merges corrected fields into `target`.
// REQUIRES: ValidateCorrectionFields(TypeOf(*target), fields).ok()
void ApplyCorrection(const std::vector<CorrectedField>& fields, EventData* target);
// The new text `correction` gives field `name` of the event `target_seq`,
// or null when it does not correct that field of that event.
const std::string* CorrectedText(const RecordCorrected& correction, uint64_t target_seq,
                                 std::string_view name);

// Single-value rules, shared by the JSON parser and the validator. Each returns
// an empty string when `value` is valid, else what is wrong with it.
std::string CheckReferralId(std::string_view value);
std::string CheckIdempotencyKey(std::string_view value);
std::string CheckAreaCode(std::string_view value);    // E06|E08|E09|E10 + 6 digits
std::string CheckProviderId(std::string_view value);  // "1-" + 9 or 10 digits

// Number of Unicode code points in valid UTF-8 text (SPEC §8: lengths count
// code points).
size_t CodePointCount(std::string_view utf8);
// Whether valid UTF-8 text holds a control character that free text and
// identifiers refuse (SPEC §8): U+0000-U+001F other than tab, line feed and
// carriage return, and U+007F-U+009F. They could rewrite an investigator's
// terminal (an escape sequence in a note shown by ledgerctl timeline).
bool HasControlCharacter(std::string_view utf8);
inline constexpr const char* kControlCharacterMessage =
    "must not hold control characters (U+0000-U+001F other than tab, line feed and carriage "
    "return, or U+007F-U+009F)";

}  // namespace ledger
