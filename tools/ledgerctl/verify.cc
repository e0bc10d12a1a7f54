// ledgerctl verify: the whole ledger recomputed from its stored bytes.
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "ledger/event_json.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "projections/projector.h"
#include "synth.h"
#include "tables.h"

namespace ledgerctl {

namespace json = boost::json;

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
