#include "server/http/errors.h"

namespace orderlog::http {

HttpError ToHttpError(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return {200, ""};
    case StatusCode::kNotFound:
      return {404, s.message()};
    case StatusCode::kInvalidArgument:
      return {422, s.message()};
    case StatusCode::kConflict:
      return {409, s.message()};
    case StatusCode::kFailedPrecondition:
      return {412, s.message()};
    case StatusCode::kNoSpace:
      return {503, "The store cannot accept writes: the disk is full (" + s.message() + ")"};
    case StatusCode::kReadOnly:
      return {503, "The store cannot accept writes: " + s.message()};
    case StatusCode::kClosed:
      return {503, "The server is shutting down"};
    case StatusCode::kLocked:
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
      break;
  }
  return {500, "Internal error: " + s.ToString()};
}

}  // namespace orderlog::http
