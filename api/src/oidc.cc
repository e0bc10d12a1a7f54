#include "api/oidc.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "http_client.h"
#include "ledger/event.h"
#include "ledger/hash.h"
#include "ledger/note.h"

namespace api {

namespace json = boost::json;
using ledger::Result;
using ledger::Status;

namespace {

constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// A token larger than this is refused before it is decoded.
constexpr size_t kMaxTokenBytes = 16 * 1024;
// Verified tokens remembered; past it, the expired ones go, then all.
constexpr size_t kMaxCachedTokens = 10000;

// base64url without padding (RFC 7515 §2), strictly; nullopt otherwise.
std::optional<std::string> Base64UrlDecode(std::string_view in) {
  if (in.find_first_not_of(kBase64UrlAlphabet) != std::string_view::npos || in.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string s(in);
  std::replace(s.begin(), s.end(), '-', '+');
  std::replace(s.begin(), s.end(), '_', '/');
  s.append((4 - s.size() % 4) % 4, '=');
  return ledger::note::Base64Decode(s);
}

Result<std::string> ReadWholeFile(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read the " + std::string(what) + " " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------
// Keys (RFC 7517, 7518 §6, 8037)

enum class Alg { kRS256, kES256, kEdDSA };

std::optional<Alg> AlgOf(std::string_view name) {
  if (name == "RS256") return Alg::kRS256;
  if (name == "ES256") return Alg::kES256;
  if (name == "EdDSA") return Alg::kEdDSA;
  return std::nullopt;
}

using PKey = std::shared_ptr<EVP_PKEY>;

struct Jwk {
  std::string kid;  // may be empty
  Alg alg;          // the one algorithm the key's type and curve verify
  PKey key;
};

PKey Own(EVP_PKEY* key) { return PKey(key, EVP_PKEY_free); }

// A public key from OSSL_PARAMs (RSA n/e, EC group/point), checked.
PKey FromParams(const char* type, OSSL_PARAM_BLD* build) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(build);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1) {
    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!key) return nullptr;
  // An EC point must be on the curve; an RSA key well formed.
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr);
  const bool ok = check && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  if (!ok) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return Own(key);
}

std::optional<std::string> Member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

// One JWK as a signing key, or why it is not one (an empty reason: a key
// of a kind this verifier does not use, skipped without complaint).
Result<std::optional<Jwk>> ParseJwk(const json::object& o) {
  const std::optional<std::string> kty = Member(o, "kty");
  const std::optional<std::string> use = Member(o, "use");
  if (!kty) return Status::InvalidArgument("a key has no kty");
  if (use && *use != "sig") return std::optional<Jwk>();  // an encryption key
  Jwk jwk;
  jwk.kid = Member(o, "kid").value_or("");
  auto field = [&](std::string_view name) -> Result<std::string> {
    const std::optional<std::string> text = Member(o, name);
    std::optional<std::string> bytes = text ? Base64UrlDecode(*text) : std::nullopt;
    if (!bytes || bytes->empty()) {
      return Status::InvalidArgument("key '" + jwk.kid + "': " + std::string(name) +
                                     " is not base64url");
    }
    return *bytes;
  };
  if (*kty == "RSA") {
    jwk.alg = Alg::kRS256;
    Result<std::string> n = field("n"), e = field("e");
    if (!n.ok()) return n.status();
    if (!e.ok()) return e.status();
    BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                             static_cast<int>(n->size()), nullptr);
    BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                             static_cast<int>(e->size()), nullptr);
    OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
    if (build && bn_n && bn_e) {
      OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, bn_n);
      OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, bn_e);
      jwk.key = FromParams("RSA", build);
    }
    OSSL_PARAM_BLD_free(build);
    BN_free(bn_n);
    BN_free(bn_e);
    if (!jwk.key) return Status::InvalidArgument("key '" + jwk.kid + "': not an RSA public key");
    // RFC 7518 §3.3: 2048 bits or more.
    if (EVP_PKEY_get_bits(jwk.key.get()) < 2048) {
      return Status::InvalidArgument("key '" + jwk.kid + "': an RSA key under 2048 bits");
    }
  } else if (*kty == "EC") {
    if (Member(o, "crv") != "P-256") return std::optional<Jwk>();  // not for ES256
    jwk.alg = Alg::kES256;
    Result<std::string> x = field("x"), y = field("y");
    if (!x.ok()) return x.status();
    if (!y.ok()) return y.status();
    if (x->size() != 32 || y->size() != 32) {
      return Status::InvalidArgument("key '" + jwk.kid + "': x and y must be 32 bytes");
    }
    const std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed
    OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
    if (build) {
      OSSL_PARAM_BLD_push_utf8_string(build, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
      OSSL_PARAM_BLD_push_octet_string(build, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
      jwk.key = FromParams("EC", build);
    }
    OSSL_PARAM_BLD_free(build);
    if (!jwk.key) return Status::InvalidArgument("key '" + jwk.kid + "': not a point of P-256");
  } else if (*kty == "OKP") {
    if (Member(o, "crv") != "Ed25519") return std::optional<Jwk>();
    jwk.alg = Alg::kEdDSA;
    Result<std::string> x = field("x");
    if (!x.ok()) return x.status();
    if (x->size() != 32)
      return Status::InvalidArgument("key '" + jwk.kid + "': x must be 32 bytes");
    jwk.key = Own(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
    if (!jwk.key) return Status::InvalidArgument("key '" + jwk.kid + "': not an Ed25519 key");
  } else {
    return std::optional<Jwk>();  // "oct" and others: never accepted
  }
  // A key that names its algorithm is used for that one only.
  if (const std::optional<std::string> alg = Member(o, "alg"); alg && AlgOf(*alg) != jwk.alg) {
    return std::optional<Jwk>();
  }
  return std::optional<Jwk>(std::move(jwk));
}

// A JWK Set: its signing keys (kInvalidArgument when it has none or a
// malformed one).
Result<std::vector<Jwk>> ParseJwks(std::string_view text, const std::string& where) {
  json::error_code ec;
  const json::value doc = json::parse(text, ec);
  const json::value* keys = !ec && doc.is_object() ? doc.as_object().if_contains("keys") : nullptr;
  if (!keys || !keys->is_array()) {
    return Status::InvalidArgument(where + " is not a JWK Set ({\"keys\": [...]})");
  }
  std::vector<Jwk> out;
  for (const json::value& k : keys->as_array()) {
    if (!k.is_object()) return Status::InvalidArgument(where + ": a key is not an object");
    Result<std::optional<Jwk>> jwk = ParseJwk(k.as_object());
    if (!jwk.ok()) return Status::InvalidArgument(where + ": " + jwk.status().message());
    if (*jwk) out.push_back(std::move(**jwk));
  }
  if (out.empty()) {
    return Status::InvalidArgument(where + " holds no RS256, ES256 or EdDSA signing key");
  }
  return out;
}

// Whether `signature` over `input` verifies with `key` under `alg`.
bool VerifySignature(Alg alg, EVP_PKEY* key, std::string_view input, std::string_view signature) {
  std::string der;
  if (alg == Alg::kES256) {
    // JWS carries r || s (RFC 7518 §3.4); OpenSSL verifies DER.
    if (signature.size() != 64) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(raw, 32, nullptr);
    BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(sig);
      return false;
    }
    unsigned char* out = nullptr;
    const int n = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);  // frees r and s too
    if (n <= 0) return false;
    der.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    OPENSSL_free(out);
    signature = der;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const EVP_MD* md = alg == Alg::kEdDSA ? nullptr : EVP_sha256();
  const bool ok =
      ctx && EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// ---------------------------------------------------------------------------
// Fetching (OpenID Connect Discovery 1.0 §4)

// An https URL: its endpoint and the target it asks for (path and query).
struct HttpsUrl {
  http_client::Endpoint endpoint;
  std::string target;
  bool has_query = false;
};

std::optional<HttpsUrl> ParseHttpsUrl(std::string_view text) {
  std::optional<http_client::Url> url = http_client::ParseUrl(text);
  if (!url || !url->endpoint.tls) return std::nullopt;
  HttpsUrl out{url->endpoint, url->path.empty() ? "/" : url->path, url->has_query};
  out.endpoint.body_limit = 1 << 20;
  if (url->has_query) out.target += "?" + url->query;
  return out;
}

Result<std::string> FetchHttps(const std::string& url, const OidcOptions& options) {
  std::optional<HttpsUrl> to = ParseHttpsUrl(url);
  if (!to) return Status::InvalidArgument(url + " is not an https URL");
  to->endpoint.ca_file = options.ca_file;
  to->endpoint.timeout = options.fetch_timeout;
  http_client::Request request;
  request.target = to->target;
  Result<http_client::Reply> reply = http_client::Call(to->endpoint, request);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Status::IOError(url + " answered " + std::to_string(reply->status));
  }
  return std::move(reply->body);
}

}  // namespace

// ---------------------------------------------------------------------------
// One issuer's keys: fixed (a JWKS file) or fetched, and fetched again on
// an unknown kid at most once per refresh interval.

struct OidcVerifier::Keys {
  std::string issuer;
  bool fixed = false;  // from --oidc-jwks: never fetched
  mutable std::mutex mu;
  std::shared_ptr<const std::vector<Jwk>> keys = std::make_shared<std::vector<Jwk>>();
  std::optional<std::chrono::steady_clock::time_point> last_fetch;
  std::mutex fetch_mu;  // one fetch at a time

  std::shared_ptr<const std::vector<Jwk>> Current() const {
    std::lock_guard lock(mu);
    return keys;
  }

  // Fetches the discovery document and then the JWKS it names.
  Status Fetch(const OidcOptions& options) {
    std::string base = issuer;
    while (base.ends_with('/')) base.pop_back();
    Result<std::string> discovery = FetchHttps(base + "/.well-known/openid-configuration", options);
    if (!discovery.ok()) return discovery.status();
    json::error_code ec;
    const json::value doc = json::parse(*discovery, ec);
    if (ec || !doc.is_object())
      return Status::InvalidArgument("its discovery document is not JSON");
    if (Member(doc.as_object(), "issuer") != issuer) {
      return Status::InvalidArgument("its discovery document names another issuer");
    }
    const std::optional<std::string> jwks_uri = Member(doc.as_object(), "jwks_uri");
    if (!jwks_uri || !ParseHttpsUrl(*jwks_uri)) {
      return Status::InvalidArgument("its discovery document has no https jwks_uri");
    }
    Result<std::string> jwks = FetchHttps(*jwks_uri, options);
    if (!jwks.ok()) return jwks.status();
    Result<std::vector<Jwk>> parsed = ParseJwks(*jwks, *jwks_uri);
    if (!parsed.ok()) return parsed.status();
    std::lock_guard lock(mu);
    keys = std::make_shared<const std::vector<Jwk>>(std::move(parsed).value());
    return Status::Ok();
  }

  // Fetches again unless a fetch began within the refresh interval; true
  // when the keys may have changed.
  bool Refresh(const OidcOptions& options) {
    if (fixed) return false;
    std::lock_guard fetching(fetch_mu);
    const auto now = std::chrono::steady_clock::now();
    if (last_fetch && now - *last_fetch < options.refresh_interval) return false;
    last_fetch = now;
    const Status st = Fetch(options);
    if (!st.ok()) {
      spdlog::warn("OIDC: cannot fetch the keys of issuer {}: {}", issuer, st.message());
      return false;
    }
    spdlog::info("OIDC: {} signing keys fetched for issuer {}", Current()->size(), issuer);
    return true;
  }
};

struct OidcVerifier::Cache {
  struct Entry {
    std::shared_ptr<const Credential> credential;
    int64_t exp;
  };
  std::mutex mu;
  std::unordered_map<std::string, Entry> entries;  // SHA-256 of the token -> credential
};

// ---------------------------------------------------------------------------

bool LooksLikeJwt(std::string_view token) {
  const size_t a = token.find('.');
  if (a == std::string_view::npos) return false;
  const size_t b = token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) {
    return false;
  }
  for (std::string_view part : {token.substr(0, a), token.substr(a + 1, b - a - 1)}) {
    if (part.empty() || part.find_first_not_of(kBase64UrlAlphabet) != std::string_view::npos) {
      return false;
    }
  }
  return token.substr(b + 1).find_first_not_of(kBase64UrlAlphabet) == std::string_view::npos;
}

Result<ClaimMapping> ClaimMapping::Parse(std::string_view text) {
  json::error_code ec;
  const json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return Status::BadField("claims", "must be a JSON object");
  ClaimMapping m;
  for (const auto& [key, value] : doc.as_object()) {
    if (key == "roles" || key == "areas" || key == "providers") {
      if (!value.is_string() || value.as_string().empty()) {
        return Status::BadField(std::string(key), "must be a claim name");
      }
      std::string& target = key == "roles" ? m.roles : key == "areas" ? m.areas : m.providers;
      target = value.as_string();
    } else if (key == "name") {
      if (!value.is_array() || value.as_array().empty()) {
        return Status::BadField("name", "must be a list of claim names");
      }
      m.name.clear();
      for (const json::value& n : value.as_array()) {
        if (!n.is_string() || n.as_string().empty()) {
          return Status::BadField("name", "must be a list of claim names");
        }
        m.name.emplace_back(n.as_string());
      }
    } else if (key == "role_values") {
      if (!value.is_object()) return Status::BadField("role_values", "must be an object");
      for (const auto& [role_name, values] : value.as_object()) {
        std::optional<Role> role;
        for (Role r : {Role::kRegulator, Role::kPartnership, Role::kProvider, Role::kAuditor}) {
          if (role_name == ToString(r)) role = r;
        }
        const std::string where = "role_values." + std::string(role_name);
        if (!role) return Status::BadField(where, "is not a role");
        if (!values.is_array()) return Status::BadField(where, "must be a list of claim values");
        for (const json::value& v : values.as_array()) {
          if (!v.is_string()) return Status::BadField(where, "must be a list of claim values");
          if (!m.role_values.emplace(std::string(v.as_string()), *role).second) {
            return Status::BadField(where, "names a value another role names");
          }
        }
      }
    } else {
      return Status::BadField(std::string(key), "is not a setting of a claims file");
    }
  }
  return m;
}

OidcVerifier::OidcVerifier(OidcOptions options)
    : options_(std::move(options)), cache_(std::make_unique<Cache>()) {}
OidcVerifier::~OidcVerifier() = default;

Result<std::unique_ptr<OidcVerifier>> OidcVerifier::Open(OidcOptions options,
                                                         const OidcVerifier* previous) {
  if (options.issuers.empty()) return Status::InvalidArgument("--oidc-issuer is required");
  if (options.audiences.empty()) return Status::InvalidArgument("--oidc-audience is required");
  for (const std::string& issuer : options.issuers) {
    // OpenID Connect Discovery §3: an https URL without query or fragment.
    std::optional<HttpsUrl> url = ParseHttpsUrl(issuer);
    if (!url || url->has_query) {
      return Status::InvalidArgument("--oidc-issuer " + issuer +
                                     " must be an https URL without query or fragment");
    }
  }
  std::unique_ptr<OidcVerifier> v(new OidcVerifier(std::move(options)));
  const OidcOptions& o = v->options_;
  if (!o.claims_file.empty()) {
    Result<std::string> text = ReadWholeFile(o.claims_file, "claims file");
    if (!text.ok()) return text.status();
    Result<ClaimMapping> mapping = ClaimMapping::Parse(*text);
    if (!mapping.ok()) {
      return Status::InvalidArgument("the claims file " + o.claims_file + ": " +
                                     mapping.status().message());
    }
    v->mapping_ = std::move(mapping).value();
  }
  std::shared_ptr<const std::vector<Jwk>> file_keys;
  if (!o.jwks_file.empty()) {
    Result<std::string> text = ReadWholeFile(o.jwks_file, "JWKS file");
    if (!text.ok()) return text.status();
    Result<std::vector<Jwk>> keys = ParseJwks(*text, "the JWKS file " + o.jwks_file);
    if (!keys.ok()) return keys.status();
    file_keys = std::make_shared<const std::vector<Jwk>>(std::move(keys).value());
  }
  for (const std::string& issuer : o.issuers) {
    auto keys = std::make_unique<Keys>();
    keys->issuer = issuer;
    if (file_keys) {
      keys->fixed = true;
      keys->keys = file_keys;
    } else {
      if (previous && previous->options_.jwks_file.empty()) {
        for (const auto& old : previous->keys_) {
          if (old->issuer == issuer) keys->keys = old->Current();
        }
      }
      keys->Refresh(o);
    }
    v->keys_.push_back(std::move(keys));
  }
  return v;
}

size_t OidcVerifier::KeyCount(const std::string& issuer) const {
  for (const auto& k : keys_) {
    if (k->issuer == issuer) return k->Current()->size();
  }
  return 0;
}

Authenticated OidcVerifier::Verify(std::string_view token) const {
  return Verify(token, std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
}

namespace {

Authenticated Refuse(std::string why) { return Authenticated{nullptr, std::move(why)}; }

// A claim by its top-level name, else by a dotted path; nullptr if absent.
const json::value* Claim(const json::object& claims, const std::string& name) {
  if (const json::value* v = claims.if_contains(name)) return v;
  const json::object* at = &claims;
  const json::value* v = nullptr;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    v = at->if_contains(std::string_view(name).substr(start, dot - start));
    if (!v || dot == std::string::npos) return v;
    if (!v->is_object()) return nullptr;
    at = &v->as_object();
    start = dot + 1;
  }
}

// A claim's strings: a string alone or an array of strings; nullopt for
// anything else. An absent claim is empty.
std::optional<std::vector<std::string>> Strings(const json::object& claims,
                                                const std::string& name) {
  const json::value* v = Claim(claims, name);
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is_string()) {
    out.emplace_back(v->as_string());
    return out;
  }
  if (!v->is_array()) return std::nullopt;
  for (const json::value& e : v->as_array()) {
    if (!e.is_string()) return std::nullopt;
    out.emplace_back(e.as_string());
  }
  return out;
}

// A NumericDate claim (RFC 7519 §2), whole seconds.
std::optional<int64_t> NumericDate(const json::object& claims, std::string_view name) {
  const json::value* v = claims.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() < (1ull << 62)) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double() && v->as_double() > -1e15 && v->as_double() < 1e15) {
    return static_cast<int64_t>(v->as_double());
  }
  return std::nullopt;
}

}  // namespace

Authenticated OidcVerifier::Verify(std::string_view token, int64_t now) const {
  if (token.size() > kMaxTokenBytes || !LooksLikeJwt(token)) {
    return Refuse("the bearer token is not a JWT");
  }
  const ledger::Hash digest = ledger::Sha256(token);
  const std::string cache_key(reinterpret_cast<const char*>(digest.data()), digest.size());
  {
    std::lock_guard lock(cache_->mu);
    auto hit = cache_->entries.find(cache_key);
    if (hit != cache_->entries.end()) {
      if (now <= hit->second.exp + options_.leeway.count()) {
        return Authenticated{hit->second.credential, ""};
      }
      cache_->entries.erase(hit);
    }
  }
  const size_t a = token.find('.'), b = token.find('.', a + 1);
  const std::string_view signed_part = token.substr(0, b);
  std::optional<std::string> header_text = Base64UrlDecode(token.substr(0, a));
  std::optional<std::string> payload_text = Base64UrlDecode(token.substr(a + 1, b - a - 1));
  std::optional<std::string> signature = Base64UrlDecode(token.substr(b + 1));
  json::error_code ec;
  json::value header = header_text ? json::parse(*header_text, ec) : json::value();
  if (!header_text || ec || !header.is_object()) {
    return Refuse("the token's header is not base64url JSON");
  }
  const std::optional<std::string> alg_name = Member(header.as_object(), "alg");
  if (!alg_name) return Refuse("the token's header names no alg");
  if (*alg_name == "none") return Refuse("an unsigned token (alg none) is refused");
  if (alg_name->starts_with("HS")) {
    return Refuse("a token signed with a shared secret (HMAC) is refused");
  }
  const std::optional<Alg> alg = AlgOf(*alg_name);
  if (!alg) return Refuse("the token's alg is not one of RS256, ES256 and EdDSA");
  if (header.as_object().contains("crit")) {
    return Refuse("the token's header has critical extensions this service does not know");
  }
  json::value payload = payload_text ? json::parse(*payload_text, ec) : json::value();
  if (!payload_text || ec || !payload.is_object()) {
    return Refuse("the token's payload is not base64url JSON");
  }
  if (!signature) return Refuse("the token's signature is not base64url");
  const json::object& claims = payload.as_object();

  // The issuer, then its key and the signature; nothing else is believed
  // before the signature verifies.
  const std::optional<std::string> iss = Member(claims, "iss");
  Keys* keys = nullptr;
  for (const auto& k : keys_) {
    if (iss == k->issuer) keys = k.get();
  }
  if (!keys) return Refuse("the token's issuer is not one this service trusts");
  const std::optional<std::string> kid = Member(header.as_object(), "kid");
  auto candidates = [&](const std::vector<Jwk>& set) {
    std::vector<const Jwk*> out;
    for (const Jwk& k : set) {
      if (kid ? k.kid == *kid : k.alg == *alg) out.push_back(&k);
    }
    return out;
  };
  std::shared_ptr<const std::vector<Jwk>> set = keys->Current();
  std::vector<const Jwk*> found = candidates(*set);
  if (found.empty() && keys->Refresh(options_)) {
    set = keys->Current();
    found = candidates(*set);
  }
  if (found.empty()) {
    return Refuse(kid ? "the token's signing key (its kid) is not one of its issuer's keys"
                      : "the token names no kid and its issuer has no key for its alg");
  }
  bool verified = false, fits = false;
  for (const Jwk* k : found) {
    if (k->alg != *alg) continue;
    fits = true;
    if (VerifySignature(*alg, k->key.get(), signed_part, *signature)) verified = true;
  }
  if (!fits) return Refuse("the token's alg does not fit the key its kid names");
  if (!verified) return Refuse("the token's signature does not verify");

  const std::optional<int64_t> exp = NumericDate(claims, "exp");
  if (!exp) return Refuse("the token has no exp");
  const int64_t leeway = options_.leeway.count();
  if (now > *exp + leeway) return Refuse("the token has expired");
  if (claims.contains("nbf")) {
    const std::optional<int64_t> nbf = NumericDate(claims, "nbf");
    if (!nbf) return Refuse("the token's nbf is not a time");
    if (now + leeway < *nbf) return Refuse("the token is not valid yet (nbf)");
  }
  std::optional<std::vector<std::string>> aud = Strings(claims, "aud");
  const bool for_us = aud && std::any_of(aud->begin(), aud->end(), [&](const std::string& a) {
                        return std::find(options_.audiences.begin(), options_.audiences.end(), a) !=
                               options_.audiences.end();
                      });
  if (!for_us) return Refuse("the token is not for this service (its aud)");

  // The claims as a credential (ClaimMapping).
  auto credential = std::make_shared<Credential>();
  credential->issuer = *iss;
  std::optional<std::vector<std::string>> role_values = Strings(claims, mapping_.roles);
  if (!role_values) return Refuse("the token's " + mapping_.roles + " claim is not strings");
  std::set<Role> roles;
  for (const std::string& value : *role_values) {
    if (mapping_.role_values.empty()) {
      for (Role r : {Role::kRegulator, Role::kPartnership, Role::kProvider, Role::kAuditor}) {
        if (value == ToString(r)) roles.insert(r);
      }
    } else if (auto it = mapping_.role_values.find(value); it != mapping_.role_values.end()) {
      roles.insert(it->second);
    }
  }
  if (roles.empty()) {
    return Refuse("the token's " + mapping_.roles +
                  " claim names no role of this service (regulator, partnership, provider, "
                  "auditor)");
  }
  if (roles.size() > 1) {
    return Refuse("the token's " + mapping_.roles + " claim names more than one role");
  }
  credential->role = *roles.begin();
  auto scope = [&](const std::string& claim, std::string (*check)(std::string_view),
                   std::set<std::string>* out) -> std::string {
    std::optional<std::vector<std::string>> values = Strings(claims, claim);
    if (!values) return "the token's " + claim + " claim is not strings";
    for (const std::string& v : *values) {
      if (!check(v).empty()) return "the token's " + claim + " claim holds an invalid value";
      out->insert(v);
    }
    return "";
  };
  if (credential->role == Role::kPartnership) {
    if (std::string why = scope(mapping_.areas, ledger::CheckAreaCode, &credential->areas);
        !why.empty()) {
      return Refuse(why);
    }
  }
  if (credential->role == Role::kProvider) {
    if (std::string why =
            scope(mapping_.providers, ledger::CheckProviderId, &credential->providers);
        !why.empty()) {
      return Refuse(why);
    }
  }
  for (const std::string& claim : mapping_.name) {
    const json::value* v = Claim(claims, claim);
    if (v && v->is_string() && !v->as_string().empty()) {
      credential->name = v->as_string();
      break;
    }
  }
  // The name is the actor of every event the credential records, its
  // idempotency keys' scope and its rate limit (as a tokens file's name).
  if (credential->name.empty() || credential->name.size() > 100 ||
      ledger::HasControlCharacter(credential->name)) {
    return Refuse("the token has no name claim of 1 to 100 characters without control characters");
  }
  std::lock_guard lock(cache_->mu);
  if (cache_->entries.size() >= kMaxCachedTokens) {
    std::erase_if(cache_->entries, [&](const auto& e) { return now > e.second.exp + leeway; });
    if (cache_->entries.size() >= kMaxCachedTokens) cache_->entries.clear();
  }
  cache_->entries[cache_key] = {credential, *exp};
  return Authenticated{std::move(credential), ""};
}

}  // namespace api
