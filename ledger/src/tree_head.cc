#include "ledger/tree_head.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace ledger {
namespace {

void PutBigEndian(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

std::string RawPublicKey(EVP_PKEY* key) {
  std::string raw(32, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1) {
    return "";
  }
  raw.resize(len);
  return raw;
}

std::string PublicPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Status WriteFile(const std::string& path, const std::string& contents, mode_t mode) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::IOError("cannot create " + tmp);
  ::chmod(tmp.c_str(), mode);
  bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
  ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IOError("cannot write " + path);
  }
  return Status::Ok();
}

}  // namespace

namespace internal {
Status WriteFileAtomically(const std::string& path, const std::string& contents, mode_t mode) {
  return WriteFile(path, contents, mode);
}
}  // namespace internal

struct Signer::Key {
  PkeyPtr pkey;
};

std::string TreeHeadMessage(const TreeHead& head) {
  std::string msg = "rehab-access-ledger tree head v1\n";
  PutBigEndian(head.size, &msg);
  PutBigEndian(static_cast<uint64_t>(head.timestamp), &msg);
  msg.append(AsBytes(head.root));
  return msg;
}

bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != 32 || signature.size() != 64) return false;
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(public_key.data()),
                                          public_key.size()));
  if (!key) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key.get()) == 1 &&
            EVP_DigestVerify(
                ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

bool VerifyTreeHead(const SignedTreeHead& signed_head, std::string_view public_key) {
  return VerifyEd25519(public_key, TreeHeadMessage(signed_head.head), signed_head.signature);
}

std::optional<std::string> PublicKeyFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return std::nullopt;
  std::string raw = RawPublicKey(key.get());
  if (raw.size() != 32) return std::nullopt;
  return raw;
}

Signer::Signer(std::unique_ptr<Key> key) : key_(std::move(key)) {
  public_key_ = RawPublicKey(key_->pkey.get());
  public_key_pem_ = PublicPem(key_->pkey.get());
}

Signer::~Signer() = default;

Result<std::unique_ptr<Signer>> Signer::Load(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::NotFound("no signing key at " + path);
  auto key = std::make_unique<Key>();
  key->pkey.reset(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!key->pkey || EVP_PKEY_get_id(key->pkey.get()) != EVP_PKEY_ED25519) {
    return Status::Corruption(path + " does not hold an Ed25519 private key");
  }
  return std::unique_ptr<Signer>(new Signer(std::move(key)));
}

Result<std::unique_ptr<Signer>> Signer::LoadOrCreate(const std::string& path) {
  Result<std::unique_ptr<Signer>> loaded = Load(path);
  if (loaded.ok() || loaded.status().code() != Code::kNotFound) return loaded;
  auto key = std::make_unique<Key>();
  EVP_PKEY* raw = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  bool ok = ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &raw) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return Status::Internal("cannot generate an Ed25519 key");
  key->pkey.reset(raw);
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<size_t>(n));
  std::unique_ptr<Signer> signer(new Signer(std::move(key)));
  LEDGER_RETURN_IF_ERROR(WriteFile(path, pem, 0600));
  LEDGER_RETURN_IF_ERROR(WriteFile(path + ".pub", signer->public_key_pem(), 0600));
  return signer;
}

Result<std::unique_ptr<Signer>> Signer::FromSeed(std::string_view seed) {
  auto key = std::make_unique<Key>();
  key->pkey.reset(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
  if (seed.size() != 32 || !key->pkey) {
    return Status::InvalidArgument("an Ed25519 seed is 32 bytes");
  }
  return std::unique_ptr<Signer>(new Signer(std::move(key)));
}

std::string Signer::SignMessage(std::string_view message) const {
  std::string signature(64, '\0');
  size_t len = signature.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  // Ed25519 signing fails only on allocation failure: fatal, not an input error.
  if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    std::abort();
  }
  EVP_MD_CTX_free(ctx);
  return signature;
}

SignedTreeHead Signer::Sign(const TreeHead& head) const {
  return SignedTreeHead{head, SignMessage(TreeHeadMessage(head))};
}

}  // namespace ledger
