// Fuzz target: the stored-event decoder, given bytes as they could be found
// on disk (Cap'n Proto, possibly damaged). It must decode or refuse, never
// crash or read out of bounds; an event it decodes must encode and decode
// back to the same event.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ledger::Result<ledger::Event> e = ledger::internal::DecodeEvent(bytes);
  if (!e.ok()) return 0;
  const std::string encoded = ledger::internal::EncodeEvent(*e);
  ledger::Result<ledger::Event> again = ledger::internal::DecodeEvent(encoded);
  if (!again.ok() || !(*again == *e)) std::abort();
  return 0;
}
