// A small HTTP/1.1 client over plain TCP, for the tools and the tests that
// talk to ledgerd: one request on a connection of its own (Call), or many
// on one keep-alive connection (Connection), over http or https
// (Endpoint::tls).
//
// Failures are values: kIOError when the server cannot be reached or the
// connection breaks before a whole answer; an answer is returned whatever
// its status. A server may answer (401, 413, ...) and close before it
// reads a body: a request whose body could not be written all still gets
// that answer.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/status.h"

namespace http_client {

struct Request {
  std::string method = "GET";
  std::string target;  // origin form, "/v1/events?after=0"
  std::string token;   // sent as "Authorization: Bearer TOKEN" when not empty
  std::string body;
  // Sent with a body, and with every POST.
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers{};  // more header fields
};

struct Reply {
  unsigned status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The value of header `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
  // Retry-After in whole seconds, 0 when there is none.
  unsigned RetryAfter() const;
};

struct Endpoint {
  std::string host = "127.0.0.1";
  std::string port;
  // https: TLS 1.2 or 1.3, the server's certificate checked against
  // `ca_file` (PEM; empty: the system's trusted roots) and `host`.
  bool tls = false;
  std::string ca_file;
  std::chrono::seconds timeout{60};  // for the whole exchange
  size_t body_limit = 256u << 20;    // the largest answer read
};

// Sends `request` on a connection of its own and reads the answer.
ledger::Result<Reply> Call(const Endpoint& to, const Request& request);

// One keep-alive connection: requests one after the other.
class Connection {
 public:
  static ledger::Result<std::unique_ptr<Connection>> Open(const Endpoint& to);
  ~Connection();
  ledger::Result<Reply> Send(const Request& request);

  struct Impl;  // public so that Call (http_client.cc) can use one alone

 private:
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// An http or https URL as the client reaches it: the endpoint (host, port,
// tls; the rest of Endpoint at its defaults), the encoded path as written
// and the encoded query. nullopt for another scheme, no host, user info or
// a fragment.
struct Url {
  Endpoint endpoint;
  std::string path;  // "" or "/..." as written, a trailing '/' kept
  bool has_query = false;
  std::string query;  // without the '?'
};
std::optional<Url> ParseUrl(std::string_view text);

// A loopback TCP port free at the time of asking (the kernel's choice,
// released at once), for two servers that must name each other before
// either listens. Another process may take it meanwhile: a start that fails
// on it is tried again by the caller. 0 when none could be had.
uint16_t FreeLoopbackPort();

}  // namespace http_client
