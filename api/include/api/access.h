// Credentials (SPEC §6 "Access"): bearer tokens, kept only as SHA-256
// digests, each with a role and a scope; and what each may see and write.
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
#include "ledger/ledger.h"
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
  std::string issuer;               // of an OpenID Connect token (oidc.h); else empty

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

// Whether `cred` may see the referral `s` (SPEC §8, "Scope in detail"): a
// regulator every one; a partnership those of its areas (as corrected); a
// provider those that an offer or a start names one of its providers in (as
// corrected). To any other, the referral is as one that does not exist.
// REQUIRES: s.placements filled for a provider.
bool MayRead(const Credential& cred, const ledger::StreamInfo& s);

// The referral `id` as `cred` may see it now: its description, or kNotFound
// worded as for a referral that does not exist ("no referral ID").
ledger::Result<ledger::StreamInfo> VisibleStream(const ledger::Ledger& ledger,
                                                 const Credential& cred, const std::string& id);

// The scope check of an append (ledger::WriteContext::authorize): OK, a
// kForbidden status (403, once the body is read), or kNotFound for a
// referral the credential may not see, which the ledger then checks as one
// that does not exist. REQUIRES: s.placements filled for a provider
// (WriteContext::with_placements).
ledger::Status Authorize(const Credential& c, const ledger::NewEvent& e,
                         const ledger::StreamInfo& s);

}  // namespace api
