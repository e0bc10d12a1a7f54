// The operator's control socket (docs/OPERATIONS.md, "Standbys and
// failover"): a Unix socket, by default DATA/ledgerd.sock, through which
// `ledgerctl promote` and `ledgerctl status` reach the ledgerd running on a
// data directory. It is for whoever runs ledgerd, not for clients: the
// socket is 0600 and a peer of another user (root aside) is refused, so the
// file system, not a token, says who may promote.
//
// One request per connection: a command of up to 64 bytes ending in '\n';
// the answer is one line of JSON, then the socket is closed.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "ledger/status.h"

namespace api {

class ControlSocket {
 public:
  // The answer line (JSON, without its '\n') to a command, which has no
  // '\n'. Called on the socket's own thread, one command at a time.
  using Handler = std::function<std::string(std::string_view command)>;

  // Listens at `path`; a file left there by a ledgerd that died is
  // replaced (the ledger's lock says no other ledgerd runs on the data).
  // kInvalidArgument for a path too long for a Unix socket.
  static ledger::Result<std::unique_ptr<ControlSocket>> Open(const std::string& path,
                                                             Handler handler);
  // Stops answering and removes the socket file.
  ~ControlSocket();
  const std::string& path() const { return path_; }

 private:
  ControlSocket(std::string path, int listen_fd, Handler handler);
  void Run();
  void Serve(int fd);

  std::string path_;
  int listen_fd_;
  int wake_[2] = {-1, -1};  // a pipe: written to stop Run
  Handler handler_;
  std::thread thread_;
};

}  // namespace api
