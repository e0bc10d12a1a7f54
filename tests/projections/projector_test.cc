// The projection runner on a generated ledger of 100,000+ events: following
// appends, reloading a checkpoint, rebuilding from seq 1 and recovering from
// SIGKILL mid-catch-up all give the same views, byte for byte.
#include "projections/projector.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>

#include "key_layout.h"
#include "ledger/ledger.h"
#include "ledger/memory_view_store.h"
#include "synth.h"
#include "test_util.h"
#include "wire/view_json.h"

namespace projections {
namespace {

namespace json = boost::json;
using ledger::DaysFromCivil;
using ledger::kMicrosPerDay;

constexpr uint64_t kReferrals = 24000;  // about 110,000 events

ledger::LedgerOptions Options() {
  ledger::LedgerOptions o;
  o.clock = [] { return DaysFromCivil(2027, 1, 1) * kMicrosPerDay; };
  return o;
}

// Appends a generated ledger in batches of `batch` events.
uint64_t AppendGenerated(ledger::Ledger* ledger, size_t batch) {
  synth::Options opt;
  opt.seed = 7;
  opt.referrals = kReferrals;
  opt.start = DaysFromCivil(2024, 1, 1) * kMicrosPerDay;
  opt.end = DaysFromCivil(2026, 7, 1) * kMicrosPerDay;
  synth::Generator gen(opt);
  std::vector<ledger::RecordedRequest> requests;
  ledger::RecordedRequest req;
  auto flush = [&] {
    auto r = ledger->AppendRecorded(requests);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    requests.clear();
    return r.ok();
  };
  while (gen.Next(&req)) {
    requests.push_back(std::move(req));
    if (requests.size() == batch && !flush()) return 0;
  }
  if (!requests.empty() && !flush()) return 0;
  return gen.generated();
}

// Every view, for a few periods and as_of seqs, serialised.
std::string AllViews(const Projector& p) {
  std::string out;
  std::vector<ViewQuery> queries(5);
  queries[1].from_day = DaysFromCivil(2025, 1, 1);
  queries[1].to_day = DaysFromCivil(2026, 1, 1);
  queries[2] = queries[1];
  queries[2].as_of_seq = p.applied() / 2;
  queries[3].area = "E08000025";  // Birmingham
  queries[3].to_day = DaysFromCivil(2025, 7, 1);
  queries[4].reason = ledger::RefusalReason::kInsufficientBudget;
  queries[4].as_of_seq = p.applied() / 3;
  auto add = [&](auto r) {
    EXPECT_TRUE(r.ok());
    if (r.ok()) out += json::serialize(wire::ToJson(*r)) + "\n";
  };
  for (const ViewQuery& q : queries) {
    add(p.Fairness(q));
    add(p.WaitingTimes(q));
    add(p.Refusals(q));
    add(p.Areas(q));
  }
  for (const char* id : {"g1-r000000001", "g1-r000012000", "g1-r000023999"}) {
    auto r = p.Referral(id, ViewQuery{});
    if (r.ok()) out += json::serialize(wire::ToJson(*r)) + "\n";
  }
  return out;
}

// The environment variable that makes the test binary the catching-up
// child of SigkillDuringCatchUpThenRestartGivesTheSameViews (ReExecAsChild):
// its lines are the ledger directory, the view store and the pipe's fd.
constexpr const char* kChildJob = "PROJECTOR_TEST_CHILD";

// The child: catches up in small chunks and writes a byte to `fd` once a
// checkpoint is stored; it is killed meanwhile.
[[noreturn]] void CatchUpUntilKilled(const std::string& path, const std::string& store, int fd) {
  auto ledger = ledger::Ledger::Open(path, Options());
  if (!ledger.ok()) _exit(2);
  auto p = Projector::Open(ledger->get(), ProjectorOptions{store, 1000});
  if (!p.ok()) _exit(3);
  // Stops waiting when the catch-up ends without storing a checkpoint.
  std::atomic<bool> ended{false};
  std::thread catch_up([&] {
    (void)(*p)->CatchUp();
    ended = true;
  });
  while (true) {
    auto cp = (*p)->Checkpoint();
    if (cp.ok() && *cp > 0) break;
    if (ended) _exit(5);
    usleep(200);
  }
  char byte = 1;
  if (write(fd, &byte, 1) != 1) _exit(4);
  catch_up.join();
  _exit(0);
}

class ProjectorOnGeneratedLedger : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ledger::testing::TempDir();
    auto ledger = ledger::Ledger::Open(dir_->path() + "/ledger", Options());
    ASSERT_TRUE(ledger.ok());
    // The runner follows the appends as they are made.
    auto p = Projector::Open(ledger->get(), ProjectorOptions{"views", 4096});
    ASSERT_TRUE(p.ok());
    (*p)->Start();
    size_ = AppendGenerated(ledger->get(), 500);
    ASSERT_GE(size_, 100000u);
    ASSERT_TRUE((*p)->WaitFor(size_, std::chrono::seconds(60)));
    followed_ = new std::string(AllViews(**p));
  }
  static void TearDownTestSuite() {
    delete followed_;
    delete dir_;
  }

  static ledger::testing::TempDir* dir_;
  static uint64_t size_;
  static std::string* followed_;  // the views the following runner gave
};
ledger::testing::TempDir* ProjectorOnGeneratedLedger::dir_ = nullptr;
uint64_t ProjectorOnGeneratedLedger::size_ = 0;
std::string* ProjectorOnGeneratedLedger::followed_ = nullptr;

TEST_F(ProjectorOnGeneratedLedger, TheViewsAreNotTrivial) {
  // Each view has figures in it: the comparisons below compare something.
  EXPECT_GT(followed_->size(), 100000u);
  EXPECT_NE(followed_->find("\"above_998\""), std::string::npos);
  EXPECT_NE(followed_->find("\"four_fifths_flag\":true"), std::string::npos);
}

TEST_F(ProjectorOnGeneratedLedger, EachSummaryIsTheWalkOfItsReferralsEvents) {
  // Summaries are advanced event by event (walked again after a
  // correction); views at the head read them instead of walking.
  auto ledger = ledger::Ledger::Open(dir_->path() + "/ledger", Options());
  ASSERT_TRUE(ledger.ok());
  auto p = Projector::Open(ledger->get());
  ASSERT_TRUE(p.ok());
  size_t corrected = 0, offered = 0, refused = 0;
  (*p)->Read([&](const ReadModel& m) {
    ASSERT_EQ(m.summaries().size(), m.referrals().size());
    for (size_t i = 0; i < m.referrals().size(); ++i) {
      const Referral& r = m.referrals()[i];
      const Summary& s = m.summaries()[i];
      EXPECT_EQ(s.first_seq, r.recs.front().seq);
      EXPECT_EQ(s.last_seq, r.recs.back().seq);
      ASSERT_TRUE(s.facts == FactsAt(r, s.last_seq)) << r.id;
      corrected += r.has_corrections;
      offered += s.facts.offered;
      refused += s.facts.refusals > 0;
    }
  });
  // The generated ledger holds each kind of referral the step tells apart.
  EXPECT_GT(corrected, 10u);
  EXPECT_GT(offered, 1000u);
  EXPECT_GT(refused, 1000u);
}

TEST_F(ProjectorOnGeneratedLedger, ScansSplitOverThreadsGiveTheSameViews) {
  auto ledger = ledger::Ledger::Open(dir_->path() + "/ledger", Options());
  ASSERT_TRUE(ledger.ok());
  auto p = Projector::Open(ledger->get());
  ASSERT_TRUE(p.ok());
  for (const size_t parts : {2, 3, 7}) {
    SetScanSplit(ScanSplit{1, parts});
    EXPECT_EQ(AllViews(**p), *followed_) << parts << " parts";
  }
  SetScanSplit(ScanSplit{});
}

// The referral lists behind the figures (SPEC §11): for every figure of
// every area, at the head and at an earlier as_of, over a year and over
// everything, the list's total is the figure, its pages hold that many
// distinct ids in order, and (for the decision figures) each listed
// referral's own view, walked from its events, agrees: its corrected area
// is the area, and its first decision is the one the figure counts.
TEST_F(ProjectorOnGeneratedLedger, EveryFiguresListIsWhatItCounts) {
  auto ledger = ledger::Ledger::Open(dir_->path() + "/ledger", Options());
  ASSERT_TRUE(ledger.ok());
  auto p = Projector::Open(ledger->get());
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->CatchUp().ok());
  size_t lists = 0, walked = 0;
  for (const uint64_t as_of : {size_ / 2, size_}) {
    for (const bool year : {true, false}) {
      ViewQuery q;
      q.as_of_seq = as_of;
      if (year) {
        q.from_day = DaysFromCivil(2025, 1, 1);
        q.to_day = DaysFromCivil(2026, 1, 1);
      }
      auto fairness = (*p)->Fairness(q);
      auto waits = (*p)->WaitingTimes(q);
      ASSERT_TRUE(fairness.ok() && waits.ok());
      std::map<std::string, uint64_t> open;
      for (const AreaWaits& a : waits->areas) open[a.code] = a.waits.open.summary.count;
      for (const AreaFairness& a : fairness->areas) {
        const DecisionFigures& d = a.decisions;
        const std::vector<std::pair<ListFigure, uint64_t>> figures = {
            {ListFigure::kReferrals, d.referrals},
            {ListFigure::kDecisions, d.decisions},
            {ListFigure::kApproved, d.approved},
            {ListFigure::kRefused, d.refused},
            {ListFigure::kOverturnedOnAppeal, d.overturned_on_appeal},
            {ListFigure::kPlacementsStarted, d.placements_started},
            {ListFigure::kOpenPathways, open[a.code]}};
        for (const auto& [figure, count] : figures) {
          ViewQuery lq = q;
          lq.area = a.code;
          lq.figure = figure;
          lq.limit = 7;  // several pages
          std::vector<std::string> ids;
          uint64_t total = 0;
          for (int page = 0; page < 10000; ++page) {
            auto list = (*p)->ReferralList(lq);
            ASSERT_TRUE(list.ok());
            total = list->total;
            for (const ListedReferral& r : list->referrals) ids.push_back(r.referral_id);
            for (const ListedReferral& r : list->referrals) {
              if (figure != ListFigure::kDecisions && figure != ListFigure::kRefused) continue;
              if (walked >= 400) break;  // a sample: each walk reads the events
              ViewQuery at = q;
              auto own = (*p)->Referral(r.referral_id, at);
              ASSERT_TRUE(own.ok());
              EXPECT_EQ(own->received.area, a.code) << r.referral_id;
              ASSERT_TRUE(own->first_decision.has_value()) << r.referral_id;
              EXPECT_EQ(own->first_decision, r.first_decision) << r.referral_id;
              if (figure == ListFigure::kRefused) {
                EXPECT_EQ(*own->first_decision, FirstDecision::kRefused) << r.referral_id;
              }
              EXPECT_EQ(own->state, r.state) << r.referral_id;
              ++walked;
            }
            if (!list->next_after) break;
            EXPECT_EQ(list->referrals.size(), 7u);
            lq.after = list->next_after;
          }
          ASSERT_EQ(total, count) << a.code << " " << ledger::ToString(figure) << " as_of "
                                  << as_of;
          ASSERT_EQ(ids.size(), count) << a.code << " " << ledger::ToString(figure);
          EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
          EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
          ++lists;
        }
        // A reason narrows the refusals as refusals_by_reason counts them.
        for (size_t reason = 0; reason < d.refusals_by_reason.size(); ++reason) {
          ViewQuery lq = q;
          lq.area = a.code;
          lq.figure = ListFigure::kRefused;
          lq.reason = static_cast<ledger::RefusalReason>(reason);
          lq.limit = 1;
          auto list = (*p)->ReferralList(lq);
          ASSERT_TRUE(list.ok());
          EXPECT_EQ(list->total, d.refusals_by_reason[reason]) << a.code << " " << reason;
        }
        for (size_t stage = 0; stage < d.refusals_by_stage.size(); ++stage) {
          ViewQuery lq = q;
          lq.area = a.code;
          lq.figure = ListFigure::kRefused;
          lq.stage = static_cast<ledger::RefusalStage>(stage);
          lq.limit = 1;
          auto list = (*p)->ReferralList(lq);
          ASSERT_TRUE(list.ok());
          EXPECT_EQ(list->total, d.refusals_by_stage[stage]) << a.code << " " << stage;
        }
      }
    }
  }
  EXPECT_GT(lists, 1000u);
  EXPECT_GE(walked, 400u);
}

TEST_F(ProjectorOnGeneratedLedger, ReloadAndRebuildEqualFollowing) {
  auto ledger = ledger::Ledger::Open(dir_->path() + "/ledger", Options());
  ASSERT_TRUE(ledger.ok());
  auto p = Projector::Open(ledger->get());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->applied(), size_);  // reloaded from the checkpoint
  EXPECT_EQ(AllViews(**p), *followed_);
  const ledger::Status rebuilt = (*p)->Rebuild();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.message();
  EXPECT_EQ((*p)->applied(), size_);
  EXPECT_EQ(AllViews(**p), *followed_);
  // Other stores built from seq 1 with other chunk sizes: two chunks are
  // read as applied; more are read ahead on other threads (Rebuild above
  // too), here with many more chunks than are read ahead at once.
  for (const size_t chunk : {size_t{100000}, size_t{777}}) {
    auto q =
        Projector::Open(ledger->get(), ProjectorOptions{"views-" + std::to_string(chunk), chunk});
    ASSERT_TRUE(q.ok());
    ASSERT_TRUE((*q)->CatchUp().ok());
    EXPECT_EQ((*q)->applied(), size_);
    EXPECT_EQ(AllViews(**q), *followed_) << chunk;
  }
}

TEST_F(ProjectorOnGeneratedLedger, SigkillDuringCatchUpThenRestartGivesTheSameViews) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string store = "crash-" + std::to_string(round);
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(ready[0]);
      ledger::testing::ReExecAsChild(kChildJob,
                                     {dir_->path() + "/ledger", store, std::to_string(ready[1])});
    }
    close(ready[1]);
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    usleep(1000 * round);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child finished before it was killed";

    auto ledger = ledger::Ledger::Open(dir_->path() + "/ledger", Options());
    ASSERT_TRUE(ledger.ok());
    auto p = Projector::Open(ledger->get(), ProjectorOptions{store, 1000});
    ASSERT_TRUE(p.ok());
    // The stored model was whole and consistent with its checkpoint: it was
    // reloaded, not dropped, and stopped part way.
    const uint64_t reloaded = (*p)->applied();
    EXPECT_GT(reloaded, 0u);
    EXPECT_LT(reloaded, size_);
    EXPECT_EQ(*(*p)->Checkpoint(), reloaded);
    ASSERT_TRUE((*p)->CatchUp().ok());
    EXPECT_EQ(AllViews(**p), *followed_);
  }
}

// A projector can keep its checkpoints in a store of its own: a
// MemoryViewStore holds them like the ledger's, and a second projector
// reloads from it instead of replaying.
TEST_F(ProjectorOnGeneratedLedger, AMemoryViewStoreHoldsTheCheckpointsInstead) {
  auto ledger = ledger::Ledger::Open(dir_->path() + "/ledger", Options());
  ASSERT_TRUE(ledger.ok());
  ledger::MemoryViewStore store;
  ProjectorOptions options;
  options.chunk_events = 5000;
  options.store = &store;
  {
    auto p = Projector::Open(ledger->get(), options);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ((*p)->applied(), 0u);
    ASSERT_TRUE((*p)->CatchUp().ok());
    EXPECT_EQ(*(*p)->Checkpoint(), size_);
    EXPECT_GE(store.writes(), size_ / options.chunk_events);
    EXPECT_EQ(AllViews(**p), *followed_);
  }
  auto reloaded = Projector::Open(ledger->get(), options);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ((*reloaded)->applied(), size_);  // from the memory store, not the log
  EXPECT_EQ(AllViews(**reloaded), *followed_);
}

// A log that cannot be read part way: catch-up stops at the last event it
// could apply, names the event, keeps what it applied, and goes on from
// there once the event can be read again.
TEST(ProjectorOnADamagedLog, StopsAtTheEventItCannotReadAndGoesOnOnceItCan) {
  using ledger::testing::Req;
  using ledger::testing::T;
  ledger::testing::TempDir dir;
  const std::string path = dir.path() + "/ledger";
  {
    auto ledger = ledger::Ledger::Open(path, Options());
    ASSERT_TRUE(ledger.ok());
    for (int i = 0; i < 40; ++i) {  // 80 events
      const std::string id = "r" + std::to_string(i);
      ASSERT_TRUE((*ledger)
                      ->Append(Req(id, T(i), ledger::testing::Received("E08000025")),
                               ledger::testing::Writer())
                      .ok());
      ASSERT_TRUE((*ledger)
                      ->Append(Req(id, T(i + 1),
                                   ledger::AssessmentCompleted{ledger::AssessmentOutcome::kSuitable,
                                                               std::nullopt}),
                               ledger::testing::Writer())
                      .ok());
    }
  }
  // Edits the ledger's own keys (the default column family) behind its back.
  auto raw_edit = [&](const std::function<void(rocksdb::DB*)>& edit) {
    std::vector<std::string> names;
    ASSERT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path + "/rocksdb", &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names)
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), path + "/rocksdb", families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    edit(db.get());
    for (rocksdb::ColumnFamilyHandle* h : handles)
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  };
  std::string event45;
  ASSERT_NO_FATAL_FAILURE(raw_edit([&](rocksdb::DB* db) {
    const std::string key = ledger::internal::keys::Event(45);
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key, &event45).ok());
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), key).ok());
  }));
  // Chunks of 10 are read ahead (the chunk holding 45 fails whole); chunks
  // of 50 are read as applied (events up to 44 are applied).
  for (const auto& [chunk, reached] : {std::pair<size_t, uint64_t>{10, 40}, {50, 44}}) {
    SCOPED_TRACE("chunks of " + std::to_string(chunk));
    const std::string store = "views-" + std::to_string(chunk);
    {
      auto ledger = ledger::Ledger::Open(path, Options());
      ASSERT_TRUE(ledger.ok());
      auto p = Projector::Open(ledger->get(), ProjectorOptions{store, chunk});
      ASSERT_TRUE(p.ok());
      for (int attempt = 0; attempt < 2; ++attempt) {
        const ledger::Status st = (*p)->CatchUp();
        EXPECT_EQ(st.code(), ledger::Code::kCorruption) << st.ToString();
        EXPECT_NE(st.message().find("event 45 is missing"), std::string::npos) << st.ToString();
        EXPECT_EQ((*p)->applied(), reached);
      }
    }
    ASSERT_NO_FATAL_FAILURE(raw_edit([&](rocksdb::DB* db) {
      ASSERT_TRUE(
          db->Put(rocksdb::WriteOptions(), ledger::internal::keys::Event(45), event45).ok());
    }));
    {
      auto ledger = ledger::Ledger::Open(path, Options());
      ASSERT_TRUE(ledger.ok());
      ASSERT_TRUE((*ledger)->Verify().ok);
      auto p = Projector::Open(ledger->get(), ProjectorOptions{store, chunk});
      ASSERT_TRUE(p.ok());
      ASSERT_TRUE((*p)->CatchUp().ok());
      EXPECT_EQ((*p)->applied(), 80u);
      auto fresh = Projector::Open(ledger->get(), ProjectorOptions{store + "-fresh", 1000});
      ASSERT_TRUE(fresh.ok());
      ASSERT_TRUE((*fresh)->CatchUp().ok());
      EXPECT_EQ(AllViews(**p), AllViews(**fresh));
      EXPECT_NE(AllViews(**p).find("\"E08000025\""), std::string::npos);
    }
    // Damaged again for the next chunk size.
    ASSERT_NO_FATAL_FAILURE(raw_edit([&](rocksdb::DB* db) {
      ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), ledger::internal::keys::Event(45)).ok());
    }));
  }
}

}  // namespace
}  // namespace projections

// The test binary is also the child it re-executes (kChildJob set).
int main(int argc, char** argv) {
  if (auto job = ledger::testing::ChildJob(projections::kChildJob)) {
    if (job->size() != 3) return 7;
    projections::CatchUpUntilKilled((*job)[0], (*job)[1], std::stoi((*job)[2]));
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
