// ledgerd: the rehab access ledger's HTTP service.
//
//   ledgerd --data DIR --tokens FILE [--address 127.0.0.1] [--port 8080]
//           [--threads 2] [--log-level info] [--min-free-mb 256] [--config FILE]
//           [--origin ORIGIN] [--witness NAME,URL,VKEY ...] [--witness-quorum K]
//           [--checkpoint-interval-ms 1000] [--tls-cert FILE --tls-key FILE]
//           [limits: see kLimits below and docs/API.md, "Limits"]
//
// --witness (repeatable; in the config file, "witness": [...]) names a
// witness (SPEC §9); /log/checkpoint then serves only checkpoints that
// --witness-quorum of them (default: all) cosigned.
//
// SIGHUP reads the tokens file again (a bad one is refused with a log line
// and the credentials in use kept).
//
// --tls-cert/--tls-key: every connection is TLS 1.2 or 1.3; SIGHUP reads
// the files again (new connections take them; a bad pair is refused with a
// log line and the loaded one kept). Without TLS, ledgerd listens on a
// loopback address only: health data does not cross a network in clear.
//
// --min-free-mb: appends answer 503 while the data directory's filesystem
// has less free space than this, and resume when space returns.
//
// A config file is JSON with the same keys ({"data": ..., "port": ...});
// flags given on the command line win. Stops gracefully on SIGTERM/SIGINT.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "api/server.h"
#include "api/service.h"
#include "api/witnesses.h"
#include "ledger/ledger.h"
#include "projections/projector.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "ledgerd: %s\n", message.c_str());
  return 2;
}

// A whole number in [lo, hi], or nullopt.
std::optional<long> Bounded(const std::string& text, long lo, long hi) {
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const long v = std::stol(text);
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

// A numeric option with its bounds and where it goes.
struct Limit {
  const char* flag;
  long lo, hi;
  std::function<void(long)> set;
};

}  // namespace

int main(int argc, char** argv) {
  // What the ledger writes is its owner's alone (files 0600, directories
  // 0700), RocksDB's files included.
  umask(077);
  // Every connection is a descriptor: take what the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  api::ServerOptions options;
  api::ServiceOptions service_options;
  using std::chrono::seconds;
  const std::vector<Limit> kLimits = {
      {"max-connections", 1, 1 << 20, [&](long v) { options.max_connections = v; }},
      {"max-connections-per-address", 1, 1 << 20,
       [&](long v) { options.max_connections_per_address = v; }},
      {"max-connections-per-credential", 1, 1 << 20,
       [&](long v) { options.max_connections_per_credential = v; }},
      {"max-subscribers", 0, 1 << 20, [&](long v) { options.max_subscribers = v; }},
      {"max-subscribers-per-credential", 0, 1 << 20,
       [&](long v) { options.max_subscribers_per_credential = v; }},
      {"health-reserve", 0, 1024, [&](long v) { options.health_reserve = v; }},
      {"send-buffer-kb", 0, 65536,
       [&](long v) { options.send_buffer = static_cast<size_t>(v) << 10; }},
      {"header-timeout", 1, 3600, [&](long v) { options.header_timeout = seconds(v); }},
      {"read-timeout", 1, 3600, [&](long v) { options.read_timeout = seconds(v); }},
      {"idle-timeout", 1, 3600, [&](long v) { options.idle_timeout = seconds(v); }},
      {"write-timeout", 1, 3600, [&](long v) { options.write_timeout = seconds(v); }},
      {"append-rate", 0, 100000000, [&](long v) { service_options.append_rate = v; }},
      {"append-burst", 1000, 100000000, [&](long v) { service_options.append_burst = v; }},
  };
  std::map<std::string, std::string> flags;
  std::vector<std::string> witness_flags;  // --witness, repeatable
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::puts(
          "ledgerd --data DIR --tokens FILE [--address ADDR] [--port N] [--threads N] "
          "[--log-level LEVEL] [--min-free-mb MB] [--origin ORIGIN] [--config FILE]\n"
          "        [--witness NAME,URL,VKEY ...] [--witness-quorum K] "
          "[--checkpoint-interval-ms MS] [--tls-cert FILE --tls-key FILE]");
      std::puts("limits (docs/API.md, \"Limits\"; 0 turns --append-rate off):");
      for (const Limit& l : kLimits) std::printf("  --%s N  (%ld-%ld)\n", l.flag, l.lo, l.hi);
      return 0;
    }
    if (!arg.starts_with("--") || i + 1 >= argc) return Fail("unexpected argument " + arg);
    if (arg == "--witness") {
      witness_flags.emplace_back(argv[++i]);
      continue;
    }
    flags[arg.substr(2)] = argv[++i];
  }
  if (flags.count("config")) {
    std::ifstream in(flags["config"]);
    std::stringstream ss;
    ss << in.rdbuf();
    boost::json::error_code ec;
    boost::json::value config = boost::json::parse(ss.str(), ec);
    if (!in || ec || !config.is_object()) return Fail("cannot read config " + flags["config"]);
    for (const auto& [key, value] : config.as_object()) {
      if (key == "witness") {
        // The command line's witnesses replace the file's.
        if (!witness_flags.empty()) continue;
        if (!value.is_array()) return Fail("config: \"witness\" is a list of NAME,URL,VKEY");
        for (const boost::json::value& w : value.as_array()) {
          if (!w.is_string()) return Fail("config: \"witness\" is a list of NAME,URL,VKEY");
          witness_flags.emplace_back(w.as_string());
        }
        continue;
      }
      if (flags.count(std::string(key))) continue;
      flags[std::string(key)] =
          value.is_string() ? std::string(value.as_string()) : boost::json::serialize(value);
    }
  }
  for (const char* known :
       {"data", "tokens", "address", "port", "threads", "log-level", "min-free-mb", "origin",
        "config", "witness-quorum", "checkpoint-interval-ms"}) {
    flags.try_emplace(known);
  }
  for (const auto& [key, value] : flags) {
    const bool limit =
        std::any_of(kLimits.begin(), kLimits.end(), [&](const Limit& l) { return key == l.flag; });
    if (!limit && key != "data" && key != "tokens" && key != "address" && key != "port" &&
        key != "threads" && key != "log-level" && key != "min-free-mb" && key != "origin" &&
        key != "config" && key != "witness-quorum" && key != "checkpoint-interval-ms" &&
        key != "tls-cert" && key != "tls-key") {
      return Fail("unknown option --" + key);
    }
  }
  for (const Limit& l : kLimits) {
    if (flags[l.flag].empty()) continue;
    std::optional<long> v = Bounded(flags[l.flag], l.lo, l.hi);
    if (!v) {
      return Fail("--" + std::string(l.flag) + " must be a whole number from " +
                  std::to_string(l.lo) + " to " + std::to_string(l.hi));
    }
    l.set(*v);
  }
  if (flags["data"].empty() || flags["tokens"].empty())
    return Fail("--data and --tokens are required");
  const std::string level = flags["log-level"].empty() ? "info" : flags["log-level"];
  if (level != "off" && spdlog::level::from_str(level) == spdlog::level::off) {
    return Fail("--log-level must be trace, debug, info, warn, error, critical or off");
  }
  spdlog::set_level(spdlog::level::from_str(level));
  std::optional<long> port = 8080, threads = 2;
  if (!flags["port"].empty() && !(port = Bounded(flags["port"], 0, 65535))) {
    return Fail("--port must be a whole number from 0 to 65535");
  }
  if (!flags["threads"].empty() && !(threads = Bounded(flags["threads"], 1, 256))) {
    return Fail("--threads must be a whole number from 1 to 256");
  }
  ledger::LedgerOptions ledger_options;
  if (!flags["min-free-mb"].empty()) {
    std::optional<long> mb = Bounded(flags["min-free-mb"], 0, 1 << 20);
    if (!mb) return Fail("--min-free-mb must be a whole number of MiB (0 turns the check off)");
    ledger_options.min_free_bytes = static_cast<uint64_t>(*mb) << 20;
  }

  if (!flags["origin"].empty()) {
    if (!ledger::note::ValidOrigin(flags["origin"])) {
      return Fail("--origin must be a schema-less URL: no spaces, '+' or control characters");
    }
    ledger_options.origin = flags["origin"];
  }

  api::WitnessOptions witness_options;
  for (const std::string& w : witness_flags) {
    auto config = api::ParseWitness(w);
    if (!config.ok()) return Fail(config.status().message());
    witness_options.witnesses.push_back(std::move(config).value());
  }
  if (!flags["witness-quorum"].empty()) {
    std::optional<long> k = Bounded(flags["witness-quorum"], 1, 1000);
    if (!k) return Fail("--witness-quorum must be a whole number from 1 to 1000");
    witness_options.quorum = static_cast<size_t>(*k);
  }
  if (!flags["checkpoint-interval-ms"].empty()) {
    std::optional<long> ms = Bounded(flags["checkpoint-interval-ms"], 10, 3600000);
    if (!ms) return Fail("--checkpoint-interval-ms must be a whole number from 10 to 3600000");
    witness_options.interval = std::chrono::milliseconds(*ms);
  }
  if (witness_options.witnesses.empty() && witness_options.quorum > 0) {
    return Fail("--witness-quorum needs --witness");
  }

  auto tokens = api::TokenStore::Load(flags["tokens"]);
  if (!tokens.ok()) return Fail(tokens.status().ToString());
  auto ledger = ledger::Ledger::Open(flags["data"], ledger_options);
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  auto projector = projections::Projector::Open(ledger->get());
  if (!projector.ok()) return Fail(projector.status().ToString());
  (*projector)->Start();

  std::unique_ptr<api::Witnesses> witnesses;
  if (!witness_options.witnesses.empty()) {
    auto opened = api::Witnesses::Open(ledger->get(), witness_options);
    if (!opened.ok()) return Fail(opened.status().message());
    witnesses = std::move(opened).value();
    witnesses->Start();
    service_options.witnesses = witnesses.get();
    spdlog::info("publishing checkpoints cosigned by {} of {} witnesses", witnesses->quorum(),
                 witness_options.witnesses.size());
  }
  api::Service service(ledger->get(), projector->get(), std::move(tokens).value(), service_options);
  if (!flags["address"].empty()) options.address = flags["address"];
  options.tls_cert = flags["tls-cert"];
  options.tls_key = flags["tls-key"];
  if (options.tls_cert.empty()) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(options.address, ec);
    if (!ec && !address.is_loopback()) {
      return Fail("plain HTTP is for loopback only: give --tls-cert and --tls-key to listen on " +
                  options.address + " (or put a TLS-terminating proxy in front, on loopback)");
    }
  }
  if (!flags["port"].empty()) options.port = static_cast<uint16_t>(*port);
  if (!flags["threads"].empty()) options.threads = static_cast<int>(*threads);

  // Signals are taken by sigwait below, not by whichever thread they hit.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  api::Server server(&service, options);
  if (auto st = server.Start(); !st.ok()) return Fail(st.ToString());
  spdlog::info("ledgerd listening on {}://{}:{} with {} events",
               options.tls_cert.empty() ? "http" : "https", options.address, server.port(),
               (*ledger)->Size());
  int sig = 0;
  while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP) {
    // The tokens file: a file that does not read whole is refused, and the
    // credentials in use stay.
    if (auto reloaded = api::TokenStore::Load(flags["tokens"]); reloaded.ok()) {
      const size_t n = reloaded->credentials().size();
      service.ReloadTokens(std::move(reloaded).value());
      spdlog::info("SIGHUP: {} credentials read again from {}", n, flags["tokens"]);
    } else {
      spdlog::error("SIGHUP: tokens file refused, the credentials in use kept: {}",
                    reloaded.status().message());
    }
    if (options.tls_cert.empty()) continue;
    if (auto st = server.ReloadTls(); st.ok()) {
      spdlog::info("SIGHUP: TLS certificate and key read again from {}", options.tls_cert);
    } else {
      spdlog::error("SIGHUP: TLS files refused, the loaded ones kept: {}", st.message());
    }
  }
  spdlog::info("ledgerd stopping (signal {})", sig);
  server.Stop();
  witnesses.reset();
  projector->reset();
  ledger->reset();  // commits what is queued and closes the database
  spdlog::info("ledgerd stopped");
  return 0;
}
