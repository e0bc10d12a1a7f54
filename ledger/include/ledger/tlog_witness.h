// The body of a tlog-witness add-checkpoint request (c2sp.org/tlog-witness,
// SPEC §9), written by the ledger's witness client and read by the witness
// server (ledgerctl witness):
//
//   old <size>\n
//   <base64 hash>\n      zero to 63 consistency proof lines
//   \n
//   <checkpoint>         a signed note, verbatim
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/hash.h"
#include "ledger/status.h"

namespace ledger::tlog_witness {

inline constexpr size_t kMaxProofLines = 63;
// The content type of a 409's body: the witness's size, then a newline.
inline constexpr std::string_view kSizeContentType = "text/x.tlog.size";

struct AddCheckpoint {
  uint64_t old_size = 0;
  std::vector<Hash> proof;  // RFC 6962 consistency proof, old_size to the checkpoint's size
  std::string checkpoint;   // the signed note
};

std::string Format(const AddCheckpoint& request);
// kInvalidArgument when `body` is not that shape (a size with a leading
// zero, a proof line that is not a base64 hash, more than 63 of them, no
// blank line before the checkpoint).
Result<AddCheckpoint> Parse(std::string_view body);

// The decimal size of a 409's body ("<size>\n"), or nullopt.
std::optional<uint64_t> ParseSize(std::string_view body);

}  // namespace ledger::tlog_witness
