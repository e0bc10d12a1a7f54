// ledgerctl verify: the whole ledger recomputed from its stored bytes.
#include <algorithm>
#include <cstdio>

#include "commands.h"

namespace ledgerctl {

int Verify(const Args& a) {
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  Progress progress("verify", ledger->Size(), a);
  uint64_t seen = 0;
  ledger::VerifyReport r = ledger->Verify([&](uint64_t done, uint64_t) {
    progress.Add(done - seen);
    seen = done;
  });
  progress.Add(r.events_checked - std::min(seen, r.events_checked));
  progress.Done();
  if (r.ok) {
    std::printf("ok: %llu events and %llu signed heads verify; head %s\n",
                static_cast<unsigned long long>(r.events_checked),
                static_cast<unsigned long long>(r.signed_heads_checked),
                ledger::ToHex(ledger->Head().root).c_str());
    return 0;
  }
  std::printf("FAILED at seq %llu: %s\n", static_cast<unsigned long long>(r.first_bad_seq),
              r.problem.c_str());
  return 1;
}

}  // namespace ledgerctl
