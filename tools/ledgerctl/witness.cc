// ledgerctl witness: the witness server of SPEC §9 (tools/witness), and its
// read-only questions: the cosigner key it publishes and the evidence of the
// forks it refused.
#include "witness.h"

#include <signal.h>

#include <atomic>
#include <cstdio>

#include "commands.h"

namespace ledgerctl {

namespace {

std::atomic<bool> stopping{false};
void OnSignal(int) { stopping = true; }

int Failed(const ledger::Status& st) {
  std::fprintf(stderr, "ledgerctl witness: %s\n", st.message().c_str());
  return st.code() == ledger::Code::kInvalidArgument || st.code() == ledger::Code::kNotFound ? 2
                                                                                             : 3;
}

int Serve(const Args& a) {
  if (!a.Has("listen") || !a.Has("log")) {
    return Usage("ledgerctl witness --data DIR --listen HOST:PORT --log VKEY [--log VKEY...]");
  }
  const std::string& listen = a.flags.at("listen");
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || !IsWholeNumber(listen.substr(colon + 1)) ||
      listen.size() - colon - 1 > 5 || std::stoul(listen.substr(colon + 1)) > 65535) {
    return Usage("--listen is HOST:PORT (port 0: any free one)");
  }
  witness::Options options;
  options.dir = a.flags.at("data");
  options.name = a.Has("name") ? a.flags.at("name") : "localhost/witness";
  options.log_keys = a.values.at("log");
  auto w = witness::Witness::Open(options);
  if (!w.ok()) return Failed(w.status());
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  const std::string host = listen.substr(0, colon);
  ledger::Status st = witness::Serve(
      w->get(), host, static_cast<uint16_t>(std::stoul(listen.substr(colon + 1))),
      [] { return stopping.load(); },
      [&](uint16_t port) {
        // What an operator gives the log (ledgerd --witness NAME,URL,VKEY).
        std::printf("witness %s\ncosigner key: %s\nlistening on http://%s:%u/add-checkpoint\n",
                    options.name.c_str(), (*w)->VerifierKey().c_str(), host.c_str(), port);
        std::fflush(stdout);
      });
  if (!st.ok()) return Failed(st);
  return 0;
}

}  // namespace

int Witness(const Args& a) {
  if (!a.Has("data")) return Usage("--data DIR is required");
  const std::string what = a.positional.empty() ? "" : a.positional.front();
  if (what.empty()) return Serve(a);
  if (a.positional.size() > 1 || a.Has("listen") || a.Has("log") || a.Has("name")) {
    return Usage("ledgerctl witness key|evidence --data DIR");
  }
  if (what == "key") {
    auto vkey = witness::Witness::ReadVerifierKey(a.flags.at("data"));
    if (!vkey.ok()) return Failed(vkey.status());
    std::printf("%s\n", vkey->c_str());
    return 0;
  }
  if (what == "evidence") {
    auto evidence = witness::Witness::ReadEvidence(a.flags.at("data"));
    if (!evidence.ok()) return Failed(evidence.status());
    for (const witness::Evidence& e : *evidence) std::printf("%s\n", EvidenceJson(e).c_str());
    if (evidence->empty())
      std::fprintf(stderr, "no evidence: no inconsistent checkpoint refused\n");
    return 0;
  }
  return Usage("unknown witness question " + what + " (key or evidence)");
}

}  // namespace ledgerctl
