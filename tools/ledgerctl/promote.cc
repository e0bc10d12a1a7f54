// ledgerctl promote / status: the operator's commands to the ledgerd
// running on a data directory, through its control socket (api/control.h):
// one command line sent, one JSON line answered.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"

namespace ledgerctl {
namespace {

// The answer line to `command`, or an empty string with *why set.
std::string Ask(const std::string& path, const std::string& command, int timeout_ms,
                std::string* why) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    *why = "the socket path is too long: " + path;
    return "";
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    *why = "cannot reach ledgerd at " + path + ": " + std::strerror(errno) +
           " (is ledgerd running on this data directory, as this user?)";
    if (fd >= 0) ::close(fd);
    return "";
  }
  const std::string line = command + "\n";
  std::string answer;
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
    char buf[4096];
    while (answer.find('\n') == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) break;
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      answer.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  if (answer.find('\n') == std::string::npos) {
    *why = "ledgerd at " + path + " gave no answer";
    return "";
  }
  answer.resize(answer.find('\n'));
  return answer;
}

}  // namespace

int Control(const Args& a) {
  if (!a.positional.empty()) return Usage(a.command + " takes no argument");
  if (a.Has("data") == a.Has("socket"))
    return Usage(a.command + " needs --data DIR or --socket PATH");
  const std::string path =
      a.Has("socket") ? a.flags.at("socket") : a.flags.at("data") + "/ledgerd.sock";
  std::string why;
  // A promotion stops the copier first, which may be in a long poll of
  // the primary: up to a few seconds.
  const std::string answer = Ask(path, a.command, a.command == "promote" ? 60000 : 10000, &why);
  if (answer.empty()) {
    std::fprintf(stderr, "ledgerctl: %s\n", why.c_str());
    return 3;
  }
  std::printf("%s\n", answer.c_str());
  boost::json::error_code ec;
  const boost::json::value v = boost::json::parse(answer, ec);
  if (ec || !v.is_object()) {
    std::fprintf(stderr, "ledgerctl: ledgerd answered something that is not JSON\n");
    return 3;
  }
  if (const boost::json::value* error = v.as_object().if_contains("error")) {
    std::fprintf(stderr, "ledgerctl: %s: %s\n", a.command.c_str(),
                 error->is_string() ? error->as_string().c_str() : "refused");
    return 1;
  }
  return 0;
}

}  // namespace ledgerctl
