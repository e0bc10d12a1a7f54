// Signing keys and JWTs for the OpenID Connect tests: keys generated with
// OpenSSL, published as JWKs, and tokens signed as an identity provider
// signs them (RS256, ES256, EdDSA; and the forgeries a verifier must
// refuse). Nothing here is used by the service itself.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "ledger/note.h"

namespace api::testing {

inline std::string Base64Url(std::string_view bytes) {
  std::string s = ledger::note::Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

// A signing key of one of the three algorithms, with its JWK.
class SigningKey {
 public:
  enum Kind { kRsa, kEc, kEd25519 };

  SigningKey(Kind kind, std::string kid) : kind_(kind), kid_(std::move(kid)) {
    EVP_PKEY* key = nullptr;
    if (kind == kRsa) key = EVP_RSA_gen(2048);
    if (kind == kEc) key = EVP_EC_gen("P-256");
    if (kind == kEd25519) key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (!key) throw std::runtime_error("key generation failed");
    key_.reset(key);
  }

  const std::string& kid() const { return kid_; }
  std::string alg() const { return kind_ == kRsa ? "RS256" : kind_ == kEc ? "ES256" : "EdDSA"; }

  boost::json::object Jwk() const {
    boost::json::object o{{"kid", kid_}, {"use", "sig"}};
    if (kind_ == kRsa) {
      o["kty"] = "RSA";
      o["n"] = Base64Url(Bn(OSSL_PKEY_PARAM_RSA_N));
      o["e"] = Base64Url(Bn(OSSL_PKEY_PARAM_RSA_E));
    } else if (kind_ == kEc) {
      unsigned char point[65];
      size_t n = 0;
      EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &n);
      o["kty"] = "EC";
      o["crv"] = "P-256";
      o["x"] = Base64Url(std::string(reinterpret_cast<char*>(point + 1), 32));
      o["y"] = Base64Url(std::string(reinterpret_cast<char*>(point + 33), 32));
    } else {
      unsigned char raw[32];
      size_t n = sizeof raw;
      EVP_PKEY_get_raw_public_key(key_.get(), raw, &n);
      o["kty"] = "OKP";
      o["crv"] = "Ed25519";
      o["x"] = Base64Url(std::string(reinterpret_cast<char*>(raw), n));
    }
    return o;
  }

  // header.payload.signature, signed with this key under its algorithm.
  std::string Sign(const boost::json::object& header, const boost::json::object& claims) const {
    const std::string input =
        Base64Url(boost::json::serialize(header)) + "." + Base64Url(boost::json::serialize(claims));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, kind_ == kEd25519 ? nullptr : EVP_sha256(), nullptr,
                       key_.get());
    size_t n = 0;
    EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(n, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(n);
    if (kind_ == kEc) sig = DerToRaw(sig);
    return input + "." + Base64Url(sig);
  }
  // A token with the usual header {alg, kid, typ}.
  std::string Sign(const boost::json::object& claims) const {
    return Sign({{"alg", alg()}, {"kid", kid_}, {"typ", "JWT"}}, claims);
  }

 private:
  std::string Bn(const char* name) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key_.get(), name, &bn);
    std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }
  static std::string DerToRaw(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(sig);
    return raw;
  }
  struct Free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  Kind kind_;
  std::string kid_;
  std::unique_ptr<EVP_PKEY, Free> key_;
};

// A JWK Set of `keys`.
inline std::string Jwks(std::initializer_list<const SigningKey*> keys) {
  boost::json::array list;
  for (const SigningKey* k : keys) list.push_back(k->Jwk());
  return boost::json::serialize(boost::json::object{{"keys", std::move(list)}});
}

// An HS256 token whose "secret" is `secret` (the forgery that uses a
// public key as an HMAC key).
inline std::string SignHs256(const std::string& secret, const boost::json::object& claims) {
  const std::string input =
      Base64Url(boost::json::serialize(boost::json::object{{"alg", "HS256"}, {"typ", "JWT"}})) +
      "." + Base64Url(boost::json::serialize(claims));
  unsigned char mac[32];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n);
  return input + "." + Base64Url(std::string(reinterpret_cast<char*>(mac), n));
}

inline int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace api::testing
