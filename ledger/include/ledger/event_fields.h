// The declared field rules of each event type (SPEC §3, §8), in one table per
// type. Validation, the JSON codec and corrections all walk these tables, so a
// field's rule is written once.
#pragma once

#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "ledger/event.h"

namespace ledger::internal {

// What a text field's characters must look like.
enum class TextKind {
  kFree,        // any text
  kPseudonym,   // [A-Za-z0-9_-]
  kAreaCode,    // E06|E08|E09|E10 + 6 ASCII digits
  kProviderId,  // "1-" + 9 or 10 ASCII digits
  kDate,        // YYYY-MM-DD, a real calendar date
};

struct TextSpec {
  TextKind kind;
  size_t min_len;  // in code points
  size_t max_len;
};

// An empty string when `value` satisfies `spec`, else what is wrong.
std::string CheckText(std::string_view value, const TextSpec& spec);

// A text member: std::string (required) or std::optional<std::string>.
template <typename S, typename M>
struct TextField {
  std::string_view name;
  M S::*member;
  TextSpec spec;
  static constexpr bool kOptional = !std::is_same_v<M, std::string>;
};
template <typename S, typename E>
struct EnumField {
  using Enum = E;
  std::string_view name;
  E S::*member;
};
template <typename S>
struct IntField {
  std::string_view name;
  int32_t S::*member;
  int64_t min;
  int64_t max;
};

inline constexpr TextSpec kPersonSpec{TextKind::kPseudonym, 8, 64};
inline constexpr TextSpec kAreaSpec{TextKind::kAreaCode, 9, 9};
inline constexpr TextSpec kProviderSpec{TextKind::kProviderId, 11, 12};
inline constexpr TextSpec kDateSpec{TextKind::kDate, 10, 10};
inline constexpr TextSpec kNoteSpec{TextKind::kFree, 0, 500};
inline constexpr TextSpec kLongTextSpec{TextKind::kFree, 1, 500};  // grounds, reason
inline constexpr TextSpec kIdSpec{TextKind::kFree, 1, 64};         // panel, decided_by

template <typename S>
struct Fields;  // Fields<S>::kAll: a tuple of the field descriptors of S.

template <>
struct Fields<ReferralReceived> {
  using S = ReferralReceived;
  static constexpr auto kAll = std::make_tuple(
      TextField<S, std::string>{"person", &S::person, kPersonSpec},
      TextField<S, std::string>{"area", &S::area, kAreaSpec},
      EnumField<S, Referrer>{"referrer", &S::referrer},
      EnumField<S, Substance>{"substance", &S::substance},
      EnumField<S, AgeBand>{"age_band", &S::age_band}, EnumField<S, Sex>{"sex", &S::sex},
      EnumField<S, Ethnicity>{"ethnicity", &S::ethnicity},
      EnumField<S, Disability>{"disability", &S::disability});
};
template <>
struct Fields<AssessmentCompleted> {
  using S = AssessmentCompleted;
  static constexpr auto kAll =
      std::make_tuple(EnumField<S, AssessmentOutcome>{"outcome", &S::outcome},
                      TextField<S, std::optional<std::string>>{"note", &S::note, kNoteSpec});
};
template <>
struct Fields<FundingRequested> {
  using S = FundingRequested;
  static constexpr auto kAll = std::make_tuple(EnumField<S, FundingRoute>{"route", &S::route},
                                               IntField<S>{"weeks", &S::weeks, 1, 104});
};
template <>
struct Fields<FundingApproved> {
  using S = FundingApproved;
  static constexpr auto kAll =
      std::make_tuple(TextField<S, std::string>{"panel", &S::panel, kIdSpec},
                      IntField<S>{"weeks", &S::weeks, 1, 104});
};
template <>
struct Fields<ReferralRefused> {
  using S = ReferralRefused;
  static constexpr auto kAll =
      std::make_tuple(EnumField<S, RefusalStage>{"stage", &S::stage},
                      EnumField<S, RefusalReason>{"reason", &S::reason},
                      TextField<S, std::string>{"decided_by", &S::decided_by, kIdSpec},
                      TextField<S, std::optional<std::string>>{"note", &S::note, kNoteSpec});
};
template <>
struct Fields<AppealLodged> {
  using S = AppealLodged;
  static constexpr auto kAll =
      std::make_tuple(TextField<S, std::string>{"grounds", &S::grounds, kLongTextSpec});
};
template <>
struct Fields<AppealDecided> {
  using S = AppealDecided;
  static constexpr auto kAll =
      std::make_tuple(EnumField<S, AppealOutcome>{"outcome", &S::outcome},
                      TextField<S, std::string>{"decided_by", &S::decided_by, kIdSpec});
};
template <>
struct Fields<PlacementOffered> {
  using S = PlacementOffered;
  static constexpr auto kAll =
      std::make_tuple(TextField<S, std::string>{"provider", &S::provider, kProviderSpec},
                      TextField<S, std::string>{"planned_start", &S::planned_start, kDateSpec});
};
template <>
struct Fields<PlacementStarted> {
  using S = PlacementStarted;
  static constexpr auto kAll =
      std::make_tuple(TextField<S, std::string>{"provider", &S::provider, kProviderSpec});
};
template <>
struct Fields<PlacementEnded> {
  using S = PlacementEnded;
  static constexpr auto kAll =
      std::make_tuple(EnumField<S, PlacementOutcome>{"outcome", &S::outcome});
};
template <>
struct Fields<ReferralWithdrawn> {
  using S = ReferralWithdrawn;
  static constexpr auto kAll =
      std::make_tuple(EnumField<S, WithdrawnBy>{"by", &S::by},
                      TextField<S, std::optional<std::string>>{"note", &S::note, kNoteSpec});
};
// record.corrected is not table-driven: its `fields` object takes the shape of
// the target's type, known only once the target is read.

template <typename S, typename F>
void ForEachField(F&& f) {
  std::apply([&](const auto&... field) { (f(field), ...); }, Fields<S>::kAll);
}

// Calls f(descriptor) for the field of S named `name`; false when S has none.
template <typename S, typename F>
bool VisitFieldNamed(std::string_view name, F&& f) {
  bool found = false;
  ForEachField<S>([&](const auto& field) {
    if (!found && field.name == name) {
      found = true;
      f(field);
    }
  });
  return found;
}

// Calls f(type_tag) with a default-constructed value of the data struct for
// `type` (so callers can recover S with decltype). For kRecordCorrected it
// passes a RecordCorrected.
template <typename F>
decltype(auto) WithDataType(EventType type, F&& f) {
  switch (type) {
#define LEDGER_CASE(E, S) \
  case EventType::E:      \
    return f(S{});
    LEDGER_CASE(kReferralReceived, ReferralReceived)
    LEDGER_CASE(kAssessmentCompleted, AssessmentCompleted)
    LEDGER_CASE(kFundingRequested, FundingRequested)
    LEDGER_CASE(kFundingApproved, FundingApproved)
    LEDGER_CASE(kReferralRefused, ReferralRefused)
    LEDGER_CASE(kAppealLodged, AppealLodged)
    LEDGER_CASE(kAppealDecided, AppealDecided)
    LEDGER_CASE(kPlacementOffered, PlacementOffered)
    LEDGER_CASE(kPlacementStarted, PlacementStarted)
    LEDGER_CASE(kPlacementEnded, PlacementEnded)
    LEDGER_CASE(kReferralWithdrawn, ReferralWithdrawn)
    LEDGER_CASE(kRecordCorrected, RecordCorrected)
#undef LEDGER_CASE
  }
  return f(RecordCorrected{});
}

}  // namespace ledger::internal
