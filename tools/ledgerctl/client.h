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
  unsigned retry_after = 0;  // seconds, from Retry-After; 0 when none
};

class HttpClient {
 public:
  // `base` is http://host[:port][/prefix]; kInvalidArgument otherwise.
  static ledger::Result<HttpClient> Make(const std::string& base, std::string token);
  // Sends the request (a JSON body when not empty) and reads the reply;
  // kIOError when the server cannot be reached. A 429 or 503 that says when
  // to ask again (a rate or connection limit: nothing was done) is asked
  // again then, up to 100 times.
  ledger::Result<HttpReply> Call(const std::string& method, const std::string& target,
                                 const std::string& body = "") const;

 private:
  ledger::Result<HttpReply> CallOnce(const std::string& method, const std::string& target,
                                     const std::string& body) const;
  std::string host_, port_, prefix_, token_;
};

}  // namespace ledgerctl
