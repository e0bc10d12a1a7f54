// A synthetic but realistic ledger: referrals across England's areas (by
// population), each following the pathway of SPEC §3 with plausible waits,
// refusal rates that vary by area (the postcode lottery: most areas refuse
// a typical share, one in ten far more, one in ten rarely), higher refusal
// odds for some groups (Black people, people over 55), appeals,
// re-offers, withdrawals, provider refusals and corrections. Deterministic
// for a seed. Used by the demo, the tests and the benchmarks.
//
// Each event is recorded some time after it happened, as in practice: most
// within hours, some days later, a few weeks later (back-dated recording).
// Events come out in recorded_at order, every one valid in turn when appended
// with its recording (Ledger::AppendRecorded) to a ledger that holds nothing
// else; each correction names its target's seq on that assumption
// (first_seq + the target's position). Events that happened before `end` but
// would be recorded after it are not generated: not yet recorded.
// Person data is pseudonyms and bands only.
//
// Volume: CalibratedReferrals gives the number of referrals for which the
// placements started per year are about 0.8% of the adults in treatment in
// England (about 290,000 a year): fewer than 1 in 100 reach rehab.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ledger/event.h"
#include "ledger/ledger.h"

namespace synth {

struct Options {
  uint64_t seed = 1;
  uint64_t referrals = 1000;
  // Referrals are received uniformly in [start, end); later steps of a
  // pathway that would fall at or after `end` are not generated, so
  // pathways are left open at the end.
  ledger::Micros start = 0;
  ledger::Micros end = 0;
  // The seq the first generated event will get.
  uint64_t first_seq = 1;
  // Prefix of referral ids ("<prefix>r000123").
  std::string id_prefix = "g1-";
};

// Adults in drug and alcohol treatment in England in a year (OHID, 2022-23:
// about 290,000), and the share of them who start residential rehab.
inline constexpr double kTreatmentPopulation = 290000;
inline constexpr double kRehabShare = 0.008;

// Referrals over [start, end) for which placements started are about
// kRehabShare of kTreatmentPopulation a year.
uint64_t CalibratedReferrals(ledger::Micros start, ledger::Micros end);

// One generated event with its recording.
struct Generated {
  ledger::AppendRequest request;
  ledger::Micros recorded_at = 0;
  std::string actor;  // "partnership:<area code>" or "provider:<provider id>"
};

class Generator {
 public:
  explicit Generator(Options options);
  ~Generator();
  // The next event in recorded_at order, or false when there are no more.
  bool Next(Generated* out);
  // As Next, as a request that keeps its recording.
  bool Next(ledger::RecordedRequest* out);
  // Events generated so far.
  uint64_t generated() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace synth
