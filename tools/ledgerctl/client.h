// A small HTTP/1.1 client for ledgerctl's server modes (import --server,
// proof --server): one request per connection, plain http only (put a TLS
// terminating proxy's local side, or an SSH tunnel, in front of a remote
// ledgerd).
#pragma once

#include <string>

#include "ledger/status.h"

namespace ledgerctl {

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

class HttpClient {
 public:
  // `base` is http://host[:port][/prefix]; kInvalidArgument otherwise.
  static ledger::Result<HttpClient> Make(const std::string& base, std::string token);
  // Sends the request (a JSON body when not empty) and reads the reply;
  // kIOError when the server cannot be reached.
  ledger::Result<HttpReply> Call(const std::string& method, const std::string& target,
                                 const std::string& body = "") const;

 private:
  std::string host_, port_, prefix_, token_;
};

}  // namespace ledgerctl
