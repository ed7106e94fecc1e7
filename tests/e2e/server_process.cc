#include "tests/e2e/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>

namespace orderlog::testing {

std::string ServerBinary() {
  return ORDERLOG_SERVER_PATH;
}

ServerProcess::ServerProcess(const std::string& data_dir, std::vector<std::string> extra_args) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return;
  std::vector<std::string> args = {ServerBinary(), "--data-dir", data_dir, "--listen",
                                   "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  out_fd_ = pipefd[0];
  // Read until the "listening on HOST:PORT" line, the process exits, or 30 s pass.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const std::regex listening("listening on [^ ]*:([0-9]+)");
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(out_fd_, buf, sizeof(buf));
    if (n <= 0) break;  // exited
    output_.append(buf, static_cast<size_t>(n));
    std::smatch m;
    if (std::regex_search(output_, m, listening)) {
      port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
      break;
    }
  }
  // Keep draining its output so that it never blocks on a full pipe.
  ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
}

ServerProcess::~ServerProcess() {
  Kill();
  if (out_fd_ >= 0) ::close(out_fd_);
}

int ServerProcess::Wait(int timeout_ms) {
  if (pid_ <= 0) return -1;
  for (int waited = 0; waited <= timeout_ms; waited += 5) {
    char buf[4096];
    while (out_fd_ >= 0 && ::read(out_fd_, buf, sizeof(buf)) > 0) {
    }
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    ::usleep(5000);
  }
  return -1;
}

int ServerProcess::Terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return Wait(30'000);
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace orderlog::testing
