// The worked example (tests/data/examples, a copy of ../shared/examples):
// events.ndjson appended in order to an empty ledger must give exactly the
// views of every file that queries.json names.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "json_match.h"
#include "ledger/ledger.h"
#include "projections/projector.h"
#include "test_util.h"
#include "wire/event_json.h"
#include "wire/view_json.h"

namespace projections {
namespace {

namespace json = boost::json;
using ledger::testing::JsonMismatch;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json::value ReadJson(const std::string& name) {
  return json::parse(ReadFile(std::string(LEDGER_EXAMPLES_DIR) + "/" + name));
}

// A view path of the example's queries, as the API will route it.
ledger::Result<json::object> Get(const Projector& p, const std::string& target) {
  const size_t q = target.find('?');
  const std::string path = target.substr(0, q);
  std::map<std::string, std::string> params;
  if (q != std::string::npos) {
    std::stringstream ss(target.substr(q + 1));
    std::string kv;
    while (std::getline(ss, kv, '&')) {
      const size_t eq = kv.find('=');
      params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  ViewQuery query;
  if (params.count("from")) query.from_day = *ledger::ParseDate(params["from"]);
  if (params.count("to")) query.to_day = *ledger::ParseDate(params["to"]);
  if (params.count("as_of")) query.as_of_seq = std::stoull(params["as_of"]);
  if (params.count("area")) query.area = params["area"];
  if (params.count("reason"))
    query.reason = ledger::ParseEnum<ledger::RefusalReason>(params["reason"]);
  if (params.count("stage")) query.stage = ledger::ParseEnum<ledger::RefusalStage>(params["stage"]);
  auto as_json = [](auto report) -> ledger::Result<json::object> {
    if (!report.ok()) return report.status();
    return wire::ToJson(*report);
  };
  const std::string areas = "/v1/areas/";
  if (path == "/v1/fairness") return as_json(p.Fairness(query));
  if (path == "/v1/waiting-times") return as_json(p.WaitingTimes(query));
  if (path == "/v1/refusals") return as_json(p.Refusals(query));
  if (path.starts_with("/v1/referrals/")) return as_json(p.Referral(path.substr(14), query));
  if (path.starts_with(areas)) {
    const size_t slash = path.find('/', areas.size());
    query.area = path.substr(areas.size(), slash - areas.size());
    const std::string what = path.substr(slash + 1);
    if (what == "fairness") return as_json(p.Fairness(query));
    if (what == "waiting-times") return as_json(p.WaitingTimes(query));
  }
  return ledger::Status::NotFound("no view at " + path);
}

class ExampleViews : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger::LedgerOptions options;
    options.clock = [] { return *ledger::ParseTimestamp("2026-11-01T00:00:00Z"); };
    auto opened = ledger::Ledger::Open(dir_.path(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ledger_ = std::move(opened).value();
    std::ifstream in(std::string(LEDGER_EXAMPLES_DIR) + "/events.ndjson");
    std::vector<ledger::AppendRequest> batch;
    std::string line;
    const ledger::WriteContext ctx = ledger::testing::Writer("partnership:example");
    auto flush = [&] {
      auto r = ledger_->Append(batch, ctx);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      batch.clear();
    };
    while (std::getline(in, line)) {
      auto body = wire::ParseStrictJson(line);
      ASSERT_TRUE(body.ok());
      auto req = wire::ParseAppendRequest(*body, options.clock());
      ASSERT_TRUE(req.ok());
      batch.push_back(std::move(req).value());
      if (batch.size() == 1000) flush();
    }
    flush();
    ASSERT_EQ(ledger_->Size(), 1595u);
  }

  void ExpectEveryQueryMatches(const Projector& p) {
    const json::array queries = ReadJson("queries.json").as_array();
    ASSERT_EQ(queries.size(), 13u);
    for (const json::value& q : queries) {
      const std::string name(q.at("name").as_string());
      const std::string path(q.at("path").as_string());
      auto got = Get(p, path);
      ASSERT_TRUE(got.ok()) << name << ": " << got.status().ToString();
      EXPECT_EQ(JsonMismatch(ReadJson(std::string(q.at("file").as_string())), *got), "")
          << name << " (" << path << ")";
    }
  }

  ledger::testing::TempDir dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
};

TEST_F(ExampleViews, EveryQueryGivesItsFile) {
  auto p = Projector::Open(ledger_.get());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE((*p)->CatchUp().ok());
  EXPECT_EQ((*p)->applied(), 1595u);
  ExpectEveryQueryMatches(**p);
}

TEST_F(ExampleViews, AReloadedCheckpointAndARebuildGiveTheSameFiles) {
  {
    // Small chunks: many checkpoints.
    auto p = Projector::Open(ledger_.get(), ProjectorOptions{"views", 97});
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE((*p)->CatchUp().ok());
    EXPECT_EQ(*(*p)->Checkpoint(), 1595u);
  }
  auto reloaded = Projector::Open(ledger_.get(), ProjectorOptions{"views", 97});
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ((*reloaded)->applied(), 1595u);  // from the store, not the log
  ExpectEveryQueryMatches(**reloaded);
  ASSERT_TRUE((*reloaded)->Rebuild().ok());
  ExpectEveryQueryMatches(**reloaded);
}

}  // namespace
}  // namespace projections
