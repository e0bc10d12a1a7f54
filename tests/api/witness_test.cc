// Witnesses (SPEC §9, c2sp.org/tlog-witness): the witness's checks on a
// real ledger's checkpoints and proofs (tools/witness), then the ledger's
// witness client and /log/checkpoint against `ledgerctl witness` servers
// over real sockets: a quorum of two, a witness down and back, a 409
// answered by proving again, a fork refused with its evidence kept.
#include "witness.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "api/server.h"
#include "api/service.h"
#include "api/witnesses.h"
#include "http_client.h"
#include "https_files.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/tlog_witness.h"
#include "ledger/view_store.h"
#include "ledgerd_process.h"
#include "projections/projector.h"
#include "test_util.h"

namespace {

namespace note = ledger::note;
using ledger::testing::TempDir;

void AppendReceipts(ledger::Ledger* l, const std::string& prefix, int n) {
  std::vector<ledger::AppendRequest> batch;
  for (int i = 0; i < n; ++i) {
    batch.push_back(ledger::testing::Req(prefix + std::to_string(l->Size() + i),
                                         ledger::testing::T(0), ledger::testing::Received()));
  }
  ASSERT_TRUE(l->Append(batch, ledger::testing::Writer()).ok());
}

std::string Submission(ledger::Ledger* l, uint64_t old_size, uint64_t size) {
  ledger::tlog_witness::AddCheckpoint r;
  r.old_size = old_size;
  if (old_size > 0 && old_size < size) r.proof = *l->ConsistencyProof(old_size, size);
  r.checkpoint = *l->Checkpoint(size);
  return ledger::tlog_witness::Format(r);
}

// A ledger in `dir` signing with the key of the ledger in `like` (a fork:
// the same key, its own history).
std::unique_ptr<ledger::Ledger> OpenWithKeyOf(const std::string& dir, const std::string& like) {
  std::filesystem::create_directories(dir);
  for (const char* f : {"/signing-key.pem", "/signing-key.pem.pub"}) {
    std::filesystem::copy_file(like + f, dir + f);
  }
  auto l = ledger::Ledger::Open(dir);
  EXPECT_TRUE(l.ok());
  return l.ok() ? std::move(l).value() : nullptr;
}

std::unique_ptr<witness::Witness> OpenWitness(const std::string& dir, const std::string& log_vkey) {
  witness::Options o;
  o.dir = dir;
  o.name = "witness.example/w1";
  o.log_keys = {log_vkey};
  o.clock = [] { return uint64_t{1700000000}; };
  auto w = witness::Witness::Open(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(w).value() : nullptr;
}

TEST(WitnessServer, CosignsOnlyWhatExtendsWhatItCosignedAndKeepsIt) {
  TempDir dir;
  auto l = ledger::Ledger::Open(dir.path() + "/log");
  ASSERT_TRUE(l.ok());
  ledger::Ledger& log = **l;
  AppendReceipts(&log, "r", 10);
  auto w = OpenWitness(dir.path() + "/w", log.VerifierKey());
  ASSERT_TRUE(w);
  auto cosigner = note::ParseVerifierKey(w->VerifierKey(), note::kCosignatureV1);
  ASSERT_TRUE(cosigner.ok());

  EXPECT_EQ(w->AddCheckpoint("not a request").status, 400u);
  EXPECT_EQ(w->AddCheckpoint(Submission(&log, 6, 5)).status, 400u);  // old beyond the size
  // Another log's origin: 404. This origin signed by another key: 403.
  auto other = ledger::Ledger::Open(dir.path() + "/other",
                                    ledger::LedgerOptions{.origin = "example.org/other"});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(w->AddCheckpoint(Submission(other->get(), 0, 0)).status, 404u);
  auto impostor = ledger::Ledger::Open(dir.path() + "/impostor");
  ASSERT_TRUE(impostor.ok());
  EXPECT_EQ(w->AddCheckpoint(Submission(impostor->get(), 0, 0)).status, 403u);

  // The first cosignature: a valid cosignature/v1 line of the checkpoint.
  witness::Answer first = w->AddCheckpoint(Submission(&log, 0, 5));
  ASSERT_EQ(first.status, 200u) << first.body;
  auto cosigned = note::Parse(*log.Checkpoint(5) + first.body);
  ASSERT_TRUE(cosigned.ok());
  EXPECT_EQ(note::CosignedBy(*cosigned, *cosigner), std::optional<uint64_t>(1700000000));
  // Not at the size it holds: 409 naming that size.
  witness::Answer stale = w->AddCheckpoint(Submission(&log, 0, 10));
  EXPECT_EQ(stale.status, 409u);
  EXPECT_EQ(stale.content_type, "text/x.tlog.size");
  EXPECT_EQ(stale.body, "5\n");
  // A proof that does not verify: 422; then the right one: 200.
  ledger::tlog_witness::AddCheckpoint wrong;
  wrong.old_size = 5;
  wrong.proof = *log.ConsistencyProof(4, 10);
  wrong.checkpoint = *log.Checkpoint(10);
  EXPECT_EQ(w->AddCheckpoint(ledger::tlog_witness::Format(wrong)).status, 422u);
  EXPECT_EQ(w->AddCheckpoint(Submission(&log, 5, 10)).status, 200u);
  // The same checkpoint again is cosigned again.
  EXPECT_EQ(w->AddCheckpoint(Submission(&log, 10, 10)).status, 200u);

  // Its state survives a restart.
  w.reset();
  w = OpenWitness(dir.path() + "/w", log.VerifierKey());
  ASSERT_TRUE(w);
  EXPECT_EQ(w->AddCheckpoint(Submission(&log, 0, 10)).body, "10\n");
  // Under another name it is another cosigner key: refused.
  witness::Options renamed;
  renamed.dir = dir.path() + "/w";
  renamed.name = "witness.example/w9";
  renamed.log_keys = {log.VerifierKey()};
  w.reset();
  EXPECT_FALSE(witness::Witness::Open(renamed).ok());
  // The proof that did not verify was kept: it might show a fork.
  auto evidence = witness::Witness::ReadEvidence(dir.path() + "/w");
  ASSERT_TRUE(evidence.ok());
  ASSERT_EQ(evidence->size(), 1u);
  EXPECT_EQ(evidence->at(0).refused, *log.Checkpoint(10));
  EXPECT_EQ(evidence->at(0).cosigned, *log.Checkpoint(5));
  EXPECT_EQ(evidence->at(0).received_at, 1700000000u);
}

TEST(WitnessServer, AForkUnderTheSameKeyIsRefusedWithBothCheckpointsKept) {
  TempDir dir;
  auto l = ledger::Ledger::Open(dir.path() + "/log");
  ASSERT_TRUE(l.ok());
  AppendReceipts(l->get(), "r", 10);
  auto fork = OpenWithKeyOf(dir.path() + "/fork", dir.path() + "/log");
  ASSERT_TRUE(fork);
  AppendReceipts(fork.get(), "f", 12);
  ASSERT_EQ(fork->VerifierKey(), (*l)->VerifierKey());
  auto w = OpenWitness(dir.path() + "/w", (*l)->VerifierKey());
  ASSERT_TRUE(w);
  ASSERT_EQ(w->AddCheckpoint(Submission(l->get(), 0, 10)).status, 200u);
  // The fork's tree of the same size: 409; its larger tree, proved from
  // its own tree of 10: 422. Both kept, with what was cosigned.
  EXPECT_EQ(w->AddCheckpoint(Submission(fork.get(), 10, 10)).status, 409u);
  EXPECT_EQ(w->AddCheckpoint(Submission(fork.get(), 10, 12)).status, 422u);
  auto evidence = witness::Witness::ReadEvidence(dir.path() + "/w");
  ASSERT_TRUE(evidence.ok()) << evidence.status().ToString();
  ASSERT_EQ(evidence->size(), 2u);
  for (const witness::Evidence& e : *evidence) {
    EXPECT_EQ(e.cosigned, *(*l)->Checkpoint(10));
    EXPECT_EQ(e.old_size, 10u);
    EXPECT_EQ(e.origin, (*l)->origin());
  }
  EXPECT_EQ(evidence->at(0).refused, *fork->Checkpoint(10));
  EXPECT_EQ(evidence->at(1).refused, *fork->Checkpoint(12));
  EXPECT_EQ(evidence->at(1).proof.size(), fork->ConsistencyProof(10, 12)->size());
  // The honest log goes on being cosigned.
  AppendReceipts(l->get(), "r", 3);
  EXPECT_EQ(w->AddCheckpoint(Submission(l->get(), 10, 13)).status, 200u);
}

// A log that rotates its key: the witness named with both keys cosigns the
// checkpoints of either, consistent across the rotation; named with the
// old key alone, it refuses the new key's (403).
TEST(WitnessServer, ALogNamedByTwoKeysIsCosignedAcrossItsKeyRotation) {
  TempDir dir;
  const std::string data = dir.path() + "/log", new_key = dir.path() + "/new.pem";
  std::string old_vkey, new_vkey, before;
  {
    auto l = ledger::Ledger::Open(data);
    ASSERT_TRUE(l.ok());
    AppendReceipts(l->get(), "r", 5);
    old_vkey = (*l)->VerifierKey();
    before = Submission(l->get(), 0, 5);
  }
  ledger::LedgerOptions rotate;
  rotate.signing_key_file = new_key;
  rotate.adopt_signing_key = true;
  auto l = ledger::Ledger::Open(data, rotate);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  new_vkey = (*l)->VerifierKey();
  AppendReceipts(l->get(), "r", 3);
  auto old_only = OpenWitness(dir.path() + "/old", old_vkey);
  ASSERT_TRUE(old_only);
  witness::Options o;
  o.dir = dir.path() + "/both";
  o.name = "witness.example/w1";
  o.log_keys = {old_vkey, new_vkey};
  o.clock = [] { return uint64_t{1700000000}; };
  auto reopened = witness::Witness::Open(o);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->AddCheckpoint(before).status, 200u);
  EXPECT_EQ((*reopened)->AddCheckpoint(Submission(l->get(), 5, 8)).status, 200u);
  EXPECT_EQ(old_only->AddCheckpoint(before).status, 200u);
  EXPECT_EQ(old_only->AddCheckpoint(Submission(l->get(), 5, 8)).status, 403u);
}

// A witness reached over https: its certificate checked against
// --witness-ca (or the system's roots, which do not hold the test CA).
TEST(WitnessClient, SubmitsToAnHttpsWitnessWhoseCertificateItTrusts) {
  TempDir dir;
  const std::string ca = dir.path() + "/ca";
  ASSERT_EQ(std::system((std::string(MAKE_TEST_CA) + " " + ca).c_str()), 0);
  auto l = ledger::Ledger::Open(dir.path() + "/log");
  ASSERT_TRUE(l.ok());
  AppendReceipts(l->get(), "r", 7);
  auto w = OpenWitness(dir.path() + "/w", (*l)->VerifierKey());
  ASSERT_TRUE(w);
  api::testing::HttpsFiles tls(ca + "/server.pem", ca + "/server.key");
  tls.OnPost([&](const std::string& target, const std::string& body) {
    if (target != "/w1/add-checkpoint") return api::testing::HttpsFiles::Answer{404, "", ""};
    witness::Answer a = w->AddCheckpoint(body);
    return api::testing::HttpsFiles::Answer{a.status, a.content_type, a.body};
  });
  for (const bool trusted : {false, true}) {
    api::WitnessOptions o;
    o.witnesses = {{"w1", tls.url() + "/w1", w->VerifierKey()}};
    o.interval = std::chrono::milliseconds(20);
    if (trusted) o.ca_file = ca + "/ca.pem";
    auto client = api::Witnesses::Open(l->get(), o);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    (*client)->Start();
    for (int i = 0; i < 200 && (*client)->PublishedSize() < 7; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ((*client)->PublishedSize(), trusted ? 7u : 0u) << (trusted ? "trusted" : "untrusted");
    if (!trusted) {
      EXPECT_GT((*client)->States().at(0).failures, 0u);
    }
  }
}

// --- the client, over sockets, against `ledgerctl witness` processes ---

struct WitnessProcess {
  pid_t pid = -1;
  uint16_t port = 0;
  std::string vkey;
};

// Starts `ledgerctl witness` on a free port and reads what it prints.
WitnessProcess StartWitness(const std::string& dir, const std::string& name,
                            const std::string& log_vkey, uint16_t port = 0) {
  int out = -1;
  const pid_t pid =
      ledger::testing::SpawnProgram(LEDGERCTL_PATH,
                                    {"witness", "--data", dir, "--name", name, "--listen",
                                     "127.0.0.1:" + std::to_string(port), "--log", log_vkey},
                                    STDOUT_FILENO, &out);
  if (pid < 0) return {};
  WitnessProcess w;
  w.pid = pid;
  std::string text;
  char buf[512];
  while (text.find("/add-checkpoint\n") == std::string::npos) {
    const ssize_t n = read(out, buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(out);
  const size_t key = text.find("cosigner key: ");
  const size_t at = text.find("listening on http://127.0.0.1:");
  if (key == std::string::npos || at == std::string::npos) return w;
  w.vkey = text.substr(key + 14, text.find('\n', key) - key - 14);
  w.port = static_cast<uint16_t>(std::stoul(text.substr(at + 30)));
  return w;
}

void StopWitness(WitnessProcess* w) {
  if (w->pid <= 0) return;
  kill(w->pid, SIGTERM);
  int status = 0;
  waitpid(w->pid, &status, 0);
  w->pid = -1;
}

class WitnessedLog : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = ledger::Ledger::Open(dir_.path() + "/log");
    ASSERT_TRUE(opened.ok());
    ledger_ = std::move(opened).value();
    for (int i = 0; i < 2; ++i) {
      witnesses_[i] = StartWitness(dir_.path() + "/w" + std::to_string(i),
                                   "witness.example/w" + std::to_string(i), ledger_->VerifierKey());
      ASSERT_GT(witnesses_[i].port, 0) << "ledgerctl witness did not start";
    }
    auto p = projections::Projector::Open(ledger_.get());
    ASSERT_TRUE(p.ok());
    projector_ = std::move(p).value();
    projector_->Start();
    StartService();
  }
  void TearDown() override {
    StopService();
    for (WitnessProcess& w : witnesses_) StopWitness(&w);
  }

  void StartService() {
    api::WitnessOptions o;
    for (int i = 0; i < 2; ++i) {
      o.witnesses.push_back({"w" + std::to_string(i),
                             "http://127.0.0.1:" + std::to_string(witnesses_[i].port),
                             witnesses_[i].vkey});
    }
    o.interval = std::chrono::milliseconds(50);
    o.timeout = std::chrono::milliseconds(2000);
    auto w = api::Witnesses::Open(ledger_.get(), o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    client_ = std::move(w).value();
    client_->Start();
    api::ServiceOptions so;
    so.witnesses = client_.get();
    auto tokens =
        api::TokenStore::Parse(R"({"tokens":[{"name":"r","role":"regulator","sha256":")" +
                               ledger::ToHex(ledger::Sha256(std::string("tok-reg"))) + R"("}]})");
    ASSERT_TRUE(tokens.ok());
    service_ = std::make_unique<api::Service>(ledger_.get(), projector_.get(),
                                              std::move(tokens).value(), so);
    api::ServerOptions server_options;
    server_options.port = 0;
    server_ = std::make_unique<api::Server>(service_.get(), server_options);
    ASSERT_TRUE(server_->Start().ok());
  }
  void StopService() {
    if (server_) server_->Stop();
    server_.reset();
    service_.reset();
    client_.reset();
  }

  http_client::Reply Get(const std::string& target) {
    http_client::Endpoint to;
    to.port = std::to_string(server_->port());
    auto r = http_client::Call(to, {"GET", target, "tok-reg", ""});
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : http_client::Reply{};
  }
  // The size of the checkpoint /log/checkpoint serves once it reaches
  // `size`, or the last one seen after 10 s.
  uint64_t WaitPublished(uint64_t size) {
    uint64_t seen = 0;
    for (int i = 0; i < 400; ++i) {
      http_client::Reply r = Get("/log/checkpoint");
      if (r.status == 200) {
        auto n = note::Parse(r.body);
        if (n.ok()) seen = note::ParseCheckpointText(n->text)->size;
        if (seen >= size) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return seen;
  }
  // How many of the two witnesses cosigned the served checkpoint.
  int Cosigners() {
    auto n = note::Parse(Get("/log/checkpoint").body);
    if (!n.ok()) return -1;
    EXPECT_TRUE(note::SignedBy(*n, *note::ParseVerifierKey(ledger_->VerifierKey())));
    int count = 0;
    for (const WitnessProcess& w : witnesses_) {
      count += note::CosignedBy(*n, *note::ParseVerifierKey(w.vkey, note::kCosignatureV1)) ? 1 : 0;
    }
    return count;
  }

  TempDir dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<projections::Projector> projector_;
  WitnessProcess witnesses_[2];
  std::unique_ptr<api::Witnesses> client_;
  std::unique_ptr<api::Service> service_;
  std::unique_ptr<api::Server> server_;
};

TEST_F(WitnessedLog, OnlyCheckpointsBothWitnessesCosignedArePublished) {
  EXPECT_EQ(WaitPublished(0), 0u);  // the empty tree, cosigned too
  AppendReceipts(ledger_.get(), "r", 300);
  ASSERT_EQ(WaitPublished(300), 300u);
  EXPECT_EQ(Cosigners(), 2);
  http_client::Reply metrics = Get("/metrics");
  EXPECT_NE(metrics.body.find("ledger_witness_cosigned_size{witness=\"w0\"} 300"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("ledger_witness_lag_events{witness=\"w1\"} 0"), std::string::npos);
  EXPECT_NE(metrics.body.find("ledger_checkpoint_published_size 300"), std::string::npos);

  // The head names the witnesses and the quorum, for a reader to compare.
  boost::json::object head = boost::json::parse(Get("/v1/ledger/head").body).as_object();
  EXPECT_EQ(head.at("witness_quorum").to_number<int>(), 2);
  ASSERT_EQ(head.at("witnesses").as_array().size(), 2u);
  EXPECT_EQ(head.at("witnesses").as_array()[1].at("vkey").as_string(), witnesses_[1].vkey);
  EXPECT_EQ(head.at("witnesses").as_array()[1].at("name").as_string(), "w1");

  // A view's answer is tied to the witnessed checkpoint: its own checkpoint
  // (of as_of_seq events), the witnessed one, and the consistency proof
  // between them, all checkable with the keys alone.
  AppendReceipts(ledger_.get(), "r", 7);
  ASSERT_EQ(WaitPublished(307), 307u);
  AppendReceipts(ledger_.get(), "r", 3);
  for (int i = 0; i < 100 && projector_->applied() < 310; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  http_client::Reply view = Get("/v1/areas?as_of=305");
  ASSERT_EQ(view.status, 200u) << view.body;
  boost::json::object o = boost::json::parse(view.body).as_object();
  const uint64_t as_of = o.at("as_of_seq").to_number<uint64_t>();
  EXPECT_EQ(as_of, 305u);
  auto own = note::Parse(std::string(o.at("checkpoint").as_string()));
  ASSERT_TRUE(own.ok());
  EXPECT_TRUE(note::SignedBy(*own, *note::ParseVerifierKey(ledger_->VerifierKey())));
  const note::Checkpoint mine = *note::ParseCheckpointText(own->text);
  EXPECT_EQ(mine.size, as_of);
  auto witnessed = note::Parse(std::string(o.at("witnessed_checkpoint").as_string()));
  ASSERT_TRUE(witnessed.ok());
  for (const WitnessProcess& w : witnesses_) {
    EXPECT_TRUE(
        note::CosignedBy(*witnessed, *note::ParseVerifierKey(w.vkey, note::kCosignatureV1)));
  }
  const note::Checkpoint theirs = *note::ParseCheckpointText(witnessed->text);
  EXPECT_GE(theirs.size, 307u);
  const boost::json::object& c = o.at("consistency").as_object();
  EXPECT_EQ(c.at("from").to_number<uint64_t>(), mine.size);
  EXPECT_EQ(c.at("to").to_number<uint64_t>(), theirs.size);
  std::vector<ledger::Hash> proof;
  for (const boost::json::value& h : c.at("proof").as_array()) {
    std::optional<ledger::Hash> hash = note::HashFromBase64(h.as_string());
    ASSERT_TRUE(hash);
    proof.push_back(*hash);
  }
  EXPECT_TRUE(ledger::VerifyConsistency(mine.size, theirs.size, mine.root, theirs.root, proof));
  // A proof from another tree does not bind it.
  EXPECT_FALSE(ledger::VerifyConsistency(mine.size, theirs.size, ledger::Sha256(std::string("x")),
                                         theirs.root, proof));
}

TEST_F(WitnessedLog, AWitnessDownHoldsPublicationNotAppends) {
  AppendReceipts(ledger_.get(), "r", 10);
  ASSERT_EQ(WaitPublished(10), 10u);
  StopWitness(&witnesses_[1]);
  const auto start = std::chrono::steady_clock::now();
  AppendReceipts(ledger_.get(), "r", 10);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(ledger_->Size(), 20u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(WaitPublished(10), 10u);  // still the last checkpoint both cosigned
  EXPECT_EQ(Cosigners(), 2);
  EXPECT_GT(client_->States()[1].failures, 0u);
  EXPECT_EQ(client_->States()[0].cosigned_size, 20u);
  // Back on its port with its state: publication resumes.
  witnesses_[1] = StartWitness(dir_.path() + "/w1", "witness.example/w1", ledger_->VerifierKey(),
                               witnesses_[1].port);
  ASSERT_GT(witnesses_[1].port, 0);
  EXPECT_EQ(WaitPublished(20), 20u);
  EXPECT_EQ(Cosigners(), 2);
}

TEST_F(WitnessedLog, AWitnessAheadOfWhatTheLogKeptIsAnsweredByProvingFromItsSize) {
  AppendReceipts(ledger_.get(), "r", 40);
  ASSERT_EQ(WaitPublished(40), 40u);
  // The log forgets what the witnesses cosigned (as after restoring an
  // older copy of its store): it submits from 0, each witness answers 409
  // with 40, and the log proves from 40.
  StopService();
  auto store = ledger_->OpenViewStore("witnesses");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Clear().ok());
  AppendReceipts(ledger_.get(), "r", 5);
  StartService();
  EXPECT_EQ(WaitPublished(45), 45u);
  EXPECT_EQ(Cosigners(), 2);
  for (const api::WitnessStatus& s : client_->States()) EXPECT_EQ(s.failures, 0u) << s.name;
}

TEST_F(WitnessedLog, NothingIsPublishedWithoutTheQuorumAndAForkIsRefused) {
  AppendReceipts(ledger_.get(), "r", 10);
  ASSERT_EQ(WaitPublished(10), 10u);
  // Another history under the same key, served by another ledgerd to the
  // same witnesses: refused, with the evidence kept by each.
  StopService();
  auto fork = OpenWithKeyOf(dir_.path() + "/fork", dir_.path() + "/log");
  ASSERT_TRUE(fork);
  AppendReceipts(fork.get(), "f", 12);
  api::WitnessOptions o;
  for (int i = 0; i < 2; ++i) {
    o.witnesses.push_back({"w" + std::to_string(i),
                           "http://127.0.0.1:" + std::to_string(witnesses_[i].port),
                           witnesses_[i].vkey});
  }
  auto forked = api::Witnesses::Open(fork.get(), o);
  ASSERT_TRUE(forked.ok());
  EXPECT_FALSE((*forked)->RunRound());
  EXPECT_FALSE((*forked)->Published().has_value());
  for (const api::WitnessStatus& s : (*forked)->States()) {
    EXPECT_EQ(s.failures, 1u) << s.name;
    EXPECT_NE(s.last_error.find("HTTP 422"), std::string::npos) << s.last_error;
  }
  // `ledgerctl witness evidence` reads it beside the running witness.
  FILE* p = popen(
      (std::string(LEDGERCTL_PATH) + " witness evidence --data " + dir_.path() + "/w0 2>/dev/null")
          .c_str(),
      "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0);
  EXPECT_NE(out.find("\"reason\":\"the consistency proof from the cosigned checkpoint"),
            std::string::npos)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  // A quorum the witnesses cannot give holds /log/checkpoint at 503.
  StopWitness(&witnesses_[0]);
  StopWitness(&witnesses_[1]);
  auto store = ledger_->OpenViewStore("witnesses");
  ASSERT_TRUE((*store)->Clear().ok());
  StartService();
  http_client::Reply none = Get("/log/checkpoint");
  EXPECT_EQ(none.status, 503u);
  EXPECT_EQ(none.Header("Retry-After"), "1");
}

}  // namespace
