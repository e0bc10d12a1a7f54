// The Http fixture: the real server on a real socket over a ledger in a
// temporary directory, with one credential of each role and scope, and a
// client that sends one request per connection. Shared by the HTTP suites.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <memory>
#include <string>

#include "api/oidc.h"
#include "api/server.h"
#include "api/service.h"
#include "http_client.h"
#include "jwt_util.h"
#include "ledger/ledger.h"
#include "projections/projector.h"
#include "test_util.h"

namespace api::testing {

namespace json = boost::json;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

constexpr const char* kPartnership = "token-partnership-example";
constexpr const char* kOtherPartnership = "token-partnership-elsewhere";
constexpr const char* kRegulator = "token-regulator";
constexpr const char* kProvider = "token-provider";
constexpr const char* kAuditor = "token-auditor";
constexpr const char* kOtherProvider = "token-provider-elsewhere";

inline std::string TokensFile() {
  auto entry = [](const char* name, const char* role, const char* token, const char* extra) {
    return std::string("{\"name\":\"") + name + "\",\"role\":\"" + role + "\",\"sha256\":\"" +
           ledger::ToHex(ledger::Sha256(token)) + "\"" + extra + "}";
  };
  return "{\"tokens\":[" +
         entry("example-partnership", "partnership", kPartnership,
               ",\"areas\":[\"E08000002\",\"E08000034\",\"E09000017\",\"E10000012\"]") +
         "," + entry("elsewhere", "partnership", kOtherPartnership, ",\"areas\":[\"E06000001\"]") +
         "," + entry("regulator", "regulator", kRegulator, "") + "," +
         entry("provider", "provider", kProvider, ",\"providers\":[\"1-1731644238\"]") + "," +
         entry("provider-elsewhere", "provider", kOtherProvider,
               ",\"providers\":[\"1-9999999999\"]") +
         "," + entry("auditor", "auditor", kAuditor, "") + "]}";
}

// The identity provider the fixture's service trusts (OpenID Connect, with
// its keys from a JWKS file), beside the tokens file.
constexpr const char* kTestIssuer = "https://idp.test.example";
constexpr const char* kTestAudience = "rehab-access-ledger";

inline const SigningKey& TestIdpKey() {
  static const SigningKey key(SigningKey::kEc, "idp-key-1");
  return key;
}

// A JWT of the test identity provider with the role and scope of the
// tokens file's credential for `token`: the same person signed in through
// their organisation (valid for ten minutes).
inline std::string JwtLike(const char* token) {
  auto store = TokenStore::Parse(TokensFile());
  const Credential* c = store->Authenticate(token);
  if (!c) return "";
  json::array areas(c->areas.begin(), c->areas.end());
  json::array providers(c->providers.begin(), c->providers.end());
  return TestIdpKey().Sign({{"iss", kTestIssuer},
                            {"aud", kTestAudience},
                            {"sub", "sso-" + c->name},
                            {"name", c->name + " (sso)"},
                            {"exp", NowSeconds() + 600},
                            {"roles", json::array{ToString(c->role)}},
                            {"areas", std::move(areas)},
                            {"providers", std::move(providers)}});
}

struct Reply {
  unsigned status = 0;
  std::string content_type;
  json::value body;  // null when the body is not JSON
  std::string text;  // the body as sent
  http_client::Reply raw;
  // The value of header `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const { return raw.Header(name); }
};

// The service over a ledger in a temporary directory, with the credentials
// of TokensFile(); derived fixtures may change service_options_ first.
class ServiceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = ledger::Ledger::Open(dir_.path());
    ASSERT_TRUE(opened.ok());
    ledger_ = std::move(opened).value();
    auto p = projections::Projector::Open(ledger_.get());
    ASSERT_TRUE(p.ok());
    projector_ = std::move(p).value();
    projector_->Start();
    auto tokens = TokenStore::Parse(TokensFile());
    ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
    service_ = std::make_unique<Service>(ledger_.get(), projector_.get(), std::move(tokens).value(),
                                         service_options_);
    const std::string jwks = idp_dir_.path() + "/jwks.json";
    std::ofstream(jwks) << Jwks({&TestIdpKey()});
    OidcOptions oidc;
    oidc.issuers = {kTestIssuer};
    oidc.audiences = {kTestAudience};
    oidc.jwks_file = jwks;
    auto verifier = OidcVerifier::Open(oidc);
    ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
    service_->ReloadOidc(std::move(verifier).value());
  }

  ServiceOptions service_options_;
  ledger::testing::TempDir dir_, idp_dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<projections::Projector> projector_;
  std::unique_ptr<Service> service_;
};

// The same service behind the real server on a real socket.
class Http : public ServiceFixture {
 protected:
  void SetUp() override {
    ServiceFixture::SetUp();
    if (HasFatalFailure()) return;
    options_.port = 0;
    server_ = std::make_unique<Server>(service_.get(), options_);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  Reply Send(http::verb method, const std::string& target, const std::string& token,
             const std::string& body = "", const std::string& content_type = "application/json") {
    http_client::Endpoint to;
    to.port = std::to_string(server_->port());
    to.body_limit = 64 << 20;
    ledger::Result<http_client::Reply> got = http_client::Call(
        to, {std::string(http::to_string(method)), target, token, body, content_type});
    if (!got.ok()) {
      ADD_FAILURE() << target << ": " << got.status().ToString();
      return Reply{};
    }
    Reply r;
    r.status = got->status;
    r.content_type = got->Header("Content-Type");
    r.text = got->body;
    json::error_code jec;
    r.body = json::parse(r.text, jec);
    r.raw = std::move(got).value();
    return r;
  }
  Reply Get(const std::string& target, const std::string& token = kRegulator) {
    return Send(http::verb::get, target, token);
  }
  Reply Post(const std::string& body, const std::string& token = kPartnership,
             const std::string& target = "/v1/events") {
    return Send(http::verb::post, target, token, body);
  }

  ServerOptions options_;  // derived fixtures may change it before SetUp
  net::io_context ioc_;    // for raw streams a test opens itself
  std::unique_ptr<Server> server_;
};

}  // namespace api::testing
