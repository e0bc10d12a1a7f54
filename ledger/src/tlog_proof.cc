#include "ledger/tlog_proof.h"

#include <algorithm>

#include "ledger/note.h"

namespace ledger::tlog_proof {

std::string Format(const Proof& proof) {
  std::string out(kHeader);
  out += "\n";
  if (proof.extra) out += "extra " + note::Base64Encode(*proof.extra) + "\n";
  out += "index " + std::to_string(proof.index) + "\n";
  for (const Hash& h : proof.path) out += note::HashToBase64(h) + "\n";
  out += "\n";
  out += proof.checkpoint;
  return out;
}

namespace {

// A decimal index as the format spells it: digits, no leading zero (but
// for 0 itself), within uint64_t.
std::optional<uint64_t> ParseIndex(std::string_view digits) {
  if (digits.empty() || digits.size() > 20 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (digits.size() > 1 && digits.front() == '0')) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : digits) {
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

}  // namespace

Result<Proof> Parse(std::string_view text) {
  size_t line_number = 0;
  // The next line, without its newline; nullopt at the end of the text or
  // when the last line has no newline.
  auto next = [&]() -> std::optional<std::string_view> {
    ++line_number;
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    return line;
  };
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("line " + std::to_string(line_number) + ": " + why);
  };
  Proof proof;
  std::optional<std::string_view> line = next();
  if (!line || *line != kHeader) {
    return bad("the first line must be " + std::string(kHeader));
  }
  line = next();
  if (line && line->starts_with("extra")) {
    if (!line->starts_with("extra ")) return bad("an extra line is \"extra <base64>\"");
    std::optional<std::string> extra = note::Base64Decode(line->substr(6));
    if (!extra) return bad("the extra data is not canonical base64");
    proof.extra = std::move(extra);
    line = next();
  }
  if (!line || !line->starts_with("index ")) {
    return bad("expected \"index <N>\"");
  }
  std::optional<uint64_t> index = ParseIndex(line->substr(6));
  if (!index) return bad("the index is not a decimal number without leading zeros");
  proof.index = *index;
  for (line = next(); line && !line->empty(); line = next()) {
    if (proof.path.size() == kMaxPathHashes) {
      return bad("an inclusion proof holds at most " + std::to_string(kMaxPathHashes) + " hashes");
    }
    std::optional<Hash> hash = note::HashFromBase64(*line);
    if (!hash) return bad("a hash line is the base64 of 32 bytes");
    proof.path.push_back(*hash);
  }
  if (!line) return bad("no empty line before the checkpoint");
  ++line_number;  // the checkpoint's first line
  if (text.empty()) return bad("no checkpoint after the empty line");
  if (text.back() != '\n') return bad("the checkpoint does not end in a newline");
  proof.checkpoint = std::string(text);
  return proof;
}

}  // namespace ledger::tlog_proof
