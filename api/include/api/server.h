// The HTTP/1.1 server (Boost.Beast over Asio): keep-alive, a small thread
// pool, limits against slow or hostile clients, graceful stop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/service.h"
#include "ledger/status.h"

namespace api {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see Server::port())
  int threads = 2;
  size_t max_connections = 1024;  // more are closed at once
  size_t header_limit = 16 * 1024;
  // A request must arrive whole within read_timeout once it has started;
  // an idle keep-alive connection is closed after idle_timeout.
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds idle_timeout{60};
};

class Server {
 public:
  Server(const Service* service, ServerOptions options);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads.
  ledger::Status Start();
  // The port it listens on.
  uint16_t port() const;
  // Stops accepting, lets requests in flight finish (up to `grace`), then
  // closes every connection and joins the threads.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  struct Impl;  // public so that connections (server.cc) can reach it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
