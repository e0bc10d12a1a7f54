// The ledgerd binary itself: it starts on a data directory and a tokens
// file, serves, and on SIGTERM stops gracefully with every acknowledged
// event on disk.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <fstream>
#include <regex>

#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "test_util.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

unsigned Request(uint16_t port, http::verb verb, const std::string& target, const std::string& body) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req(verb, target, 11);
  req.set(http::field::authorization, "Bearer t-partnership");
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return res.result_int();
}

TEST(Ledgerd, ServesAndStopsGracefullyOnSigterm) {
  ledger::testing::TempDir dir;
  const std::string tokens = dir.path() + "/tokens.json";
  std::ofstream(tokens) << R"({"tokens":[{"name":"p","role":"partnership","areas":["E08000002"],"sha256":")"
                        << ledger::ToHex(ledger::Sha256("t-partnership")) << "\"}]}";
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl(LEDGERD_PATH, "ledgerd", "--data", (dir.path() + "/data").c_str(), "--tokens",
          tokens.c_str(), "--port", "0", nullptr);
    _exit(127);
  }
  close(out[1]);
  // The first log line names the port.
  std::string log;
  uint16_t port = 0;
  std::smatch m;
  char buf[512];
  while (port == 0) {
    const ssize_t n = read(out[0], buf, sizeof buf);
    ASSERT_GT(n, 0) << "ledgerd exited: " << log;
    log.append(buf, static_cast<size_t>(n));
    if (std::regex_search(log, m, std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"))) {
      port = static_cast<uint16_t>(std::stoi(m[1]));
    }
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Request(port, http::verb::post, "/v1/events",
                      R"({"type":"referral.received","referral_id":"d)" + std::to_string(i) +
                          R"(","occurred_at":"2025-01-01T00:00:00Z","data":{"person":"p0000001a","area":"E08000002","referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}})"),
              201u);
  }
  ASSERT_EQ(kill(child, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  while (true) {
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    log.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  EXPECT_NE(log.find("ledgerd stopped"), std::string::npos) << log;
  EXPECT_EQ(log.find("Bearer"), std::string::npos);  // the log never holds a token
  // Every acknowledged event is there, and the ledger verifies.
  auto ledger = ledger::Ledger::Open(dir.path() + "/data");
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ((*ledger)->Size(), 20u);
  EXPECT_TRUE((*ledger)->Verify().ok);
}

}  // namespace
