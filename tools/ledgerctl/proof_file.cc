// ledgerctl proof write / check: an event's inclusion in a checkpoint as a
// c2sp.org/tlog-proof@v1 file (ledger/tlog_proof.h), written from a server
// and checked offline against the log's verifier key and a witness policy.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/time.h"
#include "ledger/tlog_proof.h"
#include "proof.h"

namespace ledgerctl {

namespace json = boost::json;
namespace note = ledger::note;
namespace tlog_proof = ledger::tlog_proof;

namespace {

// A checkpoint as a signed note and its body, or a status saying what it is
// not.
struct ReadCheckpoint {
  note::Note note;
  note::Checkpoint body;
};
ledger::Result<ReadCheckpoint> ReadCheckpointNote(std::string_view text) {
  ledger::Result<note::Note> n = note::Parse(text);
  if (!n.ok()) {
    return ledger::Status::InvalidArgument("the checkpoint is not a signed note (" +
                                           n.status().message() + ")");
  }
  ledger::Result<note::Checkpoint> body = note::ParseCheckpointText(n->text);
  if (!body.ok()) {
    return ledger::Status::InvalidArgument("the checkpoint's body is not origin, size and root (" +
                                           body.status().message() + ")");
  }
  return ReadCheckpoint{std::move(n).value(), std::move(body).value()};
}

// Writes `bytes` to `path` through a temporary file beside it, renamed into
// place: the proof file is whole or absent.
bool WriteWhole(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << bytes;
    out.flush();
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

// Fetches the latest checkpoint (GET /log/checkpoint: the one the
// witnesses' quorum cosigned, when witnesses are configured) and event N's
// inclusion proof in its tree, checks that the proof leads to the
// checkpoint's root (a server's slip is never written down), and writes the
// file. The event's canonical bytes go in `extra` when the credential may
// read the event. Trust is not established here: `proof check` does that,
// with keys the checker holds.
int ProofWrite(const Args& a) {
  if (a.positional.size() != 1) return CouldNotCheck("proof write takes no file name (--out FILE)");
  for (const char* f : {"server", "token", "seq", "out"}) {
    if (!a.Has(f)) return CouldNotCheck("proof write needs --server, --token, --seq and --out");
  }
  for (const char* f :
       {"key", "head", "old", "new", "proof", "vkey", "witness", "quorum", "leaf-hash", "entry"}) {
    if (a.Has(f)) return CouldNotCheck("--" + std::string(f) + " is not an option of proof write");
  }
  const std::string& seq_text = a.flags.at("seq");
  if (!IsWholeNumber(seq_text) || std::stoull(seq_text) == 0) {
    return CouldNotCheck("--seq must be a whole number from 1");
  }
  const uint64_t seq = std::stoull(seq_text);
  auto server = HttpClient::Make(a.flags.at("server"), a.flags.at("token"));
  if (!server.ok()) return CouldNotCheck(server.status().message());

  auto checkpoint_reply = server->Call("GET", "/log/checkpoint");
  if (!checkpoint_reply.ok())
    return CouldNotCheck("the server: " + checkpoint_reply.status().message());
  if (checkpoint_reply->status != 200) {
    return CouldNotCheck("the server: GET /log/checkpoint: " + ProblemText(*checkpoint_reply));
  }
  const std::string checkpoint = checkpoint_reply->body;
  ledger::Result<ReadCheckpoint> cp = ReadCheckpointNote(checkpoint);
  if (!cp.ok()) return CouldNotCheck("the server's " + cp.status().message());
  const uint64_t size = cp->body.size;
  if (seq > size) {
    return CouldNotCheck("event " + seq_text +
                         " is not yet in the latest (witnessed) checkpoint of size " +
                         std::to_string(size) + "; retry later");
  }

  const std::string target =
      "/v1/ledger/proof/inclusion?seq=" + seq_text + "&size=" + std::to_string(size);
  auto reply = server->Call("GET", target);
  if (!reply.ok()) return CouldNotCheck("the server: " + reply.status().message());
  if (reply->status != 200) {
    return CouldNotCheck("the server: GET " + target + ": " + ProblemText(*reply));
  }
  json::error_code ec;
  const json::value v = json::parse(reply->body, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  std::optional<uint64_t> index, proof_size;
  std::optional<std::vector<ledger::Hash>> path;
  std::optional<ledger::Hash> leaf_hash;
  std::optional<std::string> leaf;
  if (o) {
    index = WholeNumber(o->if_contains("leaf_index"));
    proof_size = WholeNumber(o->if_contains("size"));
    path = HashList(o->if_contains("audit_path"));
    if (const json::value* h = o->if_contains("leaf_hash"); h && h->is_string()) {
      leaf_hash = ledger::HashFromHex(h->as_string());
    }
    if (const json::value* l = o->if_contains("leaf"); l && l->is_string()) {
      leaf = ledger::FromHex(l->as_string());
      if (!leaf) return CouldNotCheck("the server's reply holds a leaf that is not hex");
    }
  }
  if (!index || !proof_size || !path || !leaf_hash) {
    return CouldNotCheck("the server's reply to GET " + target + " is not an inclusion proof");
  }
  if (*index != seq - 1 || *proof_size != size) {
    return Rejected("the server sent the proof of another event or tree (index " +
                    std::to_string(*index) + ", size " + std::to_string(*proof_size) + ")");
  }
  if (leaf && ledger::LeafHash(*leaf) != *leaf_hash) {
    return Rejected("the server's event bytes do not hash to its leaf hash");
  }
  if (!ledger::VerifyInclusion(*index, size, *leaf_hash, *path, cp->body.root)) {
    return Rejected("the server's inclusion proof does not lead to its checkpoint's root");
  }

  tlog_proof::Proof proof;
  proof.extra = leaf;
  proof.index = *index;
  proof.path = std::move(*path);
  proof.checkpoint = checkpoint;
  const std::string& out = a.flags.at("out");
  if (!WriteWhole(out, tlog_proof::Format(proof))) return CouldNotCheck("cannot write " + out);
  const size_t cosignatures = cp->note.signatures.size() - 1;
  std::printf(
      "wrote %s: event %llu (index %llu, leaf hash %s) in the checkpoint of size %llu of "
      "%s (%zu other signature line%s)\n",
      out.c_str(), static_cast<unsigned long long>(seq), static_cast<unsigned long long>(*index),
      ledger::ToHex(*leaf_hash).c_str(), static_cast<unsigned long long>(size),
      cp->body.origin.c_str(), cosignatures, cosignatures == 1 ? "" : "s");
  if (!leaf) {
    std::printf(
        "the event's bytes are not in it (this credential may not read the event): check it "
        "with --leaf-hash %s or --entry FILE\n",
        ledger::ToHex(*leaf_hash).c_str());
  }
  return 0;
}

// Checks a proof file: strictly read; the log's signature under its origin;
// the witnesses' cosignatures against the quorum; the entry's leaf hash
// recomputed (from the extra data, --entry or --leaf-hash); its inclusion
// at the index in the checkpoint's tree. Prints each thing checked.
int ProofCheck(const Args& a) {
  if (a.positional.size() != 2) return CouldNotCheck("proof check takes one FILE");
  const std::string& file = a.positional[1];
  if (!a.Has("vkey")) return CouldNotCheck("--vkey LOGVKEY (the log's verifier key) is required");
  for (const char* f : {"key", "head", "old", "new", "proof", "server", "token", "seq", "out"}) {
    if (a.Has(f)) return CouldNotCheck("--" + std::string(f) + " is not an option of proof check");
  }
  if (a.Has("leaf-hash") && a.Has("entry")) {
    return CouldNotCheck("give --leaf-hash or --entry, not both");
  }
  ledger::Result<note::Verifier> log_key = note::ParseVerifierKey(a.flags.at("vkey"));
  if (!log_key.ok()) {
    return CouldNotCheck("--vkey is not the log's verifier key: " + log_key.status().message());
  }
  // The witness policy: each key named counts once.
  std::vector<note::Verifier> witnesses;
  std::vector<std::string> witness_keys;
  if (auto it = a.values.find("witness"); it != a.values.end()) {
    for (const std::string& vkey : it->second) {
      ledger::Result<note::Verifier> w = note::ParseVerifierKey(vkey, note::kCosignatureV1);
      if (!w.ok()) {
        return CouldNotCheck("--witness " + vkey +
                             " is not a witness's cosigner key: " + w.status().message());
      }
      if (std::find(witness_keys.begin(), witness_keys.end(), vkey) != witness_keys.end()) continue;
      witness_keys.push_back(vkey);
      witnesses.push_back(std::move(w).value());
    }
  }
  uint64_t quorum = witnesses.size();
  if (a.Has("quorum")) {
    if (!IsWholeNumber(a.flags.at("quorum"))) return CouldNotCheck("--quorum is a whole number");
    quorum = std::stoull(a.flags.at("quorum"));
    if (quorum > witnesses.size()) {
      return CouldNotCheck("--quorum " + a.flags.at("quorum") + " is more than the " +
                           std::to_string(witnesses.size()) + " witnesses named");
    }
  }
  std::optional<ledger::Hash> given_leaf;
  if (a.Has("leaf-hash")) {
    given_leaf = ledger::HashFromHex(a.flags.at("leaf-hash"));
    if (!given_leaf) return CouldNotCheck("--leaf-hash is 64 hex digits");
  }
  std::optional<std::string> entry;
  if (a.Has("entry")) {
    entry = ReadSmallFile(a.flags.at("entry"), 1 << 20);
    if (!entry) return CouldNotCheck("cannot read --entry " + a.flags.at("entry"));
  }

  std::optional<std::string> text = ReadSmallFile(file);
  if (!text) return CouldNotCheck("cannot read " + file + " (or it is over 1 MiB)");
  ledger::Result<tlog_proof::Proof> proof = tlog_proof::Parse(*text);
  if (!proof.ok()) {
    return CouldNotCheck("malformed proof file " + file + ": " + proof.status().message());
  }
  ledger::Result<ReadCheckpoint> cp = ReadCheckpointNote(proof->checkpoint);
  if (!cp.ok()) return CouldNotCheck("malformed proof file " + file + ": " + cp.status().message());
  const note::Checkpoint& body = cp->body;

  // The log: its key is named by the checkpoint's origin, and signed it.
  if (body.origin != log_key->name) {
    return Rejected("the checkpoint is of the log " + body.origin + ", the key is of " +
                    log_key->name);
  }
  if (!note::SignedBy(cp->note, *log_key)) {
    return Rejected("the checkpoint's signature does not verify with the log's key");
  }
  std::printf("checkpoint: %s, size %llu, root %s, signed by the log's key\n", body.origin.c_str(),
              static_cast<unsigned long long>(body.size), note::HashToBase64(body.root).c_str());

  // The witnesses.
  uint64_t cosigned = 0;
  for (const note::Verifier& w : witnesses) {
    std::optional<uint64_t> at = note::CosignedBy(cp->note, w);
    if (at) {
      ++cosigned;
      const std::string when =
          *at <= static_cast<uint64_t>(INT64_MAX / ledger::kMicrosPerSecond)
              ? ledger::FormatTimestamp(static_cast<ledger::Micros>(*at) * ledger::kMicrosPerSecond)
              : "?";
      std::printf("witness %s: cosigned at %s (%llu)\n", w.name.c_str(), when.c_str(),
                  static_cast<unsigned long long>(*at));
    } else {
      std::printf("witness %s: no valid cosignature\n", w.name.c_str());
    }
  }
  if (cosigned < quorum) {
    return Rejected(std::to_string(cosigned) + " of the " + std::to_string(witnesses.size()) +
                    " witnesses named cosigned the checkpoint; the quorum is " +
                    std::to_string(quorum));
  }

  // The entry: its leaf hash recomputed, never taken from the file alone.
  ledger::Hash leaf{};
  std::string leaf_from;
  if (proof->extra) {
    leaf = ledger::LeafHash(*proof->extra);
    leaf_from = "the proof's extra data";
    if (entry && *entry != *proof->extra) {
      return Rejected("the entry of --entry differs from the proof's extra data");
    }
    if (given_leaf && *given_leaf != leaf) {
      return Rejected("the proof's extra data hashes to " + ledger::ToHex(leaf) +
                      ", not to --leaf-hash");
    }
  } else if (entry) {
    leaf = ledger::LeafHash(*entry);
    leaf_from = "--entry";
  } else if (given_leaf) {
    leaf = *given_leaf;
    leaf_from = "--leaf-hash";
  } else {
    return CouldNotCheck(
        "the proof carries no entry (no extra line): give --entry FILE or "
        "--leaf-hash HEX");
  }
  if (proof->index >= body.size) {
    return Rejected("index " + std::to_string(proof->index) +
                    " is not in the checkpoint's tree of " + std::to_string(body.size) +
                    " entries");
  }
  if (!ledger::VerifyInclusion(proof->index, body.size, leaf, proof->path, body.root)) {
    return Rejected("the inclusion proof of index " + std::to_string(proof->index) + " (leaf " +
                    ledger::ToHex(leaf) + ", from " + leaf_from +
                    ") does not lead to the checkpoint's root");
  }
  std::printf(
      "ok: event seq %llu (index %llu, leaf hash %s from %s) is in the checkpoint of "
      "size %llu of %s, cosigned by %llu of %zu witnesses (quorum %llu)\n",
      static_cast<unsigned long long>(proof->index + 1),
      static_cast<unsigned long long>(proof->index), ledger::ToHex(leaf).c_str(), leaf_from.c_str(),
      static_cast<unsigned long long>(body.size), body.origin.c_str(),
      static_cast<unsigned long long>(cosigned), witnesses.size(),
      static_cast<unsigned long long>(quorum));
  return 0;
}

}  // namespace ledgerctl
