// Checks a view's CSV (SPEC §11, wire/view_csv.h) against its JSON: written
// apart from the code it checks (its own CSV reader, its own walk of the
// JSON), so that a figure the CSV drops, misnames or writes differently is
// found.
#pragma once

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace ledger::testing {

// RFC 4180 records of `text` (CRLF or LF line ends; quoted fields may hold
// commas, quotes and line breaks).
inline std::vector<std::vector<std::string>> ParseCsv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
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
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
    } else {
      field += c;
    }
  }
  if (!field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace csv_check {

namespace json = boost::json;

// Whether a CSV cell says the JSON value: null is empty, a number the same
// number, a string itself (after a formula guard's apostrophe).
inline bool Says(const std::string& cell, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return cell.empty();
    case json::kind::bool_:
      return cell == (v.get_bool() ? "true" : "false");
    case json::kind::string: {
      const std::string s(v.get_string());
      const bool guarded =
          !s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos;
      return cell == (guarded ? "'" + s : s);
    }
    case json::kind::int64:
    case json::kind::uint64:
      return cell == json::serialize(v);
    case json::kind::double_: {
      // Plain decimal, the same double. Boost.JSON 1.81's parser (which
      // read the JSON side) rounds some 17-digit decimals one unit in the
      // last place off; strtod rounds exactly: one ulp is allowed.
      if (cell.empty() || cell.find_first_of("eE") != std::string::npos) return false;
      char* end = nullptr;
      const double d = std::strtod(cell.c_str(), &end);
      const double j = v.get_double();
      return *end == '\0' && (d == j || std::nextafter(d, j) == j);
    }
    default:
      return false;
  }
}

// Every figure of a JSON row by its CSV column name: objects' names joined
// by '.', a two-number interval (a name ending _ci95, limits95, limits998)
// as .low and .high, other lists by position.
inline void Leaves(const std::string& path, std::string_view key, const json::value& v,
                   std::map<std::string, json::value>* out) {
  auto join = [&](std::string_view k) {
    return path.empty() ? std::string(k) : path + "." + std::string(k);
  };
  const bool interval = key.ends_with("_ci95") || key == "limits95" || key == "limits998";
  if (interval && v.is_null()) {
    (*out)[path + ".low"] = nullptr;
    (*out)[path + ".high"] = nullptr;
  } else if (interval && v.is_array()) {
    (*out)[path + ".low"] = v.get_array().at(0);
    (*out)[path + ".high"] = v.get_array().at(1);
  } else if (v.is_object()) {
    for (const auto& [k, child] : v.get_object()) Leaves(join(k), k, child, out);
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.get_array().size(); ++i) {
      Leaves(join(std::to_string(i)), "", v.get_array()[i], out);
    }
  } else {
    (*out)[path] = v;
  }
}

}  // namespace csv_check

// "" when the CSV table `csv` of a view holds exactly the figures of its
// JSON answer `answer`, else what differs. `view` is fairness,
// waiting-times, areas or trend (refusals are checked apart). Each row's leading columns
// (as_of_seq, from, to, p0, at, filters) must equal the answer's; each row's other cells must
// equal, column by column, the figures of the JSON object it stands for, and each of those figures
// must have its column; every population of the JSON must have its row.
inline std::string CsvMismatch(const std::string& view, const boost::json::object& answer,
                               const std::string& csv) {
  namespace json = boost::json;
  using csv_check::Says;
  std::ostringstream why;
  const auto rows = ParseCsv(csv);
  if (rows.empty()) return "no header";
  const std::vector<std::string>& header = rows[0];
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  // Leading columns said by the answer's top level.
  std::map<std::string, json::value> top;
  for (const char* k : {"as_of_seq", "from", "to", "p0", "at"}) {
    if (const json::value* v = answer.if_contains(k)) top[k] = *v;
  }
  if (view == "trend") {
    top.erase("from");
    top.erase("to");
    top["trend_from"] = answer.at("from");
    top["trend_to"] = answer.at("to");
    top["interval"] = answer.at("interval");
    top["area"] = answer.at("area");
  }
  if (const json::value* f = answer.if_contains("filters")) {
    for (const auto& [k, v] : f->as_object()) top["filter_" + std::string(k)] = v;
  }
  std::map<std::string, size_t> seen;  // population -> rows
  for (size_t r = 1; r < rows.size(); ++r) {
    const std::vector<std::string>& row = rows[r];
    if (row.size() != header.size()) {
      why << "row " << r << " has " << row.size() << " cells, the header " << header.size() << "\n";
      continue;
    }
    for (const auto& [k, v] : top) {
      auto it = column.find(k);
      if (it == column.end()) {
        why << "no column " << k << "\n";
      } else if (!Says(row[it->second], v)) {
        why << "row " << r << " " << k << ": " << row[it->second] << " for " << json::serialize(v)
            << "\n";
      }
    }
    // The JSON object this row stands for.
    const json::value* object = nullptr;
    std::string name;
    if (view == "fairness" || view == "waiting-times") {
      const std::string scope = row[column.at("scope")], code = row[column.at("code")];
      name = scope + "/" + code;
      if (scope == "england") object = answer.if_contains("england");
      if (scope == "area") object = answer.at("areas").as_object().if_contains(code);
      if (scope == "provider") object = answer.at("providers").as_object().if_contains(code);
    } else if (view == "trend") {
      name = row[column.at("from")];
      for (const json::value& period : answer.at("periods").as_array()) {
        if (period.at("from").as_string() == name) object = &period;
      }
    } else if (view == "areas") {
      name = row[column.at("code")];
      for (const json::value& a : answer.at("areas").as_array()) {
        if (a.at("code").as_string() == name) object = &a;
      }
    } else {
      return "CsvMismatch: refusals are checked by their own test";
    }
    if (!object) {
      why << "row " << r << " (" << name << ") stands for nothing in the JSON\n";
      continue;
    }
    ++seen[name];
    std::map<std::string, json::value> figures;
    csv_check::Leaves("", "", *object, &figures);
    for (const auto& [path, v] : figures) {
      auto it = column.find(path);
      if (it == column.end()) {
        why << name << ": no column for " << path << "\n";
      } else if (!Says(row[it->second], v)) {
        why << name << " " << path << ": '" << row[it->second] << "' for " << json::serialize(v)
            << "\n";
      }
    }
    // Cells of columns the row's JSON lacks are empty.
    for (size_t i = 0; i < header.size(); ++i) {
      if (top.count(header[i]) || header[i] == "scope" || header[i] == "code") continue;
      if (!figures.count(header[i]) && !row[i].empty()) {
        why << name << " " << header[i] << ": '" << row[i] << "' for a figure the JSON lacks\n";
      }
    }
  }
  // Every population has one row.
  auto expect = [&](const std::string& n) {
    if (seen[n] != 1) why << n << " has " << seen[n] << " rows\n";
  };
  if (view == "fairness" || view == "waiting-times") {
    expect("england/");
    for (const auto& [code, _] : answer.at("areas").as_object())
      expect("area/" + std::string(code));
    if (view == "waiting-times") {
      for (const auto& [id, _] : answer.at("providers").as_object())
        expect("provider/" + std::string(id));
    }
  } else if (view == "trend") {
    for (const json::value& p : answer.at("periods").as_array()) {
      expect(std::string(p.at("from").as_string()));
    }
  } else {
    for (const json::value& a : answer.at("areas").as_array()) {
      expect(std::string(a.at("code").as_string()));
    }
  }
  if (seen.size() + 1 != rows.size())
    why << rows.size() - 1 << " rows for " << seen.size() << " populations\n";
  return why.str().substr(0, 4000);
}

}  // namespace ledger::testing
