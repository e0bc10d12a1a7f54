// ledgerctl key: the ledger's checkpoint verifier key (SPEC §9), read from
// the public key beside its signing key. Read-only: it opens no database and
// writes nothing, so it works beside a running ledgerd.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "ledger/note.h"
#include "ledger/tree_head.h"

namespace ledgerctl {

int Key(const Args& a) {
  if (!a.Has("data")) return Usage("--data DIR is required");
  const std::string origin =
      a.Has("origin") ? a.flags.at("origin") : std::string(ledger::note::kDefaultOrigin);
  if (!ledger::note::ValidOrigin(origin)) {
    return Usage("--origin may hold no spaces, '+' or control characters");
  }
  const std::string path = a.flags.at("data") + "/signing-key.pem.pub";
  std::ifstream in(path);
  std::stringstream pem;
  pem << in.rdbuf();
  if (!in) {
    std::fprintf(stderr, "ledgerctl: %s holds no ledger (no %s)\n", a.flags.at("data").c_str(),
                 path.c_str());
    return 2;
  }
  std::optional<std::string> public_key = ledger::PublicKeyFromPem(pem.str());
  if (!public_key) {
    std::fprintf(stderr, "ledgerctl: %s is not an Ed25519 public key\n", path.c_str());
    return 2;
  }
  std::printf("%s\n", ledger::note::VerifierKey(origin, *public_key).c_str());
  return 0;
}

}  // namespace ledgerctl
