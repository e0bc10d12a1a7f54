// The on-disk layout of a ledger directory, in one place.
//
//   <dir>/rocksdb/          the RocksDB database (all of the keys below)
//   <dir>/log/NNNNNNNN.log  the commit log's segment files (commit_log.h):
//                           appends not yet in RocksDB's tables
//   <dir>/signing-key.pem   the Ed25519 private key (mode 0600), made on first
//                           open, unless LedgerOptions::signing_key_file keeps
//                           it elsewhere
//   <dir>/signing-key.pem.pub  the public key of the key that signs now, PEM
//
// Keys live in RocksDB's default column family; the first byte names the
// record kind. Integers are 8-byte big-endian so that byte order is numeric
// order. Stream ids never hold 0x00 (SPEC §3 restricts them to
// [A-Za-z0-9._-]), so 0x00 ends a stream id inside a key.
//
//   'E' seq                      -> chain hash (32 bytes) || canonical bytes
//        The event. The canonical bytes are the Cap'n Proto encoding of
//        schema/event.capnp's Event; the chain hash is
//        SHA-256(chain hash of seq-1 || canonical bytes), 32 zero bytes before seq 1.
//   'S' stream 0x00              -> StreamHead (Cap'n Proto)
//        State, latest occurred_at, corrected area and current provider of
//        one referral, which the writer checks the next event against, and
//        the seq of each of its events (the stream index; its length is the
//        stream's version).
//   'K' actor 0x00 idempotency key -> seq || SHA-256 of the canonical request (32 bytes)
//        The first event that actor ("role:name", which holds no 0x00)
//        appended with that key, and what its body was: a key is scoped to
//        the credential that sent it (SPEC §8).
//   'I' idempotency key          -> the same, unscoped, as builds before
//        scoping wrote it; Open moves each to 'K' under its event's actor.
//   'M' leaves level(1 byte)     -> node hash (32 bytes)
//        The perfect subtrees of the RFC 6962 tree from level
//        kFirstStoredLevel up: the node at `level` covering 2^level leaves
//        ending at leaf count `leaves` (so the node of level l and index i is
//        at leaves = (i+1) * 2^l). Keyed by the append that completed it, so a
//        scan in key order follows the log. Lower nodes are recomputed from
//        the at most 2^kFirstStoredLevel events beneath them when a proof
//        needs them: storing them would cost about two writes per event.
//   'T' size                     -> timestamp || root (32) || Ed25519 signature (64)
//        Every tree head the ledger has signed and handed out.
//   'H'                          -> size || chain hash of seq `size` (32)
//        The head, written in the same batch as the events it covers.
//   'B' block                    -> format (1) || one brief record per event
//        A compact copy of what views read of events block*1024+1 ..
//        (block+1)*1024 (brief_block.h), written in the same batch as the
//        event that completes the block. Derived: Verify() recomputes it,
//        and Open writes any that an older build did not.
//   'V' from size                -> Ed25519 public key (32)
//        The key history: each key the ledger has signed with, from the
//        size at which it began (the first from 0; written at the first
//        open that finds none). LedgerOptions::adopt_signing_key adds one.
//   'L'                          -> generation (8)
//        The commit log's start: records of an earlier generation are
//        never replayed (commit_log.h). Moved past every record on disk at
//        each open, after any replay is in the tables.
//
// Every append writes its events and all the records they change in one
// RocksDB WriteBatch, so a crash leaves all of an append or none of it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ledger::internal::keys {

// The files of a ledger directory (above), below `dir`.
inline constexpr const char* kDatabaseDir = "/rocksdb";
inline constexpr const char* kSigningKeyFile = "/signing-key.pem";

inline constexpr char kEvent = 'E';
inline constexpr char kStreamHead = 'S';
inline constexpr char kIdempotency = 'K';
inline constexpr char kUnscopedIdempotency = 'I';
inline constexpr char kMerkleNode = 'M';
inline constexpr char kSignedHead = 'T';
inline constexpr char kHead = 'H';
inline constexpr char kBriefBlock = 'B';
inline constexpr char kLogStart = 'L';
inline constexpr char kKeyPeriod = 'V';

// Merkle nodes below this level are not stored (see 'M' above).
inline constexpr unsigned kFirstStoredLevel = 4;

inline void PutU64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint64_t GetU64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

inline std::string Event(uint64_t seq) {
  std::string k(1, kEvent);
  PutU64(seq, &k);
  return k;
}
inline std::string StreamHead(std::string_view stream) {
  std::string k(1, kStreamHead);
  k.append(stream);
  k.push_back('\0');
  return k;
}
// `scoped` is IdempotencyScope(actor, key).
inline std::string Idempotency(std::string_view scoped) {
  std::string k(1, kIdempotency);
  k.append(scoped);
  return k;
}
inline std::string IdempotencyScope(std::string_view actor, std::string_view key) {
  std::string k(actor);
  k.push_back('\0');
  k.append(key);
  return k;
}
inline std::string MerkleNode(unsigned level, uint64_t index) {
  std::string k(1, kMerkleNode);
  PutU64((index + 1) << level, &k);
  k.push_back(static_cast<char>(level));
  return k;
}
inline std::string SignedHead(uint64_t size) {
  std::string k(1, kSignedHead);
  PutU64(size, &k);
  return k;
}
inline std::string Head() { return std::string(1, kHead); }
inline std::string KeyPeriod(uint64_t from_size) {
  std::string k(1, kKeyPeriod);
  PutU64(from_size, &k);
  return k;
}
inline std::string LogStart() { return std::string(1, kLogStart); }
inline std::string BriefBlock(uint64_t block) {
  std::string k(1, kBriefBlock);
  PutU64(block, &k);
  return k;
}

}  // namespace ledger::internal::keys
