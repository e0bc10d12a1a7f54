// The worked example (tests/data/examples, a copy of ../shared/examples):
// events.ndjson appended in order to an empty ledger must give exactly the
// views of every file that queries.json names.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

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

// A view path of the example's queries, as the API will route it, from a
// source of views: the Projector, or MemoryViews below.
template <typename Views>
ledger::Result<json::object> Get(const Views& p, const std::string& target) {
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

// The example's events, read into requests in order.
std::vector<ledger::AppendRequest> ExampleRequests(ledger::Micros now) {
  std::ifstream in(std::string(LEDGER_EXAMPLES_DIR) + "/events.ndjson");
  std::vector<ledger::AppendRequest> out;
  std::string line;
  while (std::getline(in, line)) {
    auto body = wire::ParseStrictJson(line);
    EXPECT_TRUE(body.ok());
    if (!body.ok()) break;
    auto req = wire::ParseAppendRequest(*body, now);
    EXPECT_TRUE(req.ok()) << req.status().ToString();
    if (!req.ok()) break;
    out.push_back(std::move(req).value());
  }
  return out;
}

// The views straight from a read model fed in memory: no ledger, no store.
// The events are numbered in order and recorded at `now`; defaults are
// resolved as Projector::Resolve does for such a log.
class MemoryViews {
 public:
  MemoryViews(const std::vector<ledger::AppendRequest>& requests, ledger::Micros now) : now_(now) {
    for (const ledger::AppendRequest& r : requests) {
      ledger::Event e;
      e.seq = events_.size() + 1;
      e.referral_id = r.event.referral_id;
      e.occurred_at = r.event.occurred_at;
      e.recorded_at = now;
      e.actor = "partnership:example";
      e.data = r.event.data;
      e.version = ++versions_[e.referral_id];
      EXPECT_TRUE(model_.Apply(e).ok()) << e.seq;
      events_.push_back(std::move(e));
    }
  }
  ledger::Result<FairnessReport> Fairness(const ViewQuery& q) const {
    return FairnessView(model_, Resolve(q));
  }
  ledger::Result<WaitingTimesReport> WaitingTimes(const ViewQuery& q) const {
    return WaitingTimesView(model_, Resolve(q));
  }
  ledger::Result<RefusalsReport> Refusals(const ViewQuery& q) const {
    return RefusalsView(model_, Resolve(q));
  }
  ledger::Result<ReferralReport> Referral(const std::string& id, ViewQuery q) const {
    q.to_day.reset();
    const ViewParams p = Resolve(q);
    std::vector<ledger::Event> stream;
    for (const ledger::Event& e : events_) {
      if (e.referral_id == id) stream.push_back(e);
    }
    if (stream.empty() || stream.front().seq > p.as_of) {
      return ledger::Status::NotFound("no referral " + id);
    }
    return ReferralView(std::move(stream), p.as_of, p.at);
  }

 private:
  ViewParams Resolve(const ViewQuery& q) const {
    ViewParams p;
    p.as_of = q.as_of_seq ? std::min<uint64_t>(*q.as_of_seq, events_.size()) : events_.size();
    p.from_day = q.from_day;
    p.to_day = q.to_day;
    p.at = q.at ? *q.at : q.to_day ? *q.to_day * ledger::kMicrosPerDay : now_;
    p.area = q.area;
    p.reason = q.reason;
    p.stage = q.stage;
    return p;
  }

  ledger::Micros now_;
  ReadModel model_;
  std::vector<ledger::Event> events_;
  std::map<std::string, uint64_t> versions_;
};

class ExampleViews : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger::LedgerOptions options;
    options.clock = [] { return *ledger::ParseTimestamp("2026-11-01T00:00:00Z"); };
    auto opened = ledger::Ledger::Open(dir_.path(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ledger_ = std::move(opened).value();
    const std::vector<ledger::AppendRequest> requests = ExampleRequests(options.clock());
    const ledger::WriteContext ctx = ledger::testing::Writer("partnership:example");
    for (size_t i = 0; i < requests.size(); i += 1000) {
      const size_t n = std::min<size_t>(1000, requests.size() - i);
      auto r = ledger_->Append(std::span(requests).subspan(i, n), ctx);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    ASSERT_EQ(ledger_->Size(), 1595u);
  }

  template <typename Views>
  void ExpectEveryQueryMatches(const Views& p) {
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

// The views are functions of the read model alone: fed the example's events
// in memory, with no ledger and no store, it gives every file too.
TEST_F(ExampleViews, AModelFedInMemoryGivesEveryFile) {
  const ledger::Micros now = *ledger::ParseTimestamp("2026-11-01T00:00:00Z");
  const std::vector<ledger::AppendRequest> requests = ExampleRequests(now);
  ASSERT_EQ(requests.size(), 1595u);
  ExpectEveryQueryMatches(MemoryViews(requests, now));
}

}  // namespace
}  // namespace projections
