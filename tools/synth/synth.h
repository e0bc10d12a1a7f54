// A synthetic but realistic ledger: referrals across England's areas (by
// population), each following the pathway of SPEC §3 with plausible waits,
// refusal rates that vary by area (the postcode lottery: most areas refuse
// a typical share, one in ten far more, one in ten rarely), higher refusal
// odds for some groups (Black people, people over 55), appeals,
// re-offers, withdrawals, provider refusals and corrections. Deterministic
// for a seed. Used by the demo, the tests and the benchmarks.
//
// Events come out in business-time order, every one valid in turn when
// appended to a ledger that holds nothing else; each correction names its
// target's seq on that assumption (first_seq + the target's position).
// Person data is pseudonyms and bands only.
#pragma once

#include <cstdint>
#include <memory>

#include "ledger/event.h"

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

class Generator {
 public:
  explicit Generator(Options options);
  ~Generator();
  // The next event, or false when there are no more.
  bool Next(ledger::AppendRequest* out);
  // Events generated so far.
  uint64_t generated() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace synth
