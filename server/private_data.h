// The data directory holds every order and customer id: it is the owner's alone. The engine
// creates it 0700 and every file in it 0600 (engine/env_posix.cc); this is the server's check of
// a directory that already exists, as PostgreSQL makes of its data directory.
#pragma once

#include <string>

namespace orderlog {

struct DataDirCheck {
  std::string refusal;  // non-empty: do not start (another user could change the data)
  std::string warning;  // non-empty: start, and say it (another user can read the data)
};

// An absent directory passes (the engine creates it private).
DataDirCheck CheckDataDir(const std::string& dir);

}  // namespace orderlog
