// The worked example ledger (tests/data/examples/events.ndjson, a copy of
// ../shared/examples): every line is a valid POST /v1/events body, and
// appended in order to an empty ledger, line n gets seq n.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "ledger/ledger.h"
#include "test_util.h"
#include "wire/event_json.h"

namespace ledger {
namespace {

TEST(Examples, EveryLineAppendsInOrderAndTheLedgerVerifies) {
  std::ifstream in(std::string(LEDGER_EXAMPLES_DIR) + "/events.ndjson");
  ASSERT_TRUE(in.good());
  testing::TempDir dir;
  LedgerOptions options;
  options.clock = [] { return *ParseTimestamp("2026-11-01T00:00:00Z"); };
  auto opened = Ledger::Open(dir.path(), options);
  ASSERT_TRUE(opened.ok());
  Ledger& ledger = **opened;
  WriteContext ctx = testing::Writer("partnership:example");
  std::string line;
  uint64_t n = 0;
  std::map<EventType, int> types;
  while (std::getline(in, line)) {
    ++n;
    auto body = wire::ParseStrictJson(line);
    ASSERT_TRUE(body.ok()) << "line " << n << ": " << body.status().ToString();
    auto req = wire::ParseAppendRequest(*body, options.clock());
    ASSERT_TRUE(req.ok()) << "line " << n << ": " << req.status().ToString();
    // The JSON form round-trips to the same value as the line.
    EXPECT_EQ(AppendRequestToJson(*req), body->as_object()) << "line " << n;
    auto r = ledger.Append(*req, ctx);
    ASSERT_TRUE(r.ok()) << "line " << n << ": " << r.status().ToString();
    ASSERT_EQ(r->seq, n);
    types[TypeOf(req->event.data)]++;
  }
  EXPECT_EQ(n, 1595u);
  EXPECT_EQ(types[EventType::kReferralReceived], 300);
  EXPECT_EQ(types[EventType::kRecordCorrected], 9);
  VerifyReport v = ledger.Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.events_checked, 1595u);
  // The stored data is the data as posted, corrections included.
  auto s = ledger.ReadStream("s1-r000120");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->front().type(), EventType::kReferralReceived);
}

}  // namespace
}  // namespace ledger
