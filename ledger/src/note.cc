#include "ledger/note.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace ledger::note {

namespace {

constexpr std::string_view kDash = "\xE2\x80\x94 ";  // U+2014 and a space
constexpr size_t kMaxSignatures = 100;

bool ValidKeyName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (c <= 0x20 || c == '+' || c == 0x7f) return false;
  }
  return true;
}

void PutId(uint32_t id, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(id >> shift));
}

uint32_t GetId(std::string_view bytes) {
  uint32_t id = 0;
  for (size_t i = 0; i < 4; ++i) id = (id << 8) | static_cast<unsigned char>(bytes[i]);
  return id;
}

}  // namespace

bool ValidOrigin(std::string_view name) { return ValidKeyName(name); }

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) {
      return std::nullopt;
    }
  }
  size_t pad = 0;
  while (pad < text.size() && pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  if (text.substr(0, text.size() - pad).find('=') != std::string_view::npos) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);  // EVP_DecodeBlock counts padding as zero bytes
  if (Base64Encode(out) != text) return std::nullopt;  // only the canonical spelling
  return out;
}

std::string HashToBase64(const Hash& hash) { return Base64Encode(AsBytes(hash)); }

std::optional<Hash> HashFromBase64(std::string_view text) {
  std::optional<std::string> bytes = Base64Decode(text);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  Hash h;
  std::copy(bytes->begin(), bytes->end(), reinterpret_cast<char*>(h.data()));
  return h;
}

uint32_t KeyId(std::string_view name, uint8_t type, std::string_view public_key) {
  std::string input(name);
  input.push_back('\n');
  input.push_back(static_cast<char>(type));
  input.append(public_key);
  return GetId(AsBytes(Sha256(input)));
}

std::string VerifierKey(std::string_view name, std::string_view public_key, uint8_t type) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", KeyId(name, type, public_key));
  std::string key(1, static_cast<char>(type));
  key.append(public_key);
  return std::string(name) + "+" + hex + "+" + Base64Encode(key);
}

Result<Verifier> ParseVerifierKey(std::string_view vkey, uint8_t type) {
  const size_t a = vkey.find('+');
  const size_t b = a == std::string_view::npos ? a : vkey.find('+', a + 1);
  if (b == std::string_view::npos) {
    return Status::InvalidArgument("a verifier key is NAME+KEYID+BASE64KEY");
  }
  Verifier v;
  v.name = std::string(vkey.substr(0, a));
  v.type = type;
  const std::string_view hex = vkey.substr(a + 1, b - a - 1);
  if (!ValidKeyName(v.name) || hex.size() != 8 ||
      std::from_chars(hex.data(), hex.data() + hex.size(), v.id, 16).ptr !=
          hex.data() + hex.size()) {
    return Status::InvalidArgument("a verifier key is NAME+KEYID+BASE64KEY");
  }
  std::optional<std::string> key = Base64Decode(vkey.substr(b + 1));
  if (!key || key->size() != 33 || static_cast<uint8_t>((*key)[0]) != type) {
    return Status::InvalidArgument(type == kEd25519
                                       ? "the verifier key is not an Ed25519 key"
                                       : "the key is not a cosignature/v1 (Ed25519) key");
  }
  v.public_key = key->substr(1);
  if (KeyId(v.name, type, v.public_key) != v.id) {
    return Status::InvalidArgument("the verifier key's id does not match its name and key");
  }
  return v;
}

std::string SignatureLine(const Signature& signature) {
  std::string bytes;
  PutId(signature.id, &bytes);
  bytes += signature.signature;
  std::string out(kDash);
  out += signature.name;
  out += " ";
  out += Base64Encode(bytes);
  out += "\n";
  return out;
}

std::string Sign(std::string_view text, std::string_view name, const Signer& signer) {
  return std::string(text) + "\n" +
         SignatureLine({std::string(name), KeyId(name, kEd25519, signer.public_key()),
                        signer.SignMessage(text)});
}

std::string CosignatureMessage(std::string_view text, uint64_t timestamp) {
  return "cosignature/v1\ntime " + std::to_string(timestamp) + "\n" + std::string(text);
}

std::string Cosign(std::string_view text, std::string_view name, const Signer& signer,
                   uint64_t timestamp) {
  std::string sig;
  for (int shift = 56; shift >= 0; shift -= 8) sig.push_back(static_cast<char>(timestamp >> shift));
  sig += signer.SignMessage(CosignatureMessage(text, timestamp));
  return SignatureLine(
      {std::string(name), KeyId(name, kCosignatureV1, signer.public_key()), std::move(sig)});
}

std::optional<uint64_t> CosignedBy(const Note& note, const Verifier& cosigner) {
  if (cosigner.type != kCosignatureV1) return std::nullopt;
  for (const Signature& s : note.signatures) {
    if (s.name != cosigner.name || s.id != cosigner.id || s.signature.size() != 8 + 64) continue;
    uint64_t timestamp = 0;
    for (size_t i = 0; i < 8; ++i) {
      timestamp = (timestamp << 8) | static_cast<unsigned char>(s.signature[i]);
    }
    if (timestamp > (uint64_t{1} << 63) - 1) continue;
    if (VerifyEd25519(cosigner.public_key, CosignatureMessage(note.text, timestamp),
                      std::string_view(s.signature).substr(8))) {
      return timestamp;
    }
  }
  return std::nullopt;
}

Result<Note> Parse(std::string_view message) {
  for (unsigned char c : message) {
    if (c < 0x20 && c != '\n') return Status::InvalidArgument("a note holds a control character");
  }
  const size_t split = message.rfind("\n\n");
  if (split == std::string_view::npos || message.empty() || message.back() != '\n') {
    return Status::InvalidArgument("a note is text, a blank line and signature lines");
  }
  Note out;
  out.text = std::string(message.substr(0, split + 1));
  std::string_view rest = message.substr(split + 2);
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (!line.starts_with(kDash)) {
      return Status::InvalidArgument("a signature line starts with an em dash and a space");
    }
    line.remove_prefix(kDash.size());
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) return Status::InvalidArgument("a malformed signature");
    Signature s;
    s.name = std::string(line.substr(0, space));
    std::optional<std::string> bytes = Base64Decode(line.substr(space + 1));
    if (!ValidKeyName(s.name) || !bytes || bytes->size() < 5) {
      return Status::InvalidArgument("a malformed signature");
    }
    s.id = GetId(*bytes);
    s.signature = bytes->substr(4);
    out.signatures.push_back(std::move(s));
    if (out.signatures.size() > kMaxSignatures) {
      return Status::InvalidArgument("a note with more than 100 signatures");
    }
  }
  if (out.signatures.empty()) return Status::InvalidArgument("a note with no signature");
  return out;
}

bool SignedBy(const Note& note, const Verifier& verifier) {
  if (verifier.type != kEd25519) return false;
  for (const Signature& s : note.signatures) {
    if (s.name == verifier.name && s.id == verifier.id &&
        VerifyEd25519(verifier.public_key, note.text, s.signature)) {
      return true;
    }
  }
  return false;
}

std::string CheckpointText(std::string_view origin, uint64_t size, const Hash& root) {
  return std::string(origin) + "\n" + std::to_string(size) + "\n" + HashToBase64(root) + "\n";
}

Result<Checkpoint> ParseCheckpointText(std::string_view text) {
  auto bad = [] { return Status::InvalidArgument("a checkpoint is origin, size and root lines"); };
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return bad();
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  if (lines.size() != 3 || lines[0].empty()) return bad();
  Checkpoint c;
  c.origin = std::string(lines[0]);
  const std::string_view size = lines[1];
  if (size.empty() || (size.size() > 1 && size[0] == '0') ||
      std::from_chars(size.data(), size.data() + size.size(), c.size).ptr !=
          size.data() + size.size()) {
    return bad();
  }
  std::optional<Hash> root = HashFromBase64(lines[2]);
  if (!root) return bad();
  c.root = *root;
  return c;
}

}  // namespace ledger::note
