// The one place where engine and domain errors become HTTP status codes and details.
#pragma once

#include <string>

#include "engine/status.h"

namespace orderlog::http {

struct HttpError {
  int code;
  std::string detail;
};

HttpError ToHttpError(const Status& status);

}  // namespace orderlog::http
