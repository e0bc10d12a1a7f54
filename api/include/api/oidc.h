// OpenID Connect bearer tokens (docs/OPERATIONS.md, "Signing in through an
// identity provider"): a JWT that an organisation's identity provider
// signed is a credential like a token of the tokens file, with its role and
// scope read from its claims.
//
// A token is accepted when all of these hold, checked in this order, and
// refused with the first that fails as the reason (never the token):
//   - it is a JWS in compact form whose header's alg is RS256, ES256 or
//     EdDSA (Ed25519); "none" and HMAC (HS256/384/512) are refused, and so
//     is a "crit" header, whose extensions this verifier does not know;
//   - its iss is one of the configured issuers;
//   - the header's kid names a key of that issuer (or, without a kid, a key
//     of the alg's type verifies it); an unknown kid makes the verifier
//     fetch the issuer's keys again, at most once per refresh interval;
//   - the signature verifies with that key;
//   - exp (required) and nbf (when present) hold with the leeway;
//   - aud (a string or an array) holds a configured audience;
//   - the claims map to exactly one role, a scope of valid area codes or
//     provider ids, and a name (ClaimMapping).
//
// Keys come from a JWKS file (--oidc-jwks, trusted for every issuer) or
// from each issuer's discovery document: https://ISSUER/.well-known/
// openid-configuration names a jwks_uri, both fetched over https only.
//
// Signatures are checked with OpenSSL directly and JWKs read with
// Boost.JSON: the JOSE library in Debian 12 (cjose 0.6, which liboauth2
// builds on) has no Ed25519 (OKP) keys, and EdDSA is required here.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/access.h"
#include "ledger/status.h"

namespace api {

struct OidcOptions {
  std::vector<std::string> issuers;    // https URLs, compared exactly with iss
  std::vector<std::string> audiences;  // a token's aud must hold one
  std::string jwks_file;               // keys for every issuer; no fetching
  std::string claims_file;             // a ClaimMapping; empty: the defaults
  std::string ca_file;                 // for fetching; empty: the system's roots
  // The least time between two fetches of one issuer's keys, so that
  // tokens with made-up kids cannot make the service hammer the provider.
  std::chrono::seconds refresh_interval{30};
  std::chrono::seconds leeway{60};        // for exp and nbf
  std::chrono::seconds fetch_timeout{5};  // one discovery or JWKS fetch
};

// How a token's claims become a credential. A claim is named by its
// top-level key or, when there is none, by a dotted path into nested
// objects ("realm_access.roles"). File (JSON, every key optional):
//   {"roles": "roles",                       // the claim of the role
//    "role_values": {"regulator": ["Ledger.Regulator"], ...},
//    "areas": "areas", "providers": "providers",
//    "name": ["name", "sub"]}                // the first that is present
// Without role_values, a role claim value is a role's own name.
struct ClaimMapping {
  std::string roles = "roles";
  std::map<std::string, Role> role_values;  // claim value -> role
  std::string areas = "areas";
  std::string providers = "providers";
  std::vector<std::string> name = {"name", "sub"};

  static ledger::Result<ClaimMapping> Parse(std::string_view text);
};

// A credential, or why a bearer token is not one (the 401's detail).
struct Authenticated {
  std::shared_ptr<const Credential> credential;
  std::string refusal;
};

// Whether `token` has the shape of a JWS in compact form (three base64url
// parts joined by dots), so that it is checked as one.
bool LooksLikeJwt(std::string_view token);

class OidcVerifier {
 public:
  // Reads the JWKS and claims files and fetches each issuer's keys
  // (kInvalidArgument for bad options or files). A fetch that fails is
  // logged and retried when a token needs the keys; the keys `previous`
  // fetched for an issuer (a verifier being replaced) are kept meanwhile.
  static ledger::Result<std::unique_ptr<OidcVerifier>> Open(OidcOptions options,
                                                            const OidcVerifier* previous = nullptr);
  ~OidcVerifier();

  // The credential `token` carries at `now` (seconds since the epoch), or
  // the reason it carries none. Thread-safe; a token accepted once is
  // remembered until its exp.
  Authenticated Verify(std::string_view token, int64_t now) const;
  Authenticated Verify(std::string_view token) const;

  // How many signing keys are known for `issuer` now.
  size_t KeyCount(const std::string& issuer) const;
  const OidcOptions& options() const { return options_; }

  struct Keys;  // the keys of one issuer (oidc.cc)

 private:
  explicit OidcVerifier(OidcOptions options);
  OidcOptions options_;
  ClaimMapping mapping_;
  std::vector<std::unique_ptr<Keys>> keys_;  // one per issuer, in options_.issuers' order
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

}  // namespace api
