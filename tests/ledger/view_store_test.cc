// View stores: a projection's own column family in the ledger's database.
#include <gtest/gtest.h>

#include "ledger/ledger.h"
#include "test_util.h"

namespace ledger {
namespace {

std::vector<std::pair<std::string, std::string>> All(ViewStore* s, std::string_view prefix = "") {
  std::vector<std::pair<std::string, std::string>> out;
  EXPECT_TRUE(s->Scan(prefix, [&](std::string_view k, std::string_view v) {
                 out.emplace_back(k, v);
                 return true;
               }).ok());
  return out;
}

TEST(ViewStore, WritesAtomicallyScansInOrderAndPersists) {
  testing::TempDir dir;
  {
    auto ledger = Ledger::Open(dir.path(), testing::TestOptions());
    ASSERT_TRUE(ledger.ok());
    auto s = (*ledger)->OpenViewStore("views");
    ASSERT_TRUE(s.ok());
    ViewStore::Batch b;
    b.Put("b2", "two");
    b.Put("b1", "one");
    b.Put("c", "checkpoint");
    b.Put("x", "gone");
    b.Delete("x");
    ASSERT_TRUE((*s)->Write(b).ok());
    EXPECT_EQ(All(*s, "b"), (std::vector<std::pair<std::string, std::string>>{
                                {"b1", "one"}, {"b2", "two"}}));
    EXPECT_FALSE((*(*s)->Get("x")).has_value());
    // The same name is the same store; the ledger's own keys are not in it.
    EXPECT_EQ(*(*ledger)->OpenViewStore("views"), *s);
    ASSERT_TRUE((*ledger)->Append(testing::Req("r1", testing::T(0), testing::Received()),
                                  testing::Writer()).ok());
    EXPECT_EQ(All(*s).size(), 3u);
  }
  auto ledger = Ledger::Open(dir.path(), testing::TestOptions());
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ((*ledger)->Size(), 1u);
  auto s = (*ledger)->OpenViewStore("views");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(**(*s)->Get("c"), "checkpoint");
  ASSERT_TRUE((*s)->Clear().ok());
  EXPECT_TRUE(All(*s).empty());
  EXPECT_EQ((*ledger)->Verify().ok, true);  // the ledger is untouched
}

TEST(ViewStore, NamesAreChecked) {
  testing::TempDir dir;
  auto ledger = Ledger::Open(dir.path(), testing::TestOptions());
  ASSERT_TRUE(ledger.ok());
  for (const char* bad : {"", "default", "Views", "a b", "../x"}) {
    EXPECT_EQ((*ledger)->OpenViewStore(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ScanEvents, StreamsARangeAndStopsOnRequest) {
  testing::TempDir dir;
  auto ledger = Ledger::Open(dir.path(), testing::TestOptions());
  ASSERT_TRUE(ledger.ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE((*ledger)->Append(testing::Req("r" + std::to_string(i), testing::T(0),
                                               testing::Received()),
                                  testing::Writer()).ok());
  }
  std::vector<uint64_t> seen;
  auto collect = [&](const Event& e) {
    seen.push_back(e.seq);
    return e.seq == 6 ? Status::Internal("stop") : Status::Ok();
  };
  EXPECT_TRUE((*ledger)->ScanEvents(2, 5, collect).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{3, 4, 5}));
  seen.clear();
  EXPECT_EQ((*ledger)->ScanEvents(4, 100, collect).code(), Code::kInternal);
  EXPECT_EQ(seen, (std::vector<uint64_t>{5, 6}));
}

}  // namespace
}  // namespace ledger
