#include "wire/event_json.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_set>

#include "ledger/event_fields.h"
#include "ledger/request_digest.h"

namespace wire {

using namespace ledger;
namespace json = boost::json;

namespace {

constexpr size_t kMaxDepth = 64;

// A basic_parser handler that builds nothing and fails on the first object
// that repeats a key: Boost.JSON's own parser silently keeps the last one.
struct DuplicateKeyCheck {
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;

  std::vector<std::set<std::string>> objects;
  std::string key;
  bool duplicate = false;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    objects.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    objects.pop_back();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key.append(s.data(), s.size());
    bool inserted = objects.back().insert(std::move(key)).second;
    key.clear();
    if (!inserted) {
      duplicate = true;
      ec = json::error::syntax;
      return false;
    }
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

json::parse_options StrictOptions() {
  json::parse_options opt;
  opt.max_depth = kMaxDepth;
  return opt;
}

const char* KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a number with a fraction or exponent";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

std::string EnumChoices(std::span<const std::string_view> names) {
  std::string s = "must be one of:";
  for (size_t i = 0; i < names.size(); ++i) {
    s += i ? ", " : " ";
    s += names[i];
  }
  return s;
}

// Collects field errors while a request is read, in time linear in their
// number. Every error is kept here; Status::InvalidFields names at most
// kMaxFieldErrors of them.
class Errors {
 public:
  // Adds an error for a field not reported yet.
  void Add(std::string field, std::string message) {
    if (fields_.count(field)) return;
    Record(FieldError{std::move(field), std::move(message)});
  }
  // Adds the field errors of `status` that name a field not yet reported,
  // neither itself nor through one of its members ("data.fields.sex" already
  // reported covers "data.fields").
  void Merge(const Status& status) {
    for (const FieldError& e : status.field_errors()) {
      if (!Covered(e.field)) Record(e);
    }
  }
  // Adds another collection's errors not covered yet (as Merge above), each
  // field under `prefix` ("events[2]" makes "data.area" "events[2].data.area").
  void Merge(Errors&& other, const std::string& prefix) {
    for (FieldError& e : other.errors_) {
      e.field = prefix + "." + e.field;
      if (!Covered(e.field)) Record(std::move(e));
    }
  }
  bool empty() const { return errors_.empty(); }
  Status ToStatus() && { return Status::InvalidFields(std::move(errors_)); }

 private:
  // Whether `field` itself, or a member of it, is reported.
  bool Covered(const std::string& field) const {
    return fields_.count(field) > 0 || parents_.count(field) > 0;
  }
  void Record(FieldError e) {
    // Every proper prefix that ends before a '.' is a parent of the field.
    for (size_t dot = e.field.find('.'); dot != std::string::npos;
         dot = e.field.find('.', dot + 1)) {
      parents_.emplace(e.field, 0, dot);
    }
    fields_.insert(e.field);
    errors_.push_back(std::move(e));
  }

  std::vector<FieldError> errors_;
  std::unordered_set<std::string> fields_;
  std::unordered_set<std::string> parents_;
};

std::string UnknownFieldMessage(std::string_view key) {
  static constexpr std::string_view kLedgerFields[] = {"seq", "version", "recorded_at", "actor",
                                                       "hash"};
  static constexpr std::string_view kPersonData[] = {"name", "nhs_number", "date_of_birth"};
  if (std::find(std::begin(kLedgerFields), std::end(kLedgerFields), key) !=
      std::end(kLedgerFields)) {
    return "is set by the ledger and may not be sent";
  }
  if (std::find(std::begin(kPersonData), std::end(kPersonData), key) != std::end(kPersonData)) {
    return "is person data the ledger does not accept";
  }
  return "is not a known field";
}

// A JSON whole number that fits int64. A body built in memory (not parsed
// from text) may hold one as uint64: the same number, read the same way.
std::optional<int64_t> AsInt64(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v.get_uint64());
  }
  return std::nullopt;
}

// Reads a JSON integer into [min, max]; reports and returns false otherwise.
bool ReadInteger(const json::value& v, int64_t min, int64_t max, const std::string& path,
                 Errors* errors, int64_t* out) {
  std::string range = "must be an integer from " + std::to_string(min) + " to " +
                      (max == INT64_MAX ? std::string("2^63-1") : std::to_string(max));
  if (const std::optional<int64_t> n = AsInt64(v)) {
    const int64_t i = *n;
    if (i >= min && i <= max) {
      *out = i;
      return true;
    }
    errors->Add(path, range);
    return false;
  }
  if (v.is_uint64()) {
    errors->Add(path, range);
    return false;
  }
  errors->Add(path, range + ", not " + KindName(v));
  return false;
}

const json::string* ReadString(const json::value& v, const std::string& path, Errors* errors) {
  if (const json::string* s = v.if_string()) return s;
  errors->Add(path, std::string("must be a string, not ") + KindName(v));
  return nullptr;
}

// Reads the data object of a table-driven type S.
template <typename S>
S ReadData(const json::object& obj, Errors* errors) {
  S data{};
  for (const auto& kv : obj) {
    std::string key(kv.key());
    std::string path = "data." + key;
    const json::value& v = kv.value();
    bool known = internal::VisitFieldNamed<S>(key, [&](const auto& field) {
      if constexpr (requires { field.min; }) {
        int64_t i;
        if (ReadInteger(v, field.min, field.max, path, errors, &i)) {
          data.*(field.member) = static_cast<int32_t>(i);
        }
      } else if constexpr (requires { field.spec; }) {
        if (const json::string* s = ReadString(v, path, errors)) {
          data.*(field.member) = std::string(s->data(), s->size());
        }
      } else {
        using E = typename std::decay_t<decltype(field)>::Enum;
        const json::string* s = ReadString(v, path, errors);
        if (!s) return;
        auto e = ParseEnum<E>(std::string_view(s->data(), s->size()));
        if (e) {
          data.*(field.member) = *e;
        } else {
          errors->Add(path, EnumChoices(EnumTraits<E>::kNames));
        }
      }
    });
    if (!known) errors->Add(path, UnknownFieldMessage(key));
  }
  internal::ForEachField<S>([&](const auto& field) {
    if constexpr (requires { field.spec; }) {
      if constexpr (std::decay_t<decltype(field)>::kOptional) return;
    }
    if (!obj.contains(field.name)) errors->Add("data." + std::string(field.name), "is required");
  });
  return data;
}

RecordCorrected ReadCorrection(const json::object& obj, Errors* errors) {
  RecordCorrected c;
  for (const auto& kv : obj) {
    std::string key(kv.key());
    std::string path = "data." + key;
    const json::value& v = kv.value();
    if (key == "corrects_seq") {
      int64_t seq;
      if (ReadInteger(v, 1, INT64_MAX, path, errors, &seq)) c.corrects_seq = seq;
    } else if (key == "reason") {
      if (const json::string* s = ReadString(v, path, errors))
        c.reason.assign(s->data(), s->size());
    } else if (key == "fields") {
      const json::object* fields = v.if_object();
      if (!fields) {
        errors->Add(path, std::string("must be an object, not ") + KindName(v));
        continue;
      }
      if (fields->empty()) errors->Add(path, "must name at least one field");
      for (const auto& f : *fields) {
        std::string name(f.key());
        std::string fpath = path + "." + name;
        if (name == "occurred_at" || name == "type" || name == "referral_id") {
          errors->Add(fpath, "cannot be corrected");
        } else if (const json::string* s = f.value().if_string()) {
          c.fields.push_back({name, std::string(s->data(), s->size())});
        } else if (const std::optional<int64_t> i = AsInt64(f.value())) {
          c.fields.push_back({name, *i});
        } else {
          errors->Add(fpath,
                      std::string("must be a string or an integer, not ") + KindName(f.value()));
        }
      }
    } else {
      errors->Add(path, UnknownFieldMessage(key));
    }
  }
  for (const char* required : {"corrects_seq", "reason", "fields"}) {
    if (!obj.contains(required)) errors->Add(std::string("data.") + required, "is required");
  }
  return c;
}

EventData ReadEventData(EventType type, const json::object& obj, Errors* errors) {
  return internal::WithDataType(type, [&](auto tag) -> EventData {
    using S = decltype(tag);
    if constexpr (std::is_same_v<S, RecordCorrected>) {
      return ReadCorrection(obj, errors);
    } else {
      return ReadData<S>(obj, errors);
    }
  });
}

}  // namespace

Result<json::value> ParseStrictJson(std::string_view text) {
  if (text.empty()) return Status::BadField("body", "is empty; a JSON value is required");
  json::parse_options opt = StrictOptions();
  {
    json::basic_parser<DuplicateKeyCheck> check(opt);
    json::error_code ec;
    size_t n = check.write_some(false, text.data(), text.size(), ec);
    if (check.handler().duplicate) {
      return Status::BadField(
          "body", "is not valid JSON: an object repeats a key (at byte " + std::to_string(n) + ")");
    }
    if (ec) {
      return Status::BadField(
          "body", "is not valid JSON: " + ec.message() + " (at byte " + std::to_string(n) + ")");
    }
  }
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, {}, opt);
  if (ec) return Status::BadField("body", "is not valid JSON: " + ec.message());
  return v;
}

namespace {

// Reads one event object; field paths are relative to it.
AppendRequest ReadAppendRequest(const json::value& body, Micros now, Errors* errors) {
  AppendRequest req;
  const json::object* obj = body.if_object();
  if (!obj) {
    errors->Add("body", std::string("must be a JSON object, not ") + KindName(body));
    return req;
  }
  std::optional<EventType> type;
  const json::object* data = nullptr;
  for (const auto& kv : *obj) {
    std::string key(kv.key());
    const json::value& v = kv.value();
    if (key == "type") {
      if (const json::string* s = ReadString(v, key, errors)) {
        type = ParseEnum<EventType>(std::string_view(s->data(), s->size()));
        if (!type) errors->Add(key, EnumChoices(EnumTraits<EventType>::kNames));
      }
    } else if (key == "referral_id") {
      if (const json::string* s = ReadString(v, key, errors)) {
        req.event.referral_id.assign(s->data(), s->size());
        std::string problem = CheckReferralId(req.event.referral_id);
        if (!problem.empty()) errors->Add(key, problem);
      }
    } else if (key == "occurred_at") {
      if (const json::string* s = ReadString(v, key, errors)) {
        auto t = ParseTimestamp(std::string_view(s->data(), s->size()));
        if (t) {
          req.event.occurred_at = *t;
          req.occurred_at_text.assign(s->data(), s->size());
        } else {
          errors->Add(key, "must be an RFC 3339 UTC time such as 2025-03-01T09:30:00Z");
        }
      }
    } else if (key == "data") {
      data = v.if_object();
      if (!data) errors->Add(key, std::string("must be an object, not ") + KindName(v));
    } else if (key == "expected_version") {
      int64_t ev;
      if (ReadInteger(v, 0, INT64_MAX, key, errors, &ev)) req.expected_version = ev;
    } else if (key == "idempotency_key") {
      if (const json::string* s = ReadString(v, key, errors)) {
        std::string k(s->data(), s->size());
        std::string problem = CheckIdempotencyKey(k);
        if (!problem.empty()) errors->Add(key, problem);
        req.idempotency_key = std::move(k);
      }
    } else {
      errors->Add(key, UnknownFieldMessage(key));
    }
  }
  for (const char* required : {"type", "referral_id", "occurred_at", "data"}) {
    if (!obj->contains(required)) errors->Add(required, "is required");
  }
  if (type && data) {
    req.event.data = ReadEventData(*type, *data, errors);
    // The value rules (lengths, patterns, ranges, the future limit) are the
    // validator's; shape errors already reported for a field take precedence.
    errors->Merge(ValidateEvent(req.event, now));
  }
  return req;
}

// A correction's values against its target, when `targets` knows the target
// as written; else OK. Asked only of a body that fails for other fields: a
// body that passes goes to Ledger::Append, which checks them against the
// target it reads anyway.
Status CorrectionTargetErrors(const AppendRequest& req, const CorrectionTargetType& targets) {
  const auto* c = std::get_if<RecordCorrected>(&req.event.data);
  if (!targets || !c || c->corrects_seq <= 0 || c->fields.empty()) return Status::Ok();
  std::optional<EventType> type = targets(c->corrects_seq, req.event.referral_id);
  return type ? ValidateCorrectionFields(*type, c->fields) : Status::Ok();
}

}  // namespace

Result<AppendRequest> ParseAppendRequest(const json::value& body, Micros now,
                                         const CorrectionTargetType& targets) {
  Errors errors;
  AppendRequest req = ReadAppendRequest(body, now, &errors);
  if (!errors.empty()) {
    errors.Merge(CorrectionTargetErrors(req, targets));
    return std::move(errors).ToStatus();
  }
  return req;
}

Result<std::vector<AppendRequest>> ParseBatchRequest(const json::value& body, Micros now,
                                                     const CorrectionTargetType& targets) {
  const json::object* obj = body.if_object();
  if (!obj)
    return Status::BadField("body", std::string("must be a JSON object, not ") + KindName(body));
  Errors errors;
  for (const auto& kv : *obj) {
    if (kv.key() != "events") errors.Add(std::string(kv.key()), UnknownFieldMessage(kv.key()));
  }
  const json::value* events = obj->if_contains("events");
  if (!events) {
    errors.Add("events", "is required");
    return std::move(errors).ToStatus();
  }
  const json::array* arr = events->if_array();
  if (!arr) {
    errors.Add("events", std::string("must be an array, not ") + KindName(*events));
    return std::move(errors).ToStatus();
  }
  if (arr->empty() || arr->size() > kMaxBatchEvents) {
    errors.Add("events", "must hold 1 to 1000 events, not " + std::to_string(arr->size()));
    return std::move(errors).ToStatus();
  }
  std::vector<AppendRequest> out;
  out.reserve(arr->size());
  for (size_t i = 0; i < arr->size(); ++i) {
    Errors event_errors;
    out.push_back(ReadAppendRequest((*arr)[i], now, &event_errors));
    if (!event_errors.empty()) {
      errors.Merge(std::move(event_errors), "events[" + std::to_string(i) + "]");
    }
  }
  if (!errors.empty()) {
    for (size_t i = 0; i < out.size(); ++i) {
      errors.Merge(CorrectionTargetErrors(out[i], targets)
                       .WithFieldPrefix("events[" + std::to_string(i) + "]"));
    }
    return std::move(errors).ToStatus();
  }
  return out;
}

Status NameEvents(const Status& status) {
  auto name = [](size_t i) { return "events[" + std::to_string(i) + "]"; };
  if (status.event()) return status.WithFieldPrefix(name(*status.event()));
  bool any = false;
  std::vector<FieldError> named = status.field_errors();
  for (FieldError& e : named) {
    if (!e.event) continue;
    e.field = name(*e.event) + "." + e.field;
    any = true;
  }
  if (!any) return status;
  return Status::InvalidFields(std::move(named), status.omitted_fields());
}

json::object EventToJson(const Event& event) {
  json::object out;
  out["seq"] = event.seq;
  out["version"] = event.version;
  std::string_view type = ToString(event.type());
  out["type"] = json::string_view(type.data(), type.size());
  out["referral_id"] = event.referral_id;
  out["occurred_at"] = FormatTimestamp(event.occurred_at);
  out["recorded_at"] = FormatTimestamp(event.recorded_at);
  out["actor"] = event.actor;
  out["data"] = EventDataToJson(event.data);
  if (!event.idempotency_key.empty()) out["idempotency_key"] = event.idempotency_key;
  out["hash"] = ToHex(event.hash);
  return out;
}

Result<RecordedRequest> ParseRecordedEvent(json::object body) {
  RecordedRequest r;
  std::vector<ledger::FieldError> errors;
  const json::value* seq = body.if_contains("seq");
  const json::value* recorded = body.if_contains("recorded_at");
  const json::value* actor = body.if_contains("actor");
  const json::value* hash = body.if_contains("hash");
  if (!seq || (!seq->is_uint64() && !seq->is_int64()))
    errors.push_back({"seq", "is required: a whole number"});
  else
    r.seq = seq->to_number<uint64_t>();
  std::optional<ledger::Micros> at;
  if (recorded && recorded->is_string()) at = ledger::ParseTimestamp(recorded->get_string());
  if (!at)
    errors.push_back({"recorded_at", "is required: an RFC 3339 time"});
  else
    r.recorded_at = *at;
  if (!actor || !actor->is_string())
    errors.push_back({"actor", "is required"});
  else
    r.actor = actor->get_string();
  std::optional<ledger::Hash> h;
  if (hash && hash->is_string()) h = ledger::HashFromHex(hash->get_string());
  if (!h) errors.push_back({"hash", "is required: 64 hex digits"});
  r.hash = h;
  if (!errors.empty()) return ledger::Status::InvalidFields(std::move(errors));
  for (const char* k : {"seq", "version", "recorded_at", "actor", "hash"}) body.erase(k);
  auto req = ParseAppendRequest(body, r.recorded_at);
  if (!req.ok()) return req.status();
  r.request = std::move(req).value();
  return r;
}

}  // namespace wire
