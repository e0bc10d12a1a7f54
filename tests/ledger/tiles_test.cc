// Tiles of c2sp.org/tlog-tiles (ledger/tiles.h): the path form of the
// specification's example, and hash tiles read from a real ledger's stored
// nodes that rebuild its roots.
#include "ledger/tiles.h"

#include <gtest/gtest.h>

#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "test_util.h"

namespace ledger::tiles {
namespace {

TEST(TilePath, TheSpecificationsFormAndOnlyIt) {
  EXPECT_EQ(Path({0, 1234067, 256}), "tile/0/x001/x234/067");
  EXPECT_EQ(Path({1, 0, 256}), "tile/1/000");
  EXPECT_EQ(Path({0, 1000, 8}), "tile/0/x001/000.p/8");
  EXPECT_EQ(Path({0, 1234067, 256, true}), "tile/entries/x001/x234/067");
  EXPECT_EQ(Path({0, 3, 7, true}), "tile/entries/003.p/7");
  for (const Tile& t :
       {Tile{0, 1234067, 256}, Tile{2, 5, 1}, Tile{0, 999, 255}, Tile{0, 1000000, 17},
        Tile{63, 0, 256}, Tile{0, 1234067, 256, true}, Tile{0, 3, 7, true}}) {
    EXPECT_EQ(ParsePath(Path(t)), t) << Path(t);
  }
  for (const char* bad :
       {"tile/0/1234067", "tile/0/x000/001", "tile/0/001.p/256", "tile/0/001.p/0",
        "tile/0/001.p/08", "tile/64/000", "tile/00/000", "tile/0/01", "tile/0/x001", "tile/0",
        "tile/entries/0", "tile/entry/000", "tile/entries/000.p/256", "tiles/0/000",
        "tile/0/x1/000", "tile/-1/000"}) {
    EXPECT_FALSE(ParsePath(bad).has_value()) << bad;
  }
}

TEST(HashTiles, ReadFromTheStoredNodesTheyRebuildTheRoots) {
  testing::TempDir dir;
  auto ledger = Ledger::Open(dir.path(), testing::TestOptions());
  ASSERT_TRUE(ledger.ok());
  std::vector<AppendRequest> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back(testing::Req("r" + std::to_string(i), testing::T(0), testing::Received()));
  }
  ASSERT_TRUE((*ledger)->Append(batch, testing::Writer()).ok());
  Ledger& l = **ledger;
  // Level 0, tile 0: the first 256 leaf hashes; their tree is the ledger's
  // at size 256, whose root is the level-1 tile's first hash.
  auto leaves = l.ReadTile({0, 0, 256}, 300);
  ASSERT_TRUE(leaves.ok()) << leaves.status().ToString();
  ASSERT_EQ(leaves->size(), 256u * 32);
  CompactRange tree;
  for (size_t i = 0; i < 256; ++i) {
    Hash h;
    std::copy(leaves->begin() + 32 * i, leaves->begin() + 32 * (i + 1), h.begin());
    tree.Append(h);
  }
  EXPECT_EQ(tree.Root(), l.SignedHead(256)->head.root);
  auto top = l.ReadTile({1, 0, 1}, 300);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(*top, std::string(AsBytes(tree.Root())));
  // The partial tile of the 44 leaves after them, and nothing beyond.
  auto rest = l.ReadTile({0, 1, 44}, 300);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 44u * 32);
  for (size_t i = 0; i < 44; ++i) {
    tree.Append([&] {
      Hash h;
      std::copy(rest->begin() + 32 * i, rest->begin() + 32 * (i + 1), h.begin());
      return h;
    }());
  }
  EXPECT_EQ(tree.Root(), l.SignedHead(300)->head.root);
  EXPECT_EQ(l.ReadTile({0, 1, 45}, 300).status().code(), Code::kNotFound);
  EXPECT_EQ(l.ReadTile({0, 1, 256}, 300).status().code(), Code::kNotFound);
  EXPECT_EQ(l.ReadTile({1, 0, 2}, 300).status().code(), Code::kNotFound);
  EXPECT_EQ(l.ReadTile({0, 0, 256}, 255).status().code(), Code::kNotFound);
  EXPECT_EQ(l.ReadTile({0, 0, 1}, 301).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace ledger::tiles
