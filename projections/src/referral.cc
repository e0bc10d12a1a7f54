// /v1/referrals/{id}: one referral's history and its figures, from its
// events (not the read model: the events are shown as posted).
#include "projections/views.h"

namespace projections {

std::string_view ToString(FirstDecision d) {
  return d == FirstDecision::kRefused ? "refused" : "approved";
}

ReferralReport ReferralView(std::vector<ledger::Event> events, uint64_t as_of, ledger::Micros at) {
  ReferralReport out;
  out.as_of_seq = as_of;
  out.referral_id = events.front().referral_id;
  const uint64_t first_seq = events.front().seq;
  ledger::Micros received_at = 0;
  std::optional<ledger::Micros> decided_at, started_at;
  bool upheld = false;
  size_t n = 0;
  for (const ledger::Event& e : events) {
    if (e.seq > as_of) break;
    ++n;
    if (auto next = ledger::Transition(out.state, e.data); next.ok()) out.state = *next;
    const ledger::EventType type = ledger::TypeOf(e.data);
    if (const auto* d = std::get_if<ledger::ReferralReceived>(&e.data)) {
      out.received = *d;
      received_at = e.occurred_at;
    } else if (type == ledger::EventType::kFundingApproved ||
               type == ledger::EventType::kReferralRefused) {
      if (!out.first_decision) {
        out.first_decision = type == ledger::EventType::kReferralRefused ? FirstDecision::kRefused
                                                                         : FirstDecision::kApproved;
        decided_at = e.occurred_at;
      }
    } else if (const auto* d = std::get_if<ledger::AppealDecided>(&e.data)) {
      upheld = upheld || d->outcome == ledger::AppealOutcome::kUpheld;
    } else if (type == ledger::EventType::kPlacementStarted) {
      started_at = e.occurred_at;
    } else if (const auto* d = std::get_if<ledger::RecordCorrected>(&e.data)) {
      if (d->corrects_seq == first_seq) {
        ledger::EventData data = out.received;
        ledger::ApplyCorrection(d->fields, &data);
        out.received = std::get<ledger::ReferralReceived>(data);
      }
    }
  }
  events.resize(n);
  out.events = std::move(events);
  out.overturned_on_appeal = out.first_decision == FirstDecision::kRefused && upheld;
  if (decided_at) out.decision_wait_days = WholeDays(received_at, *decided_at);
  if (started_at) out.start_wait_days = WholeDays(received_at, *started_at);
  if (ledger::IsOpen(out.state)) {
    out.waiting_days = std::max<int64_t>(0, WholeDays(received_at, at));
  }
  return out;
}

}  // namespace projections
