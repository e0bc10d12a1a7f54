// The ledgerd binary itself: it starts on a data directory and a tokens
// file, serves, and on SIGTERM stops gracefully with every acknowledged
// event on disk.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "http_client.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/note.h"
#include "ledgerd_process.h"
#include "test_util.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

struct Reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

// One request on a connection of its own, with the partnership's token.
Reply Request(uint16_t port, http::verb verb, const std::string& target, const std::string& body) {
  http_client::Endpoint to;
  to.port = std::to_string(port);
  auto got =
      http_client::Call(to, {std::string(http::to_string(verb)), target, "t-partnership", body});
  if (!got.ok()) {
    ADD_FAILURE() << target << ": " << got.status().ToString();
    return {};
  }
  return {got->status, got->Header("Content-Type"), got->body};
}

std::string Received(const std::string& id) {
  return R"({"type":"referral.received","referral_id":")" + id +
         R"(","occurred_at":"2025-01-01T00:00:00Z","data":{"person":"p0000001a","area":"E08000002","referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}})";
}

// Starts LEDGERD_PATH with `args`, its descriptor `fd` (stdout or stderr)
// going to a pipe whose read end is put in *read_end. Returns the pid, or
// -1 when it could not be started.
pid_t SpawnLedgerd(const std::vector<std::string>& args, int fd, int* read_end) {
  return ledger::testing::SpawnProgram(LEDGERD_PATH, args, fd, read_end);
}

// A ledgerd process on `data`, with a partnership token "t-partnership"
// for E08000002, on a free port read from its first log line.
class LedgerdProcess : public ledger::testing::LedgerdProcess {
 public:
  LedgerdProcess(const std::string& data, const std::string& tokens,
                 const std::vector<std::string>& extra = {})
      : ledger::testing::LedgerdProcess(LEDGERD_PATH, Args(data, tokens, extra)) {}

 private:
  static std::vector<std::string> Args(const std::string& data, const std::string& tokens,
                                       const std::vector<std::string>& extra) {
    std::ofstream(tokens)
        << R"({"tokens":[{"name":"p","role":"partnership","areas":["E08000002"],"sha256":")"
        << ledger::ToHex(ledger::Sha256("t-partnership")) << "\"}]}";
    std::vector<std::string> args = {"--data", data, "--tokens", tokens};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

TEST(Ledgerd, ServesAndStopsGracefullyOnSigterm) {
  ledger::testing::TempDir dir;
  LedgerdProcess server(dir.path() + "/data", dir.path() + "/tokens.json");
  ASSERT_NE(server.port(), 0) << "ledgerd exited: " << server.log();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(
        Request(server.port(), http::verb::post, "/v1/events", Received("d" + std::to_string(i)))
            .status,
        201u);
  }
  const int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(server.log().find("ledgerd stopped"), std::string::npos) << server.log();
  EXPECT_EQ(server.log().find("Bearer"), std::string::npos);  // the log never holds a token
  // What it wrote is its owner's alone: directories 0700, files 0600.
  namespace fs = std::filesystem;
  const auto others = fs::perms::group_all | fs::perms::others_all;
  size_t files = 0;
  EXPECT_EQ(fs::status(dir.path() + "/data").permissions() & others, fs::perms::none);
  for (const auto& entry : fs::recursive_directory_iterator(dir.path() + "/data")) {
    EXPECT_EQ(entry.status().permissions() & others, fs::perms::none) << entry.path();
    files += entry.is_regular_file();
  }
  EXPECT_GT(files, 5u);
  // Every acknowledged event is there, and the ledger verifies.
  auto ledger = ledger::Ledger::Open(dir.path() + "/data");
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ((*ledger)->Size(), 20u);
  EXPECT_TRUE((*ledger)->Verify().ok);
}

// A small filesystem of its own (a 64 MiB tmpfs), filled up under a
// running server: appends answer 503 and write nothing, reads go on, and
// appends resume once space is freed.
TEST(Ledgerd, FullDiskRefusesAppendsWholeAndRecovers) {
  ledger::testing::TempDir dir;
  const std::string fs = dir.path() + "/fs";
  std::filesystem::create_directories(fs);
  if (mount("tmpfs", fs.c_str(), "tmpfs", 0, "size=64m") != 0) {
    GTEST_SKIP() << "cannot mount a small filesystem here (needs root): " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{fs};
  LedgerdProcess server(fs + "/data", dir.path() + "/tokens.json", {"--min-free-mb", "16"});
  ASSERT_NE(server.port(), 0) << "ledgerd exited: " << server.log();
  ASSERT_EQ(Request(server.port(), http::verb::post, "/v1/events", Received("f1")).status, 201u);

  // Leave 8 MiB free: below the 16 MiB the server keeps in hand.
  struct statvfs st;
  ASSERT_EQ(statvfs(fs.c_str(), &st), 0);
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  ASSERT_GT(free_bytes, 8u << 20);
  {
    std::ofstream filler(fs + "/filler", std::ios::binary);
    const std::string chunk(1 << 20, 'x');
    for (uint64_t left = free_bytes - (8u << 20); left > 0;) {
      const uint64_t n = std::min<uint64_t>(left, chunk.size());
      filler.write(chunk.data(), static_cast<std::streamsize>(n));
      left -= n;
    }
    ASSERT_TRUE(filler.good());
  }
  const std::string batch = "{\"events\":[" + Received("f2") + "," + Received("f3") + "]}";
  Reply full = Request(server.port(), http::verb::post, "/v1/events/batch", batch);
  EXPECT_EQ(full.status, 503u) << full.body;
  EXPECT_EQ(full.content_type, "application/problem+json");
  EXPECT_NE(full.body.find("the disk holding the ledger is full"), std::string::npos) << full.body;
  EXPECT_EQ(Request(server.port(), http::verb::post, "/v1/events", Received("f4")).status, 503u);
  // Reads go on, and nothing of the refused requests is there.
  EXPECT_EQ(Request(server.port(), http::verb::get, "/v1/referrals/f1", "").status, 200u);
  EXPECT_EQ(Request(server.port(), http::verb::get, "/v1/referrals/f2", "").status, 404u);

  // Space returns: the same requests now go through.
  std::filesystem::remove(fs + "/filler");
  Reply again = Request(server.port(), http::verb::post, "/v1/events/batch", batch);
  EXPECT_EQ(again.status, 201u) << again.body;
  EXPECT_EQ(Request(server.port(), http::verb::post, "/v1/events", Received("f4")).status, 201u);
  const int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.log();
  auto ledger = ledger::Ledger::Open(fs + "/data");
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ((*ledger)->Size(), 4u);
  EXPECT_TRUE((*ledger)->Verify().ok);
}

struct Exit {
  int code = -1;  // the exit status, or -1 when it did not exit by itself
  std::string err;
};

// Runs ledgerd with `args` and its standard error captured. A server that
// starts (when it should not have) is killed after 10 s and reported as -1.
Exit RunLedgerd(const std::vector<std::string>& args) {
  int err = -1;
  const pid_t child = SpawnLedgerd(args, STDERR_FILENO, &err);
  if (child < 0) return {};
  Exit e;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      close(err);
      return e;
    }
    usleep(10000);
  }
  char buf[512];
  for (ssize_t n; (n = read(err, buf, sizeof buf)) > 0;) e.err.append(buf, static_cast<size_t>(n));
  close(err);
  e.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return e;
}

class LedgerdStart : public ::testing::Test {
 protected:
  void SetUp() override {
    tokens_ = dir_.path() + "/tokens.json";
    std::ofstream(tokens_) << R"({"tokens":[{"name":"p","role":"regulator","sha256":")"
                           << ledger::ToHex(ledger::Sha256("t")) << "\"}]}";
    data_ = dir_.path() + "/data";
  }
  // Expects ledgerd to refuse to start, exit 2, and say `why` on stderr.
  void ExpectRefused(const std::vector<std::string>& args, const std::string& why) {
    Exit e = RunLedgerd(args);
    EXPECT_EQ(e.code, 2) << e.err;
    EXPECT_NE(e.err.find("ledgerd: "), std::string::npos) << e.err;
    EXPECT_NE(e.err.find(why), std::string::npos) << e.err;
  }
  ledger::testing::TempDir dir_;
  std::string tokens_, data_;
};

TEST_F(LedgerdStart, TokensFileMissingOrMalformed) {
  ExpectRefused({"--data", data_, "--tokens", dir_.path() + "/none.json"}, "none.json");
  std::ofstream(dir_.path() + "/bad.json") << R"({"tokens":[{"name":"x","role":"king"}]})";
  ExpectRefused({"--data", data_, "--tokens", dir_.path() + "/bad.json"}, "role");
  std::ofstream(dir_.path() + "/text.json") << "tokens: all of them";
  ExpectRefused({"--data", data_, "--tokens", dir_.path() + "/text.json"}, "invalid_argument");
}

TEST_F(LedgerdStart, DataDirectoryUnusableOrCorrupt) {
  // A path that cannot be a directory (root ignores permissions, so a
  // regular file stands in its way).
  std::ofstream(dir_.path() + "/file") << "x";
  ExpectRefused({"--data", dir_.path() + "/file/data", "--tokens", tokens_}, "data");
  ExpectRefused({"--data", dir_.path() + "/file", "--tokens", tokens_}, "file");
  // A ledger whose database files are damaged.
  {
    auto l = ledger::Ledger::Open(data_);
    ASSERT_TRUE(l.ok());
  }
  std::ofstream(data_ + "/rocksdb/CURRENT", std::ios::trunc) << "MANIFEST-999999\n";
  ExpectRefused({"--data", data_, "--tokens", tokens_}, "MANIFEST");
  // A damaged signing key.
  const std::string data2 = dir_.path() + "/data2";
  {
    auto l = ledger::Ledger::Open(data2);
    ASSERT_TRUE(l.ok());
  }
  std::ofstream(data2 + "/signing-key.pem", std::ios::trunc) << "not a key";
  ExpectRefused({"--data", data2, "--tokens", tokens_}, "key");
}

TEST_F(LedgerdStart, PortInUseOrBadOptions) {
  net::io_context ioc;
  net::ip::tcp::acceptor taken(ioc, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const std::string port = std::to_string(taken.local_endpoint().port());
  ExpectRefused({"--data", data_, "--tokens", tokens_, "--port", port}, "cannot listen");
  ExpectRefused({"--data", data_, "--tokens", tokens_, "--port", "eighty"}, "--port");
  ExpectRefused({"--data", data_, "--tokens", tokens_, "--port", "70000"}, "--port");
  ExpectRefused({"--data", data_, "--tokens", tokens_, "--threads", "0"}, "--threads");
  ExpectRefused({"--data", data_, "--tokens", tokens_, "--log-level", "loud"}, "--log-level");
  ExpectRefused({"--data", data_, "--tokens", tokens_, "--colour", "red"}, "--colour");
  ExpectRefused({"--tokens", tokens_}, "--data");
  ExpectRefused({"--data", data_, "--tokens", tokens_, "--config", dir_.path() + "/none.json"},
                "config");
}

}  // namespace

namespace {

// Replication flags, and a control socket that cannot be, are refused at
// start with what is wrong.
TEST_F(LedgerdStart, BadReplicationFlagsAreRefused) {
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args{"--data", data_, "--tokens", tokens_};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  ExpectRefused(with({"--standby", "http://127.0.0.1:9", "--replication", "eventually"}),
                "--replication must be sync or async");
  ExpectRefused(with({"--replication", "async"}), "--replication and --replication-wait-ms need");
  ExpectRefused(with({"--standby", "http://127.0.0.1:9", "--replication-wait-ms", "0"}),
                "--replication-wait-ms must be");
  ExpectRefused(with({"--token", "t"}), "--token and --advertise are a standby's");
  ExpectRefused(with({"--standby", "=http://127.0.0.1:9"}), "--standby is URL or NAME=URL");
  ExpectRefused(with({"--standby-of", "ftp://127.0.0.1:9", "--token", "t"}),
                "--standby-of must be http[s]://");
  ExpectRefused(with({"--standby-of", "http://127.0.0.1:9"}), "--standby-of needs --token");
  ExpectRefused(with({"--control-socket", "/tmp/" + std::string(200, 's')}),
                "the control socket's path must be");
  ExpectRefused(with({"--control-socket", tokens_}), "holds a file that is not a socket");
}

// Witnesses (SPEC §9) named wrongly are refused at start, on the command
// line and in the config file, with what is wrong.
TEST_F(LedgerdStart, BadWitnessesAreRefused) {
  const std::string key = "w.example+12345678+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args{"--data", data_, "--tokens", tokens_};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  ExpectRefused(with({"--witness", "w1,http://127.0.0.1:9"}), "NAME,URL,VKEY");
  ExpectRefused(with({"--witness", "w 1,http://127.0.0.1:9," + key}), "NAME is");
  ExpectRefused(with({"--witness", "w1,ftp://example.org," + key}), "URL must be http[s]://");
  ExpectRefused(with({"--witness", "w1,https://u:p@example.org," + key}), "URL must be http[s]://");
  ExpectRefused(with({"--witness", "w1,http://127.0.0.1:9," + key}), "id does not match");
  // A log's key (type 0x01) is not a witness's.
  const std::string log_key = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  ExpectRefused(with({"--witness", "w1,http://127.0.0.1:9," + log_key}), "cosignature/v1");
  ExpectRefused(with({"--witness-quorum", "1"}),
                "--witness-quorum and --witness-ca need --witness");
  ExpectRefused(with({"--witness-ca", "ca.pem"}),
                "--witness-quorum and --witness-ca need --witness");
  const std::string valid =
      ledger::note::VerifierKey("w.example", std::string(32, 'k'), ledger::note::kCosignatureV1);
  ExpectRefused(with({"--witness", "w1,http://127.0.0.1:9," + valid, "--witness-quorum", "2"}),
                "more than the 1 witnesses named");
  ExpectRefused(with({"--witness", "w1,http://127.0.0.1:9," + valid, "--witness",
                      "w1,http://127.0.0.1:10," + valid}),
                "two witnesses are named w1");
  ExpectRefused(with({"--checkpoint-interval-ms", "5"}), "--checkpoint-interval-ms");
  // In a config file, one witness is a string, more a list.
  std::ofstream(dir_.path() + "/config.json") << R"({"witness": "w1,http://127.0.0.1:9,x"})";
  ExpectRefused(with({"--config", dir_.path() + "/config.json"}), "a verifier key is");
  std::ofstream(dir_.path() + "/config1.json") << R"({"witness": 3})";
  ExpectRefused(with({"--config", dir_.path() + "/config1.json"}),
                "\"witness\" is a string or a list of strings");
  std::ofstream(dir_.path() + "/config2.json") << R"({"witness": ["w1,http://127.0.0.1:9"]})";
  ExpectRefused(with({"--config", dir_.path() + "/config2.json"}), "NAME,URL,VKEY");
}

}  // namespace

namespace {

// SIGHUP reads the tokens file again: a credential added works and one
// taken out does not; a file that does not read is refused, and the
// credentials in use stay.
TEST(Ledgerd, SighupReadsTheTokensFileAgain) {
  ledger::testing::TempDir dir;
  const std::string tokens = dir.path() + "/tokens.json";
  LedgerdProcess server(dir.path() + "/data", tokens);
  ASSERT_NE(server.port(), 0) << server.log();
  auto me = [&](const std::string& token) {
    http_client::Endpoint to;
    to.port = std::to_string(server.port());
    auto r = http_client::Call(to, {"GET", "/v1/me", token, ""});
    return r.ok() ? r->status : 0u;
  };
  ASSERT_EQ(me("t-partnership"), 200u);
  std::ofstream(tokens, std::ios::trunc)
      << R"({"tokens":[{"name":"r","role":"regulator","sha256":")"
      << ledger::ToHex(ledger::Sha256("t-regulator")) << "\"}]}";
  server.Signal(SIGHUP);
  bool reloaded = false;
  for (int i = 0; i < 200 && !reloaded; ++i) {
    usleep(10000);
    reloaded = me("t-regulator") == 200;
  }
  EXPECT_TRUE(reloaded);
  EXPECT_EQ(me("t-partnership"), 401u);
  std::ofstream(tokens, std::ios::trunc) << R"({"tokens":[{"name":"x","role":"king"}]})";
  server.Signal(SIGHUP);
  usleep(300000);
  EXPECT_EQ(me("t-regulator"), 200u);
  server.Stop();
  EXPECT_NE(server.log().find("tokens file refused, the credentials in use kept"),
            std::string::npos)
      << server.log();
  EXPECT_NE(server.log().find("1 credentials read again"), std::string::npos);
}

}  // namespace
