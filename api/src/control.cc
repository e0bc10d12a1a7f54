#include "api/control.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace api {

using ledger::Result;
using ledger::Status;

namespace {

// How long a peer may take to send its command.
constexpr int kCommandTimeoutMs = 2000;
constexpr size_t kMaxCommand = 64;

}  // namespace

Result<std::unique_ptr<ControlSocket>> ControlSocket::Open(const std::string& path,
                                                           Handler handler) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("the control socket's path must be 1 to " +
                                   std::to_string(sizeof(addr.sun_path) - 1) + " bytes: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string("control socket: ") + std::strerror(errno));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      ::close(fd);
      return Status::InvalidArgument(
          "the control socket's path holds a file that is not a socket: " + path);
    }
    ::unlink(path.c_str());
  }
  // Connecting needs write permission on the socket: it is its owner's
  // alone (ledgerd's umask is 077, so it is never more than 0700 between
  // the bind and the chmod; the umask is not changed here, as it is the
  // whole process's).
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::chmod(path.c_str(), 0600) != 0 || ::listen(fd, 8) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return Status::IOError("control socket " + path + ": " + why);
  }
  std::unique_ptr<ControlSocket> s(new ControlSocket(path, fd, std::move(handler)));
  if (::pipe2(s->wake_, O_CLOEXEC) != 0) {
    return Status::IOError(std::string("control socket: ") + std::strerror(errno));
  }
  s->thread_ = std::thread([p = s.get()] { p->Run(); });
  return s;
}

ControlSocket::ControlSocket(std::string path, int listen_fd, Handler handler)
    : path_(std::move(path)), listen_fd_(listen_fd), handler_(std::move(handler)) {}

ControlSocket::~ControlSocket() {
  if (thread_.joinable()) {
    const char stop = 's';
    [[maybe_unused]] ssize_t n = ::write(wake_[1], &stop, 1);
    thread_.join();
  }
  ::close(listen_fd_);
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
  ::unlink(path_.c_str());
}

void ControlSocket::Run() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control socket: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Serve(fd);
    ::close(fd);
  }
}

void ControlSocket::Serve(int fd) {
  auto answer = [fd](const std::string& line) {
    const std::string out = line + "\n";
    size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  };
  ucred peer{};
  socklen_t len = sizeof(peer);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
      (peer.uid != ::geteuid() && peer.uid != 0)) {
    spdlog::warn("control socket: refused a peer of uid {}", peer.uid);
    return answer(
        R"({"error":"refused: only the user ledgerd runs as, or root, may use this socket"})");
  }
  std::string command;
  char buf[kMaxCommand + 1];
  while (command.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kCommandTimeoutMs) <= 0) return;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    command.append(buf, static_cast<size_t>(n));
    if (command.size() > kMaxCommand + 1) {
      return answer(R"({"error":"a command is one short line"})");
    }
  }
  command.resize(command.find('\n'));
  answer(handler_(command));
}

}  // namespace api
