// Tile coordinates of c2sp.org/tlog-tiles (SPEC §9): the tree served in
// tiles of 256 hashes, so that any HTTP cache can carry the read load.
//
// A hash tile at level L, index N holds the hashes of the nodes at tree
// level 8L (each the root of 256^L leaves) with indices 256N .. 256N+W-1.
// Its path is "tile/<L>/<N>", or "tile/<L>/<N>.p/<W>" when partial
// (W < 256); N is written in groups of three digits, every group but the
// last prefixed with "x" ("x001/x234/067" is 1234067).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ledger::tiles {

inline constexpr unsigned kTileWidth = 256;  // hashes in a full tile (height 8)
inline constexpr unsigned kTileHeight = 8;

struct Tile {
  unsigned level = 0;
  uint64_t index = 0;
  unsigned width = kTileWidth;  // 1 to 256
  bool operator==(const Tile&) const = default;
};

// "tile/<L>/<N>[.p/<W>]".
std::string Path(const Tile& tile);
// The tile of a path Path() gives; nullopt for any other spelling (leading
// zeros beyond the groups, a width of 0 or 256 after ".p", a level above 63).
std::optional<Tile> ParsePath(std::string_view path);

}  // namespace ledger::tiles
