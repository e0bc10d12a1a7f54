// The RFC 6962 Merkle tree over the ledger's events (SPEC §5): hashing,
// proof construction over any store of subtree hashes, and the verifiers a
// client runs with nothing but a tree head and a proof (RFC 9162 §2.1.3.2 and
// §2.1.4.2).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "ledger/hash.h"
#include "ledger/status.h"

namespace ledger {

// SHA-256(0x00 || bytes): the hash of a leaf holding `bytes`.
Hash LeafHash(std::string_view bytes);
// SHA-256(0x01 || left || right): the hash of an interior node.
Hash NodeHash(const Hash& left, const Hash& right);
// SHA-256 of nothing: the root of the empty tree.
Hash EmptyTreeRoot();

// Largest power of two strictly less than n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n);

// The hashes of the perfect subtrees of a growing tree (the "compact range"
// at its right edge): enough to append a leaf and to compute the root, in
// O(log n) space.
class CompactRange {
 public:
  // Called for every perfect subtree completed by an append: its level
  // (0 for a leaf), index within the level and hash.
  using NodeSink = std::function<void(unsigned level, uint64_t index, const Hash& hash)>;

  CompactRange() = default;
  // The range of a tree of `size` leaves whose perfect subtrees, largest
  // first, have the hashes `peaks`. REQUIRES: peaks.size() == popcount(size).
  CompactRange(uint64_t size, std::vector<Hash> peaks);

  // Appends a leaf hash; reports the new perfect subtrees to `sink` if set.
  void Append(const Hash& leaf, const NodeSink& sink = nullptr);

  uint64_t size() const { return size_; }
  // The root of the tree (EmptyTreeRoot() when empty).
  Hash Root() const;
  // The perfect subtree hashes, largest (leftmost) first.
  std::vector<Hash> Peaks() const;

 private:
  uint64_t size_ = 0;
  // by_level_[l] is the perfect subtree of 2^l leaves when bit l of size_ is set.
  std::vector<Hash> by_level_;
};

// A source of perfect subtree hashes: the node at `level` (2^level leaves)
// and `index` (covering leaves [index * 2^level, (index + 1) * 2^level)).
using NodeReader = std::function<Result<Hash>(unsigned level, uint64_t index)>;

// MTH of leaves [start, start + n) (RFC 6962 §2.1). REQUIRES: n >= 1.
Result<Hash> SubtreeRoot(const NodeReader& nodes, uint64_t start, uint64_t n);

// The audit path of leaf `index` (0-based) in the tree of the first `size`
// leaves (RFC 6962 §2.1.1). REQUIRES: index < size.
Result<std::vector<Hash>> MakeInclusionProof(const NodeReader& nodes, uint64_t index,
                                             uint64_t size);

// The consistency proof between the trees of the first `size1` and `size2`
// leaves (RFC 6962 §2.1.2). Empty when size1 == size2.
// REQUIRES: 1 <= size1 <= size2.
Result<std::vector<Hash>> MakeConsistencyProof(const NodeReader& nodes, uint64_t size1,
                                               uint64_t size2);

// True when `proof` shows the leaf with hash `leaf_hash` at `index` in the
// tree of `size` leaves whose root is `root`.
bool VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                     const std::vector<Hash>& proof, const Hash& root);

// True when `proof` shows that the tree of `size1` leaves with root `root1`
// is a prefix of the tree of `size2` leaves with root `root2`.
bool VerifyConsistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                       const std::vector<Hash>& proof);

}  // namespace ledger
