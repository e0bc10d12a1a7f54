#include "api/access.h"

#include <openssl/crypto.h>

#include <algorithm>
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
    case Role::kRegulator:
      return "regulator";
    case Role::kPartnership:
      return "partnership";
    case Role::kProvider:
      return "provider";
    case Role::kAuditor:
      return "auditor";
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
      return Status::BadField(where + ".name",
                              "must be at most 100 characters, no control characters");
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
      if (other.name == c.name)
        return Status::BadField(where + ".name", "repeats another token's name");
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

// ---------------------------------------------------------------------------
// Scope (SPEC §6 "Access", §8 "Scope in detail")

// Whether `cred` may see the referral `s` (SPEC §8, "Scope in detail"): a
// regulator every one; a partnership those of its areas (as corrected); a
// provider those that an offer or a start names one of its providers in (as
// corrected). To any other, the referral is as one that does not exist.
// REQUIRES: s.placements filled for a provider.
bool MayRead(const Credential& cred, const ledger::StreamInfo& s) {
  switch (cred.role) {
    case Role::kRegulator:
      return true;
    case Role::kPartnership:
      return cred.areas.count(s.area) > 0;
    case Role::kProvider:
      return std::any_of(s.placements.begin(), s.placements.end(), [&](const ledger::Placement& p) {
        return cred.providers.count(p.provider);
      });
    case Role::kAuditor:
      return false;
  }
  return false;
}

// The referral `id` as `cred` may see it now: its description, or kNotFound
// worded as for a referral that does not exist.
Result<ledger::StreamInfo> VisibleStream(const ledger::Ledger& ledger, const Credential& cred,
                                         const std::string& id) {
  Result<ledger::StreamInfo> s = ledger.DescribeStream(id, cred.role == Role::kProvider);
  if (s.ok() && !MayRead(cred, *s)) return Status::NotFound("no referral " + id);
  return s;
}

// The scope check of an append (SPEC §8: 403 once the body is read; a
// referral the credential may not see is kNotFound, which the ledger checks
// as a referral that does not exist).
Status Authorize(const Credential& c, const ledger::NewEvent& e, const ledger::StreamInfo& s) {
  const ledger::EventType type = ledger::TypeOf(e.data);
  if (c.role == Role::kPartnership) {
    // A new referral's area is its own; one already received elsewhere is
    // the 409 that follows.
    if (const auto* r = std::get_if<ledger::ReferralReceived>(&e.data)) {
      if (c.areas.count(r->area)) return Status::Ok();
      return Status::Forbidden("area " + r->area + " is outside the credential's scope");
    }
    if (!s.exists) return Status::Ok();  // the 422 that follows
    if (!MayRead(c, s)) return Status::NotFound("not visible");
    // A correction of the area moves the referral: to an area of the scope only.
    if (const auto* d = std::get_if<ledger::RecordCorrected>(&e.data)) {
      for (const ledger::CorrectedField& f : d->fields) {
        const auto* area = std::get_if<std::string>(&f.value);
        if (f.name == "area" && area && !c.areas.count(*area)) {
          return Status::Forbidden("area " + *area +
                                   " (data.fields.area) is outside the credential's scope");
        }
      }
    }
    return Status::Ok();
  }
  if (c.role == Role::kProvider) {
    // The commissioning partnership records the offer a provider made; the
    // provider records the start and the end of its own placement.
    if (type != ledger::EventType::kPlacementStarted &&
        type != ledger::EventType::kPlacementEnded) {
      return Status::Forbidden(
          "a provider records only placement.started and placement.ended, not " +
          std::string(ledger::ToString(type)));
    }
    if (!s.exists) return Status::Ok();  // the 422 that follows
    if (!MayRead(c, s)) return Status::NotFound("not visible");
    auto latest = [&](ledger::EventType t) -> const ledger::Placement* {
      for (auto p = s.placements.rbegin(); p != s.placements.rend(); ++p) {
        if (p->type == t) return &*p;
      }
      return nullptr;
    };
    if (const auto* d = std::get_if<ledger::PlacementStarted>(&e.data)) {
      const ledger::Placement* offer = latest(ledger::EventType::kPlacementOffered);
      if (!offer || !c.providers.count(offer->provider)) {
        return Status::Forbidden(
            "the referral's latest offer is not from the credential's providers");
      }
      if (d->provider != offer->provider) {
        return Status::Forbidden("data.provider must be " + offer->provider +
                                 ", the provider of the referral's latest offer");
      }
      return Status::Ok();
    }
    const ledger::Placement* start = latest(ledger::EventType::kPlacementStarted);
    if (!start || !c.providers.count(start->provider)) {
      return Status::Forbidden("the referral is not in placement with the credential's providers");
    }
    return Status::Ok();
  }
  return Status::Forbidden("role " + std::string(ToString(c.role)) + " may not append");
}

}  // namespace api
