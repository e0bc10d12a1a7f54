// ledgerctl's subcommands run as a user runs them, on real ledgers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "api/server.h"
#include "api/service.h"
#include "csv_check.h"
#include "http_client.h"
#include "json_match.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/raw_db.h"
#include "ledgerd_process.h"
#include "projections/projector.h"
#include "test_util.h"
#include "wire/event_json.h"
#include "wire/view_json.h"

namespace {

namespace json = boost::json;

struct Outcome {
  int code = -1;
  std::string out;
};

// Runs ledgerctl; its standard error is kept too when `with_errors`.
Outcome Ledgerctl(const std::string& args, bool with_errors = false) {
  Outcome r;
  FILE* p = popen(
      (std::string(LEDGERCTL_PATH) + " " + args + (with_errors ? " 2>&1" : " 2>/dev/null")).c_str(),
      "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class LedgerctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() + "/ledger";
    Outcome g = Ledgerctl("generate --data " + data_ +
                          " --referrals 400 --from 2024-01-01 --to 2026-01-01");
    ASSERT_EQ(g.code, 0) << g.out;
    size_ = std::stoull(g.out);
    ASSERT_GT(size_, 1000u);
  }
  ledger::testing::TempDir dir_;
  std::string data_;
  uint64_t size_ = 0;
};

TEST_F(LedgerctlTest, VerifyExportAndTimeline) {
  Outcome v = Ledgerctl("verify --data " + data_);
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find("ok: " + std::to_string(size_) + " events"), std::string::npos) << v.out;

  Outcome e = Ledgerctl("export --data " + data_);
  ASSERT_EQ(e.code, 0);
  std::istringstream lines(e.out);
  std::string line;
  uint64_t n = 0;
  while (std::getline(lines, line)) {
    json::value ev = json::parse(line);
    ++n;
    EXPECT_EQ(ev.at("seq").to_number<uint64_t>(), n);
    EXPECT_TRUE(ev.as_object().contains("hash") && ev.as_object().contains("recorded_at") &&
                ev.as_object().contains("actor"));
  }
  EXPECT_EQ(n, size_);

  Outcome t = Ledgerctl("timeline --data " + data_ + " g1-r000000007");
  EXPECT_EQ(t.code, 0);
  EXPECT_NE(t.out.find("referral.received"), std::string::npos) << t.out;
  // Who recorded each event, and how long after it happened.
  EXPECT_NE(t.out.find(" later by partnership:E"), std::string::npos) << t.out;
  EXPECT_TRUE(t.out.find("first decision: ") != std::string::npos ||
              t.out.find("no decision yet") != std::string::npos)
      << t.out;
  EXPECT_EQ(Ledgerctl("timeline --data " + data_ + " nobody").code, 1);
}

TEST_F(LedgerctlTest, ReplayEqualsTheLiveViews) {
  const uint64_t mid = size_ / 2;
  Outcome r = Ledgerctl("replay --data " + data_ +
                        " --view fairness --from 2025-01-01 --to 2026-01-01 --as-of " +
                        std::to_string(mid));
  ASSERT_EQ(r.code, 0);
  Outcome w = Ledgerctl("replay --data " + data_ + " --view waiting-times --to 2025-07-01");
  ASSERT_EQ(w.code, 0);
  auto ledger = ledger::Ledger::Open(data_);
  ASSERT_TRUE(ledger.ok());
  auto p = projections::Projector::Open(ledger->get(),
                                        projections::ProjectorOptions{"test-views", 4096});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->CatchUp().ok());
  projections::ViewQuery q;
  q.from_day = ledger::DaysFromCivil(2025, 1, 1);
  q.to_day = ledger::DaysFromCivil(2026, 1, 1);
  q.as_of_seq = mid;
  // Equal, value by value, both ways (the JSON text parses integers as
  // signed).
  const json::value fair = wire::ToJson(*(*p)->Fairness(q));
  EXPECT_EQ(ledger::testing::JsonMismatch(fair, json::parse(r.out)), "");
  EXPECT_EQ(ledger::testing::JsonMismatch(json::parse(r.out), fair), "");
  projections::ViewQuery qw;
  qw.to_day = ledger::DaysFromCivil(2025, 7, 1);
  const json::value waits = wire::ToJson(*(*p)->WaitingTimes(qw));
  EXPECT_EQ(ledger::testing::JsonMismatch(waits, json::parse(w.out)), "");
  EXPECT_EQ(ledger::testing::JsonMismatch(json::parse(w.out), waits), "");
  EXPECT_EQ(json::parse(r.out).at("as_of_seq").to_number<uint64_t>(), mid);
}

TEST_F(LedgerctlTest, ClearErrorsAndExitCodes) {
  EXPECT_EQ(Ledgerctl("").code, 2);
  EXPECT_EQ(Ledgerctl("--help").code, 0);
  // A subcommand's help is its own entries, then the exit codes.
  Outcome help = Ledgerctl("import --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--restore"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("Exit codes:"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("ledgerctl generate"), std::string::npos) << help.out;
  Outcome proof_help = Ledgerctl("proof --help");
  EXPECT_EQ(proof_help.code, 0);
  for (const char* entry :
       {"ledgerctl proof write", "ledgerctl proof check", "2 could not check"}) {
    EXPECT_NE(proof_help.out.find(entry), std::string::npos) << proof_help.out;
  }
  EXPECT_EQ(Ledgerctl("frobnicate --data " + data_).code, 2);
  EXPECT_EQ(Ledgerctl("verify").code, 2);                                    // no --data
  EXPECT_EQ(Ledgerctl("verify --data " + data_ + " --colour red").code, 2);  // unknown option
  EXPECT_EQ(Ledgerctl("replay --data " + data_ + " --view nope").code, 2);
  EXPECT_EQ(Ledgerctl("replay --data " + data_ + " --view fairness --as-of yesterday").code, 2);
  EXPECT_EQ(Ledgerctl("generate --data " + data_).code, 1);  // not empty
  // A ledger another process holds open is read beside it (read-only), and
  // cannot be written to.
  auto held = ledger::Ledger::Open(data_);
  ASSERT_TRUE(held.ok());
  Outcome beside = Ledgerctl("verify --data " + data_);
  EXPECT_EQ(beside.code, 0);
  EXPECT_NE(beside.out.find("ok: " + std::to_string(size_) + " events"), std::string::npos)
      << beside.out;
  const std::string file = dir_.path() + "/one.ndjson";
  std::ofstream(file) << R"({"type":"referral.received"})"
                      << "\n";
  EXPECT_EQ(Ledgerctl("import " + file + " --data " + data_).code, 3);
}

// ledgerctl key gives the verifier key the ledger signs its checkpoints
// with, reads nothing but the public key, and creates nothing where there
// is no ledger.
TEST_F(LedgerctlTest, KeyIsTheCheckpointsVerifierKey) {
  Outcome key = Ledgerctl("key --data " + data_);
  ASSERT_EQ(key.code, 0) << key.out;
  Outcome other = Ledgerctl("key --data " + data_ + " --origin example.org/log");
  ASSERT_EQ(other.code, 0) << other.out;
  {
    auto ledger = ledger::Ledger::Open(data_);
    ASSERT_TRUE(ledger.ok());
    EXPECT_EQ(key.out, (*ledger)->VerifierKey() + "\n");
    EXPECT_EQ(other.out,
              ledger::note::VerifierKey("example.org/log", (*ledger)->PublicKey()) + "\n");
    // Beside a ledger held open by another process.
    EXPECT_EQ(Ledgerctl("key --data " + data_).out, key.out);
  }
  const std::string nowhere = dir_.path() + "/nowhere";
  EXPECT_EQ(Ledgerctl("key --data " + nowhere).code, 2);
  EXPECT_FALSE(std::filesystem::exists(nowhere));
  EXPECT_EQ(Ledgerctl("key --data " + data_ + " --origin 'a b'").code, 2);
}

// A read-only command on a directory that holds no ledger says so (exit 2)
// and creates nothing; it never reports "ok: 0 events" of a new, empty one.
TEST_F(LedgerctlTest, ReadOnlyCommandsNeverCreateALedger) {
  const std::string typo = dir_.path() + "/typo";
  for (const std::string& command :
       {"verify --data " + typo, "export --data " + typo,
        "replay --data " + typo + " --view fairness", "timeline --data " + typo + " r1",
        "diff --data " + typo + " --view fairness --as-of 1 --as-of 2"}) {
    Outcome r = Ledgerctl(command, /*with_errors=*/true);
    EXPECT_EQ(r.code, 2) << command << ": " << r.out;
    EXPECT_NE(r.out.find("holds no ledger"), std::string::npos) << command << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(typo)) << command;
  }
  // An empty directory is no ledger either, and stays empty.
  std::filesystem::create_directory(typo);
  EXPECT_EQ(Ledgerctl("verify --data " + typo).code, 2);
  EXPECT_TRUE(std::filesystem::is_empty(typo));
  // The real one still verifies.
  EXPECT_EQ(Ledgerctl("verify --data " + data_).code, 0);
}

TEST(LedgerctlImport, KeepsGoodLinesReportsBadOnesAndResumes) {
  ledger::testing::TempDir dir;
  std::ifstream in(std::string(LEDGER_EXAMPLES_DIR) + "/events.ndjson");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1595u);
  // Three bad lines among the good ones: file lines 11, 502 and 1003.
  lines.insert(lines.begin() + 10, "{\"type\":");
  lines.insert(
      lines.begin() + 501,
      R"({"type":"assessment.completed","referral_id":"s1-r000001","occurred_at":"2025-01-01T00:00:00Z","data":{"outcome":"fine"}})");
  lines.insert(
      lines.begin() + 1002,
      R"({"type":"placement.ended","referral_id":"nobody","occurred_at":"2025-01-01T00:00:00Z","data":{"outcome":"completed"}})");
  const std::string file = dir.path() + "/events.ndjson";
  {
    std::ofstream out(file);
    for (const std::string& l : lines) out << l << "\n";
  }
  const std::string data = dir.path() + "/ledger";
  Outcome first = Ledgerctl("import --data " + data + " " + file, true);
  EXPECT_EQ(first.code, 1);
  EXPECT_NE(first.out.find("line 11: invalid_argument"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("line 502: invalid_argument"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("line 1003: state_violation"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("1595 appended, 0 already there, 3 rejected"), std::string::npos)
      << first.out;
  // Again: nothing is appended twice.
  Outcome again = Ledgerctl("import --data " + data + " " + file, true);
  EXPECT_NE(again.out.find("0 appended, 1595 already there, 3 rejected"), std::string::npos)
      << again.out;
  // The good lines got seqs 1..1595 in order: the example's views follow.
  auto ledger = ledger::Ledger::Open(data);
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ((*ledger)->Size(), 1595u);
  auto p = projections::Projector::Open(ledger->get());
  ASSERT_TRUE(p.ok() && (*p)->CatchUp().ok());
  projections::ViewQuery q;
  q.from_day = ledger::DaysFromCivil(2025, 1, 1);
  q.to_day = ledger::DaysFromCivil(2026, 1, 1);
  std::ifstream expected_in(std::string(LEDGER_EXAMPLES_DIR) + "/fairness_2025.json");
  std::stringstream expected;
  expected << expected_in.rdbuf();
  EXPECT_EQ(
      ledger::testing::JsonMismatch(json::parse(expected.str()), wire::ToJson(*(*p)->Fairness(q))),
      "");
}

// Serves `target` from a ledger through the API's own routes (as an auditor)
// and writes the answer to `path`.
void Save(const ledger::testing::TempDir& dir, ledger::Ledger* ledger, const std::string& target,
          const std::string& name, std::function<void(json::value&)> edit = nullptr) {
  auto projector = projections::Projector::Open(ledger);
  ASSERT_TRUE(projector.ok());
  auto tokens = api::TokenStore::Parse(R"({"tokens":[{"name":"a","role":"auditor","sha256":")" +
                                       ledger::ToHex(ledger::Sha256("t")) + "\"}]}");
  ASSERT_TRUE(tokens.ok());
  api::Service service(ledger, projector->get(), std::move(tokens).value());
  api::HttpRequest req;
  req.method = "GET";
  req.target = target;
  req.authorization = "Bearer t";
  api::HttpResponse res;
  service.Handle(req, [&](api::HttpResponse r) { res = std::move(r); });
  ASSERT_EQ(res.status, 200u) << res.body;
  json::value v = json::parse(res.body);
  if (edit) edit(v);
  std::ofstream(dir.path() + "/" + name) << json::serialize(v);
}

void AppendReceipts(ledger::Ledger* ledger, const std::string& prefix, int count) {
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(ledger
                    ->Append(ledger::testing::Req(prefix + std::to_string(i), ledger::testing::T(0),
                                                  ledger::testing::Received()),
                             ledger::testing::Writer())
                    .ok());
  }
}

TEST(LedgerctlProof, AcceptsGenuineProofsAndRejectsTamperedOrForkedOnes) {
  ledger::testing::TempDir dir;
  const std::string a_dir = dir.path() + "/a", b_dir = dir.path() + "/b";
  {
    auto a = ledger::Ledger::Open(a_dir, ledger::testing::TestOptions());
    ASSERT_TRUE(a.ok());
    AppendReceipts(a->get(), "a", 10);
    Save(dir, a->get(), "/v1/ledger/head", "head.json");
    Save(dir, a->get(), "/v1/ledger/proof/inclusion?seq=4&size=10", "inclusion.json");
    Save(dir, a->get(), "/v1/ledger/proof/inclusion?seq=4&size=10", "inclusion-tampered.json",
         [](json::value& v) {
           std::string h(v.at("audit_path").as_array()[0].as_string());
           h[0] = h[0] == '0' ? '1' : '0';
           v.at("audit_path").as_array()[0] = json::value(h);
         });
    Save(dir, a->get(), "/v1/ledger/head", "head-tampered.json", [](json::value& v) {
      std::string h(v.at("root_hash").as_string());
      h[5] = h[5] == 'a' ? 'b' : 'a';
      v.at("root_hash") = json::value(h);
    });
    Save(dir, a->get(), "/v1/ledger/proof/consistency?from=5&to=10", "consistency.json");
    std::ifstream in(dir.path() + "/consistency.json");
    std::stringstream ss;
    ss << in.rdbuf();
    json::value c = json::parse(ss.str());
    std::ofstream(dir.path() + "/old.json") << json::serialize(c.at("from_head"));
    std::ofstream(dir.path() + "/new.json") << json::serialize(c.at("to_head"));
  }
  // A fork: another ledger with the same signing key and other events.
  std::filesystem::create_directories(b_dir);
  std::filesystem::copy_file(a_dir + "/signing-key.pem", b_dir + "/signing-key.pem");
  std::filesystem::copy_file(a_dir + "/signing-key.pem.pub", b_dir + "/signing-key.pem.pub");
  {
    auto b = ledger::Ledger::Open(b_dir, ledger::testing::TestOptions());
    ASSERT_TRUE(b.ok());
    AppendReceipts(b->get(), "b", 10);
    Save(dir, b->get(), "/v1/ledger/head", "fork-head.json");
  }
  const std::string key = " --key " + a_dir + "/signing-key.pem.pub";
  auto at = [&](const std::string& f) { return " " + dir.path() + "/" + f; };
  Outcome ok = Ledgerctl("proof inclusion" + key + " --head" + at("head.json") + " --proof" +
                         at("inclusion.json"));
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(Ledgerctl("proof inclusion" + key + " --head" + at("head.json") + " --proof" +
                      at("inclusion-tampered.json"))
                .code,
            1);
  EXPECT_EQ(Ledgerctl("proof inclusion" + key + " --head" + at("head-tampered.json") + " --proof" +
                      at("inclusion.json"))
                .code,
            1);
  EXPECT_EQ(Ledgerctl("proof consistency" + key + " --old" + at("old.json") + " --new" +
                      at("new.json") + " --proof" + at("consistency.json"))
                .code,
            0);
  // The forked head is signed with the same key, but does not extend the old one.
  EXPECT_EQ(Ledgerctl("proof consistency" + key + " --old" + at("old.json") + " --new" +
                      at("fork-head.json") + " --proof" + at("consistency.json"))
                .code,
            1);
  EXPECT_EQ(Ledgerctl("proof inclusion" + key + " --head" + at("fork-head.json") + " --proof" +
                      at("inclusion.json"))
                .code,
            1);
  EXPECT_EQ(Ledgerctl("proof inclusion --head" + at("head.json")).code, 2);  // no key
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const std::string& l : lines) out << l << '\n';
}

TEST_F(LedgerctlTest, ExportThenRestoreGivesTheSameChainAndResumes) {
  Outcome e = Ledgerctl("export --data " + data_);
  ASSERT_EQ(e.code, 0);
  const std::vector<std::string> lines = Lines(e.out);
  ASSERT_EQ(lines.size(), size_);
  const std::string full = dir_.path() + "/export.ndjson", half = dir_.path() + "/half.ndjson";
  WriteLines(full, lines);
  WriteLines(half, std::vector<std::string>(lines.begin(), lines.begin() + lines.size() / 2));

  // In two goes: the second checks the first half, then adds the rest.
  const std::string copy = dir_.path() + "/copy";
  Outcome first = Ledgerctl("import " + half + " --data " + copy + " --restore", true);
  EXPECT_EQ(first.code, 0) << first.out;
  Outcome second = Ledgerctl("import " + full + " --data " + copy + " --restore", true);
  EXPECT_EQ(second.code, 0) << second.out;
  EXPECT_NE(second.out.find(std::to_string(size_ - size_ / 2) + " restored, " +
                            std::to_string(size_ / 2) + " already there, 0 rejected"),
            std::string::npos)
      << second.out;
  // Byte for byte the same events, hashes, recordings and actors.
  EXPECT_EQ(Ledgerctl("export --data " + copy).out, e.out);
  Outcome v1 = Ledgerctl("verify --data " + data_), v2 = Ledgerctl("verify --data " + copy);
  EXPECT_EQ(v2.code, 0);
  EXPECT_EQ(v1.out, v2.out);  // the same count and root

  // An event altered after export (its actor) no longer has its hash: the
  // restore stops at that line, with what came before kept.
  std::vector<std::string> altered = lines;
  const size_t at = altered[9].find("\"actor\":\"");
  ASSERT_NE(at, std::string::npos);
  const size_t close = altered[9].find('"', at + 9);
  altered[9].insert(close, "x");
  WriteLines(dir_.path() + "/altered.ndjson", altered);
  Outcome bad = Ledgerctl(
      "import " + dir_.path() + "/altered.ndjson --data " + dir_.path() + "/altered --restore",
      true);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("line 10: corruption"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("9 restored, 0 already there, 1 rejected"), std::string::npos) << bad.out;
  // Restoring onto a ledger that holds another history is refused.
  WriteLines(dir_.path() + "/tail.ndjson",
             std::vector<std::string>(altered.begin(), altered.begin() + 12));
  Outcome onto =
      Ledgerctl("import " + full + " --data " + dir_.path() + "/altered --restore", true);
  EXPECT_EQ(onto.code, 0) << onto.out;  // the first nine are the same history
  Outcome other =
      Ledgerctl("import " + dir_.path() + "/tail.ndjson --data " + copy + " --restore", true);
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.out.find("line 10: the ledger holds a different event at seq 10"),
            std::string::npos)
      << other.out;
  EXPECT_NE(other.out.find("0 restored, 9 already there, 1 rejected"), std::string::npos)
      << other.out;

  // An export imported without --restore is named as such; nothing is appended.
  const std::string plain = dir_.path() + "/plain";
  Outcome p = Ledgerctl("import " + full + " --data " + plain, true);
  EXPECT_EQ(p.code, 1);
  EXPECT_NE(p.out.find("line 1: this is an export"), std::string::npos) << p.out;
  auto opened = ledger::Ledger::Open(plain);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ((*opened)->Size(), 0u);
}

TEST(LedgerctlImport, CsvRowsWithABadOne) {
  ledger::testing::TempDir dir;
  const std::string file = dir.path() + "/events.csv", data = dir.path() + "/ledger";
  {
    std::ofstream out(file);
    out << "type,referral_id,occurred_at,person,area,referrer,substance,age_band,sex,ethnicity,"
           "disability,outcome,note\n"
           "referral.received,c-1,2025-03-01T10:00:00Z,p-csv-00001,E08000025,gp,alcohol,30-34,"
           "female,white,no,,\n"
           "referral.received,c-2,2025-03-01T11:00:00Z,p-csv-00002,E99999999,gp,alcohol,30-34,"
           "female,white,no,,\n"
           "assessment.completed,c-1,2025-03-09T10:00:00Z,,,,,,,,,not_suitable,"
           "\"waiting on a detox bed, then\n"
           "reassess\"\n"
           "assessment.completed,c-1,2025-03-10T10:00:00Z,,,,,,,,,suitable,\n";
  }
  Outcome r = Ledgerctl("import " + file + " --data " + data, true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("line 3: invalid_argument: invalid fields: data.area; data.area"),
            std::string::npos)
      << r.out;
  // The last row breaks the state machine: an assessed referral is not
  // assessed again.
  EXPECT_NE(r.out.find("line 6: state_violation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 appended, 0 already there, 2 rejected"), std::string::npos) << r.out;
  auto opened = ledger::Ledger::Open(data);
  ASSERT_TRUE(opened.ok());
  ASSERT_EQ((*opened)->Size(), 2u);
  auto second = (*opened)->GetEvent(2);
  ASSERT_TRUE(second.ok());
  const json::value ev = wire::EventToJson(*second);
  EXPECT_EQ(ev.at("type"), "assessment.completed");
  EXPECT_EQ(ev.at("data").at("outcome"), "not_suitable");
  // A quoted cell keeps its comma and its line break.
  EXPECT_EQ(ev.at("data").at("note"), "waiting on a detox bed, then\nreassess");
}

// export --view writes the API's CSV (wire/view_csv.h): every figure of
// the view's JSON, in its column, one row per population.
TEST_F(LedgerctlTest, ExportViewAsCsvHoldsTheViewsFigures) {
  for (const std::string view : {"fairness", "waiting-times", "areas"}) {
    const std::string filters = " --view " + view + " --from 2025-01-01 --to 2026-01-01";
    Outcome csv = Ledgerctl("export --data " + data_ + filters);
    ASSERT_EQ(csv.code, 0) << view;
    Outcome js = Ledgerctl("replay --data " + data_ + filters);
    ASSERT_EQ(js.code, 0) << view;
    const json::value answer = json::parse(js.out);
    EXPECT_EQ(ledger::testing::CsvMismatch(view, answer.as_object(), csv.out), "") << view;
    EXPECT_GT(ledger::testing::ParseCsv(csv.out).size(), 10u) << view;
  }
}

TEST_F(LedgerctlTest, DiffNamesEachChangedFigureWithBothValues) {
  const std::string filters = " --view fairness --from 2025-01-01 --to 2026-01-01";
  const std::string mid = std::to_string(size_ / 2), head = std::to_string(size_);
  Outcome d = Ledgerctl("diff --data " + data_ + filters + " --as-of " + mid + " --as-of " + head);
  ASSERT_EQ(d.code, 0);
  const json::value diff = json::parse(d.out);
  EXPECT_EQ(diff.at("before_as_of_seq").to_number<uint64_t>(), size_ / 2);
  EXPECT_EQ(diff.at("after_as_of_seq").to_number<uint64_t>(), size_);
  const json::array& changes = diff.at("changes").as_array();
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(diff.at("changed").to_number<size_t>(), changes.size());
  const json::value before =
      json::parse(Ledgerctl("replay --data " + data_ + filters + " --as-of " + mid).out);
  const json::value after =
      json::parse(Ledgerctl("replay --data " + data_ + filters + " --as-of " + head).out);
  int checked = 0;
  for (const json::value& c : changes) {
    const std::string figure(c.at("figure").as_string());
    if (!figure.starts_with("england.")) continue;
    const std::string key = figure.substr(8);
    const json::value* b = before.at("england").as_object().if_contains(key);
    if (!b || !b->is_number()) continue;
    EXPECT_EQ(c.at("before").to_number<double>(), b->to_number<double>()) << figure;
    EXPECT_EQ(c.at("after").to_number<double>(), after.at("england").at(key).to_number<double>())
        << figure;
    EXPECT_NE(c.at("before"), c.at("after")) << figure;
    ++checked;
  }
  EXPECT_GT(checked, 0) << d.out;
  Outcome same =
      Ledgerctl("diff --data " + data_ + filters + " --as-of " + mid + " --as-of " + mid);
  ASSERT_EQ(same.code, 0);
  EXPECT_EQ(json::parse(same.out).at("changed"), 0);
  EXPECT_EQ(Ledgerctl("diff --data " + data_ + filters + " --as-of " + mid).code, 2);
}

// ledgerctl against a real ledgerd: the API's server on a loopback port.
class LedgerctlServer : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = ledger::Ledger::Open(dir_.path() + "/served");
    ASSERT_TRUE(opened.ok());
    ledger_ = std::move(opened).value();
    AppendReceipts(ledger_.get(), "s", 10);
    Save(dir_, ledger_.get(), "/v1/ledger/head", "head10.json");
    auto p = projections::Projector::Open(ledger_.get());
    ASSERT_TRUE(p.ok());
    projector_ = std::move(p).value();
    projector_->Start();
    auto tokens = api::TokenStore::Parse(
        R"({"tokens":[{"name":"brum","role":"partnership","areas":["E08000025"],"sha256":")" +
        ledger::ToHex(ledger::Sha256("brum-token")) +
        R"("},{"name":"aud","role":"auditor","sha256":")" +
        ledger::ToHex(ledger::Sha256("aud-token")) + "\"}]}");
    ASSERT_TRUE(tokens.ok());
    service_ =
        std::make_unique<api::Service>(ledger_.get(), projector_.get(), std::move(tokens).value());
    api::ServerOptions options;
    options.port = 0;
    server_ = std::make_unique<api::Server>(service_.get(), options);
    ASSERT_TRUE(server_->Start().ok());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    key_ = " --key " + dir_.path() + "/served/signing-key.pem.pub";
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  ledger::testing::TempDir dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<projections::Projector> projector_;
  std::unique_ptr<api::Service> service_;
  std::unique_ptr<api::Server> server_;
  std::string url_, key_;
};

TEST_F(LedgerctlServer, ImportsThroughTheApiAndProvesAgainstSavedHeads) {
  const std::string file = dir_.path() + "/events.ndjson";
  auto received = [](const std::string& id, const std::string& area) {
    return R"({"type":"referral.received","referral_id":")" + id +
           R"(","occurred_at":"2025-05-01T09:00:00Z","data":{"person":"p-srv-)" + id +
           R"(","area":")" + area +
           R"(","referrer":"gp","substance":"opiate","age_band":"40-44","sex":"male","ethnicity":"white","disability":"no"}})";
  };
  WriteLines(file, {received("0001", "E08000025"), received("0002", "E08000025"),
                    received("0003", "E10000012"), received("0004", "E08000025")});
  const std::string server = " --server " + url_;
  Outcome r = Ledgerctl("import " + file + server + " --token brum-token", true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("line 3: HTTP 403"), std::string::npos) << r.out;  // outside its areas
  EXPECT_NE(r.out.find("3 appended, 0 already there, 1 rejected"), std::string::npos) << r.out;
  EXPECT_EQ(ledger_->Size(), 13u);
  Outcome again = Ledgerctl("import " + file + server + " --token brum-token", true);
  EXPECT_NE(again.out.find("0 appended, 3 already there, 1 rejected"), std::string::npos)
      << again.out;
  EXPECT_EQ(ledger_->Size(), 13u);
  // The events carry the credential as their actor.
  auto ev = ledger_->GetEvent(11);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->actor, "partnership:brum");

  // Proofs fetched from the server, checked against the head saved at 10.
  const std::string head10 = " --head " + dir_.path() + "/head10.json";
  const std::string aud = server + " --token aud-token";
  Outcome inc = Ledgerctl("proof inclusion" + key_ + head10 + aud + " --seq 4");
  EXPECT_EQ(inc.code, 0) << inc.out;
  EXPECT_NE(inc.out.find("ok: event 4"), std::string::npos) << inc.out;
  EXPECT_EQ(Ledgerctl("proof inclusion" + key_ + head10 + aud + " --seq 11").code, 1);  // after it
  Outcome con =
      Ledgerctl("proof consistency" + key_ + " --old " + dir_.path() + "/head10.json" + aud);
  EXPECT_EQ(con.code, 0) << con.out;
  EXPECT_NE(con.out.find("the tree of 13 events"), std::string::npos) << con.out;

  // A head from a fork (same key, other events) is not extended by the server's.
  const std::string fork = dir_.path() + "/fork";
  std::filesystem::create_directories(fork);
  for (const char* f : {"/signing-key.pem", "/signing-key.pem.pub"}) {
    std::filesystem::copy_file(dir_.path() + "/served" + f, fork + f);
  }
  {
    auto b = ledger::Ledger::Open(fork);
    ASSERT_TRUE(b.ok());
    AppendReceipts(b->get(), "f", 10);
    Save(dir_, b->get(), "/v1/ledger/head", "fork10.json");
  }
  Outcome forked =
      Ledgerctl("proof consistency" + key_ + " --old " + dir_.path() + "/fork10.json" + aud);
  EXPECT_EQ(forked.code, 1);
  EXPECT_NE(forked.out.find("REJECTED"), std::string::npos) << forked.out;
  Outcome forked_inc = Ledgerctl("proof inclusion" + key_ + " --head " + dir_.path() +
                                 "/fork10.json" + aud + " --seq 4");
  EXPECT_EQ(forked_inc.code, 1);

  // A wrong token, and no server at all: clear failures, nothing appended.
  // A refused token leaves the proof unchecked: no verdict (exit 2).
  Outcome denied =
      Ledgerctl("proof inclusion" + key_ + head10 + server + " --token nope --seq 4", true);
  EXPECT_EQ(denied.code, 2);
  EXPECT_NE(denied.out.find("could not check: the server: HTTP 401"), std::string::npos)
      << denied.out;
  server_->Stop();
  server_.reset();
  Outcome down = Ledgerctl("import " + file + server + " --token brum-token", true);
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.out.find("cannot reach"), std::string::npos) << down.out;
  EXPECT_EQ(ledger_->Size(), 13u);
}

// --- Read-only commands beside a running ledgerd ---

std::string ReceivedBody(const std::string& id) {
  return R"({"type":"referral.received","referral_id":")" + id +
         R"(","occurred_at":"2025-01-01T00:00:00Z","data":{"person":"p0000001a","area":"E08000002","referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}})";
}

// The real ledgerd (LEDGERD_PATH) on its own data directory, with a
// partnership of E08000002 ("brum"), a partnership elsewhere ("far") and an
// auditor ("aud").
class LedgerctlLive : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() + "/data";
    tokens_ = dir_.path() + "/tokens.json";
    auto entry = [](const char* name, const char* role, const char* token, const char* extra) {
      return std::string("{\"name\":\"") + name + "\",\"role\":\"" + role + "\",\"sha256\":\"" +
             ledger::ToHex(ledger::Sha256(token)) + "\"" + extra + "}";
    };
    std::ofstream(tokens_) << "{\"tokens\":["
                           << entry("brum", "partnership", "brum-token",
                                    ",\"areas\":[\"E08000002\"]")
                           << ","
                           << entry("far", "partnership", "far-token", ",\"areas\":[\"E06000001\"]")
                           << "," << entry("aud", "auditor", "aud-token", "") << "]}";
    Start();
  }
  // Starts ledgerd, with `extra` arguments.
  void Start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"--data", data_, "--tokens", tokens_};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ledger::testing::LedgerdProcess>(LEDGERD_PATH, args);
    ASSERT_NE(server_->port(), 0) << "ledgerd did not start: " << server_->log();
  }
  // Appends referral.received for ids prefix<from> .. prefix<from+n-1>, as brum.
  void Append(const std::string& prefix, int from, int n) {
    http_client::Endpoint to;
    to.port = std::to_string(server_->port());
    for (int i = from; i < from + n; ++i) {
      auto r = http_client::Call(
          to, {"POST", "/v1/events", "brum-token", ReceivedBody(prefix + std::to_string(i))});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->status, 201u) << r->body;
    }
  }
  ledger::testing::TempDir dir_;
  std::string data_, tokens_;
  std::unique_ptr<ledger::testing::LedgerdProcess> server_;
};

// Every read-only subcommand, each with its expected exit code.
std::vector<std::pair<std::string, int>> ReadOnlyCommands(const std::string& data) {
  return {{"verify --data " + data, 0},
          {"export --data " + data, 0},
          {"export --data " + data + " --view fairness", 0},
          {"replay --data " + data + " --view fairness --from 2024-06-01 --to 2025-06-01", 0},
          {"timeline --data " + data + " live3", 0},
          {"diff --data " + data + " --view fairness --as-of 5 --as-of 20", 0}};
}

TEST_F(LedgerctlLive, ReadOnlyCommandsWorkBesideARunningLedgerdAndChangeNothing) {
  Append("live", 0, 40);
  // Beside the running ledgerd, which holds the database's LOCK: every
  // acknowledged event is seen, though RocksDB has flushed none of them
  // (they are in ledgerd's commit log).
  Outcome v = Ledgerctl("verify --data " + data_, true);
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("ok: 40 events"), std::string::npos) << v.out;
  for (const auto& [command, code] : ReadOnlyCommands(data_)) {
    Outcome r = Ledgerctl(command, true);
    EXPECT_EQ(r.code, code) << command << ": " << r.out;
  }
  Outcome e = Ledgerctl("export --data " + data_);
  EXPECT_EQ(std::count(e.out.begin(), e.out.end(), '\n'), 40);
  Outcome t = Ledgerctl("timeline --data " + data_ + " live39");
  EXPECT_EQ(t.code, 0);
  EXPECT_NE(t.out.find("referral.received"), std::string::npos) << t.out;
  // What it acknowledged since is seen by the next command.
  Append("live", 40, 5);
  EXPECT_NE(Ledgerctl("verify --data " + data_).out.find("ok: 45 events"), std::string::npos);
  // The server was never disturbed: it goes on appending.
  Append("live", 45, 1);

  // ledgerd crashes: its events are in its commit log only. Every
  // read-only command sees them and changes nothing in the directory, byte
  // for byte (a writer's open would replay the log into RocksDB).
  server_->Kill();
  const auto crashed = ledger::testing::DirectoryContents(data_);
  for (const auto& [command, code] : ReadOnlyCommands(data_)) {
    Outcome r = Ledgerctl(command, true);
    EXPECT_EQ(r.code, code) << command << ": " << r.out;
    EXPECT_EQ(ledger::testing::DirectoryContents(data_), crashed) << command;
  }
  EXPECT_NE(Ledgerctl("verify --data " + data_).out.find("ok: 46 events"), std::string::npos);

  // Restarted (it recovers), then stopped gracefully: the same again.
  Start();
  Append("live", 46, 4);
  ASSERT_EQ(server_->Stop(), 0) << server_->log();
  const auto stopped = ledger::testing::DirectoryContents(data_);
  for (const auto& [command, code] : ReadOnlyCommands(data_)) {
    Outcome r = Ledgerctl(command, true);
    EXPECT_EQ(r.code, code) << command << ": " << r.out;
    EXPECT_EQ(ledger::testing::DirectoryContents(data_), stopped) << command;
  }
  EXPECT_NE(Ledgerctl("verify --data " + data_).out.find("ok: 50 events"), std::string::npos);

  // A damaged copy: verify names the seq that fails.
  const std::string copy = dir_.path() + "/copy";
  std::filesystem::copy(data_, copy, std::filesystem::copy_options::recursive);
  ledger::testing::EditClosedLedger(copy, [](rocksdb::DB* db) {
    std::string key(1, 'E');  // the event of seq 23 (ledger/src/key_layout.h)
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((uint64_t{23} >> (8 * i)) & 0xff));
    std::string v;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key, &v).ok());
    v.back() ^= 1;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, v).ok());
  });
  Outcome bad = Ledgerctl("verify --data " + copy);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("FAILED at seq 23"), std::string::npos) << bad.out;
}

// --- Offline proofs: c2sp.org/tlog-proof files (SPEC §9) ---

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// A witness's cosigner key, made afresh: its signer and verifier key.
struct TestWitness {
  std::unique_ptr<ledger::Signer> signer;
  std::string name, vkey;
};
TestWitness MakeWitness(const std::string& name, char seed) {
  TestWitness w;
  w.signer = std::move(ledger::Signer::FromSeed(std::string(32, seed))).value();
  w.name = name;
  w.vkey = ledger::note::VerifierKey(name, w.signer->public_key(), ledger::note::kCosignatureV1);
  return w;
}

// `proof` with `w`'s cosignature of its checkpoint, made at `timestamp`,
// added after the checkpoint's signatures.
std::string Cosigned(const std::string& proof, const TestWitness& w, uint64_t timestamp) {
  const size_t blank = proof.find("\n\n");
  const std::string checkpoint = proof.substr(blank + 2);
  auto note = ledger::note::Parse(checkpoint);
  EXPECT_TRUE(note.ok());
  return proof + ledger::note::Cosign(note->text, w.name, *w.signer, timestamp);
}

TEST_F(LedgerctlLive, ProofFilesAreWrittenAndCheckedOffline) {
  Append("pf", 0, 12);
  Outcome key = Ledgerctl("key --data " + data_);
  ASSERT_EQ(key.code, 0);
  const std::string vkey = key.out.substr(0, key.out.size() - 1);
  const std::string server = " --server " + server_->url();
  const std::string file = dir_.path() + "/e5.tlog-proof";

  // Written from the server as the auditor, who may read the event: the
  // event's bytes are in it.
  Outcome w = Ledgerctl("proof write" + server + " --token aud-token --seq 5 --out " + file, true);
  ASSERT_EQ(w.code, 0) << w.out;
  EXPECT_NE(w.out.find("event 5 (index 4"), std::string::npos) << w.out;
  const std::string proof = ReadText(file);
  const std::vector<std::string> lines = Lines(proof);
  ASSERT_GT(lines.size(), 8u);
  EXPECT_EQ(lines[0], "c2sp.org/tlog-proof@v1");
  EXPECT_TRUE(lines[1].starts_with("extra ")) << proof;
  EXPECT_EQ(lines[2], "index 4");
  EXPECT_NE(proof.find("\n\nlocalhost/rehab-access-ledger\n12\n"), std::string::npos) << proof;

  // Checked offline: the log's key, the event, the tree.
  const std::string check = "proof check " + file + " --vkey " + vkey;
  Outcome ok = Ledgerctl(check, true);
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("checkpoint: localhost/rehab-access-ledger, size 12"), std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("ok: event seq 5 (index 4"), std::string::npos) << ok.out;
  // The same after the server is gone: nothing but the file and the key.
  server_->Stop();
  EXPECT_EQ(Ledgerctl(check).code, 0);

  // The event's own bytes, given or contradicted.
  const std::string extra = *ledger::note::Base64Decode(lines[1].substr(6));
  WriteText(dir_.path() + "/entry", extra);
  WriteText(dir_.path() + "/other-entry", extra + "x");
  EXPECT_EQ(Ledgerctl(check + " --entry " + dir_.path() + "/entry").code, 0);
  Outcome other = Ledgerctl(check + " --entry " + dir_.path() + "/other-entry", true);
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.out.find("REJECTED: "), std::string::npos) << other.out;
  EXPECT_EQ(Ledgerctl(check + " --leaf-hash " + ledger::ToHex(ledger::LeafHash(extra))).code, 0);
  EXPECT_EQ(Ledgerctl(check + " --leaf-hash " + ledger::ToHex(ledger::LeafHash("x"))).code, 1);

  // Tampered: a hash of the path, the index, the extra data, the root.
  auto tampered = [&](size_t line, const std::string& replacement) {
    std::vector<std::string> t = lines;
    t[line] = replacement;
    const std::string path = dir_.path() + "/tampered.tlog-proof";
    WriteLines(path, t);
    return Ledgerctl("proof check " + path + " --vkey " + vkey, true);
  };
  std::string hash = *ledger::note::Base64Decode(lines[3]);
  hash[0] = static_cast<char>(hash[0] ^ 1);
  for (const Outcome& r :
       {tampered(3, ledger::note::Base64Encode(hash)), tampered(2, "index 5"),
        tampered(1, "extra " + ledger::note::Base64Encode(extra + " ")), tampered(2, "index 12")}) {
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("REJECTED: "), std::string::npos) << r.out;
  }
  // The checkpoint's root changed: its signature no longer holds.
  const size_t root_line = std::find(lines.begin(), lines.end(), "12") - lines.begin() + 1;
  std::string root = *ledger::note::Base64Decode(lines[root_line]);
  root[31] = static_cast<char>(root[31] ^ 1);
  Outcome forged = tampered(root_line, ledger::note::Base64Encode(root));
  EXPECT_EQ(forged.code, 1);
  EXPECT_NE(forged.out.find("signature"), std::string::npos) << forged.out;
  // Another log's key, under the same origin: its signature is not there.
  const TestWitness impostor = MakeWitness("x", 7);
  EXPECT_EQ(Ledgerctl("proof check " + file + " --vkey " +
                      ledger::note::VerifierKey("localhost/rehab-access-ledger",
                                                impostor.signer->public_key()))
                .code,
            1);

  // The witness policy. A witness whose cosignature is not there: the
  // quorum (all named, by default) is not met.
  const TestWitness w1 = MakeWitness("witness1.example", 1),
                    w2 = MakeWitness("witness2.example", 2);
  Outcome unmet = Ledgerctl(check + " --witness " + w1.vkey, true);
  EXPECT_EQ(unmet.code, 1) << unmet.out;
  EXPECT_NE(unmet.out.find("witness witness1.example: no valid cosignature"), std::string::npos)
      << unmet.out;
  EXPECT_NE(unmet.out.find("REJECTED: 0 of the 1 witnesses named cosigned the checkpoint; the "
                           "quorum is 1"),
            std::string::npos)
      << unmet.out;
  EXPECT_EQ(Ledgerctl(check + " --witness " + w1.vkey + " --quorum 0").code, 0);
  // w1 cosigns it: checked, with its time.
  const std::string cosigned = dir_.path() + "/cosigned.tlog-proof";
  WriteText(cosigned, Cosigned(proof, w1, 1767225600));  // 2026-01-01T00:00:00Z
  const std::string check_cosigned = "proof check " + cosigned + " --vkey " + vkey;
  Outcome one = Ledgerctl(check_cosigned + " --witness " + w1.vkey, true);
  EXPECT_EQ(one.code, 0) << one.out;
  EXPECT_NE(one.out.find("witness witness1.example: cosigned at 2026-01-01T00:00:00"),
            std::string::npos)
      << one.out;
  // Named twice, it counts once.
  EXPECT_EQ(Ledgerctl(check_cosigned + " --witness " + w1.vkey + " --witness " + w1.vkey).code, 0);
  EXPECT_EQ(Ledgerctl(check_cosigned + " --witness " + w1.vkey + " --witness " + w2.vkey).code, 1);
  EXPECT_EQ(
      Ledgerctl(check_cosigned + " --witness " + w1.vkey + " --witness " + w2.vkey + " --quorum 1")
          .code,
      0);
  // A cosignature whose time was changed afterwards is not one.
  const std::string line =
      ledger::note::Cosign(ledger::note::Parse(proof.substr(proof.find("\n\n") + 2))->text, w1.name,
                           *w1.signer, 1767225600);
  std::string sig = *ledger::note::Base64Decode(
      line.substr(line.rfind(' ') + 1, line.size() - line.rfind(' ') - 2));
  sig[4 + 7] = static_cast<char>(sig[4 + 7] ^ 1);  // the timestamp's last byte
  WriteText(cosigned,
            proof + line.substr(0, line.rfind(' ') + 1) + ledger::note::Base64Encode(sig) + "\n");
  Outcome moved = Ledgerctl(check_cosigned + " --witness " + w1.vkey, true);
  EXPECT_EQ(moved.code, 1) << moved.out;
  EXPECT_NE(moved.out.find("witness witness1.example: no valid cosignature"), std::string::npos);

  // Could not check: a malformed file, bad arguments.
  for (const std::string& broken :
       {std::string("c2sp.org/tlog-proof@v1\nindex 04\n\n") + proof.substr(proof.find("\n\n") + 2),
        proof.substr(0, proof.size() - 1), std::string("not a proof\n"),
        proof.substr(0, proof.find("\n\n") + 2) + "localhost/rehab-access-ledger\n12\n"}) {
    WriteText(dir_.path() + "/broken.tlog-proof", broken);
    Outcome r = Ledgerctl("proof check " + dir_.path() + "/broken.tlog-proof --vkey " + vkey, true);
    EXPECT_EQ(r.code, 2) << broken << r.out;
    EXPECT_NE(r.out.find("could not check: malformed proof file"), std::string::npos) << r.out;
  }
  EXPECT_EQ(Ledgerctl("proof check " + dir_.path() + "/missing.tlog-proof --vkey " + vkey).code, 2);
  EXPECT_EQ(Ledgerctl("proof check " + file).code, 2);                       // no --vkey
  EXPECT_EQ(Ledgerctl("proof check " + file + " --vkey nonsense").code, 2);  // not a key
  EXPECT_EQ(Ledgerctl(check + " --witness " + vkey).code, 2);  // the log's key, not a cosigner's
  EXPECT_EQ(Ledgerctl(check + " --witness " + w1.vkey + " --quorum 2").code, 2);
}

TEST_F(LedgerctlLive, ProofWriteSaysWhyItCouldNotWrite) {
  Append("pw", 0, 6);
  const std::string server = " --server " + server_->url();
  const std::string file = dir_.path() + "/p.tlog-proof";
  Outcome key = Ledgerctl("key --data " + data_);
  const std::string vkey = key.out.substr(0, key.out.size() - 1);
  // Not yet in the latest checkpoint.
  Outcome later =
      Ledgerctl("proof write" + server + " --token aud-token --seq 7 --out " + file, true);
  EXPECT_EQ(later.code, 2);
  EXPECT_NE(later.out.find("could not check: event 7 is not yet in the latest (witnessed) "
                           "checkpoint of size 6; retry later"),
            std::string::npos)
      << later.out;
  // A refused token: 401.
  Outcome denied = Ledgerctl("proof write" + server + " --token nope --seq 2 --out " + file, true);
  EXPECT_EQ(denied.code, 2);
  EXPECT_NE(denied.out.find("HTTP 401"), std::string::npos) << denied.out;
  EXPECT_FALSE(std::filesystem::exists(file));
  // A partnership that may not read the event gets its proof without its
  // bytes: checked with the leaf hash it was told, or the bytes themselves.
  Outcome blind =
      Ledgerctl("proof write" + server + " --token far-token --seq 2 --out " + file, true);
  ASSERT_EQ(blind.code, 0) << blind.out;
  EXPECT_EQ(ReadText(file).find("\nextra "), std::string::npos);
  EXPECT_EQ(Lines(ReadText(file))[1], "index 1");
  const size_t at = blind.out.find("--leaf-hash ");
  ASSERT_NE(at, std::string::npos) << blind.out;
  const std::string leaf = blind.out.substr(at + 12, 64);
  Outcome without = Ledgerctl("proof check " + file + " --vkey " + vkey, true);
  EXPECT_EQ(without.code, 2) << without.out;
  EXPECT_NE(without.out.find("could not check: the proof carries no entry"), std::string::npos);
  EXPECT_EQ(Ledgerctl("proof check " + file + " --vkey " + vkey + " --leaf-hash " + leaf).code, 0);
  // Bad arguments.
  EXPECT_EQ(Ledgerctl("proof write" + server + " --token aud-token --seq 0 --out " + file).code, 2);
  EXPECT_EQ(Ledgerctl("proof write" + server + " --token aud-token --seq 2").code, 2);
  // The existing proofs answer the same way: a refused token is no verdict.
  const std::string head = dir_.path() + "/head.json";
  {
    http_client::Endpoint to;
    to.port = std::to_string(server_->port());
    auto r = http_client::Call(to, {"GET", "/v1/ledger/head", "aud-token", ""});
    ASSERT_TRUE(r.ok() && r->status == 200);
    WriteText(head, r->body);
  }
  const std::string pub = " --key " + data_ + "/signing-key.pem.pub";
  EXPECT_EQ(
      Ledgerctl("proof inclusion" + pub + " --head " + head + server + " --token aud-token --seq 3")
          .code,
      0);
  Outcome inc401 = Ledgerctl(
      "proof inclusion" + pub + " --head " + head + server + " --token nope --seq 3", true);
  EXPECT_EQ(inc401.code, 2) << inc401.out;
  EXPECT_NE(inc401.out.find("could not check: the server: HTTP 401"), std::string::npos)
      << inc401.out;
  // No server at all.
  const std::string url = server_->url();
  server_->Stop();
  Outcome down = Ledgerctl(
      "proof write --server " + url + " --token aud-token --seq 2 --out " + file + ".2", true);
  EXPECT_EQ(down.code, 2);
  EXPECT_NE(down.out.find("could not check: the server: "), std::string::npos) << down.out;
  EXPECT_EQ(Ledgerctl("proof inclusion" + pub + " --head " + head + " --server " + url +
                      " --token aud-token --seq 3")
                .code,
            2);
  EXPECT_EQ(Ledgerctl("proof consistency" + pub + " --old " + head + " --server " + url +
                      " --token aud-token")
                .code,
            2);
}

// A real witness (ledgerctl witness) cosigns ledgerd's checkpoints; a proof
// written from the server carries its cosignature, which check counts
// against the witness policy.
TEST_F(LedgerctlLive, AProofCarriesTheCosignatureOfARealWitness) {
  Outcome key = Ledgerctl("key --data " + data_);
  ASSERT_EQ(key.code, 0);
  const std::string vkey = key.out.substr(0, key.out.size() - 1);
  int out = -1;
  const pid_t witness =
      ledger::testing::SpawnProgram(LEDGERCTL_PATH,
                                    {"witness", "--data", dir_.path() + "/witness", "--listen",
                                     "127.0.0.1:0", "--log", vkey, "--name", "witness.example"},
                                    STDOUT_FILENO, &out);
  ASSERT_GT(witness, 0);
  struct Stop {
    pid_t pid;
    int fd;
    ~Stop() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
      ::close(fd);
    }
  } stop{witness, out};
  std::string said;
  char buf[512];
  while (said.find("/add-checkpoint\n") == std::string::npos) {
    const ssize_t n = ::read(out, buf, sizeof buf);
    ASSERT_GT(n, 0) << "the witness exited: " << said;
    said.append(buf, static_cast<size_t>(n));
  }
  const size_t k = said.find("cosigner key: ") + 14;
  const std::string wvkey = said.substr(k, said.find('\n', k) - k);
  const size_t u = said.find("listening on ") + 13;
  const std::string wurl = said.substr(u, said.find("/add-checkpoint", u) - u);

  server_->Stop();
  Start({"--witness", "witness.example," + wurl + "," + wvkey, "--checkpoint-interval-ms", "50"});
  Append("wit", 0, 8);
  // The checkpoint served is the latest the witness cosigned: wait for 8.
  http_client::Endpoint to;
  to.port = std::to_string(server_->port());
  std::string checkpoint;
  for (int i = 0; i < 200 && checkpoint.find("\n8\n") == std::string::npos; ++i) {
    auto r = http_client::Call(to, {"GET", "/log/checkpoint", "", ""});
    if (r.ok() && r->status == 200) checkpoint = r->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(checkpoint.find("\n8\n"), std::string::npos) << checkpoint;
  EXPECT_NE(checkpoint.find("\xe2\x80\x94 witness.example "), std::string::npos) << checkpoint;

  const std::string file = dir_.path() + "/w.tlog-proof";
  Outcome w = Ledgerctl(
      "proof write --server " + server_->url() + " --token aud-token --seq 6 --out " + file, true);
  ASSERT_EQ(w.code, 0) << w.out;
  EXPECT_NE(w.out.find("(1 other signature line)"), std::string::npos) << w.out;
  Outcome c = Ledgerctl("proof check " + file + " --vkey " + vkey + " --witness " + wvkey, true);
  EXPECT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("witness witness.example: cosigned at "), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("ok: event seq 6"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("cosigned by 1 of 1 witnesses (quorum 1)"), std::string::npos) << c.out;
  // With a second witness that did not cosign, a quorum of 2 is not met.
  const TestWitness absent = MakeWitness("absent.example", 9);
  EXPECT_EQ(Ledgerctl("proof check " + file + " --vkey " + vkey + " --witness " + wvkey +
                      " --witness " + absent.vkey)
                .code,
            1);
}

}  // namespace

namespace {

// A backup taken while 64 clients append (ledgerctl backup beside the
// running ledgerd): restored with the signing key, it verifies, holds
// every event acknowledged before the backup began with the hash it was
// acknowledged with, and its tree is a prefix of the live one; a second
// backup to the same place adds only the newer events.
TEST_F(LedgerctlLive, ABackupTakenUnderLoadRestoresToAPrefixOfTheLiveLedger) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<uint64_t, std::string> acked;  // seq -> hash, as the 201s said
  std::vector<std::thread> clients;
  for (int c = 0; c < 64; ++c) {
    clients.emplace_back([&, c] {
      http_client::Endpoint to;
      to.port = std::to_string(server_->port());
      auto conn = http_client::Connection::Open(to);
      if (!conn.ok()) return;
      for (int i = 0; !stop; ++i) {
        auto r = (*conn)->Send({"POST", "/v1/events", "brum-token",
                                ReceivedBody("bk" + std::to_string(c) + "-" + std::to_string(i))});
        if (!r.ok() || r->status != 201) continue;
        json::object o = json::parse(r->body).as_object();
        std::lock_guard lock(mu);
        acked[o.at("seq").to_number<uint64_t>()] = std::string(o.at("hash").as_string());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::map<uint64_t, std::string> before;
  {
    std::lock_guard lock(mu);
    before = acked;
  }
  const std::string backup = dir_.path() + "/backup";
  Outcome first = Ledgerctl("backup --data " + data_ + " --to " + backup, true);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Outcome second = Ledgerctl("backup --data " + data_ + " --to " + backup, true);
  stop = true;
  for (std::thread& t : clients) t.join();
  ASSERT_EQ(first.code, 0) << first.out;
  ASSERT_EQ(second.code, 0) << second.out;
  EXPECT_NE(first.out.find("it holds no signing key"), std::string::npos) << first.out;
  EXPECT_FALSE(std::filesystem::exists(backup + "/signing-key.pem"));
  ASSERT_GT(before.size(), 100u);
  // The second run added only what came after the first.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(second.out, m, std::regex(R"((\d+) events \((\d+) new\))")));
  const uint64_t backed_up = std::stoull(m[1]);
  EXPECT_GT(std::stoull(m[2]), 0u);
  EXPECT_LT(std::stoull(m[2]), backed_up);

  // Without the key it cannot be restored; with it, it verifies.
  const std::string restored = dir_.path() + "/restored";
  EXPECT_EQ(Ledgerctl("restore --from " + backup + " --to " + restored).code, 2);
  Outcome r = Ledgerctl("restore --from " + backup + " --to " + restored + " --key " +
                            ledger::Ledger::SigningKeyPath(data_),
                        true);
  ASSERT_EQ(r.code, 0) << r.out;
  Outcome v = Ledgerctl("verify --data " + restored, true);
  EXPECT_EQ(v.code, 0) << v.out;

  server_->Stop();
  auto live = ledger::Ledger::Open(data_);
  auto copy = ledger::Ledger::Open(restored);
  ASSERT_TRUE(live.ok() && copy.ok());
  ASSERT_EQ((*copy)->Size(), backed_up);
  ASSERT_LE(backed_up, (*live)->Size());
  EXPECT_EQ((*copy)->Head().root, (*live)->HeadAt(backed_up)->root);
  for (const auto& [seq, hash] : before) {
    ASSERT_LE(seq, backed_up);
    EXPECT_EQ(ledger::ToHex((*copy)->GetEvent(seq)->hash), hash) << seq;
  }
}

// Key custody, as docs/OPERATIONS.md runs it: the signing key moved out of
// the data directory, then rotated with ledgerd stopped; the checkpoints
// signed before stay verifiable with the old key, the new ones with the
// new key only, the old key no longer starts ledgerd, and backups list
// both keys.
TEST_F(LedgerctlLive, TheSigningKeyIsKeptApartAndRotated) {
  auto get = [&](const std::string& target) {
    http_client::Endpoint to;
    to.port = std::to_string(server_->port());
    auto r = http_client::Call(to, {"GET", target, "aud-token", ""});
    return r.ok() ? r->body : std::string();
  };
  auto verifies = [](const std::string& checkpoint, const std::string& vkey) {
    auto n = ledger::note::Parse(checkpoint);
    auto v = ledger::note::ParseVerifierKey(vkey);
    return n.ok() && v.ok() && ledger::note::SignedBy(*n, *v);
  };
  Append("kr", 0, 3);
  server_->Stop();
  const std::string keys = dir_.path() + "/keys";
  std::filesystem::create_directories(keys);
  const std::string old_key = keys + "/ledger-2026.pem", new_key = keys + "/ledger-2027.pem";
  std::filesystem::rename(ledger::Ledger::SigningKeyPath(data_), old_key);
  Start({"--signing-key", old_key});
  Append("kr", 3, 2);
  const std::string old_checkpoint = get("/log/checkpoint");
  const std::string old_vkey = Ledgerctl("key --data " + data_).out;
  ASSERT_FALSE(old_vkey.empty());
  EXPECT_EQ(Ledgerctl("key history --data " + data_).out, "0 " + old_vkey);
  // Not while ledgerd runs.
  EXPECT_EQ(Ledgerctl("key rotate --data " + data_ + " --signing-key " + new_key).code, 3);
  server_->Stop();
  // The next key is made apart, and never over an existing one.
  Outcome made = Ledgerctl("key new --out " + new_key);
  ASSERT_EQ(made.code, 0) << made.out;
  EXPECT_EQ(Ledgerctl("key new --out " + new_key).code, 2);
  Outcome rotated = Ledgerctl("key rotate --data " + data_ + " --signing-key " + new_key, true);
  ASSERT_EQ(rotated.code, 0) << rotated.out;
  EXPECT_NE(rotated.out.find("from size 5"), std::string::npos) << rotated.out;
  const std::string new_vkey = Ledgerctl("key --data " + data_).out;
  EXPECT_NE(new_vkey, old_vkey);
  EXPECT_EQ(new_vkey, made.out);
  EXPECT_EQ(Ledgerctl("key history --data " + data_).out, "0 " + old_vkey + "5 " + new_vkey);

  // The old key no longer starts ledgerd.
  ledger::testing::LedgerdProcess refused(
      LEDGERD_PATH, {"--data", data_, "--tokens", tokens_, "--signing-key", old_key});
  EXPECT_EQ(refused.port(), 0);
  const int status = refused.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;

  Start({"--signing-key", new_key});
  Append("kr", 5, 2);
  const std::string new_checkpoint = get("/log/checkpoint");
  EXPECT_TRUE(verifies(new_checkpoint, new_vkey.substr(0, new_vkey.size() - 1)));
  EXPECT_FALSE(verifies(new_checkpoint, old_vkey.substr(0, old_vkey.size() - 1)));
  EXPECT_TRUE(verifies(old_checkpoint, old_vkey.substr(0, old_vkey.size() - 1)));
  json::value head = json::parse(get("/v1/ledger/head"));
  ASSERT_EQ(head.at("keys").as_array().size(), 2u);
  EXPECT_EQ(head.at("keys").at(1).at("from_size"), 5);
  EXPECT_EQ(Ledgerctl("verify --data " + data_).code, 0);

  // A backup without the key has no checkpoint but lists both keys; with
  // --signing-key it has the checkpoint.
  const std::string backup = dir_.path() + "/backup";
  Outcome b = Ledgerctl("backup --data " + data_ + " --to " + backup, true);
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_NE(b.out.find("its manifest has no checkpoint"), std::string::npos) << b.out;
  auto manifest = [&] {
    std::ifstream in(backup + "/manifest.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
  };
  EXPECT_FALSE(manifest().as_object().contains("checkpoint"));
  EXPECT_EQ(manifest().at("keys").as_array().size(), 2u);
  Outcome signed_backup =
      Ledgerctl("backup --data " + data_ + " --to " + backup + " --signing-key " + new_key, true);
  ASSERT_EQ(signed_backup.code, 0) << signed_backup.out;
  EXPECT_TRUE(verifies(std::string(manifest().at("checkpoint").as_string()),
                       new_vkey.substr(0, new_vkey.size() - 1)));
}

}  // namespace
