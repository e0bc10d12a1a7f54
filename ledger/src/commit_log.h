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
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace ledger::internal {

inline constexpr uint32_t kLogRecordFormat = 2;        // CRC-32C checksum: written
inline constexpr uint32_t kLogRecordFormatSha256 = 1;  // SHA-256 checksum: read only
inline constexpr size_t kLogHeaderBytes = 40;

// One file of the log. The commit thread writes it; the sync thread syncs it.
class LogSegment {
 public:
  LogSegment(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~LogSegment();
  LogSegment(const LogSegment&) = delete;
  LogSegment& operator=(const LogSegment&) = delete;

  // Makes every record written to this segment so far durable.
  Status Sync() const;
  const std::string& path() const { return path_; }

 private:
  friend class CommitLog;
  const int fd_;
  const std::string path_;
  uint64_t generation_ = 0;  // of its current use
  uint64_t offset_ = 0;      // where the next record goes
  uint64_t written_ = 0;     // bytes of the file written at some time
  uint64_t last_seq_ = 0;    // the last seq of its current use; 0: none needed
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
  static Result<std::unique_ptr<CommitLog>> Open(const std::string& dir, uint64_t segment_bytes,
                                                 uint64_t start, uint64_t head,
                                                 const Replay& replay);

  // Above every generation on disk; the log's new start.
  uint64_t next_generation() const { return next_generation_; }

  // Writes the record of events first..last holding `payload`, not synced,
  // and returns the segment to sync for it. `persisted` gives the last seq
  // RocksDB holds in its tables: a segment whose events are all at or below
  // it may be overwritten. After an error the log's state on disk is
  // unknown: the caller must stop appending.
  Result<std::shared_ptr<LogSegment>> Append(uint64_t first, uint64_t last,
                                             std::string_view payload,
                                             const std::function<Result<uint64_t>()>& persisted);

 private:
  CommitLog(std::string dir, uint64_t segment_bytes)
      : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}
  // Makes current_ a segment with room to start: the oldest retired one if
  // its events are all in the tables, else a new file.
  Status Roll(const std::function<Result<uint64_t>()>& persisted);

  const std::string dir_;
  const uint64_t segment_bytes_;
  uint64_t next_generation_ = 1;
  uint64_t next_file_ = 1;
  std::shared_ptr<LogSegment> current_;
  std::deque<std::shared_ptr<LogSegment>> retired_;  // oldest use first
  std::string header_;
};

}  // namespace ledger::internal
