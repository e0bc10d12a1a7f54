#include "client.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "http_client.h"

namespace ledgerctl {

namespace {
std::string& CaFile() {
  static std::string path;
  return path;
}
}  // namespace

void HttpClient::SetCaFile(std::string path) { CaFile() = std::move(path); }

ledger::Result<HttpClient> HttpClient::Make(const std::string& base, std::string token) {
  HttpClient c;
  c.tls_ = base.starts_with("https://");
  if (!c.tls_ && !base.starts_with("http://")) {
    return ledger::Status::InvalidArgument("the server URL must start with http:// or https://");
  }
  std::string rest = base.substr(c.tls_ ? 8 : 7);
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    c.prefix_ = rest.substr(slash);
    rest.resize(slash);
    while (!c.prefix_.empty() && c.prefix_.back() == '/') c.prefix_.pop_back();
  }
  const size_t colon = rest.rfind(':');
  c.host_ = colon == std::string::npos ? rest : rest.substr(0, colon);
  c.port_ = colon == std::string::npos ? (c.tls_ ? "443" : "80") : rest.substr(colon + 1);
  if (c.host_.empty() || c.port_.empty() ||
      c.port_.find_first_not_of("0123456789") != std::string::npos) {
    return ledger::Status::InvalidArgument("the server URL must be http[s]://host[:port][/prefix]");
  }
  c.token_ = std::move(token);
  return c;
}

ledger::Result<HttpReply> HttpClient::Call(const std::string& method, const std::string& target,
                                           const std::string& body) const {
  // 429 and 503 with Retry-After (a rate or connection limit; nothing was
  // done) are asked again after the wait, up to kRetries times.
  constexpr int kRetries = 100;
  for (int attempt = 0;; ++attempt) {
    ledger::Result<HttpReply> reply = CallOnce(method, target, body);
    if (!reply.ok() || reply->retry_after == 0 || attempt == kRetries ||
        (reply->status != 429 && reply->status != 503)) {
      return reply;
    }
    std::this_thread::sleep_for(std::chrono::seconds(std::min<unsigned>(reply->retry_after, 60)));
  }
}

ledger::Result<HttpReply> HttpClient::CallOnce(const std::string& method, const std::string& target,
                                               const std::string& body) const {
  http_client::Endpoint to;
  to.host = host_;
  to.port = port_;
  to.tls = tls_;
  to.ca_file = CaFile();
  ledger::Result<http_client::Reply> reply =
      http_client::Call(to, {method, prefix_ + target, token_, body});
  if (!reply.ok()) return reply.status();
  return HttpReply{reply->status, std::move(reply->body), reply->RetryAfter()};
}

}  // namespace ledgerctl
