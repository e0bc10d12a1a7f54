#include "api/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "server_impl.h"
#include "session.h"

namespace api {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using detail::Refuse;
using detail::Session;

void Server::Impl::Admit(tcp::socket socket) {
  beast::error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  const std::string address = remote.address().to_string();
  std::shared_ptr<Session> evicted;
  bool in_reserve = false;
  std::string refusal;
  {
    std::lock_guard l(mu);
    size_t& mine = by_address[address];
    if (mine >= options.max_connections_per_address) {
      refusal = "this client address holds its share of connections";
    } else if (connections >= options.max_connections) {
      // The connection that has waited longest for a request makes room.
      for (auto it = waiting.begin(); it != waiting.end() && !evicted; ++it) {
        evicted = it->lock();  // one being destroyed takes itself out
      }
      if (evicted) {
        evicted->ChooseToEvict();
      } else {
        refusal = "the server is at its connection limit";
      }
    }
    // A probe on this machine gets through whoever holds the rest, its own
    // address's share included.
    if (!refusal.empty() && remote.address().is_loopback() && reserved < options.health_reserve) {
      refusal.clear();
      in_reserve = true;
    }
    if (refusal.empty()) {
      ++mine;
      ++connections;
      if (in_reserve) ++reserved;
    } else if (mine == 0) {
      by_address.erase(address);
    }
  }
  if (evicted) net::post(evicted->executor(), [evicted] { evicted->Evict(); });
  if (!refusal.empty()) return Refuse(std::move(socket), refusal);
  if (options.send_buffer > 0) {
    socket.set_option(net::socket_base::send_buffer_size(static_cast<int>(options.send_buffer)),
                      ec);
  }
  std::make_shared<Session>(std::move(socket), Tls(), this, address, in_reserve)->Start();
}

ledger::Result<std::shared_ptr<net::ssl::context>> Server::Impl::LoadTls(const std::string& cert,
                                                                         const std::string& key) {
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  http_client::HardenTls(*ctx);
  beast::error_code ec;
  ctx->use_certificate_chain_file(cert, ec);
  if (ec) return ledger::Status::InvalidArgument("--tls-cert " + cert + ": " + ec.message());
  ctx->use_private_key_file(key, net::ssl::context::pem, ec);
  if (ec) return ledger::Status::InvalidArgument("--tls-key " + key + ": " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return ledger::Status::InvalidArgument("--tls-key " + key +
                                           " is not the key of the certificate in " + cert);
  }
  return ctx;
}

ledger::Status Server::ReloadTls() {
  if (impl_->options.tls_cert.empty()) {
    return ledger::Status::InvalidArgument("the server is not serving TLS");
  }
  auto ctx = Impl::LoadTls(impl_->options.tls_cert, impl_->options.tls_key);
  if (!ctx.ok()) return ctx.status();
  std::lock_guard l(impl_->tls_mu);
  impl_->tls = std::move(ctx).value();
  return ledger::Status::Ok();
}

void Server::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!stopping && acceptor.is_open()) Accept();
      return;
    }
    Admit(std::move(socket));
    Accept();
  });
}

// Memory that connections used is handed back to the system once they have
// gone (glibc keeps freed memory in its arenas otherwise), checked every
// 2 s.
void Server::Impl::Trim() {
  trim_timer->expires_after(std::chrono::seconds(2));
  trim_timer->async_wait([this](beast::error_code ec) {
    if (ec || stopping) return;
#if defined(__GLIBC__)
    if (closed_since_trim.exchange(0) > 0) malloc_trim(0);
#endif
    Trim();
  });
}

Server::Server(const Service* service, ServerOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}

Server::~Server() { Stop(); }

ledger::Status Server::Start() {
  if (impl_->options.tls_cert.empty() != impl_->options.tls_key.empty()) {
    return ledger::Status::InvalidArgument("TLS needs both --tls-cert and --tls-key");
  }
  if (!impl_->options.tls_cert.empty()) {
    auto ctx = Impl::LoadTls(impl_->options.tls_cert, impl_->options.tls_key);
    if (!ctx.ok()) return ctx.status();
    impl_->tls = std::move(ctx).value();
  }
  beast::error_code ec;
  const auto address = net::ip::make_address(impl_->options.address, ec);
  if (ec) return ledger::Status::InvalidArgument("listen address: " + ec.message());
  tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return ledger::Status::IOError("cannot listen on " + impl_->options.address + ":" +
                                   std::to_string(impl_->options.port) + ": " + ec.message());
  }
  impl_->bound_port = impl_->acceptor.local_endpoint().port();
  impl_->Accept();
  impl_->trim_timer.emplace(impl_->ioc);
  impl_->Trim();
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
  return ledger::Status::Ok();
}

uint16_t Server::port() const { return impl_->bound_port; }

void Server::Stop(std::chrono::milliseconds grace) {
  if (impl_->threads.empty()) return;
  impl_->stopping = true;
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->trim_timer->cancel();
  });
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
  // An append still in the ledger is answered, and its callback destroyed,
  // on a ledger thread: wait for that before the io_context can go, however
  // long the grace was (the ledger answers every append it took).
  while (impl_->tickets > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace api
