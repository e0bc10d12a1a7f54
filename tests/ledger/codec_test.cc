// The stored encoding: every type round-trips, the C++ enums match the
// schema's enumerants in order, and damaged bytes are kCorruption, never a crash.
#include "codec.h"

#include <capnp/schema.h>
#include <gtest/gtest.h>

#include <set>

#include "event.capnp.h"
#include "ledger/event_fields.h"
#include "ledger/hash.h"
#include "ledger/varint.h"
#include "test_util.h"

namespace ledger::internal {
namespace {

// "alcohol_and_non_opiate" -> "alcoholAndNonOpiate"; "referral.received" ->
// "referralReceived". Age bands, which start with digits, are named
// "age18to24" ... "age65plus" in the schema.
std::string CamelCase(std::string_view wire) {
  if (!wire.empty() && wire[0] >= '0' && wire[0] <= '9') {
    std::string s = "age" + std::string(wire.substr(0, 2));
    return s + (wire.size() == 3 ? "plus" : "to" + std::string(wire.substr(3)));
  }
  std::string out;
  bool upper = false;
  for (char c : wire) {
    if (c == '_' || c == '.') {
      upper = true;
    } else {
      out += upper ? static_cast<char>(std::toupper(c)) : c;
      upper = false;
    }
  }
  return out;
}

template <typename E, typename CapnpEnum>
void ExpectSameEnumerants() {
  auto enumerants = capnp::Schema::from<CapnpEnum>().getEnumerants();
  ASSERT_EQ(enumerants.size(), EnumCount<E>());
  for (size_t i = 0; i < EnumCount<E>(); ++i) {
    EXPECT_EQ(std::string(enumerants[static_cast<unsigned>(i)].getProto().getName().cStr()),
              CamelCase(EnumTraits<E>::kNames[i]));
  }
}

TEST(Codec, EnumsMatchTheSchemaInOrder) {
  ExpectSameEnumerants<Referrer, schema::Referrer>();
  ExpectSameEnumerants<Substance, schema::Substance>();
  ExpectSameEnumerants<AgeBand, schema::AgeBand>();
  ExpectSameEnumerants<Sex, schema::Sex>();
  ExpectSameEnumerants<Ethnicity, schema::Ethnicity>();
  ExpectSameEnumerants<Disability, schema::Disability>();
  ExpectSameEnumerants<AssessmentOutcome, schema::AssessmentOutcome>();
  ExpectSameEnumerants<FundingRoute, schema::FundingRoute>();
  ExpectSameEnumerants<RefusalStage, schema::RefusalStage>();
  ExpectSameEnumerants<RefusalReason, schema::RefusalReason>();
  ExpectSameEnumerants<AppealOutcome, schema::AppealOutcome>();
  ExpectSameEnumerants<PlacementOutcome, schema::PlacementOutcome>();
  ExpectSameEnumerants<WithdrawnBy, schema::WithdrawnBy>();
  // The union's members are in EventType order.
  auto fields = capnp::Schema::from<schema::Event::Data>().getUnionFields();
  ASSERT_EQ(fields.size(), EnumCount<EventType>());
  for (size_t i = 0; i < fields.size(); ++i) {
    EXPECT_EQ(std::string(fields[static_cast<unsigned>(i)].getProto().getName().cStr()),
              CamelCase(EnumTraits<EventType>::kNames[i]));
  }
}

std::vector<EventData> OneOfEach() {
  return {testing::Received("E10000012"),
          AssessmentCompleted{AssessmentOutcome::kNotSuitable, std::string("note é")},
          AssessmentCompleted{AssessmentOutcome::kSuitable, std::nullopt},
          AssessmentCompleted{AssessmentOutcome::kSuitable, std::string()},
          FundingRequested{FundingRoute::kCriminalJustice, 104},
          FundingApproved{"panel-1", 1},
          ReferralRefused{RefusalStage::kProvider, RefusalReason::kOther, "d", std::nullopt},
          ReferralRefused{RefusalStage::kAssessment, RefusalReason::kOutOfArea, "d", "n"},
          AppealLodged{"grounds"},
          AppealDecided{AppealOutcome::kDismissed, "x"},
          PlacementOffered{"1-1234567890", "2026-01-31"},
          PlacementStarted{"1-123456789"},
          PlacementEnded{PlacementOutcome::kTransferred},
          ReferralWithdrawn{WithdrawnBy::kReferrer, std::nullopt},
          RecordCorrected{7, "why", {{"weeks", int64_t{9}}, {"area", std::string("E06000001")}}}};
}

TEST(Codec, EveryTypeRoundTrips) {
  uint64_t seq = 0;
  for (const EventData& d : OneOfEach()) {
    Event e;
    e.seq = ++seq;
    e.version = seq + 3;
    e.referral_id = "r-" + std::to_string(seq);
    e.occurred_at = testing::T(static_cast<int64_t>(seq));
    e.recorded_at = testing::T(400, static_cast<int64_t>(seq));
    e.actor = "partnership:manchester";
    e.idempotency_key = seq % 2 ? "key" : "";
    e.data = d;
    std::string bytes = EncodeEvent(e);
    EXPECT_EQ(bytes.size() % 8, 0u);
    auto back = DecodeEvent(bytes);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, e) << ToString(e.type());
    // Encoding is a function of the event: the same event, the same bytes.
    EXPECT_EQ(EncodeEvent(*back), bytes);
  }
}

TEST(Codec, DamagedBytesAreCorruptionNotACrash) {
  Event e;
  e.seq = 1;
  e.referral_id = "r";
  e.data = testing::Received();
  const std::string bytes = EncodeEvent(e);
  EXPECT_EQ(DecodeEvent("").status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeEvent(bytes.substr(0, bytes.size() - 8)).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeEvent(bytes.substr(1)).status().code(), Code::kCorruption);
  int decoded_differently = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      auto r = DecodeEvent(damaged);  // must not crash
      if (r.ok() && !(*r == e)) ++decoded_differently;
    }
  }
  // Most flips change what decodes (which is why the chain hashes bytes).
  EXPECT_GT(decoded_differently, 0);
}

// Found by the event_codec fuzz target: damaged bytes whose correction lists
// tens of thousands of empty fields (an empty entry costs nothing in a
// Cap'n Proto list). It decoded, into an event no encoding could hold.
TEST(Codec, ACorrectionMustHoldAFewDistinctNamedFields) {
  const std::optional<std::string> amplified = FromHex(
      "000000001f0000000000000005000400200000000000000004000000000000005b800f6ac4d905005bdd4072"
      "0fda05000b000000000000000d0000007200000011000000b200000000000000000000001400000001000200"
      "67312d72303030303030303032000000706172746e6572736869703a45303630303030333200000011000000"
      "00000000050000000201000011000000270000007265667573616c20726561736f6e207265636f7264656420"
      "77726f6e676c000000001500000000000000050004001c27000000000000030000000000000056d609587fd9"
      "05000001726561736f6e000070726576696f75735f706c6163656d656e74000000000000");
  ASSERT_TRUE(amplified.has_value());
  EXPECT_EQ(DecodeEvent(*amplified).status().code(), Code::kCorruption);

  Event e;
  e.seq = 2;
  e.referral_id = "r";
  auto with_fields = [&](std::vector<CorrectedField> fields) {
    e.data = RecordCorrected{1, "typo", std::move(fields)};
    return DecodeEvent(EncodeEvent(e)).status().code();
  };
  EXPECT_EQ(with_fields({{"weeks", int64_t{12}}}), Code::kOk);
  EXPECT_EQ(with_fields({}), Code::kCorruption);
  EXPECT_EQ(with_fields({{"", std::string("x")}}), Code::kCorruption);
  EXPECT_EQ(with_fields({{"weeks", int64_t{12}}, {"weeks", int64_t{13}}}), Code::kCorruption);
  std::vector<CorrectedField> many;
  for (int i = 0; i < 17; ++i) many.push_back({"f" + std::to_string(i), int64_t{i}});
  EXPECT_EQ(with_fields(many), Code::kCorruption);
}

// SPEC §9: an entry bundle gives each entry's length as a uint16, so no
// event's canonical bytes may pass 65,535. The field limits of §8 are what
// keep every event under it: the largest event each type allows (every text
// at its longest, in 4-byte characters; the longest referral id, actor and
// idempotency key; a correction of the most fields a decode accepts)
// encodes well within it. Raising a limit so far that this fails must come
// with a check at append.
TEST(Codec, TheLargestEventOfEveryTypeFitsAnEntryBundle) {
  auto longest = [](size_t code_points) {
    std::string s;
    for (size_t i = 0; i < code_points; ++i) s += "\U0010FFFF";
    return s;
  };
  size_t largest = 0;
  for (const EventData& d : OneOfEach()) {
    Event e;
    e.seq = UINT64_MAX;
    e.version = UINT64_MAX;
    e.referral_id = std::string(64, 'r');
    e.actor = "partnership:" + longest(100);
    e.idempotency_key = longest(255);
    e.data = d;
    std::visit(
        [&](auto& data) {
          using S = std::decay_t<decltype(data)>;
          if constexpr (std::is_same_v<S, RecordCorrected>) {
            data.reason = longest(kLongTextSpec.max_len);
            data.fields.clear();
            for (int i = 0; i < 16; ++i) {
              data.fields.push_back(
                  {std::string(32, static_cast<char>('a' + i)), longest(kLongTextSpec.max_len)});
            }
          } else {
            ForEachField<S>([&](const auto& field) {
              if constexpr (requires { field.spec; })
                data.*field.member = longest(field.spec.max_len);
            });
          }
        },
        e.data);
    const std::string bytes = EncodeEvent(e);
    ASSERT_TRUE(DecodeEvent(bytes).ok()) << ToString(e.type());
    largest = std::max(largest, bytes.size());
  }
  EXPECT_GT(largest, 30000u);  // the texts were long indeed
  EXPECT_LE(largest, 65535u);
}

Event Numbered(uint64_t seq, EventData d) {
  Event e;
  e.seq = seq;
  e.version = seq;
  e.referral_id = "r-" + std::to_string(seq);
  e.occurred_at = testing::T(static_cast<int64_t>(seq));
  e.recorded_at = testing::T(400, static_cast<int64_t>(seq));
  e.actor = "partnership:E08000025";
  e.data = std::move(d);
  return e;
}

TEST(Codec, ABriefIsWhatTheFullDecodeGivesForEveryType) {
  std::vector<EventData> all = OneOfEach();
  // Every value of every enumeration a brief holds, at each position.
  for (size_t i = 0; i < EnumCount<Ethnicity>(); ++i) {
    ReferralReceived r = testing::Received("E09000001");
    r.referrer = static_cast<Referrer>(i % EnumCount<Referrer>());
    r.substance = static_cast<Substance>(i % EnumCount<Substance>());
    r.age_band = static_cast<AgeBand>(i % EnumCount<AgeBand>());
    r.sex = static_cast<Sex>(i % EnumCount<Sex>());
    r.ethnicity = static_cast<Ethnicity>(i);
    r.disability = static_cast<Disability>(i % EnumCount<Disability>());
    all.push_back(r);
  }
  for (size_t i = 0; i < EnumCount<RefusalReason>(); ++i) {
    all.push_back(ReferralRefused{static_cast<RefusalStage>(i % EnumCount<RefusalStage>()),
                                  static_cast<RefusalReason>(i), "panel-" + std::to_string(i),
                                  std::nullopt});
  }
  uint64_t seq = 0;
  std::set<EventType> types;
  for (const EventData& d : all) {
    const Event e = Numbered(++seq, d);
    const std::string bytes = EncodeEvent(e);
    EventBrief brief;
    ASSERT_TRUE(DecodeBrief(bytes, &brief).ok()) << ToString(e.type());
    SCOPED_TRACE(ToString(e.type()));
    testing::ExpectSameBrief(brief, BriefOf(e));
    types.insert(brief.type);
  }
  EXPECT_EQ(types.size(), EnumCount<EventType>());
}

TEST(Codec, ABriefOfDamagedBytesIsCorruptionOrWhatTheFullDecodeGives) {
  EXPECT_EQ(DecodeBrief("", nullptr).code(), Code::kCorruption);
  for (const EventData& d : OneOfEach()) {
    const Event e = Numbered(5, d);
    const std::string bytes = EncodeEvent(e);
    SCOPED_TRACE(ToString(e.type()));
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string damaged = bytes;
        damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
        EventBrief brief;
        const Status st = DecodeBrief(damaged, &brief);  // must not crash
        auto full = DecodeEvent(damaged);
        if (st.ok() && full.ok()) {
          testing::ExpectSameBrief(brief, BriefOf(*full));
        } else if (!st.ok()) {
          EXPECT_EQ(st.code(), Code::kCorruption);
        }
      }
    }
  }
}

TEST(Codec, ABriefRefusesAnEnumerationValueThisBuildDoesNotKnow) {
  // Find the byte that holds the referrer: two events differing only there.
  ReferralReceived a = testing::Received("E09000001"), b = a;
  a.referrer = static_cast<Referrer>(0);
  b.referrer = static_cast<Referrer>(1);
  const std::string ea = EncodeEvent(Numbered(1, a)), eb = EncodeEvent(Numbered(1, b));
  ASSERT_EQ(ea.size(), eb.size());
  size_t at = ea.size();
  for (size_t i = 0; i < ea.size(); ++i) {
    if (ea[i] != eb[i]) at = i;
  }
  ASSERT_LT(at, ea.size());
  std::string unknown = ea;
  unknown[at] = static_cast<char>(EnumCount<Referrer>());
  EventBrief brief;
  EXPECT_EQ(DecodeBrief(unknown, &brief).code(), Code::kCorruption);
  EXPECT_EQ(DecodeEvent(unknown).status().code(), Code::kCorruption);
  unknown[at] = static_cast<char>(EnumCount<Referrer>() - 1);
  EXPECT_TRUE(DecodeBrief(unknown, &brief).ok());
}

TEST(Codec, StreamHeadRoundTrips) {
  StreamHead h{
      ReferralState::kOffered, testing::T(3), "E08000034", "1-123456789", 9, {2, 5, 9, 11}};
  auto back = DecodeStreamHead(EncodeStreamHead(h));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, h);
  // A long stream's head is larger than the writer's reused first segment.
  for (uint64_t seq = 12; seq < 400; ++seq) h.seqs.push_back(seq);
  back = DecodeStreamHead(EncodeStreamHead(h));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, h);
}

// An event's canonical bytes are what the chain and the tree hash: the same
// event must encode to the same bytes in every build, one that fits the
// encoder's first segment and one that spills into more (a long reason).
TEST(Codec, CanonicalBytesNeverChange) {
  Event small = Numbered(7, testing::Received("E09000001"));
  small.actor = "partnership:E09000001";
  small.idempotency_key = "k-7";
  RecordCorrected c{3, std::string(700, 'r'), {{"area", std::string("E08000034")}}};
  Event large = Numbered(8, c);
  c.reason.resize(230);  // near the end of the first segment
  Event medium = Numbered(9, c);
  // The flat encoding begins with the count of segments less one.
  EXPECT_EQ(varint::GetFixed32(EncodeEvent(small).data()), 0u);
  EXPECT_EQ(varint::GetFixed32(EncodeEvent(medium).data()), 0u);
  EXPECT_GT(varint::GetFixed32(EncodeEvent(large).data()), 0u);
  for (int round = 0; round < 2; ++round) {  // the second reuses the first's segment
    EXPECT_EQ(ToHex(Sha256({EncodeEvent(small)})),
              "571d77b7b57c56c71e1e933815ee9e7439623be3780f0d543e82f4f83e121970")
        << round;
    EXPECT_EQ(ToHex(Sha256({EncodeEvent(medium)})),
              "b2b48bd9da6394e6fcf5e2b4a299462259b2967e8a933eaf6e3b7cb7f6e17e32")
        << round;
    EXPECT_EQ(ToHex(Sha256({EncodeEvent(large)})),
              "5c3667260a54ac437e8a9782b67655bf06a1345da0b18c3e561d895bd8147737")
        << round;
  }
}

}  // namespace
}  // namespace ledger::internal
