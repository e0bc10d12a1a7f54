// ledgerctl key: the ledger's checkpoint verifier key (SPEC §9), read from
// the public key beside its signing key. Read-only: it opens no database and
// writes nothing, so it works beside a running ledgerd.
#include <cstdio>

#include "commands.h"
#include "ledger/ledger.h"
#include "ledger/note.h"

namespace ledgerctl {

int Key(const Args& a) {
  if (!a.Has("data")) return Usage("--data DIR is required");
  const std::string origin =
      a.Has("origin") ? a.flags.at("origin") : std::string(ledger::note::kDefaultOrigin);
  if (!ledger::note::ValidOrigin(origin)) {
    return Usage("--origin may hold no spaces, '+' or control characters");
  }
  ledger::Result<std::string> public_key = ledger::Ledger::ReadPublicKey(a.flags.at("data"));
  if (!public_key.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", public_key.status().message().c_str());
    return 2;
  }
  std::printf("%s\n", ledger::note::VerifierKey(origin, *public_key).c_str());
  return 0;
}

}  // namespace ledgerctl
