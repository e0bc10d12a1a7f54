// One connection's life (server.h): its requests read under deadlines,
// its share of the capacity, its answers written in bounded pieces, and
// server-sent event streams. Included by server.cc alone.
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <list>
#include <sstream>

#include "server_impl.h"
#include "tls_stream.h"

namespace api::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// Whether the header of a request frames it unambiguously (RFC 9112): one
// Host in HTTP/1.1 (§3.2), and a Transfer-Encoding, if any, that is chunked
// alone and not beside a Content-Length (§6.1, §6.3). Else the problem; a
// request framed two ways could be read as two requests.
inline std::string FramingProblem(const http::request_parser<http::string_body>::value_type& msg) {
  const size_t hosts = msg.count(http::field::host);
  if (hosts > 1 || (hosts == 0 && msg.version() >= 11)) {
    return "an HTTP/1.1 request must have exactly one Host header";
  }
  const size_t codings = msg.count(http::field::transfer_encoding);
  if (codings == 0) return "";
  std::string_view te = msg[http::field::transfer_encoding];
  while (!te.empty() && (te.front() == ' ' || te.front() == '\t')) te.remove_prefix(1);
  while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
  if (codings > 1 || !beast::iequals(te, "chunked")) {
    return "Transfer-Encoding must be chunked alone";
  }
  if (msg.count(http::field::content_length)) {
    return "a request may not have both Transfer-Encoding and Content-Length";
  }
  return "";
}

inline bool IsHealthPath(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/healthz" || path == "/metrics";
}

// The status line and header of a response whose body follows in pieces
// (chunked) or not at all.
inline std::string HeaderText(const HttpResponse& r, bool keep_alive, bool chunked) {
  http::response<http::empty_body> h(static_cast<http::status>(r.status), 11);
  h.set(http::field::server, "rehab-access-ledger");
  h.set(http::field::content_type, r.content_type);
  h.set("X-Content-Type-Options", "nosniff");
  for (const auto& [k, v] : r.headers) h.set(k, v);
  if (chunked) h.chunked(true);
  h.keep_alive(keep_alive);
  std::ostringstream out;
  out << h.base();
  return out.str();
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `tls`: the TLS context of the connection, or null for plain HTTP.
  Session(tcp::socket socket, std::shared_ptr<net::ssl::context> tls, Server::Impl* server,
          std::string address, bool reserved)
      : tls_(std::move(tls)),
        stream_(tls_ ? http_client::MaybeTlsStream(beast::tcp_stream(std::move(socket)), *tls_)
                     : http_client::MaybeTlsStream(beast::tcp_stream(std::move(socket)))),
        server_(server),
        address_(std::move(address)),
        reserved_(reserved) {}

  ~Session() {
    {
      std::lock_guard l(server_->mu);
      StopWaiting();
      --server_->connections;
      ReleaseShares();
      if (subscribed_) {
        --server_->subscribers;
        Decrement(server_->subscribers_by_credential, *credential_);
      }
    }
    ++server_->closed_since_trim;
  }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->stream_.is_tls()) return self->AwaitRequest(true);
      // The handshake comes within the header's deadline.
      self->stream_.tcp().expires_after(self->server_->options.header_timeout);
      self->stream_.tls().async_handshake(
          net::ssl::stream_base::server, [self](beast::error_code ec) {
            if (ec) {
              spdlog::debug("{}: TLS handshake failed: {}", self->address_, ec.message());
              return self->Close();
            }
            self->AwaitRequest(true);
          });
    });
  }
  // Chooses it to make room for another connection: it is closed (on its
  // own strand, Evict), and a request header that arrives meanwhile is not
  // served. REQUIRES: server_->mu held, and the connection waiting.
  void ChooseToEvict() {
    StopWaiting();
    evicted_ = true;
  }
  void Evict() { Close(); }
  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  // Gives back what it holds of its address's and its credential's shares,
  // and of the reserve (once: at its end, or when it is only closing).
  // REQUIRES: server_->mu held.
  void ReleaseShares() {
    if (released_) return;
    released_ = true;
    if (reserved_) --server_->reserved;
    Decrement(server_->by_address, address_);
    if (credential_) Decrement(server_->by_credential, *credential_);
  }
  // Takes it out of the connections that may make room.
  // REQUIRES: server_->mu held.
  void StopWaiting() {
    if (!waiting_) return;
    server_->waiting.erase(*waiting_);
    waiting_.reset();
  }
  static void Decrement(std::unordered_map<std::string, size_t>& counts, const std::string& key) {
    auto it = counts.find(key);
    if (it != counts.end() && --it->second == 0) counts.erase(it);
  }
  // Waits for the next request: its header within header_timeout of the
  // connection's start or, on a keep-alive connection, of its first byte,
  // which may take idle_timeout. Meanwhile the connection may be closed to
  // make room for another.
  void AwaitRequest(bool first) {
    if (server_->stopping) return Close();
    MayMakeRoom();
    if (first || buffer_.size()) return ReadHeader();
    stream_.tcp().expires_after(server_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  // Puts it among the connections that may be closed to make room for
  // another (reserved ones are not, being few).
  void MayMakeRoom() {
    if (reserved_) return;
    std::lock_guard l(server_->mu);
    if (!waiting_ && !evicted_)
      waiting_ = server_->waiting.insert(server_->waiting.end(), weak_from_this());
  }

  void ReadHeader() {
    request_ = HttpRequest{};
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.header_limit));
    // The 1 MiB limit is applied once the header has passed the checks
    // that come before 413 (SPEC §8): Precheck for a declared length, the
    // parser's limit for a chunked body.
    parser_->body_limit(boost::none);
    stream_.tcp().expires_after(server_->options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    bool evicted = false;
    {
      std::lock_guard l(server_->mu);
      StopWaiting();
      evicted = evicted_;
    }
    if (evicted) return Close();
    start_ = std::chrono::steady_clock::now();
    if (ec) {
      keep_alive_ = false;
      if (ec == http::error::header_limit) {
        return Write(Problem(431, "the request header is over " +
                                      std::to_string(server_->options.header_limit) + " bytes"));
      }
      // A request that does not parse gets its 400; a client that left or
      // took too long gets nothing.
      if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        return Write(Problem(400, "the request is not valid HTTP/1.1: " + ec.message()));
      }
      return Close();
    }
    auto& msg = parser_->get();
    request_.method = std::string(msg.method_string());
    request_.target = std::string(msg.target());
    request_.authorization = std::string(msg[http::field::authorization]);
    request_.content_type = std::string(msg[http::field::content_type]);
    if (parser_->content_length()) request_.content_length = *parser_->content_length();
    keep_alive_ = msg.keep_alive();
    if (std::string problem = FramingProblem(msg); !problem.empty()) {
      keep_alive_ = false;
      return Write(Problem(400, problem));
    }
    if (reserved_ && !IsHealthPath(request_.target)) {
      keep_alive_ = false;
      return Write(
          Unavailable("the server is at its connection limit; this connection may ask "
                      "only /healthz and /metrics"));
    }
    const std::shared_ptr<const Credential> cred = server_->service->CredentialOf(request_);
    if (!Attribute(cred ? cred->Actor() : std::string())) {
      keep_alive_ = false;
      return Write(TooMany(cred ? "this credential holds its share of connections"
                                : "requests without a credential hold their share of connections"));
    }
    const bool has_body =
        (parser_->content_length() && *parser_->content_length() > 0) || parser_->chunked();
    request_.last_event_id = std::string(msg["Last-Event-ID"]);
    request_.accept = std::string(msg[http::field::accept]);
    request_.accept_encoding = std::string(msg[http::field::accept_encoding]);
    request_.if_none_match = std::string(msg[http::field::if_none_match]);
    request_.body_pending = parser_->chunked();
    if (std::optional<HttpResponse> early = server_->service->Precheck(request_)) {
      // The body is not read: the connection cannot be reused after it.
      if (has_body) keep_alive_ = false;
      return Write(std::move(*early));
    }
    if (server_->service->IsSubscription(request_)) return StartStream();
    parser_->body_limit(kMaxBodyBytes);
    stream_.tcp().expires_after(server_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  // Counts the connection under the credential of its latest request
  // (actor, "" for none); false when that credential holds its share.
  bool Attribute(const std::string& actor) {
    std::lock_guard l(server_->mu);
    if (credential_ == actor) return true;
    size_t& count = server_->by_credential[actor];
    if (count >= server_->options.max_connections_per_credential) {
      if (count == 0) server_->by_credential.erase(actor);
      return false;
    }
    ++count;
    if (credential_) Decrement(server_->by_credential, *credential_);
    credential_ = actor;
    return true;
  }

  static HttpResponse TooMany(const std::string& detail) {
    HttpResponse r = Problem(429, detail);
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  static HttpResponse Unavailable(const std::string& detail) {
    HttpResponse r = Problem(503, detail);
    r.headers.emplace_back("Retry-After", "1");
    return r;
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

  void Log(unsigned status, const char* note = "") {
    const auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
            .count();
    const std::shared_ptr<const Credential> cred = server_->service->CredentialOf(request_);
    server_->service->Observe(request_, status, ms);
    // Access log: never the token, never a body; the path as printable text.
    spdlog::info("{} {} {} {:.1f}ms {}{}", Printable(request_.method),
                 Printable(request_.target.substr(0, request_.target.find('?'))), status, ms,
                 cred ? cred->name : "-", note);
  }

  void Write(HttpResponse r) {
    Log(r.status);
    const bool keep_alive = keep_alive_ && !server_->stopping;
    if (r.stream) return WriteStreamed(std::move(r), keep_alive);
    // The body is sent from where it is (a cache's shared answer, or the
    // response's own string, moved): never copied. HEAD gets the GET's
    // headers, Content-Length included, and no body.
    std::shared_ptr<const std::string> body =
        r.shared_body ? std::move(r.shared_body)
                      : std::make_shared<const std::string>(std::move(r.body));
    auto res = std::make_shared<http::response<http::span_body<const char>>>();
    res->version(11);
    res->result(r.status);
    res->set(http::field::server, "rehab-access-ledger");
    res->set(http::field::content_type, r.content_type);
    res->set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    if (request_.method != "HEAD") res->body() = {body->data(), body->size()};
    // A 304 has no body and says nothing of its length (RFC 9110 §8.6).
    if (r.status != 304) res->content_length(body->size());
    stream_.tcp().expires_after(server_->options.write_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, body](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->Finish(res->keep_alive());
                      });
  }

  // After a response: the next request, or the end of the connection.
  void Finish(bool keep_alive) {
    if (!keep_alive) return LingeringClose();
    AwaitRequest(false);
  }

  // A streamed body (HttpResponse::stream): one piece in memory at a time,
  // the next made only once the client has taken the one before, each
  // within write_timeout.
  void WriteStreamed(HttpResponse r, bool keep_alive) {
    const bool head = request_.method == "HEAD";
    out_ = HeaderText(r, keep_alive, /*chunked=*/true);
    if (head) return Send([self = shared_from_this(), keep_alive] { self->Finish(keep_alive); });
    pieces_ = std::move(r.stream);
    Send([self = shared_from_this(), keep_alive] { self->NextPiece(keep_alive); });
  }
  void NextPiece(bool keep_alive) {
    ledger::Result<std::string> piece = pieces_();
    if (!piece.ok()) {
      // The status is sent: the body can only be cut short.
      spdlog::error("{}: response cut short: {}", Printable(request_.target),
                    piece.status().ToString());
      return Close();
    }
    if (piece->empty()) {
      pieces_ = nullptr;
      out_ = "0\r\n\r\n";
      return Send([self = shared_from_this(), keep_alive] { self->Finish(keep_alive); });
    }
    std::ostringstream size;
    size << std::hex << piece->size();
    out_ = size.str() + "\r\n" + std::move(piece).value() + "\r\n";
    Send([self = shared_from_this(), keep_alive] { self->NextPiece(keep_alive); });
  }

  // Writes out_ within write_timeout, then runs `then`; closes on failure.
  template <typename Then>
  void Send(Then then) {
    stream_.tcp().expires_after(server_->options.write_timeout);
    net::async_write(
        stream_, net::buffer(out_),
        [self = shared_from_this(), then = std::move(then)](beast::error_code ec, size_t) {
          // What was sent is not kept: a connection that waits
          // holds no copy of it.
          std::string().swap(self->out_);
          if (ec == beast::error::timeout) return self->Abort();
          if (ec) return self->Close();
          self->stream_.tcp().expires_never();
          then();
        });
  }

  // Closing a socket with unread bytes (a body not read after an early
  // answer) resets the connection, which can destroy the answer before the
  // client reads it: stop sending, then drain for a moment before closing.
  // Such a connection is done: it may make room for another at once, and
  // holds nothing of its client's shares, or of the reserve, while it
  // drains.
  void LingeringClose() {
    MayMakeRoom();
    {
      std::lock_guard l(server_->mu);
      ReleaseShares();
    }
    beast::error_code ec;
    stream_.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.tcp().expires_after(std::chrono::seconds(2));
    Drain();
  }
  void Drain() {
    drain_.resize(16 * 1024);
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->stream_.tcp().close();
                              self->Drain();
                            });
  }

  // Server-sent events: the events after the cursor, then each new one as
  // it becomes durable (polled every 50 ms), with a comment line every 15 s
  // of quiet so that proxies and clients keep the connection. Each write
  // holds at most about kStreamPieceBytes and must be taken within
  // write_timeout.
  void StartStream() {
    auto start = server_->service->StartSubscription(request_);
    if (auto* problem = std::get_if<HttpResponse>(&start)) {
      keep_alive_ = false;
      return Write(std::move(*problem));
    }
    if (std::optional<HttpResponse> refused = Subscribe()) {
      keep_alive_ = false;
      return Write(std::move(*refused));
    }
    cursor_ = std::get<uint64_t>(start);
    Log(200, " (stream)");
    timer_.emplace(stream_.get_executor());
    HttpResponse head;
    head.content_type = "text/event-stream";
    head.headers.emplace_back("Cache-Control", "no-store");
    out_ = HeaderText(head, /*keep_alive=*/false, /*chunked=*/false);
    Send([self = shared_from_this()] { self->PumpStream(); });
    WatchForLeaving();
  }
  // A subscriber that leaves is noticed at once, and its slot freed, rather
  // than at the next write; what it sends is read and dropped.
  void WatchForLeaving() {
    drain_.resize(1024);
    stream_.tcp().socket().async_read_some(
        net::buffer(drain_), [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->Close();
          self->WatchForLeaving();
        });
  }
  // Counts this connection as a subscriber, or the answer when the caps
  // are reached: 503 for all of them, 429 for this credential's.
  std::optional<HttpResponse> Subscribe() {
    std::lock_guard l(server_->mu);
    if (server_->subscribers >= server_->options.max_subscribers) {
      return Unavailable("the server holds as many event streams as it serves");
    }
    size_t& mine = server_->subscribers_by_credential[*credential_];
    if (mine >= server_->options.max_subscribers_per_credential) {
      if (mine == 0) server_->subscribers_by_credential.erase(*credential_);
      return TooMany("this credential holds its share of event streams");
    }
    ++mine;
    ++server_->subscribers;
    subscribed_ = true;
    return std::nullopt;
  }
  void PumpStream() {
    if (server_->stopping || !stream_.tcp().socket().is_open()) return Close();
    ledger::Result<std::string> frames = server_->service->NextFrames(&cursor_, kStreamPieceBytes);
    if (!frames.ok()) return Close();
    if (!frames->empty()) {
      idle_ticks_ = 0;
      out_ = std::move(frames).value();
      return Send([self = shared_from_this()] { self->PumpStream(); });
    }
    if (++idle_ticks_ >= 300) {
      idle_ticks_ = 0;
      out_ = ": keep-alive\n\n";
      return Send([self = shared_from_this()] { self->PumpStream(); });
    }
    timer_->expires_after(std::chrono::milliseconds(50));
    timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Close();
      self->PumpStream();
    });
  }

  // A client that stopped reading is cut off with a reset, which drops
  // what the system still holds for it too.
  void Abort() {
    beast::error_code ec;
    stream_.tcp().socket().set_option(net::socket_base::linger(true, 0), ec);
    stream_.tcp().close();
    if (timer_) timer_->cancel();
  }

  void Close() {
    beast::error_code ec;
    stream_.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.tcp().close();
    if (timer_) timer_->cancel();
  }

  std::shared_ptr<net::ssl::context> tls_;  // before stream_: it outlives it
  http_client::MaybeTlsStream stream_;
  beast::flat_buffer buffer_;
  std::vector<char> drain_;
  // What is being written: a whole header, a chunk, or frames.
  std::string out_;
  std::function<ledger::Result<std::string>()> pieces_;
  // Server-sent events.
  uint64_t cursor_ = 0;
  int idle_ticks_ = 0;
  std::optional<net::steady_timer> timer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Server::Impl* server_;
  HttpRequest request_;
  bool keep_alive_ = true;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  // Capacity held (under server_->mu).
  const std::string address_;
  const bool reserved_;
  std::optional<std::string> credential_;  // of the latest request with a header read
  bool subscribed_ = false;
  bool evicted_ = false;
  bool released_ = false;  // its shares given back (ReleaseShares)
  std::optional<std::list<std::weak_ptr<Session>>::iterator> waiting_;
};

// Answers a connection that cannot be taken in with a 503 at once, as far
// as the socket takes it without waiting, and closes it.
inline void Refuse(tcp::socket socket, const std::string& detail) {
  HttpResponse r = Problem(503, detail);
  r.headers.emplace_back("Retry-After", "1");
  const std::string bytes = HeaderText(r, false, false) + r.body;
  beast::error_code ec;
  socket.non_blocking(true, ec);
  // The header says nothing of the body's length: the close ends it.
  socket.send(net::buffer(bytes), 0, ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

}  // namespace api::detail
