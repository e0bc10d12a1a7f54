// TLS on ledgerd's listener (docs/API.md, "TLS"): certificates from test
// CAs (tests/make_test_ca.sh); the server in process and the ledgerd
// binary; clients: the project's HTTP client and curl.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/server.h"
#include "api/service.h"
#include "http_client.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledgerd_process.h"
#include "projections/projector.h"
#include "test_util.h"

namespace {

// Runs a shell command; its exit code.
int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two CAs, each with a certificate for 127.0.0.1 it signed.
    for (const char* name : {"a", "b"}) {
      const std::string d = dir_.path() + "/" + name;
      std::filesystem::create_directories(d);
      ASSERT_EQ(Shell(std::string(MAKE_TEST_CA) + " " + d), 0);
    }
    cert_ = dir_.path() + "/server.pem";
    key_ = dir_.path() + "/server.key";
    Use("a");
    auto opened = ledger::Ledger::Open(dir_.path() + "/ledger");
    ASSERT_TRUE(opened.ok());
    ledger_ = std::move(opened).value();
    auto p = projections::Projector::Open(ledger_.get());
    ASSERT_TRUE(p.ok());
    projector_ = std::move(p).value();
    auto tokens =
        api::TokenStore::Parse(R"({"tokens":[{"name":"r","role":"regulator","sha256":")" +
                               ledger::ToHex(ledger::Sha256(std::string("tok"))) + R"("}]})");
    ASSERT_TRUE(tokens.ok());
    service_ =
        std::make_unique<api::Service>(ledger_.get(), projector_.get(), std::move(tokens).value());
    api::ServerOptions o;
    o.port = 0;
    o.tls_cert = cert_;
    o.tls_key = key_;
    server_ = std::make_unique<api::Server>(service_.get(), o);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  // Puts CA `name`'s server certificate and key where the server reads them.
  void Use(const std::string& name) {
    std::filesystem::copy_file(dir_.path() + "/" + name + "/server.pem", cert_,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(dir_.path() + "/" + name + "/server.key", key_,
                               std::filesystem::copy_options::overwrite_existing);
  }
  http_client::Endpoint To(const std::string& ca, uint16_t port = 0) {
    http_client::Endpoint to;
    to.port = std::to_string(port ? port : server_->port());
    to.tls = true;
    to.ca_file = dir_.path() + "/" + ca + "/ca.pem";
    to.timeout = std::chrono::seconds(5);
    return to;
  }
  std::string Curl(const std::string& options) {
    return "curl -s -o /dev/null -w '%{http_code}' " + options +
           " https://127.0.0.1:" + std::to_string(server_->port()) +
           "/v1/ledger/head -H 'Authorization: Bearer tok'";
  }

  ledger::testing::TempDir dir_;
  std::string cert_, key_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<projections::Projector> projector_;
  std::unique_ptr<api::Service> service_;
  std::unique_ptr<api::Server> server_;
};

TEST_F(Tls, ServedToClientsThatTrustItsCaOverTls12And13Only) {
  auto head = http_client::Call(To("a"), {"GET", "/v1/ledger/head", "tok", ""});
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 200u);
  // Another CA: the client refuses the server.
  auto other = http_client::Call(To("b"), {"GET", "/healthz", "", ""});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("certificate verify failed"), std::string::npos)
      << other.status().ToString();
  // curl: TLS 1.2 and 1.3 are served, 1.1 is not, nor a client without the CA.
  const std::string ca = "--cacert " + dir_.path() + "/a/ca.pem ";
  EXPECT_EQ(Shell(Curl(ca + "--tlsv1.2 --tls-max 1.2") + " | grep -q 200"), 0);
  EXPECT_EQ(Shell(Curl(ca + "--tlsv1.3") + " | grep -q 200"), 0);
  EXPECT_NE(Shell(Curl(ca + "--tlsv1.1 --tls-max 1.1") + " >/dev/null"), 0);
  EXPECT_NE(Shell(Curl("") + " >/dev/null"), 0);
  // Plain HTTP to a TLS listener gets no answer.
  http_client::Endpoint plain = To("a");
  plain.tls = false;
  auto clear = http_client::Call(plain, {"GET", "/healthz", "", ""});
  EXPECT_TRUE(!clear.ok() || clear->status != 200);
}

TEST_F(Tls, AReloadServesNewConnectionsWhileOldOnesGoOn) {
  auto old = http_client::Connection::Open(To("a"));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  ASSERT_EQ((*old)->Send({"GET", "/healthz", "", ""})->status, 200u);
  // A bad pair is refused, and the loaded one kept.
  std::ofstream(cert_, std::ios::trunc) << "not a certificate";
  EXPECT_FALSE(server_->ReloadTls().ok());
  EXPECT_TRUE(http_client::Call(To("a"), {"GET", "/healthz", "", ""}).ok());
  // CA b's certificate: new connections get it, the old one goes on.
  Use("b");
  ASSERT_TRUE(server_->ReloadTls().ok());
  EXPECT_FALSE(http_client::Call(To("a"), {"GET", "/healthz", "", ""}).ok());
  auto fresh = http_client::Call(To("b"), {"GET", "/healthz", "", ""});
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(fresh->status, 200u);
  auto again = (*old)->Send({"GET", "/healthz", "", ""});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200u);
}

// ledgerctl's server modes over https: the certificate checked against
// --ca, and refused without it.
TEST_F(Tls, LedgerctlSpeaksHttpsCheckingTheCertificate) {
  std::vector<ledger::AppendRequest> batch;
  for (int i = 0; i < 3; ++i) {
    batch.push_back(ledger::testing::Req("r" + std::to_string(i), ledger::testing::T(0),
                                         ledger::testing::Received()));
  }
  ASSERT_TRUE(ledger_->Append(batch, ledger::testing::Writer()).ok());
  const std::string write =
      std::string(LEDGERCTL_PATH) +
      " proof write --server https://127.0.0.1:" + std::to_string(server_->port()) +
      " --token tok --seq 2 --out " + dir_.path() + "/p.tlog-proof";
  EXPECT_EQ(Shell(write + " --ca " + dir_.path() + "/a/ca.pem >/dev/null 2>&1"), 0);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/p.tlog-proof"));
  EXPECT_EQ(Shell(write + " --ca " + dir_.path() + "/b/ca.pem >/dev/null 2>&1"), 2);
  EXPECT_EQ(Shell(write + " >/dev/null 2>&1"), 2);  // the system's roots do not hold the test CA
}

// The binary: --tls-cert/--tls-key, and SIGHUP reads them again.
TEST_F(Tls, LedgerdReadsItsCertificateAgainOnSighup) {
  std::ofstream(dir_.path() + "/tokens.json") << R"({"tokens":[]})";
  ledger::testing::LedgerdProcess server(
      LEDGERD_PATH, {"--data", dir_.path() + "/served", "--tokens", dir_.path() + "/tokens.json",
                     "--tls-cert", cert_, "--tls-key", key_});
  const uint16_t port = server.port();
  ASSERT_GT(port, 0) << "ledgerd did not listen: " << server.log();
  auto old = http_client::Connection::Open(To("a", port));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  Use("b");
  server.Signal(SIGHUP);
  bool switched = false;
  for (int i = 0; i < 100 && !switched; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    switched = http_client::Call(To("b", port), {"GET", "/healthz", "", ""}).ok();
  }
  EXPECT_TRUE(switched);
  EXPECT_EQ((*old)->Send({"GET", "/healthz", "", ""})->status, 200u);
  const int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(server.log().find("SIGHUP: TLS certificate and key read again"), std::string::npos)
      << server.log();
}

}  // namespace
