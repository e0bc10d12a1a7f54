#include "client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

namespace ledgerctl {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

ledger::Result<HttpClient> HttpClient::Make(const std::string& base, std::string token) {
  constexpr std::string_view kScheme = "http://";
  if (!base.starts_with(kScheme)) {
    return ledger::Status::InvalidArgument("the server URL must start with http://");
  }
  std::string rest = base.substr(kScheme.size());
  HttpClient c;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    c.prefix_ = rest.substr(slash);
    rest.resize(slash);
    while (!c.prefix_.empty() && c.prefix_.back() == '/') c.prefix_.pop_back();
  }
  const size_t colon = rest.rfind(':');
  c.host_ = colon == std::string::npos ? rest : rest.substr(0, colon);
  c.port_ = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  if (c.host_.empty() || c.port_.empty() ||
      c.port_.find_first_not_of("0123456789") != std::string::npos) {
    return ledger::Status::InvalidArgument("the server URL must be http://host[:port][/prefix]");
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
  // Beast reports failures by exception; they end here as a status.
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(60));
    stream.connect(resolver.resolve(host_, port_));
    http::request<http::string_body> req(http::string_to_verb(method), prefix_ + target, 11);
    req.set(http::field::host, host_);
    req.set(http::field::user_agent, "ledgerctl");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buffer, parser);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    HttpReply reply{parser.get().result_int(), std::move(parser.get().body())};
    const std::string retry(parser.get()[http::field::retry_after]);
    if (!retry.empty() && retry.size() < 6 &&
        retry.find_first_not_of("0123456789") == std::string::npos) {
      reply.retry_after = static_cast<unsigned>(std::stoul(retry));
    }
    return reply;
  } catch (const boost::system::system_error& e) {
    // The code's message only: what() adds Boost's source locations.
    return ledger::Status::IOError("cannot reach http://" + host_ + ":" + port_ + ": " +
                                   e.code().message());
  } catch (const std::exception& e) {
    return ledger::Status::IOError("cannot reach http://" + host_ + ":" + port_ + ": " + e.what());
  }
}

}  // namespace ledgerctl
