#include "commit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>
#include <vector>

#include "crc32c.h"
#include "ledger/hash.h"
#include "ledger/varint.h"

namespace ledger::internal {

namespace {

using varint::GetFixed32;
using varint::GetFixed64;
using varint::PutFixed32;
using varint::PutFixed64;

Status Errno(const std::string& what) {
  return Status::IOError("commit log: " + what + ": " + std::strerror(errno));
}

// The checksum of a record of `format` over its header after the checksum,
// then its payload.
uint64_t Checksum(uint32_t format, std::string_view header_rest, std::string_view payload) {
  if (format == kLogRecordFormatSha256) {
    const Hash h = Sha256({header_rest, payload});
    return GetFixed64(reinterpret_cast<const char*>(h.data()));
  }
  return Crc32c(payload, Crc32c(header_rest));
}

bool KnownFormat(uint32_t format) {
  return format == kLogRecordFormat || format == kLogRecordFormatSha256;
}

// Segment files are named by a number, in the order they were made.
std::string SegmentName(uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%08llu.log", static_cast<unsigned long long>(number));
  return name;
}

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Errno("sync " + dir);
}

// The first `size` bytes of the file (fewer if it is shorter).
Result<std::string> ReadWhole(int fd, const std::string& path, uint64_t size) {
  std::string bytes(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read " + path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

struct ParsedRecord {
  uint64_t first = 0;
  uint64_t last = 0;
  std::string_view payload;
};

// The records of a segment's current use: from offset 0, while each is
// whole, of the first one's generation, and continues the seqs before it.
// Sets *generation to the first record's (0 when there is none).
std::vector<ParsedRecord> ParseSegment(std::string_view bytes, uint64_t* generation) {
  std::vector<ParsedRecord> out;
  *generation = 0;
  while (bytes.size() >= kLogHeaderBytes) {
    const char* p = bytes.data();
    const uint64_t length = GetFixed32(p + 8);
    const uint32_t format = GetFixed32(p + 12);
    const uint64_t gen = GetFixed64(p + 16);
    ParsedRecord r{GetFixed64(p + 24), GetFixed64(p + 32), {}};
    if (!KnownFormat(format) || gen == 0 || length > bytes.size() - kLogHeaderBytes) break;
    if (r.first == 0 || r.last < r.first) break;
    if (*generation != 0 && (gen != *generation || r.first != out.back().last + 1)) break;
    r.payload = bytes.substr(kLogHeaderBytes, length);
    if (Checksum(format, bytes.substr(8, kLogHeaderBytes - 8), r.payload) != GetFixed64(p)) {
      break;
    }
    *generation = gen;
    out.push_back(r);
    bytes.remove_prefix(kLogHeaderBytes + length);
  }
  return out;
}

// Appends the header of a record to `out`.
void AppendLogHeader(uint64_t generation, uint64_t first, uint64_t last, std::string_view payload,
                     std::string* out) {
  std::string rest;
  PutFixed32(static_cast<uint32_t>(payload.size()), &rest);
  PutFixed32(kLogRecordFormat, &rest);
  PutFixed64(generation, &rest);
  PutFixed64(first, &rest);
  PutFixed64(last, &rest);
  PutFixed64(Checksum(kLogRecordFormat, rest, payload), out);
  out->append(rest);
}

}  // namespace

void AlignedBuffer::Append(std::string_view bytes) {
  if (size_ + bytes.size() > capacity_) {
    size_t capacity = std::max<size_t>({2 * capacity_, size_ + bytes.size(), 16 << 10});
    capacity = (capacity + kDirectBlockBytes - 1) / kDirectBlockBytes * kDirectBlockBytes;
    std::unique_ptr<char, Free> grown(
        static_cast<char*>(std::aligned_alloc(kDirectBlockBytes, capacity)));
    if (!grown) throw std::bad_alloc();  // as std::string's own growth would
    if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = capacity;
  }
  if (!bytes.empty()) std::memcpy(data_.get() + size_, bytes.data(), bytes.size());
  size_ += bytes.size();
}

void AlignedBuffer::PadToBlock() {
  static const char kZeros[kDirectBlockBytes] = {};
  Append(std::string_view(kZeros,
                          (kDirectBlockBytes - size_ % kDirectBlockBytes) % kDirectBlockBytes));
}

void AlignedBuffer::Release() {
  data_.reset();
  size_ = capacity_ = 0;
}

LogSegment::~LogSegment() { ::close(fd_); }

void LogSegment::UseDirect(bool wanted) {
  if (!wanted || direct_) return;
  const int flags = ::fcntl(fd_, F_GETFL);
  // Refused (EINVAL) where the filesystem has no direct I/O, as tmpfs.
  direct_ = flags >= 0 && ::fcntl(fd_, F_SETFL, flags | O_DIRECT) == 0;
}

void LogSegment::Restart(uint64_t generation) {
  generation_ = generation;
  last_seq_ = 0;
  std::lock_guard l(mu_);
  offset_ = 0;
  staged_.Clear();
  staged_from_ = 0;
  synced_to_ = 0;
}

Status LogSegment::Put(std::string_view header, std::string_view payload) {
  const uint64_t size = header.size() + payload.size();
  if (direct_) {
    std::lock_guard l(mu_);
    staged_.Append(header);
    staged_.Append(payload);
    offset_ += size;
    return Status::Ok();
  }
  iovec parts[2] = {{const_cast<char*>(header.data()), header.size()},
                    {const_cast<char*>(payload.data()), payload.size()}};
  uint64_t done = 0;
  while (done < size) {
    // After a short write, the rest of both parts.
    iovec rest[2];
    int count = 0;
    uint64_t skip = done;
    for (const iovec& part : parts) {
      if (skip >= part.iov_len) {
        skip -= part.iov_len;
        continue;
      }
      rest[count++] = {static_cast<char*>(part.iov_base) + skip, part.iov_len - skip};
      skip = 0;
    }
    const ssize_t n = ::pwritev(fd_, rest, count, static_cast<off_t>(offset_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("write " + path_);
    done += static_cast<uint64_t>(n);
  }
  std::lock_guard l(mu_);
  offset_ += size;
  return Status::Ok();
}

Status LogSegment::Sync() {
  if (!direct_) {
    int rc;
    do {
      rc = ::fdatasync(fd_);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? Status::Ok() : Errno("sync " + path_);
  }
  uint64_t from;
  {
    std::lock_guard l(mu_);
    if (offset_ == synced_to_) return Status::Ok();  // nothing staged since
    std::swap(staged_, writing_);
    from = staged_from_;
    synced_to_ = offset_;
    // The next write starts at the block where this one ends, with the
    // bytes of that block so far.
    staged_from_ = offset_ - offset_ % kDirectBlockBytes;
    staged_.Clear();
    staged_.Append(
        std::string_view(writing_.data() + (staged_from_ - from), offset_ - staged_from_));
  }
  writing_.PadToBlock();
  uint64_t done = 0;
  while (done < writing_.size()) {
    iovec part{const_cast<char*>(writing_.data()) + done, writing_.size() - done};
    const off_t at = static_cast<off_t>(from + done);
    ssize_t n = dsync_writes_ ? ::pwritev2(fd_, &part, 1, at, RWF_DSYNC) : -1;
    if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
      dsync_writes_ = false;  // a kernel without RWF_DSYNC: no more attempts
    }
    if (!dsync_writes_) {
      n = ::pwritev(fd_, &part, 1, at);
      if (n > 0 && ::fdatasync(fd_) != 0) n = -1;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("write " + path_);
    // A short direct write leaves the rest unaligned: never expected of a
    // regular file with room, and not retried.
    if (static_cast<uint64_t>(n) % kDirectBlockBytes != 0) {
      return Status::IOError("commit log: short direct write to " + path_);
    }
    done += static_cast<uint64_t>(n);
  }
  // A large record's buffer is not kept for the small ones after it.
  if (writing_.capacity() > (4u << 20)) {
    writing_.Release();
  } else {
    writing_.Clear();
  }
  return Status::Ok();
}

namespace {

// A file descriptor, closed unless released.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&& o) noexcept {
    if (this != &o) {
      Close();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~OwnedFd() { Close(); }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

// A segment file as found on disk, before the log takes it.
struct FoundSegment {
  OwnedFd fd;
  std::string path;
  uint64_t generation = 0;  // of its records; 0 when it was not read
  uint64_t size = 0;        // bytes of the file
  // The file, when read. The records point into it: a move keeps its
  // buffer, since a record (40 bytes at least) is beyond any short string.
  std::string bytes;
  std::vector<ParsedRecord> records;
};

// The segment files of `dir`, each opened with `open_flags`, in generation
// order. A file whose first record is of a generation before `start` holds
// nothing to replay: only its size is read. (Any other is read whole and
// checked, so that a damaged header cannot pass for a generation.)
// *next_file is set above every file's number.
Status FindSegments(const std::string& dir, uint64_t start, int open_flags,
                    std::vector<FoundSegment>* found, uint64_t* next_file) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 12 || !name.ends_with(".log")) continue;
    const uint64_t number = std::strtoull(name.c_str(), nullptr, 10);
    if (number == 0) continue;
    FoundSegment f;
    f.path = entry.path().string();
    f.fd = OwnedFd(::open(f.path.c_str(), open_flags | O_CLOEXEC));
    if (f.fd.get() < 0) return Errno("open " + f.path);
    struct stat st;
    if (::fstat(f.fd.get(), &st) != 0) return Errno("stat " + f.path);
    *next_file = std::max(*next_file, number + 1);
    char header[kLogHeaderBytes];
    const bool before_start =
        ::pread(f.fd.get(), header, sizeof header, 0) == static_cast<ssize_t>(sizeof header) &&
        KnownFormat(GetFixed32(header + 12)) && GetFixed64(header + 16) < start;
    if (before_start) {
      f.size = static_cast<uint64_t>(st.st_size);
    } else {
      Result<std::string> bytes = ReadWhole(f.fd.get(), f.path, static_cast<uint64_t>(st.st_size));
      if (!bytes.ok()) return bytes.status();
      f.bytes = std::move(bytes).value();
      f.size = f.bytes.size();
      f.records = ParseSegment(f.bytes, &f.generation);
    }
    found->push_back(std::move(f));
  }
  if (ec) return Status::IOError("commit log: cannot list " + dir + ": " + ec.message());
  // The uses of segments follow each other as the events do.
  std::sort(found->begin(), found->end(), [](const FoundSegment& a, const FoundSegment& b) {
    return a.generation < b.generation;
  });
  return Status::Ok();
}

// Replays the records of `found` of generation `start` or later that hold
// the events after `head`, in order, up to the first gap. *whole is false
// when a record was found past a gap.
Status ReplayFound(const std::vector<FoundSegment>& found, uint64_t start, uint64_t head,
                   const CommitLog::Replay& replay, bool* whole) {
  uint64_t next = head + 1;
  *whole = true;
  for (const FoundSegment& f : found) {
    if (f.generation < start) continue;
    for (const ParsedRecord& r : f.records) {
      if (r.last < next) continue;  // already in the tables
      if (r.first != next) {
        *whole = false;  // never synced: nothing after it was acknowledged
        return Status::Ok();
      }
      LEDGER_RETURN_IF_ERROR(replay(r.first, r.last, r.payload));
      next = r.last + 1;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<CommitLog>> CommitLog::Open(const std::string& dir, uint64_t segment_bytes,
                                                   uint64_t start, uint64_t head,
                                                   const Replay& replay, bool direct) {
  std::error_code ec;
  if (std::filesystem::create_directories(dir, ec)) {
    // The ledger directory's entry for the log must outlive a power cut.
    LEDGER_RETURN_IF_ERROR(SyncDir(std::filesystem::path(dir).parent_path().string()));
  }
  if (ec) return Status::IOError("commit log: cannot create " + dir + ": " + ec.message());
  std::unique_ptr<CommitLog> log(new CommitLog(dir, segment_bytes, direct));
  std::vector<FoundSegment> found;
  LEDGER_RETURN_IF_ERROR(FindSegments(dir, start, O_RDWR, &found, &log->next_file_));
  log->next_generation_ = std::max<uint64_t>(start, 1);
  for (const FoundSegment& f : found) {
    log->next_generation_ = std::max(log->next_generation_, f.generation + 1);
  }
  // After a crash the log may hold a gap: the records after it were never
  // acknowledged, and are left behind.
  bool whole = true;
  LEDGER_RETURN_IF_ERROR(ReplayFound(found, start, head, replay, &whole));
  // The caller makes the replayed events durable before appending: every
  // segment may then be reused, oldest use first.
  for (FoundSegment& f : found) {
    auto segment = std::make_shared<LogSegment>(f.fd.Release(), f.path);
    segment->generation_ = f.generation;
    segment->written_ = f.size;
    log->retired_.push_back(std::move(segment));
  }
  return log;
}

Status CommitLog::Read(const std::string& dir, uint64_t start, uint64_t head, const Replay& replay,
                       bool* whole) {
  *whole = true;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return Status::Ok();
  std::vector<FoundSegment> found;
  uint64_t next_file = 1;
  LEDGER_RETURN_IF_ERROR(FindSegments(dir, start, O_RDONLY, &found, &next_file));
  return ReplayFound(found, start, head, replay, whole);
}

Status CommitLog::Roll(const std::function<Result<uint64_t>()>& persisted) {
  std::shared_ptr<LogSegment> next;
  if (!retired_.empty()) {
    bool free = retired_.front()->last_seq_ == 0;
    if (!free) {
      Result<uint64_t> in_tables = persisted();
      if (!in_tables.ok()) return in_tables.status();
      free = retired_.front()->last_seq_ <= *in_tables;
    }
    if (free) {
      next = std::move(retired_.front());
      retired_.pop_front();
    }
  }
  if (!next) {
    // No file free yet (RocksDB has not flushed their events): a new one.
    // Its name must be durable before a record in it is acknowledged.
    const uint64_t number = next_file_++;
    const std::string path = dir_ + "/" + SegmentName(number);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("create " + path);
    next = std::make_shared<LogSegment>(fd, path);
    LEDGER_RETURN_IF_ERROR(SyncDir(dir_));
  }
  next->UseDirect(direct_);
  next->Restart(next_generation_++);
  if (current_) retired_.push_back(std::move(current_));
  current_ = std::move(next);
  return Status::Ok();
}

Result<std::shared_ptr<LogSegment>> CommitLog::Append(
    uint64_t first, uint64_t last, std::string_view payload,
    const std::function<Result<uint64_t>()>& persisted) {
  const uint64_t size = kLogHeaderBytes + payload.size();
  if (!current_ || (current_->offset_ > 0 &&
                    current_->offset_ + size > std::max(segment_bytes_, current_->written_))) {
    LEDGER_RETURN_IF_ERROR(Roll(persisted));
  }
  LogSegment& s = *current_;
  header_.clear();
  AppendLogHeader(s.generation_, first, last, payload, &header_);
  LEDGER_RETURN_IF_ERROR(s.Put(header_, payload));
  s.written_ = std::max(s.written_, s.offset_);
  s.last_seq_ = last;
  return current_;
}

}  // namespace ledger::internal
