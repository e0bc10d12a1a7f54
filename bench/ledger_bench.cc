// Durable append throughput and latency with 1, 8 and 64 concurrent
// appenders, batch appends, and Verify() throughput. Every append here is
// synced to disk before it returns, exactly as in production.
//
// Run: build/bench/ledger_bench --benchmark_min_time=2
// Results and the machine they were measured on: bench/RESULTS.md.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>

#include "ledger/ledger.h"

namespace {

using ledger::AppendRequest;
using ledger::Ledger;

std::string MakeTempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ledger-bench-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) std::abort();
  return tmpl;
}

struct Fixture {
  std::string dir = MakeTempDir();
  std::unique_ptr<Ledger> ledger;
  Fixture() {
    auto r = Ledger::Open(dir);
    if (!r.ok()) std::abort();
    ledger = std::move(r).value();
  }
  ~Fixture() {
    ledger.reset();
    std::filesystem::remove_all(dir);
  }
};

AppendRequest Received(const std::string& id, int i) {
  AppendRequest r;
  r.event.referral_id = id;
  r.event.occurred_at = ledger::DaysFromCivil(2025, 1, 1) * ledger::kMicrosPerDay + i;
  r.event.data = ledger::ReferralReceived{"p" + std::to_string(100000000 + i),
                                          "E08000034",
                                          ledger::Referrer::kCommunityTreatment,
                                          ledger::Substance::kOpiate,
                                          ledger::AgeBand::k35To39,
                                          ledger::Sex::kMale,
                                          ledger::Ethnicity::kWhite,
                                          ledger::Disability::kNotStated};
  return r;
}

Fixture* g_append = nullptr;
std::atomic<int> g_stream{0};

void AppendSetup(const benchmark::State&) { g_append = new Fixture(); }
void AppendTeardown(const benchmark::State&) {
  delete g_append;
  g_append = nullptr;
}

// The disk's own price, for reading the figures below: one 16 KiB write
// and its fdatasync, in the directory the ledgers use. It varies with the
// virtual disk from hour to hour, and every durable append waits for one.
// With `reused_bytes` 0 each write goes to the end of a growing file (what
// a group's sync costs a log file that grows: a new commit log file, or
// RocksDB's log); else the file is first written to that size and synced,
// and the writes go round it in place, as in the commit log's reused files
// (ledger/src/commit_log.h), so the sync carries no change of size or block
// allocation. With `direct`, each write bypasses the page cache and is
// durable on return (O_DIRECT, RWF_DSYNC), as the commit log's are where
// the filesystem allows.
void SyncProbe(benchmark::State& state, off_t reused_bytes, bool direct = false) {
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/sync-probe";
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR, 0600);
  if (fd < 0) std::abort();
  constexpr size_t kBlock = 16 << 10;
  std::unique_ptr<char, decltype(&std::free)> block(
      static_cast<char*>(std::aligned_alloc(4096, kBlock)), &std::free);
  std::memset(block.get(), 'x', kBlock);
  const auto block_bytes = static_cast<off_t>(kBlock);
  for (off_t at = 0; at < reused_bytes; at += block_bytes) {
    if (::pwrite(fd, block.get(), kBlock, at) != static_cast<ssize_t>(kBlock)) std::abort();
  }
  if (::fsync(fd) != 0) std::abort();
  if (direct && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_DIRECT) != 0) {
    state.SkipWithError("no direct I/O on this filesystem");
  }
  off_t at = 0;
  for (auto _ : state) {
    iovec part{block.get(), kBlock};
    const bool written =
        direct ? ::pwritev2(fd, &part, 1, at, RWF_DSYNC) == block_bytes
               : ::pwrite(fd, block.get(), kBlock, at) == block_bytes && ::fdatasync(fd) == 0;
    if (!written) {
      state.SkipWithError("write or sync failed");
      break;
    }
    at += block_bytes;
    if (reused_bytes > 0) at %= reused_bytes;
  }
  ::close(fd);
  std::filesystem::remove_all(dir);
}
void BM_Fdatasync(benchmark::State& state) { SyncProbe(state, 0); }
BENCHMARK(BM_Fdatasync)->Unit(benchmark::kMicrosecond)->UseRealTime();
void BM_FdatasyncOverwrite(benchmark::State& state) { SyncProbe(state, 64 << 20); }
BENCHMARK(BM_FdatasyncOverwrite)->Unit(benchmark::kMicrosecond)->UseRealTime();
// As the commit log writes where it can: direct, durable on return.
void BM_DirectWriteOverwrite(benchmark::State& state) { SyncProbe(state, 64 << 20, true); }
BENCHMARK(BM_DirectWriteOverwrite)->Unit(benchmark::kMicrosecond)->UseRealTime();

// One event per call, `threads` callers at once.
void BM_DurableAppend(benchmark::State& state) {
  ledger::WriteContext ctx;
  ctx.actor = "bench:appender";
  std::vector<double> latencies_us;
  latencies_us.reserve(1 << 16);
  const int me = g_stream.fetch_add(1);
  int i = 0;
  for (auto _ : state) {
    AppendRequest req = Received("b" + std::to_string(me) + "-" + std::to_string(i), i);
    ++i;
    auto start = std::chrono::steady_clock::now();
    auto r = g_append->ledger->Append(req, ctx);
    auto end = std::chrono::steady_clock::now();
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    latencies_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  state.SetItemsProcessed(state.iterations());
  if (!latencies_us.empty()) {
    std::sort(latencies_us.begin(), latencies_us.end());
    auto pct = [&](double q) {
      return latencies_us[static_cast<size_t>(q * (latencies_us.size() - 1))];
    };
    state.counters["p50_us"] = benchmark::Counter(pct(0.50), benchmark::Counter::kAvgThreads);
    state.counters["p99_us"] = benchmark::Counter(pct(0.99), benchmark::Counter::kAvgThreads);
  }
}
BENCHMARK(BM_DurableAppend)
    ->Setup(AppendSetup)
    ->Teardown(AppendTeardown)
    ->Threads(1)
    ->Threads(8)
    ->Threads(16)  // the PostgreSQL comparison's 16 clients
    ->Threads(64)
    ->UseRealTime();

// Appends `n` new referrals from `appenders` appenders that never block a
// thread: each keeps one append in flight with AppendAsync and starts its
// next from the completion callback, as a server with a small thread pool
// does. Adds each append's latency to `latencies_us`; false if one failed.
bool AppendAsyncFrom(Ledger& ledger, int appenders, int n, std::vector<double>* latencies_us) {
  // New referrals across calls too: the steady ledger outlives a run.
  static int next_id = 0;
  ledger::WriteContext ctx;
  ctx.actor = "bench:async";
  std::mutex mu;
  std::condition_variable cv;
  int started = 0, finished = 0;
  bool failed = false;
  std::function<void()> start_one = [&] {
    int i;
    {
      std::lock_guard l(mu);
      if (started == n) return;
      ++started;
      i = next_id++;
    }
    auto t0 = std::chrono::steady_clock::now();
    ledger.AppendAsync(
        {Received("a" + std::to_string(i), i)}, ctx,
        [&, t0](ledger::Result<std::vector<ledger::AppendResult>> r) {
          auto t1 = std::chrono::steady_clock::now();
          {
            std::lock_guard l(mu);
            failed |= !r.ok();
            latencies_us->push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            // Only the last completion wakes the waiting thread (waking
            // it for every event would spend a core on the benchmark),
            // and touches nothing after: the waiter's frame then ends.
            if (++finished == n) {
              cv.notify_one();
              return;
            }
          }
          start_one();
        });
  };
  for (int k = 0; k < appenders; ++k) start_one();
  std::unique_lock l(mu);
  cv.wait(l, [&] { return finished == n; });
  return !failed;
}

// A ledger in its steady state, made once for every run that wants it: so
// many events appended, the same way as measured, that RocksDB has flushed
// its memtable several times and compacts as it goes, and the commit log
// reuses its files (ledger/src/commit_log.h) rather than growing new ones,
// as it does for the first hundred or so megabytes of a new ledger.
Ledger& SteadyLedger() {
  // Destroyed at exit, which closes the ledger and removes its directory.
  static Fixture steady;
  static const bool filled = [] {
    std::vector<double> ignored;
    return AppendAsyncFrom(*steady.ledger, 64, 600000, &ignored);
  }();
  if (!filled) std::abort();
  return *steady.ledger;
}

// range(0) appenders (AppendAsyncFrom); range(1): 0 on a new ledger, 1 on
// the steady one.
void BM_DurableAppendAsync(benchmark::State& state) {
  std::optional<Fixture> fresh;
  if (state.range(1) == 0) fresh.emplace();
  Ledger& ledger = fresh ? *fresh->ledger : SteadyLedger();
  constexpr int kPerIteration = 20000;
  std::vector<double> latencies_us;
  // The whole process's CPU time (every thread: the ledger's, RocksDB's
  // and the appenders') per event: steadier from run to run than the rate,
  // which moves with the disk's hour.
  auto process_cpu_us = [] {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
  };
  double cpu_us = 0;
  for (auto _ : state) {
    latencies_us.clear();
    const double cpu_before = process_cpu_us();
    if (!AppendAsyncFrom(ledger, static_cast<int>(state.range(0)), kPerIteration, &latencies_us)) {
      state.SkipWithError("append failed");
    }
    cpu_us += process_cpu_us() - cpu_before;
  }
  state.SetItemsProcessed(state.iterations() * kPerIteration);
  state.counters["cpu_us_per_event"] =
      cpu_us / static_cast<double>(state.iterations() * kPerIteration);
  std::sort(latencies_us.begin(), latencies_us.end());
  state.counters["p50_us"] = latencies_us[latencies_us.size() / 2];
  state.counters["p99_us"] = latencies_us[latencies_us.size() * 99 / 100];
}
BENCHMARK(BM_DurableAppendAsync)
    ->Args({64, 0})
    ->Args({64, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Batches of `range(0)` events per call, one caller.
void BM_DurableAppendBatch(benchmark::State& state) {
  Fixture f;
  ledger::WriteContext ctx;
  ctx.actor = "bench:batch";
  const int n = static_cast<int>(state.range(0));
  int i = 0;
  for (auto _ : state) {
    std::vector<AppendRequest> batch;
    for (int k = 0; k < n; ++k, ++i) batch.push_back(Received("c" + std::to_string(i), i));
    auto r = f.ledger->Append(std::span<const AppendRequest>(batch), ctx);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_DurableAppendBatch)->Arg(100)->Arg(1000)->UseRealTime();

// Verify() over a ledger of range(0) events.
void BM_Verify(benchmark::State& state) {
  Fixture f;
  ledger::WriteContext ctx;
  ctx.actor = "bench:verify";
  const int n = static_cast<int>(state.range(0));
  for (int i = 0; i < n;) {
    std::vector<AppendRequest> batch;
    for (int k = 0; k < 1000 && i < n; ++k, ++i)
      batch.push_back(Received("v" + std::to_string(i), i));
    if (!f.ledger->Append(std::span<const AppendRequest>(batch), ctx).ok()) std::abort();
  }
  for (auto _ : state) {
    ledger::VerifyReport v = f.ledger->Verify();
    if (!v.ok) state.SkipWithError(v.problem.c_str());
    benchmark::DoNotOptimize(v.events_checked);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Verify)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
