// ledgerctl's subcommands run as a user runs them, on real ledgers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <sstream>

#include <filesystem>
#include <fstream>
#include <functional>

#include "api/service.h"
#include "json_match.h"
#include "ledger/ledger.h"
#include "projections/projector.h"
#include "test_util.h"

namespace {

namespace json = boost::json;

struct Outcome {
  int code = -1;
  std::string out;
};

// Runs ledgerctl; its standard error is kept too when `with_errors`.
Outcome Ledgerctl(const std::string& args, bool with_errors = false) {
  Outcome r;
  FILE* p = popen((std::string(LEDGERCTL_PATH) + " " + args + (with_errors ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
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
    Outcome g = Ledgerctl("generate --data " + data_ + " --referrals 400 --from 2024-01-01 --to 2026-01-01");
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
  EXPECT_EQ(Ledgerctl("timeline --data " + data_ + " nobody").code, 1);
}

TEST_F(LedgerctlTest, ReplayEqualsTheLiveViews) {
  const uint64_t mid = size_ / 2;
  Outcome r = Ledgerctl("replay --data " + data_ + " --view fairness --from 2025-01-01 --to 2026-01-01 --as-of " +
                    std::to_string(mid));
  ASSERT_EQ(r.code, 0);
  Outcome w = Ledgerctl("replay --data " + data_ + " --view waiting-times --to 2025-07-01");
  ASSERT_EQ(w.code, 0);
  auto ledger = ledger::Ledger::Open(data_);
  ASSERT_TRUE(ledger.ok());
  auto p = projections::Projector::Open(ledger->get(), projections::ProjectorOptions{"test-views", 4096});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->CatchUp().ok());
  projections::ViewQuery q;
  q.from_day = ledger::DaysFromCivil(2025, 1, 1);
  q.to_day = ledger::DaysFromCivil(2026, 1, 1);
  q.as_of_seq = mid;
  // Equal, value by value, both ways (the JSON text parses integers as
  // signed).
  const json::value fair = *(*p)->Fairness(q);
  EXPECT_EQ(ledger::testing::JsonMismatch(fair, json::parse(r.out)), "");
  EXPECT_EQ(ledger::testing::JsonMismatch(json::parse(r.out), fair), "");
  projections::ViewQuery qw;
  qw.to_day = ledger::DaysFromCivil(2025, 7, 1);
  const json::value waits = *(*p)->WaitingTimes(qw);
  EXPECT_EQ(ledger::testing::JsonMismatch(waits, json::parse(w.out)), "");
  EXPECT_EQ(ledger::testing::JsonMismatch(json::parse(w.out), waits), "");
  EXPECT_EQ(json::parse(r.out).at("as_of_seq").to_number<uint64_t>(), mid);
}

TEST_F(LedgerctlTest, ClearErrorsAndExitCodes) {
  EXPECT_EQ(Ledgerctl("").code, 2);
  EXPECT_EQ(Ledgerctl("--help").code, 0);
  EXPECT_EQ(Ledgerctl("frobnicate --data " + data_).code, 2);
  EXPECT_EQ(Ledgerctl("verify").code, 2);                                  // no --data
  EXPECT_EQ(Ledgerctl("verify --data " + data_ + " --colour red").code, 2);  // unknown option
  EXPECT_EQ(Ledgerctl("replay --data " + data_ + " --view nope").code, 2);
  EXPECT_EQ(Ledgerctl("replay --data " + data_ + " --view fairness --as-of yesterday").code, 2);
  EXPECT_EQ(Ledgerctl("generate --data " + data_).code, 1);  // not empty
  // A ledger another process holds open cannot be opened.
  auto held = ledger::Ledger::Open(data_);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(Ledgerctl("verify --data " + data_).code, 3);
}

TEST(LedgerctlImport, KeepsGoodLinesReportsBadOnesAndResumes) {
  ledger::testing::TempDir dir;
  std::ifstream in(std::string(LEDGER_EXAMPLES_DIR) + "/events.ndjson");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1595u);
  // Three bad lines among the good ones: file lines 11, 502 and 1003.
  lines.insert(lines.begin() + 10, "{\"type\":");
  lines.insert(lines.begin() + 501, R"({"type":"assessment.completed","referral_id":"s1-r000001","occurred_at":"2025-01-01T00:00:00Z","data":{"outcome":"fine"}})");
  lines.insert(lines.begin() + 1002, R"({"type":"placement.ended","referral_id":"nobody","occurred_at":"2025-01-01T00:00:00Z","data":{"outcome":"completed"}})");
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
  EXPECT_NE(first.out.find("1595 appended, 0 already there, 3 rejected"), std::string::npos) << first.out;
  // Again: nothing is appended twice.
  Outcome again = Ledgerctl("import --data " + data + " " + file, true);
  EXPECT_NE(again.out.find("0 appended, 1595 already there, 3 rejected"), std::string::npos) << again.out;
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
  EXPECT_EQ(ledger::testing::JsonMismatch(json::parse(expected.str()), *(*p)->Fairness(q)), "");
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
    ASSERT_TRUE(ledger->Append(ledger::testing::Req(prefix + std::to_string(i), ledger::testing::T(0),
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
  Outcome ok = Ledgerctl("proof inclusion" + key + " --head" + at("head.json") + " --proof" + at("inclusion.json"));
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(Ledgerctl("proof inclusion" + key + " --head" + at("head.json") + " --proof" + at("inclusion-tampered.json")).code, 1);
  EXPECT_EQ(Ledgerctl("proof inclusion" + key + " --head" + at("head-tampered.json") + " --proof" + at("inclusion.json")).code, 1);
  EXPECT_EQ(Ledgerctl("proof consistency" + key + " --old" + at("old.json") + " --new" + at("new.json") + " --proof" + at("consistency.json")).code, 0);
  // The forked head is signed with the same key, but does not extend the old one.
  EXPECT_EQ(Ledgerctl("proof consistency" + key + " --old" + at("old.json") + " --new" + at("fork-head.json") + " --proof" + at("consistency.json")).code, 1);
  EXPECT_EQ(Ledgerctl("proof inclusion" + key + " --head" + at("fork-head.json") + " --proof" + at("inclusion.json")).code, 1);
  EXPECT_EQ(Ledgerctl("proof inclusion --head" + at("head.json")).code, 2);  // no key
}

}  // namespace
