// ledgerctl key: the ledger's checkpoint verifier key (SPEC §9), its key
// history, and key rotation (docs/OPERATIONS.md, "Key custody").
//   key     reads the public key file only: no database opened, nothing
//           written, so it works beside a running ledgerd;
//   history opens the ledger read-only, beside a running ledgerd too;
//   new     makes a signing key file (for a ledger that starts with its key
//           kept apart, or before a rotation) and prints its verifier key;
//   rotate  opens it to write (ledgerd stopped: RocksDB's lock refuses a
//           second writer) and records the new key from the present size.
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "common.h"
#include "ledger/ledger.h"
#include "ledger/note.h"
#include "ledger/tree_head.h"

namespace ledgerctl {

namespace {

int KeyHistory(const Args& a, const std::string& origin) {
  int code = 0;
  auto ledger = OpenLedger(a, &code);
  if (!ledger) return code;
  // One line per key: the size it signs from, then its verifier key.
  for (const ledger::SigningKeyPeriod& k : ledger->KeyHistory()) {
    std::printf("%llu %s\n", static_cast<unsigned long long>(k.from_size),
                ledger::note::VerifierKey(origin, k.public_key).c_str());
  }
  return 0;
}

int Rotate(const Args& a, const std::string& origin) {
  if (!a.Has("signing-key")) return Usage("key rotate needs --signing-key NEW_KEY.pem");
  if (!ledger::Ledger::Exists(a.flags.at("data"))) {
    std::fprintf(stderr, "ledgerctl: %s holds no ledger\n", a.flags.at("data").c_str());
    return 2;
  }
  ledger::Result<std::string> before = ledger::Ledger::ReadPublicKey(a.flags.at("data"));
  ledger::LedgerOptions options;
  options.signing_key_file = a.flags.at("signing-key");
  options.adopt_signing_key = true;
  options.origin = origin;
  auto opened = ledger::Ledger::Open(a.flags.at("data"), options);
  if (!opened.ok()) {
    std::fprintf(stderr, "ledgerctl: cannot rotate the key of %s: %s\n", a.flags.at("data").c_str(),
                 opened.status().message().c_str());
    return 3;
  }
  const ledger::SigningKeyPeriod& now = (*opened)->KeyHistory().back();
  if (before.ok() && *before == now.public_key) {
    std::printf("%s already signs since size %llu: %s\n", options.signing_key_file.c_str(),
                static_cast<unsigned long long>(now.from_size), (*opened)->VerifierKey().c_str());
    return 0;
  }
  std::printf("from size %llu the ledger signs with %s\n  new vkey %s\n  old vkey %s\n",
              static_cast<unsigned long long>(now.from_size), options.signing_key_file.c_str(),
              (*opened)->VerifierKey().c_str(),
              before.ok() ? ledger::note::VerifierKey(origin, *before).c_str() : "(unknown)");
  std::printf(
      "start ledgerd with --signing-key %s; checkpoints signed before stay verifiable "
      "with the old vkey\n",
      options.signing_key_file.c_str());
  return 0;
}

int NewKey(const Args& a, const std::string& origin) {
  if (!a.Has("out") || a.Has("data")) return Usage("key new needs --out FILE (and no --data)");
  const std::string& path = a.flags.at("out");
  if (std::filesystem::exists(path)) {
    std::fprintf(stderr, "ledgerctl: %s exists: a key is never overwritten\n", path.c_str());
    return 2;
  }
  auto signer = ledger::Signer::LoadOrCreate(path);
  if (!signer.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", signer.status().message().c_str());
    return 3;
  }
  std::printf("%s\n", ledger::note::VerifierKey(origin, (*signer)->public_key()).c_str());
  return 0;
}

}  // namespace

int Key(const Args& a) {
  const std::string origin =
      a.Has("origin") ? a.flags.at("origin") : std::string(ledger::note::kDefaultOrigin);
  if (!ledger::note::ValidOrigin(origin)) {
    return Usage("--origin may hold no spaces, '+' or control characters");
  }
  const std::string what = a.positional.empty() ? "" : a.positional.front();
  if (a.positional.size() > 1 ||
      (what != "" && what != "history" && what != "rotate" && what != "new")) {
    return Usage("key takes no argument, new, history or rotate");
  }
  if (what == "new") return NewKey(a, origin);
  if (!a.Has("data")) return Usage("--data DIR is required");
  if (a.Has("out")) return Usage("--out is an option of key new");
  if (what != "rotate" && a.Has("signing-key")) {
    return Usage("--signing-key is an option of key rotate");
  }
  if (what == "history") return KeyHistory(a, origin);
  if (what == "rotate") return Rotate(a, origin);
  ledger::Result<std::string> public_key = ledger::Ledger::ReadPublicKey(a.flags.at("data"));
  if (!public_key.ok()) {
    std::fprintf(stderr, "ledgerctl: %s\n", public_key.status().message().c_str());
    return 2;
  }
  std::printf("%s\n", ledger::note::VerifierKey(origin, *public_key).c_str());
  return 0;
}

}  // namespace ledgerctl
