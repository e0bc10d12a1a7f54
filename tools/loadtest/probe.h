// The probe of a normal client (loadtest.cc): one GET on a new connection
// at a time, timed, and what it saw over a phase.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common.h"

namespace loadtest {

// ---------------------------------------------------------------------------
// The probe: one GET on a new connection, timed from connect start to the
// reply's last byte (Content-Length, or EOF). Non-blocking socket + poll in
// the calling thread, so that every step shares one 2 s deadline.
struct Reply {
  int status = 0;  // 0: no status line
  double ms = 0;
  std::string error;  // empty on a 200
  std::string body;
};

inline Reply Get(const tcp::endpoint& server, const std::string& target, const std::string& token,
                 int timeout_ms = 2000) {
  Reply r;
  const auto start = Clock::now();
  const auto deadline = start + milliseconds(timeout_ms);
  auto wait = [&](int fd, short events) {  // true when ready before the deadline
    pollfd p{fd, events, 0};
    const int left =
        static_cast<int>(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count());
    return left > 0 && poll(&p, 1, left) == 1;
  };
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Reply{0, 0, std::string("socket: ") + std::strerror(errno), ""};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(server.port());
  sa.sin_addr.s_addr = htonl(server.address().to_v4().to_uint());
  const std::string req = "GET " + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                          "\r\nConnection: close\r\n\r\n";
  std::string in;
  size_t header_end = std::string::npos, need = std::string::npos;
  int err = 0;
  socklen_t len = sizeof err;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    r.error = std::string("connect: ") + std::strerror(errno);
  } else if (!wait(fd, POLLOUT)) {
    r.error = "timeout (connect)";
  } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    r.error = std::string("connect: ") + std::strerror(err);
  } else if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    r.error = std::string("send: ") + std::strerror(errno);  // a short write of ~150 bytes: broken
  } else {
    char buf[16384];
    while (true) {
      if (!wait(fd, POLLIN)) {
        r.error = "timeout (reply)";
        break;
      }
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) {
        r.error = std::string("recv: ") + std::strerror(errno);
        break;
      }
      in.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos &&
          (header_end = in.find("\r\n\r\n")) != std::string::npos) {
        header_end += 4;
        std::string head = in.substr(0, header_end);
        std::transform(head.begin(), head.end(), head.begin(), ::tolower);
        const size_t cl = head.find("\r\ncontent-length:");
        if (cl != std::string::npos)
          need = header_end + std::strtoul(head.c_str() + cl + 17, nullptr, 10);
      }
      if (n == 0 || (need != std::string::npos && in.size() >= need)) break;
    }
  }
  close(fd);
  r.ms = Ms(Clock::now() - start);
  if (in.rfind("HTTP/1.", 0) == 0 && in.size() >= 12) r.status = std::atoi(in.c_str() + 9);
  if (r.error.empty() && header_end == std::string::npos) r.error = "closed before a whole header";
  if (r.error.empty() && need != std::string::npos && in.size() < need) r.error = "closed mid-body";
  if (r.error.empty() && r.status != 200) r.error = "status " + std::to_string(r.status);
  if (header_end != std::string::npos) r.body = in.substr(header_end);
  return r;
}

// What the probe saw over one phase. Percentiles are over every request,
// failed ones included at the time they took (a timeout counts 2 s).
struct ProbeStats {
  std::vector<double> ms;
  int failures = 0;
  std::map<std::string, int> reasons;
  std::vector<double> at_s;  // when each request began, seconds into the phase
  double Pct(double p) const {
    if (ms.empty()) return 0;
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(s.size())));
    return s[std::clamp<size_t>(rank, 1, s.size()) - 1];
  }
};

// Every interval (or at once, if the previous request ran over it), a GET
// alternately of `targets[0]` and `targets[1]`, for `duration`.
inline ProbeStats Probe(const tcp::endpoint& server, const std::string& token,
                        const std::vector<std::string>& targets, milliseconds interval,
                        milliseconds duration) {
  ProbeStats st;
  const auto start = Clock::now();
  const auto end = start + duration;
  auto next = Clock::now();
  for (size_t i = 0; Clock::now() < end; ++i) {
    std::this_thread::sleep_until(next);
    next = std::max(next + interval, Clock::now());
    Reply r = Get(server, targets[i % targets.size()], token);
    st.ms.push_back(r.ms);
    st.at_s.push_back(std::chrono::duration<double>(Clock::now() - start).count() - r.ms / 1000);
    if (!r.error.empty()) {
      ++st.failures;
      ++st.reasons[r.error];
    }
  }
  return st;
}

}  // namespace loadtest
