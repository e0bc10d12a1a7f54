// Durability (SPEC §7): a child process appends from many threads and is
// killed with SIGKILL mid-stream; every append that had returned success
// must be present after reopening, and the ledger must verify.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "ledger/ledger.h"
#include "test_util.h"

namespace ledger {
namespace {

using testing::Received;
using testing::Req;
using testing::T;

// The environment variable that makes the test binary the appending child
// (ReExecAsChild): its lines are the directory, the pipe's fd and the round.
constexpr const char* kChildJob = "LEDGER_DURABILITY_CHILD";

// Runs in the child: appends forever from `threads` threads, reporting each
// acknowledged append as "seq referral_id\n" on `fd` (one write per line, so
// lines never interleave: each is shorter than PIPE_BUF).
[[noreturn]] void AppendUntilKilled(const std::string& dir, int fd, int round, int threads) {
  auto opened = Ledger::Open(dir, testing::TestOptions());
  if (!opened.ok()) _exit(3);
  Ledger* ledger = opened->get();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([=] {
      WriteContext ctx = testing::Writer("partnership:durability");
      for (int i = 0;; ++i) {
        std::string id =
            "k" + std::to_string(round) + "-" + std::to_string(t) + "-" + std::to_string(i);
        std::vector<AppendRequest> reqs = {Req(id, T(0), Received())};
        if (i % 3 == 0) reqs.push_back(Req(id, T(1), AssessmentCompleted{}));  // a small batch
        auto r = ledger->Append(std::span<const AppendRequest>(reqs), ctx);
        if (!r.ok()) _exit(4);
        for (const AppendResult& a : *r) {
          std::string line = std::to_string(a.seq) + " " + id + "\n";
          if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  _exit(0);
}

TEST(Durability, SigkillLosesNoAcknowledgedAppend) {
  testing::TempDir dir;
  std::mt19937 rng(20261123);
  std::vector<std::pair<uint64_t, std::string>> acked;
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      testing::ReExecAsChild(kChildJob,
                             {dir.path(), std::to_string(fds[1]), std::to_string(round)});
    }
    ::close(fds[1]);
    FILE* in = ::fdopen(fds[0], "r");
    // Let it run until a few hundred acknowledgements plus a random delay, then kill.
    const size_t before = acked.size();
    char line[256];
    while (acked.size() < before + 300 && std::fgets(line, sizeof line, in)) {
      std::istringstream ss(line);
      uint64_t seq;
      std::string id;
      ss >> seq >> id;
      acked.emplace_back(seq, id);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 50));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    // Acknowledgements written before the kill are still in the pipe.
    while (std::fgets(line, sizeof line, in)) {
      std::istringstream ss(line);
      uint64_t seq;
      std::string id;
      ss >> seq >> id;
      acked.emplace_back(seq, id);
    }
    std::fclose(in);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    ASSERT_GT(acked.size(), before + 300 - 1);

    auto opened = Ledger::Open(dir.path(), testing::TestOptions());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    Ledger& ledger = **opened;
    for (const auto& [seq, id] : acked) {
      auto e = ledger.GetEvent(seq);
      ASSERT_TRUE(e.ok()) << "acknowledged seq " << seq << " lost: " << e.status().ToString();
      ASSERT_EQ(e->referral_id, id) << seq;
    }
    VerifyReport v = ledger.Verify();
    EXPECT_TRUE(v.ok) << v.problem << " at " << v.first_bad_seq;
    EXPECT_EQ(v.events_checked, ledger.Size());
    // Whole appends only: every two-event batch is present in full or not at all.
    auto feed = ledger.ReadFeed(0, ledger.Size());
    ASSERT_TRUE(feed.ok());
    std::map<std::string, int> per_stream;
    for (const Event& e : *feed) per_stream[e.referral_id]++;
    for (const auto& [id, count] : per_stream) {
      int i = std::stoi(id.substr(id.rfind('-') + 1));
      EXPECT_EQ(count, i % 3 == 0 ? 2 : 1) << id;
    }
  }
}

}  // namespace
}  // namespace ledger

// The child re-executes this binary with kChildJob set: it appends until
// killed; otherwise the tests run.
int main(int argc, char** argv) {
  if (auto job = ledger::testing::ChildJob(ledger::kChildJob)) {
    if (job->size() != 3) return 7;
    ledger::AppendUntilKilled((*job)[0], std::stoi((*job)[1]), std::stoi((*job)[2]), 16);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
