// What every ledgerctl command shares: its arguments, usage errors, the
// progress line, opening a ledger, --as-of, and a problem reply as text.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client.h"
#include "ledger/ledger.h"
#include "ledger/memory_view_store.h"
#include "projections/projector.h"

namespace ledgerctl {

// Prints `why` and the pointer to --help on stderr; returns 2 (bad usage).
int Usage(const std::string& why);

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;                // the last value of each
  std::map<std::string, std::vector<std::string>> values;  // every value, in order
  bool Has(const char* k) const { return flags.count(k) != 0; }
};

// Flags that take no value.
bool IsSwitch(const std::string& name);

// Digits only, at most 19 of them.
bool IsWholeNumber(const std::string& s);

// Progress of work that runs over a second, on stderr: count, rate and, when
// the total is known, percentage and time left. Drawn in place when stderr
// is a terminal; with --progress, as a line a second (for logs). Silent for
// work done within a second.
class Progress {
 public:
  Progress(std::string what, uint64_t total, const Args& a)
      : what_(std::move(what)),
        total_(total),
        tty_(::isatty(2) == 1),
        lines_(a.Has("progress")),
        start_(Clock::now()),
        last_(start_) {}
  void Add(uint64_t n) {
    done_ += n;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(tty_ ? 200 : 1000) ||
        now - start_ < std::chrono::seconds(1)) {
      return;
    }
    last_ = now;
    Draw(now, false);
  }
  void Done() {
    const auto now = Clock::now();
    if (drawn_ || (lines_ && now - start_ >= std::chrono::seconds(1))) Draw(now, true);
  }

 private:
  using Clock = std::chrono::steady_clock;
  void Draw(Clock::time_point now, bool last) {
    if (!tty_ && !lines_) return;
    drawn_ = true;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
    char line[160];
    int len = std::snprintf(line, sizeof line, "%s: %llu", what_.c_str(),
                            static_cast<unsigned long long>(done_));
    if (total_ > 0) {
      const double left =
          rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : 0;
      len += std::snprintf(line + len, sizeof line - len, "/%llu (%.0f%%), %.0f/s, %s %.0f s",
                           static_cast<unsigned long long>(total_),
                           100.0 * static_cast<double>(done_) / static_cast<double>(total_), rate,
                           last ? "took" : "ETA", last ? secs : left);
    } else {
      len += std::snprintf(line + len, sizeof line - len, ", %.0f/s, %.0f s", rate, secs);
    }
    if (tty_ && !lines_) {
      std::fprintf(stderr, "\r%s\033[K%s", line, last ? "\n" : "");
    } else {
      std::fprintf(stderr, "%s\n", line);
    }
    std::fflush(stderr);
  }
  std::string what_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool tty_, lines_, drawn_ = false;
  Clock::time_point start_, last_;
};

// The ledger --data names, or nullptr with *exit_code set (2: no --data,
// or no ledger there; 3: it cannot be opened). Only a command that makes a
// ledger (`create`: generate, import) opens it for writing, and may make
// one where there is none (it cannot while ledgerd has it open). Every
// other opens it read-only (LedgerOptions::read_only): beside a running
// ledgerd too, seeing every event it has acknowledged, and changing
// nothing in the directory; a directory without a ledger is said to be so.
std::unique_ptr<ledger::Ledger> OpenLedger(const Args& a, int* exit_code, bool create = false);

// --as-of as a seq or a time; false when it is neither.
bool ParseAsOf(const Args& a, projections::ViewQuery* q);

// The ledger, opened read-only, and its views, caught up to the head (with
// progress); nullopt with *exit_code set when they cannot be. The views are
// rebuilt from the events, in memory: a read-only ledger keeps no view
// store, and the one ledgerd checkpoints is not read (nor trusted).
struct Opened {
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<ledger::MemoryViewStore> store;  // the projector's
  std::unique_ptr<projections::Projector> projector;
};
std::optional<Opened> OpenViews(const Args& a, int* exit_code);

// A problem+json reply as one line: detail, then each named field.
std::string ProblemText(const HttpReply& reply);

}  // namespace ledgerctl
