// ledgerctl: the investigator's command line on a ledger directory.
//
//   ledgerctl verify   --data DIR
//   ledgerctl export   --data DIR [--after SEQ]
//   ledgerctl replay   --data DIR --view fairness|waiting-times|refusals|areas
//                      [--as-of SEQ|TIME] [--from DATE] [--to DATE] [--at TIME]
//                      [--area CODE] [--reason R] [--stage S]
//   ledgerctl timeline --data DIR REFERRAL [--as-of SEQ|TIME]
//   ledgerctl import   --data DIR FILE.ndjson [--actor ROLE:NAME]
//   ledgerctl proof inclusion|consistency --key KEY.pem ...   (offline)
//   ledgerctl generate --data DIR [--referrals N] [--seed S] [--from D] [--to D]
//
// Exit codes: 0 done; 1 the ledger failed verification or the thing asked
// for does not exist; 2 bad usage; 3 the ledger cannot be opened (for
// instance, ledgerd has it open).
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <openssl/evp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <iostream>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "ledger/event_json.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "projections/projector.h"
#include "synth.h"
#include "client.h"
#include "tables.h"

namespace {

namespace json = boost::json;

constexpr const char* kUsage = R"(ledgerctl: the rehab access ledger's command line

  ledgerctl verify   --data DIR
      Recomputes the hash chain, every Merkle node and every signed head from
      the stored bytes; names the first seq that does not match.
  ledgerctl export   --data DIR [--after SEQ]
      Every event (seq, version, recorded_at, actor, hash included) as NDJSON.
  ledgerctl export   --data DIR --view VIEW [view options]
      A view as CSV: one row per figure set (England, each area, ...), ci95
      intervals as .low/.high columns; see docs/TOOLS.md for the columns.
  ledgerctl replay   --data DIR --view fairness|waiting-times|refusals|areas
                     [--as-of SEQ|TIME] [--from DATE] [--to DATE] [--at TIME]
                     [--area CODE] [--reason REASON] [--stage STAGE]
      A view as JSON, as the ledger stood at --as-of (default: the head).
  ledgerctl diff     --data DIR --view VIEW --as-of A --as-of B [view options]
      What changed in a view between two moments: each figure whose value
      differs, with its value at A and at B (JSON).
  ledgerctl timeline --data DIR REFERRAL [--as-of SEQ|TIME]
      One referral's history, one line per event.
  ledgerctl proof inclusion --key KEY.pem --head HEAD.json
                            (--proof PROOF.json | --server URL --token T --seq N)
  ledgerctl proof consistency --key KEY.pem --old OLD.json
                            (--new NEW.json --proof PROOF.json | --server URL --token T [--new NEW.json])
      Checks without the ledger's storage: the heads' signatures (as served
      by /v1/ledger/head) against the ledger's public key, then an inclusion
      proof (/v1/ledger/proof/inclusion) of event N in the saved head, or a
      consistency proof (/v1/ledger/proof/consistency) from the old head to
      the new one (with --server and no --new: the head the server serves
      now). The server supplies proofs only; trust comes from the saved heads
      and the key. Exit 0 when the proof holds, 1 when it does not.
  ledgerctl import   FILE (--data DIR | --server URL --token T)
                     [--format ndjson|csv] [--actor ROLE:NAME] [--progress]
      Appends each record (an NDJSON line or a CSV row, as a POST /v1/events
      body) in order, in batches of up to 1,000, into a local ledger or to
      a server. A rejected record is reported with its line number and
      reason, and the others are kept. Records without an idempotency_key
      get one from the file's digest and the line number, so importing the
      same file again (to resume) appends nothing twice.
  ledgerctl import   FILE.ndjson --data DIR --restore
      Rebuilds a ledger from an export: every event at its exported seq with
      its recorded_at and actor, and the chain hash it had, else it stops at
      that line. Resumable: events already restored are checked, not re-added.
  ledgerctl generate --data DIR [--referrals N|calibrated] [--seed S] [--from DATE] [--to DATE]
      Fills an empty ledger with a synthetic England ledger: referrals
      received from --from (2022-01-01) to --to (today), each event recorded
      with a realistic lag and by its partnership or provider. By default the
      number of referrals is calibrated so that the placements started each
      year are about 0.8% of the 290,000 adults a year in treatment.

  Anything that runs over a second shows its progress (count, rate, ETA) on
  a terminal; --progress prints it as lines for logs.

Exit codes: 0 done, 1 verification failed, not found, or records rejected,
2 bad usage, 3 the ledger cannot be opened (is ledgerd running on it?).
)";

int Usage(const std::string& why) {
  std::fprintf(stderr, "ledgerctl: %s\n(ledgerctl --help for usage)\n", why.c_str());
  return 2;
}

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;                // the last value of each
  std::map<std::string, std::vector<std::string>> values;  // every value, in order
  bool Has(const char* k) const { return flags.count(k) != 0; }
};

// Flags that take no value.
bool IsSwitch(const std::string& name) { return name == "progress" || name == "restore"; }

bool IsWholeNumber(const std::string& s) {
  return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos;
}

// Progress of work that runs over a second, on stderr: count, rate and, when
// the total is known, percentage and time left. Drawn in place when stderr
// is a terminal; with --progress, as a line a second (for logs). Silent for
// work done within a second.
class Progress {
 public:
  Progress(std::string what, uint64_t total, const Args& a)
      : what_(std::move(what)), total_(total), tty_(::isatty(2) == 1),
        lines_(a.Has("progress")), start_(Clock::now()), last_(start_) {}
  void Add(uint64_t n) {
    done_ += n;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(tty_ ? 200 : 1000) ||
        now - start_ < std::chrono::seconds(1)) {
      return;
    }
    last_ = now;
    Draw(now, false);
  }
  void Done() {
    const auto now = Clock::now();
    if (drawn_ || (lines_ && now - start_ >= std::chrono::seconds(1))) Draw(now, true);
  }

 private:
  using Clock = std::chrono::steady_clock;
  void Draw(Clock::time_point now, bool last) {
    if (!tty_ && !lines_) return;
    drawn_ = true;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
    char line[160];
    int len = std::snprintf(line, sizeof line, "%s: %llu", what_.c_str(),
                            static_cast<unsigned long long>(done_));
    if (total_ > 0) {
      const double left = rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : 0;
      len += std::snprintf(line + len, sizeof line - len, "/%llu (%.0f%%), %.0f/s, %s %.0f s",
                           static_cast<unsigned long long>(total_),
                           100.0 * static_cast<double>(done_) / static_cast<double>(total_), rate,
                           last ? "took" : "ETA", last ? secs : left);
    } else {
      len += std::snprintf(line + len, sizeof line - len, ", %.0f/s, %.0f s", rate, secs);
    }
    if (tty_ && !lines_) {
      std::fprintf(stderr, "\r%s\033[K%s", line, last ? "\n" : "");
    } else {
      std::fprintf(stderr, "%s\n", line);
    }
    std::fflush(stderr);
  }
  std::string what_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool tty_, lines_, drawn_ = false;
  Clock::time_point start_, last_;
};

std::unique_ptr<ledger::Ledger> OpenLedger(const Args& a, int* exit_code) {
  auto it = a.flags.find("data");
  if (it == a.flags.end()) {
    *exit_code = Usage("--data DIR is required");
    return nullptr;
  }
  auto opened = ledger::Ledger::Open(it->second);
  if (!opened.ok()) {
    std::fprintf(stderr, "ledgerctl: cannot open %s: %s\n", it->second.c_str(),
                 opened.status().message().c_str());
    *exit_code = 3;
    return nullptr;
  }
  return std::move(opened).value();
}

// --as-of as a seq or a time; false when it is neither.
bool ParseAsOf(const Args& a, projections::ViewQuery* q) {
  auto it = a.flags.find("as-of");
  if (it == a.flags.end()) return true;
  const std::string& v = it->second;
  if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos && v.size() <= 19) {
    q->as_of_seq = std::stoull(v);
    return true;
  }
  q->as_of_time = ledger::ParseTimestamp(v);
  return q->as_of_time.has_value();
}

int Verify(const Args& a) {
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  Progress progress("verify", ledger->Size(), a);
  uint64_t seen = 0;
  ledger::VerifyReport r = ledger->Verify([&](uint64_t done, uint64_t) {
    progress.Add(done - seen);
    seen = done;
  });
  progress.Add(r.events_checked - std::min(seen, r.events_checked));
  progress.Done();
  if (r.ok) {
    std::printf("ok: %llu events and %llu signed heads verify; head %s\n",
                static_cast<unsigned long long>(r.events_checked),
                static_cast<unsigned long long>(r.signed_heads_checked),
                ledger::ToHex(ledger->Head().root).c_str());
    return 0;
  }
  std::printf("FAILED at seq %llu: %s\n", static_cast<unsigned long long>(r.first_bad_seq),
              r.problem.c_str());
  return 1;
}

int Replay(const Args& a);

int Export(const Args& a) {
  if (a.Has("view")) return Replay(a);  // a view as CSV
  for (const char* k : {"as-of", "from", "to", "at", "area", "reason", "stage"}) {
    if (a.Has(k)) return Usage(std::string("--") + k + " is for exporting a view (--view)");
  }
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  uint64_t after = 0;
  if (a.Has("after")) {
    if (!IsWholeNumber(a.flags.at("after"))) return Usage("--after must be a seq");
    after = std::stoull(a.flags.at("after"));
  }
  const uint64_t size = ledger->Size();
  // On stderr, so the export on stdout stays clean.
  Progress progress("export", size - std::min(after, size), a);
  ledger::Status st = ledger->ScanEvents(after, size, [&](const ledger::Event& e) {
    std::cout << json::serialize(ledger::EventToJson(e)) << '\n';
    progress.Add(1);
    return ledger::Status::Ok();
  });
  progress.Done();
  if (!st.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

// The view filters every view command takes: --from --to --at --area
// --reason --stage (and --as-of, read by the caller). Returns a usage
// message when one is malformed, else "".
std::string ParseFilters(const Args& a, projections::ViewQuery* q) {
  auto flag = [&](const char* k) -> const std::string* {
    auto it = a.flags.find(k);
    return it == a.flags.end() ? nullptr : &it->second;
  };
  if (auto v = flag("from")) {
    if (!(q->from_day = ledger::ParseDate(*v))) return "--from must be YYYY-MM-DD";
  }
  if (auto v = flag("to")) {
    if (!(q->to_day = ledger::ParseDate(*v))) return "--to must be YYYY-MM-DD";
  }
  if (auto v = flag("at")) {
    if (!(q->at = ledger::ParseTimestamp(*v))) return "--at must be an RFC 3339 time";
  }
  if (auto v = flag("area")) q->area = *v;
  if (auto v = flag("reason")) {
    if (!(q->reason = ledger::ParseEnum<ledger::RefusalReason>(*v))) return "unknown --reason";
  }
  if (auto v = flag("stage")) {
    if (!(q->stage = ledger::ParseEnum<ledger::RefusalStage>(*v))) return "unknown --stage";
  }
  const std::string view = a.Has("view") ? a.flags.at("view") : "";
  if (view.empty()) return "--view is required";
  if (view != "fairness" && view != "waiting-times" && view != "refusals" && view != "areas") {
    return "--view must be fairness, waiting-times, refusals or areas";
  }
  return "";
}

// Opens the ledger and its views, caught up to the head; nullptr (and the
// exit code) when they cannot be.
struct Opened {
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<projections::Projector> projector;
};
std::optional<Opened> OpenViews(const Args& a, int* exit_code) {
  Opened o;
  o.ledger = OpenLedger(a, exit_code);
  if (!o.ledger) return std::nullopt;
  auto projector = projections::Projector::Open(o.ledger.get());
  ledger::Status caught_up = projector.status();
  if (projector.ok()) {
    // Catching up on a ledger the views have not seen can take seconds:
    // done on a thread while this one shows how far it got.
    projections::Projector& p = **projector;
    const uint64_t from = p.applied(), size = o.ledger->Size();
    Progress progress("views", size - std::min(from, size), a);
    std::atomic<bool> finished{false};
    std::thread worker([&] {
      caught_up = p.CatchUp();
      finished.store(true);
    });
    uint64_t seen = from;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const uint64_t now = p.applied();
      progress.Add(now - seen);
      seen = now;
    }
    worker.join();
    progress.Add(p.applied() - seen);
    progress.Done();
  }
  if (!caught_up.ok()) {
    std::fprintf(stderr, "ledgerctl: the views cannot be built\n");
    *exit_code = 1;
    return std::nullopt;
  }
  o.projector = std::move(projector).value();
  return o;
}

ledger::Result<json::object> ComputeView(projections::Projector& p, const std::string& view,
                                         const projections::ViewQuery& q) {
  if (view == "fairness") return p.Fairness(q);
  if (view == "waiting-times") return p.WaitingTimes(q);
  if (view == "refusals") return p.Refusals(q);
  return p.Areas(q);
}

// replay, and export --view: one view as the ledger stood at --as-of.
int Replay(const Args& a) {
  projections::ViewQuery q;
  if (!ParseAsOf(a, &q)) return Usage("--as-of must be a seq or an RFC 3339 time");
  if (std::string bad = ParseFilters(a, &q); !bad.empty()) return Usage(bad);
  const bool csv = a.command == "export";
  if (csv && a.Has("after")) return Usage("--after is for exporting events, not a view");
  int code = 0;
  std::optional<Opened> o = OpenViews(a, &code);
  if (!o) return code;
  const std::string& view = a.flags.at("view");
  ledger::Result<json::object> out = ComputeView(*o->projector, view, q);
  if (!out.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", out.status().ToString().c_str());
    return 1;
  }
  if (csv) {
    std::cout << ledgerctl::ViewCsv(view, *out);
  } else {
    std::cout << json::serialize(*out) << '\n';
  }
  return 0;
}

// diff: every figure of a view that differs between two moments.
int Diff(const Args& a) {
  auto as_of = a.values.find("as-of");
  if (as_of == a.values.end() || as_of->second.size() != 2) {
    return Usage("diff takes --as-of twice: the earlier moment, then the later");
  }
  projections::ViewQuery q;
  if (std::string bad = ParseFilters(a, &q); !bad.empty()) return Usage(bad);
  std::array<projections::ViewQuery, 2> at = {q, q};
  for (size_t i = 0; i < 2; ++i) {
    Args one;
    one.flags["as-of"] = as_of->second[i];
    if (!ParseAsOf(one, &at[i])) return Usage("--as-of must be a seq or an RFC 3339 time");
  }
  int code = 0;
  std::optional<Opened> o = OpenViews(a, &code);
  if (!o) return code;
  const std::string& view = a.flags.at("view");
  std::array<json::object, 2> answers;
  for (size_t i = 0; i < 2; ++i) {
    auto r = ComputeView(*o->projector, view, at[i]);
    if (!r.ok()) {
      std::fprintf(stderr, "ledgerctl: %s\n", r.status().ToString().c_str());
      return 1;
    }
    answers[i] = std::move(r).value();
  }
  // Figures by path, in the later answer's order, then those only earlier.
  std::map<std::string, json::value> before;
  for (auto& [path, v] : ledgerctl::Figures(answers[0])) before.emplace(path, v);
  json::array changes;
  for (auto& [path, v] : ledgerctl::Figures(answers[1])) {
    auto it = before.find(path);
    json::value old = it == before.end() ? json::value(nullptr) : it->second;
    if (it != before.end()) before.erase(it);
    if (old != v) changes.push_back(json::object{{"figure", path}, {"before", old}, {"after", v}});
  }
  for (auto& [path, v] : before) {
    changes.push_back(json::object{{"figure", path}, {"before", v}, {"after", nullptr}});
  }
  json::object out{{"view", view},
                   {"before_as_of_seq", answers[0].at("as_of_seq")},
                   {"after_as_of_seq", answers[1].at("as_of_seq")},
                   {"changed", changes.size()},
                   {"changes", std::move(changes)}};
  std::cout << json::serialize(out) << '\n';
  return 0;
}

// A duration as a person reads it: "45m", "3h12m", "2d4h", "3w1d".
std::string Lag(ledger::Micros d) {
  const int64_t minutes = std::max<int64_t>(0, d) / (60 * ledger::kMicrosPerSecond);
  const int64_t h = minutes / 60, days = h / 24;
  char buf[48];
  if (minutes < 60) std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(minutes));
  else if (h < 24) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(h), static_cast<long long>(minutes % 60));
  else if (days < 14) std::snprintf(buf, sizeof buf, "%lldd%lldh", static_cast<long long>(days), static_cast<long long>(h % 24));
  else std::snprintf(buf, sizeof buf, "%lldw%lldd", static_cast<long long>(days / 7), static_cast<long long>(days % 7));
  return buf;
}

int Timeline(const Args& a) {
  if (a.positional.size() != 1) return Usage("timeline takes one REFERRAL");
  projections::ViewQuery q;
  if (!ParseAsOf(a, &q)) return Usage("--as-of must be a seq or an RFC 3339 time");
  int code = 0;
  std::optional<Opened> o = OpenViews(a, &code);
  if (!o) return code;
  auto view = o->projector->Referral(a.positional[0], q);
  if (!view.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", view.status().message().c_str());
    return 1;
  }
  const json::object& v = *view;
  auto text = [](const json::value& x) { return std::string(x.as_string()); };
  std::printf("referral %s, area %s, state %s (as of seq %s)\n", a.positional[0].c_str(),
              text(v.at("area")).c_str(), text(v.at("state")).c_str(),
              json::serialize(v.at("as_of_seq")).c_str());
  // Each event: when it happened, what it was, and when and by whom it was
  // recorded (the lag between the two is part of the record).
  for (const json::value& e : v.at("events").as_array()) {
    const auto occurred = ledger::ParseTimestamp(text(e.at("occurred_at")));
    const auto recorded = ledger::ParseTimestamp(text(e.at("recorded_at")));
    std::printf("  %8s  %-27s %-21s %s  [recorded %s later by %s]\n",
                json::serialize(e.at("seq")).c_str(), text(e.at("occurred_at")).c_str(),
                text(e.at("type")).c_str(), json::serialize(e.at("data")).c_str(),
                occurred && recorded ? Lag(*recorded - *occurred).c_str() : "?",
                text(e.at("actor")).c_str());
  }
  std::string facts;
  if (const json::value& first = v.at("first_decision"); first.is_string()) {
    facts += "first decision: " + text(first) + " after " +
             json::serialize(v.at("decision_wait_days")) + " days";
    if (v.at("overturned_on_appeal").as_bool()) facts += ", overturned on appeal";
  } else {
    facts += "no decision yet";
  }
  if (const json::value& w = v.at("start_wait_days"); !w.is_null()) {
    facts += "; placement started " + json::serialize(w) + " days after referral";
  }
  if (const json::value& w = v.at("waiting_days"); !w.is_null()) {
    facts += "; open, waiting " + json::serialize(w) + " days so far";
  }
  std::printf("%s\n", facts.c_str());
  return 0;
}

std::optional<json::value> ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  json::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec) return std::nullopt;
  return v;
}

// A signed head as the API serves it: size, root_hash, timestamp, signature.
std::optional<ledger::SignedTreeHead> HeadFromJson(const json::value& v) {
  const json::object* o = v.if_object();
  if (!o) return std::nullopt;
  const json::value* size = o->if_contains("size");
  const json::value* root = o->if_contains("root_hash");
  const json::value* ts = o->if_contains("timestamp");
  const json::value* sig = o->if_contains("signature");
  if (!size || !size->is_number() || !root || !root->is_string() || !ts || !sig ||
      !sig->is_string()) {
    return std::nullopt;
  }
  ledger::SignedTreeHead h;
  h.head.size = size->to_number<uint64_t>();
  auto r = ledger::HashFromHex(root->as_string());
  auto s = ledger::FromHex(sig->as_string());
  if (!r || !s) return std::nullopt;
  h.head.root = *r;
  h.signature = *s;
  if (ts->is_string()) {
    auto t = ledger::ParseTimestamp(ts->as_string());
    if (!t) return std::nullopt;
    h.head.timestamp = *t;
  } else if (!ts->is_null()) {
    return std::nullopt;
  }
  return h;
}

std::optional<std::vector<ledger::Hash>> HashList(const json::value* v) {
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<ledger::Hash> out;
  for (const json::value& h : v->as_array()) {
    if (!h.is_string()) return std::nullopt;
    auto parsed = ledger::HashFromHex(h.as_string());
    if (!parsed) return std::nullopt;
    out.push_back(*parsed);
  }
  return out;
}

// A problem+json reply as one line: detail, then each named field.
std::string ProblemText(const ledgerctl::HttpReply& reply) {
  json::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (ec || !v.is_object()) return "HTTP " + std::to_string(reply.status);
  const json::object& o = v.as_object();
  std::string out = "HTTP " + std::to_string(reply.status);
  if (const json::value* d = o.if_contains("detail"); d && d->is_string()) {
    out += ": " + std::string(d->get_string());
  }
  if (const json::value* errs = o.if_contains("errors"); errs && errs->is_array()) {
    for (const json::value& e : errs->get_array()) {
      if (!e.is_object()) continue;
      const json::value* f = e.as_object().if_contains("field");
      const json::value* m = e.as_object().if_contains("message");
      if (f && m && f->is_string() && m->is_string()) {
        out += "; " + std::string(f->get_string()) + " " + std::string(m->get_string());
      }
    }
  }
  return out;
}

// Proofs are checked against heads the user holds and a key the user trusts;
// a server (--server) only supplies the proof and, for consistency without
// --new, the head it serves now, whose signature is checked like any other.
int Proof(const Args& a) {
  if (a.positional.size() != 1 ||
      (a.positional[0] != "inclusion" && a.positional[0] != "consistency")) {
    return Usage("proof takes inclusion or consistency");
  }
  const bool inclusion = a.positional[0] == "inclusion";
  auto file = [&](const char* k) -> std::optional<json::value> {
    auto it = a.flags.find(k);
    return it == a.flags.end() ? std::nullopt : ReadJsonFile(it->second);
  };
  if (!a.Has("key")) return Usage("--key KEY.pem is required");
  std::ifstream key_in(a.flags.at("key"));
  std::stringstream pem;
  pem << key_in.rdbuf();
  std::optional<std::string> key = ledger::PublicKeyFromPem(pem.str());
  if (!key) return Usage("--key must be the ledger's PEM public key");
  if (a.Has("proof") == a.Has("server")) return Usage("proof takes --proof FILE or --server URL");
  if (a.Has("server") && !a.Has("token")) return Usage("--server needs --token");
  if (inclusion && a.Has("server") != a.Has("seq")) {
    return Usage("--seq N goes with --server, and only with it");
  }
  if (a.Has("seq") && !IsWholeNumber(a.flags.at("seq"))) return Usage("--seq must be a whole number");

  auto fail = [](const std::string& why) {
    std::printf("REJECTED: %s\n", why.c_str());
    return 1;
  };
  // -1: the head verifies and is in *out; else the exit code.
  auto check_head = [&](const json::value& v, const std::string& what,
                        ledger::SignedTreeHead* out) -> int {
    std::optional<ledger::SignedTreeHead> h = HeadFromJson(v);
    if (!h) return Usage(what + " is not a signed head");
    if (!ledger::VerifyTreeHead(*h, *key)) {
      return fail("the " + what + "'s signature does not verify with the key");
    }
    *out = *h;
    return -1;
  };
  auto saved_head = [&](const char* flag, ledger::SignedTreeHead* out) -> int {
    std::optional<json::value> v = file(flag);
    if (!v) return Usage(std::string("--") + flag + " must be a signed head as the API serves it");
    return check_head(*v, std::string(flag) + " head", out);
  };
  std::optional<ledgerctl::HttpClient> server;
  if (a.Has("server")) {
    auto c = ledgerctl::HttpClient::Make(a.flags.at("server"), a.flags.at("token"));
    if (!c.ok()) return Usage(c.status().message());
    server = std::move(c).value();
  }
  // A JSON object from the server; exit code 1 when there is none.
  auto fetch = [&](const std::string& target, json::value* out) -> int {
    auto reply = server->Call("GET", target);
    if (!reply.ok()) return fail("the server: " + reply.status().message());
    if (reply->status != 200) return fail("the server: " + ProblemText(*reply));
    json::error_code ec;
    *out = json::parse(reply->body, ec);
    if (ec || !out->is_object()) return fail("the server's reply is not a JSON object");
    return -1;
  };
  json::value proof;
  if (!server) {
    std::optional<json::value> p = file("proof");
    if (!p || !p->is_object()) return Usage("--proof must be a proof as the API serves it");
    proof = std::move(*p);
  }

  if (inclusion) {
    ledger::SignedTreeHead head;
    if (int rc = saved_head("head", &head); rc >= 0) return rc;
    if (server) {
      const std::string target = "/v1/ledger/proof/inclusion?seq=" + a.flags.at("seq") +
                                 "&size=" + std::to_string(head.head.size);
      if (int rc = fetch(target, &proof); rc >= 0) return rc;
    }
    const json::object& p = proof.as_object();
    const json::value* index = p.if_contains("leaf_index");
    const json::value* size = p.if_contains("size");
    const json::value* leaf = p.if_contains("leaf_hash");
    std::optional<std::vector<ledger::Hash>> path = HashList(p.if_contains("audit_path"));
    std::optional<ledger::Hash> leaf_hash;
    if (leaf && leaf->is_string()) leaf_hash = ledger::HashFromHex(leaf->as_string());
    if (!index || !index->is_number() || !size || !size->is_number() || !leaf_hash || !path) {
      return server ? fail("the server's reply is not an inclusion proof")
                    : Usage("--proof is not an inclusion proof");
    }
    if (size->to_number<uint64_t>() != head.head.size) {
      return fail("the proof is for a tree of " + json::serialize(*size) + " events, the head has " +
                  std::to_string(head.head.size));
    }
    if (a.Has("seq") && index->to_number<uint64_t>() + 1 != std::stoull(a.flags.at("seq"))) {
      return fail("the proof is for another event");
    }
    if (!ledger::VerifyInclusion(index->to_number<uint64_t>(), head.head.size, *leaf_hash, *path,
                                 head.head.root)) {
      return fail("the audit path does not lead to the head's root");
    }
    std::printf("ok: event %llu (leaf hash %s) is in the signed tree of %llu events\n",
                static_cast<unsigned long long>(index->to_number<uint64_t>() + 1),
                ledger::ToHex(*leaf_hash).c_str(),
                static_cast<unsigned long long>(head.head.size));
    return 0;
  }

  ledger::SignedTreeHead old_head, new_head;
  if (int rc = saved_head("old", &old_head); rc >= 0) return rc;
  if (a.Has("new") || !server) {
    if (int rc = saved_head("new", &new_head); rc >= 0) return rc;
  } else {
    json::value served;
    if (int rc = fetch("/v1/ledger/head", &served); rc >= 0) return rc;
    if (int rc = check_head(served, "server's head", &new_head); rc >= 0) return rc;
  }
  if (server) {
    const std::string target = "/v1/ledger/proof/consistency?from=" +
                               std::to_string(old_head.head.size) +
                               "&to=" + std::to_string(new_head.head.size);
    if (old_head.head.size > new_head.head.size) {
      return fail("the new head has fewer events than the old one");
    }
    if (int rc = fetch(target, &proof); rc >= 0) return rc;
  }
  std::optional<std::vector<ledger::Hash>> path = HashList(proof.as_object().if_contains("proof"));
  if (!path) {
    return server ? fail("the server's reply is not a consistency proof")
                  : Usage("--proof is not a consistency proof");
  }
  const uint64_t m = old_head.head.size, n = new_head.head.size;
  const bool holds = m == 0 || (m <= n && (m == n ? old_head.head.root == new_head.head.root
                                                  : ledger::VerifyConsistency(
                                                        m, n, old_head.head.root,
                                                        new_head.head.root, *path)));
  if (!holds) return fail("the ledger of the new head does not extend the old one");
  std::printf("ok: the tree of %llu events (root %s) extends the tree of %llu\n",
              static_cast<unsigned long long>(n), ledger::ToHex(new_head.head.root).c_str(),
              static_cast<unsigned long long>(m));
  return 0;
}

// The SHA-256 of a file, read in pieces, and its number of lines.
std::optional<std::pair<std::string, uint64_t>> DigestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  uint64_t lines = 0;
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    const auto n = static_cast<size_t>(in.gcount());
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
    lines += static_cast<uint64_t>(std::count(buf.data(), buf.data() + n, '\n'));
  }
  ledger::Hash h;
  EVP_DigestFinal_ex(ctx.get(), h.data(), nullptr);
  return std::make_pair(ledger::ToHex(h), lines);
}

// Reads an import file record by record: each as a POST /v1/events body (an
// NDJSON line, or a CSV row under its header), or why it is not one.
class Records {
 public:
  Records(std::istream& in, bool csv) : in_(in), csv_(csv) {}
  // False at the end. `number` is the record's first line.
  bool Next(uint64_t* number, ledger::Result<json::object>* body) {
    for (;;) {
      *number = line_ + 1;
      if (!csv_) {
        std::string text;
        if (!std::getline(in_, text)) return false;
        ++line_;
        if (text.empty() || text == "\r") continue;
        auto v = ledger::ParseStrictJson(text);
        if (!v.ok()) *body = v.status();
        else if (!v->is_object()) *body = ledger::Status::InvalidArgument("the line is not a JSON object");
        else *body = std::move(v->as_object());
        return true;
      }
      std::vector<std::string> row;
      auto more = ledgerctl::ReadCsvRecord(in_, &row, &line_);
      if (!more.ok()) {
        *body = more.status();
        return true;
      }
      if (!*more) return false;
      if (row.size() == 1 && row[0].empty()) continue;
      if (header_.empty()) {
        header_ = row;  // the first record names the columns
        continue;
      }
      *body = ledgerctl::CsvRowToBody(header_, row);
      return true;
    }
  }

 private:
  std::istream& in_;
  bool csv_;
  uint64_t line_ = 0;
  std::vector<std::string> header_;
};

// An exported event (ledgerctl export) as a request that keeps its recording,
// seq and chain hash.
ledger::Result<ledger::RecordedRequest> ExportedEvent(json::object body) {
  ledger::RecordedRequest r;
  std::vector<ledger::FieldError> errors;
  const json::value* seq = body.if_contains("seq");
  const json::value* recorded = body.if_contains("recorded_at");
  const json::value* actor = body.if_contains("actor");
  const json::value* hash = body.if_contains("hash");
  if (!seq || (!seq->is_uint64() && !seq->is_int64())) errors.push_back({"seq", "is required: a whole number"});
  else r.seq = seq->to_number<uint64_t>();
  std::optional<ledger::Micros> at;
  if (recorded && recorded->is_string()) at = ledger::ParseTimestamp(recorded->get_string());
  if (!at) errors.push_back({"recorded_at", "is required: an RFC 3339 time"});
  else r.recorded_at = *at;
  if (!actor || !actor->is_string()) errors.push_back({"actor", "is required"});
  else r.actor = actor->get_string();
  std::optional<ledger::Hash> h;
  if (hash && hash->is_string()) h = ledger::HashFromHex(hash->get_string());
  if (!h) errors.push_back({"hash", "is required: 64 hex digits"});
  r.hash = h;
  if (!errors.empty()) return ledger::Status::InvalidFields(std::move(errors));
  for (const char* k : {"seq", "version", "recorded_at", "actor", "hash"}) body.erase(k);
  auto req = ledger::ParseAppendRequest(body, r.recorded_at);
  if (!req.ok()) return req.status();
  r.request = std::move(req).value();
  return r;
}

// Where an import goes: a local ledger, or a server's POST /v1/events/batch.
struct Destination {
  std::unique_ptr<ledger::Ledger> ledger;
  std::optional<ledgerctl::HttpClient> server;
  ledger::WriteContext ctx;
};

int Import(const Args& a) {
  if (a.positional.size() != 1) return Usage("import takes one FILE");
  const std::string& path = a.positional[0];
  const std::string format = a.Has("format") ? a.flags.at("format")
                             : path.ends_with(".csv") ? "csv" : "ndjson";
  if (format != "csv" && format != "ndjson") return Usage("--format must be ndjson or csv");
  const bool restore = a.Has("restore");
  if (a.Has("data") == a.Has("server")) return Usage("import takes --data DIR or --server URL");
  if (a.Has("server") && !a.Has("token")) return Usage("--server needs --token");
  if (restore && (a.Has("server") || format == "csv" || a.Has("actor"))) {
    return Usage("--restore takes an NDJSON export into a local ledger (--data), without --actor");
  }
  auto digest = DigestFile(path);
  if (!digest) return Usage("cannot read " + path);
  const std::string file_id = digest->first.substr(0, 16);

  Destination to;
  int code = 0;
  if (a.Has("server")) {
    auto client = ledgerctl::HttpClient::Make(a.flags.at("server"), a.flags.at("token"));
    if (!client.ok()) return Usage(client.status().message());
    to.server = std::move(client).value();
  } else {
    to.ledger = OpenLedger(a, &code);
    if (!to.ledger) return code;
    to.ctx.actor = a.Has("actor") ? a.flags.at("actor") : "partnership:import";
  }

  uint64_t appended = 0, replayed = 0, rejected = 0, skipped = 0;
  auto reject = [&](uint64_t line, const std::string& why) {
    ++rejected;
    std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(line), why.c_str());
  };
  Progress progress("import", digest->second, a);

  // Each batch is all or nothing: when one fails, its lines go one by one so
  // that only the bad ones are left out (and named).
  struct Pending {
    uint64_t line;
    json::object body;
    ledger::AppendRequest request;  // local imports
  };
  std::vector<Pending> batch;
  bool stop = false;  // the destination failed: nothing more can be appended
  auto post = [&](std::span<Pending> items) -> std::pair<bool, std::string> {
    json::array events;
    for (Pending& p : items) events.push_back(p.body);
    auto reply = items.size() == 1
                     ? to.server->Call("POST", "/v1/events", json::serialize(items[0].body))
                     : to.server->Call("POST", "/v1/events/batch",
                                       json::serialize(json::object{{"events", std::move(events)}}));
    if (!reply.ok()) {
      stop = true;
      return {false, reply.status().message()};
    }
    if (reply->status == 200 || reply->status == 201) {
      (reply->status == 200 ? replayed : appended) += items.size();
      return {true, ""};
    }
    // The credential or the server, not the events: no use going on.
    if (reply->status == 401 || reply->status == 413 || reply->status >= 500) stop = true;
    return {false, ProblemText(*reply)};
  };
  auto local = [&](std::span<Pending> items) -> std::pair<bool, std::string> {
    std::vector<ledger::AppendRequest> requests;
    for (Pending& p : items) requests.push_back(p.request);
    auto r = to.ledger->Append(requests, to.ctx);
    if (!r.ok()) {
      const ledger::Code c = r.status().code();
      if (c == ledger::Code::kIOError || c == ledger::Code::kResourceExhausted ||
          c == ledger::Code::kCorruption || c == ledger::Code::kInternal) {
        stop = true;
      }
      return {false, r.status().ToString()};
    }
    for (const auto& one : *r) ++(one.replayed ? replayed : appended);
    return {true, ""};
  };
  auto flush = [&] {
    if (batch.empty()) return;
    auto send = [&](std::span<Pending> items) { return to.server ? post(items) : local(items); };
    const char* kStopped = "; nothing from this line on was appended";
    auto [ok, why] = send(batch);
    if (!ok && stop) {
      reject(batch.front().line, why + kStopped);
    } else if (!ok) {
      for (Pending& p : batch) {
        auto [one_ok, one_why] = send(std::span<Pending>(&p, 1));
        if (!one_ok) reject(p.line, stop ? one_why + kStopped : one_why);
        if (stop) break;
      }
    }
    progress.Add(batch.size());
    batch.clear();
  };

  // A restore: every event lands at its exported seq with its exported hash.
  std::vector<std::pair<uint64_t, ledger::RecordedRequest>> history;
  auto restore_flush = [&] {
    if (history.empty()) return;
    std::vector<ledger::RecordedRequest> requests;
    for (auto& [line, r] : history) requests.push_back(r);
    auto r = to.ledger->AppendRecorded(requests);
    if (r.ok()) {
      appended += history.size();
    } else {
      // Name the line: append the events one by one up to it.
      for (auto& [line, one] : history) {
        auto single = to.ledger->AppendRecorded(std::span(&one, 1));
        if (!single.ok()) {
          reject(line, single.status().ToString());
          break;
        }
        ++appended;
      }
      stop = true;  // a history cannot go on past a gap
    }
    progress.Add(history.size());
    history.clear();
  };

  std::ifstream in(path, std::ios::binary);
  Records records(in, format == "csv");
  uint64_t line = 0;
  ledger::Result<json::object> body = ledger::Status::Internal("unread");
  while (!stop && records.Next(&line, &body)) {
    if (!body.ok()) {
      reject(line, body.status().ToString());
      if (restore) stop = true;
      continue;
    }
    if (restore) {
      const json::object exported = *body;
      auto r = ExportedEvent(std::move(body).value());
      if (!r.ok()) {
        reject(line, r.status().ToString());
        stop = true;
        continue;
      }
      if (r->seq <= to.ledger->Size()) {
        // Resuming: what is already there must be this very event, every
        // field of it (the line's hash alone proves nothing of its body).
        auto held = to.ledger->GetEvent(r->seq);
        if (!held.ok() || ledger::EventToJson(*held) != exported) {
          reject(line, "the ledger holds a different event at seq " + std::to_string(r->seq));
          stop = true;
        } else {
          ++skipped;
        }
        continue;
      }
      history.emplace_back(line, std::move(r).value());
      if (history.size() == 1000) restore_flush();
      continue;
    }
    json::object& b = *body;
    if (b.contains("seq") && b.contains("hash")) {
      // An export: appending it anew would re-record every event now, by
      // the importer. Say what was meant instead of rejecting every line.
      reject(line, "this is an export (it has seq and hash): import it with --restore to keep "
                   "each event's seq, recording and actor");
      stop = true;
      continue;
    }
    if (!b.contains("idempotency_key")) {
      b["idempotency_key"] = "import-" + file_id + "-" + std::to_string(line);
    }
    Pending p{line, std::move(b), {}};
    if (!to.server) {
      auto req = ledger::ParseAppendRequest(p.body, ledger::NowMicros());
      if (!req.ok()) {
        reject(line, req.status().ToString());
        continue;
      }
      p.request = std::move(req).value();
    }
    batch.push_back(std::move(p));
    if (batch.size() == 1000) flush();
  }
  if (restore) {
    if (!stop) restore_flush();
  } else if (!stop) {
    flush();
  }
  progress.Done();
  if (restore) {
    std::printf("%llu restored, %llu already there, %llu rejected; head %llu events, root %s\n",
                static_cast<unsigned long long>(appended), static_cast<unsigned long long>(skipped),
                static_cast<unsigned long long>(rejected),
                static_cast<unsigned long long>(to.ledger->Size()),
                ledger::ToHex(to.ledger->Head().root).c_str());
  } else {
    std::printf("%llu appended, %llu already there, %llu rejected%s\n",
                static_cast<unsigned long long>(appended), static_cast<unsigned long long>(replayed),
                static_cast<unsigned long long>(rejected),
                stop ? "; stopped early: run the same import again to resume" : "");
  }
  return rejected == 0 && !stop ? 0 : 1;
}

int Generate(const Args& a) {
  synth::Options opt;
  auto flag = [&](const char* k, const char* def) {
    auto it = a.flags.find(k);
    return it == a.flags.end() ? std::string(def) : it->second;
  };
  const std::string referrals = flag("referrals", "calibrated"), seed = flag("seed", "1");
  const bool calibrated = referrals == "calibrated";
  if ((!calibrated && !IsWholeNumber(referrals)) || !IsWholeNumber(seed)) {
    return Usage("--referrals and --seed must be whole numbers");
  }
  opt.seed = std::stoull(seed);
  // By default pathways run from 2022 up to today, so some are still open.
  const auto from = ledger::ParseDate(flag("from", "2022-01-01"));
  const auto to = a.flags.count("to") ? ledger::ParseDate(a.flags.at("to"))
                                      : std::optional<int64_t>(ledger::NowMicros() /
                                                               ledger::kMicrosPerDay);
  if (!from || !to || *to <= *from) return Usage("--from and --to must be dates, from before to");
  opt.start = *from * ledger::kMicrosPerDay;
  opt.end = *to * ledger::kMicrosPerDay;
  if (opt.end > ledger::NowMicros()) return Usage("--to must not be in the future");
  opt.referrals = calibrated ? synth::CalibratedReferrals(opt.start, opt.end)
                             : std::stoull(referrals);
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  if (ledger->Size() != 0) {
    std::fprintf(stderr, "ledgerctl: the ledger already holds events\n");
    return 1;
  }
  synth::Generator gen(opt);
  std::vector<ledger::RecordedRequest> batch;
  ledger::RecordedRequest req;
  uint64_t started = 0;
  Progress progress("generate", 0, a);
  bool more = true;
  while (more) {
    more = gen.Next(&req);
    if (more) {
      started += std::holds_alternative<ledger::PlacementStarted>(req.request.event.data);
      batch.push_back(std::move(req));
    }
    if ((batch.size() == 5000 || !more) && !batch.empty()) {
      auto r = ledger->AppendRecorded(batch);
      if (!r.ok()) {
        std::fprintf(stderr, "ledgerctl: %s\n", r.status().ToString().c_str());
        return 1;
      }
      progress.Add(batch.size());
      batch.clear();
    }
  }
  progress.Done();
  const double years = static_cast<double>(opt.end - opt.start) / (365.25 * ledger::kMicrosPerDay);
  std::printf(
      "%llu events, %llu referrals over %.1f years; %llu placements started, %.0f a year: "
      "%.2f%% of the %.0f adults a year in treatment\n",
      static_cast<unsigned long long>(ledger->Size()),
      static_cast<unsigned long long>(opt.referrals), years,
      static_cast<unsigned long long>(started), static_cast<double>(started) / years,
      100.0 * static_cast<double>(started) / years / synth::kTreatmentPopulation,
      synth::kTreatmentPopulation);
  return 0;
}

// `ledgerctl CMD --help`: the usage entries of CMD (each from its
// "  ledgerctl CMD" line to the next entry), then the exit codes; the whole
// usage for a command it does not know.
int CommandHelp(const std::string& command) {
  std::istringstream in(kUsage);
  std::string out, line;
  bool mine = false;
  const std::string entry = "  ledgerctl " + command + " ";
  while (std::getline(in, line)) {
    if (line.starts_with("  ledgerctl ")) mine = line.starts_with(entry);
    else if (!line.starts_with("   ")) mine = false;
    if (mine) out += line + "\n";
  }
  if (out.empty()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string usage(kUsage);
  std::printf("%s\n%s", out.c_str(), usage.substr(usage.find("Exit codes:")).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A ledger it writes is its owner's alone (files 0600, directories 0700).
  umask(077);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  Args a;
  a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return CommandHelp(a.command);
    if (arg.starts_with("--")) {
      const std::string name = arg.substr(2);
      std::string value = "yes";
      if (!IsSwitch(name)) {
        if (i + 1 >= argc) return Usage(arg + " needs a value");
        value = argv[++i];
      }
      a.flags[name] = value;
      a.values[name].push_back(value);
    } else {
      a.positional.push_back(arg);
    }
  }
  static const std::map<std::string, std::vector<std::string>> kFlags = {
      {"verify", {"data", "progress"}},
      {"export", {"data", "after", "progress", "view", "as-of", "from", "to", "at", "area", "reason", "stage"}},
      {"diff", {"data", "progress", "view", "as-of", "from", "to", "at", "area", "reason", "stage"}},
      {"replay", {"data", "progress", "view", "as-of", "from", "to", "at", "area", "reason", "stage"}},
      {"timeline", {"data", "as-of"}},
      {"generate", {"data", "referrals", "seed", "from", "to", "progress"}},
      {"proof", {"key", "head", "old", "new", "proof", "server", "token", "seq"}},
      {"import", {"data", "actor", "format", "restore", "server", "token", "progress"}},
  };
  auto allowed = kFlags.find(a.command);
  if (allowed == kFlags.end()) return Usage("unknown command " + a.command);
  for (const auto& [key, value] : a.flags) {
    if (std::find(allowed->second.begin(), allowed->second.end(), key) == allowed->second.end()) {
      return Usage("--" + key + " is not an option of " + a.command);
    }
  }
  if (a.command == "verify") return Verify(a);
  if (a.command == "export") return Export(a);
  if (a.command == "replay") return Replay(a);
  if (a.command == "diff") return Diff(a);
  if (a.command == "timeline") return Timeline(a);
  if (a.command == "generate") return Generate(a);
  if (a.command == "proof") return Proof(a);
  if (a.command == "import") return Import(a);
  return Usage("unknown command " + a.command);
}
