// A read-only open (LedgerOptions::read_only): beside a writer in another
// process that holds the database's LOCK, it sees every event the writer
// acknowledged, those only in its commit log included; it stays as it was
// at its open; it refuses every write; and nothing in the ledger's
// directory changes, whether the writer is running, crashed or closed.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>

#include "key_layout.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "raw_db.h"
#include "test_util.h"

namespace ledger {
namespace {

using testing::DirectoryContents;
using testing::Received;
using testing::Req;
using testing::T;
using testing::TempDir;

constexpr const char* kChildJob = "LEDGER_READ_ONLY_CHILD";

LedgerOptions ReadOnly() {
  LedgerOptions o = testing::TestOptions();
  o.read_only = true;
  return o;
}

void AppendReferrals(Ledger& ledger, int from, int n) {
  WriteContext ctx = testing::Writer("partnership:read-only");
  for (int i = from; i < from + n; ++i) {
    auto r = ledger.Append(Req("r" + std::to_string(i), T(0), Received()), ctx);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

// Runs in the child: opens the ledger, appends `n` referrals, reports
// "<size> <root hex>" on `fd`, then stays open, idle, until it is killed.
[[noreturn]] void AppendAndWait(const std::string& dir, int n, int fd) {
  auto opened = Ledger::Open(dir, testing::TestOptions());
  if (!opened.ok()) _exit(3);
  WriteContext ctx = testing::Writer("partnership:read-only");
  for (int i = 0; i < n; ++i) {
    if (!(*opened)->Append(Req("r" + std::to_string(i), T(0), Received()), ctx).ok()) _exit(4);
  }
  const TreeHead head = (*opened)->Head();
  const std::string line = std::to_string(head.size) + " " + ToHex(head.root) + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
  for (;;) ::pause();
}

// The child is this test program run afresh (testing::ReExecAsChild).
const bool kIsChild = [] {
  if (auto job = testing::ChildJob(kChildJob); job && job->size() == 3) {
    AppendAndWait((*job)[0], std::stoi((*job)[1]), std::stoi((*job)[2]));
  }
  return false;
}();

// The head record as RocksDB alone has it, read through a secondary
// instance of its own: what a reader that ignored the commit log would see.
// nullopt when there is none.
std::optional<uint64_t> HeadInRocksDbAlone(const std::string& dir) {
  TempDir secondary;
  rocksdb::Options o;
  o.max_open_files = -1;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::OpenAsSecondary(o, dir + "/rocksdb", secondary.path() + "/db", &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return std::nullopt;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string v;
  if (!db->Get(rocksdb::ReadOptions(), "H", &v).ok() || v.size() != 40) return std::nullopt;
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size = (size << 8) | static_cast<unsigned char>(v[i]);
  return size;
}

// Every write a read-only ledger is asked for is refused, and names why.
void ExpectWritesRefused(Ledger& ledger) {
  auto appended =
      ledger.Append(Req("refused", T(0), Received()), testing::Writer("partnership:read-only"));
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.status().code(), Code::kForbidden);
  EXPECT_NE(appended.status().message().find("read-only"), std::string::npos);
  RecordedRequest recorded{Req("refused", T(0), Received()), T(0), "partnership:x", 0, {}};
  EXPECT_EQ(ledger.AppendRecorded(std::span<const RecordedRequest>(&recorded, 1)).status().code(),
            Code::kForbidden);
  EXPECT_EQ(ledger.OpenViewStore("views").status().code(), Code::kForbidden);
}

TEST(ReadOnly, BesideALiveWriterSeesWhatOnlyItsCommitLogHoldsAndChangesNothing) {
  TempDir dir, tmp;
  // The secondary's own files go under $TMPDIR: this test's, to see them go.
  struct Tmpdir {
    std::optional<std::string> was;
    explicit Tmpdir(const std::string& path) {
      if (const char* t = std::getenv("TMPDIR")) was = t;
      ::setenv("TMPDIR", path.c_str(), 1);
    }
    ~Tmpdir() {
      if (was) {
        ::setenv("TMPDIR", was->c_str(), 1);
      } else {
        ::unsetenv("TMPDIR");
      }
    }
  } tmpdir(tmp.path());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    testing::ReExecAsChild(kChildJob, {dir.path(), "300", std::to_string(fds[1])});
  }
  ::close(fds[1]);
  FILE* in = ::fdopen(fds[0], "r");
  char line[256] = {};
  const bool reported = std::fgets(line, sizeof line, in) != nullptr;
  std::fclose(in);
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid <= 0) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{pid};
  ASSERT_TRUE(reported) << "the writer did not start";
  std::istringstream reply(line);
  uint64_t acked = 0;
  std::string root;
  reply >> acked >> root;
  ASSERT_EQ(acked, 300u);

  // Its 300 acknowledged events are in its commit log only: RocksDB's
  // memtable holds them without RocksDB's WAL, and nothing was flushed.
  EXPECT_EQ(HeadInRocksDbAlone(dir.path()), std::nullopt);

  // RocksDB's info log (LOG) is the writer's to write while it runs.
  const auto before = DirectoryContents(dir.path(), {"LOG"});
  {
    auto opened = Ledger::Open(dir.path(), ReadOnly());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    Ledger& ro = **opened;
    EXPECT_EQ(ro.Size(), 300u);
    EXPECT_EQ(ToHex(ro.Head().root), root);
    VerifyReport v = ro.Verify();
    EXPECT_TRUE(v.ok) << v.problem << " at " << v.first_bad_seq;
    EXPECT_EQ(v.events_checked, 300u);
    auto last = ro.GetEvent(300);
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(last->referral_id, "r299");
    EXPECT_TRUE(ro.ReadStream("r150").ok());
    ExpectWritesRefused(ro);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp.path()),
                            std::filesystem::directory_iterator()),
              1);
  }
  EXPECT_EQ(DirectoryContents(dir.path(), {"LOG"}), before);
  // Its temporary directory is gone with it.
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));

  // The writer crashes: its events are still only in its commit log. A
  // read-only open sees them all and, unlike a writer's open, does not
  // replay them into the database: nothing changes, byte for byte.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  reap.pid = -1;
  const auto crashed = DirectoryContents(dir.path());
  {
    auto opened = Ledger::Open(dir.path(), ReadOnly());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ((*opened)->Size(), 300u);
    EXPECT_TRUE((*opened)->Verify().ok);
    ExpectWritesRefused(**opened);
  }
  EXPECT_EQ(DirectoryContents(dir.path()), crashed);
  EXPECT_EQ(HeadInRocksDbAlone(dir.path()), std::nullopt);
  // A writer's open recovers the same 300.
  auto writer = Ledger::Open(dir.path(), testing::TestOptions());
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ(ToHex((*writer)->Head().root), root);
}

// Beside a writer in this process whose memtables flush every few hundred
// events and whose log files are reused: a read-only open sees every event
// (some in the tables, the rest in the log), and stays as it was opened.
TEST(ReadOnly, SeesTablesAndLogTogetherAndStaysAsOpened) {
  TempDir dir;
  LedgerOptions small = testing::TestOptions();
  small.write_buffer_bytes = 64 << 10;
  small.log_segment_bytes = 4 << 10;
  auto writer = Ledger::Open(dir.path(), small);
  ASSERT_TRUE(writer.ok());
  Ledger& w = **writer;
  AppendReferrals(w, 0, 1000);
  const std::optional<uint64_t> in_tables = HeadInRocksDbAlone(dir.path());
  ASSERT_TRUE(in_tables.has_value());
  EXPECT_GT(*in_tables, 0u);  // flushed, and also
  ASSERT_LT(*in_tables, 1000u) << "every event was flushed: the log was not needed";

  auto opened = Ledger::Open(dir.path(), ReadOnly());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Ledger& ro = **opened;
  ASSERT_EQ(ro.Size(), 1000u);
  EXPECT_EQ(ro.Head(), w.Head());
  VerifyReport v = ro.Verify();
  EXPECT_TRUE(v.ok) << v.problem << " at " << v.first_bad_seq;
  EXPECT_EQ(v.events_checked, 1000u);
  EXPECT_EQ(*ro.InclusionProof(7, 1000), *w.InclusionProof(7, 1000));
  EXPECT_EQ(*ro.ConsistencyProof(100, 1000), *w.ConsistencyProof(100, 1000));
  uint64_t seen = 0;
  ASSERT_TRUE(ro.ScanBriefs(0, 1000, [&](const EventBrief& b) {
                  EXPECT_EQ(b.seq, ++seen);
                  return Status::Ok();
                }).ok());
  EXPECT_EQ(seen, 1000u);
  EXPECT_EQ(*ro.GetCanonicalBytes(999), *w.GetCanonicalBytes(999));

  // The writer goes on; the read-only ledger is the one it opened.
  AppendReferrals(w, 1000, 20);
  EXPECT_EQ(ro.Size(), 1000u);
  EXPECT_EQ(ro.GetEvent(1001).status().code(), Code::kNotFound);
  auto later = Ledger::Open(dir.path(), ReadOnly());
  ASSERT_TRUE(later.ok());
  EXPECT_EQ((*later)->Size(), 1020u);
  EXPECT_TRUE((*later)->Verify().ok);

  // A head signed by a read-only ledger is not kept: the heads Verify
  // checks are the ones the writer handed out.
  ASSERT_TRUE(ro.SignedHead(500).ok());
  EXPECT_EQ((*later)->Verify().signed_heads_checked, 0u);
  ASSERT_TRUE(w.SignedHead(500).ok());
  auto again = Ledger::Open(dir.path(), ReadOnly());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Verify().signed_heads_checked, 1u);
}

TEST(ReadOnly, NoLedgerIsNotFoundAndNothingIsMade) {
  TempDir dir;
  const std::string missing = dir.path() + "/missing";
  auto none = Ledger::Open(missing, ReadOnly());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(missing));
  auto empty = Ledger::Open(dir.path(), ReadOnly());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), Code::kNotFound);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// A damaged ledger opens read-only, and Verify names the seq that fails.
TEST(ReadOnly, VerifyNamesTheDamagedSeqAndLeavesTheDamageAsItIs) {
  TempDir dir;
  {
    auto writer = Ledger::Open(dir.path(), testing::TestOptions());
    ASSERT_TRUE(writer.ok());
    AppendReferrals(**writer, 0, 40);
  }
  testing::EditClosedLedger(dir.path(), [](rocksdb::DB* db) {
    const std::string key = internal::keys::Event(23);
    std::string v;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), key, &v).ok());
    v.back() ^= 1;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, v).ok());
  });
  const auto damaged = DirectoryContents(dir.path());
  auto opened = Ledger::Open(dir.path(), ReadOnly());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  VerifyReport v = (*opened)->Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 23u) << v.problem;
  opened->reset();
  EXPECT_EQ(DirectoryContents(dir.path()), damaged);
}

}  // namespace
}  // namespace ledger
