#include "ledger/tiles.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace ledger::tiles {

namespace {

std::string Group(uint64_t n) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%03u", static_cast<unsigned>(n));
  return buf;
}

// A decimal number with no sign, no leading zero (but "0"), at most `most`.
std::optional<uint64_t> Decimal(std::string_view s, uint64_t most) {
  uint64_t v = 0;
  if (s.empty() || (s.size() > 1 && s[0] == '0') ||
      std::from_chars(s.data(), s.data() + s.size(), v).ptr != s.data() + s.size() || v > most) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

std::string Path(const Tile& tile) {
  uint64_t n = tile.index;
  std::string digits = Group(n % 1000);
  while (n >= 1000) {
    n /= 1000;
    digits = "x" + Group(n % 1000) + "/" + digits;
  }
  std::string out =
      "tile/" + (tile.entries ? std::string("entries") : std::to_string(tile.level)) + "/" + digits;
  if (tile.width != kTileWidth) out += ".p/" + std::to_string(tile.width);
  return out;
}

std::optional<Tile> ParsePath(std::string_view path) {
  const std::string_view original = path;
  std::vector<std::string_view> parts;
  while (true) {
    const size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (parts.size() < 3 || parts[0] != "tile") return std::nullopt;
  Tile t;
  if (parts[1] == "entries") {
    t.entries = true;
  } else {
    std::optional<uint64_t> level = Decimal(parts[1], 63);
    if (!level) return std::nullopt;
    t.level = static_cast<unsigned>(*level);
  }
  size_t end = parts.size();
  if (parts[end - 2].ends_with(".p")) {
    std::optional<uint64_t> w = Decimal(parts[end - 1], kTileWidth - 1);
    if (!w || *w == 0) return std::nullopt;
    t.width = static_cast<unsigned>(*w);
    parts[end - 2].remove_suffix(2);
    --end;
  }
  if (end - 2 > 7) return std::nullopt;  // at most 7 groups: below 10^21 > 2^64
  uint64_t n = 0;
  for (size_t i = 2; i < end; ++i) {
    std::string_view g = parts[i];
    const bool last = i + 1 == end;
    if (!last) {
      if (!g.starts_with("x")) return std::nullopt;
      g.remove_prefix(1);
    }
    uint64_t v = 0;
    if (g.size() != 3 || std::from_chars(g.data(), g.data() + 3, v).ptr != g.data() + 3) {
      return std::nullopt;
    }
    if (n > (UINT64_MAX - v) / 1000) return std::nullopt;
    n = n * 1000 + v;
  }
  t.index = n;
  // Only the one spelling Path gives (no "x000/" in front, say).
  if (Path(t) != original) return std::nullopt;
  return t;
}

}  // namespace ledger::tiles
