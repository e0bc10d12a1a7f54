#include "ledger/event.h"

#include <algorithm>

#include "ledger/event_fields.h"

namespace ledger {
namespace internal {
namespace {

bool IsAsciiDigits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string LengthMessage(size_t min_len, size_t max_len) {
  if (min_len == max_len) return "must be " + std::to_string(min_len) + " characters";
  if (min_len == 0) return "must be at most " + std::to_string(max_len) + " characters";
  return "must be " + std::to_string(min_len) + "-" + std::to_string(max_len) + " characters";
}

}  // namespace

std::string CheckText(std::string_view value, const TextSpec& spec) {
  switch (spec.kind) {
    case TextKind::kFree:
      if (HasControlCharacter(value)) return kControlCharacterMessage;
      break;
    case TextKind::kPseudonym:
      if (!std::all_of(value.begin(), value.end(), [](char c) {
            return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-';
          })) {
        return "must be a pseudonym of 8-64 characters from [A-Za-z0-9_-]";
      }
      break;
    case TextKind::kAreaCode: {
      std::string_view prefix = value.substr(0, 3);
      if (value.size() != 9 ||
          (prefix != "E06" && prefix != "E08" && prefix != "E09" && prefix != "E10") ||
          !IsAsciiDigits(value.substr(3))) {
        return "must be an ONS local authority code: E06, E08, E09 or E10 and 6 digits";
      }
      return "";
    }
    case TextKind::kProviderId:
      if (value.size() < 11 || value.size() > 12 || value.substr(0, 2) != "1-" ||
          !IsAsciiDigits(value.substr(2))) {
        return "must be a CQC location id: \"1-\" and 9 or 10 digits";
      }
      return "";
    case TextKind::kDate:
      if (!ParseDate(value)) return "must be a date YYYY-MM-DD";
      return "";
  }
  size_t n = CodePointCount(value);
  if (n < spec.min_len || n > spec.max_len) return LengthMessage(spec.min_len, spec.max_len);
  return "";
}

}  // namespace internal

bool HasControlCharacter(std::string_view utf8) {
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) return true;
    // U+0080-U+009F are 0xC2 0x80-0x9F in UTF-8.
    if (c == 0xC2 && i + 1 < utf8.size() && static_cast<unsigned char>(utf8[i + 1]) <= 0x9F) {
      return true;
    }
  }
  return false;
}

size_t CodePointCount(std::string_view utf8) {
  size_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

std::string CheckReferralId(std::string_view value) {
  bool ok =
      !value.empty() && value.size() <= 64 && std::all_of(value.begin(), value.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
      });
  return ok ? "" : "must be 1-64 characters from [A-Za-z0-9._-]";
}

std::string CheckAreaCode(std::string_view value) {
  return internal::CheckText(value, internal::kAreaSpec);
}

std::string CheckProviderId(std::string_view value) {
  return internal::CheckText(value, internal::kProviderSpec);
}

std::string CheckIdempotencyKey(std::string_view value) {
  if (HasControlCharacter(value)) return kControlCharacterMessage;
  size_t n = CodePointCount(value);
  return n >= 1 && n <= 255 ? "" : "must be 1-255 characters";
}

namespace {

inline constexpr Micros kMaxFutureSkew = 5 * 60 * kMicrosPerSecond;

template <typename S>
void CheckFields(const S& data, std::vector<FieldError>* errors) {
  internal::ForEachField<S>([&](const auto& field) {
    using F = std::decay_t<decltype(field)>;
    std::string problem;
    if constexpr (requires { field.spec; }) {
      const auto& member = data.*(field.member);
      if constexpr (F::kOptional) {
        if (member) problem = internal::CheckText(*member, field.spec);
      } else {
        problem = internal::CheckText(member, field.spec);
      }
    } else if constexpr (requires { field.min; }) {
      int64_t v = data.*(field.member);
      if (v < field.min || v > field.max) {
        problem = "must be an integer from " + std::to_string(field.min) + " to " +
                  std::to_string(field.max);
      }
    } else {
      auto v = static_cast<size_t>(data.*(field.member));
      if (v >= EnumCount<std::decay_t<decltype(data.*(field.member))>>()) {
        problem = "is not a known value";
      }
    }
    if (!problem.empty()) errors->push_back({"data." + std::string(field.name), problem});
  });
}

void CheckCorrection(const RecordCorrected& c, std::vector<FieldError>* errors) {
  if (c.corrects_seq == 0) errors->push_back({"data.corrects_seq", "must be a positive seq"});
  std::string problem = internal::CheckText(c.reason, internal::kLongTextSpec);
  if (!problem.empty()) errors->push_back({"data.reason", problem});
  if (c.fields.empty()) errors->push_back({"data.fields", "must name at least one field"});
  for (size_t i = 0; i < c.fields.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (c.fields[i].name == c.fields[j].name) {
        errors->push_back({"data.fields." + c.fields[i].name, "is listed twice"});
      }
    }
  }
}

// What is wrong with `value` as the new value of `field`, or "".
template <typename Field>
std::string CheckCorrectedValue(const Field& field, const CorrectedField& value) {
  if constexpr (requires { field.min; }) {
    const int64_t* v = std::get_if<int64_t>(&value.value);
    if (!v || *v < field.min || *v > field.max) {
      return "must be an integer from " + std::to_string(field.min) + " to " +
             std::to_string(field.max);
    }
    return "";
  } else {
    const std::string* s = std::get_if<std::string>(&value.value);
    if (!s) return "must be a string";
    if constexpr (requires { field.spec; }) {
      return internal::CheckText(*s, field.spec);
    } else {
      using E = typename std::decay_t<Field>::Enum;
      return ParseEnum<E>(*s) ? "" : "is not a known value";
    }
  }
}

// Sets the member `field` of `data` from a value CheckCorrectedValue accepted.
template <typename S, typename Field>
void SetCorrectedValue(const Field& field, const CorrectedField& value, S* data) {
  if constexpr (requires { field.min; }) {
    data->*(field.member) = static_cast<int32_t>(std::get<int64_t>(value.value));
  } else if constexpr (requires { field.spec; }) {
    data->*(field.member) = std::get<std::string>(value.value);
  } else {
    using E = typename std::decay_t<Field>::Enum;
    data->*(field.member) = *ParseEnum<E>(std::get<std::string>(value.value));
  }
}

}  // namespace

Status ValidateEvent(const NewEvent& event, Micros now) {
  std::vector<FieldError> errors;
  std::string problem = CheckReferralId(event.referral_id);
  if (!problem.empty()) errors.push_back({"referral_id", problem});
  if (event.occurred_at > now + kMaxFutureSkew) {
    errors.push_back({"occurred_at", "must not be more than 5 minutes in the future"});
  }
  std::visit(
      [&](const auto& data) {
        using S = std::decay_t<decltype(data)>;
        if constexpr (std::is_same_v<S, RecordCorrected>) {
          CheckCorrection(data, &errors);
        } else {
          CheckFields(data, &errors);
        }
      },
      event.data);
  return Status::InvalidFields(std::move(errors));
}

Status ValidateRequest(const AppendRequest& request, Micros now) {
  std::vector<FieldError> errors = ValidateEvent(request.event, now).field_errors();
  if (request.idempotency_key) {
    std::string problem = CheckIdempotencyKey(*request.idempotency_key);
    if (!problem.empty()) errors.push_back({"idempotency_key", std::move(problem)});
  }
  return Status::InvalidFields(std::move(errors));
}

std::optional<EventType> CorrectableType(const Event& target, std::string_view referral_id) {
  if (target.referral_id != referral_id || target.type() == EventType::kRecordCorrected) {
    return std::nullopt;
  }
  return target.type();
}

std::vector<Placement> PlacementsOf(std::span<const Event> stream) {
  std::vector<Placement> out;
  for (const Event& e : stream) {
    if (const auto* o = std::get_if<PlacementOffered>(&e.data)) {
      out.push_back({e.seq, EventType::kPlacementOffered, o->provider});
    } else if (const auto* s = std::get_if<PlacementStarted>(&e.data)) {
      out.push_back({e.seq, EventType::kPlacementStarted, s->provider});
    } else if (const auto* c = std::get_if<RecordCorrected>(&e.data)) {
      // A correction follows its target in the stream.
      for (Placement& p : out) {
        if (const std::string* provider = CorrectedText(*c, p.seq, "provider")) {
          p.provider = *provider;
        }
      }
    }
  }
  return out;
}

Status ValidateCorrectionFields(EventType target_type, const std::vector<CorrectedField>& fields) {
  std::vector<FieldError> errors;
  internal::WithDataType(target_type, [&](auto tag) {
    using S = decltype(tag);
    for (const CorrectedField& f : fields) {
      std::string path = "data.fields." + f.name;
      if constexpr (std::is_same_v<S, RecordCorrected>) {
        errors.push_back({path, "a correction cannot itself be corrected"});
      } else {
        bool known = internal::VisitFieldNamed<S>(f.name, [&](const auto& field) {
          std::string problem = CheckCorrectedValue(field, f);
          if (!problem.empty()) errors.push_back({path, problem});
        });
        if (!known) {
          errors.push_back({path, "is not a field of " + std::string(ToString(target_type))});
        }
      }
    }
  });
  return Status::InvalidFields(std::move(errors));
}

void ApplyCorrection(const std::vector<CorrectedField>& fields, EventData* target) {
  std::visit(
      [&](auto& data) {
        using S = std::decay_t<decltype(data)>;
        if constexpr (!std::is_same_v<S, RecordCorrected>) {
          for (const CorrectedField& f : fields) {
            internal::VisitFieldNamed<S>(
                f.name, [&](const auto& field) { SetCorrectedValue(field, f, &data); });
          }
        }
      },
      *target);
}

const std::string* CorrectedText(const RecordCorrected& correction, uint64_t target_seq,
                                 std::string_view name) {
  if (correction.corrects_seq != target_seq) return nullptr;
  const std::string* out = nullptr;
  for (const CorrectedField& f : correction.fields) {
    if (f.name == name) out = std::get_if<std::string>(&f.value);
  }
  return out;
}

EventBrief BriefOf(const Event& event) {
  EventBrief b;
  b.seq = event.seq;
  b.referral_id = event.referral_id;
  b.occurred_at = event.occurred_at;
  b.recorded_at = event.recorded_at;
  b.type = event.type();
  auto u8 = [](auto e) { return static_cast<uint8_t>(e); };
  std::visit(
      [&](const auto& d) {
        using D = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<D, ReferralReceived>) {
          b.enums = {u8(d.referrer), u8(d.substance), u8(d.age_band),
                     u8(d.sex),      u8(d.ethnicity), u8(d.disability)};
          b.key = d.area;
        } else if constexpr (std::is_same_v<D, AssessmentCompleted>) {
          b.enums[0] = u8(d.outcome);
        } else if constexpr (std::is_same_v<D, FundingRequested>) {
          b.enums[0] = u8(d.route);
        } else if constexpr (std::is_same_v<D, ReferralRefused>) {
          b.enums[0] = u8(d.stage);
          b.enums[1] = u8(d.reason);
          b.key = d.decided_by;
        } else if constexpr (std::is_same_v<D, AppealDecided>) {
          b.enums[0] = u8(d.outcome);
          b.key = d.decided_by;
        } else if constexpr (std::is_same_v<D, PlacementOffered> ||
                             std::is_same_v<D, PlacementStarted>) {
          b.key = d.provider;
        } else if constexpr (std::is_same_v<D, PlacementEnded>) {
          b.enums[0] = u8(d.outcome);
        } else if constexpr (std::is_same_v<D, ReferralWithdrawn>) {
          b.enums[0] = u8(d.by);
        } else if constexpr (std::is_same_v<D, RecordCorrected>) {
          b.correction = &d;
        }
      },
      event.data);
  return b;
}

}  // namespace ledger
