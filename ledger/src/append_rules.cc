// The checks each appended event meets, in SPEC §8's order, against the ledger as the events before
// it left it.
#include "ledger_impl.h"

namespace ledger {

Result<StreamHead> Ledger::Impl::LoadStream(const std::string& id, const Overlay& group,
                                            const Overlay& delta) {
  if (auto it = delta.streams.find(id); it != delta.streams.end()) return it->second;
  if (auto it = group.streams.find(id); it != group.streams.end()) return it->second;
  // The set before the cache: a new referral's id is then one probe.
  if (!streams_.MayContain(id)) return StreamHead{};
  if (const CachedStream& slot = StreamSlot(id); slot.id == id) return slot.head;
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::StreamHead(id), &v);
  if (s.IsNotFound()) return StreamHead{};
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read stream " + id));
  Result<StreamHead> head = internal::DecodeStreamHead(v);
  if (head.ok()) CacheStream(id, *head);
  return head;
}

Result<std::optional<std::pair<uint64_t, Hash>>> Ledger::Impl::LoadIdempotency(
    const std::string& scoped, const Overlay& group, const Overlay& delta) {
  using Entry = std::optional<std::pair<uint64_t, Hash>>;
  if (auto it = delta.idempotency.find(scoped); it != delta.idempotency.end())
    return Entry(it->second);
  if (auto it = group.idempotency.find(scoped); it != group.idempotency.end())
    return Entry(it->second);
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys::Idempotency(scoped), &v);
  if (s.IsNotFound()) return Entry();
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read idempotency key"));
  if (v.size() != 40) return Status::Corruption("idempotency record has the wrong size");
  Hash digest;
  std::copy(v.begin() + 8, v.end(), digest.begin());
  return Entry(std::make_pair(keys::GetU64(v), digest));
}

Result<Event> Ledger::Impl::LoadWrittenEvent(uint64_t seq, const Overlay& group,
                                             const Overlay& delta) {
  if (const Event* e = delta.FindEvent(seq)) return *e;
  if (const Event* e = group.FindEvent(seq)) return *e;
  if (seq == 0 || seq > written_seq_) return Status::NotFound("no event " + std::to_string(seq));
  std::string v;
  LEDGER_RETURN_IF_ERROR(FromRocks(db_->Get(rocksdb::ReadOptions(), keys::Event(seq), &v),
                                   "read event " + std::to_string(seq)));
  if (v.size() < 32) return Status::Corruption("event " + std::to_string(seq) + " is truncated");
  Result<Event> e = internal::DecodeEvent(std::string_view(v).substr(32));
  if (e.ok()) std::copy(v.begin(), v.begin() + 32, e->hash.begin());
  return e;
}

namespace {
// The field errors of a correction against its target (400), when the target
// is one that may be corrected at all; else OK, the 422 its own check gives.
Status CorrectionFieldsFit(const NewEvent& ev, const RecordCorrected& c,
                           const std::optional<Event>& target) {
  std::optional<EventType> type = target ? CorrectableType(*target, ev.referral_id) : std::nullopt;
  return type ? ValidateCorrectionFields(*type, c.fields) : Status::Ok();
}
}  // namespace

Status Ledger::Impl::LaterCorrectionFieldErrors(const Writer& w, size_t first, const Overlay& group,
                                                const Overlay& delta) {
  std::vector<FieldError> errors;
  for (size_t j = first; j < w.requests.size(); ++j) {
    const NewEvent& ev = w.requests[j].event;
    const auto* c = std::get_if<RecordCorrected>(&ev.data);
    if (!c) continue;
    // A target not written (yet) is the 422 its own check gives; one in a
    // stream the writer may not see is not looked at.
    Result<StreamHead> head = LoadStream(ev.referral_id, group, delta);
    if (!head.ok()) return head.status();
    Status scope;
    LEDGER_RETURN_IF_ERROR(Scope(w, ev, *head, group, delta, &scope));
    if (scope.code() == Code::kNotFound) continue;
    Result<Event> target = LoadWrittenEvent(c->corrects_seq, group, delta);
    if (!target.ok()) continue;
    Status st = CorrectionFieldsFit(ev, *c, std::move(target).value()).ForEvent(j);
    errors.insert(errors.end(), st.field_errors().begin(), st.field_errors().end());
  }
  return Status::InvalidFields(std::move(errors));
}

Status Ledger::Impl::Scope(const Writer& w, const NewEvent& ev, const StreamHead& head,
                           const Overlay& group, const Overlay& delta, Status* verdict) {
  *verdict = Status::Ok();
  if (!w.ctx.authorize) return Status::Ok();
  const bool exists = head.state != ReferralState::kNone;
  StreamInfo info{exists, head.version(), head.state, head.area, head.provider, {}};
  if (const auto* r = std::get_if<ReferralReceived>(&ev.data); r && !exists) info.area = r->area;
  if (w.ctx.with_placements && exists) {
    std::vector<Event> events;
    for (uint64_t seq : head.seqs) {
      Result<Event> e = LoadWrittenEvent(seq, group, delta);
      if (!e.ok()) return e.status();
      events.push_back(std::move(e).value());
    }
    info.placements = PlacementsOf(events);
  }
  *verdict = w.ctx.authorize(ev, info);
  // A stream that exists is a 409 for a second referral.received, whoever
  // sends it: it is never hidden from one.
  if (verdict->code() == Code::kNotFound &&
      (!exists || TypeOf(ev.data) == EventType::kReferralReceived)) {
    *verdict = Status::Ok();
  }
  return Status::Ok();
}

Status Ledger::Impl::ProcessWriter(const Writer& w, const Overlay& group, Micros now,
                                   Micros recorded_at, Overlay* delta,
                                   std::vector<AppendResult>* results) {
  const size_t count = w.requests.size();
  for (size_t i = 0; i < count; ++i) {
    const AppendRequest& req = w.requests[i];
    const NewEvent& ev = req.event;
    const EventType type = TypeOf(ev.data);
    auto fail = [&](Status st) {
      if (st.code() != Code::kInvalidArgument) {
        // Field errors of any event win (SPEC §8): a later correction may
        // name fields its target, already written, lacks.
        Status later = LaterCorrectionFieldErrors(w, i + 1, group, *delta);
        if (!later.ok()) return later;
      }
      return st.ForEvent(i);
    };

    Result<StreamHead> loaded = LoadStream(ev.referral_id, group, *delta);
    if (!loaded.ok()) return loaded.status();
    StreamHead head = std::move(loaded).value();

    // The scope check is asked first, though its 403 is reported after
    // field errors (SPEC §8): a stream the writer may not see is checked
    // from here on as one that does not exist.
    Status scope;
    LEDGER_RETURN_IF_ERROR(Scope(w, ev, head, group, *delta, &scope));
    if (scope.code() == Code::kNotFound) {
      head = StreamHead{};
      scope = Status::Ok();
    }
    const bool exists = head.state != ReferralState::kNone;

    // A correction's fields are checked against its target's type (400),
    // when the target is one that may be corrected at all (else 422 below).
    std::optional<Event> target;
    const RecordCorrected* correction = std::get_if<RecordCorrected>(&ev.data);
    if (correction && exists) {
      Result<Event> t = LoadWrittenEvent(correction->corrects_seq, group, *delta);
      if (t.ok()) {
        target = std::move(t).value();
      } else if (t.status().code() != Code::kNotFound) {
        return t.status();
      }
      if (Status st = CorrectionFieldsFit(ev, *correction, target); !st.ok()) return fail(st);
    }

    if (!scope.ok()) return fail(scope);

    // A key is scoped to the credential that sent it (SPEC §8), which the
    // actor names.
    const std::string& actor = w.recorded.empty() ? w.ctx.actor : w.recorded[i].actor;
    std::optional<Hash> digest;
    std::string scoped_key;
    if (req.idempotency_key) {
      digest = RequestDigest(req);
      scoped_key = keys::IdempotencyScope(actor, *req.idempotency_key);
      auto found = LoadIdempotency(scoped_key, group, *delta);
      if (!found.ok()) return found.status();
      if (found->has_value()) {
        if ((*found)->second != *digest) {
          return fail(Status::StateViolation("idempotency_key '" + *req.idempotency_key +
                                             "' was already used with a different body"));
        }
        Result<Event> first = LoadWrittenEvent((*found)->first, group, *delta);
        if (!first.ok()) return first.status();
        results->push_back({first->seq, first->version, first->hash, first->recorded_at, true});
        continue;
      }
    }

    if (type == EventType::kReferralReceived && exists) {
      return fail(Status::Conflict("referral " + ev.referral_id + " has already been received"));
    }
    if (req.expected_version && *req.expected_version != head.version()) {
      return fail(Status::Conflict("expected_version is " + std::to_string(*req.expected_version) +
                                   " but referral " + ev.referral_id + " is at version " +
                                   std::to_string(head.version())));
    }

    if (!exists && type != EventType::kReferralReceived) {
      return fail(Status::StateViolation(std::string(ToString(type)) + " for unknown referral " +
                                         ev.referral_id));
    }
    Result<ReferralState> next = Transition(head.state, ev.data);
    if (!next.ok()) return fail(next.status());
    if (exists && ev.occurred_at < head.last_occurred_at) {
      return fail(Status::StateViolation("occurred_at " + FormatTimestamp(ev.occurred_at) +
                                         " is earlier than the referral's latest event (" +
                                         FormatTimestamp(head.last_occurred_at) +
                                         "); business time never runs backwards"));
    }
    if (correction) {
      const std::string seq = std::to_string(correction->corrects_seq);
      if (!target) return fail(Status::StateViolation("corrects_seq " + seq + " does not exist"));
      if (target->referral_id != ev.referral_id) {
        return fail(Status::StateViolation("corrects_seq " + seq + " belongs to another referral"));
      }
      if (target->type() == EventType::kRecordCorrected) {
        return fail(Status::StateViolation("corrects_seq " + seq + " is itself a correction"));
      }
      if (target->type() == EventType::kAppealDecided) {
        for (const CorrectedField& f : correction->fields) {
          if (f.name == "outcome") {
            return fail(Status::StateViolation("the outcome of appeal.decided " + seq +
                                               " cannot be corrected: it decided a transition"));
          }
        }
      }
    }

    // Accepted.
    Event e;
    e.seq = delta->first_seq + delta->events.size();
    e.version = head.version() + 1;
    e.referral_id = ev.referral_id;
    e.occurred_at = ev.occurred_at;
    e.recorded_at = w.recorded.empty() ? recorded_at : w.recorded[i].recorded_at;
    e.actor = actor;
    if (req.idempotency_key) e.idempotency_key = *req.idempotency_key;
    e.data = ev.data;

    head.Apply(e, *next);
    delta->streams[ev.referral_id] = std::move(head);
    if (digest) delta->idempotency[scoped_key] = {e.seq, *digest};
    results->push_back({e.seq, e.version, Hash{}, e.recorded_at, false});
    delta->events.push_back(std::move(e));
  }
  return Status::Ok();
}

}  // namespace ledger
