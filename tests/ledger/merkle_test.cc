// The RFC 6962 tree: roots and proofs against the published test vectors
// (tests/ledger/rfc6962_vectors.h), and the library's proofs checked by a
// verifier written here from RFC 6962's definitions alone.
#include "ledger/merkle.h"

#include <gtest/gtest.h>

#include <map>

#include "rfc6962_vectors.h"

namespace ledger {
namespace {

std::string Bytes(std::string_view hex) { return *FromHex(hex); }
Hash H(std::string_view hex) { return *HashFromHex(hex); }
std::vector<Hash> Hs(const std::vector<std::string_view>& hex) {
  std::vector<Hash> out;
  for (auto h : hex) out.push_back(H(h));
  return out;
}

// An in-memory node store built by CompactRange's appends.
struct MemoryTree {
  std::map<std::pair<unsigned, uint64_t>, Hash> nodes;
  CompactRange range;
  void Append(std::string_view leaf) {
    range.Append(LeafHash(leaf), [&](unsigned l, uint64_t i, const Hash& h) { nodes[{l, i}] = h; });
  }
  NodeReader Reader() const {
    return [this](unsigned l, uint64_t i) -> Result<Hash> {
      auto it = nodes.find({l, i});
      if (it == nodes.end()) return Status::NotFound("node");
      return it->second;
    };
  }
};

MemoryTree VectorTree() {
  MemoryTree t;
  for (auto leaf : testing::kLeafInputsHex) t.Append(Bytes(leaf));
  return t;
}

TEST(Rfc6962Vectors, Roots) {
  MemoryTree t;
  EXPECT_EQ(t.range.Root(), H(testing::kRootsHex[0]));
  EXPECT_EQ(EmptyTreeRoot(), H(testing::kRootsHex[0]));
  for (size_t i = 0; i < testing::kLeafInputsHex.size(); ++i) {
    t.Append(Bytes(testing::kLeafInputsHex[i]));
    EXPECT_EQ(t.range.Root(), H(testing::kRootsHex[i + 1])) << "size " << i + 1;
  }
  // Roots of every smaller size from the stored nodes, too.
  for (size_t size = 1; size < testing::kRootsHex.size(); ++size) {
    EXPECT_EQ(*SubtreeRoot(t.Reader(), 0, size), H(testing::kRootsHex[size])) << size;
  }
}

TEST(Rfc6962Vectors, InclusionProofs) {
  MemoryTree t = VectorTree();
  ASSERT_FALSE(testing::kInclusionVectors.empty());
  for (const auto& v : testing::kInclusionVectors) {
    auto proof = MakeInclusionProof(t.Reader(), v.leaf_index, v.tree_size);
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(*proof, Hs(v.proof_hex)) << v.leaf_index << "/" << v.tree_size;
    Hash leaf = LeafHash(Bytes(testing::kLeafInputsHex[v.leaf_index]));
    EXPECT_TRUE(VerifyInclusion(v.leaf_index, v.tree_size, leaf, Hs(v.proof_hex),
                                H(testing::kRootsHex[v.tree_size])));
  }
}

TEST(Rfc6962Vectors, ConsistencyProofs) {
  MemoryTree t = VectorTree();
  ASSERT_FALSE(testing::kConsistencyVectors.empty());
  for (const auto& v : testing::kConsistencyVectors) {
    if (v.size1 == 0) continue;  // our proofs start from a non-empty tree
    auto proof = MakeConsistencyProof(t.Reader(), v.size1, v.size2);
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(*proof, Hs(v.proof_hex)) << v.size1 << "->" << v.size2;
    EXPECT_TRUE(VerifyConsistency(v.size1, v.size2, H(testing::kRootsHex[v.size1]),
                                  H(testing::kRootsHex[v.size2]), Hs(v.proof_hex)));
  }
}

// --- an independent verifier, from RFC 6962 §2.1's definitions ---

// MTH over leaves [b, e).
Hash Mth(const std::vector<std::string>& d, size_t b, size_t e) {
  if (e - b == 1) return Sha256({std::string_view("\0", 1), d[b]});
  size_t k = 1;
  while (k * 2 < e - b) k *= 2;
  return Sha256({std::string_view("\1", 1), AsBytes(Mth(d, b, b + k)), AsBytes(Mth(d, b + k, e))});
}

// PATH(m, D[b:e]) exactly as RFC 6962 §2.1.1 writes it.
std::vector<Hash> RefPath(const std::vector<std::string>& d, size_t m, size_t b, size_t e) {
  if (e - b == 1) return {};
  size_t k = 1;
  while (k * 2 < e - b) k *= 2;
  std::vector<Hash> out;
  if (m < k) {
    out = RefPath(d, m, b, b + k);
    out.push_back(Mth(d, b + k, e));
  } else {
    out = RefPath(d, m - k, b + k, e);
    out.push_back(Mth(d, b, b + k));
  }
  return out;
}

// SUBPROOF(m, D[b:e], flag) exactly as RFC 6962 §2.1.2 writes it.
std::vector<Hash> RefSubproof(const std::vector<std::string>& d, size_t m, size_t b, size_t e,
                              bool flag) {
  size_t n = e - b;
  if (m == n) return flag ? std::vector<Hash>{} : std::vector<Hash>{Mth(d, b, e)};
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  std::vector<Hash> out;
  if (m <= k) {
    out = RefSubproof(d, m, b, b + k, flag);
    out.push_back(Mth(d, b + k, e));
  } else {
    out = RefSubproof(d, m - k, b + k, e, false);
    out.push_back(Mth(d, b, b + k));
  }
  return out;
}

TEST(MerkleTree, MatchesTheDefinitionsForEverySizeTo40) {
  std::vector<std::string> leaves;
  MemoryTree t;
  for (int i = 0; i < 40; ++i) {
    leaves.push_back("event " + std::to_string(i * 7919));
    t.Append(leaves.back());
  }
  for (size_t n = 1; n <= leaves.size(); ++n) {
    const Hash root = Mth(leaves, 0, n);
    EXPECT_EQ(*SubtreeRoot(t.Reader(), 0, n), root);
    for (size_t m = 0; m < n; ++m) {
      auto proof = MakeInclusionProof(t.Reader(), m, n);
      ASSERT_TRUE(proof.ok());
      EXPECT_EQ(*proof, RefPath(leaves, m, 0, n)) << m << "/" << n;
      EXPECT_TRUE(VerifyInclusion(m, n, LeafHash(leaves[m]), *proof, root));
      EXPECT_FALSE(VerifyInclusion(m, n, LeafHash("not the leaf"), *proof, root));
      if (!proof->empty()) {
        auto bad = *proof;
        bad.back()[0] ^= 1;
        EXPECT_FALSE(VerifyInclusion(m, n, LeafHash(leaves[m]), bad, root));
        bad = *proof;
        bad.pop_back();
        EXPECT_FALSE(VerifyInclusion(m, n, LeafHash(leaves[m]), bad, root));
      }
    }
    for (size_t m = 1; m <= n; ++m) {
      auto proof = MakeConsistencyProof(t.Reader(), m, n);
      ASSERT_TRUE(proof.ok());
      std::vector<Hash> expect = m == n ? std::vector<Hash>{} : RefSubproof(leaves, m, 0, n, true);
      EXPECT_EQ(*proof, expect) << m << "->" << n;
      const Hash old_root = Mth(leaves, 0, m);
      EXPECT_TRUE(VerifyConsistency(m, n, old_root, root, *proof)) << m << "->" << n;
      // A forked history (another leaf at m-1) fails against the same proof.
      std::vector<std::string> fork(leaves.begin(), leaves.begin() + m);
      fork.back() += " altered";
      EXPECT_FALSE(VerifyConsistency(m, n, Mth(fork, 0, m), root, *proof)) << m << "->" << n;
      if (!proof->empty()) {
        auto bad = *proof;
        bad.front()[3] ^= 1;
        EXPECT_FALSE(VerifyConsistency(m, n, old_root, root, bad));
      }
    }
  }
}

TEST(CompactRange, RestoresFromPeaks) {
  MemoryTree t;
  for (int i = 0; i < 13; ++i) t.Append("x" + std::to_string(i));
  CompactRange restored(13, t.range.Peaks());
  EXPECT_EQ(restored.Root(), t.range.Root());
  restored.Append(LeafHash("x13"));
  t.Append("x13");
  EXPECT_EQ(restored.Root(), t.range.Root());
  EXPECT_EQ(restored.Peaks().size(), 3u);  // 14 = 8 + 4 + 2
}

}  // namespace
}  // namespace ledger
