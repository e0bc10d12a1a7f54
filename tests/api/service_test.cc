// The service without a socket (service.h): requests and answers as plain
// structs, over a real ledger in a temporary directory. What only a socket
// shows (framing, deadlines, connection limits) is in security_test.cc.
#include "api/service.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <memory>
#include <string>

#include "http_fixture.h"
#include "test_util.h"

namespace api {
namespace {

using namespace api::testing;  // NOLINT: the tokens of the HTTP suites

class ServiceTest : public ServiceFixture {
 protected:
  // Handles `request` and waits for its answer (an append is answered on
  // the ledger's thread).
  HttpResponse Ask(HttpRequest request) {
    std::promise<HttpResponse> answered;
    auto answer = answered.get_future();
    service_->Handle(std::move(request),
                     [&answered](HttpResponse r) { answered.set_value(std::move(r)); });
    return answer.get();
  }
  HttpResponse Get(const std::string& target, const std::string& token) {
    return Ask({"GET", target, token.empty() ? "" : "Bearer " + token});
  }
  HttpResponse Post(const std::string& body, const std::string& token,
                    const std::string& target = "/v1/events") {
    HttpRequest r{"POST", target, "Bearer " + token, "application/json"};
    r.content_length = body.size();
    r.body = body;
    return Ask(std::move(r));
  }
  static boost::json::value Json(HttpResponse& r) {
    ledger::Result<std::string> body = WholeBody(r);
    EXPECT_TRUE(body.ok());
    boost::json::error_code ec;
    boost::json::value v = boost::json::parse(body.ok() ? *body : "", ec);
    EXPECT_FALSE(ec) << (body.ok() ? *body : "");
    return v;
  }
};

const char* kReceipt =
    R"({"type":"referral.received","referral_id":"s1","occurred_at":"2025-01-01T00:00:00Z","data":{"person":"p0000001a","area":"E08000002","referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}})";

TEST_F(ServiceTest, AnswersWithoutASocketInSpec8sOrder) {
  // 401 before anything else, 404 for a path, 403 for a role, 415.
  EXPECT_EQ(Get("/v1/fairness", "").status, 401u);
  EXPECT_EQ(Get("/v1/nowhere", kRegulator).status, 404u);
  EXPECT_EQ(Get("/v1/events", kPartnership).status, 403u);
  HttpRequest text{"POST", "/v1/events", std::string("Bearer ") + kPartnership, "text/plain"};
  text.body = kReceipt;
  EXPECT_EQ(Ask(text).status, 415u);
  // An append, answered with its seq.
  HttpResponse appended = Post(kReceipt, kPartnership);
  ASSERT_EQ(appended.status, 201u) << appended.body;
  EXPECT_EQ(Json(appended).at("seq").to_number<uint64_t>(), 1u);
  EXPECT_EQ(ledger_->Size(), 1u);
}

TEST_F(ServiceTest, ScopeAndPersonDataHeadersAreTheServicesOwn) {
  ASSERT_EQ(Post(kReceipt, kPartnership).status, 201u);
  HttpResponse mine = Get("/v1/referrals/s1", kPartnership);
  EXPECT_EQ(mine.status, 200u);
  bool no_store = false;
  for (const auto& [k, v] : mine.headers)
    no_store = no_store || (k == "Cache-Control" && v == "no-store");
  EXPECT_TRUE(no_store);
  EXPECT_EQ(Get("/v1/referrals/s1", kOtherPartnership).status, 404u);
  EXPECT_EQ(Get("/v1/referrals/s1", kProvider).status, 404u);
}

TEST_F(ServiceTest, TheFeedIsAStreamOfPiecesThatMakeOneAnswer) {
  ASSERT_EQ(Post(kReceipt, kPartnership).status, 201u);
  HttpResponse feed = Get("/v1/events?after=0&limit=10", kAuditor);
  ASSERT_EQ(feed.status, 200u);
  ASSERT_TRUE(feed.stream);
  EXPECT_TRUE(feed.body.empty());
  const boost::json::value v = Json(feed);
  EXPECT_EQ(v.at("events").as_array().size(), 1u);
  EXPECT_EQ(v.at("next_after").to_number<uint64_t>(), 1u);
  EXPECT_EQ(v.at("head").to_number<uint64_t>(), 1u);
}

// The ledger says which event of a batch failed; the service names it as
// SPEC §6 does, and a single event's fields as its own.
TEST_F(ServiceTest, ABatchsErrorsAreNamedByTheEventsPlace) {
  ASSERT_EQ(Post(kReceipt, kPartnership).status, 201u);
  const std::string second =
      R"({"type":"assessment.completed","referral_id":"s1","occurred_at":"2025-01-02T00:00:00Z","data":{"outcome":"suitable"}})";
  const std::string again = kReceipt;  // a second receipt of s1: 409
  HttpResponse conflict =
      Post("{\"events\":[" + second + "," + again + "]}", kPartnership, "/v1/events/batch");
  EXPECT_EQ(conflict.status, 409u);
  EXPECT_NE(std::string(Json(conflict).at("detail").as_string()).find("events[1]"),
            std::string::npos)
      << conflict.body;
  // Far past the clock: a value rule, named the same way.
  const std::string future =
      R"({"type":"assessment.completed","referral_id":"s1","occurred_at":"2099-01-01T00:00:00Z","data":{"outcome":"suitable"}})";
  HttpResponse bad = Post("{\"events\":[" + future + "]}", kPartnership, "/v1/events/batch");
  ASSERT_EQ(bad.status, 400u) << bad.body;
  EXPECT_EQ(Json(bad).at("errors").at(0).at("field").as_string(), "events[0].occurred_at");
  HttpResponse single = Post(future, kPartnership);
  ASSERT_EQ(single.status, 400u) << single.body;
  EXPECT_EQ(Json(single).at("errors").at(0).at("field").as_string(), "occurred_at");
  EXPECT_EQ(ledger_->Size(), 1u);
}

// A view carries the signed head of exactly the events it was computed
// over, whatever as_of; an unknown area is 404 and a bad parameter 400.
TEST_F(ServiceTest, AViewCarriesTheHeadOfItsOwnAsOf) {
  ASSERT_EQ(Post(kReceipt, kPartnership).status, 201u);
  const std::string second =
      R"({"type":"assessment.completed","referral_id":"s1","occurred_at":"2025-01-02T00:00:00Z","data":{"outcome":"suitable"}})";
  ASSERT_EQ(Post(second, kPartnership).status, 201u);
  for (uint64_t as_of : {1u, 2u}) {
    HttpResponse r = Get("/v1/fairness?as_of=" + std::to_string(as_of), kRegulator);
    ASSERT_EQ(r.status, 200u) << r.body;
    const boost::json::value v = Json(r);
    EXPECT_EQ(v.at("as_of_seq").to_number<uint64_t>(), as_of);
    EXPECT_EQ(v.at("tree_head").at("size").to_number<uint64_t>(), as_of);
    EXPECT_EQ(v.at("england").at("referrals").to_number<uint64_t>(), 1u);
  }
  EXPECT_EQ(Get("/v1/areas/E08999999/fairness", kRegulator).status, 404u);
  HttpResponse bad = Get("/v1/refusals?stage=nowhere", kRegulator);
  ASSERT_EQ(bad.status, 400u);
  EXPECT_EQ(Json(bad).at("errors").at(0).at("field").as_string(), "stage");
}

}  // namespace
}  // namespace api
