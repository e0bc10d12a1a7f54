#include "api/witnesses.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <set>

#include "http_client.h"
#include "ledger/tlog_witness.h"
#include "ledger/view_store.h"

namespace api {

using ledger::Result;
using ledger::Status;

namespace {

constexpr std::string_view kPublished = "published";
constexpr std::string_view kPeerPrefix = "witness/";  // + name: the size it cosigned

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == ':' || c == '/';
}

// Where a witness URL submits (http or https, no query): its endpoint and
// PATH/add-checkpoint; nullopt for anything else.
std::optional<std::pair<http_client::Endpoint, std::string>> ParseWitnessUrl(
    std::string_view text) {
  std::optional<http_client::Url> url = http_client::ParseUrl(text);
  if (!url || url->has_query) return std::nullopt;
  while (url->path.ends_with('/')) url->path.pop_back();
  return std::pair{url->endpoint, url->path + "/add-checkpoint"};
}

}  // namespace

struct Witnesses::Peer {
  WitnessConfig config;
  ledger::note::Verifier verifier;
  http_client::Endpoint endpoint;
  std::string target;  // <path>/add-checkpoint
  uint64_t known = 0;  // the size we believe it holds (from its 200s and 409s)
  WitnessStatus status;
};

Result<WitnessConfig> ParseWitness(std::string_view flag) {
  const size_t a = flag.find(',');
  const size_t b = a == std::string_view::npos ? a : flag.find(',', a + 1);
  if (b == std::string_view::npos || flag.find(',', b + 1) != std::string_view::npos) {
    return Status::InvalidArgument("--witness is NAME,URL,VKEY");
  }
  WitnessConfig c{std::string(flag.substr(0, a)), std::string(flag.substr(a + 1, b - a - 1)),
                  std::string(flag.substr(b + 1))};
  if (c.name.empty() || c.name.size() > 64 ||
      !std::all_of(c.name.begin(), c.name.end(), NameChar)) {
    return Status::InvalidArgument("--witness: NAME is 1-64 characters from [A-Za-z0-9._:/-]");
  }
  if (!ParseWitnessUrl(c.url)) {
    return Status::InvalidArgument("--witness " + c.name +
                                   ": URL must be http[s]://HOST[:PORT][/PREFIX]");
  }
  if (Result<ledger::note::Verifier> v =
          ledger::note::ParseVerifierKey(c.vkey, ledger::note::kCosignatureV1);
      !v.ok()) {
    return Status::InvalidArgument("--witness " + c.name + ": " + v.status().message());
  }
  return c;
}

Witnesses::Witnesses(ledger::Ledger* ledger, WitnessOptions options)
    : ledger_(ledger), options_(std::move(options)) {}

Witnesses::~Witnesses() { Stop(); }

Result<std::unique_ptr<Witnesses>> Witnesses::Open(ledger::Ledger* ledger, WitnessOptions options) {
  if (options.witnesses.empty()) return Status::InvalidArgument("no witness named");
  const size_t quorum = options.quorum == 0 ? options.witnesses.size() : options.quorum;
  if (quorum > options.witnesses.size()) {
    return Status::InvalidArgument("--witness-quorum " + std::to_string(quorum) +
                                   " is more than the " + std::to_string(options.witnesses.size()) +
                                   " witnesses named");
  }
  std::unique_ptr<Witnesses> w(new Witnesses(ledger, options));
  w->quorum_ = quorum;
  Result<ledger::ViewStore*> store = ledger->OpenViewStore("witnesses");
  if (!store.ok()) return store.status();
  w->store_ = *store;
  std::set<std::string> names;
  for (const WitnessConfig& c : options.witnesses) {
    if (!names.insert(c.name).second) {
      return Status::InvalidArgument("two witnesses are named " + c.name);
    }
    auto peer = std::make_unique<Peer>();
    peer->config = c;
    Result<ledger::note::Verifier> v =
        ledger::note::ParseVerifierKey(c.vkey, ledger::note::kCosignatureV1);
    if (!v.ok()) return v.status();
    peer->verifier = std::move(v).value();
    auto url = ParseWitnessUrl(c.url);
    if (!url) return Status::InvalidArgument("--witness " + c.name + ": a bad URL");
    // https: the witness's certificate checked against --witness-ca, or
    // the system's roots, and its host name.
    peer->endpoint = url->first;
    peer->endpoint.ca_file = options.ca_file;
    peer->endpoint.timeout = std::chrono::ceil<std::chrono::seconds>(options.timeout);
    peer->target = url->second;
    peer->status.name = c.name;
    Result<std::optional<std::string>> kept = w->store_->Get(std::string(kPeerPrefix) + c.name);
    if (!kept.ok()) return kept.status();
    if (*kept) {
      uint64_t size = 0;
      const std::string& text = **kept;
      if (std::from_chars(text.data(), text.data() + text.size(), size).ptr ==
              text.data() + text.size() &&
          size <= ledger->Size()) {
        peer->known = size;
        peer->status.cosigned_size = size;
      }
    }
    w->peers_.push_back(std::move(peer));
  }
  Result<std::optional<std::string>> published = w->store_->Get(kPublished);
  if (!published.ok()) return published.status();
  if (*published) {
    Result<ledger::note::Note> note = ledger::note::Parse(**published);
    Result<ledger::note::Checkpoint> cp = note.ok()
                                              ? ledger::note::ParseCheckpointText(note->text)
                                              : Result<ledger::note::Checkpoint>(note.status());
    // Kept only while it is still a checkpoint of this ledger.
    Result<ledger::TreeHead> head =
        cp.ok() ? ledger->HeadAt(cp->size) : Result<ledger::TreeHead>(cp.status());
    if (head.ok() && head->root == cp->root) {
      w->published_ = **published;
      w->published_size_ = cp->size;
    }
  }
  return w;
}

void Witnesses::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void Witnesses::Stop() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Witnesses::Run() {
  while (true) {
    RunRound();
    std::unique_lock<std::mutex> lock(wake_mu_);
    if (wake_.wait_for(lock, options_.interval, [this] { return stop_; })) return;
  }
}

std::optional<std::string> Witnesses::Published() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (published_.empty()) return std::nullopt;
  return published_;
}

uint64_t Witnesses::PublishedSize() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_size_;
}

std::vector<WitnessStatus> Witnesses::States() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WitnessStatus> out;
  for (const auto& p : peers_) out.push_back(p->status);
  return out;
}

std::optional<std::string> Witnesses::Submit(Peer& peer, uint64_t size,
                                             const std::string& checkpoint) {
  auto fail = [&](const std::string& why) -> std::optional<std::string> {
    std::lock_guard<std::mutex> lock(mu_);
    ++peer.status.failures;
    // Logged when it starts failing or fails differently, not every interval.
    if (peer.status.last_error != why) {
      spdlog::warn("witness {}: {} (checkpoint of size {} not cosigned)", peer.config.name, why,
                   size);
    }
    peer.status.last_error = why;
    return std::nullopt;
  };
  // A 409 names the witness's size; one more try proves from there.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (peer.known > size) {
      return fail("it has cosigned a tree of " + std::to_string(peer.known) +
                  " events, more than this ledger holds (" + std::to_string(size) +
                  "): another ledger under this key?");
    }
    ledger::tlog_witness::AddCheckpoint request;
    request.old_size = peer.known;
    request.checkpoint = checkpoint;
    if (peer.known > 0 && peer.known < size) {
      Result<std::vector<ledger::Hash>> proof = ledger_->ConsistencyProof(peer.known, size);
      if (!proof.ok()) return fail("no consistency proof: " + proof.status().message());
      request.proof = std::move(proof).value();
    }
    Result<http_client::Reply> reply = http_client::Call(
        peer.endpoint, {"POST", peer.target, "", ledger::tlog_witness::Format(request),
                        "text/plain; charset=utf-8"});
    if (!reply.ok()) return fail("unreachable: " + reply.status().message());
    if (reply->status == 409 &&
        reply->Header("Content-Type") == ledger::tlog_witness::kSizeContentType) {
      std::optional<uint64_t> theirs = ledger::tlog_witness::ParseSize(reply->body);
      if (!theirs) return fail("a 409 whose body is not a size");
      if (*theirs == peer.known) {
        return fail("409 at the size it holds (" + std::to_string(*theirs) +
                    "): it has cosigned another tree of that size");
      }
      peer.known = *theirs;
      continue;
    }
    if (reply->status != 200) {
      std::string why = reply->body.substr(0, reply->body.find('\n'));
      if (why.size() > 200) why.resize(200);
      return fail("HTTP " + std::to_string(reply->status) + (why.empty() ? "" : ": " + why));
    }
    // Only a line that is a valid cosignature by its key is kept.
    std::string_view lines = reply->body;
    while (!lines.empty()) {
      const size_t nl = lines.find('\n');
      if (nl == std::string_view::npos) break;
      const std::string line(lines.substr(0, nl + 1));
      lines.remove_prefix(nl + 1);
      Result<ledger::note::Note> note = ledger::note::Parse(checkpoint + line);
      if (note.ok() && ledger::note::CosignedBy(*note, peer.verifier)) {
        peer.known = size;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (!peer.status.last_error.empty()) {
            spdlog::info("witness {}: cosigning again (size {})", peer.config.name, size);
          }
          peer.status.cosigned_size = size;
          peer.status.last_error.clear();
        }
        ledger::ViewStore::Batch batch;
        batch.Put(std::string(kPeerPrefix) + peer.config.name, std::to_string(size));
        if (Status st = store_->Write(batch); !st.ok()) {
          spdlog::warn("witness {}: cannot keep its state: {}", peer.config.name, st.ToString());
        }
        return line;
      }
    }
    return fail("its answer holds no valid cosignature by its key");
  }
  return fail("its size kept changing (409 three times)");
}

bool Witnesses::RunRound() {
  std::lock_guard<std::mutex> round(round_mu_);
  // With standbys, a tree is sent to witnesses once a standby holds it.
  const uint64_t size =
      options_.size_limit ? std::min(ledger_->Size(), options_.size_limit()) : ledger_->Size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!published_.empty() && size == published_size_) return false;  // the tree has not grown
  }
  Result<std::string> checkpoint = ledger_->Checkpoint(size);
  if (!checkpoint.ok()) {
    spdlog::warn("no checkpoint of size {}: {}", size, checkpoint.status().ToString());
    return false;
  }
  // Every witness at once: a slow one delays the round by its timeout, not
  // by the sum of them.
  std::vector<std::optional<std::string>> lines(peers_.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < peers_.size(); ++i) {
    threads.emplace_back([&, i] { lines[i] = Submit(*peers_[i], size, *checkpoint); });
  }
  for (std::thread& t : threads) t.join();
  std::string published = *checkpoint;
  size_t cosigned = 0;
  for (const auto& line : lines) {
    if (line) {
      published += *line;
      ++cosigned;
    }
  }
  if (cosigned < quorum_) return false;
  ledger::ViewStore::Batch batch;
  batch.Put(kPublished, published);
  if (Status st = store_->Write(batch); !st.ok()) {
    spdlog::warn("cannot keep the published checkpoint: {}", st.ToString());
  }
  std::lock_guard<std::mutex> lock(mu_);
  published_ = std::move(published);
  published_size_ = size;
  return true;
}

}  // namespace api
