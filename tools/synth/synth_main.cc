// synth-ledger: fills a ledger directory with a generated ledger.
//
//   synth-ledger --data DIR [--referrals N] [--seed S] [--from YYYY-MM-DD]
//                [--to YYYY-MM-DD] [--actor role:name]
//
// Appends in batches of 1,000 through the ledger's own checks, so every
// event is valid. The directory must be empty of events.
#include <cstdio>
#include <map>
#include <string>

#include "ledger/ledger.h"
#include "synth.h"

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {{"referrals", "10000"}, {"seed", "1"},
                                              {"from", "2024-01-01"}, {"to", ""},
                                              {"actor", "partnership:synthetic"}};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (!key.starts_with("--") || (!flags.count(key.substr(2)) && key != "--data")) {
      std::fprintf(stderr, "synth-ledger: unknown option %s\n", argv[i]);
      return 2;
    }
    flags[key.substr(2)] = argv[i + 1];
  }
  if (flags["data"].empty()) {
    std::fprintf(stderr, "synth-ledger: --data DIR is required\n");
    return 2;
  }
  auto ledger = ledger::Ledger::Open(flags["data"]);
  if (!ledger.ok()) {
    std::fprintf(stderr, "synth-ledger: %s\n", ledger.status().ToString().c_str());
    return 1;
  }
  if ((*ledger)->Size() != 0) {
    std::fprintf(stderr, "synth-ledger: %s already holds events\n", flags["data"].c_str());
    return 1;
  }
  synth::Options opt;
  opt.referrals = std::stoull(flags["referrals"]);
  opt.seed = std::stoull(flags["seed"]);
  auto from = ledger::ParseDate(flags["from"]);
  // By default the pathways run up to today, so some are still open.
  auto to = flags["to"].empty() ? std::optional<int64_t>(ledger::NowMicros() / ledger::kMicrosPerDay)
                                : ledger::ParseDate(flags["to"]);
  if (!from || !to || *to <= *from) {
    std::fprintf(stderr, "synth-ledger: --from and --to must be dates, from before to\n");
    return 2;
  }
  opt.start = *from * ledger::kMicrosPerDay;
  opt.end = *to * ledger::kMicrosPerDay;
  synth::Generator gen(opt);
  const ledger::WriteContext ctx{flags["actor"], nullptr};
  std::vector<ledger::AppendRequest> batch;
  ledger::AppendRequest req;
  auto flush = [&] {
    auto r = (*ledger)->Append(batch, ctx);
    if (!r.ok()) {
      std::fprintf(stderr, "synth-ledger: %s\n", r.status().ToString().c_str());
      return false;
    }
    batch.clear();
    return true;
  };
  while (gen.Next(&req)) {
    batch.push_back(std::move(req));
    if (batch.size() == 1000 && !flush()) return 1;
  }
  if (!batch.empty() && !flush()) return 1;
  std::printf("%llu events, %llu referrals\n", static_cast<unsigned long long>((*ledger)->Size()),
              static_cast<unsigned long long>(opt.referrals));
  return 0;
}
