#include "witness.h"

#include <rocksdb/db.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "ledger/merkle.h"
#include "ledger/tlog_witness.h"

namespace witness {

namespace json = boost::json;
using ledger::Result;
using ledger::Status;

namespace {

constexpr std::string_view kName = "meta/name";
constexpr std::string_view kVkey = "meta/vkey";
constexpr std::string_view kLogPrefix = "log/";  // + origin: the latest cosigned checkpoint
constexpr std::string_view kEvidencePrefix = "evidence/";

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status::IOError(what + ": " + s.ToString());
}

std::string EvidenceKey(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(n));
  return std::string(kEvidencePrefix) + buf;
}

Answer Reply(unsigned status, std::string reason) {
  return Answer{status, "text/plain; charset=utf-8", std::move(reason) + "\n"};
}

}  // namespace

std::string EvidenceJson(const Evidence& e) {
  json::array proof;
  for (const std::string& p : e.proof) proof.emplace_back(p);
  return json::serialize(json::object{{"origin", e.origin},
                                      {"received_at", e.received_at},
                                      {"reason", e.reason},
                                      {"old_size", e.old_size},
                                      {"proof", std::move(proof)},
                                      {"cosigned", e.cosigned},
                                      {"refused", e.refused}});
}

namespace {

Result<Evidence> EvidenceFromJson(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::Corruption("unreadable evidence record");
  const json::object& o = v.as_object();
  auto str = [&o](const char* k) -> std::string {
    const json::value* x = o.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  auto num = [&o](const char* k) -> uint64_t {
    const json::value* x = o.if_contains(k);
    return x && x->is_uint64() ? x->as_uint64() : x && x->is_int64() ? x->as_int64() : 0;
  };
  Evidence e;
  e.origin = str("origin");
  e.received_at = num("received_at");
  e.reason = str("reason");
  e.old_size = num("old_size");
  e.cosigned = str("cosigned");
  e.refused = str("refused");
  if (const json::value* p = o.if_contains("proof"); p && p->is_array()) {
    for (const json::value& h : p->as_array()) {
      if (h.is_string()) e.proof.emplace_back(h.as_string());
    }
  }
  return e;
}

// Opens the state database without writing anything (the witness may be
// running and holding it).
Result<std::unique_ptr<rocksdb::DB>> OpenReadOnly(const std::string& dir) {
  if (!std::filesystem::exists(dir + "/state/CURRENT")) {
    return Status::NotFound(dir + " holds no witness");
  }
  rocksdb::DB* raw = nullptr;
  LEDGER_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir + "/state", &raw),
                "open " + dir + "/state"));
  return std::unique_ptr<rocksdb::DB>(raw);
}

}  // namespace

Result<std::unique_ptr<Witness>> Witness::Open(Options options) {
  if (!ledger::note::ValidOrigin(options.name)) {
    return Status::InvalidArgument(
        "the witness's name must be a schema-less URL: no spaces, '+' or control characters");
  }
  if (!options.clock) {
    options.clock = [] {
      return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    };
  }
  std::unique_ptr<Witness> w(new Witness());
  for (const std::string& vkey : options.log_keys) {
    Result<ledger::note::Verifier> v = ledger::note::ParseVerifierKey(vkey);
    if (!v.ok()) return Status::InvalidArgument("--log " + vkey + ": " + v.status().message());
    w->logs_[v->name].push_back(std::move(v).value());
  }
  if (w->logs_.empty()) return Status::InvalidArgument("name at least one log (--log VKEY)");
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Status::IOError("cannot create " + options.dir + ": " + ec.message());
  ::chmod(options.dir.c_str(), 0700);
  Result<std::unique_ptr<ledger::Signer>> signer =
      ledger::Signer::LoadOrCreate(options.dir + "/witness.key");
  if (!signer.ok()) return signer.status();
  w->signer_ = std::move(signer).value();

  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  LEDGER_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, options.dir + "/state", &raw),
                                   "open " + options.dir + "/state"));
  w->db_.reset(raw);
  std::string name;
  rocksdb::Status got = w->db_->Get(rocksdb::ReadOptions(), std::string(kName), &name);
  if (got.IsNotFound()) {
    rocksdb::WriteBatch batch;
    batch.Put(std::string(kName), options.name);
    batch.Put(std::string(kVkey), ledger::note::VerifierKey(options.name, w->signer_->public_key(),
                                                            ledger::note::kCosignatureV1));
    rocksdb::WriteOptions sync;
    sync.sync = true;
    LEDGER_RETURN_IF_ERROR(FromRocks(w->db_->Write(sync, &batch), "record the witness's name"));
  } else if (!got.ok()) {
    return FromRocks(got, "read the witness's name");
  } else if (name != options.name) {
    return Status::InvalidArgument("this witness is named " + name + ", not " + options.name +
                                   ": its key id, and every cosignature, depend on the name");
  }
  std::unique_ptr<rocksdb::Iterator> it(w->db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(std::string(kEvidencePrefix));
       it->Valid() && it->key().starts_with(kEvidencePrefix); it->Next()) {
    ++w->evidence_count_;
  }
  w->options_ = std::move(options);
  return w;
}

Witness::~Witness() = default;

std::string Witness::VerifierKey() const {
  return ledger::note::VerifierKey(options_.name, signer_->public_key(),
                                   ledger::note::kCosignatureV1);
}

Result<std::string> Witness::Latest(std::string_view origin) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), std::string(kLogPrefix) + std::string(origin), &value);
  if (s.IsNotFound()) return std::string();
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "read the state"));
  return value;
}

Status Witness::Keep(const Evidence& evidence) {
  rocksdb::WriteOptions sync;
  sync.sync = true;
  LEDGER_RETURN_IF_ERROR(FromRocks(
      db_->Put(sync, EvidenceKey(evidence_count_ + 1), EvidenceJson(evidence)), "keep evidence"));
  ++evidence_count_;
  return Status::Ok();
}

Answer Witness::AddCheckpoint(std::string_view body) {
  namespace note = ledger::note;
  Result<ledger::tlog_witness::AddCheckpoint> request = ledger::tlog_witness::Parse(body);
  if (!request.ok()) return Reply(400, request.status().message());
  Result<note::Note> signed_note = note::Parse(request->checkpoint);
  if (!signed_note.ok()) return Reply(400, "checkpoint: " + signed_note.status().message());
  Result<note::Checkpoint> checkpoint = note::ParseCheckpointText(signed_note->text);
  if (!checkpoint.ok()) return Reply(400, "checkpoint: " + checkpoint.status().message());
  const auto log = logs_.find(checkpoint->origin);
  if (log == logs_.end()) return Reply(404, "this witness does not witness that log");
  // Signatures by keys it does not know are ignored, as tlog-witness says.
  if (std::none_of(log->second.begin(), log->second.end(),
                   [&](const note::Verifier& v) { return note::SignedBy(*signed_note, v); })) {
    return Reply(403, "no signature by the log's key verifies");
  }
  if (request->old_size > checkpoint->size) {
    return Reply(400, "the old size is beyond the checkpoint's size");
  }

  std::lock_guard<std::mutex> lock(mu_);
  Result<std::string> latest_text = Latest(checkpoint->origin);
  if (!latest_text.ok()) return Reply(500, latest_text.status().message());
  note::Checkpoint latest{checkpoint->origin, 0, ledger::EmptyTreeRoot()};
  if (!latest_text->empty()) {
    Result<note::Note> n = note::Parse(*latest_text);
    Result<note::Checkpoint> c =
        n.ok() ? note::ParseCheckpointText(n->text) : Result<note::Checkpoint>(n.status());
    if (!c.ok()) return Reply(500, "the recorded checkpoint is unreadable");
    latest = *c;
  }
  if (request->old_size != latest.size) {
    return Answer{409, std::string(ledger::tlog_witness::kSizeContentType),
                  std::to_string(latest.size) + "\n"};
  }
  Evidence evidence;
  evidence.origin = checkpoint->origin;
  evidence.received_at = options_.clock();
  evidence.cosigned = *latest_text;
  evidence.refused = request->checkpoint;
  evidence.old_size = request->old_size;
  for (const ledger::Hash& h : request->proof) {
    evidence.proof.push_back(note::HashToBase64(h));
  }
  if (checkpoint->size == latest.size && checkpoint->root != latest.root) {
    // Two trees of one size: a fork, unless this witness never cosigned.
    if (!latest_text->empty()) {
      evidence.reason = "a checkpoint of the size already cosigned, with another root";
      if (Status st = Keep(evidence); !st.ok()) return Reply(500, st.message());
    }
    return Answer{409, std::string(ledger::tlog_witness::kSizeContentType),
                  std::to_string(latest.size) + "\n"};
  }
  if (!ledger::VerifyConsistency(latest.size, checkpoint->size, latest.root, checkpoint->root,
                                 request->proof)) {
    if (!latest_text->empty()) {
      evidence.reason = "the consistency proof from the cosigned checkpoint does not verify";
      if (Status st = Keep(evidence); !st.ok()) return Reply(500, st.message());
    }
    return Reply(422, "the consistency proof does not verify");
  }
  if (checkpoint->size > latest.size || latest_text->empty()) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    Status st =
        FromRocks(db_->Put(sync, std::string(kLogPrefix) + checkpoint->origin, request->checkpoint),
                  "record the checkpoint");
    if (!st.ok()) return Reply(500, st.message());
  }
  return Answer{200, "text/plain; charset=utf-8",
                note::Cosign(signed_note->text, options_.name, *signer_, options_.clock())};
}

Result<std::vector<Evidence>> Witness::ReadEvidence(const std::string& dir) {
  Result<std::unique_ptr<rocksdb::DB>> db = OpenReadOnly(dir);
  if (!db.ok()) return db.status();
  std::vector<Evidence> out;
  std::unique_ptr<rocksdb::Iterator> it((*db)->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(std::string(kEvidencePrefix));
       it->Valid() && it->key().starts_with(kEvidencePrefix); it->Next()) {
    Result<Evidence> e = EvidenceFromJson(it->value().ToStringView());
    if (!e.ok()) return e.status();
    out.push_back(std::move(e).value());
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "read evidence"));
  return out;
}

Result<std::string> Witness::ReadVerifierKey(const std::string& dir) {
  Result<std::unique_ptr<rocksdb::DB>> db = OpenReadOnly(dir);
  if (!db.ok()) return db.status();
  std::string vkey;
  LEDGER_RETURN_IF_ERROR(
      FromRocks((*db)->Get(rocksdb::ReadOptions(), std::string(kVkey), &vkey), "read the key"));
  return vkey;
}

// --- HTTP ---

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr size_t kMaxBody = 64 * 1024;  // 63 proof lines and a checkpoint fit many times

// Requests being answered: Serve waits for them before it returns, so the
// witness is not closed under one.
std::atomic<int> busy{0};

void ServeConnection(Witness* witness, tcp::socket socket, std::function<bool()> stop) {
  // A client that stalls holds only its own thread, and not for long.
  timeval timeout{30, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    beast::error_code ec;
    http::read(socket, buffer, parser, ec);
    if (ec) return;
    busy.fetch_add(1);
    struct Done {
      ~Done() { busy.fetch_sub(1); }
    } done;
    if (stop()) return;  // stopping: the request is not answered
    const http::request<http::string_body>& req = parser.get();
    Answer answer;
    if (req.target() != "/add-checkpoint") {
      answer = Reply(404, "this witness answers POST /add-checkpoint only");
    } else if (req.method() != http::verb::post) {
      answer = Reply(405, "add-checkpoint is a POST");
    } else {
      answer = witness->AddCheckpoint(req.body());
    }
    http::response<http::string_body> res{static_cast<http::status>(answer.status), req.version()};
    res.set(http::field::server, "rehab-access-ledger-witness");
    res.set(http::field::content_type, answer.content_type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(answer.body);
    res.prepare_payload();
    http::write(socket, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

}  // namespace

Status Serve(Witness* witness, const std::string& address, uint16_t port,
             const std::function<bool()>& stop, const std::function<void(uint16_t)>& listening) {
  try {
    net::io_context ioc;
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address(address), port));
    acceptor.non_blocking(true);
    listening(acceptor.local_endpoint().port());
    while (!stop()) {
      beast::error_code ec;
      tcp::socket socket(ioc);
      acceptor.accept(socket, ec);
      if (ec == net::error::would_block || ec == net::error::try_again) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      if (ec) continue;
      socket.non_blocking(false);
      // Connections are detached: an idle keep-alive one holds only its
      // thread, and ends with the process.
      std::thread(ServeConnection, witness, std::move(socket), stop).detach();
    }
    while (busy.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return Status::Ok();
  } catch (const std::exception& e) {  // Asio throws on bind and listen
    return Status::IOError("listen on " + address + ":" + std::to_string(port) + ": " + e.what());
  }
}

}  // namespace witness
