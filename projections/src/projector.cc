#include "projections/projector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <map>
#include <system_error>
#include <vector>

namespace projections {

using ledger::Result;
using ledger::Status;

namespace {

// Keys of the view store:
//   "c"                 -> be64 seq: the checkpoint, the last seq stored
//   "b" + be64(first)   -> the encoded records of seqs first, first+1, ...
constexpr std::string_view kCheckpointKey = "c";
constexpr std::string_view kChunkPrefix = "b";

std::string Be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

std::optional<uint64_t> GetBe64(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

}  // namespace

Projector::Projector(ledger::Ledger* ledger, ledger::ViewStore* store, ProjectorOptions options)
    : ledger_(ledger), store_(store), options_(std::move(options)) {}

Result<std::unique_ptr<Projector>> Projector::Open(ledger::Ledger* ledger,
                                                   ProjectorOptions options) {
  if (options.chunk_events == 0) options.chunk_events = 1;
  Result<ledger::ViewStore*> store =
      options.store ? options.store : ledger->OpenViewStore(options.store_name);
  if (!store.ok()) return store.status();
  std::unique_ptr<Projector> p(new Projector(ledger, *store, std::move(options)));
  Status loaded = p->Load();
  if (!loaded.ok()) {
    if (loaded.code() != ledger::Code::kCorruption) return loaded;
    // A checkpoint that does not decode or does not fit the ledger is
    // dropped: the model is rebuilt from the log.
    spdlog::warn("view store {}: {}; rebuilding it from seq 1", p->options_.store_name,
                 loaded.message());
    p->model_ = ReadModel();
    p->applied_.store(0);
    LEDGER_RETURN_IF_ERROR(p->store_->Clear());
  }
  ledger->Subscribe([wake = p->wake_](uint64_t) {
    {
      std::lock_guard l(wake->mu);
      wake->signalled = true;
    }
    wake->cv.notify_one();
  });
  return p;
}

Projector::~Projector() {
  {
    std::lock_guard l(wake_->mu);
    wake_->stopping = true;
  }
  wake_->cv.notify_all();
  if (runner_.joinable()) runner_.join();
}

Status Projector::Load() {
  Result<std::optional<std::string>> cp = store_->Get(kCheckpointKey);
  if (!cp.ok()) return cp.status();
  if (!cp->has_value()) return Status::Ok();  // nothing stored yet
  std::optional<uint64_t> checkpoint = GetBe64(**cp);
  if (!checkpoint) return Status::Corruption("the checkpoint does not decode");
  if (*checkpoint > ledger_->Size()) {
    return Status::Corruption("the checkpoint (seq " + std::to_string(*checkpoint) +
                              ") is beyond the ledger (" + std::to_string(ledger_->Size()) + ")");
  }
  Status decode;
  LEDGER_RETURN_IF_ERROR(
      store_->Scan(kChunkPrefix, [&](std::string_view key, std::string_view value) {
        std::optional<uint64_t> first = GetBe64(key.substr(kChunkPrefix.size()));
        if (!first || *first != model_.applied() + 1) {
          decode = Status::Corruption("stored chunks are not consecutive at seq " +
                                      std::to_string(model_.applied() + 1));
          return false;
        }
        while (!value.empty() && decode.ok()) decode = model_.ApplyEncoded(&value);
        return decode.ok();
      }));
  LEDGER_RETURN_IF_ERROR(decode);
  if (model_.applied() != *checkpoint) {
    return Status::Corruption("stored chunks end at seq " + std::to_string(model_.applied()) +
                              ", the checkpoint says " + std::to_string(*checkpoint));
  }
  applied_.store(model_.applied(), std::memory_order_release);
  return Status::Ok();
}

void Projector::Start() {
  if (runner_.joinable()) return;
  runner_ = std::thread([this] { Run(); });
}

void Projector::Run() {
  for (;;) {
    Status st = CatchUp();
    if (!st.ok()) spdlog::error("view store {}: {}", options_.store_name, st.message());
    std::unique_lock l(wake_->mu);
    // The timeout retries a failed write and covers a missed signal.
    wake_->cv.wait_for(l, std::chrono::seconds(1),
                       [this] { return wake_->signalled || wake_->stopping; });
    if (wake_->stopping) return;
    wake_->signalled = false;
  }
}

Status Projector::CatchUp() {
  std::lock_guard l(catchup_mu_);
  return CatchUpLocked();
}

namespace {

// A range of the log read ahead of the model: the events' briefs with the
// strings they point to, owned, so that another thread can apply them.
// Catch-up beyond two chunks reads ahead on kReaders threads, at most
// kReadAhead chunks beyond the one being applied.
constexpr int kReaders = 2;
constexpr uint64_t kReadAhead = 4;

struct ReadChunk {
  uint64_t upto = 0;
  Status status;
  std::vector<ledger::EventBrief> briefs;
  std::string text;  // each brief's referral_id then key
  std::deque<ledger::RecordCorrected> corrections;
};

Status ReadAhead(const ledger::Ledger& ledger, uint64_t after, uint64_t upto, ReadChunk* out) {
  out->upto = upto;
  out->briefs.reserve(upto - after);
  std::vector<uint32_t> lengths;
  lengths.reserve(2 * (upto - after));
  Status st = ledger.ScanBriefs(after, upto, [&](const ledger::EventBrief& b) {
    out->briefs.push_back(b);
    out->text.append(b.referral_id).append(b.key);
    lengths.push_back(static_cast<uint32_t>(b.referral_id.size()));
    lengths.push_back(static_cast<uint32_t>(b.key.size()));
    if (b.correction) {
      out->corrections.push_back(*b.correction);
      out->briefs.back().correction = &out->corrections.back();
    }
    return Status::Ok();
  });
  // The text is whole now: point the briefs into it.
  size_t at = 0;
  for (size_t i = 0; i < out->briefs.size(); ++i) {
    ledger::EventBrief& b = out->briefs[i];
    b.referral_id = std::string_view(out->text).substr(at, lengths[2 * i]);
    at += lengths[2 * i];
    b.key = std::string_view(out->text).substr(at, lengths[2 * i + 1]);
    at += lengths[2 * i + 1];
  }
  return st;
}

}  // namespace

Status Projector::ApplyChunk(uint64_t upto, const std::function<Status(const ApplyFn&)>& scan) {
  const uint64_t from = applied();
  Status st;
  {
    // Views wait for one chunk at most.
    std::unique_lock w(model_mu_);
    if (pending_.empty()) pending_first_ = from + 1;
    st = scan([this](const ledger::EventBrief& e) { return model_.Apply(e, &pending_); });
  }
  // What was applied stays applied, even when the scan failed part way (the
  // model cannot take events back): it is published, its records stay
  // pending for the next write, and the next catch-up goes on from there.
  applied_.store(model_.applied(), std::memory_order_release);
  { std::lock_guard wl(wait_mu_); }
  applied_cv_.notify_all();
  LEDGER_RETURN_IF_ERROR(st);
  if (model_.applied() != upto) {
    return Status::Internal("the log ended at seq " + std::to_string(model_.applied()) + " of " +
                            std::to_string(upto));
  }
  ledger::ViewStore::Batch batch;
  batch.Put(std::string(kChunkPrefix) + Be64(pending_first_), pending_);
  batch.Put(kCheckpointKey, Be64(model_.applied()));
  // On failure the records stay pending and go with the next write.
  LEDGER_RETURN_IF_ERROR(store_->Write(batch));
  pending_.clear();
  return Status::Ok();
}

Status Projector::CatchUpLocked() {
  const uint64_t target = ledger_->Size();
  const uint64_t chunk = options_.chunk_events;
  // A few chunks are read as applied, without a copy.
  auto inline_catch_up = [&]() -> Status {
    while (applied() < target) {
      const uint64_t from = applied();
      const uint64_t upto = std::min(target, from + chunk);
      LEDGER_RETURN_IF_ERROR(ApplyChunk(
          upto, [&](const ApplyFn& apply) { return ledger_->ScanBriefs(from, upto, apply); }));
    }
    return Status::Ok();
  };
  if (target - applied() <= 2 * chunk) return inline_catch_up();
  // Many: reader threads read and decode the chunks ahead, side by side,
  // while this one applies them in order, so reading and applying share
  // the cores.
  const uint64_t first = applied();
  const uint64_t chunks = (target - first + chunk - 1) / chunk;
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::unique_ptr<ReadChunk>> ready;  // by chunk number
  uint64_t next_read = 0, next_apply = 0;
  bool stop = false;
  auto read = [&] {
    for (;;) {
      uint64_t k;
      {
        std::unique_lock l(mu);
        // At most kReadAhead chunks beyond the one being applied.
        cv.wait(l,
                [&] { return stop || next_read >= chunks || next_read < next_apply + kReadAhead; });
        if (stop || next_read >= chunks) return;
        k = next_read++;
      }
      auto c = std::make_unique<ReadChunk>();
      const uint64_t after = first + k * chunk;
      c->status = ReadAhead(*ledger_, after, std::min(target, after + chunk), c.get());
      {
        std::lock_guard l(mu);
        ready[k] = std::move(c);
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) {
    try {
      readers.emplace_back(read);
    } catch (const std::system_error& e) {
      // No thread to be had: go on with those started, or read inline.
      spdlog::warn("projections: no reader thread for catch-up: {}", e.what());
      break;
    }
  }
  if (readers.empty()) return inline_catch_up();
  Status st;
  for (; st.ok() && next_apply < chunks;) {
    std::unique_ptr<ReadChunk> c;
    {
      std::unique_lock l(mu);
      cv.wait(l, [&] { return ready.count(next_apply) != 0; });
      c = std::move(ready[next_apply]);
      ready.erase(next_apply);
    }
    st = c->status;
    if (st.ok()) {
      st = ApplyChunk(c->upto,
                      [&](const ApplyFn&) { return model_.ApplyAll(c->briefs, &pending_); });
    }
    {
      std::lock_guard l(mu);
      ++next_apply;
    }
    cv.notify_all();
  }
  {
    std::lock_guard l(mu);
    stop = true;
  }
  cv.notify_all();
  for (std::thread& t : readers) t.join();
  return st;
}

Status Projector::Rebuild() {
  std::lock_guard l(catchup_mu_);
  {
    std::unique_lock w(model_mu_);
    // The log has at least the referrals the model held.
    const size_t referrals = model_.referrals().size();
    model_ = ReadModel();
    model_.Reserve(referrals);
    pending_.clear();
    applied_.store(0, std::memory_order_release);
  }
  LEDGER_RETURN_IF_ERROR(store_->Clear());
  return CatchUpLocked();
}

Result<uint64_t> Projector::Checkpoint() const {
  Result<std::optional<std::string>> cp = store_->Get(kCheckpointKey);
  if (!cp.ok()) return cp.status();
  if (!cp->has_value()) return uint64_t{0};
  std::optional<uint64_t> v = GetBe64(**cp);
  if (!v) return Status::Corruption("the checkpoint does not decode");
  return *v;
}

bool Projector::WaitFor(uint64_t seq, std::chrono::milliseconds timeout) const {
  std::unique_lock l(wait_mu_);
  return applied_cv_.wait_for(l, timeout, [&] { return applied() >= seq; });
}

Result<ViewParams> Projector::Resolve(const ViewQuery& q) const {
  ViewParams p;
  const uint64_t head = applied();
  p.as_of = head;
  if (q.as_of_seq) p.as_of = std::min(*q.as_of_seq, head);
  if (q.as_of_time) {
    Result<uint64_t> seq = ledger_->SeqAtTime(*q.as_of_time);
    if (!seq.ok()) return seq.status();
    p.as_of = std::min(*seq, head);
  }
  p.from_day = q.from_day;
  p.to_day = q.to_day;
  if (q.at) {
    p.at = *q.at;
  } else if (q.to_day) {
    p.at = *q.to_day * ledger::kMicrosPerDay;
  } else if (p.as_of > 0) {
    Result<ledger::Event> e = ledger_->GetEvent(p.as_of);
    if (!e.ok()) return e.status();
    p.at = e->recorded_at;
  } else if (q.as_of_time) {
    // A time before the first event: no event to take the time from, so the
    // time asked for (every pathway is then empty, at a stated moment).
    p.at = *q.as_of_time;
  } else {
    // Nothing appended, or as_of=0: the moment of asking.
    p.at = ledger::NowMicros();
  }
  p.area = q.area;
  p.reason = q.reason;
  p.stage = q.stage;
  p.interval = q.interval;
  p.figure = q.figure;
  p.after = q.after;
  p.limit = q.limit;
  return p;
}

template <typename Report>
Result<Report> Projector::View(const ViewQuery& query,
                               Report (*view)(const ReadModel&, const ViewParams&)) const {
  std::shared_lock l(model_mu_);
  Result<ViewParams> p = Resolve(query);
  if (!p.ok()) return p.status();
  return view(model_, *p);
}

Result<FairnessReport> Projector::Fairness(const ViewQuery& q) const {
  return View(q, FairnessView);
}
Result<WaitingTimesReport> Projector::WaitingTimes(const ViewQuery& q) const {
  return View(q, WaitingTimesView);
}
Result<RefusalsReport> Projector::Refusals(const ViewQuery& q) const {
  return View(q, RefusalsView);
}
Result<AreasReport> Projector::Areas(const ViewQuery& q) const { return View(q, AreasView); }

Result<ReferralListReport> Projector::ReferralList(const ViewQuery& q) const {
  return View(q, ReferralListView);
}

Result<TrendReport> Projector::Trend(const ViewQuery& q) const {
  std::vector<ledger::FieldError> errors;
  if (!q.from_day) errors.push_back({"from", "is required for a trend"});
  if (!q.to_day) errors.push_back({"to", "is required for a trend"});
  if (!errors.empty()) return Status::InvalidFields(std::move(errors));
  if (TrendPeriods(*q.from_day, *q.to_day, q.interval).size() > kMaxTrendPeriods) {
    return Status::BadField("to", "the period holds more than " + std::to_string(kMaxTrendPeriods) +
                                      " " + std::string(ledger::ToString(q.interval)) +
                                      "s: ask for a shorter one or a longer interval");
  }
  return View(q, TrendView);
}

Result<ReferralReport> Projector::Referral(std::string_view referral_id,
                                           const ViewQuery& query) const {
  ViewQuery q = query;
  q.to_day.reset();  // a referral's wait so far runs to `at` or the as_of event
  Result<ViewParams> p = Resolve(q);
  if (!p.ok()) return p.status();
  Result<std::vector<ledger::Event>> events = ledger_->ReadStream(referral_id);
  if (!events.ok()) return events.status();
  if (events->empty() || events->front().seq > p->as_of) {
    return Status::NotFound("no referral " + std::string(referral_id) + " as of seq " +
                            std::to_string(p->as_of));
  }
  return ReferralView(std::move(events).value(), p->as_of, p->at);
}

void Projector::Read(const std::function<void(const ReadModel&)>& fn) const {
  std::shared_lock l(model_mu_);
  fn(model_);
}

}  // namespace projections
