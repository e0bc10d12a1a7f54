#include "api/server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <thread>
#include <vector>

namespace api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct Server::Impl {
  const Service* service;
  ServerOptions options;
  // Declared before the io_context: sessions destroyed with it count
  // themselves out of `connections`.
  std::atomic<size_t> connections{0};
  std::atomic<size_t> in_flight{0};
  // Answer callbacks handed to the service and not yet destroyed.
  std::atomic<size_t> tickets{0};
  std::atomic<bool> stopping{false};
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  uint16_t bound_port = 0;

  Impl(const Service* s, ServerOptions o) : service(s), options(std::move(o)), ioc(options.threads) {}
  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server::Impl* server)
      : stream_(std::move(socket)), server_(server) {}
  ~Session() { --server_->connections; }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

 private:
  void ReadHeader() {
    if (server_->stopping) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.header_limit));
    // The 1 MiB limit is applied once the header has passed the checks
    // that come before 413 (SPEC §8): Precheck for a declared length, the
    // parser's limit for a chunked body.
    parser_->body_limit(boost::none);
    stream_.expires_after(buffer_.size() ? server_->options.read_timeout
                                         : server_->options.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return Close();
    start_ = std::chrono::steady_clock::now();
    auto& msg = parser_->get();
    request_ = HttpRequest{};
    request_.method = std::string(msg.method_string());
    request_.target = std::string(msg.target());
    request_.authorization = std::string(msg[http::field::authorization]);
    request_.content_type = std::string(msg[http::field::content_type]);
    if (parser_->content_length()) request_.content_length = *parser_->content_length();
    keep_alive_ = msg.keep_alive();
    const bool has_body = (parser_->content_length() && *parser_->content_length() > 0) ||
                          parser_->chunked();
    request_.last_event_id = std::string(msg["Last-Event-ID"]);
    request_.body_pending = parser_->chunked();
    if (std::optional<HttpResponse> early = server_->service->Precheck(request_)) {
      // The body is not read: the connection cannot be reused after it.
      if (has_body) keep_alive_ = false;
      return Write(std::move(*early));
    }
    if (server_->service->IsSubscription(request_)) return StartStream();
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(server_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return Write(Problem(413, "the body is over 1,048,576 bytes"));
    }
    if (ec) return Close();
    request_.body = std::move(parser_->get().body());
    request_.body_pending = false;
    ++server_->in_flight;
    HttpRequest request = request_;
    request_.body.clear();  // the log keeps the request line and credential only
    auto ticket = std::make_shared<Ticket>(shared_from_this());
    server_->service->Handle(std::move(request), [ticket](HttpResponse r) {
      std::shared_ptr<Session> self = ticket->session;
      net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
        --self->server_->in_flight;
        self->Write(std::move(r));
      });
    });
  }

  // Keeps a request's session for the service's answer callback. An append
  // is answered on a ledger thread, which destroys the callback only after
  // it has run, perhaps after the response has gone out; the server waits
  // for every ticket before it destroys the sessions' io_context (see
  // Server::Stop), and a ticket lets go of its session before it counts
  // itself out, so nothing of the server is touched after that.
  struct Ticket {
    explicit Ticket(std::shared_ptr<Session> s) : session(std::move(s)), server(session->server_) {
      ++server->tickets;
    }
    ~Ticket() {
      session.reset();
      --server->tickets;
    }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    std::shared_ptr<Session> session;
    Server::Impl* server;
  };

  void Write(HttpResponse r) {
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    const Credential* cred = server_->service->CredentialOf(request_);
    server_->service->Observe(request_, r.status, ms);
    // Access log: never the token, never a body.
    spdlog::info("{} {} {} {:.1f}ms {}", request_.method,
                 request_.target.substr(0, request_.target.find('?')), r.status, ms,
                 cred ? cred->name : "-");
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(r.status);
    res->set(http::field::server, "rehab-access-ledger");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_ && !server_->stopping);
    if (request_.method != "HEAD") res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(server_->options.read_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        if (!res->keep_alive()) return self->LingeringClose();
                        self->ReadHeader();
                      });
  }

  // Closing a socket with unread bytes (a body not read after an early
  // answer) resets the connection, which can destroy the answer before the
  // client reads it: stop sending, then drain for a moment before closing.
  void LingeringClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    Drain();
  }
  void Drain() {
    drain_.resize(64 * 1024);
    stream_.async_read_some(net::buffer(drain_), [self = shared_from_this()](beast::error_code ec,
                                                                               size_t) {
      if (ec) return self->stream_.close();
      self->Drain();
    });
  }

  // Server-sent events: the events after the cursor, then each new one as
  // it becomes durable (polled every 50 ms), with a comment line every 15 s
  // of quiet so that proxies and clients keep the connection.
  void StartStream() {
    auto start = server_->service->StartSubscription(request_);
    if (auto* problem = std::get_if<HttpResponse>(&start)) {
      keep_alive_ = false;
      return Write(std::move(*problem));
    }
    cursor_ = std::get<uint64_t>(start);
    spdlog::info("{} {} 200 stream after {}", request_.method,
                 request_.target.substr(0, request_.target.find('?')), cursor_);
    timer_.emplace(stream_.get_executor());
    stream_.expires_never();
    SendStream(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Connection: close\r\nServer: rehab-access-ledger\r\n\r\n");
  }
  void SendStream(std::string bytes) {
    out_ = std::move(bytes);
    net::async_write(stream_, net::buffer(out_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Close();
                       self->PumpStream();
                     });
  }
  void PumpStream() {
    if (server_->stopping) return Close();
    ledger::Result<std::string> frames = server_->service->NextFrames(&cursor_, 1000);
    if (!frames.ok()) return Close();
    if (!frames->empty()) {
      idle_ticks_ = 0;
      return SendStream(std::move(frames).value());
    }
    if (++idle_ticks_ >= 300) {
      idle_ticks_ = 0;
      return SendStream(": keep-alive\n\n");
    }
    timer_->expires_after(std::chrono::milliseconds(50));
    timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Close();
      self->PumpStream();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::vector<char> drain_;
  // Server-sent events.
  uint64_t cursor_ = 0;
  std::string out_;
  int idle_ticks_ = 0;
  std::optional<net::steady_timer> timer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Server::Impl* server_;
  HttpRequest request_;
  bool keep_alive_ = true;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

void Server::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!stopping && acceptor.is_open()) Accept();
      return;
    }
    if (++connections > options.max_connections) {
      --connections;
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Session>(std::move(socket), this)->Start();
    }
    Accept();
  });
}

Server::Server(const Service* service, ServerOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}

Server::~Server() { Stop(); }

ledger::Status Server::Start() {
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
