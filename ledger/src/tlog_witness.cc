#include "ledger/tlog_witness.h"

#include <algorithm>
#include <charconv>

#include "ledger/note.h"

namespace ledger::tlog_witness {

namespace {

// A decimal with no sign and no leading zero (but "0").
std::optional<uint64_t> Decimal(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || (s.size() > 1 && s[0] == '0') ||
      std::from_chars(s.data(), s.data() + s.size(), v).ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

std::string Format(const AddCheckpoint& request) {
  std::string out = "old " + std::to_string(request.old_size) + "\n";
  for (const Hash& h : request.proof) out += note::HashToBase64(h) + "\n";
  out += "\n";
  out += request.checkpoint;
  return out;
}

Result<AddCheckpoint> Parse(std::string_view body) {
  AddCheckpoint out;
  auto line = [&body]() -> std::optional<std::string_view> {
    const size_t nl = body.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view l = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    return l;
  };
  std::optional<std::string_view> first = line();
  std::optional<uint64_t> old;
  if (!first || !first->starts_with("old ") || !(old = Decimal(first->substr(4)))) {
    return Status::InvalidArgument("the first line must be \"old <size>\"");
  }
  out.old_size = *old;
  while (true) {
    std::optional<std::string_view> l = line();
    if (!l) return Status::InvalidArgument("a blank line must come before the checkpoint");
    if (l->empty()) break;
    std::optional<Hash> hash = note::HashFromBase64(*l);
    if (!hash) return Status::InvalidArgument("a proof line must be one base64 SHA-256 hash");
    if (out.proof.size() == kMaxProofLines) {
      return Status::InvalidArgument("at most 63 proof lines");
    }
    out.proof.push_back(*hash);
  }
  out.checkpoint = std::string(body);
  return out;
}

std::optional<uint64_t> ParseSize(std::string_view body) {
  if (!body.ends_with('\n')) return std::nullopt;
  return Decimal(body.substr(0, body.size() - 1));
}

}  // namespace ledger::tlog_witness
