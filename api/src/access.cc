#include "api/access.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "ledger/event.h"

namespace api {

namespace json = boost::json;
using ledger::Result;
using ledger::Status;

std::string_view ToString(Role role) {
  switch (role) {
    case Role::kRegulator: return "regulator";
    case Role::kPartnership: return "partnership";
    case Role::kProvider: return "provider";
    case Role::kAuditor: return "auditor";
  }
  return "regulator";
}

namespace {

Result<std::set<std::string>> StringSet(const json::object& o, std::string_view key,
                                        const std::string& where,
                                        std::string (*check)(std::string_view)) {
  std::set<std::string> out;
  const json::value* v = o.if_contains(key);
  if (!v) return out;
  if (!v->is_array()) return Status::BadField(where + "." + std::string(key), "must be an array");
  for (const json::value& e : v->as_array()) {
    const std::string problem = e.is_string() ? check(e.as_string()) : "must be a string";
    if (!problem.empty()) {
      return Status::BadField(where + "." + std::string(key), json::serialize(e) + " " + problem);
    }
    out.emplace(e.as_string());
  }
  return out;
}

}  // namespace

Result<TokenStore> TokenStore::Parse(std::string_view text) {
  json::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object() || !doc.as_object().if_contains("tokens") ||
      !doc.at("tokens").is_array()) {
    return Status::BadField("tokens", "the tokens file must be {\"tokens\": [...]}");
  }
  TokenStore store;
  const json::array& tokens = doc.at("tokens").as_array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string where = "tokens[" + std::to_string(i) + "]";
    if (!tokens[i].is_object()) return Status::BadField(where, "must be an object");
    const json::object& t = tokens[i].as_object();
    Credential c;
    const json::value* name = t.if_contains("name");
    if (!name || !name->is_string() || name->as_string().empty()) {
      return Status::BadField(where + ".name", "is required");
    }
    c.name = name->as_string();
    // The name is the credential's identity in each event's actor, its
    // idempotency keys and its rate limit: one credential's alone.
    if (c.name.size() > 100 || ledger::HasControlCharacter(c.name)) {
      return Status::BadField(where + ".name", "must be at most 100 characters, no control characters");
    }
    const json::value* role = t.if_contains("role");
    std::optional<Role> r;
    for (Role candidate : {Role::kRegulator, Role::kPartnership, Role::kProvider, Role::kAuditor}) {
      if (role && role->is_string() && role->as_string() == ToString(candidate)) r = candidate;
    }
    if (!r) {
      return Status::BadField(where + ".role",
                              "must be regulator, partnership, provider or auditor");
    }
    c.role = *r;
    const json::value* digest = t.if_contains("sha256");
    std::optional<ledger::Hash> h;
    if (digest && digest->is_string()) h = ledger::HashFromHex(digest->as_string());
    if (!h) return Status::BadField(where + ".sha256", "must be 64 hex digits");
    c.digest = *h;
    auto areas = StringSet(t, "areas", where, ledger::CheckAreaCode);
    if (!areas.ok()) return areas.status();
    c.areas = std::move(areas).value();
    auto providers = StringSet(t, "providers", where, ledger::CheckProviderId);
    if (!providers.ok()) return providers.status();
    c.providers = std::move(providers).value();
    for (const Credential& other : store.credentials_) {
      if (other.digest == c.digest) return Status::BadField(where, "repeats another token");
      if (other.name == c.name) return Status::BadField(where + ".name", "repeats another token's name");
    }
    store.credentials_.push_back(std::move(c));
  }
  return store;
}

Result<TokenStore> TokenStore::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read the tokens file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str());
}

const Credential* TokenStore::Authenticate(std::string_view token) const {
  const ledger::Hash digest = ledger::Sha256(token);
  const Credential* found = nullptr;
  for (const Credential& c : credentials_) {
    if (CRYPTO_memcmp(c.digest.data(), digest.data(), digest.size()) == 0) found = &c;
  }
  return found;
}

}  // namespace api
