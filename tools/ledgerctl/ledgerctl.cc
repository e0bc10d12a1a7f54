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
#include <algorithm>
#include <boost/json.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "ledger/event_json.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "projections/projector.h"
#include "synth.h"

namespace {

namespace json = boost::json;

constexpr const char* kUsage = R"(ledgerctl: the rehab access ledger's command line

  ledgerctl verify   --data DIR
      Recomputes the hash chain, every Merkle node and every signed head from
      the stored bytes; names the first seq that does not match.
  ledgerctl export   --data DIR [--after SEQ]
      Every event (seq, version, recorded_at, actor, hash included) as NDJSON.
  ledgerctl replay   --data DIR --view fairness|waiting-times|refusals|areas
                     [--as-of SEQ|TIME] [--from DATE] [--to DATE] [--at TIME]
                     [--area CODE] [--reason REASON] [--stage STAGE]
      A view as JSON, as the ledger stood at --as-of (default: the head).
  ledgerctl timeline --data DIR REFERRAL [--as-of SEQ|TIME]
      One referral's history, one line per event.
  ledgerctl proof inclusion --key KEY.pem --head HEAD.json --proof PROOF.json
  ledgerctl proof consistency --key KEY.pem --old OLD.json --new NEW.json --proof PROOF.json
      Offline checks, without the ledger's storage: the heads' signatures (as
      served by /v1/ledger/head) against the ledger's public key, then an
      inclusion proof (/v1/ledger/proof/inclusion) in the head, or a
      consistency proof (/v1/ledger/proof/consistency) from the old head to the
      new one. Exit 0 when the proof holds, 1 when it does not.
  ledgerctl import   --data DIR FILE.ndjson [--actor ROLE:NAME]
      Appends each line (a POST /v1/events body) in order, in batches of up
      to 1,000. A line that is rejected is reported with its number and
      reason, and the others are kept. Lines without an idempotency_key get
      one from the file's digest and the line number, so importing the same
      file again appends nothing twice.
  ledgerctl generate --data DIR [--referrals N] [--seed S] [--from DATE] [--to DATE]
      Fills an empty ledger with a synthetic England ledger: referrals
      received from --from (2022-01-01) to --to (today), each event recorded
      with a realistic lag and by its partnership or provider. By default the
      number of referrals is calibrated so that the placements started each
      year are about 0.8% of the 290,000 adults a year in treatment.

Exit codes: 0 done, 1 verification failed or not found, 2 bad usage,
3 the ledger cannot be opened (is ledgerd running on it?).
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
  ledger::VerifyReport r = ledger->Verify();
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

int Export(const Args& a) {
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  uint64_t after = 0;
  if (auto it = a.flags.find("after"); it != a.flags.end()) after = std::stoull(it->second);
  ledger::Status st = ledger->ScanEvents(after, ledger->Size(), [](const ledger::Event& e) {
    std::cout << json::serialize(ledger::EventToJson(e)) << '\n';
    return ledger::Status::Ok();
  });
  if (!st.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

int Replay(const Args& a) {
  projections::ViewQuery q;
  if (!ParseAsOf(a, &q)) return Usage("--as-of must be a seq or an RFC 3339 time");
  auto flag = [&](const char* k) -> const std::string* {
    auto it = a.flags.find(k);
    return it == a.flags.end() ? nullptr : &it->second;
  };
  if (auto v = flag("from")) {
    if (!(q.from_day = ledger::ParseDate(*v))) return Usage("--from must be YYYY-MM-DD");
  }
  if (auto v = flag("to")) {
    if (!(q.to_day = ledger::ParseDate(*v))) return Usage("--to must be YYYY-MM-DD");
  }
  if (auto v = flag("at")) {
    if (!(q.at = ledger::ParseTimestamp(*v))) return Usage("--at must be an RFC 3339 time");
  }
  if (auto v = flag("area")) q.area = *v;
  if (auto v = flag("reason")) {
    if (!(q.reason = ledger::ParseEnum<ledger::RefusalReason>(*v))) return Usage("unknown --reason");
  }
  if (auto v = flag("stage")) {
    if (!(q.stage = ledger::ParseEnum<ledger::RefusalStage>(*v))) return Usage("unknown --stage");
  }
  const std::string* view = flag("view");
  if (!view) return Usage("--view is required");
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  auto projector = projections::Projector::Open(ledger.get());
  if (!projector.ok() || !(*projector)->CatchUp().ok()) {
    std::fprintf(stderr, "ledgerctl: the views cannot be built\n");
    return 1;
  }
  projections::Projector& p = **projector;
  ledger::Result<json::object> out = ledger::Status::InvalidArgument("unknown view");
  if (*view == "fairness") out = p.Fairness(q);
  else if (*view == "waiting-times") out = p.WaitingTimes(q);
  else if (*view == "refusals") out = p.Refusals(q);
  else if (*view == "areas") out = p.Areas(q);
  else return Usage("--view must be fairness, waiting-times, refusals or areas");
  if (!out.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", out.status().ToString().c_str());
    return 1;
  }
  std::cout << json::serialize(*out) << '\n';
  return 0;
}

int Timeline(const Args& a) {
  if (a.positional.size() != 1) return Usage("timeline takes one REFERRAL");
  projections::ViewQuery q;
  if (!ParseAsOf(a, &q)) return Usage("--as-of must be a seq or an RFC 3339 time");
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  auto projector = projections::Projector::Open(ledger.get());
  if (!projector.ok() || !(*projector)->CatchUp().ok()) return 1;
  auto view = (*projector)->Referral(a.positional[0], q);
  if (!view.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", view.status().message().c_str());
    return 1;
  }
  const json::object& v = *view;
  std::printf("referral %s, area %s, state %s (as of seq %s)\n", a.positional[0].c_str(),
              std::string(v.at("area").as_string()).c_str(),
              std::string(v.at("state").as_string()).c_str(),
              json::serialize(v.at("as_of_seq")).c_str());
  for (const json::value& e : v.at("events").as_array()) {
    std::printf("  %8s  %-21s %-21s %s\n", json::serialize(e.at("seq")).c_str(),
                std::string(e.at("occurred_at").as_string()).c_str(),
                std::string(e.at("type").as_string()).c_str(),
                json::serialize(e.at("data")).c_str());
  }
  std::printf("first decision %s; decision wait %s days; start wait %s days; waiting %s days\n",
              json::serialize(v.at("first_decision")).c_str(),
              json::serialize(v.at("decision_wait_days")).c_str(),
              json::serialize(v.at("start_wait_days")).c_str(),
              json::serialize(v.at("waiting_days")).c_str());
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

int Proof(const Args& a) {
  if (a.positional.size() != 1 ||
      (a.positional[0] != "inclusion" && a.positional[0] != "consistency")) {
    return Usage("proof takes inclusion or consistency");
  }
  auto file = [&](const char* k) -> std::optional<json::value> {
    auto it = a.flags.find(k);
    return it == a.flags.end() ? std::nullopt : ReadJsonFile(it->second);
  };
  auto key_it = a.flags.find("key");
  if (key_it == a.flags.end()) return Usage("--key KEY.pem is required");
  std::ifstream key_in(key_it->second);
  std::stringstream pem;
  pem << key_in.rdbuf();
  std::optional<std::string> key = ledger::PublicKeyFromPem(pem.str());
  if (!key) return Usage("--key must be the ledger's PEM public key");
  std::optional<json::value> proof = file("proof");
  if (!proof || !proof->is_object()) return Usage("--proof must be a proof as the API serves it");
  auto fail = [](const std::string& why) {
    std::printf("REJECTED: %s\n", why.c_str());
    return 1;
  };
  auto signed_head = [&](const char* flag, ledger::SignedTreeHead* out) -> int {
    std::optional<json::value> v = file(flag);
    if (!v) return Usage(std::string("--") + flag + " must be a signed head as the API serves it");
    std::optional<ledger::SignedTreeHead> h = HeadFromJson(*v);
    if (!h) return Usage(std::string("--") + flag + " is not a signed head");
    if (!ledger::VerifyTreeHead(*h, *key)) {
      return fail(std::string("the ") + flag + " head's signature does not verify with the key");
    }
    *out = *h;
    return -1;
  };
  if (a.positional[0] == "inclusion") {
    ledger::SignedTreeHead head;
    if (int rc = signed_head("head", &head); rc >= 0) return rc;
    const json::object& p = proof->as_object();
    const json::value* index = p.if_contains("leaf_index");
    const json::value* size = p.if_contains("size");
    const json::value* leaf = p.if_contains("leaf_hash");
    std::optional<std::vector<ledger::Hash>> path = HashList(p.if_contains("audit_path"));
    std::optional<ledger::Hash> leaf_hash;
    if (leaf && leaf->is_string()) leaf_hash = ledger::HashFromHex(leaf->as_string());
    if (!index || !index->is_number() || !size || !size->is_number() || !leaf_hash || !path) {
      return Usage("--proof is not an inclusion proof");
    }
    if (size->to_number<uint64_t>() != head.head.size) {
      return fail("the proof is for a tree of " + json::serialize(*size) + " events, the head has " +
                  std::to_string(head.head.size));
    }
    if (!ledger::VerifyInclusion(index->to_number<uint64_t>(), head.head.size, *leaf_hash, *path,
                                 head.head.root)) {
      return fail("the audit path does not lead to the head's root");
    }
    std::printf("ok: event %llu is in the signed tree of %llu events\n",
                static_cast<unsigned long long>(index->to_number<uint64_t>() + 1),
                static_cast<unsigned long long>(head.head.size));
    return 0;
  }
  ledger::SignedTreeHead old_head, new_head;
  if (int rc = signed_head("old", &old_head); rc >= 0) return rc;
  if (int rc = signed_head("new", &new_head); rc >= 0) return rc;
  std::optional<std::vector<ledger::Hash>> path = HashList(proof->as_object().if_contains("proof"));
  if (!path) return Usage("--proof is not a consistency proof");
  const uint64_t m = old_head.head.size, n = new_head.head.size;
  const bool holds = m == 0 || (m <= n && (m == n ? old_head.head.root == new_head.head.root
                                                  : ledger::VerifyConsistency(
                                                        m, n, old_head.head.root,
                                                        new_head.head.root, *path)));
  if (!holds) return fail("the ledger of the new head does not extend the old one");
  std::printf("ok: the tree of %llu events extends the tree of %llu\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(m));
  return 0;
}

int Import(const Args& a) {
  if (a.positional.size() != 1) return Usage("import takes one FILE");
  std::ifstream in(a.positional[0]);
  if (!in) return Usage("cannot read " + a.positional[0]);
  std::stringstream whole;
  whole << in.rdbuf();
  const std::string text = whole.str();
  const std::string file_id = ledger::ToHex(ledger::Sha256(text)).substr(0, 16);
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  auto actor = a.flags.find("actor");
  const ledger::WriteContext ctx{actor == a.flags.end() ? "partnership:import" : actor->second,
                                 nullptr};
  uint64_t appended = 0, replayed = 0, rejected = 0;
  std::vector<std::pair<uint64_t, ledger::AppendRequest>> batch;  // line number, request
  auto reject = [&](uint64_t line, const ledger::Status& st) {
    ++rejected;
    std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(line),
                 st.ToString().c_str());
  };
  auto count = [&](const ledger::AppendResult& r) { ++(r.replayed ? replayed : appended); };
  auto flush = [&] {
    std::vector<ledger::AppendRequest> requests;
    for (auto& [line, req] : batch) requests.push_back(req);
    auto r = ledger->Append(requests, ctx);
    if (r.ok()) {
      for (const auto& one : *r) count(one);
    } else {
      // The batch is all or nothing: find the lines that fail one by one.
      for (auto& [line, req] : batch) {
        auto one = ledger->Append(req, ctx);
        if (one.ok()) {
          count(*one);
        } else {
          reject(line, one.status());
        }
      }
    }
    batch.clear();
  };
  std::istringstream lines(text);
  std::string line;
  uint64_t n = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (line.empty()) continue;
    auto body = ledger::ParseStrictJson(line);
    auto req = body.ok() ? ledger::ParseAppendRequest(*body, ledger::NowMicros())
                         : ledger::Result<ledger::AppendRequest>(body.status());
    if (!req.ok()) {
      reject(n, req.status());
      continue;
    }
    if (!req->idempotency_key) req->idempotency_key = "import-" + file_id + "-" + std::to_string(n);
    batch.emplace_back(n, std::move(req).value());
    if (batch.size() == 1000) flush();
  }
  if (!batch.empty()) flush();
  std::printf("%llu appended, %llu already there, %llu rejected\n",
              static_cast<unsigned long long>(appended), static_cast<unsigned long long>(replayed),
              static_cast<unsigned long long>(rejected));
  return rejected == 0 ? 0 : 1;
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  Args a;
  a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
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
      {"verify", {"data"}},
      {"export", {"data", "after"}},
      {"replay", {"data", "view", "as-of", "from", "to", "at", "area", "reason", "stage"}},
      {"timeline", {"data", "as-of"}},
      {"generate", {"data", "referrals", "seed", "from", "to", "progress"}},
      {"proof", {"key", "head", "old", "new", "proof"}},
      {"import", {"data", "actor"}},
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
  if (a.command == "timeline") return Timeline(a);
  if (a.command == "generate") return Generate(a);
  if (a.command == "proof") return Proof(a);
  if (a.command == "import") return Import(a);
  return Usage("unknown command " + a.command);
}
