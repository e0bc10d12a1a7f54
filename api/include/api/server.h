// The HTTP/1.1 server (Boost.Beast over Asio): keep-alive, a small thread
// pool, limits that no one client can exhaust, graceful stop.
//
// Capacity (docs/API.md, "Limits"): at most max_connections at once. When
// they are all taken, a new connection takes the place of the one that has
// waited longest for a request header (an idle keep-alive connection or one
// sending its header slowly); with none such, it is answered 503. Each
// client address, and each credential, may hold only its share; server-sent
// event streams have a cap of their own, in all and per credential; and a
// few connections from loopback beyond the cap are kept for /healthz and
// /metrics, so that a probe always gets through. Every response and stream
// is written under a deadline, in pieces of bounded size, so a client that
// does not read holds little memory and is cut off.
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
  size_t max_connections = 1024;
  // Connections one client address may hold (behind a reverse proxy, every
  // client has the proxy's address: raise it there).
  size_t max_connections_per_address = 256;
  // Connections whose latest request carried one credential.
  size_t max_connections_per_credential = 256;
  // Server-sent event streams, in all and per credential; each also holds a
  // connection.
  size_t max_subscribers = 256;
  size_t max_subscribers_per_credential = 32;
  // Connections from loopback taken beyond the caps when one would be
  // refused (its address's share full, or every connection taken with none
  // to make room); they are answered only on /healthz and /metrics.
  size_t health_reserve = 8;
  size_t header_limit = 16 * 1024;
  // Each connection's socket send buffer (SO_SNDBUF; the system doubles
  // it), so that what the system holds for a client that reads slowly, and
  // the work done to fill it, stay bounded; 0 leaves the system's
  // autotuning (up to 4 MiB a connection on Linux by default).
  size_t send_buffer = 256 * 1024;
  // A request's header must arrive whole within header_timeout of the
  // connection's start, or of its first byte on a keep-alive connection,
  // which waits idle_timeout for that byte. A body must arrive within
  // read_timeout of its header. Each piece of a response or stream must be
  // taken by the client within write_timeout.
  std::chrono::seconds header_timeout{30};
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds write_timeout{30};
  // TLS (docs/API.md, "TLS"): with both set, every connection is TLS 1.2
  // or 1.3 (tools/http/tls_stream.h's ciphers); the files are PEM, the
  // certificate file a chain with the server's certificate first.
  std::string tls_cert;
  std::string tls_key;
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
  // Reads the TLS certificate and key files again (SIGHUP): connections
  // made after it use them, those already made keep theirs. On a failure
  // (unreadable, not matching) the loaded ones stay and the reason is
  // returned. kFailedPrecondition when the server is not serving TLS.
  ledger::Status ReloadTls();
  // Stops accepting, lets requests in flight finish (up to `grace`), then
  // closes every connection and joins the threads.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  struct Impl;  // public so that connections (session.h) can reach it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
