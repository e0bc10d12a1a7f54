// Credentials (SPEC §6 "Access"): bearer tokens, kept only as SHA-256
// digests, each with a role and a scope.
//
// Tokens file (JSON):
//   {"tokens": [
//     {"name": "kirklees-commissioning", "role": "partnership",
//      "sha256": "<64 hex digits>", "areas": ["E08000034"]},
//     {"name": "provider-north", "role": "provider",
//      "sha256": "...", "providers": ["1-1731644238"]},
//     {"name": "cqc", "role": "regulator", "sha256": "..."},
//     {"name": "audit-office", "role": "auditor", "sha256": "..."}]}
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/hash.h"
#include "ledger/status.h"

namespace api {

enum class Role { kRegulator, kPartnership, kProvider, kAuditor };
std::string_view ToString(Role role);

struct Credential {
  std::string name;  // shown in logs and in the actor, never the token
  Role role = Role::kRegulator;
  std::set<std::string> areas;      // partnership scope
  std::set<std::string> providers;  // provider scope
  ledger::Hash digest{};            // SHA-256 of the token

  // "role:name", the actor of the events it records.
  std::string Actor() const { return std::string(ToString(role)) + ":" + name; }
};

class TokenStore {
 public:
  // Parses a tokens file's text; kInvalidArgument naming the bad entry.
  static ledger::Result<TokenStore> Parse(std::string_view text);
  static ledger::Result<TokenStore> Load(const std::string& path);

  // The credential whose digest is SHA-256(token), or nullptr. Every stored
  // digest is compared, in constant time, whatever matches.
  const Credential* Authenticate(std::string_view token) const;

  const std::vector<Credential>& credentials() const { return credentials_; }

 private:
  std::vector<Credential> credentials_;
};

}  // namespace api
