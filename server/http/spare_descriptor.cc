#include "server/http/spare_descriptor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>
#include <thread>

#include "server/http/http_util.h"
#include "server/http/json_out.h"
#include "server/http/pistache_private.h"

namespace orderlog::http {

namespace {

constexpr auto kBackOff = std::chrono::milliseconds(5);

int TakeSpare() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

}  // namespace

std::shared_ptr<SpareDescriptor> SpareDescriptor::Install(Pistache::Http::Endpoint& endpoint,
                                                          Metrics* metrics, bool tls) {
  Pistache::Tcp::Listener& listener = pistache_private::ListenerOf(endpoint);
  auto spare =
      std::make_shared<SpareDescriptor>(&pistache_private::ListenFdOf(listener), metrics, tls);
  pistache_private::LoggerOf(listener) = spare;
  return spare;
}

SpareDescriptor::SpareDescriptor(const int* listen_fd, Metrics* metrics, bool tls)
    : listen_fd_(listen_fd), metrics_(metrics), spare_(TakeSpare()) {
  if (!tls) refusal_ = SerializeAnswer(RequestContext{}, 503, ErrorJson("Too many connections"));
}

SpareDescriptor::~SpareDescriptor() {
  if (spare_ >= 0) ::close(spare_);
}

bool SpareDescriptor::isEnabledFor(Pistache::Log::Level level) const {
  return level >= Pistache::Log::Level::WARN;
}

void SpareDescriptor::log(Pistache::Log::Level level, const std::string& message) {
  // The listener's accept failures read "Socket error: <strerror>".
  const std::string_view text = message;
  if (text.find(std::strerror(EMFILE)) != std::string_view::npos ||
      text.find(std::strerror(ENFILE)) != std::string_view::npos) {
    RefuseOne();
    return;
  }
  if (level >= Pistache::Log::Level::ERROR) {
    std::fprintf(stderr, "orderlog-server: listener: %s\n", message.c_str());
  }
}

void SpareDescriptor::RefuseOne() {
  if (spare_ < 0) spare_ = TakeSpare();
  if (spare_ < 0) {  // still none: wait for descriptors to free rather than spin
    std::this_thread::sleep_for(kBackOff);
    return;
  }
  ::close(spare_);
  const int fd = ::accept4(*listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd >= 0) {
    if (!refusal_.empty()) {
      (void)::send(fd, refusal_.data(), refusal_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::close(fd);
    used_.fetch_add(1, std::memory_order_relaxed);
    if (metrics_ != nullptr) {
      metrics_->ConnectionRefused();
      metrics_->CountClose(CloseReason::kNoDescriptors);
    }
  }
  spare_ = TakeSpare();
}

}  // namespace orderlog::http
