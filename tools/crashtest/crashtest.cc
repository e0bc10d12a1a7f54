// crashtest: kills ledgerd with SIGKILL under load and checks what survives.
//
//   crashtest --ledgerd PATH [--trials 10] [--appenders 64] [--seed 1]
//             [--work DIR] [--kill-after-ms 100-1500] [--failover yes]
//
// Each trial starts ledgerd on a fresh data directory and drives it with
// `--appenders` concurrent HTTP clients, each walking its own referrals
// through the state machine with single and batch appends and recording
// every acknowledged answer (seq and hash). At a random moment it kills the
// server with SIGKILL, restarts it on the same directory, waits for its
// views to catch up and reads them, stops it, and checks on the data:
//   - every acknowledged event is present with the seq and hash it was
//     acknowledged with;
//   - nothing unacknowledged is half-present: each request that got no
//     answer is in the ledger whole or not at all, and nothing is there that
//     was never sent;
//   - the ledger verifies (chain, Merkle tree, signed heads);
//   - every view, as the restarted server served it from its checkpoint and
//     as the recovered read model gives it, equals a full rebuild from the
//     log.
// With --failover yes, each trial runs a standby beside the primary (sync
// replication, the same signing key): the primary is killed under load, the
// standby promoted (SIGUSR1), and the checks above run on the promoted
// standby's data and views; the time from the kill to the first append the
// promoted standby acknowledges is reported.
// Prints a line per trial and a summary; exits 1 when any check failed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "flags.h"
#include "http_client.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "projections/projector.h"
#include "wire/event_json.h"
#include "wire/view_json.h"

namespace {

namespace json = boost::json;

constexpr const char* kWriterToken = "crash-writer";
constexpr const char* kReaderToken = "crash-reader";
constexpr const char* kArea = "E08000025";
// The views compared, each over a period covering every event sent.
const std::vector<std::string> kViews = {"/v1/fairness?from=2024-01-01&to=2026-01-01",
                                         "/v1/waiting-times?from=2024-01-01&to=2026-01-01",
                                         "/v1/refusals?from=2024-01-01&to=2026-01-01"};

struct Options {
  std::string ledgerd;
  std::string work;
  int trials = 10;
  int appenders = 64;
  uint64_t seed = 1;
  int kill_min_ms = 100, kill_max_ms = 1500;
  // TLS: ledgerd serves https with this pair, checked against `ca`.
  std::string tls_cert, tls_key, ca;
  bool failover = false;
};

// A running ledgerd: its pid and port, and the CA its https is checked
// against ("" for plain http).
struct Server {
  pid_t pid = -1;
  uint16_t port = 0;
  std::string ca;
};

// Starts ledgerd and waits (up to 30 s) for the log line naming its port.
// The log is appended to across restarts: only what this start wrote is read.
// `extra` are more arguments; with a --port among them, it listens there.
std::optional<Server> Start(const Options& o, const std::string& data, const std::string& tokens,
                            const std::string& log, const std::vector<std::string>& extra = {}) {
  std::error_code ec;
  const auto offset = std::filesystem::exists(log) ? std::filesystem::file_size(log, ec) : 0;
  const pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    if (!std::freopen(log.c_str(), "a", stdout)) _exit(127);
    std::vector<const char*> argv = {"ledgerd",  "--data",        data.c_str(),
                                     "--tokens", tokens.c_str(),  "--log-level",
                                     "info",     "--append-rate", "0"};
    if (std::find(extra.begin(), extra.end(), "--port") == extra.end()) {
      argv.insert(argv.end(), {"--port", "0"});
    }
    for (const std::string& a : extra) argv.push_back(a.c_str());
    if (!o.tls_cert.empty()) {
      argv.insert(argv.end(), {"--tls-cert", o.tls_cert.c_str(), "--tls-key", o.tls_key.c_str()});
    }
    argv.push_back(nullptr);
    execv(o.ledgerd.c_str(), const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const std::regex listening(R"(listening on https?://127\.0\.0\.1:(\d+))");
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log);
    in.seekg(static_cast<std::streamoff>(offset));
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::smatch m;
    if (std::regex_search(text, m, listening)) {
      return Server{pid, static_cast<uint16_t>(std::stoi(m[1])), o.tls_cert.empty() ? "" : o.ca};
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid) return std::nullopt;  // it exited
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return std::nullopt;
}

// One keep-alive connection to the server on loopback.
ledger::Result<std::unique_ptr<http_client::Connection>> Connect(const Server& server) {
  http_client::Endpoint to;
  to.port = std::to_string(server.port);
  to.tls = !server.ca.empty();
  to.ca_file = server.ca;
  return http_client::Connection::Open(to);
}
http_client::Request Post(const std::string& target, const std::string& body) {
  return {"POST", target, kWriterToken, body};
}
http_client::Request Get(const std::string& target) { return {"GET", target, kReaderToken}; }

// What an appender sent: each request's idempotency keys, and for the
// acknowledged ones the seq and hash of each event.
struct Sent {
  std::vector<std::string> keys;
  bool acknowledged = false;
  std::vector<std::pair<uint64_t, std::string>> results;  // seq, hash (hex)
};

// The events of one referral's pathway, in order: most are placed, some
// refused, some withdrawn.
std::vector<json::object> Pathway(const std::string& id, int kind) {
  auto at = [](int day) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "2025-%02d-%02dT10:00:00Z", 1 + day / 28, 1 + day % 28);
    return std::string(buf);
  };
  auto ev = [&](const char* type, int day, json::object data) {
    return json::object{
        {"type", type}, {"referral_id", id}, {"occurred_at", at(day)}, {"data", std::move(data)}};
  };
  std::vector<json::object> out;
  out.push_back(ev("referral.received", 0,
                   {{"person", "p-" + id},
                    {"area", kArea},
                    {"referrer", "gp"},
                    {"substance", kind % 2 ? "alcohol" : "opiate"},
                    {"age_band", "35-39"},
                    {"sex", kind % 3 ? "male" : "female"},
                    {"ethnicity", "white"},
                    {"disability", "no"}}));
  out.push_back(ev("assessment.completed", 9, {{"outcome", "suitable"}}));
  out.push_back(ev("funding.requested", 15, {{"route", "local_authority"}, {"weeks", 12}}));
  if (kind % 5 == 0) {
    out.push_back(ev("referral.refused", 40,
                     {{"stage", "funding_panel"},
                      {"reason", "insufficient_budget"},
                      {"decided_by", "panel-1"}}));
    return out;
  }
  if (kind % 7 == 0) {
    out.push_back(ev("referral.withdrawn", 30, {{"by", "person"}}));
    return out;
  }
  out.push_back(ev("funding.approved", 35, {{"panel", "panel-1"}, {"weeks", 12}}));
  out.push_back(
      ev("placement.offered", 50, {{"provider", "1-1234567890"}, {"planned_start", "2025-03-20"}}));
  out.push_back(ev("placement.started", 78, {{"provider", "1-1234567890"}}));
  out.push_back(ev("placement.ended", 160, {{"outcome", "completed"}}));
  return out;
}

// Appends until the connection fails (the server was killed). Every
// request is recorded before it is sent.
void Appender(const Server& server, int trial, int index, uint64_t seed, std::vector<Sent>* sent,
              std::atomic<uint64_t>* unexpected, std::string* first_unexpected, std::mutex* mu) {
  std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(index));
  auto connected = Connect(server);
  if (!connected.ok()) return;
  http_client::Connection& client = **connected;
  for (int referral = 0;; ++referral) {
    const std::string id =
        "t" + std::to_string(trial) + "-a" + std::to_string(index) + "-" + std::to_string(referral);
    std::vector<json::object> events = Pathway(id, static_cast<int>(rng() % 35));
    size_t next = 0;
    while (next < events.size()) {
      // One in four requests is a batch of two or three events.
      size_t n = rng() % 4 == 0 ? 2 + rng() % 2 : 1;
      n = std::min(n, events.size() - next);
      Sent s;
      json::array batch;
      for (size_t i = 0; i < n; ++i) {
        json::object e = events[next + i];
        const std::string key = id + "-" + std::to_string(next + i);
        e["idempotency_key"] = key;
        s.keys.push_back(key);
        batch.push_back(std::move(e));
      }
      sent->push_back(s);
      const ledger::Result<http_client::Reply> reply = client.Send(
          n == 1 ? Post("/v1/events", json::serialize(batch[0]))
                 : Post("/v1/events/batch", json::serialize(json::object{{"events", batch}})));
      // Killed: this request's fate is for the checks to find.
      if (!reply.ok()) return;
      if (reply->status != 201 && reply->status != 200) {
        std::lock_guard l(*mu);
        if (unexpected->fetch_add(1) == 0) {
          *first_unexpected = std::to_string(reply->status) + " " + reply->body;
        }
        return;
      }
      json::error_code ec;
      json::value v = json::parse(reply->body, ec);
      Sent& last = sent->back();
      if (!ec) {
        auto one = [&](const json::value& r) {
          last.results.emplace_back(r.at("seq").to_number<uint64_t>(),
                                    std::string(r.at("hash").as_string()));
        };
        if (n == 1)
          one(v);
        else
          for (const json::value& r : v.at("events").as_array()) one(r);
        last.acknowledged = last.results.size() == n;
      }
      next += n;
    }
  }
}

// Equal values; numbers that went through JSON text compare within a few
// units in the last place, as Boost.JSON 1.81's parser does not promise the
// correctly rounded double (the server's text is exact; its reading here
// may not be).
bool Same(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_double() && !b.is_double()) return a == b;
    const double x = a.to_number<double>(), y = b.to_number<double>();
    return x == y || std::fabs(x - y) <= 1e-14 * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const json::object &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& [k, v] : x) {
      const json::value* w = y.if_contains(k);
      if (!w || !Same(v, *w)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const json::array &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!Same(x[i], y[i])) return false;
    }
    return true;
  }
  return a == b;
}

// A view without what ties it to the log (its signed head and checkpoints,
// SPEC §5 and §9), which the rebuilt views it is compared with do not carry.
json::value WithoutProvenance(json::value v) {
  if (v.is_object()) {
    for (const char* key : {"tree_head", "checkpoint", "witnessed_checkpoint", "consistency"}) {
      v.as_object().erase(key);
    }
  }
  return v;
}

// The views of kViews from `server` once they have caught up with its head,
// without their provenance; a problem, or "" when all came.
std::string ReadViews(const Server& server, std::vector<json::value>* served) {
  auto connected = Connect(server);
  if (!connected.ok()) return "reading the restarted server: " + connected.status().ToString();
  http_client::Connection& c = **connected;
  // A whole number from a JSON answer, or nullopt.
  auto number = [](const std::string& text, const char* key) -> std::optional<uint64_t> {
    json::error_code ec;
    json::value v = json::parse(text, ec);
    const json::value* n = !ec && v.is_object() ? v.as_object().if_contains(key) : nullptr;
    if (!n || !n->is_number()) return std::nullopt;
    return n->to_number<uint64_t>(ec);
  };
  auto head = c.Send(Get("/v1/ledger/head"));
  if (!head.ok()) return "reading the restarted server: " + head.status().ToString();
  const std::optional<uint64_t> size = number(head->body, "size");
  if (!size) return "the restarted server's head has no size: " + head->body;
  for (const std::string& target : kViews) {
    for (int attempt = 0;; ++attempt) {
      auto v = c.Send(Get(target));
      if (!v.ok()) return "reading the restarted server: " + v.status().ToString();
      if (v->status == 200 && number(v->body, "as_of_seq") == size) {
        served->push_back(WithoutProvenance(json::parse(v->body)));
        break;
      }
      if (attempt > 1500) return "the restarted server's views did not catch up: " + target;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return "";
}

struct TrialResult {
  uint64_t acknowledged = 0, in_flight = 0, in_flight_present = 0;
  uint64_t lost = 0, half_present = 0, strangers = 0, verify_failures = 0, view_mismatches = 0;
  uint64_t size = 0, unexpected = 0;
  int killed_after_ms = 0;
  int failover_ms = -1;  // --failover: from the kill to the promoted standby's first 201
  std::vector<std::string> problems;
  bool Failed() const {
    return lost || half_present || strangers || verify_failures || view_mismatches || unexpected ||
           !problems.empty();
  }
};

TrialResult Trial(const Options& o, int trial, std::mt19937_64& rng) {
  TrialResult r;
  const std::string dir = o.work + "/trial-" + std::to_string(trial);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string data = dir + "/data", tokens = dir + "/tokens.json", log = dir + "/ledgerd.log";
  std::ofstream(tokens) << R"({"tokens":[{"name":"writer","role":"partnership","areas":[")" << kArea
                        << R"("],"sha256":")" << ledger::ToHex(ledger::Sha256(kWriterToken))
                        << R"("},{"name":"reader","role":"regulator","sha256":")"
                        << ledger::ToHex(ledger::Sha256(kReaderToken)) << "\"}]}";

  // --failover: a standby beside it, with the same key, named by the
  // primary (sync replication).
  const std::string key = dir + "/signing-key.pem", standby_data = dir + "/standby",
                    standby_log = dir + "/standby.log";
  const uint16_t p_port = o.failover ? http_client::FreeLoopbackPort() : 0,
                 s_port = o.failover ? http_client::FreeLoopbackPort() : 0;
  const std::string p_url = "http://127.0.0.1:" + std::to_string(p_port);
  const std::string s_url = "http://127.0.0.1:" + std::to_string(s_port);
  std::vector<std::string> primary_args;
  if (o.failover) {
    // The standby copies with the reader's credential, bound to it.
    primary_args = {"--port",    std::to_string(p_port), "--signing-key",         key,
                    "--standby", "reader=" + s_url,      "--replication-wait-ms", "10000"};
  }
  std::optional<Server> server = Start(o, data, tokens, log, primary_args);
  if (!server) {
    r.problems.push_back("ledgerd did not start (see " + log + ")");
    return r;
  }
  std::optional<Server> standby;
  if (o.failover) {
    standby = Start(o, standby_data, tokens, standby_log,
                    {"--port", std::to_string(s_port), "--signing-key", key, "--standby-of", p_url,
                     "--token", kReaderToken, "--advertise", s_url});
    if (!standby) {
      r.problems.push_back("the standby did not start (see " + standby_log + ")");
      kill(server->pid, SIGKILL);
      waitpid(server->pid, nullptr, 0);
      return r;
    }
  }
  std::vector<std::vector<Sent>> sent(static_cast<size_t>(o.appenders));
  std::atomic<uint64_t> unexpected{0};
  std::string first_unexpected;
  std::mutex mu;
  std::vector<std::thread> threads;
  const uint64_t seed = rng();
  for (int i = 0; i < o.appenders; ++i) {
    threads.emplace_back(Appender, std::cref(*server), trial, i, seed,
                         &sent[static_cast<size_t>(i)], &unexpected, &first_unexpected, &mu);
  }
  r.killed_after_ms =
      o.kill_min_ms +
      static_cast<int>(rng() % static_cast<uint64_t>(o.kill_max_ms - o.kill_min_ms + 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(r.killed_after_ms));
  kill(server->pid, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  waitpid(server->pid, nullptr, 0);
  std::string probe_key;
  if (o.failover) {
    // Promote the standby; clients switch to it: the first append it
    // acknowledges ends the failover.
    kill(standby->pid, SIGUSR1);
    probe_key = "failover-probe-" + std::to_string(trial);
    json::object probe = Pathway("failover-" + std::to_string(trial), 1).front();
    probe["idempotency_key"] = probe_key;
    const std::string body = json::serialize(probe);
    std::string last_answer;
    for (int attempt = 0; attempt < 1000; ++attempt) {
      auto c = Connect(*standby);
      if (c.ok()) {
        auto reply = (*c)->Send(Post("/v1/events", body));
        last_answer = reply.ok() ? std::to_string(reply->status) + " " + reply->body.substr(0, 200)
                                 : reply.status().ToString();
        if (reply.ok() && (reply->status == 201 || reply->status == 200)) {
          r.failover_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - killed)
                                               .count());
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (r.failover_ms < 0) {
      r.problems.push_back("the promoted standby took no append: " + last_answer);
    }
  }
  for (std::thread& t : threads) t.join();
  r.unexpected = unexpected.load();
  if (r.unexpected) r.problems.push_back("unexpected answer: " + first_unexpected);

  // Restart on the same data (or, after a failover, the promoted standby);
  // read the views once they have caught up.
  if (o.failover) {
    server = standby;
  } else {
    server = Start(o, data, tokens, log);
  }
  if (!server) {
    r.problems.push_back("ledgerd did not restart after the kill (see " + log + ")");
    return r;
  }
  std::vector<json::value> served;
  if (std::string problem = ReadViews(*server, &served); !problem.empty()) {
    r.problems.push_back(problem);
  }
  kill(server->pid, SIGTERM);
  int status = 0;
  waitpid(server->pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    r.problems.push_back("the restarted ledgerd did not stop cleanly");
  }

  // The checks, on the data itself (the promoted standby's, after a
  // failover).
  ledger::LedgerOptions open_options;
  if (o.failover) open_options.signing_key_file = key;
  auto opened = ledger::Ledger::Open(o.failover ? standby_data : data, open_options);
  if (!opened.ok()) {
    r.problems.push_back("the ledger does not open: " + opened.status().ToString());
    return r;
  }
  ledger::Ledger& l = **opened;
  r.size = l.Size();
  ledger::VerifyReport v = l.Verify();
  if (!v.ok) {
    ++r.verify_failures;
    r.problems.push_back("verify: seq " + std::to_string(v.first_bad_seq) + ": " + v.problem);
  }
  std::map<std::string, std::pair<uint64_t, std::string>> present;  // key -> seq, hash
  ledger::Status scan = l.ScanEvents(0, l.Size(), [&](const ledger::Event& e) {
    present[e.idempotency_key] = {e.seq, ledger::ToHex(e.hash)};
    return ledger::Status::Ok();
  });
  if (!scan.ok()) r.problems.push_back("scan: " + scan.ToString());
  std::set<std::string> sent_keys;
  for (const auto& per_thread : sent) {
    for (const Sent& s : per_thread) {
      sent_keys.insert(s.keys.begin(), s.keys.end());
      if (s.acknowledged) {
        r.acknowledged += s.keys.size();
        for (size_t i = 0; i < s.keys.size(); ++i) {
          auto it = present.find(s.keys[i]);
          if (it == present.end() || it->second != s.results[i]) {
            if (++r.lost == 1)
              r.problems.push_back("acknowledged event " + s.keys[i] + " lost or changed");
          }
        }
        continue;
      }
      ++r.in_flight;
      size_t here = 0;
      for (const std::string& k : s.keys) here += present.count(k);
      if (here == s.keys.size()) {
        ++r.in_flight_present;
      } else if (here != 0) {
        ++r.half_present;
        r.problems.push_back("request " + s.keys[0] + " is half present");
      }
    }
  }
  if (!probe_key.empty()) sent_keys.insert(probe_key);
  // Nothing is there that was never sent, and no key twice.
  for (const auto& [key, at] : present) r.strangers += sent_keys.count(key) == 0;
  if (r.strangers || present.size() != r.size) {
    r.problems.push_back("the ledger holds " + std::to_string(r.size) + " events under " +
                         std::to_string(present.size()) + " keys, " + std::to_string(r.strangers) +
                         " of them never sent");
  }

  // Views: recovered (checkpoint + catch up) and rebuilt from seq 1.
  auto recovered = projections::Projector::Open(&l);
  auto rebuilt =
      projections::Projector::Open(&l, projections::ProjectorOptions{"crashtest-rebuild", 4096});
  if (!recovered.ok() || !rebuilt.ok() || !(*recovered)->CatchUp().ok() ||
      !(*rebuilt)->Rebuild().ok()) {
    r.problems.push_back("the views cannot be opened");
    return r;
  }
  projections::ViewQuery q;
  q.from_day = ledger::DaysFromCivil(2024, 1, 1);
  q.to_day = ledger::DaysFromCivil(2026, 1, 1);
  auto compute = [&](projections::Projector& p, size_t i) -> json::value {
    auto as_json = [](auto out) -> json::value {
      return out.ok() ? json::value(wire::ToJson(*out)) : json::value(out.status().ToString());
    };
    return i == 0   ? as_json(p.Fairness(q))
           : i == 1 ? as_json(p.WaitingTimes(q))
                    : as_json(p.Refusals(q));
  };
  for (size_t i = 0; i < kViews.size(); ++i) {
    const json::value full = compute(**rebuilt, i);
    const bool same_recovered = compute(**recovered, i) == full;
    const bool same_served = i < served.size() && Same(served[i], full);
    if (!same_recovered || !same_served) {
      // Kept beside the trial's data, for a person to compare.
      const std::string stem = dir + "/view-" + std::to_string(i);
      std::ofstream(stem + "-rebuilt.json") << json::serialize(full);
      std::ofstream(stem + "-recovered.json") << json::serialize(compute(**recovered, i));
      if (i < served.size()) std::ofstream(stem + "-served.json") << json::serialize(served[i]);
      ++r.view_mismatches;
      r.problems.push_back(kViews[i] + (same_recovered ? " as served" : " as recovered") +
                           " differs from the rebuild");
    }
  }
  return r;
}

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "crashtest: %s\nusage: crashtest --ledgerd PATH [--trials N] [--appenders N] "
               "[--seed S] [--work DIR] [--kill-after-ms MIN-MAX]\n"
               "                 [--tls-cert FILE --tls-key FILE --ca FILE] [--failover yes]\n",
               why.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const tool_flags::CommandLine line = tool_flags::Parse(argc, argv);
  if (line.help) return Usage("kills ledgerd under load and checks what survives");
  if (!line.error.empty()) return Usage(line.error);
  for (const auto& [arg, value] : line.flags) {
    auto number = [&](int lo, int hi) { return tool_flags::WholeNumber(value, lo, hi); };
    if (arg == "--ledgerd") {
      o.ledgerd = value;
    } else if (arg == "--work") {
      o.work = value;
    } else if (arg == "--trials") {
      auto v = number(1, 100000);
      if (!v) return Usage("--trials must be 1 or more");
      o.trials = *v;
    } else if (arg == "--appenders") {
      auto v = number(1, 1024);
      if (!v) return Usage("--appenders must be 1 to 1024");
      o.appenders = *v;
    } else if (arg == "--seed") {
      auto v = number(0, 999999999);
      if (!v) return Usage("--seed must be a whole number");
      o.seed = static_cast<uint64_t>(*v);
    } else if (arg == "--tls-cert") {
      o.tls_cert = value;
    } else if (arg == "--tls-key") {
      o.tls_key = value;
    } else if (arg == "--ca") {
      o.ca = value;
    } else if (arg == "--failover") {
      if (value != "yes" && value != "no") return Usage("--failover must be yes or no");
      o.failover = value == "yes";
    } else if (arg == "--kill-after-ms") {
      std::smatch m;
      if (!std::regex_match(value, m, std::regex(R"((\d{1,6})-(\d{1,6}))")) ||
          std::stoi(m[1]) > std::stoi(m[2])) {
        return Usage("--kill-after-ms must be MIN-MAX");
      }
      o.kill_min_ms = std::stoi(m[1]);
      o.kill_max_ms = std::stoi(m[2]);
    } else {
      return Usage("unknown option " + arg);
    }
  }
  if (o.ledgerd.empty()) return Usage("--ledgerd PATH is required");
  if (o.tls_cert.empty() != o.tls_key.empty() || o.tls_cert.empty() != o.ca.empty()) {
    return Usage("https needs --tls-cert, --tls-key and --ca together");
  }
  if (o.failover && !o.tls_cert.empty()) return Usage("--failover runs over plain http only");
  const bool temporary = o.work.empty();
  if (temporary) {
    char tmpl[] = "/tmp/crashtest-XXXXXX";
    if (!mkdtemp(tmpl)) return Usage("cannot make a work directory");
    o.work = tmpl;
  }
  std::mt19937_64 rng(o.seed);
  TrialResult total;
  int failed = 0;
  std::vector<int> failovers;  // ms, --failover
  for (int t = 1; t <= o.trials; ++t) {
    TrialResult r = Trial(o, t, rng);
    std::printf(
        "trial %d: killed after %d ms; %llu events acknowledged, %llu requests unanswered "
        "(%llu present whole, %llu absent); ledger %llu events; lost %llu, half present %llu, "
        "verify failures %llu, view mismatches %llu%s%s\n",
        t, r.killed_after_ms, static_cast<unsigned long long>(r.acknowledged),
        static_cast<unsigned long long>(r.in_flight),
        static_cast<unsigned long long>(r.in_flight_present),
        static_cast<unsigned long long>(r.in_flight - r.in_flight_present - r.half_present),
        static_cast<unsigned long long>(r.size), static_cast<unsigned long long>(r.lost),
        static_cast<unsigned long long>(r.half_present),
        static_cast<unsigned long long>(r.verify_failures),
        static_cast<unsigned long long>(r.view_mismatches),
        r.failover_ms >= 0 ? ("; failover " + std::to_string(r.failover_ms) + " ms").c_str() : "",
        r.Failed() ? "  FAILED" : "");
    if (r.failover_ms >= 0) failovers.push_back(r.failover_ms);
    for (const std::string& p : r.problems) std::printf("  %s\n", p.c_str());
    std::fflush(stdout);
    failed += r.Failed();
    total.acknowledged += r.acknowledged;
    total.lost += r.lost;
    total.half_present += r.half_present;
    total.verify_failures += r.verify_failures;
    total.view_mismatches += r.view_mismatches;
    if (!r.Failed()) std::filesystem::remove_all(o.work + "/trial-" + std::to_string(t));
  }
  std::printf(
      "%d trials, %d failed: %llu events acknowledged, %llu lost, %llu half-present requests, "
      "%llu verify failures, %llu view mismatches\n",
      o.trials, failed, static_cast<unsigned long long>(total.acknowledged),
      static_cast<unsigned long long>(total.lost),
      static_cast<unsigned long long>(total.half_present),
      static_cast<unsigned long long>(total.verify_failures),
      static_cast<unsigned long long>(total.view_mismatches));
  if (!failovers.empty()) {
    std::sort(failovers.begin(), failovers.end());
    std::printf("failover, kill to first acknowledged append: min %d ms, median %d ms, max %d ms\n",
                failovers.front(), failovers[failovers.size() / 2], failovers.back());
  }
  if (temporary && failed == 0) std::filesystem::remove_all(o.work);
  return failed == 0 ? 0 : 1;
}
