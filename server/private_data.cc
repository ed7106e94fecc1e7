#include "server/private_data.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

namespace orderlog {

DataDirCheck CheckDataDir(const std::string& dir) {
  DataDirCheck check;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return check;  // made 0700 by the engine
  const auto mode = static_cast<unsigned>(st.st_mode & 07777);
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", mode);
  if ((mode & 022) != 0) {
    check.refusal = "data directory " + dir + " is writable by " +
                    ((mode & 002) != 0 ? "every user" : "its group") + " (mode " + octal +
                    "); make it the owner's alone: chmod 700 " + dir;
  } else if ((mode & 044) != 0) {
    check.warning = "data directory " + dir + " is readable by " +
                    ((mode & 004) != 0 ? "every user" : "its group") + " (mode " + octal +
                    "); chmod 700 " + dir + " to make it private";
  }
  return check;
}

}  // namespace orderlog
