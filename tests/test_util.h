// Helpers shared by the test suites: temporary directories and event
// builders with readable defaults.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ledger/event.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/time.h"

namespace ledger::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ledger-test-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Two briefs (EventBrief) hold the same fields.
inline void ExpectSameBrief(const EventBrief& a, const EventBrief& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.referral_id, b.referral_id);
  EXPECT_EQ(a.occurred_at, b.occurred_at);
  EXPECT_EQ(a.recorded_at, b.recorded_at);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.enums, b.enums);
  EXPECT_EQ(a.key, b.key);
  ASSERT_EQ(a.correction == nullptr, b.correction == nullptr);
  if (a.correction) {
    EXPECT_EQ(*a.correction, *b.correction);
  }
}

// Everything below `dir`, each entry named by its path relative to `dir`:
// a directory as "dir", a file as the SHA-256 of its bytes, each with its
// permission bits. Two equal results mean that nothing in the directory was
// created, removed or changed in between. Entries whose file name is in
// `skip` are left out.
inline std::map<std::string, std::string> DirectoryContents(
    const std::string& dir, const std::vector<std::string>& skip = {}) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    const auto perms = static_cast<unsigned>(e.status().permissions());
    std::string what;
    if (e.is_directory()) {
      what = "dir";
    } else {
      std::ifstream in(e.path(), std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), {}};
      what = ToHex(Sha256(bytes));
    }
    out[std::filesystem::relative(e.path(), dir).string()] = what + " " + std::to_string(perms);
  }
  return out;
}

// 2025-01-01T00:00:00Z plus `days` days and `seconds` seconds.
inline Micros T(int64_t days, int64_t seconds = 0) {
  return DaysFromCivil(2025, 1, 1) * kMicrosPerDay + days * kMicrosPerDay +
         seconds * kMicrosPerSecond;
}

inline ReferralReceived Received(std::string area = "E08000002") {
  return ReferralReceived{"p0000001a",      std::move(area), Referrer::kGp,     Substance::kAlcohol,
                          AgeBand::k30To34, Sex::kFemale,    Ethnicity::kWhite, Disability::kNo};
}

inline AppendRequest Req(std::string referral, Micros at, EventData data) {
  AppendRequest r;
  r.event.referral_id = std::move(referral);
  r.event.occurred_at = at;
  r.event.data = std::move(data);
  return r;
}

inline WriteContext Writer(std::string actor = "regulator:test") {
  WriteContext ctx;
  ctx.actor = std::move(actor);
  return ctx;
}

// The clock tests run at: well after every business time they use.
inline LedgerOptions TestOptions() {
  LedgerOptions o;
  o.clock = [] { return DaysFromCivil(2026, 6, 1) * kMicrosPerDay; };
  return o;
}

// A crash test's child as a fresh process image: call it in the forked
// child; it sets `var` to the job's lines and re-executes this test binary,
// whose main() then runs the job (ChildJob). A bare forked copy of a
// process that has used RocksDB could inherit a lock one of its background
// threads held, and hang. File descriptors stay open across the exec.
[[noreturn]] inline void ReExecAsChild(const char* var, const std::vector<std::string>& job) {
  std::string lines;
  for (const std::string& l : job) lines += l + "\n";
  ::setenv(var, lines.c_str(), 1);
  ::execl("/proc/self/exe", "test-child", static_cast<char*>(nullptr));
  _exit(6);
}

// The job's lines when this process is a child ReExecAsChild made with
// `var`; nullopt otherwise.
inline std::optional<std::vector<std::string>> ChildJob(const char* var) {
  const char* job = std::getenv(var);
  if (!job) return std::nullopt;
  std::vector<std::string> out;
  std::istringstream in(job);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace ledger::testing
