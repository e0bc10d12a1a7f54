// A small HTTP/1.1 client for ledgerctl's server modes (import --server,
// proof --server): one request per connection, over http or https (the
// server's certificate checked against --ca, or the system's roots).
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
  // `base` is http[s]://host[:port][/prefix]; kInvalidArgument otherwise.
  // An https server's certificate is checked against the CA file given by
  // SetCaFile (ledgerctl --ca), else the system's trusted roots.
  static ledger::Result<HttpClient> Make(const std::string& base, std::string token);
  static void SetCaFile(std::string path);
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
  bool tls_ = false;
};

}  // namespace ledgerctl
