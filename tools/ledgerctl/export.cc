// ledgerctl export: every event as NDJSON (a view as CSV is views.cc).
#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "wire/event_json.h"

namespace ledgerctl {

namespace json = boost::json;

int Export(const Args& a) {
  if (a.Has("view")) return Replay(a);  // a view as CSV
  for (const char* k : {"as-of", "from", "to", "at", "area", "reason", "stage"}) {
    if (a.Has(k)) return Usage(std::string("--") + k + " is for exporting a view (--view)");
  }
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  uint64_t after = 0;
  if (a.Has("after")) {
    if (!IsWholeNumber(a.flags.at("after"))) return Usage("--after must be a seq");
    after = std::stoull(a.flags.at("after"));
  }
  const uint64_t size = ledger->Size();
  // On stderr, so the export on stdout stays clean.
  Progress progress("export", size - std::min(after, size), a);
  ledger::Status st = ledger->ScanEvents(after, size, [&](const ledger::Event& e) {
    std::cout << json::serialize(wire::EventToJson(e)) << '\n';
    progress.Add(1);
    return ledger::Status::Ok();
  });
  progress.Done();
  if (!st.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace ledgerctl
