// The commit log: where an acknowledged append lives until RocksDB has
// flushed it to a table.
//
// The ledger writes its events to RocksDB's memtable without RocksDB's own
// write-ahead log, and writes the same WriteBatch here as one record. An
// append is acknowledged once the log file holding its record is synced.
// The log is a set of segment files that are reused once every event they
// hold is in RocksDB's tables: a reused file is overwritten in place, so its
// sync carries no change of size or block allocation, and costs the disk
// about half of a sync of a growing file (bench/RESULTS.md).
//
// Direct writes: where the filesystem allows O_DIRECT, a record is staged in
// memory by the commit thread, and the sync thread writes everything staged
// since its last sync in one write that bypasses the page cache and is
// durable on return (RWF_DSYNC): one request to the disk instead of a
// write-back then a cache flush, and no copy into the page cache. Direct
// writes cover whole 4 KiB blocks, so a sync writes again the block where
// the previous one ended, with the same bytes in front: a crash during it
// can tear only bytes that were never acknowledged (as the kernel's own
// write-back of that page would). Elsewhere (tmpfs, or when turned off) the
// record is written through the page cache at once and synced with
// fdatasync.
//
// Record layout (integers little-endian):
//
//   checksum   8   of everything after it: in format 2, the CRC-32C
//                  (crc32c.h) in the low 4 bytes and 0 in the high 4; in
//                  format 1 (written by earlier builds, still read), the
//                  first 8 bytes of SHA-256
//   length     4   bytes of payload
//   format     4   kLogRecordFormat (2), or 1
//   generation 8   of the segment's current use (below)
//   first      8   the first seq the record holds
//   last       8   the last seq it holds
//   payload    length   the RocksDB WriteBatch (its Data())
//
// Every use of a segment, from offset 0, has a generation of its own,
// larger than any before. A segment is read from offset 0 while its records
// are whole, of the first record's generation, and continue each other's
// seqs; whatever follows (a torn write, records of an earlier use, the
// zeros of a new file) ends it. Generations below the ledger's recorded
// log start (keys::LogStart) are of histories already in the tables and are
// never replayed, so a record that was written but never synced before a
// crash cannot come back once appends have gone on past it.
//
// Point-in-time recovery: records are written in seq order and each sync
// covers every record written before it, so every acknowledged record
// precedes the first one missing or torn.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace ledger::internal {

inline constexpr uint32_t kLogRecordFormat = 2;        // CRC-32C checksum: written
inline constexpr uint32_t kLogRecordFormatSha256 = 1;  // SHA-256 checksum: read only
inline constexpr size_t kLogHeaderBytes = 40;

// Direct writes cover whole blocks of this size, from buffers aligned to it.
inline constexpr uint64_t kDirectBlockBytes = 4096;

// A growable byte buffer aligned to kDirectBlockBytes, as direct writes
// need.
class AlignedBuffer {
 public:
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  void Append(std::string_view bytes);
  // Appends zeros up to the next multiple of kDirectBlockBytes.
  void PadToBlock();
  void Clear() { size_ = 0; }
  // Frees the memory.
  void Release();

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// One file of the log. The commit thread writes (or stages) its records;
// the sync thread syncs it.
class LogSegment {
 public:
  LogSegment(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~LogSegment();
  LogSegment(const LogSegment&) = delete;
  LogSegment& operator=(const LogSegment&) = delete;

  // Makes every record appended to this segment so far durable. Sync
  // thread only (one caller at a time). After an error what reached the
  // disk is unknown: the caller must stop appending.
  Status Sync();
  const std::string& path() const { return path_; }
  // Whether its records go to the disk by direct writes.
  bool direct() const { return direct_; }

 private:
  friend class CommitLog;
  // Switches the file to direct writes when `wanted` and the filesystem
  // allows it; only while nothing is staged.
  void UseDirect(bool wanted);
  // Commit thread: starts a new use of the file from offset 0.
  void Restart(uint64_t generation);
  // Commit thread: stages (direct) or writes the record's bytes at offset_.
  Status Put(std::string_view header, std::string_view payload);

  const int fd_;
  const std::string path_;
  bool direct_ = false;
  uint64_t generation_ = 0;  // of its current use
  uint64_t written_ = 0;     // bytes of the file written at some time
  uint64_t last_seq_ = 0;    // the last seq of its current use; 0: none needed

  // offset_ is written by the commit thread under mu_ (and read by it
  // without); the rest below it is mu_'s.
  std::mutex mu_;
  uint64_t offset_ = 0;  // where the next record goes
  // Direct writes: the file's bytes [staged_from_, offset_), block-aligned
  // at the front; the last sync took everything up to synced_to_.
  AlignedBuffer staged_;
  uint64_t staged_from_ = 0;
  uint64_t synced_to_ = 0;
  // The sync thread's: the bytes it is writing, and whether the kernel
  // takes RWF_DSYNC (else each direct write is followed by fdatasync).
  AlignedBuffer writing_;
  bool dsync_writes_ = true;
};

class CommitLog {
 public:
  // Called for each record to replay, in seq order.
  using Replay = std::function<Status(uint64_t first, uint64_t last, std::string_view payload)>;

  // Opens the log in `dir` (creating it). Replays the records of generation
  // `start` or later that hold the events after `head`, in order and without
  // a gap; the rest are never read again. Every segment is then free to be
  // reused: the caller must make the replayed events durable in RocksDB's
  // tables and record next_generation() as the log's start before it
  // appends.
  // With `direct`, segments use direct writes where the filesystem allows.
  static Result<std::unique_ptr<CommitLog>> Open(const std::string& dir, uint64_t segment_bytes,
                                                 uint64_t start, uint64_t head,
                                                 const Replay& replay, bool direct = true);

  // Calls `replay` as Open would, for the records of generation `start` or
  // later that hold the events after `head`, in order and without a gap,
  // and changes nothing in `dir`: no file is created, opened for writing or
  // reused (a read-only open of the ledger, beside a writer that may be
  // appending to the log and reusing its files meanwhile). Sets *whole to
  // false when a record after the replayed ones was found past a gap: the
  // files were read while the writer moved on (a segment reused, or one
  // read before its last record reached it), so a later read may see more.
  // No log directory reads as an empty log.
  static Status Read(const std::string& dir, uint64_t start, uint64_t head, const Replay& replay,
                     bool* whole);

  // Above every generation on disk; the log's new start.
  uint64_t next_generation() const { return next_generation_; }

  // Appends the record of events first..last holding `payload`, not synced,
  // and returns the segment whose Sync makes it durable (with direct
  // writes, it reaches the file only then). `persisted` gives the last seq
  // RocksDB holds in its tables: a segment whose events are all at or below
  // it may be overwritten. After an error the log's state on disk is
  // unknown: the caller must stop appending.
  Result<std::shared_ptr<LogSegment>> Append(uint64_t first, uint64_t last,
                                             std::string_view payload,
                                             const std::function<Result<uint64_t>()>& persisted);

 private:
  CommitLog(std::string dir, uint64_t segment_bytes, bool direct)
      : dir_(std::move(dir)), segment_bytes_(segment_bytes), direct_(direct) {}
  // Makes current_ a segment with room to start: the oldest retired one if
  // its events are all in the tables, else a new file.
  Status Roll(const std::function<Result<uint64_t>()>& persisted);

  const std::string dir_;
  const uint64_t segment_bytes_;
  const bool direct_;
  uint64_t next_generation_ = 1;
  uint64_t next_file_ = 1;
  std::shared_ptr<LogSegment> current_;
  std::deque<std::shared_ptr<LogSegment>> retired_;  // oldest use first
  std::string header_;
};

}  // namespace ledger::internal
