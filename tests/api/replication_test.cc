// Standbys (api/replication.h): a primary and a standby, each the real
// server on a real socket over its own ledger, the standby copying through
// GET /v1/replication/events. The copy is byte for byte and serves the same
// views; sync appends are answered once the standby holds them, and 503
// when it is gone; a standby fed an altered event or a forged history
// keeps nothing of it and stops, saying which.
#include "api/replication.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "api/control.h"
#include "api/server.h"
#include "api/service.h"
#include "http_client.h"
#include "https_files.h"
#include "ledger/ledger.h"
#include "ledger/note.h"
#include "ledger/tree_head.h"
#include "ledgerd_process.h"
#include "projections/projector.h"
#include "test_util.h"

namespace api {
namespace {

namespace json = boost::json;
using ledger::testing::TempDir;
using testing::HttpsFiles;

constexpr const char* kStandbyName = "https://standby-a.example";

std::string TokensJson() {
  auto entry = [](const char* name, const char* role, const char* token, const char* extra) {
    return std::string("{\"name\":\"") + name + "\",\"role\":\"" + role + "\",\"sha256\":\"" +
           ledger::ToHex(ledger::Sha256(std::string(token))) + "\"" + extra + "}";
  };
  return "{\"tokens\":[" + entry("brum", "partnership", "brum", ",\"areas\":[\"E08000002\"]") +
         "," + entry("copier", "auditor", "copier", "") + "," +
         entry("cqc", "regulator", "cqc", "") + "]}";
}

std::string Receipt(const std::string& id) {
  return R"({"type":"referral.received","referral_id":")" + id +
         R"(","occurred_at":"2025-01-01T00:00:00Z","data":{"person":"p0000001a","area":"E08000002","referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}})";
}

// One ledgerd in process: a ledger, its projections, the service and the
// server, as a primary (with a hub) or a standby (with a copier).
struct Node {
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<projections::Projector> projector;
  std::unique_ptr<ReplicationHub> hub;
  std::unique_ptr<Standby> copier;
  std::unique_ptr<Service> service;
  std::unique_ptr<Server> server;

  void Open(const std::string& dir, const std::string& key) {
    ledger::LedgerOptions o;
    o.signing_key_file = key;
    auto l = ledger::Ledger::Open(dir, o);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ledger = std::move(l).value();
    auto p = projections::Projector::Open(ledger.get());
    ASSERT_TRUE(p.ok());
    projector = std::move(p).value();
    projector->Start();
  }
  void Serve(ServiceOptions so) {
    auto tokens = TokenStore::Parse(TokensJson());
    ASSERT_TRUE(tokens.ok());
    service =
        std::make_unique<Service>(ledger.get(), projector.get(), std::move(tokens).value(), so);
    ServerOptions o;
    o.port = 0;
    server = std::make_unique<Server>(service.get(), o);
    ASSERT_TRUE(server->Start().ok());
  }
  void Stop() {
    if (copier) copier->Stop();
    if (server) server->Stop();
    server.reset();
    service.reset();
    hub.reset();
  }
  ~Node() { Stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  http_client::Reply Call(const std::string& method, const std::string& target,
                          const std::string& token, const std::string& body = "") {
    http_client::Endpoint to;
    to.port = std::to_string(server->port());
    auto r = http_client::Call(to, {method, target, token, body});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http_client::Reply{};
  }
};

class Replication : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = dir_.path() + "/signing-key.pem";
    primary_.Open(dir_.path() + "/primary", key_);
    if (HasFatalFailure()) return;
    ReplicationOptions r;
    r.standbys = {kStandbyName};
    r.credential_of[kStandbyName] = "copier";  // ledgerd --standby copier=URL
    r.mode = mode_;
    // Long enough that a loaded machine's standby confirms in time (one
    // test waits for it to pass, once).
    r.sync_wait = std::chrono::milliseconds(1500);
    primary_.hub = std::make_unique<ReplicationHub>(primary_.ledger.get(), r);
    ServiceOptions so;
    so.replication = primary_.hub.get();
    primary_.Serve(so);
    if (HasFatalFailure()) return;
    standby_.Open(dir_.path() + "/standby", key_);  // the primary's key
    if (HasFatalFailure()) return;
    StandbyOptions s;
    s.primary = primary_.url();
    s.token = "copier";
    s.advertise = kStandbyName;
    s.wait = std::chrono::milliseconds(200);
    s.retry = std::chrono::milliseconds(50);
    auto copier = Standby::Open(standby_.ledger.get(), s);
    ASSERT_TRUE(copier.ok()) << copier.status().ToString();
    standby_.copier = std::move(copier).value();
    ServiceOptions sso;
    sso.standby = standby_.copier.get();
    standby_.Serve(sso);
    if (HasFatalFailure()) return;
    standby_.copier->Start();
  }
  // Waits until the standby holds `size` events (or 5 s pass).
  void WaitCopied(uint64_t size) {
    for (int i = 0; i < 500 && standby_.ledger->Size() < size; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  ReplicationMode mode_ = ReplicationMode::kSync;  // derived fixtures may change it
  TempDir dir_;
  std::string key_;
  Node primary_, standby_;
};

TEST_F(Replication, AStandbyHoldsTheSameBytesAndServesTheSameViews) {
  for (int i = 0; i < 40; ++i) {
    const http_client::Reply r =
        primary_.Call("POST", "/v1/events", "brum", Receipt("s" + std::to_string(i)));
    ASSERT_EQ(r.status, 201u) << r.body << " standby: " << standby_.copier->State().error;
    // Sync: answered once the standby holds it.
    const uint64_t seq = json::parse(r.body).at("seq").to_number<uint64_t>();
    EXPECT_GE(standby_.ledger->Size(), seq);
  }
  WaitCopied(40);
  ASSERT_EQ(standby_.ledger->Size(), 40u);
  for (uint64_t seq = 1; seq <= 40; ++seq) {
    EXPECT_EQ(*standby_.ledger->GetCanonicalBytes(seq), *primary_.ledger->GetCanonicalBytes(seq));
    EXPECT_EQ(standby_.ledger->GetEvent(seq)->hash, primary_.ledger->GetEvent(seq)->hash);
  }
  EXPECT_EQ(standby_.ledger->Head().root, primary_.ledger->Head().root);
  // The views, once both projections are current, are the same answers.
  for (const char* view :
       {"/v1/fairness", "/v1/areas/E08000002/waiting-times", "/v1/referrals/s7"}) {
    const http_client::Reply a = primary_.Call("GET", view, "cqc");
    const http_client::Reply b = standby_.Call("GET", view, "cqc");
    ASSERT_EQ(a.status, 200u) << view;
    EXPECT_EQ(json::parse(b.body), json::parse(a.body)) << view;
  }
  // Writes on the standby: 503 naming the primary, nothing appended.
  const http_client::Reply w = standby_.Call("POST", "/v1/events", "brum", Receipt("x"));
  EXPECT_EQ(w.status, 503u);
  EXPECT_NE(w.body.find(primary_.url()), std::string::npos) << w.body;
  EXPECT_EQ(standby_.ledger->Size(), 40u);
  // Each says what it is.
  json::value ph = json::parse(primary_.Call("GET", "/healthz", "").body);
  EXPECT_EQ(ph.at("role"), "primary");
  EXPECT_EQ(ph.at("standbys").at(0).at("url"), kStandbyName);
  json::value sh = json::parse(standby_.Call("GET", "/healthz", "").body);
  EXPECT_EQ(sh.at("role"), "standby");
  EXPECT_EQ(sh.at("primary").as_string(), primary_.url());
  EXPECT_NE(standby_.Call("GET", "/metrics", "").body.find("ledger_standby_stopped 0"),
            std::string::npos);
}

TEST_F(Replication, ASyncAppendIs503WhenNoStandbyConfirmsAndNothingIsPublishedPastIt) {
  ASSERT_EQ(primary_.Call("POST", "/v1/events", "brum", Receipt("a")).status, 201u);
  WaitCopied(1);
  standby_.Stop();  // gone
  const auto start = std::chrono::steady_clock::now();
  const http_client::Reply r = primary_.Call("POST", "/v1/events", "brum", Receipt("b"));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_NE(r.body.find("no standby confirmed it in time"), std::string::npos) << r.body;
  EXPECT_GE(waited, std::chrono::milliseconds(350));
  EXPECT_LT(waited, std::chrono::seconds(5));  // never hangs
  // It is on the primary all the same; the published checkpoint stays at
  // the tree the standby holds.
  EXPECT_EQ(primary_.ledger->Size(), 2u);
  const std::string checkpoint = primary_.Call("GET", "/log/checkpoint", "").body;
  EXPECT_NE(checkpoint.find("\n1\n"), std::string::npos) << checkpoint;
  EXPECT_NE(
      primary_.Call("GET", "/metrics", "")
          .body.find("ledger_standby_lag_events{standby=\"" + std::string(kStandbyName) + "\"} 1"),
      std::string::npos);
  // Only the standby's own credential confirms for it: a regulator naming
  // it does not.
  auto confirmed = [&] {
    return json::parse(primary_.Call("GET", "/healthz", "").body)
        .at("standbys")
        .at(0)
        .at("confirmed")
        .to_number<uint64_t>();
  };
  const std::string spoof = "/v1/replication/events?after=2&standby=" + std::string(kStandbyName);
  EXPECT_EQ(primary_.Call("GET", spoof, "cqc").status, 200u);
  EXPECT_EQ(confirmed(), 1u);
  EXPECT_EQ(primary_.Call("GET", spoof, "copier").status, 200u);
  EXPECT_EQ(confirmed(), 2u);
}

// A hub that goes while a standby's long poll waits answers it, and the
// answer may ask the hub for its term (as the service's does).
TEST(ReplicationHubAlone, AnswersWhoWaitsWhenItGoes) {
  TempDir dir;
  auto l = ledger::Ledger::Open(dir.path());
  ASSERT_TRUE(l.ok());
  auto hub = std::make_unique<ReplicationHub>(l->get(), ReplicationOptions{});
  std::atomic<bool> answered{false};
  ReplicationHub* raw = hub.get();
  hub->WaitForEvents(0, std::chrono::seconds(30), [&] {
    EXPECT_EQ(raw->term(), 0u);
    answered = true;
  });
  const auto start = std::chrono::steady_clock::now();
  hub.reset();
  EXPECT_TRUE(answered);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// A request's events are never split between two answers: a standby that
// keeps one answer and never gets the next (its primary killed) holds each
// request whole or not at all.
TEST_F(Replication, AnAnswerNeverEndsInsideARequest) {
  std::string batch = R"({"events":[)";
  for (int i = 0; i < 10; ++i) batch += (i ? "," : "") + Receipt("b" + std::to_string(i));
  batch += "]}";
  ASSERT_EQ(primary_.Call("POST", "/v1/events/batch", "brum", batch).status, 201u);
  ASSERT_EQ(primary_.Call("POST", "/v1/events", "brum", Receipt("single")).status, 201u);
  for (uint64_t after : {0, 3}) {
    const json::value a = json::parse(
        primary_
            .Call("GET", "/v1/replication/events?after=" + std::to_string(after) + "&limit=2",
                  "copier")
            .body);
    // The batch's events (seq 1..10) come whole, and the next request not.
    EXPECT_EQ(a.at("events").as_array().size(), 10 - after) << after;
    EXPECT_EQ(a.at("head"), 11);
  }
  const json::value last =
      json::parse(primary_.Call("GET", "/v1/replication/events?after=10&limit=2", "copier").body);
  EXPECT_EQ(last.at("events").as_array().size(), 1u);
}

// A "primary" that answers what the real one answers, altered on the way.
class Tampered : public Replication {
 protected:
  Tampered() { mode_ = ReplicationMode::kAsync; }
  // The standby of SetUp is not used: a second one copies through `proxy`.
  std::unique_ptr<Standby> CopierThrough(const std::string& ca, HttpsFiles* proxy,
                                         ledger::Ledger* into) {
    StandbyOptions s;
    s.primary = proxy->url();
    s.token = "copier";
    s.ca_file = ca;
    s.wait = std::chrono::milliseconds(100);
    s.retry = std::chrono::milliseconds(50);
    auto c = Standby::Open(into, s);
    EXPECT_TRUE(c.ok());
    return c.ok() ? std::move(c).value() : nullptr;
  }
};

TEST_F(Tampered, AStandbyStopsAtAnAlteredEventOrAForgedHistoryAndKeepsNothingOfIt) {
  standby_.Stop();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(primary_.Call("POST", "/v1/events", "brum", Receipt("t" + std::to_string(i))).status,
              201u);
  }
  const std::string ca = dir_.path() + "/ca";
  ASSERT_EQ(std::system((std::string(MAKE_TEST_CA) + " " + ca).c_str()), 0);
  const std::string genuine = primary_.Call("GET", "/v1/replication/events?after=0", "copier").body;
  ASSERT_NE(genuine.find("p0000001a"), std::string::npos);

  // A fork under the same key: other events, their own consistent hashes.
  Node fork;
  fork.Open(dir_.path() + "/fork", key_);
  ASSERT_FALSE(HasFatalFailure());
  fork.Serve({});
  ASSERT_FALSE(HasFatalFailure());
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(fork.Call("POST", "/v1/events", "brum", Receipt("f" + std::to_string(i))).status,
              201u);
  }
  json::value forged =
      json::parse(fork.Call("GET", "/v1/replication/events?after=0", "copier").body);
  forged.as_object()["checkpoint"] = json::parse(genuine).at("checkpoint");

  struct Case {
    std::string name, body, says;
  };
  std::string altered = genuine;
  altered.replace(altered.find("p0000001a"), 9, "p0000001b");  // one byte
  const std::vector<Case> cases = {
      {"one byte altered", altered, "seq 1"},
      {"a forged history with the genuine checkpoint", json::serialize(forged),
       "make a tree of root"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpsFiles proxy(ca + "/server.pem", ca + "/server.key");
    proxy.OnAny([&](const std::string&, const std::string&) {
      return HttpsFiles::Answer{200, "application/json", c.body};
    });
    TempDir into_dir;
    ledger::LedgerOptions o;
    o.signing_key_file = key_;
    auto into = ledger::Ledger::Open(into_dir.path(), o);
    ASSERT_TRUE(into.ok());
    auto copier = CopierThrough(ca + "/ca.pem", &proxy, into->get());
    ASSERT_TRUE(copier);
    copier->Start();
    for (int i = 0; i < 300 && !copier->State().stopped; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const StandbyState st = copier->State();
    EXPECT_TRUE(st.stopped);
    EXPECT_NE(st.error.find(c.says), std::string::npos) << st.error;
    EXPECT_EQ((*into)->Size(), 0u);  // nothing of it kept
  }
}

// `ledgerctl witness` on a free port, witnessing the log of `log_vkey`:
// its pid, URL and cosigner key (what ledgerd --witness takes).
struct WitnessRun {
  pid_t pid = -1;
  std::string url, vkey;
};
WitnessRun StartWitness(const std::string& dir, const std::string& log_vkey) {
  int out = -1;
  WitnessRun w;
  w.pid = ledger::testing::SpawnProgram(LEDGERCTL_PATH,
                                        {"witness", "--data", dir, "--name", "witness.example/w1",
                                         "--listen", "127.0.0.1:0", "--log", log_vkey},
                                        STDOUT_FILENO, &out);
  std::string text;
  char buf[512];
  for (ssize_t n; text.find("/add-checkpoint\n") == std::string::npos &&
                  (n = ::read(out, buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(out);
  const size_t key = text.find("cosigner key: "), at = text.find("listening on ");
  if (key == std::string::npos || at == std::string::npos) return w;
  w.vkey = text.substr(key + 14, text.find('\n', key) - key - 14);
  w.url = text.substr(at + 13, text.find("/add-checkpoint", at) - at - 13);
  return w;
}

// The operator's control socket: its owner's alone, one command line in
// and one JSON line out, bounded commands, and gone when it closes.
TEST(ControlSocketAlone, AnswersOneLineAndRefusesWhatIsNotACommand) {
  TempDir dir;
  const std::string path = dir.path() + "/ledgerd.sock";
  std::vector<std::string> heard;
  auto opened = ControlSocket::Open(path, [&](std::string_view command) {
    heard.emplace_back(command);
    return std::string(R"({"heard":")") + std::string(command) + "\"}";
  });
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Sends `bytes`, then reads until the peer closes.
  auto exchange = [&](const std::string& bytes) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, n);
    ::close(fd);
    return out;
  };
  EXPECT_EQ(exchange("status\n"), "{\"heard\":\"status\"}\n");
  EXPECT_EQ(exchange("promote\nstatus\n"), "{\"heard\":\"promote\"}\n");  // one per connection
  EXPECT_NE(exchange(std::string(200, 'x')).find("one short line"), std::string::npos);
  EXPECT_EQ(heard, (std::vector<std::string>{"status", "promote"}));
  opened->reset();
  EXPECT_FALSE(std::filesystem::exists(path));

  // A path a Unix socket cannot have, and a file that is not a socket.
  EXPECT_EQ(ControlSocket::Open("/tmp/" + std::string(120, 'a'), nullptr).status().code(),
            ledger::Code::kInvalidArgument);
  std::ofstream(dir.path() + "/file") << "keep me";
  EXPECT_FALSE(ControlSocket::Open(dir.path() + "/file", nullptr).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/file"));
  // A socket left by a ledgerd that died is replaced.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  auto again = ControlSocket::Open(path, [](std::string_view) { return std::string("{}"); });
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(exchange("status\n"), "{}\n");
}

// Failover with the ledgerd binary: a primary in sync mode killed under
// load, its standby promoted (`ledgerctl promote`); every acknowledged event is on the
// new primary with its seq and hash; the former primary, back with its old
// data and key, is fenced: it takes no appends. A witness cosigns the new
// primary's checkpoints, and refuses (keeping the evidence) those of the
// former primary once it appends on its own. Restarted with its stale
// --standby-of, the promoted ledger stops rather than copy from the former
// primary.
TEST(Failover, EveryAcknowledgedEventSurvivesAndTheFormerPrimaryIsFenced) {
  TempDir dir;
  const std::string tokens = dir.path() + "/tokens.json", key = dir.path() + "/key.pem";
  std::ofstream(tokens) << TokensJson();
  auto signer = ledger::Signer::LoadOrCreate(key);
  ASSERT_TRUE(signer.ok());
  const WitnessRun witness = StartWitness(
      dir.path() + "/w",
      ledger::note::VerifierKey(ledger::note::kDefaultOrigin, (*signer)->public_key()));
  ASSERT_FALSE(witness.url.empty());
  const std::string witness_flag = "w1," + witness.url + "," + witness.vkey;
  const uint16_t p_port = http_client::FreeLoopbackPort(), s_port = http_client::FreeLoopbackPort();
  const std::string p_url = "http://127.0.0.1:" + std::to_string(p_port);
  const std::string s_url = "http://127.0.0.1:" + std::to_string(s_port);
  // ledgerd's arguments: `common` and then, flag by flag, `more`.
  auto args = [&](const std::string& data, std::vector<std::string> more) {
    std::vector<std::string> out = {"--data",
                                    dir.path() + "/" + data,
                                    "--tokens",
                                    tokens,
                                    "--signing-key",
                                    key,
                                    "--append-rate",
                                    "0",
                                    "--witness",
                                    witness_flag,
                                    "--checkpoint-interval-ms",
                                    "50"};
    out.insert(out.end(), more.begin(), more.end());
    return out;
  };
  const std::vector<std::string> primary_args =
      args("p", {"--port", std::to_string(p_port), "--standby", "copier=" + s_url,
                 "--replication-wait-ms", "5000"});
  auto primary = std::make_unique<ledger::testing::LedgerdProcess>(LEDGERD_PATH, primary_args);
  ASSERT_EQ(primary->port(), p_port) << primary->log();
  const std::vector<std::string> standby_args =
      args("s", {"--port", std::to_string(s_port), "--standby-of", p_url, "--token", "copier",
                 "--advertise", s_url});
  auto standby = std::make_unique<ledger::testing::LedgerdProcess>(LEDGERD_PATH, standby_args);
  ASSERT_EQ(standby->port(), s_port) << standby->log();
  // ledgerctl COMMAND on a data directory: its exit code and output.
  auto ledgerctl = [&](const std::string& command, const std::string& data) {
    std::string out;
    FILE* p = popen((std::string(LEDGERCTL_PATH) + " " + command + " --data " + dir.path() + "/" +
                     data + " 2>&1")
                        .c_str(),
                    "r");
    char buf[4096];
    for (size_t n; p && (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int status = p ? pclose(p) : -1;
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
  };
  {
    auto [code, out] = ledgerctl("status", "s");
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find(R"("role":"standby")"), std::string::npos) << out;
    EXPECT_NE(out.find(R"("primary":")" + p_url), std::string::npos) << out;
  }

  auto call = [](uint16_t port, const std::string& method, const std::string& target,
                 const std::string& token, const std::string& body = "") {
    http_client::Endpoint to;
    to.port = std::to_string(port);
    to.timeout = std::chrono::seconds(10);
    auto r = http_client::Call(to, {method, target, token, body});
    return r.ok() ? *r : http_client::Reply{};
  };
  // A JSON answer's body, or null (no answer, or not JSON).
  auto body = [](const http_client::Reply& r) {
    json::error_code ec;
    json::value v = json::parse(r.body, ec);
    return ec || !v.is_object() ? json::value(json::object{}) : v;
  };
  std::mutex mu;
  std::map<uint64_t, std::string> acked;  // seq -> hash, as the 201s said
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        auto r = call(p_port, "POST", "/v1/events", "brum",
                      Receipt("c" + std::to_string(c) + "-" + std::to_string(i)));
        if (r.status != 201) continue;
        json::value v = json::parse(r.body);
        std::lock_guard lock(mu);
        acked[v.at("seq").to_number<uint64_t>()] = std::string(v.at("hash").as_string());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  primary->Kill();  // SIGKILL, mid-load
  stop = true;
  for (std::thread& t : clients) t.join();
  ASSERT_GT(acked.size(), 20u);

  {
    // The promotion answers once it is done.
    auto [code, out] = ledgerctl("promote", "s");
    ASSERT_EQ(code, 0) << out << standby->log();
    EXPECT_NE(out.find(R"("promoted":true,"term":1)"), std::string::npos) << out;
    auto h = call(s_port, "GET", "/healthz", "");
    EXPECT_EQ(body(h).as_object()["role"], "primary") << h.body;
    // Once is enough: a primary is not promoted again.
    std::tie(code, out) = ledgerctl("promote", "s");
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find("a primary already"), std::string::npos) << out;
  }
  // Every acknowledged event, at its seq with its hash.
  auto feed = call(s_port, "GET", "/v1/events?after=0&limit=10000", "cqc");
  ASSERT_EQ(feed.status, 200u);
  std::map<uint64_t, std::string> held;
  const json::value events = body(feed);
  ASSERT_TRUE(events.as_object().contains("events")) << feed.body.substr(0, 300);
  for (const json::value& e : events.at("events").as_array()) {
    held[e.at("seq").to_number<uint64_t>()] = std::string(e.at("hash").as_string());
  }
  for (const auto& [seq, hash] : acked) {
    ASSERT_TRUE(held.count(seq)) << "acknowledged seq " << seq << " is not on the new primary";
    EXPECT_EQ(held[seq], hash) << seq;
  }
  // The new primary takes appends.
  EXPECT_EQ(call(s_port, "POST", "/v1/events", "brum", Receipt("after-failover")).status, 201u);
  EXPECT_EQ(body(call(s_port, "GET", "/healthz", "")).as_object()["term"], 1);

  // The former primary, back with its data and key as it was configured:
  // it finds its standby promoted, and takes no appends.
  primary.reset();
  primary = std::make_unique<ledger::testing::LedgerdProcess>(LEDGERD_PATH, primary_args);
  ASSERT_EQ(primary->port(), p_port) << primary->log();
  auto refused = call(p_port, "POST", "/v1/events", "brum", Receipt("split-brain"));
  EXPECT_EQ(refused.status, 503u);
  EXPECT_NE(refused.body.find("has been promoted"), std::string::npos) << refused.body;
  EXPECT_EQ(body(call(p_port, "GET", "/healthz", "")).as_object()["status"], "fenced");
  // The new primary goes on (it names no standby yet: nothing holds back
  // its answers or what it publishes).
  EXPECT_EQ(call(s_port, "POST", "/v1/events", "brum", Receipt("still-primary")).status, 201u);

  // The witness cosigns the new primary's checkpoints.
  const uint64_t new_size = held.size() + 2;
  auto published = [&](uint16_t port) -> uint64_t {
    auto r = call(port, "GET", "/log/checkpoint", "");
    auto n = ledger::note::Parse(r.body);
    auto c = n.ok() ? ledger::note::ParseCheckpointText(n->text)
                    : ledger::Result<ledger::note::Checkpoint>(n.status());
    return r.status == 200 && c.ok() ? c->size : 0;
  };
  uint64_t cosigned = 0;
  for (int i = 0; i < 300 && cosigned < new_size; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    cosigned = published(s_port);
  }
  EXPECT_EQ(cosigned, new_size);

  // The former primary, cut off from its standby (started without it) and
  // appending on its own: a fork, which the witness refuses and keeps.
  primary.reset();
  std::vector<std::string> alone = args("p", {"--port", std::to_string(p_port)});
  primary = std::make_unique<ledger::testing::LedgerdProcess>(LEDGERD_PATH, alone);
  ASSERT_EQ(primary->port(), p_port) << primary->log();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        call(p_port, "POST", "/v1/events", "brum", Receipt("fork" + std::to_string(i))).status,
        201u);
  }
  std::string evidence;
  for (int i = 0; i < 200 && evidence.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    FILE* p = popen(
        (std::string(LEDGERCTL_PATH) + " witness evidence --data " + dir.path() + "/w 2>/dev/null")
            .c_str(),
        "r");
    char buf[4096];
    for (size_t n; p && (n = fread(buf, 1, sizeof buf, p)) > 0;) evidence.append(buf, n);
    if (p) pclose(p);
  }
  EXPECT_FALSE(evidence.empty()) << primary->log();
  // The promoted ledger's published checkpoint is still its own.
  EXPECT_GE(published(s_port), new_size);

  // The promoted ledger restarted with its old configuration, a standby of
  // the former primary (term 0): it copies nothing and says why.
  standby.reset();
  standby = std::make_unique<ledger::testing::LedgerdProcess>(LEDGERD_PATH, standby_args);
  ASSERT_EQ(standby->port(), s_port) << standby->log();
  http_client::Reply health;
  for (int i = 0; i < 200 && health.status != 503; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    health = call(s_port, "GET", "/healthz", "");
  }
  EXPECT_EQ(health.status, 503u) << health.body;
  EXPECT_NE(health.body.find("a former primary"), std::string::npos) << health.body;
  EXPECT_EQ(body(call(s_port, "GET", "/healthz", "")).as_object()["size"], new_size);
  EXPECT_EQ(ledgerctl("promote", "p").first, 1);  // a primary (fenced or not) is not promoted
  ::kill(witness.pid, SIGTERM);
  ::waitpid(witness.pid, nullptr, 0);
}

}  // namespace
}  // namespace api
