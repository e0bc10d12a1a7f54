// A TCP stream that is TLS or plain, decided when it is made, with one
// interface for both: Beast's HTTP reads and writes take it as they take a
// beast::tcp_stream. Shared by ledgerd's connections (api/src/session.h) and
// the HTTP client (http_client.h).
//
// TLS is 1.2 or 1.3 only, with forward-secret AEAD ciphers (Mozilla's
// "intermediate" list for 1.2; 1.3's suites are all AEAD).
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <utility>

namespace http_client {

// Applies the house's TLS floor and ciphers to a context.
inline void HardenTls(boost::asio::ssl::context& ctx) {
  namespace ssl = boost::asio::ssl;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx.native_handle(),
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
}

class MaybeTlsStream {
 public:
  using tcp_stream = boost::beast::tcp_stream;
  using tls_stream = boost::beast::ssl_stream<tcp_stream>;
  using executor_type = tcp_stream::executor_type;

  // Plain.
  explicit MaybeTlsStream(tcp_stream tcp) : plain_(std::move(tcp)) {}
  // TLS over `tcp`; the context must outlive the stream.
  MaybeTlsStream(tcp_stream tcp, boost::asio::ssl::context& ctx)
      : tls_(std::in_place, std::move(tcp), ctx) {}

  bool is_tls() const { return tls_.has_value(); }
  tls_stream& tls() { return *tls_; }
  tcp_stream& tcp() { return tls_ ? boost::beast::get_lowest_layer(*tls_) : *plain_; }
  executor_type get_executor() { return tcp().get_executor(); }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
    }
  }
  template <class Buffers, class Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_write_some(buffers, std::forward<Handler>(handler));
    }
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers, boost::beast::error_code& ec) {
    return tls_ ? tls_->read_some(buffers, ec) : plain_->read_some(buffers, ec);
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    return tls_ ? tls_->read_some(buffers) : plain_->read_some(buffers);
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers, boost::beast::error_code& ec) {
    return tls_ ? tls_->write_some(buffers, ec) : plain_->write_some(buffers, ec);
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    return tls_ ? tls_->write_some(buffers) : plain_->write_some(buffers);
  }

 private:
  std::optional<tcp_stream> plain_;
  std::optional<tls_stream> tls_;
};

}  // namespace http_client
