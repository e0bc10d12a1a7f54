// ledgerctl generate: a synthetic England ledger.
#include <chrono>
#include <cstdio>
#include <string>

#include "commands.h"
#include "synth.h"

namespace ledgerctl {

int Generate(const Args& a) {
  synth::Options opt;
  auto flag = [&](const char* k, const char* def) {
    auto it = a.flags.find(k);
    return it == a.flags.end() ? std::string(def) : it->second;
  };
  const std::string referrals = flag("referrals", "calibrated"), seed = flag("seed", "1");
  const bool calibrated = referrals == "calibrated";
  if ((!calibrated && !IsWholeNumber(referrals)) || !IsWholeNumber(seed)) {
    return Usage("--referrals and --seed must be whole numbers");
  }
  opt.seed = std::stoull(seed);
  // By default pathways run from 2022 up to today, so some are still open.
  const auto from = ledger::ParseDate(flag("from", "2022-01-01"));
  const auto to = a.flags.count("to")
                      ? ledger::ParseDate(a.flags.at("to"))
                      : std::optional<int64_t>(ledger::NowMicros() / ledger::kMicrosPerDay);
  if (!from || !to || *to <= *from) return Usage("--from and --to must be dates, from before to");
  opt.start = *from * ledger::kMicrosPerDay;
  opt.end = *to * ledger::kMicrosPerDay;
  if (opt.end > ledger::NowMicros()) return Usage("--to must not be in the future");
  opt.referrals =
      calibrated ? synth::CalibratedReferrals(opt.start, opt.end) : std::stoull(referrals);
  int code = 0;
  auto ledger = OpenLedger(a, &code, /*create=*/true);
  if (!ledger) return code;
  if (ledger->Size() != 0) {
    std::fprintf(stderr, "ledgerctl: the ledger already holds events\n");
    return 1;
  }
  synth::Generator gen(opt);
  std::vector<ledger::RecordedRequest> batch;
  ledger::RecordedRequest req;
  uint64_t started = 0;
  Progress progress("generate", 0, a);
  bool more = true;
  while (more) {
    more = gen.Next(&req);
    if (more) {
      started += std::holds_alternative<ledger::PlacementStarted>(req.request.event.data);
      batch.push_back(std::move(req));
    }
    if ((batch.size() == 5000 || !more) && !batch.empty()) {
      auto r = ledger->AppendRecorded(batch);
      if (!r.ok()) {
        std::fprintf(stderr, "ledgerctl: %s\n", r.status().ToString().c_str());
        return 1;
      }
      progress.Add(batch.size());
      batch.clear();
    }
  }
  progress.Done();
  const double years = static_cast<double>(opt.end - opt.start) / (365.25 * ledger::kMicrosPerDay);
  std::printf(
      "%llu events, %llu referrals over %.1f years; %llu placements started, %.0f a year: "
      "%.2f%% of the %.0f adults a year in treatment\n",
      static_cast<unsigned long long>(ledger->Size()),
      static_cast<unsigned long long>(opt.referrals), years,
      static_cast<unsigned long long>(started), static_cast<double>(started) / years,
      100.0 * static_cast<double>(started) / years / synth::kTreatmentPopulation,
      synth::kTreatmentPopulation);
  return 0;
}

}  // namespace ledgerctl
