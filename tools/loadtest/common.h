// What loadtest's parts share: the options, the clock and setup errors.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace loadtest {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

struct Options {
  std::string ledgerd, ledgerctl, work;
  int referrals = 3000, slowloris = 1500, subscribers = 1000, feed_readers = 100;
  int addresses = 50, hold_s = 40, probe_interval_ms = 50;
  std::vector<std::string> extra_flags;
};

// A setup error: the message is printed and the exit code is 2.
struct SetupError {
  std::string what;
};

inline double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace loadtest
