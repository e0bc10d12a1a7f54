// The attack (loadtest.cc): every hostile socket on one Asio thread.
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
// The attack: every hostile socket on one Asio thread.
//
//   slowloris   sends a partial header, then one more header byte every 10 s;
//               reads whatever the server sends (to see a status or a close).
//   subscriber  GET /v1/events/subscribe?after=0, reads at most 1 KB once
//               (3 s) to learn the status, then never reads again.
//   feed        GET /v1/events?after=0&limit=10000, the same.
// Subscribers and feed readers set SO_RCVBUF to 4096 before connecting so
// that the kernel does not absorb what the server writes.
enum Kind { kSlowloris, kSubscriber, kFeed, kKinds };
const char* const kKindName[kKinds] = {"slowloris", "subscriber", "feed reader"};

struct Conn {
  Conn(net::io_context& ioc, Kind k) : kind(k), sock(ioc), timer(ioc) {}
  Kind kind;
  tcp::socket sock;
  net::steady_timer timer;
  std::string request;
  char buf[1024];
  std::string first;  // the first bytes the server sent (up to 1 KB)
  bool connected = false, connect_failed = false, closed = false, settled = false;
  int drips = 0;
};

struct KindStats {
  int sockets = 0, connected = 0, connect_failed = 0, status_line = 0, closed = 0,
      open_at_release = 0;
  std::map<int, int> statuses;
};

class Attack {
 public:
  Attack(const Options& o, tcp::endpoint server, const std::string& regulator,
         const std::string& auditor)
      : server_(server) {
    // The kinds interleaved in proportion, so that each gets its share of
    // whatever the server admits.
    std::vector<std::pair<double, Kind>> order;
    const int counts[kKinds] = {o.slowloris, o.subscribers, o.feed_readers};
    for (int k = 0; k < kKinds; ++k) {
      for (int j = 0; j < counts[k]; ++j) order.emplace_back((j + 0.5) / counts[k], Kind(k));
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    int index[kKinds] = {0, 0, 0};
    for (const auto& [key, kind] : order) {
      auto c = std::make_unique<Conn>(ioc_, kind);
      const int j = index[kind]++;
      const int a = j % o.addresses;  // source 127.(1+kind).(a/250).(1+a%250)
      source_.push_back(net::ip::make_address_v4((127u << 24) | ((1u + kind) << 16) |
                                                 (static_cast<unsigned>(a / 250) << 8) |
                                                 (1u + a % 250)));
      if (kind == kSlowloris)
        c->request = "GET /v1/areas HTTP/1.1\r\nHost: x\r\n";
      else {
        const std::string& token = kind == kSubscriber && j % 2 == 0 ? auditor : regulator;
        c->request = std::string("GET ") +
                     (kind == kSubscriber ? "/v1/events/subscribe?after=0"
                                          : "/v1/events?after=0&limit=10000") +
                     " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n";
      }
      conns_.push_back(std::move(c));
    }
  }

  // Opens every socket (at most 256 connects in flight) on a thread of its own.
  void Start() {
    for (size_t i = 0; i < std::min<size_t>(256, conns_.size()); ++i) OpenNext();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Attack() {
    guard_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int Settled() const { return settled_.load(); }
  int Total() const { return static_cast<int>(conns_.size()); }

  // Stops the Asio thread, then counts each socket's outcome: its status is
  // from the bytes read, or else peeked at now (without consuming them); it
  // was closed by the server when a read or write saw EOF or an error, or
  // when poll now reports the peer's FIN or a reset. Then closes them all.
  std::vector<KindStats> Release() {
    guard_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    std::vector<KindStats> out(kKinds);
    for (auto& c : conns_) {
      KindStats& s = out[c->kind];
      ++s.sockets;
      s.connected += c->connected;
      s.connect_failed += c->connect_failed;
      if (c->first.empty() && c->connected && c->sock.is_open()) {
        const ssize_t n =
            recv(c->sock.native_handle(), c->buf, sizeof c->buf, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) c->first.assign(c->buf, static_cast<size_t>(n));
      }
      if (c->first.rfind("HTTP/1.", 0) == 0 && c->first.size() >= 12) {
        ++s.status_line;
        ++s.statuses[std::atoi(c->first.c_str() + 9)];
      }
      bool closed = c->closed;
      if (!closed && c->connected && c->sock.is_open()) {
        pollfd p{c->sock.native_handle(), POLLIN | POLLRDHUP, 0};
        closed = poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
      }
      s.closed += c->connected && closed;
      s.open_at_release += c->connected && !closed;
    }
    conns_.clear();  // closes every socket
    return out;
  }

 private:
  void Settle(Conn* c) {
    if (c->settled) return;
    c->settled = true;
    ++settled_;
  }

  void OpenNext() {
    if (next_ >= conns_.size()) return;
    const size_t i = next_++;
    Conn* c = conns_[i].get();
    boost::system::error_code ec;
    c->sock.open(tcp::v4(), ec);
    if (!ec && c->kind != kSlowloris)
      c->sock.set_option(net::socket_base::receive_buffer_size(4096), ec);
    if (!ec) c->sock.bind(tcp::endpoint(source_[i], 0), ec);
    if (ec) {
      c->connect_failed = true;
      Settle(c);
      return OpenNext();
    }
    c->timer.expires_after(std::chrono::seconds(5));
    c->timer.async_wait([c](boost::system::error_code e) {
      if (!e) c->sock.cancel();
    });
    c->sock.async_connect(server_, [this, c](boost::system::error_code e) {
      c->timer.cancel();
      OpenNext();
      if (e) {
        c->connect_failed = true;
        return Settle(c);
      }
      c->connected = true;
      net::async_write(c->sock, net::buffer(c->request),
                       [this, c](boost::system::error_code e, size_t) {
                         if (e) {
                           c->closed = true;
                           return Settle(c);
                         }
                         if (c->kind == kSlowloris) {
                           Settle(c);
                           ReadAll(c);
                           return Drip(c, std::chrono::milliseconds(5000 + std::rand() % 5000));
                         }
                         // One read of up to 1 KB, for the status; then the socket is left alone.
                         c->timer.expires_after(std::chrono::seconds(3));
                         c->timer.async_wait([c](boost::system::error_code e) {
                           if (!e) c->sock.cancel();
                         });
                         c->sock.async_read_some(net::buffer(c->buf),
                                                 [this, c](boost::system::error_code e, size_t n) {
                                                   c->timer.cancel();
                                                   c->first.assign(c->buf, n);
                                                   if (e && e != net::error::operation_aborted)
                                                     c->closed = true;
                                                   Settle(c);
                                                 });
                       });
    });
  }

  // Slowloris: keeps a read pending, to see an answer or a close.
  void ReadAll(Conn* c) {
    c->sock.async_read_some(net::buffer(c->buf), [this, c](boost::system::error_code e, size_t n) {
      if (c->first.size() < sizeof c->buf)
        c->first.append(c->buf, std::min(n, sizeof c->buf - c->first.size()));
      if (e) {
        if (e != net::error::operation_aborted) c->closed = true;
        return;
      }
      ReadAll(c);
    });
  }

  // Slowloris: one more byte of a header line that never ends, every 10 s.
  void Drip(Conn* c, milliseconds after) {
    c->timer.expires_after(after);
    c->timer.async_wait([this, c](boost::system::error_code e) {
      if (e || c->closed) return;
      static const std::string line = "X-Slow: ";
      const char byte = c->drips < static_cast<int>(line.size()) ? line[c->drips] : 'a';
      ++c->drips;
      c->request.assign(1, byte);
      net::async_write(c->sock, net::buffer(c->request),
                       [this, c](boost::system::error_code e, size_t) {
                         if (e) {
                           c->closed = true;
                           return;
                         }
                         Drip(c, milliseconds(10000));
                       });
    });
  }

  net::io_context ioc_{1};
  net::executor_work_guard<net::io_context::executor_type> guard_ = net::make_work_guard(ioc_);
  tcp::endpoint server_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<net::ip::address_v4> source_;
  size_t next_ = 0;
  std::atomic<int> settled_{0};
  std::thread thread_;
};

}  // namespace loadtest
