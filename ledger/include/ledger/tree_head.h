// Signed tree heads (SPEC §5): what a regulator keeps to check later that
// the ledger only grew.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ledger/hash.h"
#include "ledger/status.h"
#include "ledger/time.h"

namespace ledger {

struct TreeHead {
  uint64_t size = 0;     // number of events (the seq of the last one)
  Hash root{};           // RFC 6962 root of the first `size` events
  Micros timestamp = 0;  // recorded_at of event `size`; 0 for the empty tree
  bool operator==(const TreeHead&) const = default;
};

struct SignedTreeHead {
  TreeHead head;
  std::string signature;  // Ed25519, 64 bytes, over TreeHeadMessage(head)
  bool operator==(const SignedTreeHead&) const = default;
};

// The exact bytes signed: the ASCII line "rehab-access-ledger tree head v1\n",
// then size and timestamp as 8-byte big-endian integers, then the 32-byte root.
std::string TreeHeadMessage(const TreeHead& head);

// True when `signed_head.signature` is a valid Ed25519 signature of its head
// by the holder of `public_key` (32 raw bytes).
bool VerifyTreeHead(const SignedTreeHead& signed_head, std::string_view public_key);

// True when `signature` (64 bytes) is a valid Ed25519 signature of
// `message` by the holder of `public_key` (32 raw bytes).
bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature);

// The raw 32-byte Ed25519 public key in a PEM "PUBLIC KEY" block, or nullopt.
std::optional<std::string> PublicKeyFromPem(std::string_view pem);

// The ledger's Ed25519 signing key. Thread-safe.
class Signer {
 public:
  // Loads the PEM private key at `path`, or creates one there (mode 0600)
  // with its public key beside it at `path` + ".pub" when there is none.
  static Result<std::unique_ptr<Signer>> LoadOrCreate(const std::string& path);
  // Loads the PEM private key at `path` and creates nothing: kNotFound when
  // there is no file, kCorruption when it holds no Ed25519 key.
  static Result<std::unique_ptr<Signer>> Load(const std::string& path);
  ~Signer();

  // A signer of the key with this 32-byte RFC 8032 seed (for test vectors
  // and tools; the ledger's own key comes from LoadOrCreate).
  static Result<std::unique_ptr<Signer>> FromSeed(std::string_view seed);

  SignedTreeHead Sign(const TreeHead& head) const;
  // The 64-byte Ed25519 signature of `message`.
  std::string SignMessage(std::string_view message) const;
  const std::string& public_key() const { return public_key_; }  // 32 raw bytes
  const std::string& public_key_pem() const { return public_key_pem_; }

 private:
  struct Key;
  explicit Signer(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
  std::string public_key_;
  std::string public_key_pem_;
};

}  // namespace ledger
