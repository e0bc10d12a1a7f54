// ledgerd: the rehab access ledger's HTTP service.
//
//   ledgerd --data DIR --tokens FILE [--address 127.0.0.1] [--port 8080]
//           [--threads 2] [--log-level info] [--min-free-mb 256] [--config FILE]
//           [--origin ORIGIN] [--signing-key FILE]
//           [--witness NAME,URL,VKEY ...] [--witness-quorum K] [--witness-ca FILE]
//           [--checkpoint-interval-ms 1000] [--tls-cert FILE --tls-key FILE]
//           [--oidc-issuer URL ... --oidc-audience AUD ... [--oidc-jwks FILE]
//            [--oidc-claims FILE] [--oidc-ca FILE] [--oidc-refresh-s 30]]
//           [limits: see kLimits below and docs/API.md, "Limits"]
//
// Standbys (docs/OPERATIONS.md, "Standbys and failover"):
//   a primary names them with --standby URL (repeatable; NAME=URL binds a
//   standby to its credential NAME, whose requests alone confirm for it) and
//   --replication sync|async (default sync) [--replication-wait-ms 2000];
//   a standby runs with --standby-of URL --token T [--advertise URL]
//   and the primary's signing key (--signing-key). --replication-ca FILE:
//   the CA of the other side's https (the primary's, or the standbys').
//   `ledgerctl promote --data DIR` (or SIGUSR1) promotes a standby: it
//   stops copying and takes appends, with the --standby, --replication and
//   --witness it was given. A primary
//   asks its standbys' /healthz at start and every 2 s whether one was
//   promoted, and then takes no appends (fenced).
//
// --control-socket: the operator's Unix socket (api/control.h), default
// DATA/ledgerd.sock; none: no socket.
//
// --signing-key: the ledger's signing key, kept outside the data directory
// (docs/OPERATIONS.md, "Key custody"); default DATA/signing-key.pem.
//
// --witness (repeatable; in the config file, "witness": [...]) names a
// witness (SPEC §9); /log/checkpoint then serves only checkpoints that
// --witness-quorum of them (default: all) cosigned.
//
// --oidc-issuer (repeatable) accepts JWTs that the issuer signed for
// --oidc-audience (repeatable) beside the tokens file (api/oidc.h).
//
// SIGHUP reads the tokens file and the OpenID Connect files again (a bad
// one is refused with a log line and the settings in use kept).
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
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "api/control.h"
#include "api/oidc.h"
#include "api/replication.h"
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
  // The flags that may be given more than once; in the config file, a list.
  std::map<std::string, std::vector<std::string>> lists = {
      {"witness", {}}, {"oidc-issuer", {}}, {"oidc-audience", {}}, {"standby", {}}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::puts(
          "ledgerd --data DIR --tokens FILE [--address ADDR] [--port N] [--threads N] "
          "[--log-level LEVEL] [--min-free-mb MB] [--origin ORIGIN] [--config FILE]\n"
          "        [--signing-key FILE]\n"
          "        [--witness NAME,URL,VKEY ...] [--witness-quorum K] [--witness-ca FILE] "
          "[--checkpoint-interval-ms MS] [--tls-cert FILE --tls-key FILE]\n"
          "        [--oidc-issuer URL ... --oidc-audience AUD ... [--oidc-jwks FILE] "
          "[--oidc-claims FILE] [--oidc-ca FILE] [--oidc-refresh-s S]]\n"
          "        [--standby [NAME=]URL ... [--replication sync|async] [--replication-wait-ms "
          "MS]]\n"
          "        [--standby-of URL --token T [--advertise URL]] [--replication-ca FILE]\n"
          "        [--control-socket PATH|none]\n"
          "SIGHUP reads the tokens, OIDC and TLS files again; `ledgerctl promote` (or SIGUSR1)\n"
          "promotes a standby.");
      std::puts("limits (docs/API.md, \"Limits\"; 0 turns --append-rate off):");
      for (const Limit& l : kLimits) std::printf("  --%s N  (%ld-%ld)\n", l.flag, l.lo, l.hi);
      return 0;
    }
    if (!arg.starts_with("--") || i + 1 >= argc) return Fail("unexpected argument " + arg);
    if (auto list = lists.find(arg.substr(2)); list != lists.end()) {
      list->second.emplace_back(argv[++i]);
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
      if (auto list = lists.find(std::string(key)); list != lists.end()) {
        // The command line's list replaces the file's.
        if (!list->second.empty()) continue;
        if (value.is_string()) {
          list->second.emplace_back(value.as_string());
          continue;
        }
        const std::string bad = "config: \"" + list->first + "\" is a string or a list of strings";
        if (!value.is_array()) return Fail(bad);
        for (const boost::json::value& w : value.as_array()) {
          if (!w.is_string()) return Fail(bad);
          list->second.emplace_back(w.as_string());
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
        key != "tls-cert" && key != "tls-key" && key != "oidc-jwks" && key != "oidc-claims" &&
        key != "oidc-ca" && key != "oidc-refresh-s" && key != "signing-key" &&
        key != "witness-ca" && key != "standby-of" && key != "token" && key != "advertise" &&
        key != "replication-ca" && key != "replication" && key != "replication-wait-ms" &&
        key != "control-socket") {
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

  ledger_options.signing_key_file = flags["signing-key"];

  api::WitnessOptions witness_options;
  for (const std::string& w : lists["witness"]) {
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
  witness_options.ca_file = flags["witness-ca"];
  if (witness_options.witnesses.empty() &&
      (witness_options.quorum > 0 || !witness_options.ca_file.empty())) {
    return Fail("--witness-quorum and --witness-ca need --witness");
  }

  api::OidcOptions oidc_options;
  oidc_options.issuers = lists["oidc-issuer"];
  oidc_options.audiences = lists["oidc-audience"];
  oidc_options.jwks_file = flags["oidc-jwks"];
  oidc_options.claims_file = flags["oidc-claims"];
  oidc_options.ca_file = flags["oidc-ca"];
  if (!flags["oidc-refresh-s"].empty()) {
    std::optional<long> s = Bounded(flags["oidc-refresh-s"], 0, 86400);
    if (!s) return Fail("--oidc-refresh-s must be a whole number of seconds from 0 to 86400");
    oidc_options.refresh_interval = std::chrono::seconds(*s);
  }
  const bool oidc = !oidc_options.issuers.empty();
  if (!oidc && (!oidc_options.audiences.empty() || !oidc_options.jwks_file.empty() ||
                !oidc_options.claims_file.empty() || !oidc_options.ca_file.empty() ||
                !flags["oidc-refresh-s"].empty())) {
    return Fail("the --oidc-... options need --oidc-issuer");
  }
  std::shared_ptr<const api::OidcVerifier> verifier;
  if (oidc) {
    auto opened = api::OidcVerifier::Open(oidc_options);
    if (!opened.ok()) return Fail(opened.status().message());
    verifier = std::move(opened).value();
    spdlog::info("accepting OpenID Connect tokens of {} issuers", oidc_options.issuers.size());
  }

  // Replication: a standby of a primary, or a primary with standbys.
  const bool standby = !flags["standby-of"].empty();
  api::ReplicationOptions replication;
  // --standby URL, or NAME=URL to bind it to its credential NAME.
  for (const std::string& standby_flag : lists["standby"]) {
    const size_t eq = standby_flag.find('=');
    const bool bound = eq != std::string::npos && standby_flag.find("://") > eq;
    const std::string url = bound ? standby_flag.substr(eq + 1) : standby_flag;
    if (url.empty() || (bound && eq == 0)) return Fail("--standby is URL or NAME=URL");
    replication.standbys.push_back(url);
    if (bound) replication.credential_of[url] = standby_flag.substr(0, eq);
  }
  if (flags["replication"] == "async") {
    replication.mode = api::ReplicationMode::kAsync;
  } else if (!flags["replication"].empty() && flags["replication"] != "sync") {
    return Fail("--replication must be sync or async");
  }
  if (!flags["replication-wait-ms"].empty()) {
    std::optional<long> ms = Bounded(flags["replication-wait-ms"], 1, 600000);
    if (!ms) return Fail("--replication-wait-ms must be a whole number from 1 to 600000");
    replication.sync_wait = std::chrono::milliseconds(*ms);
  }
  replication.ca_file = flags["replication-ca"];
  if (!standby && (!flags["token"].empty() || !flags["advertise"].empty())) {
    return Fail("--token and --advertise are a standby's: give --standby-of");
  }
  if (replication.standbys.empty() &&
      (!flags["replication"].empty() || !flags["replication-wait-ms"].empty())) {
    return Fail("--replication and --replication-wait-ms need --standby");
  }

  auto tokens = api::TokenStore::Load(flags["tokens"]);
  if (!tokens.ok()) return Fail(tokens.status().ToString());
  auto ledger = ledger::Ledger::Open(flags["data"], ledger_options);
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  auto projector = projections::Projector::Open(ledger->get());
  if (!projector.ok()) return Fail(projector.status().ToString());
  (*projector)->Start();

  // A primary always answers standbys' long polls; the hub also holds back
  // what the named standbys have not confirmed.
  // (A standby's hub is used once it is promoted.)
  auto hub = std::make_unique<api::ReplicationHub>(ledger->get(), replication);
  if (!replication.standbys.empty()) {
    witness_options.size_limit = [h = hub.get()] { return h->ReplicatedSize(); };
  }
  std::unique_ptr<api::Standby> copier;
  if (standby) {
    api::StandbyOptions o;
    o.primary = flags["standby-of"];
    o.token = flags["token"];
    o.advertise = flags["advertise"];
    o.ca_file = flags["replication-ca"];
    o.own_term = hub->term();
    auto opened = api::Standby::Open(ledger->get(), o);
    if (!opened.ok()) return Fail(opened.status().message());
    copier = std::move(opened).value();
    service_options.standby = copier.get();
  } else {
    service_options.replication = hub.get();
    if (!replication.standbys.empty()) {
      // A standby promoted while this ledger was down: no appends here.
      hub->ProbeStandbys();
      spdlog::info("replication {} to {} standbys",
                   replication.mode == api::ReplicationMode::kSync ? "sync" : "async",
                   replication.standbys.size());
    }
  }
  std::unique_ptr<api::Witnesses> witnesses;
  if (!witness_options.witnesses.empty()) {
    auto opened = api::Witnesses::Open(ledger->get(), witness_options);
    if (!opened.ok()) return Fail(opened.status().message());
    witnesses = std::move(opened).value();
    if (!standby) witnesses->Start();  // a standby's, once it is promoted
    service_options.witnesses = witnesses.get();
    spdlog::info("publishing checkpoints cosigned by {} of {} witnesses", witnesses->quorum(),
                 witness_options.witnesses.size());
  }
  api::Service service(ledger->get(), projector->get(), std::move(tokens).value(), service_options);
  service.ReloadOidc(verifier);
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
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Promotion (SIGUSR1 or `ledgerctl promote`): what was copied is the log
  // from here on, signed with the same key; nothing more is copied. Its
  // answer is the control socket's JSON line.
  std::mutex promote_mu;
  bool promoted = false;
  auto promote = [&]() -> std::string {
    std::lock_guard lock(promote_mu);
    if (!copier || promoted) {
      return boost::json::serialize(boost::json::object{
          {"error", "this ledger is a primary already"}, {"term", hub->term()}});
    }
    copier->Stop();
    const api::StandbyState copied = copier->State();
    if (auto st = hub->Promote(copied.primary_term); !st.ok()) {
      // The promotion stands (the copier is stopped); a restart would not
      // know the new term, so say so loudly.
      spdlog::critical("promotion: cannot keep the new term: {}", st.ToString());
    }
    service.Promote(hub.get());
    if (witnesses) witnesses->Start();
    promoted = true;
    spdlog::warn(
        "promoted: this ledger is the primary, term {}, from size {} on (it was a standby of "
        "{}); remove standby-of from its config before it restarts",
        hub->term(), (*ledger)->Size(), copier->options().primary);
    boost::json::object o{{"promoted", true},
                          {"term", hub->term()},
                          {"size", (*ledger)->Size()},
                          {"was_standby_of", copier->options().primary},
                          {"primary_size_last_seen", copied.primary_size}};
    if (copied.stopped) o["warning"] = "it had stopped copying: " + copied.error;
    return boost::json::serialize(o);
  };
  // (Copying starts before the control socket opens: a promotion stops
  // a copier that has started.)
  if (copier) copier->Start();
  std::unique_ptr<api::ControlSocket> control;
  if (flags["control-socket"] != "none") {
    const std::string path =
        flags["control-socket"].empty() ? flags["data"] + "/ledgerd.sock" : flags["control-socket"];
    auto opened = api::ControlSocket::Open(path, [&](std::string_view command) -> std::string {
      if (command == "promote") return promote();
      if (command == "status") {
        boost::json::object o = service.Health().second;
        o["term"] = hub->term();
        return boost::json::serialize(o);
      }
      return R"({"error":"unknown command: the commands are status and promote"})";
    });
    if (!opened.ok()) return Fail(opened.status().message());
    control = std::move(opened).value();
  }

  api::Server server(&service, options);
  if (auto st = server.Start(); !st.ok()) return Fail(st.ToString());
  spdlog::info("ledgerd listening on {}://{}:{} with {} events",
               options.tls_cert.empty() ? "http" : "https", options.address, server.port(),
               (*ledger)->Size());
  int sig = 0;
  while (sigwait(&stop_signals, &sig) == 0 && (sig == SIGHUP || sig == SIGUSR1)) {
    if (sig == SIGUSR1) {
      const std::string answer = promote();
      if (answer.find("\"error\"") != std::string::npos) spdlog::warn("SIGUSR1: {}", answer);
      continue;
    }
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
    if (oidc) {
      if (auto reloaded = api::OidcVerifier::Open(oidc_options, service.Oidc().get());
          reloaded.ok()) {
        service.ReloadOidc(std::move(reloaded).value());
        spdlog::info("SIGHUP: OpenID Connect settings read again");
      } else {
        spdlog::error("SIGHUP: OpenID Connect settings refused, the ones in use kept: {}",
                      reloaded.status().message());
      }
    }
    if (options.tls_cert.empty()) continue;
    if (auto st = server.ReloadTls(); st.ok()) {
      spdlog::info("SIGHUP: TLS certificate and key read again from {}", options.tls_cert);
    } else {
      spdlog::error("SIGHUP: TLS files refused, the loaded ones kept: {}", st.message());
    }
  }
  spdlog::info("ledgerd stopping (signal {})", sig);
  control.reset();
  server.Stop();
  if (copier) copier->Stop();
  witnesses.reset();
  hub.reset();
  projector->reset();
  ledger->reset();  // commits what is queued and closes the database
  spdlog::info("ledgerd stopped");
  return 0;
}
