// ledgerctl's subcommands run as a user runs them, on real ledgers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <sstream>

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

Outcome Ledgerctl(const std::string& args) {
  Outcome r;
  FILE* p = popen((std::string(LEDGERCTL_PATH) + " " + args + " 2>/dev/null").c_str(), "r");
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

}  // namespace
