// Tile coordinates of c2sp.org/tlog-tiles (SPEC §9): the tree served in
// tiles of 256 hashes, so that any HTTP cache can carry the read load.
//
// A hash tile at level L, index N holds the hashes of the nodes at tree
// level 8L (each the root of 256^L leaves) with indices 256N .. 256N+W-1.
// Its path is "tile/<L>/<N>", or "tile/<L>/<N>.p/<W>" when partial
// (W < 256); N is written in groups of three digits, every group but the
// last prefixed with "x" ("x001/x234/067" is 1234067).
//
// An entry bundle ("tile/entries/<N>[.p/<W>]") holds the entries (the
// events' canonical bytes) with indices 256N .. 256N+W-1, each preceded by
// its length as a big-endian uint16.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ledger::tiles {

inline constexpr unsigned kTileWidth = 256;  // hashes in a full tile (height 8)
inline constexpr unsigned kTileHeight = 8;
// The most canonical bytes an entry may have: its length is a uint16 in a
// bundle. The field limits of SPEC §8 keep every event within it (see
// codec_test's TheLargestEventOfEveryTypeFitsAnEntryBundle).
inline constexpr size_t kMaxEntryBytes = 65535;

struct Tile {
  unsigned level = 0;
  uint64_t index = 0;
  unsigned width = kTileWidth;  // 1 to 256
  bool entries = false;         // an entry bundle (level 0) rather than hashes
  bool operator==(const Tile&) const = default;
};

// "tile/<L>/<N>[.p/<W>]", or "tile/entries/<N>[.p/<W>]".
std::string Path(const Tile& tile);
// The tile of a path Path() gives; nullopt for any other spelling (leading
// zeros beyond the groups, a width of 0 or 256 after ".p", a level above 63,
// an entry bundle of a level other than 0).
std::optional<Tile> ParsePath(std::string_view path);

}  // namespace ledger::tiles
