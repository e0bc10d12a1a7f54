// What every view shares (private to projections): the period, the scan of
// every referral's facts in parts on their own threads, a referral's state
// at a moment, the areas a view lists and their reference data.
#pragma once

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "projections/model.h"
#include "projections/views.h"

namespace projections::scan {

// [from, to) in business time; a missing bound is unbounded.
struct Period {
  std::optional<ledger::Micros> from, to;
  bool Contains(ledger::Micros t) const { return (!from || t >= *from) && (!to || t < *to); }
};
Period PeriodOf(const ViewParams& p);

// The split SetScanSplit() sets.
extern std::atomic<size_t> min_per_part;
extern std::atomic<size_t> max_parts;

// Calls scan(begin, end, &part) over the referrals [0, n) in parts, one per
// core, each with its own part, and returns the parts for the caller to
// merge. A view reads every referral's summary, so its time grows with the
// ledger; splitting the scan keeps a large ledger's as_of views fast. The
// parts take blocks of referrals in turn rather than one range each, so
// that they share the work whatever the as_of (referrals are numbered in
// order of receipt: those after as_of are skipped at once). The model is
// only read. Small models are scanned on the calling thread.
template <typename Part, typename Scan>
std::vector<Part> InParts(size_t n, const Part& empty, Scan scan) {
  constexpr size_t kBlock = 4096;
  size_t most = max_parts.load(std::memory_order_relaxed);
  if (most == 0) most = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 4);
  const size_t least = std::max<size_t>(1, min_per_part.load(std::memory_order_relaxed));
  const size_t parts = std::clamp<size_t>(n / least, 1, most);
  const size_t block =
      parts == 1 ? std::max<size_t>(n, 1) : std::min(kBlock, (n + parts - 1) / parts);
  std::vector<Part> out(parts, empty);
  auto run = [&](size_t t) {
    for (size_t b = t * block; b < n; b += parts * block) scan(b, std::min(n, b + block), &out[t]);
  };
  std::vector<std::thread> workers;
  for (size_t t = 1; t < parts; ++t) {
    try {
      workers.emplace_back(run, t);
    } catch (const std::system_error&) {
      run(t);  // no thread to be had: this one does it
    }
  }
  run(0);
  for (std::thread& w : workers) w.join();
  return out;
}

// InParts over the facts of each referral as of `as_of`: calls
// fn(i, facts, &part) for every referral i that had an event by then.
template <typename Part, typename Fn>
std::vector<Part> EachReferral(const ReadModel& model, uint64_t as_of, const Part& empty, Fn fn) {
  return InParts(model.referrals().size(), empty, [&](size_t begin, size_t end, Part* part) {
    Facts scratch;
    for (size_t i = begin; i < end; ++i) {
      if (const Facts* f = model.FactsOf(i, as_of, &scratch)) fn(i, *f, part);
    }
  });
}

// OpenStateAt's walk through referral i's events, for `at` before its last.
std::pair<ledger::ReferralState, int64_t> WalkStateAt(const ReadModel& model, size_t i,
                                                      uint64_t as_of, ledger::Micros at);

// Referral i's state at `at` and its latest offer's provider by then (-1:
// none), as of as_of: from its facts when `at` is at or after its last
// event (inline: the scans ask it of every referral), else walked.
inline std::pair<ledger::ReferralState, int64_t> OpenStateAt(const ReadModel& model, size_t i,
                                                             const Facts& f, uint64_t as_of,
                                                             ledger::Micros at) {
  if (at >= f.last_occurred_at) {
    return {f.state, f.offered ? static_cast<int64_t>(f.offered_provider) : -1};
  }
  return WalkStateAt(model, i, as_of, at);
}

// Ors `from` into `to`, both indexed by area pool id.
void AddNamed(const std::vector<char>& from, std::vector<char>* to);

// The areas a view lists: the one asked for, else every area named (as
// corrected) within as_of, in code order. Returns pool ids, or -1 for an
// asked-for area no referral names.
std::vector<std::pair<std::string, int64_t>> ListedAreas(const ReadModel& model,
                                                         const std::vector<char>& named,
                                                         const ViewParams& p);

// An area's reference data and its rates per 100,000 people.
AreaReference ReferenceOf(std::string_view code, uint64_t referrals, uint64_t placements);

// Sets what every period report starts with: its as_of_seq and period.
template <typename Report>
void Stamp(const ViewParams& p, Report* report) {
  report->as_of_seq = p.as_of;
  report->from_day = p.from_day;
  report->to_day = p.to_day;
}

// count / total, none when total is 0.
std::optional<double> Ratio(uint64_t count, uint64_t total);

}  // namespace projections::scan
