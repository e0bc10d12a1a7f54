// The service under attack, on a real socket (SPEC §8 "Scope in detail";
// docs/API.md "Limits"): a provider that names itself, clients that hold
// every connection or never read, bodies made to cost CPU, requests framed
// two ways, tenants probing each other, and what every response carries.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "http_fixture.h"

namespace api {
namespace {

using namespace api::testing;  // NOLINT: the fixture and its tokens
using Clock = std::chrono::steady_clock;

constexpr const char* kOwnProvider = "1-1731644238";      // kProvider's
constexpr const char* kForeignProvider = "1-9999999999";  // kOtherProvider's

std::string Receipt(const std::string& id, const std::string& area = "E08000002") {
  return R"({"type":"referral.received","referral_id":")" + id +
         R"(","occurred_at":"2025-01-01T00:00:00Z","data":{"person":"p0000001a","area":")" + area +
         R"(","referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}})";
}
std::string Event(const std::string& type, const std::string& id, const std::string& day,
                  const std::string& data, const std::string& extra = "") {
  return R"({"type":")" + type + R"(","referral_id":")" + id + R"(","occurred_at":"2025-01-)" +
         day + R"(T00:00:00Z","data":)" + data + extra + "}";
}
std::string Approval(const std::string& id) {
  return Event("funding.approved", id, "05", R"({"panel":"panel-1","weeks":12})");
}
std::string Offer(const std::string& id, const std::string& provider,
                  const std::string& day = "06") {
  return Event("placement.offered", id, day,
               R"({"provider":")" + provider + R"(","planned_start":"2025-02-01"})");
}
std::string Start(const std::string& id, const std::string& provider) {
  return Event("placement.started", id, "10", R"({"provider":")" + provider + R"("})");
}
std::string End(const std::string& id) {
  return Event("placement.ended", id, "20", R"({"outcome":"completed"})");
}

// ---------------------------------------------------------------------------
// Raw connections

// A connection from `source` (a loopback address) that has sent `bytes`;
// -1 if it could not be made. `rcvbuf` > 0 shrinks its receive buffer, so
// that a client that does not read stops the server's writes soon.
int Open(uint16_t port, const std::string& bytes = "", const char* source = nullptr,
         int rcvbuf = 0) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (source) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source, &from.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  if (!bytes.empty()) send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  return fd;
}

// Everything the server sends until it closes the connection (or 10 s pass,
// then *closed is false), and closes it.
std::string ReadToClose(int fd, bool* closed = nullptr) {
  std::string got;
  char buf[16384];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (closed) *closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    close(fd);
    return got;
  }
}

// Seconds until the server closes `fd`, reading nothing of what it sends
// until then but draining at the end; -1 if still open after `limit`.
double SecondsUntilClosed(int fd, double limit) {
  const auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() < limit) {
    char c;
    const ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      close(fd);
      return std::chrono::duration<double>(Clock::now() - start).count();
    }
    // Data waiting is not a close: what the server wrote is left unread.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (n > 0) {
      // Peek past the data: a FIN after it shows as a 0 once it is read.
      tcp_info info{};
      socklen_t size = sizeof info;
      if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) == 0 &&
          info.tcpi_state == TCP_CLOSE_WAIT) {
        close(fd);
        return std::chrono::duration<double>(Clock::now() - start).count();
      }
    }
  }
  close(fd);
  return -1;
}

// The status code of the first response in `bytes`, or 0.
unsigned StatusOf(const std::string& bytes) {
  if (!bytes.starts_with("HTTP/1.1 ") || bytes.size() < 12) return 0;
  return static_cast<unsigned>(std::stoi(bytes.substr(9, 3)));
}
size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}
std::string Get1(const std::string& target, const std::string& token, const char* host = "x") {
  std::string req = "GET " + target + " HTTP/1.1\r\n";
  if (host) req += std::string("Host: ") + host + "\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  return req + "Connection: close\r\n\r\n";
}

// ---------------------------------------------------------------------------
// 1. A provider may not take over a referral (SPEC §8, "Scope in detail").

TEST_F(Http, AProviderCannotTakeOverAReferralItWasNotOffered) {
  ASSERT_EQ(Post(Receipt("b-4")).status, 201u);
  ASSERT_EQ(Post(Approval("b-4")).status, 201u);
  const uint64_t size = ledger_->Size();
  // It may not record an offer, even one naming itself.
  const Reply offer = Post(Offer("b-4", kOwnProvider), kProvider);
  EXPECT_EQ(offer.status, 403u);
  EXPECT_NE(offer.body.at("detail").as_string().find("placement.started and placement.ended"),
            std::string::npos);
  // The referral is not its to see: as one that does not exist.
  EXPECT_EQ(Get("/v1/referrals/b-4", kProvider).status, 404u);
  const Reply proof = Get("/v1/ledger/proof/inclusion?seq=1", kProvider);
  ASSERT_EQ(proof.status, 200u);
  EXPECT_FALSE(proof.body.as_object().contains("leaf"));
  // A start with no offer, and an end: the referral is unknown to it, with
  // the words and status of one that does not exist.
  const Reply start = Post(Start("b-4", kOwnProvider), kProvider);
  const Reply unknown = Post(Start("b-5", kOwnProvider), kProvider);
  EXPECT_EQ(start.status, 422u);
  EXPECT_EQ(unknown.status, 422u);
  EXPECT_EQ(start.body.at("detail").as_string(), "placement.started for unknown referral b-4");
  EXPECT_EQ(Post(End("b-4"), kProvider).status, 422u);
  // A stale expected_version is the 409 of a new stream, as for any unknown.
  const Reply versioned = Post(Start("b-4", kOwnProvider), kProvider);
  EXPECT_EQ(versioned.status, 422u);
  EXPECT_EQ(Post(Event("placement.started", "b-4", "10", R"({"provider":"1-1731644238"})",
                       R"(,"expected_version":2)"),
                 kProvider)
                .status,
            409u);
  EXPECT_EQ(ledger_->Size(), size);
}

TEST_F(Http, AProviderStartsAndEndsOnlyItsOwnOfferedPlacement) {
  ASSERT_EQ(Post(Receipt("p1")).status, 201u);
  ASSERT_EQ(Post(Approval("p1")).status, 201u);
  ASSERT_EQ(Post(Offer("p1", kOwnProvider)).status, 201u);
  // Offered to it: it reads the referral; the other provider does not.
  const Reply view = Get("/v1/referrals/p1", kProvider);
  EXPECT_EQ(view.status, 200u);
  EXPECT_EQ(view.Header("Cache-Control"), "no-store");
  EXPECT_EQ(Get("/v1/referrals/p1", kOtherProvider).status, 404u);
  EXPECT_EQ(Post(Start("p1", kForeignProvider), kOtherProvider).status, 422u);
  // A start must name the provider of the latest offer.
  const Reply other = Post(Start("p1", kForeignProvider), kProvider);
  EXPECT_EQ(other.status, 403u);
  // An end before its start is not its placement.
  EXPECT_EQ(Post(End("p1"), kProvider).status, 403u);
  EXPECT_EQ(Post(Start("p1", kOwnProvider), kProvider).status, 201u);
  EXPECT_EQ(Post(End("p1"), kOtherProvider).status, 422u);
  EXPECT_EQ(Post(End("p1"), kProvider).status, 201u);

  // Re-offered elsewhere, the start is no longer its to record, though it
  // still reads the referral an offer named it in.
  ASSERT_EQ(Post(Receipt("p2")).status, 201u);
  ASSERT_EQ(Post(Approval("p2")).status, 201u);
  ASSERT_EQ(Post(Offer("p2", kOwnProvider)).status, 201u);
  ASSERT_EQ(Post(Offer("p2", kForeignProvider, "07")).status, 201u);
  EXPECT_EQ(Get("/v1/referrals/p2", kProvider).status, 200u);
  EXPECT_EQ(Post(Start("p2", kOwnProvider), kProvider).status, 403u);
  EXPECT_EQ(Post(Start("p2", kForeignProvider), kOtherProvider).status, 201u);

  // An offer corrected to another provider no longer names it.
  ASSERT_EQ(Post(Receipt("p3")).status, 201u);
  ASSERT_EQ(Post(Approval("p3")).status, 201u);
  ASSERT_EQ(Post(Offer("p3", kOwnProvider)).status, 201u);
  const uint64_t offer_seq = ledger_->Size();
  ASSERT_EQ(
      Post(
          Event(
              "record.corrected", "p3", "08",
              R"({"corrects_seq":)" + std::to_string(offer_seq) +
                  R"(,"reason":"offer recorded against the wrong provider","fields":{"provider":"1-9999999999"}})"))
          .status,
      201u);
  EXPECT_EQ(Get("/v1/referrals/p3", kProvider).status, 404u);
  EXPECT_EQ(Get("/v1/referrals/p3", kOtherProvider).status, 200u);
  EXPECT_EQ(Post(Start("p3", kOwnProvider), kProvider).status, 422u);
}

// ---------------------------------------------------------------------------
// 7. Tenants learn nothing of each other.

TEST_F(Http, AnotherAreasReferralIsAsOneThatDoesNotExist) {
  ASSERT_EQ(Post(Receipt("t1")).status, 201u);
  const uint64_t seq = ledger_->Size();
  const std::string assess = Event("assessment.completed", "t1", "03", R"({"outcome":"suitable"})");
  const Reply hidden = Post(assess, kOtherPartnership);
  const Reply unknown = Post(Event("assessment.completed", "t9", "03", R"({"outcome":"suitable"})"),
                             kOtherPartnership);
  EXPECT_EQ(hidden.status, 422u);
  EXPECT_EQ(unknown.status, 422u);
  EXPECT_EQ(hidden.body.at("detail").as_string(), "assessment.completed for unknown referral t1");
  EXPECT_EQ(hidden.body.at("detail").as_string().find("E08000002"), std::string::npos);
  // A stale version gets what it would for an unknown referral.
  EXPECT_EQ(Post(Event("assessment.completed", "t1", "03", R"({"outcome":"suitable"})",
                       R"(,"expected_version":1)"),
                 kOtherPartnership)
                .status,
            409u);
  // A correction's fields are not checked against a target it may not see.
  const std::string bad_fix = Event("record.corrected", "t1", "04",
                                    R"({"corrects_seq":)" + std::to_string(seq) +
                                        R"(,"reason":"wrong","fields":{"outcome":"x"}})");
  EXPECT_EQ(Post(bad_fix, kOtherPartnership).status, 422u);
  EXPECT_EQ(Post(bad_fix, kPartnership).status, 400u);
  // A second receipt of the same id is still the conflict it is.
  EXPECT_EQ(Post(Receipt("t1", "E06000001"), kOtherPartnership).status, 409u);
  EXPECT_EQ(Post(Receipt("t1", "E08000002"), kOtherPartnership).status, 403u);
  EXPECT_EQ(ledger_->Size(), seq);
}

TEST_F(Http, IdempotencyKeysBelongToTheCredentialThatSentThem) {
  const std::string key = R"(,"idempotency_key":"shared-key")";
  auto receipt = [&](const std::string& id, const std::string& area) {
    std::string body = Receipt(id, area);
    body.insert(body.size() - 1, key);
    return body;
  };
  const Reply mine = Post(receipt("k1", "E08000002"), kPartnership);
  ASSERT_EQ(mine.status, 201u);
  // Another credential's same key is another key: appended, not a 422.
  const Reply theirs = Post(receipt("k2", "E06000001"), kOtherPartnership);
  ASSERT_EQ(theirs.status, 201u);
  EXPECT_NE(theirs.body.at("seq"), mine.body.at("seq"));
  // Each replays its own.
  const Reply again = Post(receipt("k2", "E06000001"), kOtherPartnership);
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.body.at("seq"), theirs.body.at("seq"));
  EXPECT_EQ(Post(receipt("k1", "E08000002"), kPartnership).body.at("seq"), mine.body.at("seq"));
  EXPECT_EQ(ledger_->Size(), 2u);
}

// A credential's name is its identity (actor, idempotency keys, rate and
// connection shares): unique, and printable.
TEST(Tokens, NamesAreUniqueAndHoldNoControlCharacters) {
  auto entry = [](const std::string& name, const std::string& token) {
    return R"({"name":")" + name + R"(","role":"auditor","sha256":")" +
           ledger::ToHex(ledger::Sha256(token)) + R"("})";
  };
  auto twice =
      TokenStore::Parse(R"({"tokens":[)" + entry("a", "t1") + "," + entry("a", "t2") + "]}");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().field_errors().at(0).field, "tokens[1].name");
  auto control = TokenStore::Parse(R"({"tokens":[)" + entry("a\\u001b", "t1") + "]}");
  ASSERT_FALSE(control.ok());
  EXPECT_EQ(control.status().field_errors().at(0).field, "tokens[0].name");
  EXPECT_TRUE(
      TokenStore::Parse(R"({"tokens":[)" + entry("a", "t1") + "," + entry("b", "t2") + "]}").ok());
}

// ---------------------------------------------------------------------------
// 8. Control characters, caching and sniffing, the append rate.

TEST_F(Http, ControlCharactersAreRefusedNamingTheField) {
  ASSERT_EQ(Post(Receipt("c1")).status, 201u);
  for (const std::string note : {"\\u001b[2J\\u001b[31mseen", "bell\\u0007", "nel\\u0085"}) {
    const Reply r =
        Post(Event("referral.refused", "c1", "04",
                   R"({"stage":"assessment","reason":"other","decided_by":"panel-1","note":")" +
                       note + R"("})"));
    EXPECT_EQ(r.status, 400u) << note;
    ASSERT_EQ(r.body.at("errors").as_array().size(), 1u) << note;
    EXPECT_EQ(r.body.at("errors").at(0).at("field").as_string(), "data.note");
  }
  std::string keyed = Receipt("c2");
  keyed.insert(keyed.size() - 1, R"(,"idempotency_key":"k\u0000")");
  EXPECT_EQ(Post(keyed).body.at("errors").at(0).at("field").as_string(), "idempotency_key");
  // Tab, line feed and carriage return are text.
  EXPECT_EQ(
      Post(
          Event(
              "referral.refused", "c1", "04",
              R"({"stage":"assessment","reason":"other","decided_by":"panel-1","note":"a\tb\r\nc"})"))
          .status,
      201u);
}

TEST_F(Http, EveryResponseSaysNoSniffAndPersonDataIsNotStored) {
  ASSERT_EQ(Post(Receipt("h1")).status, 201u);
  for (const auto& [target, token] :
       std::vector<std::pair<std::string, const char*>>{{"/healthz", ""},
                                                        {"/v1/fairness", ""},
                                                        {"/v1/fairness", kRegulator},
                                                        {"/nowhere", kRegulator},
                                                        {"/v1/referrals/h1", kRegulator},
                                                        {"/", ""}}) {
    EXPECT_EQ(Get(target, token).Header("X-Content-Type-Options"), "nosniff") << target;
  }
  EXPECT_EQ(Get("/v1/referrals/h1").Header("Cache-Control"), "no-store");
  EXPECT_EQ(Get("/v1/events", kAuditor).Header("Cache-Control"), "no-store");
  EXPECT_EQ(Get("/v1/ledger/proof/inclusion?seq=1", kRegulator).Header("Cache-Control"),
            "no-store");
  // Aggregates are not person-level: kept by the client, revalidated by
  // their entity tag (SPEC §11).
  EXPECT_EQ(Get("/v1/fairness").Header("Cache-Control"), "private, no-cache");
}

class RateLimited : public Http {
 protected:
  RateLimited() {
    service_options_.append_rate = 1;  // a second per event: the 429 below holds on a slow machine
    service_options_.append_burst = 1000;
  }
};

TEST_F(RateLimited, AnAppendBeyondTheRateIs429AndAppendsNothing) {
  std::string batch = R"({"events":[)";
  for (int i = 0; i < 1000; ++i) batch += (i ? "," : "") + Receipt("r" + std::to_string(i));
  batch += "]}";
  ASSERT_EQ(Post(batch, kPartnership, "/v1/events/batch").status, 201u);
  const Reply limited = Post(Receipt("over"));
  EXPECT_EQ(limited.status, 429u);
  EXPECT_EQ(limited.content_type, "application/problem+json");
  const std::string retry = limited.Header("Retry-After");
  ASSERT_FALSE(retry.empty());
  EXPECT_GE(std::stoi(retry), 1);
  EXPECT_EQ(ledger_->Size(), 1000u);
  // Another credential has a bucket of its own; reads are not limited.
  EXPECT_EQ(Post(Receipt("elsewhere", "E06000001"), kOtherPartnership).status, 201u);
  EXPECT_EQ(Get("/v1/ledger/head").status, 200u);
  // The bucket refills: after a second, one more event passes.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(Post(Receipt("later")).status, 201u);
}

// ---------------------------------------------------------------------------
// 4. Field errors cost time linear in their number, and at most 100 are named.

TEST_F(Http, ABatchOfUnknownFieldsNamesAHundredAndCountsTheRest) {
  std::string unknown;
  for (int f = 0; f < 28; ++f) unknown += ",\"x" + std::to_string(f) + "\":1";
  std::string batch = R"({"events":[)";
  for (int i = 0; i < 1000; ++i) {
    std::string e = Receipt("u" + std::to_string(i));
    e.insert(e.size() - 1, unknown);
    batch += (i ? "," : "") + e;
  }
  batch += "]}";
  const Reply r = Post(batch, kPartnership, "/v1/events/batch");
  ASSERT_EQ(r.status, 400u);
  EXPECT_EQ(r.body.at("errors").as_array().size(), 100u);
  EXPECT_EQ(r.body.at("errors").at(0).at("field").as_string(), "events[0].x0");
  const std::string detail(r.body.at("detail").as_string());
  EXPECT_TRUE(detail.ends_with("and 27900 more")) << detail.substr(detail.size() - 40);
  EXPECT_EQ(ledger_->Size(), 0u);
}

// ---------------------------------------------------------------------------
// 5, 6. Framing, Host, the header deadline, bytes that are not UTF-8.

TEST_F(Http, ARequestFramedAmbiguouslyIsRefusedAndTheConnectionClosed) {
  // The body would be a second request if it were read as one.
  const std::string smuggled = Get1("/v1/me", kRegulator);
  for (const std::string coding :
       {"gzip", "xchunked", "identity", "chunked, identity", "chunked, chunked"}) {
    for (const std::string method : {"POST /v1/events", "GET /v1/me"}) {
      const int fd = Open(server_->port(),
                          method + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kPartnership +
                              "\r\nContent-Type: application/json\r\n"
                              "Transfer-Encoding: " +
                              coding + "\r\n\r\n" + smuggled);
      ASSERT_GE(fd, 0);
      bool closed = false;
      const std::string got = ReadToClose(fd, &closed);
      EXPECT_EQ(StatusOf(got), 400u) << coding;
      EXPECT_EQ(Count(got, "HTTP/1.1 "), 1u) << coding << ": " << got;
      EXPECT_TRUE(closed) << coding;
    }
  }
  // Both a length and a coding: refused too.
  const int both =
      Open(server_->port(), "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                std::string(kPartnership) +
                                "\r\nContent-Type: application/json\r\nContent-Length: 5"
                                "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                                smuggled);
  const std::string got = ReadToClose(both);
  EXPECT_EQ(StatusOf(got), 400u);
  EXPECT_EQ(Count(got, "HTTP/1.1 "), 1u);
  // A chunked body alone is read as before.
  const std::string receipt = Receipt("chunked");
  char size[16];
  std::snprintf(size, sizeof size, "%zx", receipt.size());
  const int chunked =
      Open(server_->port(), "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                std::string(kPartnership) +
                                "\r\nContent-Type: application/json\r\nTransfer-Encoding: "
                                "chunked\r\nConnection: close\r\n\r\n" +
                                size + "\r\n" + receipt + "\r\n0\r\n\r\n");
  EXPECT_EQ(StatusOf(ReadToClose(chunked)), 201u);
  EXPECT_EQ(ledger_->Size(), 1u);
}

TEST_F(Http, HostIsRequiredInHttp11AndBadBytesAreEscaped) {
  EXPECT_EQ(StatusOf(ReadToClose(Open(server_->port(), Get1("/v1/me", kRegulator, nullptr)))),
            400u);
  EXPECT_EQ(StatusOf(ReadToClose(
                Open(server_->port(), "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"))),
            400u);
  EXPECT_EQ(StatusOf(ReadToClose(Open(server_->port(), "GET /healthz HTTP/1.0\r\n\r\n"))), 200u);
  // Bytes that are not UTF-8 come back as \xHH, in JSON that parses.
  const Reply r = Get("/v1/referrals/%ff%fe", kRegulator);
  EXPECT_EQ(r.status, 404u);
  ASSERT_TRUE(r.body.is_object()) << r.text;
  EXPECT_NE(r.body.at("detail").as_string().find("\\xff\\xfe"), std::string::npos);
}

class Deadlines : public Http {
 protected:
  Deadlines() {
    options_.header_timeout = std::chrono::seconds(1);
    options_.idle_timeout = std::chrono::seconds(5);
    options_.write_timeout = std::chrono::seconds(1);
  }
  // Appends `n` events in batches, in process.
  void Fill(int n) {
    for (int done = 0; done < n;) {
      std::vector<ledger::AppendRequest> batch;
      for (int i = 0; i < 1000 && done < n; ++i, ++done) {
        ledger::AppendRequest r;
        r.event.referral_id = std::string(50, 'f') + std::to_string(done);
        r.event.occurred_at = *ledger::ParseTimestamp("2025-01-01T00:00:00Z");
        ledger::ReferralReceived d;
        d.person = std::string(64, 'p');
        d.area = "E08000002";
        r.event.data = d;
        batch.push_back(std::move(r));
      }
      ledger::WriteContext ctx;
      ctx.actor = "partnership:example-partnership";
      ASSERT_TRUE(ledger_->Append(batch, ctx).ok());
    }
  }
};

TEST_F(Deadlines, AHeaderMustArriveWithinItsDeadlineFromTheStart) {
  const int silent = Open(server_->port());
  const int slow = Open(server_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n");
  const double silent_s = SecondsUntilClosed(silent, 6);
  const double slow_s = SecondsUntilClosed(slow, 6);
  // The header deadline (1 s), not the idle one (5 s).
  EXPECT_GE(silent_s, 0.8);
  EXPECT_LT(silent_s, 3);
  EXPECT_GE(slow_s, 0);
  EXPECT_LT(slow_s, 3);
}

TEST_F(Deadlines, AReaderThatDoesNotReadIsCutOffAndTheFeedIsStreamed) {
  Fill(12000);
  // The feed in pieces: chunked, and whole once read.
  const Reply feed = Get("/v1/events?after=0&limit=10000", kAuditor);
  ASSERT_EQ(feed.status, 200u);
  EXPECT_EQ(feed.Header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(feed.body.at("events").as_array().size(), 10000u);
  EXPECT_EQ(feed.body.at("next_after").to_number<uint64_t>(), 10000u);
  EXPECT_EQ(feed.body.at("head").to_number<uint64_t>(), 12000u);
  // Readers that never read: a feed and a stream, cut off once the socket
  // is full and the write deadline (1 s) has passed.
  const int feed_reader =
      Open(server_->port(), Get1("/v1/events?after=0&limit=10000", kAuditor), nullptr, 4096);
  const int subscriber =
      Open(server_->port(), Get1("/v1/events/subscribe?after=0", kRegulator), nullptr, 4096);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  // Read now, they find the answer cut short: reset, without the feed's
  // last chunk, and the stream ended though it never ends by itself.
  bool closed = false;
  const std::string fed = ReadToClose(feed_reader, &closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(fed.starts_with("HTTP/1.1 200"));
  EXPECT_FALSE(fed.ends_with("0\r\n\r\n"));
  EXPECT_LT(fed.size(), feed.text.size());
  closed = false;
  ReadToClose(subscriber, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(Get("/healthz", "").status, 200u);
}

// ---------------------------------------------------------------------------
// 2. Capacity that no one client can take.

class Capacity : public Http {
 protected:
  Capacity() {
    options_.max_connections = 40;
    options_.max_connections_per_address = 1000;
    options_.max_subscribers = 4;
    options_.max_subscribers_per_credential = 2;
    options_.health_reserve = 2;
  }
  int SlowBody(const std::string& token) {
    return Open(server_->port(),
                "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                    "\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{");
  }
  int Subscribe(const std::string& token) {
    return Open(server_->port(), Get1("/v1/events/subscribe?after=0", token));
  }
  // The first bytes the server sends on `fd` (up to 10 s), left open.
  static std::string FirstBytes(int fd) {
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
};

TEST_F(Capacity, SilentConnectionsMakeRoomForClientsThatAsk) {
  // Many more silent connections than the cap (no credential needed), held.
  std::vector<int> silent;
  for (int i = 0; i < 100; ++i) silent.push_back(Open(server_->port(), i % 2 ? "GET /v1/ar" : ""));
  // A client that asks is served at once, each time, well within the
  // header deadline (30 s): a silent connection made room.
  for (int i = 0; i < 10; ++i) {
    const auto start = Clock::now();
    EXPECT_EQ(Get("/v1/ledger/head").status, 200u);
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5);
  }
  int closed = 0;
  for (int fd : silent) closed += SecondsUntilClosed(fd, 0.05) >= 0;
  EXPECT_GE(closed, 60);  // the longest waiting went first
}

TEST_F(Capacity, EventStreamsHaveCapsOfTheirOwnAndFreeTheirSlotOnLeaving) {
  std::vector<int> mine = {Subscribe(kAuditor), Subscribe(kAuditor)};
  for (int fd : mine) EXPECT_EQ(StatusOf(FirstBytes(fd)), 200u);
  // The credential's share is taken: 429.
  const int third = Subscribe(kAuditor);
  const std::string refused = FirstBytes(third);
  EXPECT_EQ(StatusOf(refused), 429u);
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos);
  close(third);
  std::vector<int> theirs = {Subscribe(kRegulator), Subscribe(kRegulator)};
  for (int fd : theirs) EXPECT_EQ(StatusOf(FirstBytes(fd)), 200u);
  // All streams taken: 503 for the next, whoever asks; other requests are
  // served.
  ASSERT_EQ(ledger_->Size(), 0u);
  const int fifth = Subscribe(kRegulator);
  EXPECT_EQ(StatusOf(FirstBytes(fifth)), 503u);  // read once: the cap in all comes first
  close(fifth);
  EXPECT_EQ(Get("/healthz", "").status, 200u);
  EXPECT_EQ(Get("/v1/ledger/head").status, 200u);
  // A subscriber that leaves frees its slot at once, not at the next
  // keep-alive comment (15 s).
  close(mine[0]);
  bool admitted = false;
  for (int i = 0; i < 50 && !admitted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const int again = Subscribe(kAuditor);
    admitted = StatusOf(FirstBytes(again)) == 200u;
    close(again);
  }
  EXPECT_TRUE(admitted);
  for (int fd : {mine[1], theirs[0], theirs[1]}) close(fd);
}

TEST_F(Capacity, ACredentialHoldsItsShareAndProbesKeepASlot) {
  // Requests in progress cannot make room: slow bodies from two partners
  // fill every connection.
  std::vector<int> held;
  for (int i = 0; i < 20; ++i) held.push_back(SlowBody(kPartnership));
  for (int i = 0; i < 20; ++i) held.push_back(SlowBody(kOtherPartnership));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Beyond the cap: a probe from loopback gets a reserved slot for
  // /healthz and /metrics only; anything else is 503 with Retry-After.
  EXPECT_EQ(Get("/healthz", "").status, 200u);
  EXPECT_EQ(Get("/metrics", "").status, 200u);
  const std::string busy = ReadToClose(Open(server_->port(), Get1("/v1/ledger/head", kRegulator)));
  EXPECT_EQ(StatusOf(busy), 503u);
  EXPECT_NE(busy.find("Retry-After: 1"), std::string::npos);
  for (int fd : held) close(fd);
}

class PerClient : public Http {
 protected:
  PerClient() {
    options_.max_connections_per_address = 5;
    options_.max_connections_per_credential = 3;
    options_.health_reserve = 1;
  }
};

TEST_F(PerClient, EachAddressAndEachCredentialHoldsOnlyItsShare) {
  // Five silent connections from one address take its share. From loopback
  // the next still gets the reserve, for /healthz and /metrics only.
  std::vector<int> silent;
  for (int i = 0; i < 5; ++i) silent.push_back(Open(server_->port(), "", "127.0.0.7"));
  EXPECT_EQ(StatusOf(ReadToClose(Open(server_->port(), Get1("/healthz", ""), "127.0.0.7"))), 200u);
  EXPECT_EQ(StatusOf(ReadToClose(Open(server_->port(), Get1("/v1/me", kRegulator), "127.0.0.7"))),
            503u);
  // With the reserve taken too, the next is refused at once.
  silent.push_back(Open(server_->port(), "", "127.0.0.7"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string refused = ReadToClose(Open(server_->port(), "", "127.0.0.7"));
  EXPECT_EQ(StatusOf(refused), 503u);
  // Another address is served.
  EXPECT_EQ(StatusOf(ReadToClose(Open(server_->port(), Get1("/healthz", ""), "127.0.0.8"))), 200u);
  for (int fd : silent) close(fd);
  // Three requests in progress with one credential; a fourth is 429, from
  // any address; another credential is served.
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(Open(server_->port(),
                        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                            std::string(kPartnership) +
                            "\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{",
                        ("127.0.1." + std::to_string(i + 1)).c_str()));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string over =
      ReadToClose(Open(server_->port(), Get1("/v1/me", kPartnership), "127.0.1.9"));
  EXPECT_EQ(StatusOf(over), 429u);
  EXPECT_EQ(StatusOf(ReadToClose(Open(server_->port(), Get1("/v1/me", kRegulator), "127.0.1.9"))),
            200u);
  for (int fd : held) close(fd);
}

// The same server with limits short enough to watch them act.
class HostileClients : public Http {
 protected:
  HostileClients() {
    options_.header_timeout = std::chrono::seconds(1);
    options_.read_timeout = std::chrono::seconds(1);
    options_.idle_timeout = std::chrono::seconds(1);
    // Thousands of idle connections: each costs this process two
    // descriptors (both ends are here), so take what the hard limit allows.
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 8192);
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
    idle_count_ = static_cast<int>(std::min<rlim_t>(2000, (lim.rlim_cur - 400) / 2));
    options_.max_connections = static_cast<size_t>(idle_count_) + 50;
    options_.max_connections_per_address = options_.max_connections;
  }
  int idle_count_ = 0;
  // A raw connection that has sent `bytes` (and then nothing), whose reads
  // give up after 6 s; -1 if refused.
  int Open(const std::string& bytes = "") {
    const int fd = api::Open(server_->port(), bytes);
    timeval tv{6, 0};
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  // Seconds from `since` until the server closed the connection (what it
  // sent going to *got), or -1 if it was still open after 6 s.
  static double SecondsToClose(int fd, std::chrono::steady_clock::time_point since,
                               std::string* got = nullptr) {
    bool closed = false;
    std::string sent = ReadToClose(fd, &closed);
    if (got) *got = std::move(sent);
    return closed ? std::chrono::duration<double>(Clock::now() - since).count() : -1;
  }
};

TEST_F(HostileClients, AreCutOffWhileNormalClientsAreServed) {
  // Many connections that say nothing.
  std::vector<int> idle;
  for (int i = 0; i < idle_count_; ++i) idle.push_back(Open());
  ASSERT_EQ(std::count(idle.begin(), idle.end(), -1), 0);
  const auto start = std::chrono::steady_clock::now();
  // A header that never ends, and a body that never comes.
  const int slow_header = Open("GET /v1/ledger/head HTTP/1.1\r\nHost: x\r\nAuthorization: Bea");
  const int slow_body = Open("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                             std::string(kPartnership) +
                             "\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
                             "{\"type\":\"referral.received\",");
  ASSERT_GE(slow_header, 0);
  ASSERT_GE(slow_body, 0);
  // Meanwhile a normal client is served.
  EXPECT_EQ(Get("/v1/ledger/head").status, 200u);
  // Beyond max_connections (the idle ones and 50), each new client that
  // asks takes the place of an idle connection and is served.
  for (int i = 0; i < 100; ++i) {
    std::string got;
    const int fd = Open("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ASSERT_GE(fd, 0);
    EXPECT_GE(SecondsToClose(fd, std::chrono::steady_clock::now(), &got), 0);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 200")) << got.substr(0, 40);
  }
  // A header over the 16 KiB limit is refused (431) before any timeout.
  const auto huge_at = std::chrono::steady_clock::now();
  const int huge =
      Open("GET /v1/ledger/head HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(20000, 'a') +
           "\r\n\r\n");
  ASSERT_GE(huge, 0);
  std::string huge_answer;
  const double huge_s = SecondsToClose(huge, huge_at, &huge_answer);
  EXPECT_TRUE(huge_answer.starts_with("HTTP/1.1 431")) << huge_answer.substr(0, 40);
  EXPECT_GE(huge_s, 0);
  EXPECT_LT(huge_s, 0.9);
  // The slow and the idle are cut off after their timeouts (1 s here).
  const double header_s = SecondsToClose(slow_header, start);
  const double body_s = SecondsToClose(slow_body, start);
  EXPECT_GE(header_s, 0.9);
  EXPECT_LT(header_s, 4);
  EXPECT_GE(body_s, 0.9);
  EXPECT_LT(body_s, 4);
  int idle_closed = 0;
  for (int fd : idle) idle_closed += SecondsToClose(fd, start) >= 0;
  EXPECT_EQ(idle_closed, idle_count_);
  EXPECT_GE(idle_count_, 300) << "too few descriptors to test with many idle connections";
  // Served as before; the half-sent append appended nothing.
  EXPECT_EQ(Get("/v1/ledger/head").status, 200u);
  EXPECT_EQ(ledger_->Size(), 0u);
}

}  // namespace
}  // namespace api
