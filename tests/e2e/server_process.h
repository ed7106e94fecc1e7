// Runs the real orderlog-server binary for end-to-end tests: a temporary data directory, an
// ephemeral port read from its start-up line, SIGTERM or SIGKILL to stop it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace orderlog::testing {

class ServerProcess {
 public:
  // Starts the server on data_dir with extra flags; waits for its "listening" line.
  // open_files: if not 0, the server runs with that open-file limit, soft and hard (as under
  // `prlimit --nofile=N:N`).
  ServerProcess(const std::string& data_dir, std::vector<std::string> extra_args = {},
                unsigned open_files = 0);
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return port_ != 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& output() const { return output_; }  // start-up output
  std::string FullOutput() const;                        // everything it printed so far
  // SIGTERM and wait; returns the exit status (or -1).
  int Terminate();
  void Kill();
  // Waits for the process to exit on its own; returns the exit status (-1 on timeout).
  int Wait(int timeout_ms);

 private:
  std::string ReadLog(off_t from) const;

  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string log_path_;
  off_t log_start_ = 0;
  uint16_t port_ = 0;
  std::string output_;
};

// Path of the server binary under test: $ORDERLOG_SERVER_BINARY, else the one CMake built with
// the tests (the variable lets a suite run against another build, e.g. an older commit's).
std::string ServerBinary();

}  // namespace orderlog::testing
