// Errors as values: a Status says whether an operation succeeded and, if not,
// why, in a form the HTTP layer maps to a status code with one function.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ledger {

// What kind of failure a Status reports. The comment after each code names the
// HTTP status the API layer maps it to (see api/, one function does it).
enum class Code {
  kOk = 0,
  kInvalidArgument,    // 400: malformed input; field_errors() names every bad field
  kForbidden,          // 403: outside the writer's scope
  kNotFound,           // 404: no such referral, seq or area
  kConflict,           // 409: second referral.received, expected_version mismatch
  kStateViolation,     // 422: breaks the state machine, time order, correction target,
                       //      or reuses an idempotency key with another body
  kResourceExhausted,  // 503: the disk is full; nothing was appended
  kIOError,            // 500/503: the store could not read or write
  kCorruption,         // 500: stored bytes do not decode or do not verify
  kInternal,           // 500: a bug
};

// The most field errors one Status names (SPEC §6: every bad field is named;
// past this many, the message counts the rest).
inline constexpr size_t kMaxFieldErrors = 100;

// One bad field of a request, named by its path within the event's request
// ("data.area", "data.fields.weeks") or the body ("events").
struct FieldError {
  std::string field;
  std::string message;
  // Which of the events of one append it belongs to (0-based), when the
  // ledger says; how that is named ("events[1].data.outcome") is the
  // edge's (wire/event_json.h NameEvents).
  std::optional<size_t> event = std::nullopt;

  bool operator==(const FieldError&) const = default;
};

class Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message, std::vector<FieldError> errors = {}) {
    return Status(Code::kInvalidArgument, std::move(message), std::move(errors));
  }
  // OK when `errors` is empty, else kInvalidArgument naming every bad field,
  // up to kMaxFieldErrors of them; the message says how many more there were
  // ("... and 27900 more"), so that a hostile body cannot make a large answer.
  // `omitted` more were left out before (they count in the message too).
  static Status InvalidFields(std::vector<FieldError> errors, size_t omitted = 0);
  // A single bad field: the message is the field's.
  static Status BadField(std::string field, std::string message) {
    std::string summary = field + ": " + message;
    return InvalidArgument(std::move(summary), {{std::move(field), std::move(message)}});
  }
  static Status Forbidden(std::string message) {
    return Status(Code::kForbidden, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(Code::kNotFound, std::move(message));
  }
  static Status Conflict(std::string message) {
    return Status(Code::kConflict, std::move(message));
  }
  static Status StateViolation(std::string message) {
    return Status(Code::kStateViolation, std::move(message));
  }
  static Status ResourceExhausted(std::string message) {
    return Status(Code::kResourceExhausted, std::move(message));
  }
  static Status IOError(std::string message) { return Status(Code::kIOError, std::move(message)); }
  static Status Corruption(std::string message) {
    return Status(Code::kCorruption, std::move(message));
  }
  static Status Internal(std::string message) {
    return Status(Code::kInternal, std::move(message));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<FieldError>& field_errors() const { return field_errors_; }

  // Field errors past kMaxFieldErrors that InvalidFields left out.
  size_t omitted_fields() const { return omitted_fields_; }
  // The event of one append this failure is about (0-based), if any.
  std::optional<size_t> event() const { return event_; }

  // This failure, said to be about event `index` of an append: the status
  // and every field error without an event of its own.
  Status ForEvent(size_t index) const;

  // Prefixes every field path (and the message) with `prefix`: with prefix
  // "events[2]", "data.area" becomes "events[2].data.area".
  Status WithFieldPrefix(const std::string& prefix) const;

  // "conflict: expected_version 3 but the stream is at 4"; each field
  // error follows as "; <field> <message>".
  std::string ToString() const;

 private:
  Status(Code code, std::string message, std::vector<FieldError> errors = {})
      : code_(code), message_(std::move(message)), field_errors_(std::move(errors)) {}

  Code code_ = Code::kOk;
  std::string message_;
  std::vector<FieldError> field_errors_;
  size_t omitted_fields_ = 0;
  std::optional<size_t> event_;
};

const char* CodeName(Code code);

// Either a value or the Status that explains why there is none.
// REQUIRES: a Result is built from a non-OK Status only.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The failure, or OK when there is a value.
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }

  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ledger

// Propagates a failed Status from an expression that yields one.
#define LEDGER_RETURN_IF_ERROR(expr) \
  do {                               \
    ::ledger::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)
