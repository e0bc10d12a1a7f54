// OpenID Connect bearer tokens (api/oidc.h): JWTs signed by keys the test
// generates, checked by the verifier alone, through the real server on a
// real socket, with keys fetched from a local https identity provider, and
// through the ledgerd binary with its flags and SIGHUP.
#include "api/oidc.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "http_fixture.h"
#include "https_files.h"
#include "jwt_util.h"
#include "ledgerd_process.h"
#include "test_util.h"

namespace api {
namespace {

using namespace api::testing;  // NOLINT: the fixture, its tokens and the JWT helpers

// A referral.received body for `id`, in E08000002.
std::string Receipt(const std::string& id) {
  return R"({"type":"referral.received","referral_id":")" + id +
         R"(","occurred_at":"2025-01-01T00:00:00Z","data":{"person":"p0000001a","area":"E08000002","referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}})";
}

int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A verifier trusting kTestIssuer's three keys (RS256, ES256, EdDSA) from
// a JWKS file.
class Oidc : public ::testing::Test {
 protected:
  Oidc()
      : rsa_(SigningKey::kRsa, "rsa-1"),
        ec_(SigningKey::kEc, "ec-1"),
        ed_(SigningKey::kEd25519, "ed-1") {}

  std::unique_ptr<OidcVerifier> Verifier(const std::string& claims_file = "") {
    std::ofstream(dir_.path() + "/jwks.json") << Jwks({&rsa_, &ec_, &ed_});
    OidcOptions o;
    o.issuers = {kTestIssuer};
    o.audiences = {kTestAudience};
    o.jwks_file = dir_.path() + "/jwks.json";
    o.claims_file = claims_file;
    auto v = OidcVerifier::Open(o);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v).value() : nullptr;
  }
  // A partnership's claims, valid now.
  json::object Claims() const {
    return {{"iss", kTestIssuer},
            {"aud", json::array{"another-api", kTestAudience}},
            {"sub", "00u1abcd"},
            {"name", "kirklees-commissioning"},
            {"iat", NowSeconds()},
            {"exp", NowSeconds() + 300},
            {"roles", json::array{"partnership"}},
            {"areas", json::array{"E08000034"}}};
  }

  ledger::testing::TempDir dir_;
  SigningKey rsa_, ec_, ed_;
};

TEST_F(Oidc, AcceptsTokensSignedWithEachAlgorithmAsACredentialOfTheirClaims) {
  auto v = Verifier();
  ASSERT_TRUE(v);
  for (const SigningKey* key : {&rsa_, &ec_, &ed_}) {
    const Authenticated a = v->Verify(key->Sign(Claims()));
    ASSERT_TRUE(a.credential) << key->alg() << ": " << a.refusal;
    EXPECT_EQ(a.credential->role, Role::kPartnership);
    EXPECT_EQ(a.credential->areas, std::set<std::string>{"E08000034"});
    EXPECT_EQ(a.credential->Actor(), "partnership:kirklees-commissioning");
    EXPECT_EQ(a.credential->issuer, kTestIssuer);
  }
  // Without a name claim, the subject names the actor; a regulator's
  // scope claims are not read.
  json::object c = Claims();
  c.erase("name");
  c["roles"] = "regulator";
  c["areas"] = "not an area";
  const Authenticated a = v->Verify(ec_.Sign(c));
  ASSERT_TRUE(a.credential) << a.refusal;
  EXPECT_EQ(a.credential->Actor(), "regulator:00u1abcd");
  // Without a kid, a key of the alg's type that verifies it.
  EXPECT_TRUE(v->Verify(ed_.Sign({{"alg", "EdDSA"}}, Claims())).credential);
}

TEST_F(Oidc, RefusesEachBadTokenWithItsReasonAndNeverEchoesIt) {
  auto v = Verifier();
  ASSERT_TRUE(v);
  const int64_t now = NowSeconds();
  auto with = [&](const char* claim, json::value value) {
    json::object c = Claims();
    if (value.is_null()) {
      c.erase(claim);
    } else {
      c[claim] = std::move(value);
    }
    return ec_.Sign(c);
  };
  const std::string good = rsa_.Sign(Claims());
  const size_t dot = good.find('.'), dot2 = good.rfind('.');
  // The payload of another token, with the first's header and signature.
  json::object regulator = Claims();
  regulator["roles"] = json::array{"regulator"};
  const std::string other = rsa_.Sign(regulator);
  const std::string tampered = good.substr(0, dot) +
                               other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                               good.substr(dot2);
  const std::string unsigned_token =
      Base64Url(R"({"alg":"none","typ":"JWT"})") + "." + Base64Url(json::serialize(Claims())) + ".";
  const std::string rsa_public = json::serialize(rsa_.Jwk());
  SigningKey stranger(SigningKey::kEc, "ec-1");  // a kid the issuer has, a key it has not
  SigningKey unknown(SigningKey::kEc, "ec-9");
  json::object crit_header{{"alg", "ES256"}, {"kid", "ec-1"}, {"crit", json::array{"exp"}}};
  json::object two_roles = Claims();
  two_roles["roles"] = json::array{"partnership", "regulator"};
  json::object no_role = Claims();
  no_role["roles"] = json::array{"admin"};
  json::object bad_area = Claims();
  bad_area["areas"] = json::array{"Kirklees"};
  json::object long_name = Claims();
  long_name["name"] = std::string(101, 'x');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {with("exp", now - 61), "the token has expired"},
      {with("exp", nullptr), "the token has no exp"},
      {with("nbf", now + 61), "the token is not valid yet (nbf)"},
      {with("iss", "https://idp.elsewhere.example"),
       "the token's issuer is not one this service trusts"},
      {with("aud", "another-api"), "the token is not for this service (its aud)"},
      {with("aud", nullptr), "the token is not for this service (its aud)"},
      {unknown.Sign(Claims()), "the token's signing key (its kid) is not one of its issuer's keys"},
      {stranger.Sign(Claims()), "the token's signature does not verify"},
      {tampered, "the token's signature does not verify"},
      {unsigned_token, "an unsigned token (alg none) is refused"},
      {SignHs256(rsa_public, Claims()), "a token signed with a shared secret (HMAC) is refused"},
      {rsa_.Sign({{"alg", "PS256"}, {"kid", "rsa-1"}}, Claims()),
       "the token's alg is not one of RS256, ES256 and EdDSA"},
      {ec_.Sign({{"alg", "RS256"}, {"kid", "ec-1"}}, Claims()),
       "the token's alg does not fit the key its kid names"},
      {ec_.Sign(crit_header, Claims()),
       "the token's header has critical extensions this service does not know"},
      {ec_.Sign(two_roles), "the token's roles claim names more than one role"},
      {ec_.Sign(no_role),
       "the token's roles claim names no role of this service (regulator, partnership, provider, "
       "auditor)"},
      {ec_.Sign(bad_area), "the token's areas claim holds an invalid value"},
      {ec_.Sign(long_name),
       "the token has no name claim of 1 to 100 characters without control characters"},
      {"abc.def", "the bearer token is not a JWT"},
      {"e30.e30.", "the token's header names no alg"},
  };
  for (const auto& [token, reason] : cases) {
    const Authenticated a = v->Verify(token);
    EXPECT_FALSE(a.credential) << reason;
    EXPECT_EQ(a.refusal, reason);
    // No part of the token comes back.
    for (size_t start = 0; start + 8 <= token.size(); start += 8) {
      EXPECT_EQ(a.refusal.find(token.substr(start, 8)), std::string::npos) << reason;
    }
  }
  // The leeway: 60 seconds either side.
  EXPECT_TRUE(v->Verify(with("exp", now - 50)).credential);
  EXPECT_TRUE(v->Verify(with("nbf", now + 50)).credential);
  // A token accepted once is refused once it has expired.
  const std::string soon = with("exp", now + 10);
  EXPECT_TRUE(v->Verify(soon, now).credential);
  EXPECT_EQ(v->Verify(soon, now + 71).refusal, "the token has expired");
}

TEST_F(Oidc, AClaimsFileMapsAnOrganisationsClaimsToRolesAndScope) {
  const std::string claims = dir_.path() + "/claims.json";
  std::ofstream(claims) << R"({"roles": "realm_access.roles",
    "role_values": {"provider": ["Rehab.Provider"], "regulator": ["Ledger.Inspector", "Ledger.Lead"]},
    "providers": "https://ledger.example/providers", "name": ["preferred_username", "sub"]})";
  auto v = Verifier(claims);
  ASSERT_TRUE(v);
  json::object c = Claims();
  c["realm_access"] = json::object{{"roles", json::array{"offline_access", "Rehab.Provider"}}};
  c["https://ledger.example/providers"] = json::array{"1-1731644238"};
  c["preferred_username"] = "provider-north";
  Authenticated a = v->Verify(rsa_.Sign(c));
  ASSERT_TRUE(a.credential) << a.refusal;
  EXPECT_EQ(a.credential->role, Role::kProvider);
  EXPECT_EQ(a.credential->providers, std::set<std::string>{"1-1731644238"});
  EXPECT_EQ(a.credential->Actor(), "provider:provider-north");
  // The plain role names mean nothing once values are mapped.
  EXPECT_FALSE(v->Verify(rsa_.Sign(Claims())).credential);

  // A bad claims file is refused, naming what is wrong.
  for (const char* bad :
       {R"({"roles": 3})", R"({"role_values": {"admin": ["x"]}})", R"({"colour": "red"})", "[]"}) {
    std::ofstream(claims) << bad;
    OidcOptions o = v->options();
    EXPECT_FALSE(OidcVerifier::Open(o).ok()) << bad;
  }
}

TEST_F(Oidc, OptionsAndKeySetsThatCannotWorkAreRefusedAtOpen) {
  OidcOptions o;
  o.audiences = {kTestAudience};
  EXPECT_FALSE(OidcVerifier::Open(o).ok());  // no issuer
  o.issuers = {"http://idp.test.example"};
  EXPECT_FALSE(OidcVerifier::Open(o).ok());  // not https
  o.issuers = {kTestIssuer};
  o.audiences.clear();
  EXPECT_FALSE(OidcVerifier::Open(o).ok());  // no audience
  o.audiences = {kTestAudience};
  o.jwks_file = dir_.path() + "/jwks.json";
  for (const std::string& jwks :
       {std::string("{}"), std::string(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})"),
        std::string(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]})")}) {
    std::ofstream(o.jwks_file) << jwks;
    EXPECT_FALSE(OidcVerifier::Open(o).ok()) << jwks;
  }
  // A small RSA key is refused.
  EVP_PKEY* small = EVP_RSA_gen(1024);
  BIGNUM* n = nullptr;
  EVP_PKEY_get_bn_param(small, OSSL_PKEY_PARAM_RSA_N, &n);
  std::string bytes(static_cast<size_t>(BN_num_bytes(n)), '\0');
  BN_bn2bin(n, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(n);
  EVP_PKEY_free(small);
  std::ofstream(o.jwks_file) << R"({"keys":[{"kty":"RSA","kid":"s","e":"AQAB","n":")" +
                                    Base64Url(bytes) + "\"}]}";
  auto refused = OidcVerifier::Open(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("under 2048 bits"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Through the real server on a real socket (the Http fixture trusts
// kTestIssuer's TestIdpKey()).

TEST_F(Http, AJwtIsACredentialLikeAStaticTokenAndA401SaysWhy) {
  const std::string jwt = JwtLike(kPartnership);
  Reply me = Get("/v1/me", jwt);
  ASSERT_EQ(me.status, 200u) << me.text;
  EXPECT_EQ(me.body.at("role"), "partnership");
  EXPECT_EQ(me.body.at("issuer"), kTestIssuer);
  EXPECT_EQ(me.body.at("actor"), "partnership:example-partnership (sso)");
  // The partnership's JWT writes a referral of its areas, reads it, and is
  // refused another area's, as the static token of the same scope is.
  ASSERT_EQ(Post(Receipt("j1"), jwt).status, 201u);
  EXPECT_EQ(Get("/v1/referrals/j1", jwt).status, 200u);
  EXPECT_EQ(Get("/v1/referrals/j1", JwtLike(kOtherPartnership)).status, 404u);
  std::string elsewhere = Receipt("j2");
  elsewhere.replace(elsewhere.find("E08000002"), 9, "E06000001");
  EXPECT_EQ(Post(elsewhere, jwt).status, 403u);
  // The event's actor is the JWT's.
  Reply events = Get("/v1/events?after=0");
  ASSERT_EQ(events.status, 200u);
  EXPECT_NE(events.text.find("partnership:example-partnership (sso)"), std::string::npos);

  // A token of an issuer not trusted: 401 with the reason, and the token
  // nowhere in the answer.
  SigningKey stranger(SigningKey::kEc, "idp-key-1");
  const std::string forged = stranger.Sign({{"iss", kTestIssuer},
                                            {"aud", kTestAudience},
                                            {"sub", "x"},
                                            {"exp", NowSeconds() + 600},
                                            {"roles", json::array{"regulator"}}});
  Reply refused = Get("/v1/fairness", forged);
  EXPECT_EQ(refused.status, 401u);
  EXPECT_EQ(refused.body.at("detail"), "the token's signature does not verify");
  EXPECT_EQ(refused.Header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(refused.text.find(forged.substr(forged.rfind('.') + 1)), std::string::npos);
  EXPECT_EQ(Get("/v1/fairness", "not-a-token").body.at("detail"), "the bearer token is not known");
  EXPECT_EQ(ledger_->Size(), 1u);
}

// ---------------------------------------------------------------------------
// Keys fetched from an identity provider over https.

class OidcProvider : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Shell(std::string(MAKE_TEST_CA) + " " + dir_.path() + "/ca"), 0);
    idp_ = std::make_unique<HttpsFiles>(dir_.path() + "/ca/server.pem",
                                        dir_.path() + "/ca/server.key");
    issuer_ = idp_->url() + "/realms/council";
    idp_->Set("/realms/council/.well-known/openid-configuration",
              json::serialize(json::object{{"issuer", issuer_},
                                           {"jwks_uri", idp_->url() + "/realms/council/certs"}}));
    idp_->Set("/realms/council/certs", Jwks({&k1_}));
  }
  OidcOptions Options() const {
    OidcOptions o;
    o.issuers = {issuer_};
    o.audiences = {kTestAudience};
    o.ca_file = dir_.path() + "/ca/ca.pem";
    o.refresh_interval = std::chrono::seconds(0);
    return o;
  }
  std::string Token(const SigningKey& key) const {
    return key.Sign({{"iss", issuer_},
                     {"aud", kTestAudience},
                     {"sub", "u1"},
                     {"exp", NowSeconds() + 300},
                     {"roles", json::array{"regulator"}}});
  }

  ledger::testing::TempDir dir_;
  std::unique_ptr<HttpsFiles> idp_;
  std::string issuer_;
  SigningKey k1_{SigningKey::kRsa, "k1"}, k2_{SigningKey::kEd25519, "k2"};
};

TEST_F(OidcProvider, KeysComeFromTheIssuersJwksUriAndAnUnknownKidFetchesThemAgain) {
  auto v = OidcVerifier::Open(Options());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)->KeyCount(issuer_), 1u);
  EXPECT_TRUE((*v)->Verify(Token(k1_)).credential);
  // The provider starts signing with a key it has not published yet.
  const Authenticated before = (*v)->Verify(Token(k2_));
  EXPECT_EQ(before.refusal, "the token's signing key (its kid) is not one of its issuer's keys");
  // It publishes the key: the next token with it fetches the keys again.
  idp_->Set("/realms/council/certs", Jwks({&k1_, &k2_}));
  const Authenticated after = (*v)->Verify(Token(k2_));
  EXPECT_TRUE(after.credential) << after.refusal;
  EXPECT_EQ((*v)->KeyCount(issuer_), 2u);
}

TEST_F(OidcProvider, MadeUpKidsFetchAtMostOncePerRefreshInterval) {
  OidcOptions o = Options();
  o.refresh_interval = std::chrono::seconds(3600);
  auto v = OidcVerifier::Open(o);
  ASSERT_TRUE(v.ok());
  const int fetched = idp_->Requests("/realms/council/certs");
  EXPECT_EQ(fetched, 1);
  for (int i = 0; i < 20; ++i) {
    SigningKey made_up(SigningKey::kEc, "made-up-" + std::to_string(i));
    EXPECT_FALSE((*v)->Verify(Token(made_up)).credential);
  }
  EXPECT_EQ(idp_->Requests("/realms/council/certs"), fetched);
}

TEST_F(OidcProvider, KeysAreFetchedOnlyFromAnHttpsProviderThatNamesItself) {
  // A provider whose certificate the verifier does not trust: no keys, and
  // tokens are refused as of an unknown key until it can fetch them.
  OidcOptions untrusted = Options();
  untrusted.ca_file.clear();
  auto v = OidcVerifier::Open(untrusted);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)->KeyCount(issuer_), 0u);
  EXPECT_FALSE((*v)->Verify(Token(k1_)).credential);
  // A discovery document naming another issuer, or a jwks_uri over http.
  for (const std::string& doc :
       {json::serialize(json::object{{"issuer", "https://elsewhere.example"},
                                     {"jwks_uri", idp_->url() + "/realms/council/certs"}}),
        json::serialize(
            json::object{{"issuer", issuer_}, {"jwks_uri", "http://127.0.0.1:1/certs"}})}) {
    idp_->Set("/realms/council/.well-known/openid-configuration", doc);
    auto w = OidcVerifier::Open(Options());
    ASSERT_TRUE(w.ok());
    EXPECT_EQ((*w)->KeyCount(issuer_), 0u) << doc;
  }
}

// The ledgerd binary: the flags, and SIGHUP reads the OpenID Connect
// settings again, keeping the ones in use when the new ones are bad.
TEST_F(OidcProvider, LedgerdTakesItsFlagsAndReloadsTheClaimsFileOnSighup) {
  std::ofstream(dir_.path() + "/tokens.json") << R"({"tokens":[]})";
  const std::string claims = dir_.path() + "/claims.json";
  std::ofstream(claims) << R"({"role_values": {"regulator": ["Inspector"]}})";
  ledger::testing::LedgerdProcess server(
      LEDGERD_PATH, {"--data", dir_.path() + "/ledger", "--tokens", dir_.path() + "/tokens.json",
                     "--oidc-issuer", issuer_, "--oidc-audience", kTestAudience, "--oidc-ca",
                     dir_.path() + "/ca/ca.pem", "--oidc-claims", claims, "--oidc-refresh-s", "0"});
  ASSERT_GT(server.port(), 0) << server.log();
  http_client::Endpoint to;
  to.port = std::to_string(server.port());
  auto me = [&](const std::string& role) {
    const std::string token = k1_.Sign({{"iss", issuer_},
                                        {"aud", kTestAudience},
                                        {"sub", "u1"},
                                        {"exp", NowSeconds() + 300},
                                        {"roles", json::array{role}}});
    auto r = http_client::Call(to, {"GET", "/v1/me", token, ""});
    return r.ok() ? r->status : 0u;
  };
  EXPECT_EQ(me("Inspector"), 200u);
  EXPECT_EQ(me("regulator"), 401u);
  // A bad claims file: refused, the mapping in use kept.
  std::ofstream(claims) << R"({"role_values": "everyone"})";
  server.Signal(SIGHUP);
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    logged = server.log().find("OpenID Connect settings refused") != std::string::npos;
  }
  EXPECT_TRUE(logged) << server.log();
  EXPECT_EQ(me("Inspector"), 200u);
  // A good one: taken.
  std::ofstream(claims) << R"({"role_values": {"regulator": ["Lead.Inspector"]}})";
  server.Signal(SIGHUP);
  bool taken = false;
  for (int i = 0; i < 100 && !taken; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    taken = me("Lead.Inspector") == 200u;
  }
  EXPECT_TRUE(taken) << server.log();
  EXPECT_EQ(me("Inspector"), 401u);
  EXPECT_EQ(server.Stop(), 0);
  // Never a token in the log.
  EXPECT_EQ(server.log().find("eyJ"), std::string::npos);
}

TEST(LedgerdOidc, RefusesOidcOptionsWithoutAnIssuerAndBadIssuers) {
  ledger::testing::TempDir dir;
  std::ofstream(dir.path() + "/tokens.json") << R"({"tokens":[]})";
  const std::vector<std::vector<std::string>> bad = {
      {"--oidc-audience", "x"},
      {"--oidc-issuer", "http://idp.example", "--oidc-audience", "x"},
      {"--oidc-issuer", "https://idp.example"},
      {"--oidc-issuer", "https://idp.example", "--oidc-audience", "x", "--oidc-refresh-s", "-1"},
  };
  for (const auto& extra : bad) {
    std::vector<std::string> args = {"--data", dir.path() + "/ledger", "--tokens",
                                     dir.path() + "/tokens.json"};
    args.insert(args.end(), extra.begin(), extra.end());
    ledger::testing::LedgerdProcess server(LEDGERD_PATH, args);
    EXPECT_EQ(server.port(), 0) << extra[0];
    const int status = server.Stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << extra[0];
  }
}

}  // namespace
}  // namespace api
