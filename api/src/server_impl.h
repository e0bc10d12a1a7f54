// The server's private room (server.h): what every connection shares of
// the capacity, and the threads. session.h is one connection's life.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl/context.hpp>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/server.h"

namespace api {

namespace detail {
class Session;  // session.h
}  // namespace detail

struct Server::Impl {
  const Service* service;
  ServerOptions options;

  // What every connection holds of the capacity (server.h), under `mu`.
  // Declared before the io_context: sessions destroyed with it count
  // themselves out of these.
  std::mutex mu;
  size_t connections = 0;  // reserved ones included
  size_t reserved = 0;     // taken from options.health_reserve
  size_t subscribers = 0;
  std::unordered_map<std::string, size_t> by_address;
  std::unordered_map<std::string, size_t> by_credential;  // "" for requests without one
  std::unordered_map<std::string, size_t> subscribers_by_credential;
  // Connections waiting for a request header, longest waiting first: the
  // ones that make room when every connection is taken.
  std::list<std::weak_ptr<detail::Session>> waiting;
  // Connections closed since memory was last handed back to the system.
  std::atomic<uint64_t> closed_since_trim{0};

  std::atomic<size_t> in_flight{0};
  // Answer callbacks handed to the service and not yet destroyed.
  std::atomic<size_t> tickets{0};
  std::atomic<bool> stopping{false};
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  std::optional<boost::asio::steady_timer> trim_timer;
  std::vector<std::thread> threads;
  uint16_t bound_port = 0;

  // The TLS context new connections take (null: plain HTTP); replaced whole
  // by a reload, while connections keep the one they began with.
  std::mutex tls_mu;
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::shared_ptr<boost::asio::ssl::context> Tls() {
    std::lock_guard l(tls_mu);
    return tls;
  }
  // A context of the certificate and key files, or why not.
  static ledger::Result<std::shared_ptr<boost::asio::ssl::context>> LoadTls(const std::string& cert,
                                                                            const std::string& key);

  Impl(const Service* s, ServerOptions o)
      : service(s), options(std::move(o)), ioc(options.threads) {}
  void Accept();
  // Takes a new connection in, making room or refusing it as server.h says.
  void Admit(boost::asio::ip::tcp::socket socket);
  void Trim();
};

}  // namespace api
