#include "tables.h"

#include <charconv>
#include <cstdio>
#include <map>
#include <unordered_map>

namespace ledgerctl {

namespace json = boost::json;

namespace {

// The members that name a list entry, in this order.
constexpr const char* kIdentity[] = {"code", "area", "provider", "reason", "stage", "month"};

std::string EntryName(const json::value& entry, size_t position) {
  std::string name;
  if (const json::object* o = entry.if_object()) {
    for (const char* k : kIdentity) {
      const json::value* v = o->if_contains(k);
      if (v && v->is_string()) name += (name.empty() ? "" : "/") + std::string(v->get_string());
    }
  }
  return name.empty() ? std::to_string(position) : name;
}

void CollectFigures(const std::string& path, const json::value& v,
                    std::vector<std::pair<std::string, json::value>>* out) {
  auto join = [&](std::string_view k) {
    return path.empty() ? std::string(k) : path + "." + std::string(k);
  };
  if (const json::object* o = v.if_object()) {
    for (const auto& [k, child] : *o) {
      if (path.empty() && (k == "as_of_seq" || k == "tree_head")) continue;
      CollectFigures(join(k), child, out);
    }
  } else if (const json::array* a = v.if_array()) {
    const bool interval = a->size() == 2 && path.ends_with("ci95");
    for (size_t i = 0; i < a->size(); ++i) {
      CollectFigures(
          interval ? join(i == 0 ? "low" : "high") : path + "[" + EntryName((*a)[i], i) + "]",
          (*a)[i], out);
    }
  } else {
    out->emplace_back(path, v);
  }
}

}  // namespace

std::vector<std::pair<std::string, json::value>> Figures(const json::value& answer) {
  std::vector<std::pair<std::string, json::value>> out;
  CollectFigures("", answer, &out);
  return out;
}

ledger::Result<bool> ReadCsvRecord(std::istream& in, std::vector<std::string>* fields,
                                   uint64_t* line) {
  fields->clear();
  std::string text;
  if (!std::getline(in, text)) return false;
  ++*line;
  std::string field;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0;; ++i) {
    if (i == text.size()) {
      if (!quoted) break;
      // A quoted field goes on over the line break.
      std::string more;
      if (!std::getline(in, more)) {
        return ledger::Status::InvalidArgument("line " + std::to_string(*line) +
                                               ": a quoted field is not closed");
      }
      ++*line;
      field += '\n';
      text = std::move(more);
      i = static_cast<size_t>(-1);
      continue;
    }
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\r' && i + 1 == text.size()) {
      // CRLF line ends
    } else {
      field += c;
    }
  }
  fields->push_back(std::move(field));
  return true;
}

ledger::Result<json::object> CsvRowToBody(const std::vector<std::string>& header,
                                          const std::vector<std::string>& row) {
  if (row.size() != header.size()) {
    return ledger::Status::InvalidArgument("the row has " + std::to_string(row.size()) +
                                           " cells, the header " + std::to_string(header.size()));
  }
  json::object body, data;
  std::vector<ledger::FieldError> errors;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string& name = header[i];
    const std::string& cell = row[i];
    if (cell.empty()) continue;
    json::value v = json::string(cell);
    if (name == "weeks" || name == "corrects_seq" || name == "expected_version") {
      if (cell.size() > 18 || cell.find_first_not_of("0123456789") != std::string::npos) {
        errors.push_back({name, "must be a whole number"});
        continue;
      }
      v = static_cast<int64_t>(std::stoll(cell));
    } else if (name == "fields") {
      json::error_code ec;
      v = json::parse(cell, ec);
      if (ec || !v.is_object()) {
        errors.push_back({name, "must be a JSON object of the corrected fields"});
        continue;
      }
    }
    const bool top = name == "type" || name == "referral_id" || name == "occurred_at" ||
                     name == "idempotency_key" || name == "expected_version";
    (top ? body : data)[name] = std::move(v);
  }
  if (!errors.empty()) return ledger::Status::InvalidFields(std::move(errors));
  body["data"] = std::move(data);
  return body;
}

}  // namespace ledgerctl
