// Signed notes and checkpoints in the open transparency-log formats of
// C2SP (SPEC §9; c2sp.org/signed-note, c2sp.org/tlog-checkpoint), so that
// tools no one here wrote can check the ledger's heads.
//
// A note is text ending in a newline, a blank line, then one or more lines
// "— <key name> <base64(4-byte key id || signature)>". The ledger signs
// with Ed25519 (signature type 0x01) under the key name = the log's origin;
// its verifier key "<name>+<8 hex key id>+<base64(0x01 || public key)>" is
// what a regulator stores.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/hash.h"
#include "ledger/status.h"
#include "ledger/tree_head.h"

namespace ledger::note {

inline constexpr uint8_t kEd25519 = 0x01;
// A witness's timestamped Ed25519 cosignature (c2sp.org/tlog-cosignature).
inline constexpr uint8_t kCosignatureV1 = 0x04;
// The origin a ledger uses unless configured (SPEC §9).
inline constexpr std::string_view kDefaultOrigin = "localhost/rehab-access-ledger";

// Whether `name` may be a key name, and so an origin: not empty, no
// spaces, '+' or control characters.
bool ValidOrigin(std::string_view name);

// Standard base64 (RFC 4648 §4) with padding; Decode gives nullopt for
// anything else.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);
// A hash as the C2SP formats write it (a checkpoint's root, a proof line):
// the base64 of its 32 bytes; nullopt for anything else.
std::string HashToBase64(const Hash& hash);
std::optional<Hash> HashFromBase64(std::string_view text);

// SHA-256(name || 0x0A || type || public key)[:4], big-endian.
uint32_t KeyId(std::string_view name, uint8_t type, std::string_view public_key);

// A key that checks signatures: its name, id, type and public key bytes.
struct Verifier {
  std::string name;
  uint32_t id = 0;
  uint8_t type = kEd25519;
  std::string public_key;  // 32 bytes for Ed25519
};
// "<name>+<hex id>+<base64(type || public key)>" for an Ed25519 key
// (kEd25519: a log's key; kCosignatureV1: a witness's).
std::string VerifierKey(std::string_view name, std::string_view public_key,
                        uint8_t type = kEd25519);
// Reads a verifier key; kInvalidArgument when it is malformed, names a
// type other than `type`, or its id does not match its name and key.
Result<Verifier> ParseVerifierKey(std::string_view vkey, uint8_t type = kEd25519);

struct Signature {
  std::string name;
  uint32_t id = 0;
  std::string signature;  // the bytes after the key id
};
struct Note {
  std::string text;  // with its final newline
  std::vector<Signature> signatures;
};

// `text` (which must end in a newline) signed by `signer` under `name`.
std::string Sign(std::string_view text, std::string_view name, const Signer& signer);
// A note's text and signature lines; kInvalidArgument when it is not a
// well-formed signed note (control characters, no blank line before the
// signatures, a malformed signature line, more than 100 signatures).
Result<Note> Parse(std::string_view message);
// Whether `note` carries a valid signature by `verifier` (same name and id,
// and the signature verifies). Signatures by other keys are ignored.
bool SignedBy(const Note& note, const Verifier& verifier);

// A signature line as a note carries it: "— <name> <base64(id || sig)>\n".
std::string SignatureLine(const Signature& signature);

// Cosignatures (c2sp.org/tlog-cosignature, cosignature/v1): a witness's
// statement that, at `timestamp` (POSIX seconds), the note `text` (a
// checkpoint's body) is the largest consistent tree it has seen of the
// log. The signed message is "cosignature/v1\ntime <timestamp>\n" + text;
// the signature is the key id, the timestamp as a big-endian u64, then the
// Ed25519 signature.
std::string CosignatureMessage(std::string_view text, uint64_t timestamp);
// The signature line of `signer`'s cosignature of `text` under `name`.
std::string Cosign(std::string_view text, std::string_view name, const Signer& signer,
                   uint64_t timestamp);
// The timestamp of a valid cosignature of `note` by `cosigner` (a
// kCosignatureV1 key), or nullopt when the note carries none.
std::optional<uint64_t> CosignedBy(const Note& note, const Verifier& cosigner);

// A checkpoint's body (c2sp.org/tlog-checkpoint): origin, tree size and
// base64 root hash, each on its own line.
std::string CheckpointText(std::string_view origin, uint64_t size, const Hash& root);
struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
};
// Reads a checkpoint's body (the note text), which must have exactly these
// three lines.
Result<Checkpoint> ParseCheckpointText(std::string_view text);

}  // namespace ledger::note
