#include "codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>

#include "event.capnp.h"

namespace ledger::internal {
namespace {

namespace cs = ::ledger::schema;

// The C++ enums and the schema's enums share their order (checked by a test),
// so conversion is a cast.
template <typename To, typename From>
To Cast(From v) {
  return static_cast<To>(static_cast<uint16_t>(v));
}

// Appends what is written to it to a string.
class StringOutput final : public kj::OutputStream {
 public:
  explicit StringOutput(std::string* out) : out_(out) {}
  void write(const void* buffer, size_t size) override {
    out_->append(static_cast<const char*>(buffer), size);
  }

 private:
  std::string* out_;
};

// The message's flat encoding (segment table, then segments), as
// capnp::messageToFlatArray gives it, written straight into the string.
std::string FlatBytes(capnp::MessageBuilder& message) {
  std::string out;
  out.reserve(capnp::computeSerializedSizeInWords(message) * sizeof(capnp::word));
  StringOutput stream(&out);
  capnp::writeMessage(stream, message);
  return out;
}

// The first segment of the messages the writer encodes, one per thread and
// use, reused instead of allocated and zeroed for each message
// (MallocMessageBuilder zeroes what it used when it is destroyed). Its size
// fixes where a message is split into segments, which is part of an event's
// canonical bytes: kEventSegmentWords must stay 64.
constexpr size_t kEventSegmentWords = 64;
template <int kUse>
kj::ArrayPtr<capnp::word> Scratch() {
  thread_local capnp::word words[kEventSegmentWords] = {};
  return kj::arrayPtr(words, kEventSegmentWords);
}

kj::StringPtr Text(const std::string& s) { return kj::StringPtr(s.c_str(), s.size()); }
std::string Str(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }
std::optional<std::string> OptStr(bool has, capnp::Text::Reader t) {
  if (!has) return std::nullopt;
  return Str(t);
}

void EncodeData(const EventData& data, cs::Event::Data::Builder b) {
  std::visit(
      [&](const auto& d) {
        using S = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<S, ReferralReceived>) {
          auto x = b.initReferralReceived();
          x.setPerson(Text(d.person));
          x.setArea(Text(d.area));
          x.setReferrer(Cast<cs::Referrer>(d.referrer));
          x.setSubstance(Cast<cs::Substance>(d.substance));
          x.setAgeBand(Cast<cs::AgeBand>(d.age_band));
          x.setSex(Cast<cs::Sex>(d.sex));
          x.setEthnicity(Cast<cs::Ethnicity>(d.ethnicity));
          x.setDisability(Cast<cs::Disability>(d.disability));
        } else if constexpr (std::is_same_v<S, AssessmentCompleted>) {
          auto x = b.initAssessmentCompleted();
          x.setOutcome(Cast<cs::AssessmentOutcome>(d.outcome));
          if (d.note) x.setNote(Text(*d.note));
        } else if constexpr (std::is_same_v<S, FundingRequested>) {
          auto x = b.initFundingRequested();
          x.setRoute(Cast<cs::FundingRoute>(d.route));
          x.setWeeks(d.weeks);
        } else if constexpr (std::is_same_v<S, FundingApproved>) {
          auto x = b.initFundingApproved();
          x.setPanel(Text(d.panel));
          x.setWeeks(d.weeks);
        } else if constexpr (std::is_same_v<S, ReferralRefused>) {
          auto x = b.initReferralRefused();
          x.setStage(Cast<cs::RefusalStage>(d.stage));
          x.setReason(Cast<cs::RefusalReason>(d.reason));
          x.setDecidedBy(Text(d.decided_by));
          if (d.note) x.setNote(Text(*d.note));
        } else if constexpr (std::is_same_v<S, AppealLodged>) {
          b.initAppealLodged().setGrounds(Text(d.grounds));
        } else if constexpr (std::is_same_v<S, AppealDecided>) {
          auto x = b.initAppealDecided();
          x.setOutcome(Cast<cs::AppealOutcome>(d.outcome));
          x.setDecidedBy(Text(d.decided_by));
        } else if constexpr (std::is_same_v<S, PlacementOffered>) {
          auto x = b.initPlacementOffered();
          x.setProvider(Text(d.provider));
          x.setPlannedStart(Text(d.planned_start));
        } else if constexpr (std::is_same_v<S, PlacementStarted>) {
          b.initPlacementStarted().setProvider(Text(d.provider));
        } else if constexpr (std::is_same_v<S, PlacementEnded>) {
          b.initPlacementEnded().setOutcome(Cast<cs::PlacementOutcome>(d.outcome));
        } else if constexpr (std::is_same_v<S, ReferralWithdrawn>) {
          auto x = b.initReferralWithdrawn();
          x.setBy(Cast<cs::WithdrawnBy>(d.by));
          if (d.note) x.setNote(Text(*d.note));
        } else {
          static_assert(std::is_same_v<S, RecordCorrected>);
          auto x = b.initRecordCorrected();
          x.setCorrectsSeq(d.corrects_seq);
          x.setReason(Text(d.reason));
          auto fields = x.initFields(static_cast<unsigned>(d.fields.size()));
          for (size_t i = 0; i < d.fields.size(); ++i) {
            auto f = fields[static_cast<unsigned>(i)];
            f.setName(Text(d.fields[i].name));
            if (const auto* s = std::get_if<std::string>(&d.fields[i].value)) {
              f.getValue().setText(Text(*s));
            } else {
              f.getValue().setInteger(std::get<int64_t>(d.fields[i].value));
            }
          }
        }
      },
      data);
}

// More fields than any event type has: no correction can name more.
constexpr unsigned kMaxCorrectedFields = 16;

// Checks that a stored enum value is one this build knows.
template <typename E, typename From>
bool ReadEnum(From v, E* out) {
  auto i = static_cast<size_t>(v);
  if (i >= EnumCount<E>()) return false;
  *out = static_cast<E>(i);
  return true;
}

Result<EventData> DecodeData(cs::Event::Data::Reader r) {
  bool ok = true;
  switch (r.which()) {
    case cs::Event::Data::REFERRAL_RECEIVED: {
      auto x = r.getReferralReceived();
      ReferralReceived d;
      d.person = Str(x.getPerson());
      d.area = Str(x.getArea());
      ok = ReadEnum(x.getReferrer(), &d.referrer) && ReadEnum(x.getSubstance(), &d.substance) &&
           ReadEnum(x.getAgeBand(), &d.age_band) && ReadEnum(x.getSex(), &d.sex) &&
           ReadEnum(x.getEthnicity(), &d.ethnicity) && ReadEnum(x.getDisability(), &d.disability);
      if (ok) return EventData(std::move(d));
      break;
    }
    case cs::Event::Data::ASSESSMENT_COMPLETED: {
      auto x = r.getAssessmentCompleted();
      AssessmentCompleted d;
      d.note = OptStr(x.hasNote(), x.getNote());
      if (ReadEnum(x.getOutcome(), &d.outcome)) return EventData(std::move(d));
      break;
    }
    case cs::Event::Data::FUNDING_REQUESTED: {
      auto x = r.getFundingRequested();
      FundingRequested d;
      d.weeks = x.getWeeks();
      if (ReadEnum(x.getRoute(), &d.route)) return EventData(std::move(d));
      break;
    }
    case cs::Event::Data::FUNDING_APPROVED: {
      auto x = r.getFundingApproved();
      return EventData(FundingApproved{Str(x.getPanel()), x.getWeeks()});
    }
    case cs::Event::Data::REFERRAL_REFUSED: {
      auto x = r.getReferralRefused();
      ReferralRefused d;
      d.decided_by = Str(x.getDecidedBy());
      d.note = OptStr(x.hasNote(), x.getNote());
      if (ReadEnum(x.getStage(), &d.stage) && ReadEnum(x.getReason(), &d.reason)) {
        return EventData(std::move(d));
      }
      break;
    }
    case cs::Event::Data::APPEAL_LODGED:
      return EventData(AppealLodged{Str(r.getAppealLodged().getGrounds())});
    case cs::Event::Data::APPEAL_DECIDED: {
      auto x = r.getAppealDecided();
      AppealDecided d;
      d.decided_by = Str(x.getDecidedBy());
      if (ReadEnum(x.getOutcome(), &d.outcome)) return EventData(std::move(d));
      break;
    }
    case cs::Event::Data::PLACEMENT_OFFERED: {
      auto x = r.getPlacementOffered();
      return EventData(PlacementOffered{Str(x.getProvider()), Str(x.getPlannedStart())});
    }
    case cs::Event::Data::PLACEMENT_STARTED:
      return EventData(PlacementStarted{Str(r.getPlacementStarted().getProvider())});
    case cs::Event::Data::PLACEMENT_ENDED: {
      PlacementEnded d;
      if (ReadEnum(r.getPlacementEnded().getOutcome(), &d.outcome)) return EventData(d);
      break;
    }
    case cs::Event::Data::REFERRAL_WITHDRAWN: {
      auto x = r.getReferralWithdrawn();
      ReferralWithdrawn d;
      d.note = OptStr(x.hasNote(), x.getNote());
      if (ReadEnum(x.getBy(), &d.by)) return EventData(std::move(d));
      break;
    }
    case cs::Event::Data::RECORD_CORRECTED: {
      auto x = r.getRecordCorrected();
      RecordCorrected d;
      d.corrects_seq = x.getCorrectsSeq();
      d.reason = Str(x.getReason());
      // What a correction can hold: a few distinct, named fields of one
      // event type (SPEC §3). Anything else is damage; refusing it here also
      // keeps a damaged list of empty entries (cheap in the stored bytes)
      // from decoding into an event far larger than any that was appended.
      if (x.getFields().size() == 0 || x.getFields().size() > kMaxCorrectedFields) {
        return Status::Corruption("a correction holds " + std::to_string(x.getFields().size()) +
                                  " fields");
      }
      for (auto f : x.getFields()) {
        CorrectedField cf;
        cf.name = Str(f.getName());
        auto v = f.getValue();
        if (v.isText()) {
          cf.value = Str(v.getText());
        } else if (v.isInteger()) {
          cf.value = v.getInteger();
        } else {
          return Status::Corruption("corrected field of an unknown kind");
        }
        if (cf.name.empty() ||
            std::any_of(d.fields.begin(), d.fields.end(),
                        [&](const CorrectedField& g) { return g.name == cf.name; })) {
          return Status::Corruption("a correction names a field twice, or an unnamed one");
        }
        d.fields.push_back(std::move(cf));
      }
      return EventData(std::move(d));
    }
  }
  if (!ok || r.which() <= cs::Event::Data::RECORD_CORRECTED) {
    return Status::Corruption("stored event holds an enumeration value this build does not know");
  }
  return Status::Corruption("stored event has a type this build does not know: " +
                            std::to_string(static_cast<unsigned>(r.which())));
}

// Copies `bytes` into word-aligned memory (Cap'n Proto 0.9 refuses unaligned
// buffers, and RocksDB gives no alignment guarantee), then calls f(reader).
template <typename Root, typename F>
auto WithReader(std::string_view bytes, F&& f)
    -> decltype(f(std::declval<typename Root::Reader>())) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return Status::Corruption("stored record is not a whole number of words");
  }
  // Held as uint64_t: capnp::word is not movable under every compiler, so
  // a std::vector of it does not build everywhere. Same size, same alignment.
  static_assert(sizeof(uint64_t) == sizeof(capnp::word) &&
                alignof(uint64_t) >= alignof(capnp::word));
  thread_local std::vector<uint64_t> buffer;
  buffer.resize(bytes.size() / sizeof(capnp::word));
  std::memcpy(buffer.data(), bytes.data(), bytes.size());
  const auto* words = reinterpret_cast<const capnp::word*>(buffer.data());
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 1 << 20;
    capnp::FlatArrayMessageReader reader(kj::ArrayPtr<const capnp::word>(words, buffer.size()),
                                         options);
    if (reader.getEnd() != words + buffer.size()) {
      return Status::Corruption("stored record has trailing bytes");
    }
    return f(reader.getRoot<Root>());
  } catch (const kj::Exception& e) {
    return Status::Corruption(std::string("stored record does not decode: ") +
                              e.getDescription().cStr());
  }
}

}  // namespace

std::string EncodeEvent(const Event& event) {
  capnp::MallocMessageBuilder message(Scratch<0>());
  auto b = message.initRoot<cs::Event>();
  b.setSeq(event.seq);
  b.setStream(Text(event.referral_id));
  b.setVersion(event.version);
  b.setOccurredAtUs(event.occurred_at);
  b.setRecordedAtUs(event.recorded_at);
  b.setActor(Text(event.actor));
  if (!event.idempotency_key.empty()) b.setIdempotencyKey(Text(event.idempotency_key));
  EncodeData(event.data, b.initData());
  return FlatBytes(message);
}

Result<Event> DecodeEvent(std::string_view bytes) {
  return WithReader<cs::Event>(bytes, [](cs::Event::Reader r) -> Result<Event> {
    Result<EventData> data = DecodeData(r.getData());
    if (!data.ok()) return data.status();
    Event e;
    e.seq = r.getSeq();
    e.referral_id = Str(r.getStream());
    e.version = r.getVersion();
    e.occurred_at = r.getOccurredAtUs();
    e.recorded_at = r.getRecordedAtUs();
    e.actor = Str(r.getActor());
    if (r.hasIdempotencyKey()) e.idempotency_key = Str(r.getIdempotencyKey());
    e.data = std::move(data).value();
    return e;
  });
}

Status DecodeBrief(std::string_view bytes, EventBrief* out) {
  return WithReader<cs::Event>(bytes, [out](cs::Event::Reader r) -> Status {
    EventBrief& b = *out;
    b = EventBrief{};
    b.seq = r.getSeq();
    auto stream = r.getStream();
    b.referral_id = std::string_view(stream.cStr(), stream.size());
    b.occurred_at = r.getOccurredAtUs();
    b.recorded_at = r.getRecordedAtUs();
    auto text = [](capnp::Text::Reader t) { return std::string_view(t.cStr(), t.size()); };
    // Each enumeration checked as DecodeData checks it.
    auto put = [&b](auto v, auto e, size_t i) {
      using E = decltype(e);
      if (static_cast<size_t>(v) >= EnumCount<E>()) return false;
      b.enums[i] = static_cast<uint8_t>(v);
      return true;
    };
    auto d = r.getData();
    bool ok = true;
    switch (d.which()) {
      case cs::Event::Data::REFERRAL_RECEIVED: {
        b.type = EventType::kReferralReceived;
        auto x = d.getReferralReceived();
        ok = put(x.getReferrer(), Referrer{}, 0) && put(x.getSubstance(), Substance{}, 1) &&
             put(x.getAgeBand(), AgeBand{}, 2) && put(x.getSex(), Sex{}, 3) &&
             put(x.getEthnicity(), Ethnicity{}, 4) && put(x.getDisability(), Disability{}, 5);
        b.key = text(x.getArea());
        break;
      }
      case cs::Event::Data::ASSESSMENT_COMPLETED:
        b.type = EventType::kAssessmentCompleted;
        ok = put(d.getAssessmentCompleted().getOutcome(), AssessmentOutcome{}, 0);
        break;
      case cs::Event::Data::FUNDING_REQUESTED:
        b.type = EventType::kFundingRequested;
        ok = put(d.getFundingRequested().getRoute(), FundingRoute{}, 0);
        break;
      case cs::Event::Data::FUNDING_APPROVED:
        b.type = EventType::kFundingApproved;
        break;
      case cs::Event::Data::REFERRAL_REFUSED: {
        b.type = EventType::kReferralRefused;
        auto x = d.getReferralRefused();
        ok = put(x.getStage(), RefusalStage{}, 0) && put(x.getReason(), RefusalReason{}, 1);
        b.key = text(x.getDecidedBy());
        break;
      }
      case cs::Event::Data::APPEAL_LODGED:
        b.type = EventType::kAppealLodged;
        break;
      case cs::Event::Data::APPEAL_DECIDED: {
        b.type = EventType::kAppealDecided;
        auto x = d.getAppealDecided();
        ok = put(x.getOutcome(), AppealOutcome{}, 0);
        b.key = text(x.getDecidedBy());
        break;
      }
      case cs::Event::Data::PLACEMENT_OFFERED:
        b.type = EventType::kPlacementOffered;
        b.key = text(d.getPlacementOffered().getProvider());
        break;
      case cs::Event::Data::PLACEMENT_STARTED:
        b.type = EventType::kPlacementStarted;
        b.key = text(d.getPlacementStarted().getProvider());
        break;
      case cs::Event::Data::PLACEMENT_ENDED:
        b.type = EventType::kPlacementEnded;
        ok = put(d.getPlacementEnded().getOutcome(), PlacementOutcome{}, 0);
        break;
      case cs::Event::Data::REFERRAL_WITHDRAWN:
        b.type = EventType::kReferralWithdrawn;
        ok = put(d.getReferralWithdrawn().getBy(), WithdrawnBy{}, 0);
        break;
      case cs::Event::Data::RECORD_CORRECTED: {
        // Rare: decoded whole, into storage that lives until this thread's
        // next decode, as the views into the buffer do.
        thread_local EventData correction;
        Result<EventData> data = DecodeData(d);
        if (!data.ok()) return data.status();
        correction = std::move(data).value();
        b.type = EventType::kRecordCorrected;
        b.correction = &std::get<RecordCorrected>(correction);
        break;
      }
      default:
        return DecodeData(d).status();  // names the unknown type
    }
    if (!ok) {
      return Status::Corruption("stored event holds an enumeration value this build does not know");
    }
    return Status::Ok();
  });
}

namespace {
std::string EncodeStreamHeadWith(const StreamHead& head, capnp::MessageBuilder& message) {
  auto b = message.initRoot<cs::StreamHead>();
  b.setState(static_cast<uint8_t>(head.state));
  b.setLastOccurredAtUs(head.last_occurred_at);
  b.setArea(Text(head.area));
  b.setProvider(Text(head.provider));
  b.setProviderSeq(head.provider_seq);
  auto seqs = b.initSeqs(static_cast<unsigned>(head.seqs.size()));
  for (size_t i = 0; i < head.seqs.size(); ++i) seqs.set(static_cast<unsigned>(i), head.seqs[i]);
  return FlatBytes(message);
}
}  // namespace

void StreamHead::Apply(const Event& e, ReferralState next) {
  seqs.push_back(e.seq);
  state = next;
  last_occurred_at = e.occurred_at;
  if (const auto* r = std::get_if<ReferralReceived>(&e.data)) {
    area = r->area;
  } else if (const auto* o = std::get_if<PlacementOffered>(&e.data)) {
    provider = o->provider;
    provider_seq = e.seq;
  } else if (const auto* s = std::get_if<PlacementStarted>(&e.data)) {
    provider = s->provider;
    provider_seq = e.seq;
  } else if (const auto* c = std::get_if<RecordCorrected>(&e.data)) {
    if (const std::string* a = CorrectedText(*c, seqs.front(), "area")) area = *a;
    if (const std::string* p = CorrectedText(*c, provider_seq, "provider")) provider = *p;
  }
}

std::string EncodeStreamHead(const StreamHead& head) {
  // A long stream's head gets a first segment as long as it needs.
  if (const size_t words = 16 + head.seqs.size(); words > kEventSegmentWords) {
    capnp::MallocMessageBuilder message(words);
    return EncodeStreamHeadWith(head, message);
  }
  capnp::MallocMessageBuilder message(Scratch<1>());
  return EncodeStreamHeadWith(head, message);
}

Result<StreamHead> DecodeStreamHead(std::string_view bytes) {
  return WithReader<cs::StreamHead>(bytes, [](cs::StreamHead::Reader r) -> Result<StreamHead> {
    if (r.getState() > static_cast<uint8_t>(ReferralState::kWithdrawn)) {
      return Status::Corruption("stream head has an unknown state");
    }
    StreamHead h;
    h.state = static_cast<ReferralState>(r.getState());
    h.last_occurred_at = r.getLastOccurredAtUs();
    h.area = Str(r.getArea());
    h.provider = Str(r.getProvider());
    h.provider_seq = r.getProviderSeq();
    for (uint64_t seq : r.getSeqs()) h.seqs.push_back(seq);
    return h;
  });
}

}  // namespace ledger::internal
