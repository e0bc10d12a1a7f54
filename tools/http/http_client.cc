#include "http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <optional>

#include "tls_stream.h"

namespace http_client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string Reply::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return "";
}

unsigned Reply::RetryAfter() const {
  const std::string v = Header("Retry-After");
  if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos) return 0;
  return static_cast<unsigned>(std::stoul(v));
}

struct Connection::Impl {
  Endpoint to;
  net::io_context io;
  std::optional<net::ssl::context> tls;
  std::optional<MaybeTlsStream> stream;
  beast::flat_buffer buffer;

  // Beast reports failures by exception; they end here as a status.
  ledger::Status Connect() {
    try {
      if (to.tls) {
        tls.emplace(net::ssl::context::tls_client);
        HardenTls(*tls);
        if (to.ca_file.empty()) {
          tls->set_default_verify_paths();
        } else {
          tls->load_verify_file(to.ca_file);
        }
        tls->set_verify_mode(net::ssl::verify_peer);
        stream.emplace(beast::tcp_stream(io), *tls);
        // The certificate must name the host; SNI tells the server which.
        stream->tls().set_verify_callback(net::ssl::host_name_verification(to.host));
        SSL_set_tlsext_host_name(stream->tls().native_handle(), to.host.c_str());
      } else {
        stream.emplace(beast::tcp_stream(io));
      }
      tcp::resolver resolver(io);
      stream->tcp().expires_after(to.timeout);
      stream->tcp().connect(resolver.resolve(to.host, to.port));
      if (to.tls) stream->tls().handshake(net::ssl::stream_base::client);
      return ledger::Status::Ok();
    } catch (const boost::system::system_error& e) {
      // The code's message only: what() adds Boost's source locations.
      return Unreachable(e.code().message());
    }
  }
  ledger::Status Unreachable(const std::string& why) const {
    return ledger::Status::IOError("cannot reach " + std::string(to.tls ? "https" : "http") +
                                   "://" + to.host + ":" + to.port + ": " + why);
  }
  void Shutdown() {
    if (!stream) return;
    beast::error_code ec;
    stream->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  ledger::Result<Reply> Exchange(const Request& r, bool keep_alive) {
    http::request<http::string_body> req(http::string_to_verb(r.method), r.target, 11);
    if (req.method() == http::verb::unknown) req.method_string(r.method);
    req.set(http::field::host, to.host);
    req.set(http::field::user_agent, "rehab-access-ledger-client");
    if (!r.token.empty()) req.set(http::field::authorization, "Bearer " + r.token);
    if (!r.body.empty() || req.method() == http::verb::post) {
      req.set(http::field::content_type, r.content_type);
      req.body() = r.body;
    }
    for (const auto& [name, value] : r.headers) req.set(name, value);
    req.keep_alive(keep_alive);
    req.prepare_payload();
    stream->tcp().expires_after(to.timeout);
    beast::error_code ec;
    // An answer may come before the body is taken: read it even so.
    http::write(*stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(to.body_limit);
    parser.skip(r.method == "HEAD");  // its Content-Length is the GET's, with no body
    beast::error_code read_ec;
    http::read(*stream, buffer, parser, read_ec);
    if (read_ec) return Unreachable(read_ec.message());
    Reply out;
    out.status = parser.get().result_int();
    for (const auto& field : parser.get()) {
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(parser.get().body());
    return out;
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() { impl_->Shutdown(); }

ledger::Result<std::unique_ptr<Connection>> Connection::Open(const Endpoint& to) {
  auto impl = std::make_unique<Impl>();
  impl->to = to;
  LEDGER_RETURN_IF_ERROR(impl->Connect());
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

ledger::Result<Reply> Connection::Send(const Request& request) {
  return impl_->Exchange(request, /*keep_alive=*/true);
}

ledger::Result<Reply> Call(const Endpoint& to, const Request& request) {
  Connection::Impl c;
  c.to = to;
  LEDGER_RETURN_IF_ERROR(c.Connect());
  ledger::Result<Reply> reply = c.Exchange(request, /*keep_alive=*/false);
  c.Shutdown();
  return reply;
}

std::optional<Url> ParseUrl(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty() ||
      url->has_userinfo() || url->has_fragment()) {
    return std::nullopt;
  }
  Url out;
  out.endpoint.tls = url->scheme() == "https";
  out.endpoint.host = std::string(url->encoded_host());
  out.endpoint.port = url->has_port() ? std::string(url->port()) : out.endpoint.tls ? "443" : "80";
  out.path = std::string(url->encoded_path());
  out.has_query = url->has_query();
  if (out.has_query) out.query = std::string(url->encoded_query());
  return out;
}

uint16_t FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) == 0;
  ::close(fd);
  return ok ? ntohs(a.sin_port) : 0;
}

}  // namespace http_client
