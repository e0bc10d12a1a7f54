// Projection rebuild throughput (every view's read model from seq 1) and
// view latency, at the head and at an as_of in the middle, on a large
// generated ledger.
//
// Run: build/bench/projections_bench [--benchmark_filter=...]
// The ledger (BENCH_REFERRALS referrals, default 200,000: about 1 million
// events) is generated once into BENCH_LEDGER_DIR (default
// /tmp/rehab-bench-<referrals>) and reused by later runs.
// Results and the machine they were measured on: bench/RESULTS.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <span>
#include <string>

#include "ledger/ledger.h"
#include "projections/projector.h"
#include "synth.h"
#include "wire/view_json.h"

namespace {

using ledger::DaysFromCivil;
using ledger::kMicrosPerDay;
using projections::Projector;
using projections::ViewQuery;

uint64_t Referrals() {
  const char* v = std::getenv("BENCH_REFERRALS");
  return v ? std::strtoull(v, nullptr, 10) : 200000;
}

ledger::LedgerOptions Options() {
  ledger::LedgerOptions o;
  o.clock = [] { return DaysFromCivil(2027, 1, 1) * kMicrosPerDay; };
  o.block_cache_bytes = 512 << 20;
  return o;
}

// The shared ledger, generated on first use.
ledger::Ledger& Shared() {
  static std::unique_ptr<ledger::Ledger> ledger = [] {
    const char* env = std::getenv("BENCH_LEDGER_DIR");
    const std::string dir = env ? env : "/tmp/rehab-bench-" + std::to_string(Referrals());
    auto opened = ledger::Ledger::Open(dir, Options());
    if (!opened.ok()) std::abort();
    if ((*opened)->Size() == 0) {
      synth::Options opt;
      opt.referrals = Referrals();
      opt.start = DaysFromCivil(2021, 1, 1) * kMicrosPerDay;
      opt.end = DaysFromCivil(2026, 7, 1) * kMicrosPerDay;
      synth::Generator gen(opt);
      std::vector<ledger::RecordedRequest> batch;
      ledger::RecordedRequest req;
      while (gen.Next(&req)) {
        batch.push_back(std::move(req));
        if (batch.size() == 1000) {
          if (!(*opened)->AppendRecorded(batch).ok()) std::abort();
          batch.clear();
        }
      }
      if (!batch.empty() && !(*opened)->AppendRecorded(batch).ok()) std::abort();
    }
    return std::move(opened).value();
  }();
  return *ledger;
}

Projector& SharedProjector() {
  static std::unique_ptr<Projector> p = [] {
    auto opened = Projector::Open(&Shared());
    if (!opened.ok() || !(*opened)->CatchUp().ok()) std::abort();
    return std::move(opened).value();
  }();
  return *p;
}

// The generator alone: 200,000 referrals (about 1 million events), with
// their recordings, not appended.
void BM_Generate(benchmark::State& state) {
  uint64_t events = 0;
  for (auto _ : state) {
    synth::Options opt;
    opt.referrals = 200000;
    opt.start = DaysFromCivil(2021, 1, 1) * kMicrosPerDay;
    opt.end = DaysFromCivil(2026, 7, 1) * kMicrosPerDay;
    synth::Generator gen(opt);
    ledger::RecordedRequest req;
    events = 0;
    while (gen.Next(&req)) ++events;
  }
  state.SetItemsProcessed(state.iterations() * events);
  state.counters["events"] = static_cast<double>(events);
}
BENCHMARK(BM_Generate)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_Rebuild(benchmark::State& state) {
  ledger::Ledger& ledger = Shared();
  auto p = Projector::Open(&ledger, projections::ProjectorOptions{"bench-rebuild", 16384});
  if (!p.ok()) std::abort();
  for (auto _ : state) {
    if (!(*p)->Rebuild().ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * ledger.Size());
  state.counters["events"] = static_cast<double>(ledger.Size());
  uint64_t bytes = 0;
  (*p)->Read([&](const projections::ReadModel& m) { bytes = m.MemoryBytes(); });
  state.counters["model_MiB"] = static_cast<double>(bytes) / (1 << 20);
}
BENCHMARK(BM_Rebuild)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

// Reading and decoding every event, applying nothing: the floor under
// BM_Rebuild.
void BM_ScanEvents(benchmark::State& state) {
  ledger::Ledger& ledger = Shared();
  uint64_t n = 0;
  for (auto _ : state) {
    n = 0;
    auto st = ledger.ScanEvents(0, ledger.Size(), [&](const ledger::Event& e) {
      n += e.seq;
      return ledger::Status::Ok();
    });
    if (!st.ok()) std::abort();
  }
  benchmark::DoNotOptimize(n);
  state.SetItemsProcessed(state.iterations() * ledger.Size());
}
BENCHMARK(BM_ScanEvents)->Unit(benchmark::kMillisecond)->Iterations(2);

// The same with briefs (no string copied), as the projections read.
void BM_ScanBriefs(benchmark::State& state) {
  ledger::Ledger& ledger = Shared();
  uint64_t n = 0;
  for (auto _ : state) {
    n = 0;
    auto st = ledger.ScanBriefs(0, ledger.Size(), [&](const ledger::EventBrief& e) {
      n += e.seq + e.key.size();
      return ledger::Status::Ok();
    });
    if (!st.ok()) std::abort();
  }
  benchmark::DoNotOptimize(n);
  state.SetItemsProcessed(state.iterations() * ledger.Size());
}
BENCHMARK(BM_ScanBriefs)->Unit(benchmark::kMillisecond)->Iterations(2);

// The model alone: every event's brief read into memory first, then applied
// from seq 1 in chunks as a rebuild applies them, with their records encoded.
void BM_Apply(benchmark::State& state) {
  ledger::Ledger& ledger = Shared();
  std::vector<ledger::EventBrief> briefs;
  std::deque<std::string> text;
  std::deque<ledger::RecordCorrected> corrections;
  auto st = ledger.ScanBriefs(0, ledger.Size(), [&](const ledger::EventBrief& b) {
    briefs.push_back(b);
    briefs.back().referral_id = text.emplace_back(b.referral_id);
    briefs.back().key = text.emplace_back(b.key);
    if (b.correction) briefs.back().correction = &corrections.emplace_back(*b.correction);
    return ledger::Status::Ok();
  });
  if (!st.ok()) std::abort();
  constexpr size_t kChunk = 16384;
  for (auto _ : state) {
    projections::ReadModel model;
    std::string encoded;
    for (size_t at = 0; at < briefs.size(); at += kChunk) {
      encoded.clear();
      const size_t n = std::min(kChunk, briefs.size() - at);
      if (!model.ApplyAll(std::span(briefs).subspan(at, n), &encoded).ok()) std::abort();
    }
    state.PauseTiming();
    model = projections::ReadModel();  // not the model's destruction
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * briefs.size());
}
BENCHMARK(BM_Apply)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Reload(benchmark::State& state) {
  SharedProjector();  // makes sure the default store holds a checkpoint
  for (auto _ : state) {
    auto p = Projector::Open(&Shared());
    if (!p.ok() || (*p)->applied() != Shared().Size()) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * Shared().Size());
}
BENCHMARK(BM_Reload)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

// A view of the year 2025, computed and made JSON: arg 0 at the head, arg k (1 to 3) as of the seq
// k quarters of the way through the ledger.
template <auto View>
void BM_View(benchmark::State& state) {
  Projector& p = SharedProjector();
  ViewQuery q;
  q.from_day = DaysFromCivil(2025, 1, 1);
  q.to_day = DaysFromCivil(2026, 1, 1);
  if (state.range(0) > 0) q.as_of_seq = p.applied() * state.range(0) / 4;
  for (auto _ : state) {
    auto r = (p.*View)(q);
    if (!r.ok()) std::abort();
    // As the API serves it: the figures, then their JSON.
    boost::json::object json = wire::ToJson(*r);
    benchmark::DoNotOptimize(json);
  }
  state.counters["events"] = static_cast<double>(p.applied());
}
BENCHMARK(BM_View<&Projector::Fairness>)
    ->Name("BM_Fairness")
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_View<&Projector::WaitingTimes>)
    ->Name("BM_WaitingTimes")
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_View<&Projector::Refusals>)
    ->Name("BM_Refusals")
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_View<&Projector::Areas>)
    ->Name("BM_Areas")
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
