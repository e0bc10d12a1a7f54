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
    EXPECT_EQ(All(*s, "b"),
              (std::vector<std::pair<std::string, std::string>>{{"b1", "one"}, {"b2", "two"}}));
    EXPECT_FALSE((*(*s)->Get("x")).has_value());
    // The same name is the same store; the ledger's own keys are not in it.
    EXPECT_EQ(*(*ledger)->OpenViewStore("views"), *s);
    ASSERT_TRUE(
        (*ledger)
            ->Append(testing::Req("r1", testing::T(0), testing::Received()), testing::Writer())
            .ok());
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
    ASSERT_TRUE(
        (*ledger)
            ->Append(testing::Req("r" + std::to_string(i), testing::T(0), testing::Received()),
                     testing::Writer())
            .ok());
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

TEST(ScanBriefs, GivesEachEventsBriefInOrderAndStopsOnRequest) {
  testing::TempDir dir;
  auto ledger = Ledger::Open(dir.path(), testing::TestOptions());
  ASSERT_TRUE(ledger.ok());
  using testing::Req;
  using testing::T;
  auto append = [&](EventData d, std::string id, int day) {
    ASSERT_TRUE(
        (*ledger)->Append(Req(std::move(id), T(day), std::move(d)), testing::Writer()).ok());
  };
  append(testing::Received("E08000025"), "r1", 0);
  append(testing::Received("E09000001"), "r2", 0);
  append(AssessmentCompleted{AssessmentOutcome::kSuitable, std::nullopt}, "r1", 1);
  append(RecordCorrected{2, "typo", {{"area", std::string("E08000026")}}}, "r2", 1);
  append(ReferralRefused{RefusalStage::kFundingPanel, RefusalReason::kInsufficientBudget, "panel-7",
                         std::nullopt},
         "r1", 2);
  std::vector<Event> events;
  ASSERT_TRUE((*ledger)
                  ->ScanEvents(0, 5,
                               [&](const Event& e) {
                                 events.push_back(e);
                                 return Status::Ok();
                               })
                  .ok());
  ASSERT_EQ(events.size(), 5u);
  size_t i = 0;
  ASSERT_TRUE((*ledger)
                  ->ScanBriefs(0, 5,
                               [&](const EventBrief& b) {
                                 testing::ExpectSameBrief(b, BriefOf(events[i++]));
                                 return Status::Ok();
                               })
                  .ok());
  EXPECT_EQ(i, 5u);
  EXPECT_EQ(events[4].type(), EventType::kReferralRefused);
  EXPECT_EQ(BriefOf(events[4]).key, "panel-7");
  EXPECT_EQ(BriefOf(events[0]).key, "E08000025");

  std::vector<uint64_t> seen;
  auto collect = [&](const EventBrief& b) {
    seen.push_back(b.seq);
    return b.seq == 4 ? Status::Internal("stop") : Status::Ok();
  };
  EXPECT_EQ((*ledger)->ScanBriefs(2, 100, collect).code(), Code::kInternal);
  EXPECT_EQ(seen, (std::vector<uint64_t>{3, 4}));
  seen.clear();
  EXPECT_TRUE((*ledger)->ScanBriefs(5, 100, collect).ok());
  EXPECT_TRUE(seen.empty());
}

}  // namespace
}  // namespace ledger
