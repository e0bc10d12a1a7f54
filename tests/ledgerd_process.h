// A real ledgerd for the tests that need the program itself: started with
// the arguments given on a free port, which it reads from ledgerd's first
// log line, and stopped as an operator (SIGTERM) or a crash (SIGKILL)
// would stop it.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace ledger::testing {

// Starts the program at `path` with `args`, its descriptor `fd` (stdout or
// stderr) going to a pipe whose read end is put in *read_end. Returns the
// pid, or -1 when it could not be started.
inline pid_t SpawnProgram(const std::string& path, const std::vector<std::string>& args, int fd,
                          int* read_end) {
  int p[2];
  if (::pipe(p) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    ::close(p[1]);
    return -1;
  }
  if (pid == 0) {
    ::dup2(p[1], fd);
    ::close(p[0]);
    std::vector<char*> argv{const_cast<char*>(path.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    _exit(127);
  }
  ::close(p[1]);
  *read_end = p[0];
  return pid;
}

// The ledgerd at `path` run with `args` (and "--port 0" unless they name a
// port), its standard output
// (its log) read until it says where it listens. port() is 0 when it
// exited instead (log() says why).
class LedgerdProcess {
 public:
  LedgerdProcess(const std::string& path, std::vector<std::string> args) {
    if (std::find(args.begin(), args.end(), "--port") == args.end()) {
      args.insert(args.end(), {"--port", "0"});
    }
    pid_ = SpawnProgram(path, args, STDOUT_FILENO, &out_);
    if (pid_ < 0) return;
    std::smatch m;
    char buf[512];
    while (port_ == 0) {
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return;  // it exited
      log_.append(buf, static_cast<size_t>(n));
      if (std::regex_search(log_, m, std::regex(R"(listening on https?://127\.0\.0\.1:(\d+))"))) {
        port_ = static_cast<uint16_t>(std::stoi(m[1]));
      }
    }
    // The rest of its log is read as it comes, so that a busy server never
    // waits on a full pipe; log() has it all once it has stopped.
    drain_ = std::thread([this] {
      char more[4096];
      for (ssize_t n; (n = ::read(out_, more, sizeof more)) > 0;) {
        std::lock_guard lock(mu_);
        log_.append(more, static_cast<size_t>(n));
      }
    });
  }
  ~LedgerdProcess() {
    if (pid_ > 0) Stop();
  }
  LedgerdProcess(const LedgerdProcess&) = delete;
  LedgerdProcess& operator=(const LedgerdProcess&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // SIGTERM (a graceful stop), then the exit status; the whole log is then
  // in log().
  int Stop() { return End(SIGTERM); }
  // SIGKILL: the process vanishes as in a crash, with whatever RocksDB had
  // only in memory lost.
  int Kill() { return End(SIGKILL); }
  const std::string& log() const { return log_; }
  // Sends `signal` (SIGHUP: read the tokens file and TLS files again).
  void Signal(int signal) const {
    if (pid_ > 0) ::kill(pid_, signal);
  }

 private:
  int End(int signal) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (drain_.joinable()) {
      drain_.join();  // the pipe's end: the process is gone
    } else {
      char buf[512];
      for (ssize_t n; (n = ::read(out_, buf, sizeof buf)) > 0;) {
        log_.append(buf, static_cast<size_t>(n));
      }
    }
    ::close(out_);
    return status;
  }
  std::thread drain_;
  std::mutex mu_;  // log_, while drain_ runs
  pid_t pid_ = -1;
  int out_ = -1;
  uint16_t port_ = 0;
  std::string log_;
};

}  // namespace ledger::testing
