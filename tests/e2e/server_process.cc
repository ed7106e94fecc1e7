#include "tests/e2e/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <regex>

namespace orderlog::testing {

std::string ServerBinary() {
  const char* other = std::getenv("ORDERLOG_SERVER_BINARY");
  return other != nullptr ? other : ORDERLOG_SERVER_PATH;
}

ServerProcess::ServerProcess(const std::string& data_dir, std::vector<std::string> extra_args,
                             unsigned open_files)
    : log_path_(data_dir + ".server.log") {
  std::vector<std::string> args = {ServerBinary(), "--data-dir", data_dir, "--listen",
                                   "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  // The server's output goes to a file next to its data directory: kept for diagnosis, and a
  // full pipe can never block the server.
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return;
  const off_t start = ::lseek(log_fd, 0, SEEK_END);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (open_files != 0) {
      const rlimit limit{open_files, open_files};
      if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(126);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  // Wait for the "listening on HOST:PORT" line, the process to exit, or 30 s.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const std::regex listening("listening on [^ ]*:([0-9]+)");
  while (std::chrono::steady_clock::now() < until) {
    output_ = ReadLog(start);
    std::smatch m;
    if (std::regex_search(output_, m, listening)) {
      port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
      break;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      output_ = ReadLog(start);
      break;
    }
    ::usleep(5000);
  }
  log_start_ = start;
}

std::string ServerProcess::ReadLog(off_t from) const {
  std::string out;
  const int fd = ::open(log_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  off_t off = from;
  while ((n = ::pread(fd, buf, sizeof(buf), off)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  ::close(fd);
  return out;
}

std::string ServerProcess::FullOutput() const {
  return ReadLog(log_start_);
}

ServerProcess::~ServerProcess() {
  Kill();
  // A sanitizer report in any server a test started fails that test, whatever it checked.
  const std::string out = FullOutput();
  for (const char* report : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                             "WARNING: ThreadSanitizer", "runtime error:"}) {
    if (out.find(report) != std::string::npos) {
      ADD_FAILURE() << "the server reported \"" << report << "\":\n" << out;
      break;
    }
  }
}

int ServerProcess::Wait(int timeout_ms) {
  if (pid_ <= 0) return exit_status_;
  for (int waited = 0; waited <= timeout_ms; waited += 5) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_status_;
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
