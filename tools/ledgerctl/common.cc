#include "common.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <thread>

namespace ledgerctl {

namespace json = boost::json;

int Usage(const std::string& why) {
  std::fprintf(stderr, "ledgerctl: %s\n(ledgerctl --help for usage)\n", why.c_str());
  return 2;
}

// Flags that take no value.
bool IsSwitch(const std::string& name) {
  return name == "progress" || name == "restore" || name == "with-key";
}

bool IsWholeNumber(const std::string& s) {
  return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::unique_ptr<ledger::Ledger> OpenLedger(const Args& a, int* exit_code, bool create) {
  auto it = a.flags.find("data");
  if (it == a.flags.end()) {
    *exit_code = Usage("--data DIR is required");
    return nullptr;
  }
  // Opening a directory without a ledger would make a new, empty one with a
  // fresh key, and a read-only command would then report on it.
  if (!create && !ledger::Ledger::Exists(it->second)) {
    std::fprintf(stderr, "ledgerctl: %s holds no ledger\n", it->second.c_str());
    *exit_code = 2;
    return nullptr;
  }
  ledger::LedgerOptions options;
  options.read_only = !create;
  if (a.Has("signing-key")) options.signing_key_file = a.flags.at("signing-key");
  if (a.Has("origin")) options.origin = a.flags.at("origin");
  auto opened = ledger::Ledger::Open(it->second, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "ledgerctl: cannot open %s: %s\n", it->second.c_str(),
                 opened.status().message().c_str());
    *exit_code = 3;
    return nullptr;
  }
  return std::move(opened).value();
}

// --as-of as a seq or a time; false when it is neither.
bool ParseAsOf(const Args& a, projections::ViewQuery* q) {
  auto it = a.flags.find("as-of");
  if (it == a.flags.end()) return true;
  const std::string& v = it->second;
  if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos && v.size() <= 19) {
    q->as_of_seq = std::stoull(v);
    return true;
  }
  q->as_of_time = ledger::ParseTimestamp(v);
  return q->as_of_time.has_value();
}

std::optional<Opened> OpenViews(const Args& a, int* exit_code) {
  Opened o;
  o.ledger = OpenLedger(a, exit_code);
  if (!o.ledger) return std::nullopt;
  o.store = std::make_unique<ledger::MemoryViewStore>("views");
  projections::ProjectorOptions options;
  options.store = o.store.get();
  auto projector = projections::Projector::Open(o.ledger.get(), options);
  ledger::Status caught_up = projector.status();
  if (projector.ok()) {
    // Catching up on a ledger the views have not seen can take seconds:
    // done on a thread while this one shows how far it got.
    projections::Projector& p = **projector;
    const uint64_t from = p.applied(), size = o.ledger->Size();
    Progress progress("views", size - std::min(from, size), a);
    std::atomic<bool> finished{false};
    std::thread worker([&] {
      caught_up = p.CatchUp();
      finished.store(true);
    });
    uint64_t seen = from;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const uint64_t now = p.applied();
      progress.Add(now - seen);
      seen = now;
    }
    worker.join();
    progress.Add(p.applied() - seen);
    progress.Done();
  }
  if (!caught_up.ok()) {
    std::fprintf(stderr, "ledgerctl: the views cannot be built\n");
    *exit_code = 1;
    return std::nullopt;
  }
  o.projector = std::move(projector).value();
  return o;
}

// A problem+json reply as one line: detail, then each named field.
std::string ProblemText(const HttpReply& reply) {
  json::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (ec || !v.is_object()) return "HTTP " + std::to_string(reply.status);
  const json::object& o = v.as_object();
  std::string out = "HTTP " + std::to_string(reply.status);
  if (const json::value* d = o.if_contains("detail"); d && d->is_string()) {
    out += ": " + std::string(d->get_string());
  }
  if (const json::value* errs = o.if_contains("errors"); errs && errs->is_array()) {
    for (const json::value& e : errs->get_array()) {
      if (!e.is_object()) continue;
      const json::value* f = e.as_object().if_contains("field");
      const json::value* m = e.as_object().if_contains("message");
      if (f && m && f->is_string() && m->is_string()) {
        out += "; " + std::string(f->get_string()) + " " + std::string(m->get_string());
      }
    }
  }
  return out;
}

}  // namespace ledgerctl
