// The store on a real RocksDB in a temporary directory: sequencing, the
// state machine and conflicts in SPEC §8's order, idempotency, batches,
// corrections, reopening, the hash chain, proofs, signed heads and tampering.
#include "ledger/ledger.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "key_layout.h"
#include "ledger/merkle.h"
#include "raw_db.h"
#include "test_util.h"
#include "wire/event_json.h"

namespace ledger {
namespace {

using testing::Received;
using testing::Req;
using testing::T;
using testing::TempDir;
using testing::Writer;

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    ledger_.reset();
    LedgerOptions o;
    o.clock = [this] { return clock_.load(); };
    auto r = Ledger::Open(dir_.path(), o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ledger_ = std::move(r).value();
  }
  Result<AppendResult> Append(AppendRequest req, const WriteContext& ctx = Writer()) {
    return ledger_->Append(req, ctx);
  }
  Result<std::vector<AppendResult>> AppendAll(std::vector<AppendRequest> reqs,
                                              const WriteContext& ctx = Writer()) {
    return ledger_->Append(std::span<const AppendRequest>(reqs), ctx);
  }
  // A referral taken to `approved` at days 0..2.
  void Approved(const std::string& id, const std::string& area = "E08000002") {
    ASSERT_TRUE(Append(Req(id, T(0), Received(area))).ok());
    ASSERT_TRUE(Append(Req(id, T(1), AssessmentCompleted{})).ok());
    ASSERT_TRUE(Append(Req(id, T(2), FundingApproved{"panel", 12})).ok());
  }
  // The needle is looked for in the message as the API names a batch's
  // errors (the ledger says which event failed; wire::NameEvents names it).
  void ExpectCode(const Status& st, Code code, std::string_view needle = "") {
    EXPECT_EQ(st.code(), code) << st.ToString();
    if (!needle.empty()) {
      const std::string named = wire::NameEvents(st).message();
      EXPECT_NE(named.find(needle), std::string::npos) << named;
    }
  }

  TempDir dir_;
  std::atomic<Micros> clock_{*ParseTimestamp("2026-06-01T00:00:00Z")};
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(LedgerTest, AssignsSeqVersionRecordedAtAndActor) {
  auto a = Append(Req("r1", T(0), Received()), Writer("partnership:manchester"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->seq, 1u);
  EXPECT_EQ(a->version, 1u);
  EXPECT_FALSE(a->replayed);
  EXPECT_EQ(a->recorded_at, clock_.load());
  clock_ -= 1000;  // the clock steps back: recorded_at must not
  auto b = Append(Req("r2", T(0), Received()));
  auto c = Append(Req("r1", T(1), AssessmentCompleted{}));
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_EQ(b->seq, 2u);
  EXPECT_EQ(b->version, 1u);
  EXPECT_EQ(c->seq, 3u);
  EXPECT_EQ(c->version, 2u);
  EXPECT_GE(b->recorded_at, a->recorded_at);
  EXPECT_EQ(ledger_->Size(), 3u);

  auto e = ledger_->GetEvent(1);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->actor, "partnership:manchester");
  EXPECT_EQ(e->referral_id, "r1");
  EXPECT_EQ(e->data, EventData(Received()));
  EXPECT_EQ(e->hash, a->hash);
  EXPECT_EQ(ledger_->GetEvent(4).status().code(), Code::kNotFound);
  EXPECT_EQ(ledger_->GetEvent(0).status().code(), Code::kNotFound);
}

TEST_F(LedgerTest, HashChainLinksTheStoredBytes) {
  Approved("r1");
  Approved("r2");
  Hash prev{};
  for (uint64_t seq = 1; seq <= ledger_->Size(); ++seq) {
    auto bytes = ledger_->GetCanonicalBytes(seq);
    ASSERT_TRUE(bytes.ok());
    Hash expect = Sha256({AsBytes(prev), *bytes});
    EXPECT_EQ(ledger_->GetEvent(seq)->hash, expect) << seq;
    prev = expect;
  }
}

TEST_F(LedgerTest, ReadsStreamsAndTheFeed) {
  Approved("r1");
  ASSERT_TRUE(Append(Req("r2", T(0), Received())).ok());
  ASSERT_TRUE(Append(Req("r1", T(3), PlacementStarted{"1-123456789"})).ok());
  auto s = ledger_->ReadStream("r1");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 4u);
  for (size_t i = 0; i < s->size(); ++i) EXPECT_EQ((*s)[i].version, i + 1);
  EXPECT_EQ((*s)[3].seq, 5u);
  EXPECT_EQ(ledger_->ReadStream("R1").status().code(), Code::kNotFound);  // case-sensitive
  EXPECT_EQ(ledger_->ReadStream("r").status().code(), Code::kNotFound);   // not a prefix match

  auto feed = ledger_->ReadFeed(2, 2);
  ASSERT_TRUE(feed.ok());
  ASSERT_EQ(feed->size(), 2u);
  EXPECT_EQ((*feed)[0].seq, 3u);
  EXPECT_EQ((*feed)[1].seq, 4u);
  EXPECT_EQ(ledger_->ReadFeed(0, 100)->size(), 5u);
  EXPECT_TRUE(ledger_->ReadFeed(5, 100)->empty());
}

TEST_F(LedgerTest, StateMachineAndTimeOrder) {
  ExpectCode(Append(Req("nobody", T(0), AssessmentCompleted{})).status(), Code::kStateViolation,
             "unknown referral");
  ExpectCode(
      Append(Req("nobody", T(0), RecordCorrected{1, "r", {{"sex", std::string("male")}}})).status(),
      Code::kStateViolation);
  ASSERT_TRUE(Append(Req("r1", T(5), Received())).ok());
  ExpectCode(Append(Req("r1", T(6), Received())).status(), Code::kConflict, "already");
  ExpectCode(Append(Req("r1", T(6), PlacementStarted{"1-123456789"})).status(),
             Code::kStateViolation, "placement.started");
  // Business time never runs backwards within a referral; equal is fine.
  ExpectCode(Append(Req("r1", T(4), AssessmentCompleted{})).status(), Code::kStateViolation,
             "earlier");
  ASSERT_TRUE(Append(Req("r1", T(5), AssessmentCompleted{})).ok());
  // Back-dated recording in another referral is normal.
  ASSERT_TRUE(Append(Req("r0", T(-100), Received())).ok());
  // A refusal after approval, an appeal upheld, a re-offer, start and end.
  ASSERT_TRUE(Append(Req("r1", T(6), FundingApproved{"p", 4})).ok());
  ASSERT_TRUE(Append(Req("r1", T(7), PlacementOffered{"1-123456789", "2025-02-01"})).ok());
  ASSERT_TRUE(Append(Req("r1", T(8),
                         ReferralRefused{RefusalStage::kProvider,
                                         RefusalReason::kNoSuitableProvider, "prov", std::nullopt}))
                  .ok());
  ASSERT_TRUE(Append(Req("r1", T(9), AppealLodged{"g"})).ok());
  ASSERT_TRUE(Append(Req("r1", T(10), AppealDecided{AppealOutcome::kUpheld, "d"})).ok());
  ASSERT_TRUE(Append(Req("r1", T(11), PlacementOffered{"1-123456789", "2025-02-01"})).ok());
  ASSERT_TRUE(Append(Req("r1", T(12), PlacementOffered{"1-987654321", "2025-02-08"})).ok());
  ASSERT_TRUE(Append(Req("r1", T(13), PlacementStarted{"1-987654321"})).ok());
  ExpectCode(Append(Req("r1", T(14), ReferralWithdrawn{})).status(), Code::kStateViolation,
             "in_placement");
  ASSERT_TRUE(Append(Req("r1", T(15), PlacementEnded{PlacementOutcome::kCompleted})).ok());
  ExpectCode(Append(Req("r1", T(16), ReferralWithdrawn{})).status(), Code::kStateViolation,
             "ended");
  EXPECT_TRUE(ledger_->Verify().ok);
}

TEST_F(LedgerTest, FieldRulesAreCheckedBeforeAnythingElse) {
  AppendRequest bad = Req("bad id", T(0), Received("E07000001"));
  auto r = Append(bad);
  ExpectCode(r.status(), Code::kInvalidArgument);
  ASSERT_EQ(r.status().field_errors().size(), 2u);
  EXPECT_EQ(r.status().field_errors()[0].field, "referral_id");
  EXPECT_EQ(r.status().field_errors()[1].field, "data.area");
  // More than 5 minutes ahead of the ledger's clock.
  r = Append(Req("r1", clock_.load() + 301 * kMicrosPerSecond, Received()));
  ExpectCode(r.status(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().field_errors()[0].field, "occurred_at");
  EXPECT_TRUE(Append(Req("r1", clock_.load() + 300 * kMicrosPerSecond, Received())).ok());
  EXPECT_EQ(ledger_->Size(), 1u);
}

TEST_F(LedgerTest, ExpectedVersion) {
  AppendRequest first = Req("r1", T(0), Received());
  first.expected_version = 0;
  ASSERT_TRUE(Append(first).ok());
  AppendRequest next = Req("r1", T(1), AssessmentCompleted{});
  next.expected_version = 0;
  ExpectCode(Append(next).status(), Code::kConflict, "version 1");
  next.expected_version = 2;
  ExpectCode(Append(next).status(), Code::kConflict);
  next.expected_version = 1;
  ASSERT_TRUE(Append(next).ok());
  // Corrections count.
  ASSERT_TRUE(
      Append(Req("r1", T(2), RecordCorrected{1, "typo", {{"sex", std::string("male")}}})).ok());
  AppendRequest after = Req("r1", T(3), FundingApproved{"p", 2});
  after.expected_version = 2;
  ExpectCode(Append(after).status(), Code::kConflict);
  after.expected_version = 3;
  ASSERT_TRUE(Append(after).ok());
  // In a batch, the batch's own earlier events count.
  std::vector<AppendRequest> batch = {Req("r2", T(0), Received()),
                                      Req("r2", T(1), AssessmentCompleted{})};
  batch[0].expected_version = 0;
  batch[1].expected_version = 1;
  ASSERT_TRUE(AppendAll(batch).ok());
  // A second referral.received is 409 before its expected_version is looked at.
  AppendRequest again = Req("r2", T(2), Received());
  again.expected_version = 0;
  ExpectCode(Append(again).status(), Code::kConflict, "already");
}

TEST_F(LedgerTest, ConcurrentWritersOfOneStreamGetOneWinnerPerVersion) {
  ASSERT_TRUE(Append(Req("r1", T(0), Received())).ok());
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      AppendRequest req = Req("r1", T(1), AssessmentCompleted{});
      req.expected_version = 1;
      auto r = Append(req);
      if (r.ok()) {
        ++wins;
      } else if (r.status().code() == Code::kConflict) {
        ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), 7);
  EXPECT_EQ(ledger_->Size(), 2u);
}

// Appends are checked and written while earlier ones are still being synced:
// a referral's next event, sent before its last was acknowledged, is checked
// against it, an idempotent retry sent before the first was acknowledged is
// answered with the first's seq, and no append is acknowledged before it is
// visible to readers.
TEST_F(LedgerTest, AppendsSentBeforeTheLastIsAcknowledgedFollowIt) {
  constexpr int kReferrals = 300;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::vector<std::string> problems;
  std::map<std::string, std::vector<AppendResult>> results;  // referral -> in answer order
  auto send = [&](AppendRequest req) {
    const std::string id = req.event.referral_id;
    ledger_->AppendAsync({std::move(req)}, Writer(), [&, id](Result<std::vector<AppendResult>> r) {
      const uint64_t visible = ledger_->Size();
      // What is acknowledged can be read, with the hash acknowledged.
      Result<Event> read = r.ok() ? ledger_->GetEvent(r->front().seq) : Result<Event>(Event{});
      std::lock_guard l(mu);
      if (!r.ok()) {
        problems.push_back(id + ": " + r.status().ToString());
      } else if (r->front().seq > visible) {
        problems.push_back(id + ": acknowledged seq " + std::to_string(r->front().seq) +
                           " while the ledger showed " + std::to_string(visible));
      } else if (!read.ok() || read->hash != r->front().hash) {
        problems.push_back(id + ": acknowledged seq " + std::to_string(r->front().seq) +
                           " could not be read back: " + read.status().ToString());
      } else {
        results[id].push_back(r->front());
      }
      ++answered;
      cv.notify_one();
    });
  };
  for (int i = 0; i < kReferrals; ++i) {
    const std::string id = "p" + std::to_string(i);
    send(Req(id, T(0), Received()));
    AppendRequest assessed = Req(id, T(1), AssessmentCompleted{});
    assessed.idempotency_key = "assess-" + id;
    send(assessed);
    send(assessed);  // a retry of the same request
    AppendRequest approved = Req(id, T(2), FundingApproved{"panel", 12});
    approved.expected_version = 2;
    send(approved);
  }
  std::unique_lock l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(60), [&] { return answered == 4 * kReferrals; }));
  ASSERT_TRUE(problems.empty()) << problems.front();
  for (const auto& [id, rs] : results) {
    ASSERT_EQ(rs.size(), 4u) << id;
    EXPECT_EQ(rs[0].version, 1u) << id;
    EXPECT_EQ(rs[1].version, 2u) << id;
    EXPECT_FALSE(rs[1].replayed) << id;
    EXPECT_TRUE(rs[2].replayed) << id;
    EXPECT_EQ(rs[2].seq, rs[1].seq) << id;
    EXPECT_EQ(rs[2].hash, rs[1].hash) << id;
    EXPECT_EQ(rs[3].version, 3u) << id;
    EXPECT_LT(rs[0].seq, rs[1].seq);
    EXPECT_LT(rs[1].seq, rs[3].seq);
  }
  l.unlock();
  EXPECT_EQ(ledger_->Size(), 3u * kReferrals);
  EXPECT_TRUE(ledger_->Verify().ok);
  const TreeHead head = ledger_->Head();
  Reopen();
  EXPECT_EQ(ledger_->Head().root, head.root);
  EXPECT_EQ(ledger_->Head().size, head.size);
}

TEST_F(LedgerTest, Idempotency) {
  AppendRequest req = Req("r1", T(0), Received());
  req.idempotency_key = "k1";
  req.expected_version = 0;
  auto first = Append(req);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->replayed);
  // The same body again: the first result, nothing appended, even though its
  // expected_version is now stale.
  auto again = Append(req);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->seq, first->seq);
  EXPECT_EQ(again->version, first->version);
  EXPECT_EQ(again->hash, first->hash);
  EXPECT_EQ(again->recorded_at, first->recorded_at);
  EXPECT_EQ(ledger_->Size(), 1u);
  // The key is the credential's: another stream, another body -> 422.
  AppendRequest other = Req("r2", T(0), Received());
  other.idempotency_key = "k1";
  ExpectCode(Append(other).status(), Code::kStateViolation, "idempotency_key");
  // A rejected request does not use up its key.
  AppendRequest rejected = Req("r3", T(0), AssessmentCompleted{});
  rejected.idempotency_key = "k2";
  ExpectCode(Append(rejected).status(), Code::kStateViolation);
  AppendRequest fine = Req("r3", T(0), Received());
  fine.idempotency_key = "k2";
  auto ok = Append(fine);
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->replayed);
  EXPECT_EQ(ok->seq, 2u);
  // Keys survive reopening.
  Reopen();
  auto replay = Append(fine);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->seq, 2u);
  EXPECT_EQ(ledger_->Size(), 2u);
  // The same key twice in one batch with different bodies is refused whole.
  std::vector<AppendRequest> batch = {Req("r4", T(0), Received()), Req("r5", T(0), Received())};
  batch[0].idempotency_key = batch[1].idempotency_key = "k3";
  auto b = AppendAll(batch);
  ExpectCode(b.status(), Code::kStateViolation, "events[1]");
  EXPECT_EQ(ledger_->Size(), 2u);
}

TEST_F(LedgerTest, IdempotencyKeysBelongToTheirActor) {
  AppendRequest a = Req("r1", T(0), Received());
  a.idempotency_key = "shared";
  AppendRequest b = Req("r2", T(0), Received());
  b.idempotency_key = "shared";
  auto first = Append(a, Writer("partnership:one"));
  auto second = Append(b, Writer("partnership:two"));
  ASSERT_TRUE(first.ok() && second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->replayed);
  EXPECT_EQ(second->seq, 2u);
  // Each replays its own; one's body is another body to the other.
  EXPECT_EQ(Append(b, Writer("partnership:two"))->seq, 2u);
  EXPECT_EQ(Append(a, Writer("partnership:one"))->seq, 1u);
  ExpectCode(Append(b, Writer("partnership:one")).status(), Code::kStateViolation,
             "idempotency_key");
  EXPECT_EQ(ledger_->Size(), 2u);
}

TEST_F(LedgerTest, UnscopedKeysOfAnOlderBuildMoveUnderTheirEventsActorAtOpen) {
  AppendRequest a = Req("r1", T(0), Received());
  a.idempotency_key = "old-key";
  ASSERT_TRUE(Append(a, Writer("partnership:one")).ok());
  ledger_.reset();
  // As an older build kept it: 'I' key, unscoped.
  testing::EditClosedLedger(dir_.path(), [](rocksdb::DB* db) {
    const std::string scoped =
        internal::keys::Idempotency(internal::keys::IdempotencyScope("partnership:one", "old-key"));
    std::string v;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), scoped, &v).ok());
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), scoped).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Iold-key", v).ok());
  });
  Reopen();
  auto replay = Append(a, Writer("partnership:one"));
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->seq, 1u);
  AppendRequest b = Req("r2", T(0), Received());
  b.idempotency_key = "old-key";
  EXPECT_FALSE(Append(b, Writer("partnership:two"))->replayed);
  ledger_.reset();
  testing::EditClosedLedger(dir_.path(), [](rocksdb::DB* db) {
    std::string v;
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "Iold-key", &v).IsNotFound());
  });
}

TEST_F(LedgerTest, AStreamTheWriterMayNotSeeIsCheckedAsUnknown) {
  Approved("r1");
  const uint64_t size = ledger_->Size();
  WriteContext hidden = Writer("partnership:elsewhere");
  hidden.authorize = [](const NewEvent&, const StreamInfo& s) {
    return s.exists ? Status::NotFound("not visible") : Status::Ok();
  };
  // The words of an unknown referral; 409 against version 0.
  ExpectCode(
      Append(Req("r1", T(3), PlacementOffered{"1-1731644238", "2025-03-01"}), hidden).status(),
      Code::kStateViolation, "placement.offered for unknown referral r1");
  AppendRequest versioned = Req("r1", T(3), PlacementOffered{"1-1731644238", "2025-03-01"});
  versioned.expected_version = 3;
  ExpectCode(Append(versioned, hidden).status(), Code::kConflict, "is at version 0");
  // A correction's fields are not checked against a target it may not see.
  RecordCorrected fix;
  fix.corrects_seq = 1;
  fix.reason = "wrong";
  fix.fields = {{"outcome", std::string("x")}};
  ExpectCode(Append(Req("r1", T(3), fix), hidden).status(), Code::kStateViolation,
             "unknown referral");
  ExpectCode(Append(Req("r1", T(3), fix)).status(), Code::kInvalidArgument);
  // A second receipt is a conflict whoever sends it.
  ExpectCode(Append(Req("r1", T(3), Received()), hidden).status(), Code::kConflict);
  EXPECT_EQ(ledger_->Size(), size);
}

TEST_F(LedgerTest, AScopeCheckSeesPlacementsAsCorrectedWhenItAsks) {
  Approved("r1");
  ASSERT_TRUE(Append(Req("r1", T(3), PlacementOffered{"1-1111111111", "2025-03-01"})).ok());
  const uint64_t offer = ledger_->Size();
  ASSERT_TRUE(Append(Req("r1", T(4), PlacementOffered{"1-2222222222", "2025-03-01"})).ok());
  RecordCorrected fix;
  fix.corrects_seq = offer;
  fix.reason = "another provider";
  fix.fields = {{"provider", std::string("1-3333333333")}};
  ASSERT_TRUE(Append(Req("r1", T(5), fix)).ok());
  std::vector<Placement> seen;
  WriteContext ctx = Writer("provider:p");
  ctx.with_placements = true;
  ctx.authorize = [&](const NewEvent&, const StreamInfo& s) {
    seen = s.placements;
    return Status::Ok();
  };
  ASSERT_TRUE(Append(Req("r1", T(6), PlacementStarted{"1-2222222222"}), ctx).ok());
  const std::vector<Placement> want = {{offer, EventType::kPlacementOffered, "1-3333333333"},
                                       {offer + 1, EventType::kPlacementOffered, "1-2222222222"}};
  EXPECT_EQ(seen, want);
  // DescribeStream tells the same, the start included.
  Result<StreamInfo> info = ledger_->DescribeStream("r1", true);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->area, "E08000002");
  EXPECT_EQ(info->state, ReferralState::kInPlacement);
  ASSERT_EQ(info->placements.size(), 3u);
  EXPECT_EQ(info->placements[2].type, EventType::kPlacementStarted);
  EXPECT_TRUE(ledger_->DescribeStream("r1", false)->placements.empty());
  EXPECT_EQ(ledger_->DescribeStream("nobody", true).status().code(), Code::kNotFound);
}

TEST_F(LedgerTest, BatchIsAllOrNothing) {
  ASSERT_TRUE(Append(Req("r0", T(0), Received())).ok());
  const TreeHead before = ledger_->Head();
  std::vector<AppendRequest> batch = {Req("r1", T(0), Received()),
                                      Req("r1", T(1), AssessmentCompleted{}),
                                      Req("r1", T(2), PlacementEnded{}),  // breaks the machine
                                      Req("r2", T(0), Received())};
  auto r = AppendAll(batch);
  ExpectCode(r.status(), Code::kStateViolation, "events[2]");
  EXPECT_EQ(ledger_->Head(), before);
  EXPECT_EQ(ledger_->ReadStream("r1").status().code(), Code::kNotFound);
  // Nothing of the failed batch leaks into the state the next one sees.
  batch[2] = Req("r1", T(2), FundingRequested{FundingRoute::kNhs, 6});
  auto ok = AppendAll(batch);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->size(), 4u);
  EXPECT_EQ((*ok)[0].seq, 2u);
  EXPECT_EQ((*ok)[3].seq, 5u);
  EXPECT_EQ((*ok)[2].version, 3u);
  EXPECT_EQ((*ok)[3].version, 1u);
}

TEST_F(LedgerTest, BatchFieldErrorsOfAnyEventWin) {
  std::vector<AppendRequest> batch = {Req("r1", T(0), AssessmentCompleted{}),  // 422 alone
                                      Req("r2", T(0), Received()),
                                      Req("r3", T(0), Received("nowhere"))};
  auto r = AppendAll(batch);
  ExpectCode(r.status(), Code::kInvalidArgument);
  ASSERT_EQ(r.status().field_errors().size(), 1u);
  const Status named = wire::NameEvents(r.status());
  EXPECT_EQ(named.field_errors()[0].field, "events[2].data.area");
  EXPECT_EQ(ledger_->Size(), 0u);
}

TEST_F(LedgerTest, Corrections) {
  Approved("r1");                                                    // seqs 1..3
  ASSERT_TRUE(Append(Req("r2", T(0), Received("E09000017"))).ok());  // seq 4
  auto correct = [&](std::string id, uint64_t seq, std::vector<CorrectedField> fields, Micros at) {
    return Append(Req(std::move(id), at, RecordCorrected{seq, "keyed wrongly", std::move(fields)}));
  };
  ExpectCode(correct("r1", 99, {{"sex", std::string("male")}}, T(3)).status(),
             Code::kStateViolation, "does not exist");
  ExpectCode(correct("r1", 4, {{"sex", std::string("male")}}, T(3)).status(), Code::kStateViolation,
             "another referral");
  // A field the target's type lacks, or a bad value: 400, named.
  auto r = correct("r1", 2, {{"weeks", int64_t{3}}}, T(3));
  ExpectCode(r.status(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().field_errors()[0].field, "data.fields.weeks");
  r = correct("r1", 3, {{"weeks", int64_t{300}}}, T(3));
  ExpectCode(r.status(), Code::kInvalidArgument);
  ASSERT_TRUE(correct("r1", 3, {{"weeks", int64_t{16}}}, T(3)).ok());  // seq 5
  ExpectCode(correct("r1", 5, {{"weeks", int64_t{3}}}, T(3)).status(), Code::kStateViolation,
             "itself a correction");
  // The state is unchanged by a correction.
  ASSERT_TRUE(Append(Req("r1", T(4), PlacementStarted{"1-123456789"})).ok());  // seq 6

  // An appeal's outcome decided a transition: it cannot be corrected; its
  // decided_by can.
  ASSERT_TRUE(Append(Req("r3", T(0), Received())).ok());  // 7
  ASSERT_TRUE(Append(Req("r3", T(1),
                         ReferralRefused{RefusalStage::kAssessment, RefusalReason::kNotReady, "a",
                                         std::nullopt}))
                  .ok());                                                                    // 8
  ASSERT_TRUE(Append(Req("r3", T(2), AppealLodged{"g"})).ok());                              // 9
  ASSERT_TRUE(Append(Req("r3", T(3), AppealDecided{AppealOutcome::kDismissed, "x"})).ok());  // 10
  ExpectCode(correct("r3", 10, {{"outcome", std::string("upheld")}}, T(4)).status(),
             Code::kStateViolation, "outcome");
  ASSERT_TRUE(correct("r3", 10, {{"decided_by", std::string("y")}}, T(4)).ok());
  // A correction's time obeys the stream's time order too.
  ExpectCode(correct("r3", 8, {{"reason", std::string("other")}}, T(1)).status(),
             Code::kStateViolation, "earlier");
  EXPECT_TRUE(ledger_->Verify().ok);
}

TEST_F(LedgerTest, AuthorizeSeesTheCorrectedAreaAndComesBefore409) {
  std::vector<std::string> seen;
  WriteContext ctx = Writer("partnership:north");
  ctx.authorize = [&](const NewEvent& ev, const StreamInfo& s) {
    seen.push_back(s.area + (s.exists ? "+" : "-") + s.provider);
    if (s.area != "E08000002" && s.area != "E08000034") return Status::Forbidden("area " + s.area);
    return Status::Ok();
  };
  ASSERT_TRUE(Append(Req("r1", T(0), Received("E08000002")), ctx).ok());
  ExpectCode(Append(Req("r2", T(0), Received("E09000017")), ctx).status(), Code::kForbidden);
  EXPECT_EQ(ledger_->Size(), 1u);
  // 403 comes before 409 (second referral.received for a stream it may not see).
  ASSERT_TRUE(Append(Req("r9", T(0), Received("E09000017"))).ok());
  ExpectCode(Append(Req("r9", T(1), Received("E08000002")), ctx).status(), Code::kForbidden);
  // Correct r1's area: it moves out of scope.
  ASSERT_TRUE(
      Append(Req("r1", T(1), RecordCorrected{1, "wrong LA", {{"area", std::string("E09000017")}}}),
             ctx)
          .ok());
  ExpectCode(Append(Req("r1", T(2), AssessmentCompleted{}), ctx).status(), Code::kForbidden);
  // The provider is tracked for placement writers.
  ASSERT_TRUE(Append(Req("r5", T(0), Received("E08000034")), ctx).ok());
  ASSERT_TRUE(Append(Req("r5", T(1), FundingApproved{"p", 2}), ctx).ok());
  ASSERT_TRUE(Append(Req("r5", T(2), PlacementOffered{"1-123456789", "2025-01-10"}), ctx).ok());
  ASSERT_TRUE(Append(Req("r5", T(3), PlacementStarted{"1-123456789"}), ctx).ok());
  EXPECT_EQ(seen.back(), "E08000034+1-123456789");
  EXPECT_EQ(seen.front(), "E08000002-");
}

// A group is written to RocksDB's memtable while its commit log record is
// synced; it is answered, and readers see it, only once both are done.
TEST(LedgerApply, AnAppendIsAnsweredOnlyOnceReadersCanReadIt) {
  testing::TempDir dir;
  LedgerOptions o;
  o.before_apply = [] { std::this_thread::sleep_for(std::chrono::milliseconds(30)); };
  auto opened = Ledger::Open(dir.path(), o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Ledger& ledger = **opened;
  for (int i = 0; i < 3; ++i) {
    const std::string id = "w" + std::to_string(i);
    auto r = ledger.Append(Req(id, T(0), Received()), Writer());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Result<Event> read = ledger.GetEvent(r->seq);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(read->hash, r->hash);
    auto stream = ledger.ReadStream(id);
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    EXPECT_EQ(stream->size(), 1u);
  }
  EXPECT_TRUE(ledger.Verify().ok);
}

TEST_F(LedgerTest, ReopenKeepsEverything) {
  Approved("r1");
  ASSERT_TRUE(Append(Req("r2", T(0), Received())).ok());
  const TreeHead head = ledger_->Head();
  const auto signed_head = ledger_->SignedHead(head.size);
  ASSERT_TRUE(signed_head.ok());
  const std::string key = ledger_->PublicKey();
  Reopen();
  EXPECT_EQ(ledger_->Size(), 4u);
  EXPECT_EQ(ledger_->Head(), head);
  EXPECT_EQ(ledger_->PublicKey(), key);
  // The stream heads persisted: the machine and conflicts still hold.
  ExpectCode(Append(Req("r1", T(5), Received())).status(), Code::kConflict);
  ExpectCode(Append(Req("r2", T(5), PlacementEnded{})).status(), Code::kStateViolation);
  auto next = Append(Req("r1", T(5), PlacementStarted{"1-123456789"}));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->seq, 5u);
  EXPECT_EQ(next->version, 4u);
  auto v = ledger_->Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.events_checked, 5u);
  EXPECT_EQ(v.signed_heads_checked, 1u);
}

// The writer knows a new referral's id is new without reading the database
// (stream_set.h); an id it has seen must still be found, whether its head
// was written in this session and has left the writer's cache (more
// referrals than the cache's slots) or was read from disk at open.
TEST_F(LedgerTest, EveryExistingReferralIsFoundAmongManyAndAfterReopen) {
  constexpr int kReferrals = 40000;
  for (int i = 0; i < kReferrals;) {
    std::vector<AppendRequest> batch;
    for (int k = 0; k < 1000; ++k, ++i)
      batch.push_back(Req("m" + std::to_string(i), T(0), Received()));
    ASSERT_TRUE(AppendAll(std::move(batch)).ok());
  }
  auto expect_all_conflict = [&](int step) {
    std::mutex mu;
    std::condition_variable cv;
    int answered = 0, sent = 0;
    std::vector<std::string> problems;
    for (int i = 0; i < kReferrals; i += step, ++sent) {
      const std::string id = "m" + std::to_string(i);
      ledger_->AppendAsync({Req(id, T(1), Received())}, Writer(),
                           [&, id](Result<std::vector<AppendResult>> r) {
                             std::lock_guard l(mu);
                             if (r.status().code() != Code::kConflict) {
                               problems.push_back(id + ": " + r.status().ToString());
                             }
                             ++answered;
                             cv.notify_one();
                           });
    }
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(60), [&] { return answered == sent; }));
    EXPECT_TRUE(problems.empty()) << problems.size() << " accepted or failed, first "
                                  << problems.front();
  };
  expect_all_conflict(1);
  Reopen();
  expect_all_conflict(7);
  EXPECT_EQ(ledger_->Size(), static_cast<uint64_t>(kReferrals));
  auto next = Append(Req("m39999", T(1), AssessmentCompleted{}));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->version, 2u);
}

TEST_F(LedgerTest, SignedHeadsVerifyWithThePublicKey) {
  Approved("r1");
  auto sth = ledger_->SignedHead(3);
  ASSERT_TRUE(sth.ok());
  EXPECT_EQ(sth->head, ledger_->Head());
  EXPECT_EQ(sth->head.timestamp, ledger_->GetEvent(3)->recorded_at);
  EXPECT_TRUE(VerifyTreeHead(*sth, ledger_->PublicKey()));
  EXPECT_EQ(PublicKeyFromPem(ledger_->PublicKeyPem()), ledger_->PublicKey());
  SignedTreeHead forged = *sth;
  forged.head.size = 2;
  EXPECT_FALSE(VerifyTreeHead(forged, ledger_->PublicKey()));
  forged = *sth;
  forged.head.root[0] ^= 1;
  EXPECT_FALSE(VerifyTreeHead(forged, ledger_->PublicKey()));
  forged = *sth;
  forged.signature[10] ^= 1;
  EXPECT_FALSE(VerifyTreeHead(forged, ledger_->PublicKey()));
  EXPECT_EQ(ledger_->SignedHead(4).status().code(), Code::kNotFound);
  auto empty = ledger_->SignedHead(0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->head.root, EmptyTreeRoot());
}

// MTH of RFC 6962 §2.1, straight from the definition, over a list of leaves.
Hash ReferenceRoot(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  size_t n = end - begin;
  if (n == 0) return Sha256(std::string_view());
  if (n == 1) return Sha256({std::string_view("\0", 1), leaves[begin]});
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  Hash l = ReferenceRoot(leaves, begin, begin + k), r = ReferenceRoot(leaves, begin + k, end);
  return Sha256({std::string_view("\1", 1), AsBytes(l), AsBytes(r)});
}

TEST_F(LedgerTest, MerkleRootsAndProofsOverStoredEvents) {
  for (int i = 0; i < 6; ++i) Approved("r" + std::to_string(i));  // 18 events
  ASSERT_TRUE(Append(Req("r0", T(3), PlacementStarted{"1-123456789"})).ok());
  const uint64_t n = ledger_->Size();
  ASSERT_EQ(n, 19u);
  std::vector<std::string> leaves;
  for (uint64_t seq = 1; seq <= n; ++seq) leaves.push_back(*ledger_->GetCanonicalBytes(seq));
  for (uint64_t size = 0; size <= n; ++size) {
    auto head = ledger_->HeadAt(size);
    ASSERT_TRUE(head.ok());
    EXPECT_EQ(head->root, ReferenceRoot(leaves, 0, size)) << size;
    for (uint64_t seq = 1; seq <= size; ++seq) {
      auto proof = ledger_->InclusionProof(seq, size);
      ASSERT_TRUE(proof.ok());
      EXPECT_TRUE(VerifyInclusion(seq - 1, size, LeafHash(leaves[seq - 1]), *proof, head->root))
          << seq << "/" << size;
      // A proof for one event does not prove another.
      if (size > 1) {
        uint64_t other = seq % size;  // another 0-based index
        EXPECT_FALSE(VerifyInclusion(other, size, LeafHash(leaves[seq - 1]), *proof, head->root));
      }
    }
    for (uint64_t from = 1; from <= size; ++from) {
      auto proof = ledger_->ConsistencyProof(from, size);
      ASSERT_TRUE(proof.ok());
      auto old_head = ledger_->HeadAt(from);
      EXPECT_TRUE(VerifyConsistency(from, size, old_head->root, head->root, *proof))
          << from << "->" << size;
    }
  }
  EXPECT_EQ(ledger_->InclusionProof(20, 19).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ledger_->InclusionProof(1, 20).status().code(), Code::kNotFound);
  EXPECT_EQ(ledger_->ConsistencyProof(5, 4).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ledger_->ConsistencyProof(0, 4).status().code(), Code::kInvalidArgument);
}

TEST_F(LedgerTest, SeqAtTimeFindsTheLastEventRecordedByThen) {
  const Micros t0 = clock_.load();
  ASSERT_TRUE(Append(Req("r1", T(0), Received())).ok());  // recorded t0
  clock_ = t0 + 10;
  ASSERT_TRUE(Append(Req("r2", T(0), Received())).ok());  // t0+10
  ASSERT_TRUE(Append(Req("r3", T(0), Received())).ok());  // t0+10
  clock_ = t0 + 20;
  ASSERT_TRUE(Append(Req("r4", T(0), Received())).ok());  // t0+20
  EXPECT_EQ(*ledger_->SeqAtTime(t0 - 1), 0u);
  EXPECT_EQ(*ledger_->SeqAtTime(t0), 1u);
  EXPECT_EQ(*ledger_->SeqAtTime(t0 + 9), 1u);
  EXPECT_EQ(*ledger_->SeqAtTime(t0 + 10), 3u);
  EXPECT_EQ(*ledger_->SeqAtTime(t0 + 1000), 4u);
}

TEST_F(LedgerTest, VerifyWhileAppendingSeesAConsistentLedger) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 300 && !stop; ++i) {
      std::vector<AppendRequest> batch = {
          Req("w" + std::to_string(i), T(0), Received()),
          Req("w" + std::to_string(i), T(1), AssessmentCompleted{})};
      if (!AppendAll(batch).ok()) break;
    }
  });
  int runs = 0;
  while (ledger_->Size() < 600 && runs < 10000) {
    VerifyReport v = ledger_->Verify();
    ASSERT_TRUE(v.ok) << v.problem << " at " << v.first_bad_seq;
    ++runs;
  }
  stop = true;
  writer.join();
  EXPECT_GT(runs, 1);
  EXPECT_EQ(ledger_->Verify().events_checked, ledger_->Size());
}

TEST_F(LedgerTest, SubscribersHearEveryDurableSize) {
  std::vector<uint64_t> sizes;
  std::mutex mu;
  ledger_->Subscribe([&](uint64_t size) {
    std::lock_guard l(mu);
    sizes.push_back(size);
  });
  Approved("r1");
  std::lock_guard l(mu);
  EXPECT_EQ(sizes, (std::vector<uint64_t>{1, 2, 3}));
}

// --- recorded history: events brought in with their own recording ---

RecordedRequest Recorded(AppendRequest req, Micros recorded_at, std::string actor) {
  RecordedRequest r;
  r.request = std::move(req);
  r.recorded_at = recorded_at;
  r.actor = std::move(actor);
  return r;
}

TEST_F(LedgerTest, RecordedEventsKeepTheirRecordedAtAndActor) {
  std::vector<RecordedRequest> history = {
      Recorded(Req("r1", T(0), Received()), T(0, 3600), "partnership:E08000002"),
      Recorded(Req("r1", T(1), AssessmentCompleted{}), T(3), "partnership:E08000002"),
      Recorded(Req("r1", T(2), FundingApproved{"panel", 12}), T(3), "partnership:panel-2"),
  };
  auto r = ledger_->AppendRecorded(history);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  auto e = ledger_->GetEvent(2);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->recorded_at, T(3));
  EXPECT_EQ(e->actor, "partnership:E08000002");
  EXPECT_EQ(ledger_->GetEvent(1)->recorded_at, T(0, 3600));
  EXPECT_EQ(ledger_->GetEvent(3)->actor, "partnership:panel-2");
  EXPECT_EQ(*ledger_->SeqAtTime(T(2)), 1u);
  // A normal append afterwards is stamped by the clock, after them.
  ASSERT_TRUE(Append(Req("r1", T(4), PlacementOffered{"1-123456789", "2025-02-01"})).ok());
  EXPECT_EQ(ledger_->GetEvent(4)->recorded_at, clock_.load());
  EXPECT_TRUE(ledger_->Verify().ok);
}

TEST_F(LedgerTest, RecordedTimesMayNotRunBackwardsOrAhead) {
  // Backwards within the call, later than the clock, and an event that
  // occurred more than 5 minutes after it was recorded: each field named.
  std::vector<RecordedRequest> bad = {
      Recorded(Req("r1", T(0), Received()), T(5), "partnership:a"),
      Recorded(Req("r1", T(1), AssessmentCompleted{}), T(4), "partnership:a"),
      Recorded(Req("r1", T(9), AssessmentCompleted{}), T(8), "partnership:a"),
      Recorded(Req("r1", T(10), AssessmentCompleted{}), clock_.load() + 1, "nobody"),
  };
  auto r = ledger_->AppendRecorded(bad);
  ASSERT_FALSE(r.ok());
  ExpectCode(r.status(), Code::kInvalidArgument);
  std::set<std::string> fields;
  const Status named = wire::NameEvents(r.status());
  for (const FieldError& f : named.field_errors()) fields.insert(f.field);
  EXPECT_EQ(fields, (std::set<std::string>{"events[1].recorded_at", "events[2].occurred_at",
                                           "events[3].recorded_at", "events[3].actor"}));
  EXPECT_EQ(ledger_->Size(), 0u);
  // Earlier than what the ledger already holds.
  ASSERT_TRUE(Append(Req("r2", T(0), Received())).ok());
  auto late = ledger_->AppendRecorded(
      std::vector<RecordedRequest>{Recorded(Req("r3", T(0), Received()), T(1), "partnership:a")});
  ExpectCode(late.status(), Code::kInvalidArgument, "last recorded_at");
  EXPECT_EQ(ledger_->Size(), 1u);
}

TEST_F(LedgerTest, RecordedEventsFollowTheStateMachine) {
  auto r = ledger_->AppendRecorded(std::vector<RecordedRequest>{
      Recorded(Req("r1", T(0), Received()), T(0), "partnership:a"),
      Recorded(Req("r1", T(1), PlacementStarted{"1-123456789"}), T(1), "partnership:a")});
  ExpectCode(r.status(), Code::kStateViolation, "events[1]");
  EXPECT_EQ(ledger_->Size(), 0u);
}

TEST_F(LedgerTest, ARestoreGivesTheSameHashesOrAppendsNothing) {
  for (int i = 0; i < 5; ++i) Approved("r" + std::to_string(i));
  // The history as an export gives it: every event with its recording.
  std::vector<RecordedRequest> history;
  for (uint64_t seq = 1; seq <= ledger_->Size(); ++seq) {
    Event e = *ledger_->GetEvent(seq);
    RecordedRequest r = Recorded(Req(e.referral_id, e.occurred_at, e.data), e.recorded_at, e.actor);
    r.seq = e.seq;
    r.hash = e.hash;
    history.push_back(std::move(r));
  }
  const TreeHead original = ledger_->Head();

  TempDir other;
  LedgerOptions o;
  o.clock = [this] { return clock_.load(); };
  auto copy = std::move(Ledger::Open(other.path(), o)).value();
  // An altered event: the chain hash it should have no longer matches.
  std::vector<RecordedRequest> altered = history;
  std::get<FundingApproved>(altered[8].request.event.data).weeks = 13;
  auto bad = copy->AppendRecorded(altered);
  ExpectCode(bad.status(), Code::kCorruption, "seq 9");
  EXPECT_EQ(copy->Size(), 0u);
  // Landing at the wrong seq.
  auto shifted = copy->AppendRecorded(std::span(history).subspan(3, 3));
  ExpectCode(shifted.status(), Code::kCorruption, "not 4");
  EXPECT_EQ(copy->Size(), 0u);
  // The genuine history, in two calls: same hashes, same root.
  ASSERT_TRUE(copy->AppendRecorded(std::span(history).first(7)).ok());
  auto rest = copy->AppendRecorded(std::span(history).subspan(7));
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(copy->Head().root, original.root);
  EXPECT_EQ(copy->Head().size, original.size);
  EXPECT_EQ(copy->GetEvent(15)->hash, ledger_->GetEvent(15)->hash);
  EXPECT_TRUE(copy->Verify().ok);
}

// --- tampering: edit RocksDB directly, behind the ledger's back ---

class TamperTest : public LedgerTest {
 protected:
  // Closes the ledger, applies `edit` to the raw database, reopens.
  void Tamper(const std::function<void(rocksdb::DB*)>& edit) {
    ledger_.reset();
    testing::EditClosedLedger(dir_.path(), edit);
    Reopen();
  }
  void FlipByte(const std::string& key, size_t offset) {
    Tamper([&](rocksdb::DB* db) {
      std::string v;
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key, &v).ok());
      ASSERT_LT(offset, v.size());
      v[offset] = static_cast<char>(v[offset] ^ 0x01);
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, v).ok());
    });
  }
  void Fill() {
    for (int i = 0; i < 12; ++i) Approved("r" + std::to_string(i));  // 36 events
    ASSERT_TRUE(ledger_->Verify().ok);
  }
};

TEST_F(TamperTest, OneByteOfOneEventIsNamedBySeq) {
  Fill();
  // Every byte position of event 7's canonical bytes, one at a time.
  std::string stored;
  {
    auto bytes = ledger_->GetCanonicalBytes(7);
    ASSERT_TRUE(bytes.ok());
    stored = *bytes;
  }
  for (size_t offset :
       {size_t{32}, size_t{32} + stored.size() / 2, size_t{32} + stored.size() - 1}) {
    FlipByte(internal::keys::Event(7), offset);
    VerifyReport v = ledger_->Verify();
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.first_bad_seq, 7u) << offset << ": " << v.problem;
    EXPECT_EQ(v.events_checked, 6u);
    FlipByte(internal::keys::Event(7), offset);  // restore
    EXPECT_TRUE(ledger_->Verify().ok);
  }
}

TEST_F(TamperTest, ChainHashMerkleNodeAndSignedHead) {
  Fill();
  ASSERT_TRUE(ledger_->SignedHead(8).ok());
  FlipByte(internal::keys::Event(3), 0);  // the stored chain link
  EXPECT_EQ(ledger_->Verify().first_bad_seq, 3u);
  FlipByte(internal::keys::Event(3), 0);
  FlipByte(internal::keys::MerkleNode(4, 1), 5);  // completed by leaf 32
  VerifyReport v = ledger_->Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 32u) << v.problem;
  FlipByte(internal::keys::MerkleNode(4, 1), 5);
  EXPECT_TRUE(ledger_->Verify().ok);
  FlipByte(internal::keys::SignedHead(8), 70);  // inside the signature
  v = ledger_->Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.problem.find("signature"), std::string::npos) << v.problem;
}

TEST_F(TamperTest, ReplacedEventWithAValidEncodingIsCaughtByTheChain) {
  Fill();
  // Re-encode event 4 with another value, keeping its stored chain hash.
  auto e = ledger_->GetEvent(4);
  ASSERT_TRUE(e.ok());
  Tamper([&](rocksdb::DB* db) {
    std::string v;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), internal::keys::Event(4), &v).ok());
    // Find the area text inside the canonical bytes and change one digit.
    size_t at = v.find("E08000002");
    if (at == std::string::npos) at = v.find("panel");
    ASSERT_NE(at, std::string::npos);
    v[at + 4] = v[at + 4] == '0' ? '1' : '0';
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), internal::keys::Event(4), v).ok());
  });
  VerifyReport v = ledger_->Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4u);
}

TEST_F(TamperTest, DeletedEventIsNamed) {
  Fill();
  Tamper([&](rocksdb::DB* db) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), internal::keys::Event(9)).ok());
  });
  VerifyReport v = ledger_->Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 9u);
}

TEST_F(TamperTest, ScanBriefsRefusesAMovedShortOrMissingEvent) {
  Fill();
  auto count = [&] {
    uint64_t n = 0;
    Status st = ledger_->ScanBriefs(0, 36, [&](const EventBrief&) {
      ++n;
      return Status::Ok();
    });
    return std::make_pair(st, n);
  };
  ASSERT_EQ(count().second, 36u);
  std::string five;
  Tamper([&](rocksdb::DB* db) {
    // Event 5's bytes stored as event 6: it says it is seq 5.
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), internal::keys::Event(5), &five).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), internal::keys::Event(6), five).ok());
  });
  auto [st, n] = count();
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("event 6 holds seq 5"), std::string::npos) << st.message();
  EXPECT_EQ(n, 5u);
  Tamper([&](rocksdb::DB* db) {
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), internal::keys::Event(6), five.substr(0, 31)).ok());
  });
  EXPECT_EQ(count().first.code(), Code::kCorruption);
  Tamper([&](rocksdb::DB* db) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), internal::keys::Event(6)).ok());
  });
  std::tie(st, n) = count();
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("event 6 is missing"), std::string::npos) << st.message();
  EXPECT_EQ(n, 5u);
}

}  // namespace
}  // namespace ledger
