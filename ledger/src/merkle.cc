#include "ledger/merkle.h"

#include <bit>
#include <span>

namespace ledger {

Hash LeafHash(std::string_view bytes) { return Sha256({std::string_view("\x00", 1), bytes}); }

Hash NodeHash(const Hash& left, const Hash& right) {
  return Sha256({std::string_view("\x01", 1), AsBytes(left), AsBytes(right)});
}

Hash EmptyTreeRoot() { return Sha256(std::string_view()); }

uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

CompactRange::CompactRange(uint64_t size, std::vector<Hash> peaks) : size_(size) {
  by_level_.resize(64);
  size_t i = 0;
  for (int l = 63; l >= 0; --l) {
    if (size & (uint64_t{1} << l)) by_level_[l] = peaks[i++];
  }
}

void CompactRange::Append(const Hash& leaf, const NodeSink& sink) {
  if (by_level_.empty()) by_level_.resize(64);
  Hash h = leaf;
  uint64_t index = size_;
  unsigned level = 0;
  if (sink) sink(0, index, h);
  // While the new node is a right child, merge it with its left sibling.
  while (index & 1) {
    h = NodeHash(by_level_[level], h);
    index >>= 1;
    ++level;
    if (sink) sink(level, index, h);
  }
  by_level_[level] = h;
  ++size_;
}

Hash CompactRange::Root() const {
  if (size_ == 0) return EmptyTreeRoot();
  int low = std::countr_zero(size_);
  Hash root = by_level_[low];
  for (int l = low + 1; l < 64; ++l) {
    if (size_ & (uint64_t{1} << l)) root = NodeHash(by_level_[l], root);
  }
  return root;
}

std::vector<Hash> CompactRange::Peaks() const {
  std::vector<Hash> out;
  for (int l = 63; l >= 0; --l) {
    if (size_ & (uint64_t{1} << l)) out.push_back(by_level_[l]);
  }
  return out;
}

Result<Hash> SubtreeRoot(const NodeReader& nodes, uint64_t start, uint64_t n) {
  if (std::has_single_bit(n) && start % n == 0) {
    return nodes(static_cast<unsigned>(std::countr_zero(n)), start / n);
  }
  uint64_t k = SplitPoint(n);
  Result<Hash> left = SubtreeRoot(nodes, start, k);
  if (!left.ok()) return left;
  Result<Hash> right = SubtreeRoot(nodes, start + k, n - k);
  if (!right.ok()) return right;
  return NodeHash(*left, *right);
}

namespace {

// PATH(m, D[start:start+n]) of RFC 6962 §2.1.1, appended to `out` from the
// leaf upwards.
Status Path(const NodeReader& nodes, uint64_t m, uint64_t start, uint64_t n,
            std::vector<Hash>* out) {
  if (n == 1) return Status::Ok();
  uint64_t k = SplitPoint(n);
  Result<Hash> sibling =
      m < k ? SubtreeRoot(nodes, start + k, n - k) : SubtreeRoot(nodes, start, k);
  if (!sibling.ok()) return sibling.status();
  Status st = m < k ? Path(nodes, m, start, k, out) : Path(nodes, m - k, start + k, n - k, out);
  if (!st.ok()) return st;
  out->push_back(*sibling);
  return Status::Ok();
}

// SUBPROOF(m, D[start:start+n], b) of RFC 6962 §2.1.2.
Status SubProof(const NodeReader& nodes, uint64_t m, uint64_t start, uint64_t n, bool b,
                std::vector<Hash>* out) {
  if (m == n) {
    if (b) return Status::Ok();
    Result<Hash> h = SubtreeRoot(nodes, start, n);
    if (!h.ok()) return h.status();
    out->push_back(*h);
    return Status::Ok();
  }
  uint64_t k = SplitPoint(n);
  Status st;
  Result<Hash> other = Status::Internal("unset");
  if (m <= k) {
    st = SubProof(nodes, m, start, k, b, out);
    other = SubtreeRoot(nodes, start + k, n - k);
  } else {
    st = SubProof(nodes, m - k, start + k, n - k, false, out);
    other = SubtreeRoot(nodes, start, k);
  }
  if (!st.ok()) return st;
  if (!other.ok()) return other.status();
  out->push_back(*other);
  return Status::Ok();
}

}  // namespace

Result<std::vector<Hash>> MakeInclusionProof(const NodeReader& nodes, uint64_t index,
                                             uint64_t size) {
  if (index >= size) return Status::InvalidArgument("leaf index is not in the tree");
  std::vector<Hash> out;
  LEDGER_RETURN_IF_ERROR(Path(nodes, index, 0, size, &out));
  return out;
}

Result<std::vector<Hash>> MakeConsistencyProof(const NodeReader& nodes, uint64_t size1,
                                               uint64_t size2) {
  if (size1 < 1 || size1 > size2) {
    return Status::InvalidArgument("consistency needs 1 <= from <= to");
  }
  std::vector<Hash> out;
  if (size1 == size2) return out;
  LEDGER_RETURN_IF_ERROR(SubProof(nodes, size1, 0, size2, true, &out));
  return out;
}

namespace {

// The walk both verifications make (RFC 9162 §2.1.3.2, §2.1.4.2): up from
// node `fn` of a level whose last node is `sn`, one proof hash a level.
// Calls left(c) where c is the left sibling of the path so far, right(c)
// where it is the right one. False when the proof is longer or shorter than
// the walk to the root.
template <typename Left, typename Right>
bool Walk(uint64_t fn, uint64_t sn, std::span<const Hash> proof, Left left, Right right) {
  for (const Hash& c : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      left(c);
      // A right edge node with no sibling here: up to the level where it has
      // one.
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      right(c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0;
}

}  // namespace

bool VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                     const std::vector<Hash>& proof, const Hash& root) {
  if (index >= size) return false;
  Hash r = leaf_hash;
  const bool whole = Walk(
      index, size - 1, proof, [&](const Hash& c) { r = NodeHash(c, r); },
      [&](const Hash& c) { r = NodeHash(r, c); });
  return whole && r == root;
}

bool VerifyConsistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                       const std::vector<Hash>& proof) {
  if (size1 > size2) return false;
  if (size1 == size2) return proof.empty() && root1 == root2;
  if (size1 == 0) return proof.empty();  // the empty tree is a prefix of every tree
  if (proof.empty()) return false;
  std::vector<Hash> path;
  if (std::has_single_bit(size1)) path.push_back(root1);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = size1 - 1, sn = size2 - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  const bool whole = Walk(
      fn, sn, std::span<const Hash>(path).subspan(1),
      [&](const Hash& c) {
        fr = NodeHash(c, fr);
        sr = NodeHash(c, sr);
      },
      [&](const Hash& c) { sr = NodeHash(sr, c); });
  return whole && fr == root1 && sr == root2;
}

}  // namespace ledger
