// The commit log (ledger/src/commit_log.h): what is replayed after a crash,
// what never is, and the reuse of its files, with direct writes and through
// the page cache; then the ledger over it, closed and crashed with tiny
// memtables so that flushes, file reuse and replay all happen.
#include "commit_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "crc32c.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/varint.h"
#include "test_util.h"

namespace ledger {
namespace {

using internal::CommitLog;
using internal::kLogHeaderBytes;
using testing::Received;
using testing::Req;
using testing::T;

struct Replayed {
  uint64_t first, last;
  std::string payload;
  bool operator==(const Replayed&) const = default;
};

// Whether the filesystem of the tests' temporary directories allows direct
// writes (tmpfs does not).
bool DirectWritesAllowed() {
  static const bool allowed = [] {
    testing::TempDir dir;
    const std::string path = dir.path() + "/probe";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
    return fd >= 0;
  }();
  return allowed;
}

// Opens the log in `dir`, with direct writes or not, and returns what it
// replays.
std::vector<Replayed> OpenAndReplay(const std::string& dir, uint64_t start, uint64_t head,
                                    std::unique_ptr<CommitLog>* log, uint64_t segment_bytes,
                                    bool direct) {
  std::vector<Replayed> out;
  auto opened = CommitLog::Open(
      dir, segment_bytes, start, head,
      [&](uint64_t first, uint64_t last, std::string_view payload) {
        out.push_back({first, last, std::string(payload)});
        return Status::Ok();
      },
      direct);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (log && opened.ok()) *log = std::move(opened).value();
  return out;
}

// The tests of the log alone run with direct writes (true) and without.
class CommitLogTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam() && !DirectWritesAllowed()) {
      GTEST_SKIP() << "the temporary directory's filesystem has no direct I/O";
    }
  }
  // OpenAndReplay, with direct writes as the test's parameter.
  std::vector<Replayed> Reopen(const std::string& dir, uint64_t start, uint64_t head,
                               std::unique_ptr<CommitLog>* log = nullptr,
                               uint64_t segment_bytes = 1 << 20) {
    return OpenAndReplay(dir, start, head, log, segment_bytes, GetParam());
  }
};
INSTANTIATE_TEST_SUITE_P(Writes, CommitLogTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Direct" : "PageCache"; });

// The payload of the record of events first..last in these tests.
std::string Payload(uint64_t first, uint64_t last) {
  return "events " + std::to_string(first) + ".." + std::to_string(last) +
         std::string(first % 7 * 10, 'x');
}

// Appends records of `per` events each for events first..last, and syncs
// each. The tables are said to hold nothing, or with `flushed`, every event
// before the record being written.
void AppendRecords(CommitLog& log, uint64_t first, uint64_t last, uint64_t per,
                   bool flushed = false) {
  for (uint64_t s = first; s <= last; s += per) {
    const uint64_t e = std::min(last, s + per - 1);
    auto seg =
        log.Append(s, e, Payload(s, e), [&] { return Result<uint64_t>(flushed ? s - 1 : 0); });
    ASSERT_TRUE(seg.ok()) << seg.status().ToString();
    Status synced = (*seg)->Sync();
    ASSERT_TRUE(synced.ok()) << synced.ToString();
  }
}

// Where the records of `per` events each for events 1..last end.
uint64_t RecordsEnd(uint64_t last, uint64_t per) {
  uint64_t end = 0;
  for (uint64_t s = 1; s <= last; s += per) {
    end += kLogHeaderBytes + Payload(s, std::min(last, s + per - 1)).size();
  }
  return end;
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_P(CommitLogTest, ReplaysEveryRecordAfterTheHeadInOrder) {
  testing::TempDir dir;
  std::unique_ptr<CommitLog> log;
  EXPECT_TRUE(Reopen(dir.path(), 0, 0, &log).empty());
  AppendRecords(*log, 1, 30, 3);
  log.reset();
  std::vector<Replayed> all = Reopen(dir.path(), 0, 0);
  ASSERT_EQ(all.size(), 10u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i], (Replayed{3 * i + 1, 3 * i + 3, Payload(3 * i + 1, 3 * i + 3)}));
  }
  // The events the tables hold already are not replayed.
  std::vector<Replayed> after = Reopen(dir.path(), 0, 12);
  ASSERT_EQ(after.size(), 6u);
  EXPECT_EQ(after.front().first, 13u);
  EXPECT_EQ(after.back().last, 30u);
  EXPECT_TRUE(Reopen(dir.path(), 0, 30).empty());
}

TEST_P(CommitLogTest, NothingFromBeforeTheStartIsReplayed) {
  testing::TempDir dir;
  std::unique_ptr<CommitLog> log;
  Reopen(dir.path(), 0, 0, &log);
  AppendRecords(*log, 1, 10, 2);
  const uint64_t next = log->next_generation();
  log.reset();
  std::unique_ptr<CommitLog> again;
  EXPECT_EQ(Reopen(dir.path(), 0, 0, &again).size(), 5u);
  // The log's start moved past every record on disk: a later open with it
  // replays nothing of them, even from a head before them.
  EXPECT_GT(again->next_generation(), next - 1);
  EXPECT_TRUE(Reopen(dir.path(), again->next_generation(), 0).empty());
}

TEST_P(CommitLogTest, StopsAtTheFirstRecordMissingOrTorn) {
  testing::TempDir dir;
  std::unique_ptr<CommitLog> log;
  Reopen(dir.path(), 0, 0, &log);
  AppendRecords(*log, 1, 20, 4);
  log.reset();
  const std::string file = SegmentFiles(dir.path()).at(0);
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Direct writes leave the file a whole number of blocks, zeros after the
  // records.
  const uint64_t size = RecordsEnd(20, 4);
  ASSERT_EQ(bytes.size(), GetParam() ? (size + 4095) / 4096 * 4096 : size);
  // Cut anywhere inside the last record: the four before it remain.
  for (uint64_t cut :
       {size - 1, size - 10, size - (kLogHeaderBytes + Payload(17, 20).size()) + 3}) {
    std::filesystem::resize_file(file, cut);
    std::vector<Replayed> got = Reopen(dir.path(), 0, 0);
    ASSERT_EQ(got.size(), 4u) << cut;
    EXPECT_EQ(got.back().last, 16u);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  }
  // Every single bit flipped in the second record ends the replay before
  // it: never a wrong payload, never a crash.
  const size_t second = kLogHeaderBytes + Payload(1, 4).size();
  const size_t second_end = second + kLogHeaderBytes + Payload(5, 8).size();
  for (size_t i = second; i < second_end; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      std::ofstream(file, std::ios::binary | std::ios::trunc) << flipped;
      std::vector<Replayed> got = Reopen(dir.path(), 0, 0);
      ASSERT_EQ(got.size(), 1u) << "byte " << i << " bit " << bit;
      EXPECT_EQ(got[0], (Replayed{1, 4, Payload(1, 4)}));
    }
  }
}

// The record check: RFC 3720's CRC-32C test vectors (B.4) and the common
// check value, by the instruction (where the processor has it) and by table.
TEST(CommitLog, Crc32cMatchesPublishedValues) {
  std::string ascending(32, '\0'), descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  const std::pair<std::string, uint32_t> vectors[] = {
      {"", 0},
      {"123456789", 0xE3069283},
      {std::string(32, '\0'), 0x8A9136AA},
      {std::string(32, '\xff'), 0x62A8AB43},
      {ascending, 0x46DD794E},
      {descending, 0x113FDB5C},
  };
  for (const auto& [data, crc] : vectors) {
    EXPECT_EQ(internal::Crc32c(data), crc) << data.size();
    EXPECT_EQ(internal::Crc32cPortable(data), crc) << data.size();
  }
  // Both ways agree at every length and alignment, and a CRC extends.
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>(i * 131 + 7));
  for (size_t from = 0; from < 9; ++from) {
    for (size_t n = 0; from + n <= bytes.size(); n += 13) {
      const std::string_view part = std::string_view(bytes).substr(from, n);
      const uint32_t whole = internal::Crc32cPortable(part);
      EXPECT_EQ(internal::Crc32c(part), whole);
      const size_t half = n / 2;
      EXPECT_EQ(internal::Crc32c(part.substr(half), internal::Crc32c(part.substr(0, half))), whole);
    }
  }
}

// A log written by an earlier build, whose records carry the first 8 bytes
// of SHA-256 as their checksum (format 1), is still replayed.
TEST(CommitLog, ReplaysRecordsOfTheEarlierFormat) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path());
  std::string file;
  for (uint64_t first = 1; first <= 9; first += 4) {
    const std::string payload = Payload(first, first + 3);
    std::string rest;
    varint::PutFixed32(static_cast<uint32_t>(payload.size()), &rest);
    varint::PutFixed32(internal::kLogRecordFormatSha256, &rest);
    varint::PutFixed64(5, &rest);  // the generation
    varint::PutFixed64(first, &rest);
    varint::PutFixed64(first + 3, &rest);
    file.append(AsBytes(Sha256({rest, payload})).substr(0, 8));
    file.append(rest);
    file.append(payload);
  }
  const std::string path = dir.path() + "/00000001.log";
  std::ofstream(path, std::ios::binary) << file;
  std::vector<Replayed> got = OpenAndReplay(dir.path(), 0, 0, nullptr, 1 << 20, false);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2], (Replayed{9, 12, Payload(9, 12)}));
  // A flipped bit in the last payload ends the replay before it.
  file[file.size() - 1] ^= 1;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << file;
  EXPECT_EQ(OpenAndReplay(dir.path(), 0, 0, nullptr, 1 << 20, false).size(), 2u);
}

// A record reaches the disk by its segment's Sync: with direct writes it
// reaches the file only then, so one sync writes every record appended
// since the last, and a record never synced is never replayed.
TEST_P(CommitLogTest, OneSyncMakesDurableEveryRecordAppendedBeforeIt) {
  testing::TempDir dir;
  std::unique_ptr<CommitLog> log;
  Reopen(dir.path(), 0, 0, &log);
  std::shared_ptr<internal::LogSegment> segment;
  for (uint64_t s = 1; s <= 13; ++s) {
    if (s == 11) {
      ASSERT_TRUE(segment->Sync().ok());
    }
    auto seg = log->Append(s, s, Payload(s, s), [] { return Result<uint64_t>(0); });
    ASSERT_TRUE(seg.ok()) << seg.status().ToString();
    segment = *seg;
  }
  EXPECT_EQ(segment->direct(), GetParam());
  log.reset();
  std::vector<Replayed> got = Reopen(dir.path(), 0, 0);
  // Through the page cache, records are in the file as soon as written
  // (and would be lost only with the machine).
  ASSERT_EQ(got.size(), GetParam() ? 10u : 13u);
  for (uint64_t s = 1; s <= got.size(); ++s) EXPECT_EQ(got[s - 1], (Replayed{s, s, Payload(s, s)}));
}

TEST_P(CommitLogTest, AGapEndsTheReplay) {
  testing::TempDir dir;
  std::unique_ptr<CommitLog> log;
  Reopen(dir.path(), 0, 0, &log);
  AppendRecords(*log, 1, 6, 2);
  AppendRecords(*log, 9, 12, 2);  // events 7 and 8 were never written
  log.reset();
  std::vector<Replayed> got = Reopen(dir.path(), 0, 0);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got.back().last, 6u);
}

// CommitLog::Read (a read-only open of the ledger) replays what Open
// would, changes nothing in the directory, and says when records lie past a
// gap (a writer that moved on while the files were read).
TEST_P(CommitLogTest, ReadReplaysAsOpenWouldAndChangesNothing) {
  testing::TempDir dir;
  auto read = [&](uint64_t start, uint64_t head, bool* whole) {
    std::vector<Replayed> out;
    Status st = CommitLog::Read(
        dir.path(), start, head,
        [&](uint64_t first, uint64_t last, std::string_view payload) {
          out.push_back({first, last, std::string(payload)});
          return Status::Ok();
        },
        whole);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  };
  bool whole = false;
  const std::string missing = dir.path() + "/missing";
  EXPECT_TRUE(
      CommitLog::Read(
          missing, 0, 0, [](uint64_t, uint64_t, std::string_view) { return Status::Ok(); }, &whole)
          .ok());
  EXPECT_TRUE(whole);
  EXPECT_FALSE(std::filesystem::exists(missing));

  // A file per record: a gap is then between files (within one, a record
  // that does not continue the one before ends the file's current use).
  std::unique_ptr<CommitLog> log;
  Reopen(dir.path(), 0, 0, &log, /*segment_bytes=*/64);
  AppendRecords(*log, 1, 6, 2);
  // Read beside the writer that has it open.
  const auto before = testing::DirectoryContents(dir.path());
  EXPECT_EQ(read(0, 2, &whole),
            (std::vector<Replayed>{{3, 4, Payload(3, 4)}, {5, 6, Payload(5, 6)}}));
  EXPECT_TRUE(whole);
  AppendRecords(*log, 9, 12, 2);  // events 7 and 8 are not in the log
  log.reset();
  const auto after_writes = testing::DirectoryContents(dir.path());
  EXPECT_NE(after_writes, before);
  std::vector<Replayed> got = read(0, 0, &whole);
  EXPECT_EQ(got.size(), 3u);
  EXPECT_FALSE(whole);
  EXPECT_EQ(got, Reopen(dir.path(), 0, 0, nullptr, 64));
  // Reopen (a writer's open) may change the directory; Read never does.
  const auto reopened = testing::DirectoryContents(dir.path());
  read(0, 0, &whole);
  read(0, 6, &whole);
  EXPECT_EQ(testing::DirectoryContents(dir.path()), reopened);
}

TEST_P(CommitLogTest, ReusesAFileOnlyOnceItsEventsAreInTheTables) {
  testing::TempDir dir;
  std::unique_ptr<CommitLog> log;
  const uint64_t segment = 4096;
  Reopen(dir.path(), 0, 0, &log, segment);
  // Nothing in the tables: every file filled stays, and new ones are made.
  AppendRecords(*log, 1, 400, 4);
  const size_t grown = SegmentFiles(dir.path()).size();
  EXPECT_GE(grown, 3u);
  // Everything in the tables: the files are overwritten in turn, no new one.
  AppendRecords(*log, 401, 1600, 4, /*flushed=*/true);
  EXPECT_EQ(SegmentFiles(dir.path()).size(), grown);
  log.reset();
  // The files no longer reach back to event 401.
  EXPECT_TRUE(Reopen(dir.path(), 0, 400, nullptr, segment).empty());
  // The reused files end with records of their earlier use: only the new
  // records are replayed, whole and in order.
  std::vector<Replayed> got = Reopen(dir.path(), 0, 1400, nullptr, segment);
  ASSERT_EQ(got.size(), 50u);
  uint64_t next = 1401;
  for (const Replayed& r : got) {
    EXPECT_EQ(r.first, next);
    EXPECT_EQ(r.payload, Payload(r.first, r.last));
    next = r.last + 1;
  }
  EXPECT_EQ(next, 1601u);
}

TEST_P(CommitLogTest, ARecordLargerThanAFileGetsOneOfItsOwn) {
  testing::TempDir dir;
  std::unique_ptr<CommitLog> log;
  Reopen(dir.path(), 0, 0, &log, 1024);
  auto seg = log->Append(1, 1, std::string(5000, 'b'), [] { return Result<uint64_t>(0); });
  ASSERT_TRUE(seg.ok());
  ASSERT_TRUE((*seg)->Sync().ok());
  AppendRecords(*log, 2, 3, 1);
  log.reset();
  std::vector<Replayed> got = Reopen(dir.path(), 0, 0);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].payload, std::string(5000, 'b'));
}

// --- The ledger over its commit log ---

// RocksDB flushes every few hundred events; a log file holds about ten.
// So a crash loses a memtable's worth of events from RocksDB, and only
// files not reused before their events were flushed can bring them back.
LedgerOptions TinyOptions(bool direct = true) {
  LedgerOptions o = testing::TestOptions();
  o.write_buffer_bytes = 128 << 10;
  o.log_segment_bytes = 4 << 10;
  o.direct_log_writes = direct;
  return o;
}

// Runs in a child: appends referrals prefix<from> .. prefix<from+n-1>, one per
// append, then exits without closing the ledger, as a crash would leave it
// (RocksDB's memtable is lost; the page cache is not).
[[noreturn]] void AppendAndVanish(const std::string& dir, const std::string& prefix, int from,
                                  int n, bool direct) {
  auto opened = Ledger::Open(dir, TinyOptions(direct));
  if (!opened.ok()) _exit(3);
  WriteContext ctx = testing::Writer("partnership:commit-log");
  for (int i = from; i < from + n; ++i) {
    if (!(*opened)->Append(Req(prefix + std::to_string(i), T(0), Received()), ctx).ok()) _exit(4);
  }
  _exit(0);
}

// The child is this test program run afresh (not only forked): a forked
// copy of a process that has used RocksDB has none of its background
// threads, and would wait forever for a flush.
const bool kIsChild = [] {
  if (auto job = testing::ChildJob("LEDGER_LOG_CHILD"); job && job->size() == 5) {
    const std::vector<std::string>& j = *job;
    AppendAndVanish(j[0], j[1], std::stoi(j[2]), std::stoi(j[3]), j[4] == "1");
  }
  return false;
}();

void RunChild(const std::string& dir, int from, int n, const std::string& prefix = "c",
              bool direct = true) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    testing::ReExecAsChild("LEDGER_LOG_CHILD", {dir, prefix, std::to_string(from),
                                                std::to_string(n), direct ? "1" : "0"});
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

void ExpectReferrals(Ledger& ledger, int n) {
  ASSERT_EQ(ledger.Size(), static_cast<uint64_t>(n));
  auto feed = ledger.ReadFeed(0, ledger.Size());
  ASSERT_TRUE(feed.ok());
  for (int i = 0; i < n; ++i) EXPECT_EQ((*feed)[i].referral_id, "c" + std::to_string(i)) << i;
  VerifyReport v = ledger.Verify();
  EXPECT_TRUE(v.ok) << v.problem << " at " << v.first_bad_seq;
}

// With direct writes and without.
class LedgerCommitLog : public CommitLogTest {};
INSTANTIATE_TEST_SUITE_P(Writes, LedgerCommitLog, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Direct" : "PageCache"; });

TEST_P(LedgerCommitLog, ACrashLosesNothingAcknowledgedAcrossFlushesAndReusedFiles) {
  testing::TempDir dir;
  RunChild(dir.path(), 0, 1500, "c", GetParam());
  const size_t files = SegmentFiles(dir.path() + "/log").size();
  // The files were reused as RocksDB flushed: far fewer than the log's
  // bytes would need otherwise (1,500 events of some 400 bytes in 4 KiB
  // files), and more than a memtable's worth.
  EXPECT_LT(files, 100u);
  EXPECT_GT(files, 20u);
  {
    auto opened = Ledger::Open(dir.path(), TinyOptions(GetParam()));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ExpectReferrals(**opened, 1500);
  }
  // Twice more, from a ledger that was itself recovered; the second time
  // with the other way of writing, as after an upgrade or a move.
  RunChild(dir.path(), 1500, 700, "c", GetParam());
  RunChild(dir.path(), 2200, 300, "c", !GetParam());
  auto opened = Ledger::Open(dir.path(), TinyOptions(GetParam()));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ExpectReferrals(**opened, 2500);
}

// After a crash with flushes and reused files, a read-only open sees every
// acknowledged event (from the tables and the log) without replaying the
// log into the database: the directory stays as the crash left it.
TEST_P(LedgerCommitLog, AReadOnlyOpenAfterACrashSeesEverythingAndWritesNothing) {
  testing::TempDir dir;
  RunChild(dir.path(), 0, 800, "c", GetParam());
  const auto crashed = testing::DirectoryContents(dir.path());
  {
    LedgerOptions o = TinyOptions(GetParam());
    o.read_only = true;
    auto opened = Ledger::Open(dir.path(), o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ExpectReferrals(**opened, 800);
  }
  EXPECT_EQ(testing::DirectoryContents(dir.path()), crashed);
  auto opened = Ledger::Open(dir.path(), TinyOptions(GetParam()));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ExpectReferrals(**opened, 800);
}

TEST(LedgerCommitLog, ACloseLeavesEverythingInTheTables) {
  testing::TempDir dir;
  {
    auto opened = Ledger::Open(dir.path(), testing::TestOptions());
    ASSERT_TRUE(opened.ok());
    WriteContext ctx = testing::Writer("partnership:commit-log");
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE((*opened)->Append(Req("c" + std::to_string(i), T(0), Received()), ctx).ok());
    }
  }
  std::filesystem::remove_all(dir.path() + "/log");
  auto opened = Ledger::Open(dir.path(), testing::TestOptions());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ExpectReferrals(**opened, 50);
}

// Records written after a lost one were never acknowledged; once appends go
// on past them, they must never come back.
TEST(LedgerCommitLog, RecordsBeyondALostOneNeverReturn) {
  testing::TempDir dir;
  RunChild(dir.path(), 0, 100);  // in a dozen files, none reused yet
  auto read = [](const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  // Each record holds one event: count those of the first two files (up
  // to the zeros after them, with direct writes).
  int kept = 0;
  for (const char* name : {"/log/00000001.log", "/log/00000002.log"}) {
    const std::string bytes = read(dir.path() + name);
    for (size_t at = 0; at + kLogHeaderBytes <= bytes.size(); ++kept) {
      uint32_t len = 0, format = 0;
      std::memcpy(&len, bytes.data() + at + 8, 4);
      std::memcpy(&format, bytes.data() + at + 12, 4);
      if (format != internal::kLogRecordFormat) break;
      at += kLogHeaderBytes + len;
    }
  }
  ASSERT_GT(kept, 5);
  // Lose the third file's first record (as if it never reached the disk)
  // and keep the rest.
  const std::string third = dir.path() + "/log/00000003.log";
  std::string bytes = read(third);
  ASSERT_GT(bytes.size(), kLogHeaderBytes + 5);
  bytes[kLogHeaderBytes + 5] ^= 0x40;
  std::ofstream(third, std::ios::binary | std::ios::trunc) << bytes;
  {
    auto opened = Ledger::Open(dir.path(), TinyOptions());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ExpectReferrals(**opened, kept);
  }
  // Other events take the seqs after them; a crash again: they, not the old
  // ones, are the ledger. (The new events go to the first file, reused; the
  // old ones after the lost record are in later files, of older uses.)
  RunChild(dir.path(), 0, 5, "new");
  auto opened = Ledger::Open(dir.path(), TinyOptions());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ((*opened)->Size(), static_cast<uint64_t>(kept + 5));
  auto feed = (*opened)->ReadFeed(kept, 5);
  ASSERT_TRUE(feed.ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*feed)[i].referral_id, "new" + std::to_string(i));
  VerifyReport v = (*opened)->Verify();
  EXPECT_TRUE(v.ok) << v.problem;
}

}  // namespace
}  // namespace ledger
