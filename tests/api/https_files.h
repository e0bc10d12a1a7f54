// A small https server for tests: answers GET of the paths it was given
// with their bodies (application/json), a POST (or, with OnAny, any
// request) with the handler it was given, 404 for others, one request per connection, on 127.0.0.1
// with a certificate of the test CA (tests/make_test_ca.sh). It plays an identity provider's
// discovery document and JWKS (the bodies may change while it serves), or a witness behind TLS.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace api::testing {

class HttpsFiles {
 public:
  HttpsFiles(const std::string& cert, const std::string& key)
      : tls_(boost::asio::ssl::context::tls_server),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    tls_.use_certificate_chain_file(cert);
    tls_.use_private_key_file(key, boost::asio::ssl::context::pem);
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HttpsFiles() {
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port()); }
  void Set(const std::string& path, const std::string& body) {
    std::lock_guard lock(mu_);
    files_[path] = body;
  }
  // What a POST is answered with: status, content type and body.
  struct Answer {
    unsigned status = 200;
    std::string content_type, body;
  };
  void OnPost(std::function<Answer(const std::string& target, const std::string& body)> handler) {
    std::lock_guard lock(mu_);
    on_post_ = std::move(handler);
  }
  // Every request, whatever its method, goes to `handler`.
  void OnAny(std::function<Answer(const std::string& target, const std::string& body)> handler) {
    std::lock_guard lock(mu_);
    on_post_ = std::move(handler);
    any_ = true;
  }
  // How many requests asked for `path`.
  int Requests(const std::string& path) {
    std::lock_guard lock(mu_);
    return requests_[path];
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
      if (ec) return;
      Serve(std::move(s));
      Accept();
    });
  }
  // One exchange; any failure just drops the connection.
  void Serve(boost::asio::ip::tcp::socket socket) {
    namespace http = boost::beast::http;
    boost::system::error_code ec;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(std::move(socket), tls_);
    stream.handshake(boost::asio::ssl::stream_base::server, ec);
    if (ec) return;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(stream, buffer, req, ec);
    if (ec) return;
    http::response<http::string_body> res(http::status::not_found, 11);
    res.set(http::field::content_type, "application/json");
    {
      std::lock_guard lock(mu_);
      const std::string path(req.target());
      ++requests_[path];
      if ((req.method() == http::verb::post || any_) && on_post_) {
        const Answer a = on_post_(path, req.body());
        res.result(a.status);
        res.set(http::field::content_type, a.content_type);
        res.body() = a.body;
      } else if (auto it = files_.find(path); it != files_.end()) {
        res.result(http::status::ok);
        res.body() = it->second;
      }
    }
    res.keep_alive(false);
    res.prepare_payload();
    http::write(stream, res, ec);
    stream.shutdown(ec);
  }

  boost::asio::io_context io_;
  boost::asio::ssl::context tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::string> files_;
  std::map<std::string, int> requests_;
  std::function<Answer(const std::string&, const std::string&)> on_post_;
  bool any_ = false;
};

}  // namespace api::testing
