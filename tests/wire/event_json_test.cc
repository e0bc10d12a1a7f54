// Field rules of SPEC §3 and §8 as the JSON parser applies them: each bad
// input is kInvalidArgument naming exactly the bad fields.
#include "wire/event_json.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace wire {
namespace {

using namespace ledger;

namespace json = boost::json;
using ledger::testing::T;

const Micros kNow = *ParseTimestamp("2026-06-01T12:00:00Z");

// A valid body of each type.
json::object Valid(std::string_view type) {
  json::object data;
  if (type == "referral.received") {
    data = {{"person", "p81164e6420d270f"}, {"area", "E09000017"}, {"referrer", "gp"},
            {"substance", "alcohol"},       {"age_band", "65+"},   {"sex", "not_stated"},
            {"ethnicity", "mixed"},         {"disability", "no"}};
  } else if (type == "assessment.completed") {
    data = {{"outcome", "suitable"}, {"note", "seen twice"}};
  } else if (type == "funding.requested") {
    data = {{"route", "rehab_grant"}, {"weeks", 12}};
  } else if (type == "funding.approved") {
    data = {{"panel", "panel-7"}, {"weeks", 104}};
  } else if (type == "referral.refused") {
    data = {{"stage", "funding_panel"},
            {"reason", "community_treatment_first"},
            {"decided_by", "panel-7"}};
  } else if (type == "appeal.lodged") {
    data = {{"grounds", "fail first rule applied"}};
  } else if (type == "appeal.decided") {
    data = {{"outcome", "upheld"}, {"decided_by", "director"}};
  } else if (type == "placement.offered") {
    data = {{"provider", "1-123456789"}, {"planned_start", "2026-02-01"}};
  } else if (type == "placement.started") {
    data = {{"provider", "1-1234567890"}};
  } else if (type == "placement.ended") {
    data = {{"outcome", "unplanned_exit"}};
  } else if (type == "referral.withdrawn") {
    data = {{"by", "person"}};
  } else if (type == "record.corrected") {
    data = {{"corrects_seq", 3}, {"reason", "keyed wrongly"}, {"fields", {{"sex", "male"}}}};
  }
  return {{"type", type},
          {"referral_id", "s1-r000081"},
          {"occurred_at", "2025-07-01T09:21:58Z"},
          {"data", std::move(data)}};
}

// The error fields of parsing `body`, or {"OK"} when it parses.
std::vector<std::string> ErrorFields(const json::value& body) {
  auto r = ParseAppendRequest(body, kNow);
  if (r.ok()) return {"OK"};
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  std::vector<std::string> out;
  for (const auto& e : r.status().field_errors()) {
    EXPECT_FALSE(e.message.empty()) << e.field;
    out.push_back(e.field);
  }
  return out;
}

using Fields = std::vector<std::string>;

json::object WithData(std::string_view type, std::string_view key, json::value v) {
  json::object o = Valid(type);
  o["data"].as_object()[key] = std::move(v);
  return o;
}
json::object WithoutData(std::string_view type, std::string_view key) {
  json::object o = Valid(type);
  o["data"].as_object().erase(key);
  return o;
}

TEST(ParseAppendRequest, AcceptsAValidBodyOfEveryType) {
  for (std::string_view type : EnumTraits<EventType>::kNames) {
    auto r = ParseAppendRequest(Valid(type), kNow);
    ASSERT_TRUE(r.ok()) << type << ": " << r.status().ToString();
    EXPECT_EQ(ToString(TypeOf(r->event.data)), type);
    EXPECT_EQ(r->event.referral_id, "s1-r000081");
    EXPECT_EQ(r->event.occurred_at, *ParseTimestamp("2025-07-01T09:21:58Z"));
    // The JSON form round-trips.
    json::object again = AppendRequestToJson(*r);
    EXPECT_EQ(again, Valid(type)) << json::serialize(again);
  }
}

TEST(ParseAppendRequest, ReadsEveryFieldOfReferralReceived) {
  auto r = ParseAppendRequest(Valid("referral.received"), kNow);
  ASSERT_TRUE(r.ok());
  const auto& d = std::get<ReferralReceived>(r->event.data);
  EXPECT_EQ(d.person, "p81164e6420d270f");
  EXPECT_EQ(d.area, "E09000017");
  EXPECT_EQ(d.referrer, Referrer::kGp);
  EXPECT_EQ(d.substance, Substance::kAlcohol);
  EXPECT_EQ(d.age_band, AgeBand::k65Plus);
  EXPECT_EQ(d.sex, Sex::kNotStated);
  EXPECT_EQ(d.ethnicity, Ethnicity::kMixed);
  EXPECT_EQ(d.disability, Disability::kNo);
}

TEST(ParseAppendRequest, TopLevelRules) {
  json::object o = Valid("assessment.completed");
  o.erase("type");
  EXPECT_EQ(ErrorFields(o), Fields{"type"});
  o = Valid("assessment.completed");
  o["type"] = "assessment.done";
  EXPECT_EQ(ErrorFields(o), Fields{"type"});
  o["type"] = "Assessment.Completed";
  EXPECT_EQ(ErrorFields(o), Fields{"type"});
  o["type"] = 3;
  EXPECT_EQ(ErrorFields(o), Fields{"type"});

  for (const char* bad : {"", "has space", "ünïcode", "slash/no",
                          "x12345678901234567890123456789012345678901234567890123456789012345"}) {
    o = Valid("assessment.completed");
    o["referral_id"] = bad;
    EXPECT_EQ(ErrorFields(o), Fields{"referral_id"}) << bad;
  }
  for (const char* good : {"a", "A.b_c-9", "s1-r000081"}) {
    o = Valid("assessment.completed");
    o["referral_id"] = good;
    EXPECT_EQ(ErrorFields(o), Fields{"OK"}) << good;
  }
  o = Valid("assessment.completed");
  o["referral_id"] = std::string(64, 'x');
  EXPECT_EQ(ErrorFields(o), Fields{"OK"});
  o["referral_id"] = 17;
  EXPECT_EQ(ErrorFields(o), Fields{"referral_id"});

  o = Valid("assessment.completed");
  o["data"] = "x";
  EXPECT_EQ(ErrorFields(o), Fields{"data"});
  o.erase("data");
  EXPECT_EQ(ErrorFields(o), Fields{"data"});

  EXPECT_EQ(ErrorFields(json::array{}), Fields{"body"});
  EXPECT_EQ(ErrorFields(json::value("text")), Fields{"body"});
  EXPECT_EQ(ErrorFields(json::object{}), (Fields{"type", "referral_id", "occurred_at", "data"}));
}

TEST(ParseAppendRequest, OccurredAtRules) {
  json::object o = Valid("assessment.completed");
  o["occurred_at"] = "2025-07-01";
  EXPECT_EQ(ErrorFields(o), Fields{"occurred_at"});
  o["occurred_at"] = 1751360518;
  EXPECT_EQ(ErrorFields(o), Fields{"occurred_at"});
  o["occurred_at"] = "2025-07-01T09:21:58+01:00";
  EXPECT_EQ(ErrorFields(o), Fields{"occurred_at"});
  // Exactly five minutes ahead of the server clock is accepted; later is not.
  o["occurred_at"] = FormatTimestamp(kNow + 300 * kMicrosPerSecond);
  EXPECT_EQ(ErrorFields(o), Fields{"OK"});
  o["occurred_at"] = FormatTimestamp(kNow + 300 * kMicrosPerSecond + 1);
  EXPECT_EQ(ErrorFields(o), Fields{"occurred_at"});
  o["occurred_at"] = "2030-01-01T00:00:00Z";
  EXPECT_EQ(ErrorFields(o), Fields{"occurred_at"});
}

TEST(ParseAppendRequest, UnknownFieldsAreNamed) {
  for (const char* key : {"seq", "version", "recorded_at", "actor", "hash", "name", "nhs_number",
                          "date_of_birth", "extra"}) {
    json::object o = Valid("referral.received");
    o[key] = "x";
    EXPECT_EQ(ErrorFields(o), Fields{key}) << key;
    o = WithData("referral.received", key, "x");
    EXPECT_EQ(ErrorFields(o), Fields{std::string("data.") + key}) << key;
  }
  // A field of another type is unknown too.
  EXPECT_EQ(ErrorFields(WithData("assessment.completed", "weeks", 3)), Fields{"data.weeks"});
}

TEST(ParseAppendRequest, ExpectedVersionAndIdempotencyKey) {
  json::object o = Valid("assessment.completed");
  o["expected_version"] = 0;
  o["idempotency_key"] = "k-1";
  auto r = ParseAppendRequest(o, kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->expected_version, 0u);
  EXPECT_EQ(r->idempotency_key, "k-1");

  for (json::value bad : {json::value("3"), json::value(1.5), json::value(3.0), json::value(true),
                          json::value(nullptr), json::value(-1)}) {
    o = Valid("assessment.completed");
    o["expected_version"] = bad;
    EXPECT_EQ(ErrorFields(o), Fields{"expected_version"}) << json::serialize(bad);
  }
  o = Valid("assessment.completed");
  o["idempotency_key"] = "";
  EXPECT_EQ(ErrorFields(o), Fields{"idempotency_key"});
  o["idempotency_key"] = std::string(255, 'k');
  EXPECT_EQ(ErrorFields(o), Fields{"OK"});
  o["idempotency_key"] = std::string(256, 'k');
  EXPECT_EQ(ErrorFields(o), Fields{"idempotency_key"});
  // 255 code points of two bytes each is still 255 characters.
  std::string wide;
  for (int i = 0; i < 255; ++i) wide += "é";
  o["idempotency_key"] = wide;
  EXPECT_EQ(ErrorFields(o), Fields{"OK"});
  o["idempotency_key"] = nullptr;
  EXPECT_EQ(ErrorFields(o), Fields{"idempotency_key"});
}

TEST(ParseAppendRequest, EveryRequiredDataFieldIsRequired) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> required = {
      {"referral.received",
       {"person", "area", "referrer", "substance", "age_band", "sex", "ethnicity", "disability"}},
      {"assessment.completed", {"outcome"}},
      {"funding.requested", {"route", "weeks"}},
      {"funding.approved", {"panel", "weeks"}},
      {"referral.refused", {"stage", "reason", "decided_by"}},
      {"appeal.lodged", {"grounds"}},
      {"appeal.decided", {"outcome", "decided_by"}},
      {"placement.offered", {"provider", "planned_start"}},
      {"placement.started", {"provider"}},
      {"placement.ended", {"outcome"}},
      {"referral.withdrawn", {"by"}},
      {"record.corrected", {"corrects_seq", "reason", "fields"}},
  };
  for (const auto& [type, fields] : required) {
    for (const std::string& f : fields) {
      EXPECT_EQ(ErrorFields(WithoutData(type, f)), Fields{"data." + f}) << type << " " << f;
    }
  }
  // Optional fields may be left out, but not sent as null.
  EXPECT_EQ(ErrorFields(WithoutData("assessment.completed", "note")), Fields{"OK"});
  EXPECT_EQ(ErrorFields(WithData("assessment.completed", "note", nullptr)), Fields{"data.note"});
  EXPECT_EQ(ErrorFields(WithData("referral.withdrawn", "note", nullptr)), Fields{"data.note"});
  EXPECT_EQ(ErrorFields(WithData("referral.refused", "note", nullptr)), Fields{"data.note"});
}

TEST(ParseAppendRequest, EnumerationsAcceptExactlyTheirValues) {
  struct Case {
    std::string type, field;
    std::vector<std::string_view> values;
  };
  auto names = [](auto tag) {
    using E = decltype(tag);
    return std::vector<std::string_view>(std::begin(EnumTraits<E>::kNames),
                                         std::end(EnumTraits<E>::kNames));
  };
  const std::vector<Case> cases = {
      {"referral.received", "referrer", names(Referrer{})},
      {"referral.received", "substance", names(Substance{})},
      {"referral.received", "age_band", names(AgeBand{})},
      {"referral.received", "sex", names(Sex{})},
      {"referral.received", "ethnicity", names(Ethnicity{})},
      {"referral.received", "disability", names(Disability{})},
      {"assessment.completed", "outcome", names(AssessmentOutcome{})},
      {"funding.requested", "route", names(FundingRoute{})},
      {"referral.refused", "stage", names(RefusalStage{})},
      {"referral.refused", "reason", names(RefusalReason{})},
      {"appeal.decided", "outcome", names(AppealOutcome{})},
      {"placement.ended", "outcome", names(PlacementOutcome{})},
      {"referral.withdrawn", "by", names(WithdrawnBy{})},
  };
  for (const Case& c : cases) {
    for (std::string_view v : c.values) {
      EXPECT_EQ(ErrorFields(WithData(c.type, c.field, json::string(v))), Fields{"OK"})
          << c.type << "." << c.field << "=" << v;
      std::string upper(v);
      upper[0] = static_cast<char>(std::toupper(upper[0]));
      if (upper != v) {
        EXPECT_EQ(ErrorFields(WithData(c.type, c.field, json::string(upper))),
                  Fields{"data." + c.field});
      }
    }
    for (json::value bad : {json::value("unknown"), json::value(""), json::value(0),
                            json::value(nullptr), json::value(json::array{})}) {
      EXPECT_EQ(ErrorFields(WithData(c.type, c.field, bad)), Fields{"data." + c.field})
          << c.type << "." << c.field << "=" << json::serialize(bad);
    }
  }
  EXPECT_EQ(EnumCount<RefusalReason>(), 11u);
}

TEST(ParseAppendRequest, PersonAreaAndProviderPatterns) {
  for (std::string good :
       {std::string("abcdefgh"), std::string("A_b-0123"), std::string(64, 'z')}) {
    EXPECT_EQ(ErrorFields(WithData("referral.received", "person", json::string(good))),
              Fields{"OK"})
        << good;
  }
  for (std::string bad : {std::string("abcdefg"), std::string(65, 'z'), std::string("abc.defgh"),
                          std::string("John Smith"), std::string("abcdéfgh")}) {
    EXPECT_EQ(ErrorFields(WithData("referral.received", "person", json::string(bad))),
              Fields{"data.person"})
        << bad;
  }
  for (const char* good : {"E06000001", "E08000034", "E09000017", "E10000012"}) {
    EXPECT_EQ(ErrorFields(WithData("referral.received", "area", good)), Fields{"OK"}) << good;
  }
  for (const char* bad : {"E07000001", "E0800003", "E080000345", "e08000034", "E08OOOO34",
                          "E08000٣34", "W06000001", ""}) {
    EXPECT_EQ(ErrorFields(WithData("referral.received", "area", bad)), Fields{"data.area"}) << bad;
  }
  for (const char* good : {"1-123456789", "1-1234567890"}) {
    EXPECT_EQ(ErrorFields(WithData("placement.started", "provider", good)), Fields{"OK"});
  }
  for (const char* bad :
       {"1-12345678", "1-12345678901", "2-123456789", "1123456789", "1-12345678a", "RXX"}) {
    EXPECT_EQ(ErrorFields(WithData("placement.started", "provider", bad)), Fields{"data.provider"})
        << bad;
    EXPECT_EQ(ErrorFields(WithData("placement.offered", "provider", bad)), Fields{"data.provider"})
        << bad;
  }
  for (const char* bad : {"2026-02-30", "2026-2-1", "01/02/2026", "2026-02-01T00:00:00Z"}) {
    EXPECT_EQ(ErrorFields(WithData("placement.offered", "planned_start", bad)),
              Fields{"data.planned_start"})
        << bad;
  }
}

TEST(ParseAppendRequest, LengthsCountCodePoints) {
  struct Case {
    std::string type, field;
    size_t min, max;
  };
  for (const Case& c : std::vector<Case>{{"assessment.completed", "note", 0, 500},
                                         {"referral.refused", "note", 0, 500},
                                         {"referral.withdrawn", "note", 0, 500},
                                         {"referral.refused", "decided_by", 1, 64},
                                         {"appeal.decided", "decided_by", 1, 64},
                                         {"funding.approved", "panel", 1, 64},
                                         {"appeal.lodged", "grounds", 1, 500},
                                         {"record.corrected", "reason", 1, 500}}) {
    auto text = [](size_t n) {
      std::string s;
      for (size_t i = 0; i < n; ++i) s += "ü";  // 2 bytes, 1 code point
      return json::string(s);
    };
    EXPECT_EQ(ErrorFields(WithData(c.type, c.field, text(c.max))), Fields{"OK"}) << c.field;
    EXPECT_EQ(ErrorFields(WithData(c.type, c.field, text(c.max + 1))), Fields{"data." + c.field})
        << c.type << "." << c.field;
    if (c.min == 0) {
      EXPECT_EQ(ErrorFields(WithData(c.type, c.field, "")), Fields{"OK"}) << c.field;
    } else {
      EXPECT_EQ(ErrorFields(WithData(c.type, c.field, "")), Fields{"data." + c.field}) << c.field;
    }
    EXPECT_EQ(ErrorFields(WithData(c.type, c.field, 5)), Fields{"data." + c.field});
  }
}

TEST(ParseAppendRequest, FreeTextAndKeysRefuseControlCharacters) {
  for (const auto& [type, field] :
       std::vector<std::pair<std::string, std::string>>{{"assessment.completed", "note"},
                                                        {"referral.refused", "decided_by"},
                                                        {"funding.approved", "panel"},
                                                        {"appeal.lodged", "grounds"},
                                                        {"record.corrected", "reason"}}) {
    for (const std::string& bad :
         {std::string("\x1b[2J"), std::string("a\0b", 3), std::string("bell\x07"),
          std::string("del\x7f"), std::string("nel\xc2\x85"), std::string("csi\xc2\x9b")}) {
      EXPECT_EQ(ErrorFields(WithData(type, field, json::string(bad))), Fields{"data." + field})
          << type << "." << field;
    }
    // Tab, line feed and carriage return are text; so is U+00A0.
    EXPECT_EQ(ErrorFields(WithData(type, field,
                                   "a\tb\r\nc\xc2\xa0"
                                   "d")),
              Fields{"OK"})
        << field;
  }
  json::object keyed = Valid("appeal.lodged");
  keyed["idempotency_key"] = "key\x1b";
  EXPECT_EQ(ErrorFields(keyed), Fields{"idempotency_key"});
  json::object corrected = Valid("record.corrected");
  corrected["data"].as_object()["fields"] = json::object{{"note", "x\x1b"}};
  EXPECT_EQ(ErrorFields(corrected), Fields{"OK"});  // checked against its target's rule
  EXPECT_EQ(
      ValidateCorrectionFields(EventType::kAssessmentCompleted, {{"note", std::string("x\x1b")}})
          .field_errors()
          .at(0)
          .field,
      "data.fields.note");
}

TEST(ParseAppendRequest, IntegersMustBeJsonIntegersInRange) {
  for (const char* type : {"funding.requested", "funding.approved"}) {
    EXPECT_EQ(ErrorFields(WithData(type, "weeks", 1)), Fields{"OK"});
    EXPECT_EQ(ErrorFields(WithData(type, "weeks", 104)), Fields{"OK"});
    for (json::value bad : {json::value(0), json::value(105), json::value(-3), json::value("12"),
                            json::value(12.5), json::value(12.0), json::value(true),
                            json::value(nullptr), json::value(uint64_t{1} << 63)}) {
      EXPECT_EQ(ErrorFields(WithData(type, "weeks", bad)), Fields{"data.weeks"})
          << type << " " << json::serialize(bad);
    }
  }
  EXPECT_EQ(ErrorFields(WithData("record.corrected", "corrects_seq", 0)),
            Fields{"data.corrects_seq"});
  EXPECT_EQ(ErrorFields(WithData("record.corrected", "corrects_seq", "3")),
            Fields{"data.corrects_seq"});
}

TEST(ParseAppendRequest, CorrectionShape) {
  EXPECT_EQ(ErrorFields(WithData("record.corrected", "fields", json::object{})),
            Fields{"data.fields"});
  EXPECT_EQ(ErrorFields(WithData("record.corrected", "fields", json::array{})),
            Fields{"data.fields"});
  for (const char* forbidden : {"occurred_at", "type", "referral_id"}) {
    EXPECT_EQ(ErrorFields(WithData("record.corrected", "fields", {{forbidden, "x"}})),
              Fields{std::string("data.fields.") + forbidden});
  }
  EXPECT_EQ(ErrorFields(WithData("record.corrected", "fields", {{"weeks", 1.5}})),
            Fields{"data.fields.weeks"});
  EXPECT_EQ(ErrorFields(WithData("record.corrected", "fields", {{"sex", nullptr}})),
            Fields{"data.fields.sex"});
  auto r = ParseAppendRequest(
      WithData("record.corrected", "fields", {{"weeks", 8}, {"panel", "p-2"}}), kNow);
  ASSERT_TRUE(r.ok());
  const auto& c = std::get<RecordCorrected>(r->event.data);
  EXPECT_EQ(c.corrects_seq, 3u);
  ASSERT_EQ(c.fields.size(), 2u);
  EXPECT_EQ(c.fields[0], (CorrectedField{"weeks", int64_t{8}}));
  EXPECT_EQ(c.fields[1], (CorrectedField{"panel", std::string("p-2")}));
}

TEST(ParseAppendRequest, NamesEveryBadFieldAtOnce) {
  json::object o = Valid("referral.received");
  o["referral_id"] = "bad id";
  o["occurred_at"] = "yesterday";
  auto& d = o["data"].as_object();
  d["area"] = "X";
  d["sex"] = "unknown";
  d["nhs_number"] = "4857773456";
  d.erase("person");
  Fields got = ErrorFields(o);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (Fields{"data.area", "data.nhs_number", "data.person", "data.sex", "occurred_at",
                         "referral_id"}));
}

TEST(ValidateCorrectionFields, ChecksAgainstTheTargetType) {
  using CF = CorrectedField;
  EXPECT_TRUE(ValidateCorrectionFields(
                  EventType::kReferralReceived,
                  {CF{"sex", std::string("male")}, CF{"area", std::string("E06000001")}})
                  .ok());
  Status st = ValidateCorrectionFields(
      EventType::kReferralReceived,
      {CF{"sex", std::string("mail")}, CF{"weeks", int64_t{3}}, CF{"area", int64_t{1}}});
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  ASSERT_EQ(st.field_errors().size(), 3u);
  EXPECT_EQ(st.field_errors()[0].field, "data.fields.sex");
  EXPECT_EQ(st.field_errors()[1].field, "data.fields.weeks");
  EXPECT_EQ(st.field_errors()[2].field, "data.fields.area");
  EXPECT_FALSE(
      ValidateCorrectionFields(EventType::kFundingApproved, {CF{"weeks", int64_t{105}}}).ok());
  EXPECT_TRUE(
      ValidateCorrectionFields(EventType::kFundingApproved, {CF{"weeks", int64_t{104}}}).ok());
  EXPECT_TRUE(ValidateCorrectionFields(
                  EventType::kReferralRefused,
                  {CF{"reason", std::string("not_ready")}, CF{"note", std::string("")}})
                  .ok());
}

TEST(ApplyCorrection, MergesFieldsAndKeepsTheRest) {
  EventData d = ledger::testing::Received();
  ApplyCorrection({{"area", std::string("E10000012")}, {"age_band", std::string("65+")}}, &d);
  const auto& r = std::get<ReferralReceived>(d);
  EXPECT_EQ(r.area, "E10000012");
  EXPECT_EQ(r.age_band, AgeBand::k65Plus);
  EXPECT_EQ(r.sex, Sex::kFemale);
  EventData f = FundingApproved{"p", 4};
  ApplyCorrection({{"weeks", int64_t{12}}}, &f);
  EXPECT_EQ(std::get<FundingApproved>(f), (FundingApproved{"p", 12}));
}

// --- strict JSON (SPEC §8) ---

TEST(ParseStrictJson, RejectsWhatSpec8Rejects) {
  for (std::string_view bad :
       {std::string_view(""), std::string_view("   "), std::string_view("{\"a\":1,\"a\":2}"),
        std::string_view("{\"x\":{\"a\":1,\"a\":1}}"), std::string_view("{\"a\":1} x"),
        std::string_view("{\"a\":1}{}"), std::string_view("{\"a\":NaN}"),
        std::string_view("{\"a\":Infinity}"), std::string_view("{\"a\":1,}"),
        std::string_view("{'a':1}"), std::string_view("{\"a\":1 /* c */}"),
        std::string_view("{\"a\":\"\xff\"}"), std::string_view("{\"a\":\"\xc3\"}"),
        std::string_view("{\"a\":01}")}) {
    auto r = ParseStrictJson(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    ASSERT_EQ(r.status().field_errors().size(), 1u);
    EXPECT_EQ(r.status().field_errors()[0].field, "body");
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(ParseStrictJson(deep).ok());
}

TEST(ParseStrictJson, AcceptsOrdinaryJson) {
  auto r = ParseStrictJson(" {\"a\": [1, 2.5, \"\\u00e9\"], \"b\": {\"a\": null}}\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at("a").at(2).as_string(), "é");
  // The same key in two different objects is not a duplicate.
  EXPECT_TRUE(ParseStrictJson("{\"a\":{\"a\":1},\"b\":{\"a\":2}}").ok());
}

// --- batches ---

TEST(ParseBatchRequest, SizeAndNaming) {
  json::array events;
  EXPECT_EQ(
      ParseBatchRequest(json::object{{"events", events}}, kNow).status().field_errors()[0].field,
      "events");
  for (int i = 0; i < 1000; ++i) events.push_back(Valid("assessment.completed"));
  EXPECT_TRUE(ParseBatchRequest(json::object{{"events", events}}, kNow).ok());
  events.push_back(Valid("assessment.completed"));
  EXPECT_FALSE(ParseBatchRequest(json::object{{"events", events}}, kNow).ok());

  json::array two = {Valid("referral.received"), Valid("assessment.completed"),
                     Valid("appeal.decided")};
  two[1].as_object()["data"].as_object()["outcome"] = "maybe";
  two[2].as_object()["seq"] = 9;
  auto r = ParseBatchRequest(json::object{{"events", two}}, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  ASSERT_EQ(r.status().field_errors().size(), 2u);
  EXPECT_EQ(r.status().field_errors()[0].field, "events[1].data.outcome");
  EXPECT_EQ(r.status().field_errors()[1].field, "events[2].seq");

  EXPECT_EQ(ParseBatchRequest(json::object{{"events", 3}}, kNow).status().field_errors()[0].field,
            "events");
  EXPECT_EQ(ParseBatchRequest(json::object{}, kNow).status().field_errors()[0].field, "events");
  auto extra = ParseBatchRequest(
      json::object{{"events", json::array{Valid("appeal.lodged")}}, {"atomic", true}}, kNow);
  ASSERT_FALSE(extra.ok());
  EXPECT_EQ(extra.status().field_errors()[0].field, "atomic");
}

TEST(ParseBatchRequest, NamesAHundredFieldErrorsAndCountsTheRest) {
  json::array events;
  for (int i = 0; i < 1000; ++i) {
    json::object e = Valid("appeal.lodged");
    for (int f = 0; f < 28; ++f) e["x" + std::to_string(f)] = 1;
    events.push_back(std::move(e));
  }
  auto r = ParseBatchRequest(json::object{{"events", events}}, kNow);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.status().field_errors().size(), kMaxFieldErrors);
  EXPECT_EQ(r.status().field_errors().front().field, "events[0].x0");
  EXPECT_EQ(r.status().field_errors().back().field, "events[3].x15");
  EXPECT_TRUE(r.status().message().ends_with(" and 27900 more")) << r.status().message();
  // A field reported once, and a field covered by a member reported, are not
  // counted again.
  json::object twice = Valid("record.corrected");
  twice["data"].as_object()["fields"] = json::object{};
  twice["data"].as_object()["bogus"] = 1;
  EXPECT_EQ(ErrorFields(twice), (Fields{"data.fields", "data.bogus"}));
}

TEST(RequestDigest, SameValueSameDigest) {
  auto a = ParseAppendRequest(ParseStrictJson(R"({"type":"appeal.lodged","referral_id":"r1",
      "occurred_at":"2025-01-01T00:00:00Z","data":{"grounds":"g"},"idempotency_key":"k"})")
                                  .value(),
                              kNow);
  auto b = ParseAppendRequest(ParseStrictJson(R"({"idempotency_key":"k","data":{"grounds":"g"},
      "occurred_at":"2025-01-01T00:00:00Z","referral_id":"r1","type":"appeal.lodged"})")
                                  .value(),
                              kNow);
  auto c = ParseAppendRequest(ParseStrictJson(R"({"idempotency_key":"k","data":{"grounds":"G"},
      "occurred_at":"2025-01-01T00:00:00Z","referral_id":"r1","type":"appeal.lodged"})")
                                  .value(),
                              kNow);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(RequestDigest(*a), RequestDigest(*b));
  EXPECT_NE(RequestDigest(*a), RequestDigest(*c));
  AppendRequest d = *a;
  d.expected_version = 2;
  EXPECT_NE(RequestDigest(*a), RequestDigest(d));
  // Escapes spell the same string: the same JSON value.
  auto e = ParseAppendRequest(ParseStrictJson(R"({"type":"appeal.lodged","referral_id":"r1",
      "occurred_at":"2025-01-01T00:00:00Z","data":{"grounds":"\u0067"},"idempotency_key":"k"})")
                                  .value(),
                              kNow);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(RequestDigest(*a), RequestDigest(*e));
}

// "Same body" is the same JSON value (SPEC §8): one time spelled two ways is
// two bodies, and a request built in code has the ledger's own spelling.
TEST(RequestDigest, AnotherSpellingOfTheTimeIsAnotherBody) {
  auto with_time = [](const std::string& at) {
    return ParseAppendRequest(ParseStrictJson(R"({"type":"appeal.lodged","referral_id":"r1",
        "occurred_at":")" + at + R"(","data":{"grounds":"g"},"idempotency_key":"k"})")
                                  .value(),
                              kNow)
        .value();
  };
  const AppendRequest z = with_time("2025-01-01T09:00:00Z");
  const AppendRequest fraction = with_time("2025-01-01T09:00:00.000Z");
  const AppendRequest offset = with_time("2025-01-01T09:00:00+00:00");
  const AppendRequest nanos = with_time("2025-01-01T09:00:00.0000001Z");
  for (const AppendRequest* r : {&fraction, &offset, &nanos}) {
    EXPECT_EQ(r->event.occurred_at, z.event.occurred_at) << r->occurred_at_text;
    EXPECT_NE(RequestDigest(*r), RequestDigest(z)) << r->occurred_at_text;
  }
  EXPECT_EQ(RequestDigest(with_time("2025-01-01T09:00:00+00:00")), RequestDigest(offset));
  // Built in code: the ledger's spelling, which a client's ...Z matches.
  AppendRequest built = z;
  built.occurred_at_text.clear();
  EXPECT_EQ(RequestDigest(built), RequestDigest(z));
  // The JSON form keeps the client's spelling, and reads back the same.
  EXPECT_EQ(AppendRequestToJson(offset).at("occurred_at").as_string(), "2025-01-01T09:00:00+00:00");
  EXPECT_EQ(ParseAppendRequest(AppendRequestToJson(offset), kNow).value(), offset);
}

// Found by the event_json fuzz target: a request's own JSON form, built in
// memory, holds whole numbers as uint64 and must read back as the same
// request.
TEST(AppendRequestToJson, ReadsBackAsTheSameRequest) {
  auto one = ParseAppendRequest(ParseStrictJson(R"({"type":"record.corrected","referral_id":"r1",
      "occurred_at":"2025-01-01T00:00:00Z","data":{"corrects_seq":27,"reason":"typo",
      "fields":{"weeks":12}}})")
                                    .value(),
                                kNow);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  auto again = ParseAppendRequest(AppendRequestToJson(*one), kNow);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(RequestDigest(*again), RequestDigest(*one));
  // Built by hand with uint64 numbers, too.
  boost::json::object body = AppendRequestToJson(*one);
  body["data"].as_object()["corrects_seq"] = uint64_t{27};
  body["data"].as_object()["fields"].as_object()["weeks"] = uint64_t{12};
  auto built = ParseAppendRequest(body, kNow);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(RequestDigest(*built), RequestDigest(*one));
  // Beyond 2^63-1 it is still out of range.
  body["data"].as_object()["corrects_seq"] = uint64_t{1} << 63;
  EXPECT_EQ(ParseAppendRequest(body, kNow).status().field_errors().at(0).field,
            "data.corrects_seq");
}

// With a lookup of written targets, a correction's values are checked while
// the body is read, so that their errors come with every other field's.
TEST(ParseAppendRequest, CorrectionValuesAreNamedWithTheOtherFieldErrors) {
  const std::string body = R"({"type":"record.corrected","referral_id":"r1",
      "occurred_at":"2025-01-01T00:00:00Z","data":{"corrects_seq":7,"reason":"",
      "fields":{"sex":"bogus","weeks":3,"age_band":"18-24"}}})";
  std::vector<std::pair<uint64_t, std::string>> asked;
  CorrectionTargetType targets = [&](uint64_t seq,
                                     std::string_view referral) -> std::optional<EventType> {
    asked.emplace_back(seq, referral);
    if (seq == 7 && referral == "r1") return EventType::kReferralReceived;
    return std::nullopt;
  };
  auto fields_of = [](const Status& st) {
    std::set<std::string> out;
    for (const FieldError& e : st.field_errors()) out.insert(e.field);
    return out;
  };
  auto r = ParseAppendRequest(ParseStrictJson(body).value(), kNow, targets);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(fields_of(r.status()),
            (std::set<std::string>{"data.reason", "data.fields.sex", "data.fields.weeks"}));
  EXPECT_EQ(asked, (std::vector<std::pair<uint64_t, std::string>>{{7, "r1"}}));
  // A body with no other bad field goes to the ledger, which reads the
  // target anyway: the lookup is not asked.
  asked.clear();
  std::string valid = body;
  valid.replace(valid.find(R"("reason":"")"), 11, R"("reason":"r")");
  EXPECT_TRUE(ParseAppendRequest(ParseStrictJson(valid).value(), kNow, targets).ok());
  EXPECT_TRUE(asked.empty());
  // Without the lookup, or with a target not written: the ledger checks them.
  EXPECT_EQ(fields_of(ParseAppendRequest(ParseStrictJson(body).value(), kNow).status()),
            std::set<std::string>{"data.reason"});
  auto batch =
      ParseBatchRequest(ParseStrictJson(R"({"events":[{"type":"appeal.lodged","referral_id":"r1",
          "occurred_at":"soon","data":{"grounds":"g"}},)" +
                                        body + "]}")
                            .value(),
                        kNow, targets);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(fields_of(batch.status()),
            (std::set<std::string>{"events[0].occurred_at", "events[1].data.reason",
                                   "events[1].data.fields.sex", "events[1].data.fields.weeks"}));
}

}  // namespace
}  // namespace wire
