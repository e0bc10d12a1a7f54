// ledgerctl proof: inclusion and consistency checked offline, trusting the
// server for nothing; and (proof_file.cc) c2sp.org/tlog-proof files written
// and checked. Every subcommand's exit code is its verdict (proof.h).
#include "proof.h"

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "ledger/merkle.h"

namespace ledgerctl {

namespace json = boost::json;

int Rejected(const std::string& why) {
  std::printf("REJECTED: %s\n", why.c_str());
  return 1;
}

int CouldNotCheck(const std::string& why) {
  std::fprintf(stderr, "could not check: %s\n", why.c_str());
  return 2;
}

std::optional<std::string> ReadSmallFile(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bytes.append(buf, static_cast<size_t>(in.gcount()));
    if (bytes.size() > limit) return std::nullopt;
  }
  if (in.bad()) return std::nullopt;
  return bytes;
}

std::optional<uint64_t> WholeNumber(const json::value* v) {
  if (v && v->is_uint64()) return v->get_uint64();
  if (v && v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return std::nullopt;
}

std::optional<std::vector<ledger::Hash>> HashList(const json::value* v) {
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<ledger::Hash> out;
  for (const json::value& h : v->as_array()) {
    if (!h.is_string()) return std::nullopt;
    auto parsed = ledger::HashFromHex(h.as_string());
    if (!parsed) return std::nullopt;
    out.push_back(*parsed);
  }
  return out;
}

namespace {

std::optional<json::value> ReadJsonFile(const std::string& path) {
  std::optional<std::string> text = ReadSmallFile(path, 16 << 20);
  if (!text) return std::nullopt;
  json::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec) return std::nullopt;
  return v;
}

// A signed head as the API serves it: size, root_hash, timestamp, signature.
std::optional<ledger::SignedTreeHead> HeadFromJson(const json::value& v) {
  const json::object* o = v.if_object();
  if (!o) return std::nullopt;
  const json::value* size = o->if_contains("size");
  const json::value* root = o->if_contains("root_hash");
  const json::value* ts = o->if_contains("timestamp");
  const json::value* sig = o->if_contains("signature");
  const std::optional<uint64_t> n = WholeNumber(size);
  if (!n || !root || !root->is_string() || !ts || !sig || !sig->is_string()) {
    return std::nullopt;
  }
  ledger::SignedTreeHead h;
  h.head.size = *n;
  auto r = ledger::HashFromHex(root->as_string());
  auto s = ledger::FromHex(sig->as_string());
  if (!r || !s) return std::nullopt;
  h.head.root = *r;
  h.signature = *s;
  if (ts->is_string()) {
    auto t = ledger::ParseTimestamp(ts->as_string());
    if (!t) return std::nullopt;
    h.head.timestamp = *t;
  } else if (!ts->is_null()) {
    return std::nullopt;
  }
  return h;
}

}  // namespace

// Proofs are checked against heads the user holds and a key the user trusts;
// a server (--server) only supplies the proof and, for consistency without
// --new, the head it serves now, whose signature is checked like any other.
int Proof(const Args& a) {
  const std::string sub = a.positional.empty() ? "" : a.positional[0];
  if (sub == "write") return ProofWrite(a);
  if (sub == "check") return ProofCheck(a);
  if (a.positional.size() != 1 || (sub != "inclusion" && sub != "consistency")) {
    return CouldNotCheck(
        "proof takes inclusion, consistency, write or check (ledgerctl proof --help)");
  }
  for (const char* f : {"out", "vkey", "witness", "quorum", "leaf-hash", "entry"}) {
    if (a.Has(f))
      return CouldNotCheck("--" + std::string(f) + " is an option of proof write or check");
  }
  const bool inclusion = sub == "inclusion";
  auto file = [&](const char* k) -> std::optional<json::value> {
    auto it = a.flags.find(k);
    return it == a.flags.end() ? std::nullopt : ReadJsonFile(it->second);
  };
  if (!a.Has("key")) return CouldNotCheck("--key KEY.pem is required");
  std::optional<std::string> pem = ReadSmallFile(a.flags.at("key"));
  std::optional<std::string> key = pem ? ledger::PublicKeyFromPem(*pem) : std::nullopt;
  if (!key) return CouldNotCheck("--key must be the ledger's PEM public key");
  if (a.Has("proof") == a.Has("server")) {
    return CouldNotCheck("proof takes --proof FILE or --server URL");
  }
  if (a.Has("server") && !a.Has("token")) return CouldNotCheck("--server needs --token");
  if (inclusion && a.Has("server") != a.Has("seq")) {
    return CouldNotCheck("--seq N goes with --server, and only with it");
  }
  if (a.Has("seq") && (!IsWholeNumber(a.flags.at("seq")) || std::stoull(a.flags.at("seq")) == 0)) {
    return CouldNotCheck("--seq must be a whole number from 1");
  }

  auto fail = Rejected;
  // -1: the head verifies and is in *out; else the exit code.
  auto check_head = [&](const json::value& v, const std::string& what,
                        ledger::SignedTreeHead* out) -> int {
    std::optional<ledger::SignedTreeHead> h = HeadFromJson(v);
    if (!h) return CouldNotCheck(what + " is not a signed head");
    if (!ledger::VerifyTreeHead(*h, *key)) {
      return fail("the " + what + "'s signature does not verify with the key");
    }
    *out = *h;
    return -1;
  };
  auto saved_head = [&](const char* flag, ledger::SignedTreeHead* out) -> int {
    std::optional<json::value> v = file(flag);
    if (!v) {
      return CouldNotCheck(std::string("--") + flag +
                           " must be a signed head as the API serves it");
    }
    return check_head(*v, std::string(flag) + " head", out);
  };
  std::optional<ledgerctl::HttpClient> server;
  if (a.Has("server")) {
    auto c = ledgerctl::HttpClient::Make(a.flags.at("server"), a.flags.at("token"));
    if (!c.ok()) return CouldNotCheck(c.status().message());
    server = std::move(c).value();
  }
  // -1: a JSON object from the server is in *out; else the exit code (2:
  // there is none to check).
  auto fetch = [&](const std::string& target, json::value* out) -> int {
    auto reply = server->Call("GET", target);
    if (!reply.ok()) return CouldNotCheck("the server: " + reply.status().message());
    if (reply->status != 200) return CouldNotCheck("the server: " + ProblemText(*reply));
    json::error_code ec;
    *out = json::parse(reply->body, ec);
    if (ec || !out->is_object()) return CouldNotCheck("the server's reply is not a JSON object");
    return -1;
  };
  json::value proof;
  if (!server) {
    std::optional<json::value> p = file("proof");
    if (!p || !p->is_object()) return CouldNotCheck("--proof must be a proof as the API serves it");
    proof = std::move(*p);
  }

  if (inclusion) {
    ledger::SignedTreeHead head;
    if (int rc = saved_head("head", &head); rc >= 0) return rc;
    if (a.Has("seq") && std::stoull(a.flags.at("seq")) > head.head.size) {
      return fail("event " + a.flags.at("seq") + " is not in the signed tree of " +
                  std::to_string(head.head.size) + " events the head covers");
    }
    if (server) {
      const std::string target = "/v1/ledger/proof/inclusion?seq=" + a.flags.at("seq") +
                                 "&size=" + std::to_string(head.head.size);
      if (int rc = fetch(target, &proof); rc >= 0) return rc;
    }
    const json::object& p = proof.as_object();
    const std::optional<uint64_t> index = WholeNumber(p.if_contains("leaf_index"));
    const std::optional<uint64_t> size = WholeNumber(p.if_contains("size"));
    const json::value* leaf = p.if_contains("leaf_hash");
    std::optional<std::vector<ledger::Hash>> path = HashList(p.if_contains("audit_path"));
    std::optional<ledger::Hash> leaf_hash;
    if (leaf && leaf->is_string()) leaf_hash = ledger::HashFromHex(leaf->as_string());
    if (!index || !size || !leaf_hash || !path) {
      return CouldNotCheck(server ? "the server's reply is not an inclusion proof"
                                  : "--proof is not an inclusion proof");
    }
    if (*size != head.head.size) {
      return fail("the proof is for a tree of " + std::to_string(*size) + " events, the head has " +
                  std::to_string(head.head.size));
    }
    if (a.Has("seq") && *index + 1 != std::stoull(a.flags.at("seq"))) {
      return fail("the proof is for another event");
    }
    if (!ledger::VerifyInclusion(*index, head.head.size, *leaf_hash, *path, head.head.root)) {
      return fail("the audit path does not lead to the head's root");
    }
    std::printf("ok: event %llu (leaf hash %s) is in the signed tree of %llu events\n",
                static_cast<unsigned long long>(*index + 1), ledger::ToHex(*leaf_hash).c_str(),
                static_cast<unsigned long long>(head.head.size));
    return 0;
  }

  ledger::SignedTreeHead old_head, new_head;
  if (int rc = saved_head("old", &old_head); rc >= 0) return rc;
  if (a.Has("new") || !server) {
    if (int rc = saved_head("new", &new_head); rc >= 0) return rc;
  } else {
    json::value served;
    if (int rc = fetch("/v1/ledger/head", &served); rc >= 0) return rc;
    if (int rc = check_head(served, "server's head", &new_head); rc >= 0) return rc;
  }
  if (server) {
    const std::string target =
        "/v1/ledger/proof/consistency?from=" + std::to_string(old_head.head.size) +
        "&to=" + std::to_string(new_head.head.size);
    if (old_head.head.size > new_head.head.size) {
      return fail("the new head has fewer events than the old one");
    }
    if (int rc = fetch(target, &proof); rc >= 0) return rc;
  }
  std::optional<std::vector<ledger::Hash>> path = HashList(proof.as_object().if_contains("proof"));
  if (!path) {
    return CouldNotCheck(server ? "the server's reply is not a consistency proof"
                                : "--proof is not a consistency proof");
  }
  const uint64_t m = old_head.head.size, n = new_head.head.size;
  const bool holds =
      m == 0 || (m <= n && (m == n ? old_head.head.root == new_head.head.root
                                   : ledger::VerifyConsistency(m, n, old_head.head.root,
                                                               new_head.head.root, *path)));
  if (!holds) return fail("the ledger of the new head does not extend the old one");
  std::printf("ok: the tree of %llu events (root %s) extends the tree of %llu\n",
              static_cast<unsigned long long>(n), ledger::ToHex(new_head.head.root).c_str(),
              static_cast<unsigned long long>(m));
  return 0;
}

}  // namespace ledgerctl
