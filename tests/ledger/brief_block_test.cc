// Brief blocks (ledger/src/brief_block.h): ScanBriefs gives from them what
// the events give, over any range; Open writes the blocks a ledger lacks;
// Verify names the event whose brief copy was altered; damaged blocks are
// kCorruption, never a crash.
#include "brief_block.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <functional>

#include "codec.h"
#include "key_layout.h"
#include "ledger/ledger.h"
#include "raw_db.h"
#include "test_util.h"

namespace ledger {
namespace {

using internal::kBriefBlockEvents;
using testing::Received;
using testing::Req;
using testing::T;

class BriefBlockTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    ledger_.reset();
    auto l = Ledger::Open(dir_.path(), testing::TestOptions());
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(l).value();
  }

  // Referrals first..last-1, three or four events each, every type of event
  // the views read a key or an enumeration from among them; a correction for
  // every fourth. Each referral is one append.
  void AppendReferrals(int first, int last) {
    for (int i = first; i < last; ++i) {
      const std::string id = "r" + std::to_string(i);
      const std::string area = "E0800000" + std::to_string(i % 10);
      std::vector<AppendRequest> reqs = {Req(id, T(i % 300), Received(area)),
                                         Req(id, T(i % 300 + 1), AssessmentCompleted{})};
      switch (i % 4) {
        case 0:
          reqs.push_back(Req(id, T(i % 300 + 2), FundingRequested{FundingRoute::kNhs, 12}));
          reqs.push_back(
              Req(id, T(i % 300 + 3), FundingApproved{"panel-" + std::to_string(i % 7), 12}));
          break;
        case 1:
          reqs.push_back(
              Req(id, T(i % 300 + 2),
                  ReferralRefused{RefusalStage::kFundingPanel, static_cast<RefusalReason>(i % 5),
                                  "panel-" + std::to_string(i % 3), std::nullopt}));
          break;
        case 2:
          reqs.push_back(
              Req(id, T(i % 300 + 2), ReferralWithdrawn{WithdrawnBy::kPerson, std::nullopt}));
          break;
        default:
          break;
      }
      auto r = ledger_->Append(reqs, testing::Writer());
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (i % 4 == 3) {
        RecordCorrected c{r->front().seq, "typo", {{"area", std::string("E09000001")}}};
        ASSERT_TRUE(ledger_->Append(Req(id, T(i % 300 + 2), c), testing::Writer()).ok());
      }
    }
  }

  // The briefs ScanBriefs gives for (after, upto], and those of the events.
  void ExpectBriefsOfEvents(uint64_t after, uint64_t upto) {
    SCOPED_TRACE("(" + std::to_string(after) + ", " + std::to_string(upto) + "]");
    std::vector<Event> events;
    ASSERT_TRUE(ledger_
                    ->ScanEvents(after, upto,
                                 [&](const Event& e) {
                                   events.push_back(e);
                                   return Status::Ok();
                                 })
                    .ok());
    size_t i = 0;
    Status st = ledger_->ScanBriefs(after, upto, [&](const EventBrief& b) {
      if (i >= events.size()) return Status::Internal("more briefs than events");
      testing::ExpectSameBrief(b, BriefOf(events[i++]));
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(i, events.size());
  }

  // Closes the ledger, applies `edit` to the raw database, reopens.
  void Tamper(const std::function<void(rocksdb::DB*)>& edit) {
    ledger_.reset();
    testing::EditClosedLedger(dir_.path(), edit);
    Reopen();
  }

  // The brief blocks in the raw database: block number -> value.
  std::map<uint64_t, std::string> Blocks() {
    std::map<uint64_t, std::string> out;
    Tamper([&](rocksdb::DB* db) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
      for (it->Seek(std::string(1, internal::keys::kBriefBlock));
           it->Valid() && it->key()[0] == internal::keys::kBriefBlock; it->Next()) {
        out[internal::keys::GetU64(it->key().ToStringView().substr(1))] = it->value().ToString();
      }
    });
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(BriefBlockTest, ScanBriefsGivesWhatTheEventsGiveOverAnyRange) {
  // A reopen part way through a block: the records before it are read back.
  AppendReferrals(0, 400);
  const uint64_t before = ledger_->Size();
  ASSERT_GT(before % kBriefBlockEvents, 0u);
  Reopen();
  AppendReferrals(400, 800);
  const uint64_t n = ledger_->Size();
  ASSERT_GT(n, 2 * kBriefBlockEvents + 100);
  // Written: one block per 1,024 events, each holding exactly the events'
  // records (Verify recomputes them).
  EXPECT_EQ(Blocks().size(), n / kBriefBlockEvents);
  VerifyReport v = ledger_->Verify();
  EXPECT_TRUE(v.ok) << v.first_bad_seq << ": " << v.problem;
  const uint64_t k = kBriefBlockEvents;
  for (auto [after, upto] : std::vector<std::pair<uint64_t, uint64_t>>{{0, n},
                                                                       {0, k},
                                                                       {k - 1, k + 1},
                                                                       {5, 17},
                                                                       {k, 2 * k},
                                                                       {k + 3, 2 * k - 3},
                                                                       {2 * k - 1, n},
                                                                       {2 * k, n},
                                                                       {n - 1, n},
                                                                       {before - 2, before + 2}}) {
    ExpectBriefsOfEvents(after, upto);
  }
}

TEST_F(BriefBlockTest, AGroupOfManyEventsWritesEachBlockItCompletes) {
  std::vector<AppendRequest> reqs;
  for (int i = 0; i < 2000; ++i) {
    reqs.push_back(
        Req("g" + std::to_string(i), T(0), Received("E0800000" + std::to_string(i % 10))));
  }
  ASSERT_TRUE(ledger_->Append(std::span(reqs).subspan(0, 700), testing::Writer()).ok());
  ASSERT_TRUE(ledger_->Append(std::span(reqs).subspan(700), testing::Writer()).ok());
  reqs.clear();
  for (int i = 0; i < 2000; ++i) {
    reqs.push_back(Req("g" + std::to_string(i), T(1), AssessmentCompleted{}));
  }
  // Seqs 2001 to 4000, one group: it completes blocks 1 and 2.
  ASSERT_TRUE(ledger_->Append(reqs, testing::Writer()).ok());
  ASSERT_EQ(ledger_->Size(), 4000u);
  EXPECT_EQ(Blocks().size(), 3u);
  EXPECT_TRUE(ledger_->Verify().ok);
  ExpectBriefsOfEvents(0, 4000);
}

TEST_F(BriefBlockTest, OpenWritesTheBlocksALedgerLacksOrHoldsInAnotherFormat) {
  AppendReferrals(0, 800);
  const std::map<uint64_t, std::string> written = Blocks();
  ASSERT_GE(written.size(), 2u);
  // As a ledger of an older build: no blocks; then one of another format.
  Tamper([&](rocksdb::DB* db) {
    for (const auto& [b, v] : written) {
      ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), internal::keys::BriefBlock(b)).ok());
    }
  });
  EXPECT_EQ(Blocks(), written);
  Tamper([&](rocksdb::DB* db) {
    std::string stale = written.rbegin()->second;
    stale[0] = static_cast<char>(internal::kBriefBlockFormat + 1);
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), internal::keys::BriefBlock(written.rbegin()->first), stale)
            .ok());
  });
  EXPECT_EQ(Blocks(), written);
  EXPECT_TRUE(ledger_->Verify().ok);
  ExpectBriefsOfEvents(0, ledger_->Size());
}

TEST_F(BriefBlockTest, VerifyNamesTheEventWhoseBriefCopyWasAltered) {
  AppendReferrals(0, 800);
  const std::map<uint64_t, std::string> written = Blocks();
  // The referral id of a referral.received in block 1, in its record there
  // (between the lengths of the id and of its area).
  uint64_t seq = kBriefBlockEvents + 300;
  Result<Event> e = ledger_->GetEvent(seq);
  for (; e.ok() && e->type() != EventType::kReferralReceived; e = ledger_->GetEvent(++seq)) {
  }
  ASSERT_TRUE(e.ok());
  ASSERT_LE(seq, 2 * kBriefBlockEvents);
  const std::string& block = written.at(1);
  const std::string area(BriefOf(*e).key);
  const size_t at =
      block.find(std::string(1, static_cast<char>(e->referral_id.size())) + e->referral_id +
                 std::string(1, static_cast<char>(area.size())) + area);
  ASSERT_NE(at, std::string::npos) << e->referral_id;
  std::string altered = block;
  altered[at + 1] = static_cast<char>(altered[at + 1] ^ 0x01);
  Tamper([&](rocksdb::DB* db) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), internal::keys::BriefBlock(1), altered).ok());
  });
  VerifyReport v = ledger_->Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, seq) << v.problem;
  EXPECT_NE(v.problem.find("brief"), std::string::npos) << v.problem;

  Tamper([&](rocksdb::DB* db) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), internal::keys::BriefBlock(0)).ok());
    // Left as it was, since Open writes a missing last block only.
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), internal::keys::BriefBlock(1), block).ok());
  });
  v = ledger_->Verify();
  EXPECT_EQ(v.first_bad_seq, 1u) << v.problem;
  EXPECT_NE(v.problem.find("missing"), std::string::npos) << v.problem;
  // ScanBriefs reads the events of a missing block.
  ExpectBriefsOfEvents(0, ledger_->Size());

  Tamper([&](rocksdb::DB* db) {
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), internal::keys::BriefBlock(0), written.at(0)).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), internal::keys::BriefBlock(99), block).ok());
  });
  v = ledger_->Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.problem.find("follows"), std::string::npos) << v.problem;
}

TEST_F(BriefBlockTest, ADamagedBlockIsCorruptionNamingTheEvent) {
  AppendReferrals(0, 400);
  ASSERT_GT(ledger_->Size(), kBriefBlockEvents);
  const std::string block = Blocks().at(0);
  for (size_t cut : {block.size() / 2, block.size() - 1}) {
    Tamper([&](rocksdb::DB* db) {
      ASSERT_TRUE(
          db->Put(rocksdb::WriteOptions(), internal::keys::BriefBlock(0), block.substr(0, cut))
              .ok());
    });
    uint64_t delivered = 0;
    Status st = ledger_->ScanBriefs(0, ledger_->Size(), [&](const EventBrief&) {
      ++delivered;
      return Status::Ok();
    });
    EXPECT_EQ(st.code(), Code::kCorruption);
    EXPECT_NE(st.message().find("the brief of event " + std::to_string(delivered + 1)),
              std::string::npos)
        << st.message();
    EXPECT_LT(delivered, kBriefBlockEvents);
  }
  Tamper([&](rocksdb::DB* db) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), internal::keys::BriefBlock(0), block + "x").ok());
  });
  EXPECT_EQ(ledger_->ScanBriefs(0, ledger_->Size(), [](const EventBrief&) { return Status::Ok(); })
                .code(),
            Code::kCorruption);
}

// Records alone: every byte of every record flipped, and every cut, is a
// record read as written or kCorruption, never a crash.
TEST(BriefRecord, DamageIsCorruptionOrAValidRecordNeverACrash) {
  std::vector<EventData> all = {
      Received("E10000012"),
      AssessmentCompleted{AssessmentOutcome::kNotSuitable, std::nullopt},
      FundingRequested{FundingRoute::kCriminalJustice, 104},
      ReferralRefused{RefusalStage::kProvider, RefusalReason::kOther, "d", std::nullopt},
      AppealDecided{AppealOutcome::kDismissed, "x"},
      PlacementStarted{"1-123456789"},
      PlacementEnded{PlacementOutcome::kTransferred},
      ReferralWithdrawn{WithdrawnBy::kReferrer, std::nullopt},
      RecordCorrected{7, "why", {{"area", std::string("E06000001")}}}};
  uint64_t seq = 40;
  for (const EventData& d : all) {
    Event e;
    e.seq = ++seq;
    e.version = 2;
    e.referral_id = "r-" + std::to_string(seq);
    e.occurred_at = T(3);
    e.recorded_at = T(4);
    e.data = d;
    const std::string bytes = internal::EncodeEvent(e);
    std::string record;
    internal::AppendBriefRecord(BriefOf(e), bytes, &record);
    SCOPED_TRACE(std::string(ToString(e.type())));
    EventBrief b;
    std::string_view in = record;
    ASSERT_TRUE(internal::ReadBriefRecord(&in, seq, &b).ok());
    EXPECT_TRUE(in.empty());
    testing::ExpectSameBrief(b, BriefOf(e));
    // A correction's record read as another event's.
    if (e.type() == EventType::kRecordCorrected) {
      in = record;
      EXPECT_EQ(internal::ReadBriefRecord(&in, seq + 1, &b).code(), Code::kCorruption);
    }
    for (size_t cut = 0; cut < record.size(); ++cut) {
      in = std::string_view(record).substr(0, cut);
      EXPECT_EQ(internal::ReadBriefRecord(&in, seq, &b).code(), Code::kCorruption) << cut;
    }
    for (size_t i = 0; i < record.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string damaged = record;
        damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
        in = damaged;
        Status st = internal::ReadBriefRecord(&in, seq, &b);  // must not crash
        if (!st.ok()) {
          EXPECT_EQ(st.code(), Code::kCorruption);
        }
      }
    }
    // The type byte and each enumeration byte beyond what this build knows.
    std::string unknown = record;
    unknown[0] = static_cast<char>(EnumCount<EventType>());
    in = unknown;
    EXPECT_EQ(internal::ReadBriefRecord(&in, seq, &b).code(), Code::kCorruption);
    for (size_t slot = 0; slot < 6; ++slot) {
      unknown = record;
      unknown[1 + slot] = static_cast<char>(0xff);
      in = unknown;
      EXPECT_EQ(internal::ReadBriefRecord(&in, seq, &b).code(), Code::kCorruption) << slot;
    }
  }
}

}  // namespace
}  // namespace ledger
