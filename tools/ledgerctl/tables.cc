#include "tables.h"

#include <charconv>
#include <cstdio>
#include <map>
#include <unordered_map>

namespace ledgerctl {

namespace json = boost::json;

namespace {

std::string Scalar(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "";
    case json::kind::bool_:
      return v.get_bool() ? "true" : "false";
    case json::kind::string:
      return std::string(v.get_string());
    case json::kind::double_: {
      // The shortest text that reads back as the same double.
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
      return ec == std::errc() ? std::string(buf, end) : json::serialize(v);
    }
    default:
      return json::serialize(v);
  }
}

bool IsScalar(const json::value& v) { return !v.is_object() && !v.is_array(); }

// Calls fn(path, scalar) for every scalar under `v`, nested names joined by
// '.', a two-number interval (a name ending "ci95") as .low and .high, other
// lists of scalars by position.
template <typename Fn>
void Flatten(const std::string& path, const json::value& v, Fn&& fn) {
  auto join = [&](std::string_view k) {
    return path.empty() ? std::string(k) : path + "." + std::string(k);
  };
  if (const json::object* o = v.if_object()) {
    for (const auto& [k, child] : *o) Flatten(join(k), child, fn);
  } else if (const json::array* a = v.if_array()) {
    const bool interval = a->size() == 2 && path.ends_with("ci95");
    for (size_t i = 0; i < a->size(); ++i) {
      Flatten(interval ? join(i == 0 ? "low" : "high") : path + "[" + std::to_string(i) + "]",
              (*a)[i], fn);
    }
  } else {
    fn(path, v);
  }
}

class Table {
 public:
  explicit Table(const json::object& answer) {
    for (const char* k : {"as_of_seq", "from", "to"}) {
      if (const json::value* v = answer.if_contains(k))
        meta_.push_back(Scalar(*v));
      else
        meta_.push_back("");
    }
  }
  // One row: `figures` flattened (an object), or a single `count`.
  void Add(std::string_view scope, std::string_view key, const json::value& figures) {
    std::vector<std::pair<size_t, std::string>> cells;
    auto put = [&](const std::string& column, const json::value& v) {
      auto [it, added] = index_.try_emplace(column, columns_.size());
      if (added) columns_.push_back(column);
      cells.emplace_back(it->second, Scalar(v));
    };
    if (IsScalar(figures)) {
      put("count", figures);
    } else {
      Flatten("", figures, put);
    }
    rows_.push_back({std::string(scope), std::string(key), std::move(cells)});
  }
  std::string Csv() const {
    std::string out = "as_of_seq,from,to,scope,key";
    for (const std::string& c : columns_) out += "," + CsvField(c);
    out += "\n";
    for (const Row& r : rows_) {
      std::vector<std::string> line(columns_.size());
      for (const auto& [i, v] : r.cells) line[i] = v;
      for (const std::string& m : meta_) out += CsvField(m) + ",";
      out += CsvField(r.scope) + "," + CsvField(r.key);
      for (const std::string& v : line) out += "," + CsvField(v);
      out += "\n";
    }
    return out;
  }

 private:
  struct Row {
    std::string scope, key;
    std::vector<std::pair<size_t, std::string>> cells;
  };
  std::vector<std::string> meta_;
  std::vector<std::string> columns_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<Row> rows_;
};

// Rows for each member of an object: scope, the member's name as key.
void AddEach(Table* t, std::string_view scope, const json::value* v) {
  if (!v || !v->is_object()) return;
  for (const auto& [k, child] : v->get_object()) t->Add(scope, k, child);
}

// Rows for each entry of a list: scope, key.
void AddList(Table* t, std::string_view scope, std::string_view key, const json::value* v) {
  if (!v || !v->is_array()) return;
  for (const json::value& child : v->get_array()) t->Add(scope, key, child);
}

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

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string ViewCsv(std::string_view view, const json::object& answer) {
  Table t(answer);
  if (view == "fairness" || view == "waiting-times") {
    if (const json::value* e = answer.if_contains("england")) t.Add("england", "", *e);
    AddEach(&t, "area", answer.if_contains("areas"));
    AddEach(&t, "provider", answer.if_contains("providers"));
  } else if (view == "areas") {
    if (const json::value* areas = answer.if_contains("areas"); areas && areas->is_array()) {
      for (const json::value& a : areas->get_array()) {
        const json::value* code = a.is_object() ? a.get_object().if_contains("code") : nullptr;
        t.Add("area", code ? Scalar(*code) : "", a);
      }
    }
  } else {  // refusals: each breakdown, long
    if (const json::value* total = answer.if_contains("total")) t.Add("total", "", *total);
    AddList(&t, "reason_stage_month", "", answer.if_contains("by_reason_stage_month"));
    for (const char* k : {"by_decided_by", "by_referrer", "by_substance", "by_area"}) {
      AddEach(&t, std::string_view(k).substr(3), answer.if_contains(k));
    }
    if (const json::value* top = answer.if_contains("top_reasons"); top && top->is_object()) {
      AddList(&t, "top_reasons", "england", top->get_object().if_contains("england"));
      if (const json::value* areas = top->get_object().if_contains("areas");
          areas && areas->is_object()) {
        for (const auto& [code, list] : areas->get_object())
          AddList(&t, "top_reasons", code, &list);
      }
    }
  }
  return t.Csv();
}

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
