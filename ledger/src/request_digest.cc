#include "ledger/request_digest.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <vector>

#include "ledger/event_fields.h"

namespace ledger {
namespace json = boost::json;

json::object EventDataToJson(const EventData& data) {
  json::object out;
  std::visit(
      [&](const auto& d) {
        using S = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<S, RecordCorrected>) {
          out["corrects_seq"] = d.corrects_seq;
          out["reason"] = d.reason;
          json::object fields;
          for (const CorrectedField& f : d.fields) {
            std::visit([&](const auto& v) { fields[f.name] = v; }, f.value);
          }
          out["fields"] = std::move(fields);
        } else {
          internal::ForEachField<S>([&](const auto& field) {
            const auto& member = d.*(field.member);
            if constexpr (requires { field.min; }) {
              out[field.name] = member;
            } else if constexpr (requires { field.spec; }) {
              if constexpr (std::decay_t<decltype(field)>::kOptional) {
                if (member) out[field.name] = *member;
              } else {
                out[field.name] = member;
              }
            } else {
              std::string_view name = ToString(member);
              out[field.name] = json::string_view(name.data(), name.size());
            }
          });
        }
      },
      data);
  return out;
}

json::object AppendRequestToJson(const AppendRequest& request) {
  json::object out;
  std::string_view type = ToString(TypeOf(request.event.data));
  out["type"] = json::string_view(type.data(), type.size());
  out["referral_id"] = request.event.referral_id;
  // The client's own spelling of the time where there is one, so that the
  // digest below tells two spellings apart and the JSON reads back as the
  // same request.
  if (request.occurred_at_text.empty()) {
    out["occurred_at"] = FormatTimestamp(request.event.occurred_at);
  } else {
    out["occurred_at"] = request.occurred_at_text;
  }
  out["data"] = EventDataToJson(request.event.data);
  if (request.expected_version) out["expected_version"] = *request.expected_version;
  if (request.idempotency_key) out["idempotency_key"] = *request.idempotency_key;
  return out;
}

namespace {
// Serialises with object keys sorted at every level, so equal JSON values
// give equal bytes.
void SerializeCanonical(const json::value& v, std::string* out) {
  if (const json::object* o = v.if_object()) {
    std::vector<const json::key_value_pair*> items;
    for (const auto& kv : *o) items.push_back(&kv);
    std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    out->push_back('{');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out->push_back(',');
      *out += json::serialize(json::value(items[i]->key()));
      out->push_back(':');
      SerializeCanonical(items[i]->value(), out);
    }
    out->push_back('}');
  } else {
    *out += json::serialize(v);
  }
}
}  // namespace

Hash RequestDigest(const AppendRequest& request) {
  std::string canonical;
  SerializeCanonical(AppendRequestToJson(request), &canonical);
  return Sha256(canonical);
}

}  // namespace ledger
