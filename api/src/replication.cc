#include "api/replication.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "http_client.h"
#include "ledger/note.h"
#include "wire/event_json.h"

namespace api {

namespace json = boost::json;
using ledger::Result;
using ledger::Status;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// The primary's side

struct ReplicationHub::Wake {
  std::mutex mu;
  ReplicationHub* hub = nullptr;
};

ReplicationHub::ReplicationHub(ledger::Ledger* ledger, ReplicationOptions options)
    : ledger_(ledger), options_(std::move(options)), wake_(std::make_shared<Wake>()) {
  wake_->hub = this;
  if (Result<ledger::ViewStore*> store = ledger_->OpenViewStore("replication"); store.ok()) {
    store_ = *store;
    Result<std::optional<std::string>> kept = store_->Get("term");
    if (kept.ok() && *kept) term_ = std::strtoull((*kept)->c_str(), nullptr, 10);
  }
  ledger_->Subscribe([wake = wake_](uint64_t) {
    std::lock_guard lock(wake->mu);
    if (!wake->hub) return;
    // Under the hub's lock, so that the hub cannot miss it between looking
    // at the size and waiting.
    std::lock_guard hub_lock(wake->hub->mu_);
    wake->hub->cv_.notify_all();
  });
  thread_ = std::thread([this] { Run(); });
  if (!options_.standbys.empty() && options_.fence_interval.count() > 0) {
    fence_thread_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!stop_ && !fenced_by_) {
        cv_.wait_for(lock, options_.fence_interval, [&] { return stop_; });
        if (stop_) break;
        lock.unlock();
        ProbeStandbys();
        lock.lock();
      }
    });
  }
}

void ReplicationHub::ProbeStandbys() {
  for (const std::string& url : options_.standbys) {
    std::optional<http_client::Url> parsed = http_client::ParseUrl(url);
    if (!parsed) continue;
    http_client::Endpoint to = parsed->endpoint;
    to.ca_file = options_.ca_file;
    to.timeout = std::chrono::seconds(2);
    std::string path = parsed->path;
    while (path.ends_with('/')) path.pop_back();
    Result<http_client::Reply> reply = http_client::Call(to, {"GET", path + "/healthz", "", ""});
    if (!reply.ok()) continue;  // gone: no news
    json::error_code ec;
    const json::value health = json::parse(reply->body, ec);
    const json::value* role =
        !ec && health.is_object() ? health.as_object().if_contains("role") : nullptr;
    const json::value* term = role ? health.as_object().if_contains("term") : nullptr;
    const uint64_t their_term =
        term && term->is_number() && !term->is_double() ? term->to_number<uint64_t>() : 0;
    if (role && role->is_string() && role->as_string() == "primary" && their_term > this->term()) {
      std::lock_guard lock(mu_);
      if (!fenced_by_) {
        fenced_by_ = url;
        spdlog::critical(
            "the standby {} has been promoted: this former primary takes no appends; restart "
            "it as a standby of {} (--standby-of)",
            url, url);
      }
    }
  }
}

uint64_t ReplicationHub::term() const {
  std::lock_guard lock(mu_);
  return term_;
}

Status ReplicationHub::Promote(uint64_t primary_term) {
  std::lock_guard lock(mu_);
  term_ = std::max(term_, primary_term) + 1;
  if (!store_) return Status::Internal("no replication store to keep the term in");
  ledger::ViewStore::Batch batch;
  batch.Put("term", std::to_string(term_));
  return store_->Write(batch);
}

std::optional<std::string> ReplicationHub::FencedBy() const {
  std::lock_guard lock(mu_);
  return fenced_by_;
}

ReplicationHub::~ReplicationHub() {
  {
    std::lock_guard lock(wake_->mu);
    wake_->hub = nullptr;
  }
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (fence_thread_.joinable()) fence_thread_.join();
}

void ReplicationHub::WaitForEvents(uint64_t after, std::chrono::milliseconds wait,
                                   std::function<void()> ready) {
  std::lock_guard lock(mu_);
  events_.push_back({after, Clock::now() + wait, std::move(ready)});
  cv_.notify_all();
}

void ReplicationHub::Confirm(const std::string& url, uint64_t size, const std::string& credential) {
  if (!Named(url)) return;
  if (auto bound = options_.credential_of.find(url);
      bound != options_.credential_of.end() && bound->second != credential) {
    return;
  }
  std::lock_guard lock(mu_);
  confirmed_[url] = {url, std::min(size, ledger_->Size()), Clock::now()};
  cv_.notify_all();
}

void ReplicationHub::WaitForStandby(uint64_t seq, std::function<void(bool)> done) {
  if (options_.mode == ReplicationMode::kAsync || options_.standbys.empty()) return done(true);
  std::lock_guard lock(mu_);
  acks_.push_back({seq, Clock::now() + options_.sync_wait, std::move(done)});
  cv_.notify_all();
}

bool ReplicationHub::Named(const std::string& url) const {
  return std::find(options_.standbys.begin(), options_.standbys.end(), url) !=
         options_.standbys.end();
}

uint64_t ReplicationHub::ReplicatedSize() const {
  if (options_.standbys.empty()) return ledger_->Size();
  std::lock_guard lock(mu_);
  uint64_t best = 0;
  for (const auto& [url, c] : confirmed_) best = std::max(best, c.confirmed);
  return best;
}

std::vector<StandbyConfirmation> ReplicationHub::Confirmations() const {
  std::lock_guard lock(mu_);
  std::vector<StandbyConfirmation> out;
  for (const std::string& url : options_.standbys) {
    auto it = confirmed_.find(url);
    out.push_back(it != confirmed_.end() ? it->second : StandbyConfirmation{url});
  }
  return out;
}

void ReplicationHub::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    const uint64_t size = ledger_->Size();
    uint64_t replicated = 0;
    for (const auto& [url, c] : confirmed_) replicated = std::max(replicated, c.confirmed);
    const auto now = Clock::now();
    auto next = now + std::chrono::hours(1);
    std::vector<std::function<void()>> due;
    std::erase_if(events_, [&](EventWaiter& w) {
      if (size > w.after || now >= w.deadline) {
        due.push_back(std::move(w.ready));
        return true;
      }
      next = std::min(next, w.deadline);
      return false;
    });
    std::erase_if(acks_, [&](AckWaiter& w) {
      if (replicated >= w.seq || now >= w.deadline) {
        due.push_back([done = std::move(w.done), ok = replicated >= w.seq] { done(ok); });
        return true;
      }
      next = std::min(next, w.deadline);
      return false;
    });
    if (!due.empty()) {
      // Answers are built and sent without the lock: they read the ledger.
      lock.unlock();
      for (auto& f : due) f();
      lock.lock();
      continue;
    }
    const size_t waiting = events_.size() + acks_.size();
    cv_.wait_until(lock, next, [&] {
      return stop_ || ledger_->Size() != size || events_.size() + acks_.size() != waiting ||
             std::any_of(confirmed_.begin(), confirmed_.end(),
                         [&](const auto& c) { return c.second.confirmed > replicated; });
    });
  }
  // Stopping: whoever waits is answered now, without the lock (an answer
  // asks the hub for its term).
  std::vector<EventWaiter> events = std::move(events_);
  std::vector<AckWaiter> acks = std::move(acks_);
  lock.unlock();
  for (EventWaiter& w : events) w.ready();
  for (AckWaiter& w : acks) w.done(false);
}

// ---------------------------------------------------------------------------
// The standby's side

struct Standby::Peer {
  http_client::Endpoint endpoint;
  std::string prefix;  // the primary URL's path, without a trailing '/'
};

Standby::Standby(ledger::Ledger* ledger, StandbyOptions options)
    : ledger_(ledger), options_(std::move(options)), peer_(std::make_unique<Peer>()) {}

Standby::~Standby() { Stop(); }

Result<std::unique_ptr<Standby>> Standby::Open(ledger::Ledger* ledger, StandbyOptions options) {
  std::optional<http_client::Url> url = http_client::ParseUrl(options.primary);
  if (!url || url->has_query) {
    return Status::InvalidArgument("--standby-of must be http[s]://HOST[:PORT][/PREFIX]");
  }
  if (options.token.empty()) return Status::InvalidArgument("--standby-of needs --token");
  std::unique_ptr<Standby> s(new Standby(ledger, std::move(options)));
  Peer& p = *s->peer_;
  p.endpoint = url->endpoint;
  p.endpoint.ca_file = s->options_.ca_file;
  p.endpoint.timeout =
      std::chrono::ceil<std::chrono::seconds>(s->options_.wait) + std::chrono::seconds(30);
  p.prefix = url->path;
  while (p.prefix.ends_with('/')) p.prefix.pop_back();
  s->state_.copied = ledger->Size();
  return s;
}

void Standby::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Standby::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

StandbyState Standby::State() const {
  std::lock_guard lock(mu_);
  return state_;
}

void Standby::Run() {
  spdlog::info("standby of {}: copying from seq {}", options_.primary, ledger_->Size() + 1);
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    const Status st = CopyOnce();
    std::unique_lock lock(mu_);
    state_.copied = ledger_->Size();
    if (st.ok()) {
      state_.error.clear();
      continue;
    }
    state_.error = st.message();
    if (st.code() != ledger::Code::kIOError) {
      // What did not verify is never kept, and nothing after it is copied.
      state_.stopped = true;
      spdlog::critical("standby of {}: STOPPED copying: {}", options_.primary, st.message());
      return;
    }
    spdlog::warn("standby of {}: {}", options_.primary, st.message());
    cv_.wait_for(lock, options_.retry, [&] { return stop_; });
  }
}

Status Standby::CopyOnce() {
  const uint64_t after = ledger_->Size();
  // Up to 10,000 events an answer (the route's most): a standby that
  // starts far behind catches up in large batches, each with one checkpoint
  // to check.
  std::string target = peer_->prefix + "/v1/replication/events?after=" + std::to_string(after) +
                       "&wait_ms=" + std::to_string(options_.wait.count()) + "&limit=10000";
  if (!options_.advertise.empty()) {
    target += "&standby=" + boost::urls::encode(options_.advertise, boost::urls::unreserved_chars);
  }
  Result<http_client::Reply> reply =
      http_client::Call(peer_->endpoint, {"GET", target, options_.token, ""});
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Status::IOError("the primary answered " + std::to_string(reply->status) + ": " +
                           reply->body.substr(0, 300));
  }
  json::error_code ec;
  json::value doc = json::parse(reply->body, ec);
  const json::object* o = !ec && doc.is_object() ? &doc.as_object() : nullptr;
  const json::value* events = o ? o->if_contains("events") : nullptr;
  const json::value* head = o ? o->if_contains("head") : nullptr;
  // (Boost.JSON keeps a small whole number as int64.)
  if (!events || !events->is_array() || !head || !head->is_number() ||
      (head->is_int64() && head->as_int64() < 0) || head->is_double()) {
    return Status::IOError("the primary's answer is not a replication answer");
  }
  const uint64_t primary_size = head->to_number<uint64_t>();
  const json::value* term = o->if_contains("term");
  uint64_t primary_term = 0;
  if (term && term->is_number() && !term->is_double() &&
      !(term->is_int64() && term->as_int64() < 0)) {
    primary_term = term->to_number<uint64_t>();
  }
  {
    std::lock_guard lock(mu_);
    state_.primary_size = primary_size;
    state_.primary_term = primary_term;
  }
  if (primary_term < options_.own_term) {
    return Status::Conflict(
        "this ledger was promoted to term " + std::to_string(options_.own_term) + " and " +
        options_.primary + " is in term " + std::to_string(primary_term) +
        ", an earlier one: it is a former primary; remove --standby-of to serve as the primary, "
        "or make this ledger a standby of the current primary");
  }
  if (events->as_array().empty()) {
    if (primary_size < after) {
      return Status::Corruption("the primary holds " + std::to_string(primary_size) +
                                " events, fewer than this standby's " + std::to_string(after) +
                                ": another history");
    }
    return Status::Ok();
  }
  // The checkpoint of the tree the events end: signed by the ledger's key
  // (this standby's own), for that size, of this origin.
  const uint64_t size = after + events->as_array().size();
  const json::value* checkpoint = o->if_contains("checkpoint");
  Result<ledger::note::Note> signed_note =
      checkpoint && checkpoint->is_string()
          ? ledger::note::Parse(checkpoint->as_string())
          : Result<ledger::note::Note>(Status::Corruption("no checkpoint"));
  Result<ledger::note::Checkpoint> c = signed_note.ok()
                                           ? ledger::note::ParseCheckpointText(signed_note->text)
                                           : Result<ledger::note::Checkpoint>(signed_note.status());
  Result<ledger::note::Verifier> verifier = ledger::note::ParseVerifierKey(ledger_->VerifierKey());
  if (!c.ok() || !verifier.ok() || !ledger::note::SignedBy(*signed_note, *verifier) ||
      c->origin != ledger_->origin() || c->size != size) {
    return Status::Corruption("the primary's checkpoint for events " + std::to_string(after + 1) +
                              ".." + std::to_string(size) +
                              " is not one this ledger's key signed for that size and origin");
  }
  std::vector<ledger::RecordedRequest> requests;
  for (const json::value& e : events->as_array()) {
    const uint64_t seq = after + requests.size() + 1;
    Result<ledger::RecordedRequest> r =
        e.is_object() ? wire::ParseRecordedEvent(e.as_object())
                      : Result<ledger::RecordedRequest>(Status::InvalidArgument("not an object"));
    if (!r.ok()) {
      return Status::Corruption("event seq " + std::to_string(seq) +
                                " from the primary does not parse: " + r.status().message());
    }
    if (r->seq != seq) {
      return Status::Corruption("event seq " + std::to_string(seq) + " came as seq " +
                                std::to_string(r->seq));
    }
    requests.push_back(std::move(r).value());
  }
  // Every event's chain hash and the tree's root checked before anything
  // is kept (AppendRecorded with the checkpoint's root).
  Result<std::vector<ledger::AppendResult>> appended = ledger_->AppendRecorded(requests, c->root);
  if (appended.ok()) return Status::Ok();
  const Status& st = appended.status();
  if (st.code() == ledger::Code::kIOError || st.code() == ledger::Code::kResourceExhausted) {
    return Status::IOError("cannot store: " + st.message());
  }
  // The primary's clock ahead of this one: the events wait until this
  // clock reaches their recorded_at (keep the machines' clocks in sync).
  if (st.message().find("is later than the clock") != std::string::npos) {
    return Status::IOError("this clock is behind the primary's: " + st.message());
  }
  return Status::Corruption("events " + std::to_string(after + 1) + ".." + std::to_string(size) +
                            " do not verify: " + st.message());
}

}  // namespace api
