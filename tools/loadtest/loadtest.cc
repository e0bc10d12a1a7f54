// loadtest: can one hostile client lock others out of ledgerd, or blow up
// its memory? A bounded load test over loopback only.
//
//   loadtest --ledgerd PATH --ledgerctl PATH [--work DIR] [--referrals 3000]
//            [--slowloris 1500] [--subscribers 1000] [--feed-readers 100]
//            [--slowloris-addresses 50] [--hold 40] [--probe-interval-ms 50]
//            [--extra-flags "..."]
//
// 1. Generates a synthetic ledger in WORK/data (`ledgerctl generate`, once:
//    reused when WORK/data.generated says it holds the same --referrals)
//    and a tokens file with a regulator, an auditor and a probe regulator.
// 2. Starts ledgerd on port 0 (`--log-level warn`, then --extra-flags) and
//    learns its address from /proc (the "listening" log line is at info).
// 3. Baseline: a view and the feed read once (the caches warmed), then the
//    probe for 5 s, and ledgerd's RSS.
// 4. Attack, all at once: slowloris sockets that never finish their header,
//    SSE subscribers and feed readers that never read, each kind from its
//    own loopback range (127.1/127.2/127.3.X.Y) spread over many addresses,
//    held for --hold s while the probe runs and the RSS is sampled.
// 5. Release: every attack socket is closed; 10 s later the RSS is read
//    again, and the probe runs another 5 s.
// 6. Prints a Markdown table and PASS or FAIL. PASS: during the hold the
//    probe's p99 is under 100 ms with no failure, and 10 s after release
//    the RSS is at most 1.2 times the baseline.
// Exit 0 PASS, 1 FAIL, 2 setup error. Every address used is in
// 127.0.0.0/8; every loop is bounded in count and time.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "attack.h"
#include "common.h"
#include "flags.h"
#include "probe.h"

namespace loadtest {
namespace {

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string hex;
  char b[3];
  for (unsigned char c : digest) {
    std::snprintf(b, sizeof b, "%02x", c);
    hex += b;
  }
  return hex;
}

// A fresh random token: "loadtest-" and 32 hex digits.
std::string NewToken() {
  std::random_device rd;
  std::string t = "loadtest-";
  for (int i = 0; i < 4; ++i) {
    char b[9];
    std::snprintf(b, sizeof b, "%08x", rd());
    t += b;
  }
  return t;
}

// Runs argv with stdout and stderr appended to `log`; the child is killed if
// this process dies. Returns its pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_DFL);  // this process ignores it; the child gets the default
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) _exit(127);
  dup2(fd, 1);
  dup2(fd, 2);
  execv(args[0], args.data());
  _exit(127);
}

// ledgerd's resident set in MiB (VmRSS), or -1 when it cannot be read.
double RssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

// The IPv4 address and port a process listens on, from /proc/PID/fd (its
// socket inodes) and /proc/net/tcp (LISTEN rows, state 0A).
std::optional<tcp::endpoint> Listening(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const std::string target = fs::read_symlink(e.path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
    row >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (state != "0A" || !inodes.count(inode) || local.size() != 13) continue;
    const uint32_t raw = static_cast<uint32_t>(std::stoul(local.substr(0, 8), nullptr, 16));
    const auto port = static_cast<uint16_t>(std::stoul(local.substr(9), nullptr, 16));
    // /proc prints the stored (network order) word as a host integer.
    auto addr = net::ip::make_address_v4(ntohl(raw));
    if (addr.is_unspecified()) addr = net::ip::address_v4::loopback();
    return tcp::endpoint(addr, port);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------

int Usage(const std::string& why) {
  std::fprintf(
      stderr,
      "loadtest: %s\nusage: loadtest --ledgerd PATH --ledgerctl PATH [--work DIR] "
      "[--referrals N] [--slowloris N] [--subscribers N] [--feed-readers N] "
      "[--slowloris-addresses N] [--hold S] [--probe-interval-ms MS] [--extra-flags \"...\"]\n",
      why.c_str());
  return 2;
}

// A running ledgerd: stopped with SIGTERM (SIGKILL after 10 s) when it goes.
struct Ledgerd {
  pid_t pid = -1;  // -1 once reaped
  bool Alive() {
    if (pid > 0 && waitpid(pid, nullptr, WNOHANG) != 0) pid = -1;
    return pid > 0;
  }
  ~Ledgerd() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (Clock::now() < deadline) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          std::fprintf(stderr, "loadtest: ledgerd did not exit cleanly on SIGTERM (status %d)\n",
                       status);
        }
        return;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    std::fprintf(stderr, "loadtest: ledgerd did not stop within 10 s of SIGTERM: SIGKILL\n");
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

struct Row {
  std::string phase;
  ProbeStats probe;
  std::string rss;
};

int Run(const Options& o) {
  // Sockets: the attack's, the probe's and some slack.
  const rlim_t need = static_cast<rlim_t>(o.slowloris + o.subscribers + o.feed_readers) + 256;
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < need) {
    throw SetupError{"RLIMIT_NOFILE hard limit is " + std::to_string(lim.rlim_max) + ", " +
                     std::to_string(need) + " descriptors are needed"};
  }

  // 1. The ledger (once) and the tokens.
  const std::string data = o.work + "/data", marker = o.work + "/data.generated";
  std::string generated;
  std::ifstream(marker) >> generated;
  if (generated != std::to_string(o.referrals)) {
    if (fs::exists(data) && !fs::exists(marker))
      throw SetupError{data + " exists and was not made by loadtest"};
    fs::remove_all(data);
    fs::remove(marker);
    std::printf("generating a ledger of %d referrals in %s\n", o.referrals, data.c_str());
    std::fflush(stdout);
    const pid_t gen =
        Spawn({o.ledgerctl, "generate", "--data", data, "--referrals", std::to_string(o.referrals)},
              o.work + "/generate.log");
    int status = 0;
    if (gen < 0 || waitpid(gen, &status, 0) != gen || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      throw SetupError{"ledgerctl generate failed (see " + o.work + "/generate.log)"};
    }
    std::ofstream(marker) << o.referrals;
  }
  const std::string regulator = NewToken(), auditor = NewToken(), prober = NewToken();
  const std::string tokens = o.work + "/tokens.json";
  std::ofstream(tokens)
      << R"({"tokens":[{"name":"loadtest-regulator","role":"regulator","sha256":")"
      << Sha256Hex(regulator) << R"("},{"name":"loadtest-auditor","role":"auditor","sha256":")"
      << Sha256Hex(auditor) << R"("},{"name":"loadtest-probe","role":"regulator","sha256":")"
      << Sha256Hex(prober) << "\"}]}\n";

  // 2. ledgerd, on any free port; its address is read from /proc.
  std::vector<std::string> argv = {o.ledgerd, "--data", data,          "--tokens", tokens,
                                   "--port",  "0",      "--log-level", "warn"};
  argv.insert(argv.end(), o.extra_flags.begin(), o.extra_flags.end());
  const std::string log = o.work + "/ledgerd.log";
  Ledgerd server;
  server.pid = Spawn(argv, log);
  if (server.pid < 0) throw SetupError{"cannot fork ledgerd"};
  std::optional<tcp::endpoint> ep;
  for (auto end = Clock::now() + std::chrono::seconds(60); !ep && Clock::now() < end;) {
    if (!server.Alive()) throw SetupError{"ledgerd exited at start (see " + log + ")"};
    if (!(ep = Listening(server.pid))) std::this_thread::sleep_for(milliseconds(50));
  }
  if (!ep) throw SetupError{"ledgerd did not listen within 60 s (see " + log + ")"};
  if (ep->address().to_v4().to_bytes()[0] != 127) {
    throw SetupError{"ledgerd listens on " + ep->address().to_string() +
                     ", not a loopback address"};
  }

  // 3. Baseline.
  bool healthy = false;
  for (auto end = Clock::now() + std::chrono::seconds(60); !healthy && Clock::now() < end;) {
    healthy = Get(*ep, "/healthz", prober).status == 200;
    if (!healthy) std::this_thread::sleep_for(milliseconds(100));
  }
  if (!healthy) throw SetupError{"ledgerd's /healthz did not answer 200 within 60 s"};
  const std::string area = "E08000025";
  Reply areas = Get(*ep, "/v1/areas", prober, 10000);
  if (areas.status != 200)
    throw SetupError{"GET /v1/areas answered " + std::to_string(areas.status)};
  const std::string view = areas.body.find('"' + area + '"') != std::string::npos
                               ? "/v1/areas/" + area + "/fairness"
                               : "/v1/fairness";
  const Reply warm = Get(*ep, view, prober, 10000);  // computes and caches the view once
  if (warm.status != 200)
    throw SetupError{"GET " + view + " answered " + std::to_string(warm.status)};
  // The feed the readers will ask for, read once whole as an auditor would:
  // RocksDB's block cache (bounded, 64 MiB) then holds those events before
  // the baseline, so that the comparison after release counts what the
  // connections held, not a cache warmed by serving them.
  const Reply feed = Get(*ep, "/v1/events?after=0&limit=10000", prober, 10000);
  if (feed.status != 200)
    throw SetupError{"GET /v1/events answered " + std::to_string(feed.status)};
  const std::vector<std::string> targets = {view, "/healthz"};
  const milliseconds interval(o.probe_interval_ms);
  std::printf("ledgerd %d at %s:%u; probe: %s and /healthz every %d ms\n", server.pid,
              ep->address().to_string().c_str(), ep->port(), view.c_str(), o.probe_interval_ms);
  std::fflush(stdout);

  std::vector<Row> rows;
  const double base_rss = RssMb(server.pid);
  rows.push_back({"baseline", Probe(*ep, prober, targets, interval, std::chrono::seconds(5)), ""});
  char text[64];
  std::snprintf(text, sizeof text, "%.1f", base_rss);
  rows.back().rss = text;

  // 4. The attack, then the probe held alongside it; RSS every 500 ms.
  double peak = base_rss;
  auto sample = [&] { peak = std::max(peak, RssMb(server.pid)); };
  Attack attack(o, *ep, regulator, auditor);
  const auto open_start = Clock::now();
  attack.Start();
  for (auto end = open_start + std::chrono::seconds(30);
       attack.Settled() < attack.Total() && Clock::now() < end;) {
    std::this_thread::sleep_for(milliseconds(100));
    sample();
  }
  std::printf("attack: %d of %d sockets settled in %.1f s; holding %d s\n", attack.Settled(),
              attack.Total(), Ms(Clock::now() - open_start) / 1000, o.hold_s);
  std::fflush(stdout);
  ProbeStats hold;
  std::thread probe(
      [&] { hold = Probe(*ep, prober, targets, interval, std::chrono::seconds(o.hold_s)); });
  for (auto end = Clock::now() + std::chrono::seconds(o.hold_s); Clock::now() < end;) {
    sample();
    std::this_thread::sleep_for(milliseconds(500));
  }
  probe.join();
  sample();
  const bool survived = server.Alive();
  std::vector<KindStats> outcome = attack.Release();

  // 5. Release: 10 s, then the probe again.
  double after_rss = -1;
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(milliseconds(500));
    after_rss = RssMb(server.pid);
  }
  std::snprintf(text, sizeof text, "%.1f (peak)", peak);
  rows.push_back({"hold", std::move(hold), text});
  rows.push_back(
      {"after release", Probe(*ep, prober, targets, interval, std::chrono::seconds(5)), ""});
  std::snprintf(text, sizeof text, "%.1f (10 s after)", after_rss);
  rows.back().rss = text;
  const double ratio = after_rss / base_rss;

  // 6. The report.
  std::printf(
      "\n| phase | probe requests | failures | p50 ms | p99 ms | max ms | RSS MB |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %zu | %d | %.1f | %.1f | %.1f | %s |\n", r.phase.c_str(), r.probe.ms.size(),
                r.probe.failures, r.probe.Pct(0.5), r.probe.Pct(0.99), r.probe.Pct(1.0),
                r.rss.c_str());
  }
  std::printf(
      "\nRSS: baseline %.1f MB, peak %.1f MB during the attack, %.1f MB 10 s after release "
      "(%.2fx baseline)\n",
      base_rss, peak, after_rss, ratio);
  std::printf(
      "\n| attack socket | sockets | connected | connect failed | status line | statuses | "
      "closed by server | open at release |\n|---|---:|---:|---:|---:|---|---:|---:|\n");
  for (int k = 0; k < kKinds; ++k) {
    const KindStats& s = outcome[k];
    std::string statuses;
    for (const auto& [code, n] : s.statuses)
      statuses += (statuses.empty() ? "" : ", ") + std::to_string(code) + ": " + std::to_string(n);
    std::printf("| %s | %d | %d | %d | %d | %s | %d | %d |\n", kKindName[k], s.sockets, s.connected,
                s.connect_failed, s.status_line, statuses.empty() ? "-" : statuses.c_str(),
                s.closed, s.open_at_release);
  }
  for (const Row& r : rows) {
    for (const auto& [why, n] : r.probe.reasons)
      std::printf("probe failure (%s): %s x%d\n", r.phase.c_str(), why.c_str(), n);
    // The slowest requests, and when in the phase they began.
    std::vector<size_t> order(r.probe.ms.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return r.probe.ms[a] > r.probe.ms[b]; });
    std::string slowest;
    for (size_t k = 0; k < std::min<size_t>(3, order.size()); ++k) {
      char one[64];
      std::snprintf(one, sizeof one, "%s%.0f ms at +%.1f s", k ? ", " : "", r.probe.ms[order[k]],
                    r.probe.at_s[order[k]]);
      slowest += one;
    }
    std::printf("slowest probe requests (%s): %s\n", r.phase.c_str(), slowest.c_str());
  }

  std::vector<std::string> reasons;
  const ProbeStats& h = rows[1].probe;
  if (!survived) reasons.push_back("ledgerd exited during the attack");
  if (h.failures)
    reasons.push_back(std::to_string(h.failures) + " of " + std::to_string(h.ms.size()) +
                      " probe requests failed during the hold");
  if (h.Pct(0.99) >= 100) {
    std::snprintf(text, sizeof text, "%.1f", h.Pct(0.99));
    reasons.push_back(std::string("probe p99 during the hold was ") + text + " ms (limit 100)");
  }
  if (!(after_rss > 0) || ratio > 1.2) {
    std::snprintf(text, sizeof text, "%.2f", ratio);
    reasons.push_back(std::string("RSS 10 s after release was ") + text +
                      "x the baseline (limit 1.20)");
  }
  std::printf("\n");
  if (reasons.empty()) {
    std::printf("PASS\n");
    return 0;
  }
  std::string line = "FAIL:";
  for (size_t i = 0; i < reasons.size(); ++i) line += (i ? "; " : " ") + reasons[i];
  std::printf("%s\n", line.c_str());
  return 1;
}

}  // namespace
}  // namespace loadtest

int main(int argc, char** argv) {
  using namespace loadtest;  // NOLINT: the tool's own names
  Options o;
  const tool_flags::CommandLine line = tool_flags::Parse(argc, argv);
  if (line.help) return Usage("can one hostile client lock others out of ledgerd?");
  if (!line.error.empty()) return Usage(line.error);
  for (const auto& [arg, value] : line.flags) {
    auto number = [&](int* out, int lo, int hi) {
      const std::optional<int> v = tool_flags::WholeNumber(value, lo, hi);
      if (v) *out = *v;
      return v.has_value();
    };
    bool ok = true;
    if (arg == "--ledgerd")
      o.ledgerd = value;
    else if (arg == "--ledgerctl")
      o.ledgerctl = value;
    else if (arg == "--work")
      o.work = value;
    else if (arg == "--referrals")
      ok = number(&o.referrals, 1, 1000000);
    else if (arg == "--slowloris")
      ok = number(&o.slowloris, 0, 20000);
    else if (arg == "--subscribers")
      ok = number(&o.subscribers, 0, 20000);
    else if (arg == "--feed-readers")
      ok = number(&o.feed_readers, 0, 20000);
    else if (arg == "--slowloris-addresses")
      ok = number(&o.addresses, 1, 60000);
    else if (arg == "--hold")
      ok = number(&o.hold_s, 1, 3600);
    else if (arg == "--probe-interval-ms")
      ok = number(&o.probe_interval_ms, 1, 60000);
    else if (arg == "--extra-flags") {
      std::istringstream words(value);
      for (std::string w; words >> w;) o.extra_flags.push_back(w);
    } else
      return Usage("unknown option " + arg);
    if (!ok) return Usage("bad value for " + arg + ": " + value);
  }
  if (o.ledgerd.empty() || o.ledgerctl.empty())
    return Usage("--ledgerd and --ledgerctl are required");
  for (const std::string& p : {o.ledgerd, o.ledgerctl}) {
    if (access(p.c_str(), X_OK) != 0) return Usage(p + " is not an executable");
  }
  const bool temporary = o.work.empty();
  if (temporary) {
    char tmpl[] = "/tmp/loadtest-XXXXXX";
    if (!mkdtemp(tmpl)) return Usage("cannot make a work directory in /tmp");
    o.work = tmpl;
  } else {
    std::error_code ec;
    fs::create_directories(o.work, ec);
    if (ec) return Usage("cannot make " + o.work + ": " + ec.message());
  }
  o.work = fs::absolute(o.work).string();
  signal(SIGPIPE, SIG_IGN);
  int code = 2;
  try {
    code = Run(o);
  } catch (const SetupError& e) {
    std::fprintf(stderr, "loadtest: setup error: %s\n", e.what.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loadtest: setup error: %s\n", e.what());
  }
  if (code == 2) {  // the server's last words, before the directory goes
    std::ifstream in(o.work + "/ledgerd.log");
    std::string line;
    for (int n = 0; std::getline(in, line) && n < 20; ++n)
      std::fprintf(stderr, "  ledgerd: %s\n", line.c_str());
  }
  if (temporary) {
    std::error_code ec;
    fs::remove_all(o.work, ec);
  }
  return code;
}
