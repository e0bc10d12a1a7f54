// Fuzz target: an append body as it arrives over HTTP, through the strict
// JSON parser, the request parser and every field rule (ValidateEvent), as
// a single event and as a batch. Whatever it is given, it must answer with
// a request or a status, never crash; a request it accepts must survive a
// round trip through its JSON form unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "wire/event_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ledger::Micros now = ledger::DaysFromCivil(2026, 6, 1) * ledger::kMicrosPerDay;
  ledger::Result<boost::json::value> body = wire::ParseStrictJson(text);
  if (!body.ok()) return 0;
  ledger::Result<ledger::AppendRequest> one = wire::ParseAppendRequest(*body, now);
  if (one.ok()) {
    // What was accepted reads back as itself.
    ledger::Result<ledger::AppendRequest> again =
        wire::ParseAppendRequest(ledger::AppendRequestToJson(*one), now);
    if (!again.ok() || ledger::RequestDigest(*again) != ledger::RequestDigest(*one)) std::abort();
  } else if (one.status().code() == ledger::Code::kOk) {
    std::abort();
  }
  (void)wire::ParseBatchRequest(*body, now);
  return 0;
}
