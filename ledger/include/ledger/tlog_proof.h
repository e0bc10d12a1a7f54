// Offline proofs in the open format of C2SP (SPEC §9, c2sp.org/tlog-proof):
// that an entry is in a log, as one text file a regulator can keep and
// check later without the log, given the log's verifier key and a witness
// policy. The file holds the entry's index, the RFC 6962 inclusion proof
// of it in a checkpoint's tree, that checkpoint verbatim (a signed note:
// the log's signature and any witnesses' cosignatures), and optional extra
// data. Its lines, each ending in a newline:
//
//   c2sp.org/tlog-proof@v1
//   extra <base64>          (optional)
//   index <zero-based index, decimal, no leading zeros>
//   <base64 hash>           (zero or more: the audit path, from the leaf's
//   ...                      sibling up to the root's child)
//   <empty line>
//   <the checkpoint, verbatim>
//
// This ledger writes the event's canonical bytes as `extra` when the
// credential that fetched the proof may read the event: the extra data is
// not authenticated by itself, so a checker recomputes the leaf hash from
// it, SHA-256(0x00 || bytes), and only the inclusion proof makes it so.
// The index is seq - 1. This header reads and writes the format only; what
// a proof proves is checked by its reader (ledgerctl proof check).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/hash.h"
#include "ledger/status.h"

namespace ledger::tlog_proof {

// The first line of every proof.
inline constexpr std::string_view kHeader = "c2sp.org/tlog-proof@v1";
// The file extension proofs are stored with.
inline constexpr std::string_view kExtension = ".tlog-proof";
// The most hashes an inclusion proof holds: one per level of a tree of up
// to 2^64 - 1 entries.
inline constexpr size_t kMaxPathHashes = 64;

struct Proof {
  std::optional<std::string> extra;  // the extra data, decoded
  uint64_t index = 0;
  std::vector<Hash> path;
  std::string checkpoint;  // verbatim; ends in a newline
  bool operator==(const Proof&) const = default;
};

// The proof as its file's text.
std::string Format(const Proof& proof);

// Reads a proof's text strictly: kInvalidArgument, saying which line and
// why, for any deviation from the format (another first line, an `extra`
// or `index` line spelled otherwise, non-canonical base64, a hash of other
// than 32 bytes, more than kMaxPathHashes hashes, no empty line before the
// checkpoint, or a checkpoint that is empty or does not end in a newline).
// The checkpoint is kept as it is: whether it is a signed note is for the
// checker to say.
Result<Proof> Parse(std::string_view text);

}  // namespace ledger::tlog_proof
