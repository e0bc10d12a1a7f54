#include "ledger/status.h"

namespace ledger {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kForbidden:
      return "forbidden";
    case Code::kNotFound:
      return "not_found";
    case Code::kConflict:
      return "conflict";
    case Code::kStateViolation:
      return "state_violation";
    case Code::kResourceExhausted:
      return "resource_exhausted";
    case Code::kIOError:
      return "io_error";
    case Code::kCorruption:
      return "corruption";
    case Code::kInternal:
      return "internal";
  }
  return "unknown";
}

Status Status::InvalidFields(std::vector<FieldError> errors, size_t omitted) {
  if (errors.empty()) return Ok();
  std::string message = "invalid fields:";
  const size_t over = errors.size() > kMaxFieldErrors ? errors.size() - kMaxFieldErrors : 0;
  errors.resize(errors.size() - over);
  const size_t more = over + omitted;
  for (const FieldError& e : errors) message += " " + e.field;
  if (more) message += " and " + std::to_string(more) + " more";
  Status out = InvalidArgument(std::move(message), std::move(errors));
  out.omitted_fields_ = more;
  return out;
}

Status Status::ForEvent(size_t index) const {
  if (ok()) return *this;
  Status out = *this;
  out.event_ = index;
  for (FieldError& e : out.field_errors_) {
    if (!e.event) e.event = index;
  }
  return out;
}

Status Status::WithFieldPrefix(const std::string& prefix) const {
  Status out = *this;
  for (FieldError& e : out.field_errors_) e.field = prefix + "." + e.field;
  out.message_ = prefix + ": " + message_;
  return out;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s = CodeName(code_);
  s += ": ";
  s += message_;
  // The reasons too: the message names the fields only.
  for (const FieldError& e : field_errors_) {
    s += "; ";
    s += e.field;
    s += " ";
    s += e.message;
  }
  return s;
}

}  // namespace ledger
