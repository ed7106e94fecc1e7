// The HTTP ceiling of this machine for orderlog's stack: Pistache's own minimal handler (a
// 17-byte JSON answer, no routing, no storage) with one reactor thread, as orderlog-server runs
// by default. bench/http/run measures it with the same wrk command as the real workloads.
// Usage: pistache-hello PORT
#include <pistache/endpoint.h>
#include <pistache/http.h>

#include <cstdlib>

namespace {

class Hello final : public Pistache::Http::Handler {
 public:
  HTTP_PROTOTYPE(Hello)
  void onRequest(const Pistache::Http::Request& /*request*/,
                 Pistache::Http::ResponseWriter response) override {
    response.send(Pistache::Http::Code::Ok, "{\"hello\":\"world\"}");
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 18097;
  Pistache::Address addr(Pistache::Ipv4::loopback(), Pistache::Port(static_cast<uint16_t>(port)));
  Pistache::Http::Endpoint server(addr);
  server.init(
      Pistache::Http::Endpoint::options().threads(1).flags(Pistache::Tcp::Options::ReuseAddr));
  server.setHandler(Pistache::Http::make_handler<Hello>());
  server.serve();
}
