#include "wire/view_csv.h"

#include <boost/json.hpp>
#include <map>

#include "wire/event_json.h"
#include "wire/json_text.h"
#include "wire/view_json.h"

namespace wire {

namespace json = boost::json;
using namespace projections;

namespace {

// A list of two numbers under one of these names is an interval: its
// columns are NAME.low and NAME.high, empty when it is null.
bool IsInterval(std::string_view key) {
  return key.ends_with("_ci95") || key == "limits95" || key == "limits998";
}

std::string Cell(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "";
    case json::kind::string:
      return CsvText(v.get_string());
    case json::kind::double_:
      return FormatDecimal(v.get_double());
    default:
      return Serialize(v);  // integers, true/false
  }
}

// Calls put(column, cell) for every figure under `v`, in order.
template <typename Put>
void Flatten(const std::string& path, std::string_view key, const json::value& v, Put&& put) {
  auto join = [&](std::string_view k) {
    return path.empty() ? std::string(k) : path + "." + std::string(k);
  };
  if (IsInterval(key) && (v.is_null() || v.is_array())) {
    const json::array* a = v.if_array();
    put(path + ".low", a && a->size() == 2 ? Cell((*a)[0]) : "");
    put(path + ".high", a && a->size() == 2 ? Cell((*a)[1]) : "");
  } else if (const json::object* o = v.if_object()) {
    for (const auto& [k, child] : *o) Flatten(join(k), k, child, put);
  } else if (const json::array* a = v.if_array()) {
    for (size_t i = 0; i < a->size(); ++i) Flatten(join(std::to_string(i)), "", (*a)[i], put);
  } else {
    put(path, Cell(v));
  }
}

// A table whose figure columns are those of a template row (the fullest
// row a view can have), after a few leading columns of its own.
class Table {
 public:
  Table(std::vector<std::string> leading, const json::object& template_row)
      : leading_(std::move(leading)) {
    Flatten("", "", template_row, [&](const std::string& column, const std::string&) {
      index_.emplace(column, columns_.size());
      columns_.push_back(column);
    });
  }
  // A row: its leading cells (already CSV fields), then `row`'s figures
  // under the template's columns (a figure the template lacks cannot
  // happen: the template is the fullest row).
  void Add(const std::vector<std::string>& leading, const json::object& row) {
    std::vector<std::string> cells(columns_.size());
    Flatten("", "", row, [&](const std::string& column, std::string cell) {
      if (auto it = index_.find(column); it != index_.end()) cells[it->second] = std::move(cell);
    });
    std::string line;
    for (const std::string& c : leading) line += c + ",";
    for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + cells[i];
    rows_.push_back(std::move(line));
  }
  std::string Text() const {
    std::string out;
    for (const std::string& c : leading_) out += CsvField(c) + ",";
    for (size_t i = 0; i < columns_.size(); ++i) out += (i ? "," : "") + CsvField(columns_[i]);
    out += "\r\n";
    for (const std::string& r : rows_) out += r + "\r\n";
    return out;
  }

 private:
  std::vector<std::string> leading_;
  std::vector<std::string> columns_;
  std::map<std::string, size_t> index_;
  std::vector<std::string> rows_;
};

// The cells of an answer's as_of_seq, from and to (and those named after).
std::vector<std::string> HeaderCells(const json::object& o, std::vector<const char*> keys) {
  std::vector<std::string> out;
  for (const char* k : keys) out.push_back(Cell(o.at(k)));
  return out;
}

std::string Text(std::string_view s) { return CsvText(s); }

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

std::string CsvText(std::string_view s) {
  if (!s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos) {
    return CsvField("'" + std::string(s));
  }
  return CsvField(s);
}

// The rows of a view by population: England's, then each of `o`'s
// objects named in `groups` ("areas", "providers") under that scope, each
// row led by `head` (the answer's own cells), the scope and the code.
static void AddPopulations(Table* t, const json::object& o, const std::vector<std::string>& head,
                           std::initializer_list<std::pair<const char*, const char*>> groups) {
  auto with = [&](const char* scope, std::string_view code) {
    std::vector<std::string> cells = head;
    cells.push_back(scope);
    cells.push_back(Text(code));
    return cells;
  };
  t->Add(with("england", ""), o.at("england").as_object());
  for (const auto& [scope, member] : groups) {
    for (const auto& [code, row] : o.at(member).as_object())
      t->Add(with(scope, code), row.as_object());
  }
}

std::string ToCsv(const FairnessReport& r) {
  const json::object o = ToJson(r);
  // The fullest row: an area's (England's figures stand in for it).
  FairnessReport shape;
  shape.england = r.england;
  shape.areas.push_back(AreaFairness{"", r.england, FunnelPoint{}, AreaReference{}});
  const json::object full = ToJson(shape);
  Table t({"as_of_seq", "from", "to", "p0", "scope", "code"},
          full.at("areas").as_object().at("").as_object());
  AddPopulations(&t, o, HeaderCells(o, {"as_of_seq", "from", "to", "p0"}), {{"area", "areas"}});
  return t.Text();
}

std::string ToCsv(const WaitingTimesReport& r) {
  const json::object o = ToJson(r);
  // England's row is the fullest: providers have no decision waits.
  Table t({"as_of_seq", "from", "to", "at", "scope", "code"}, o.at("england").as_object());
  AddPopulations(&t, o, HeaderCells(o, {"as_of_seq", "from", "to", "at"}),
                 {{"area", "areas"}, {"provider", "providers"}});
  return t.Text();
}

std::string ToCsv(const AreasReport& r) {
  const json::object o = ToJson(r);
  AreasReport shape;
  shape.areas.emplace_back();
  const json::object full = ToJson(shape);
  Table t({"as_of_seq", "from", "to", "at", "p0"}, full.at("areas").as_array()[0].as_object());
  const std::vector<std::string> head = HeaderCells(o, {"as_of_seq", "from", "to", "at", "p0"});
  for (const json::value& area : o.at("areas").as_array()) t.Add(head, area.as_object());
  return t.Text();
}

// A trend: one row per period, England's figures beside.
std::string ToCsv(const TrendReport& r) {
  const json::object o = ToJson(r);
  TrendReport shape;
  shape.periods.emplace_back();
  const json::object full = ToJson(shape);
  // (The trend's own from and to are named apart from each period's.)
  Table t({"as_of_seq", "trend_from", "trend_to", "interval", "area"},
          full.at("periods").as_array()[0].as_object());
  const std::vector<std::string> head =
      HeaderCells(o, {"as_of_seq", "from", "to", "interval", "area"});
  for (const json::value& period : o.at("periods").as_array()) t.Add(head, period.as_object());
  return t.Text();
}

// A referral list: one row per referral of the page.
std::string ToCsv(const ReferralListReport& r) {
  const json::object o = ToJson(r);
  const std::vector<const char*> keys = {"as_of_seq", "from",   "to",    "at",    "area",
                                         "figure",    "reason", "stage", "total", "next_after"};
  Table t(std::vector<std::string>(keys.begin(), keys.end()), json::object{{"referral_id", ""},
                                                                           {"received_at", ""},
                                                                           {"state", ""},
                                                                           {"first_decision", ""},
                                                                           {"decided_at", ""}});
  const std::vector<std::string> head = HeaderCells(o, keys);
  for (const json::value& l : o.at("referrals").as_array()) t.Add(head, l.as_object());
  return t.Text();
}

// Refusal patterns, long: one row per cell of each breakdown.
std::string ToCsv(const RefusalsReport& r) {
  const json::object o = ToJson(r);
  const json::object row_shape{{"breakdown", ""}, {"population", ""}, {"reason", ""},
                               {"stage", ""},     {"month", ""},      {"group", ""},
                               {"count", 0},      {"share", nullptr}, {"england_share", nullptr}};
  Table t({"as_of_seq", "from", "to", "filter_area", "filter_reason", "filter_stage"}, row_shape);
  std::vector<std::string> head = HeaderCells(o, {"as_of_seq", "from", "to"});
  for (const char* k : {"area", "reason", "stage"}) {
    head.push_back(Cell(o.at("filters").as_object().at(k)));
  }
  auto add = [&](std::string_view breakdown, json::object row) {
    row["breakdown"] = breakdown;
    t.Add(head, row);
  };
  add("total", {{"population", r.area ? *r.area : "england"}, {"count", r.total}});
  for (const json::value& cell : o.at("by_reason_stage_month").as_array()) {
    add("reason_stage_month", cell.as_object());
  }
  for (const char* k : {"by_decided_by", "by_referrer", "by_substance", "by_area"}) {
    for (const auto& [group, count] : o.at(k).as_object()) {
      add(std::string_view(k).substr(3), {{"group", group}, {"count", count}});
    }
  }
  auto top = [&](std::string_view population, const json::array& list) {
    for (const json::value& entry : list) {
      json::object row = entry.as_object();
      row["population"] = population;
      add("top_reasons", std::move(row));
    }
  };
  const json::object& top_reasons = o.at("top_reasons").as_object();
  top("england", top_reasons.at("england").as_array());
  for (const auto& [code, list] : top_reasons.at("areas").as_object()) top(code, list.as_array());
  return t.Text();
}

// A referral: one row per event, the referral's figures on each.
std::string ToCsv(const ReferralReport& r) {
  json::object o = ToJson(r);
  json::array events = std::move(o["events"].as_array());
  o.erase("events");
  o.erase("received");  // its fields are those of the referral.received event's data
  // The event columns: EventToJson's members, the referral id aside (it
  // is the referral's).
  Table t({}, json::object{{"referral", o},
                           {"event", json::object{{"seq", 0},
                                                  {"version", 0},
                                                  {"type", ""},
                                                  {"occurred_at", ""},
                                                  {"recorded_at", ""},
                                                  {"actor", ""},
                                                  {"data", ""},
                                                  {"idempotency_key", ""},
                                                  {"hash", ""}}}});
  for (json::value& e : events) {
    json::object& event = e.as_object();
    // The event's data as JSON text in one cell (its fields differ by type).
    event["data"] = Serialize(event["data"]);
    event.erase("referral_id");
    t.Add({}, json::object{{"referral", o}, {"event", event}});
  }
  return t.Text();
}

}  // namespace wire
