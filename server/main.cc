// orderlog-server: the order service over HTTP.
#include <pistache/endpoint.h>
#include <pistache/router.h>
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "server/domain/order_service.h"
#include "server/http/api.h"
#include "server/http/guard.h"
#include "server/http/metrics.h"
#include "server/http/spare_descriptor.h"
#include "server/http/tls.h"
#include "server/private_data.h"

namespace {

using namespace orderlog;

struct Config {
  std::string data_dir = "./data";
  std::string listen = "0.0.0.0:8000";
  std::string durability = "sync";
  int sync_interval_ms = 10;
  int threads = 1;
  uint64_t segment_mib = 64;
  bool preallocate = true;
  uint64_t snapshot_every = 100'000;
  size_t max_body = 64 * 1024;
  std::string auth_token;
  std::string auth_token_file;
  std::string tls_cert;
  std::string tls_key;
  int drain_seconds = 10;
  int header_timeout_s = 10;
  int body_timeout_s = 30;
  int idle_timeout_s = 60;
  int max_connections = 10'000;
};

// Connections, snapshot files and segments all take descriptors: the soft limit (often 1024)
// goes up to the hard one, which is what the administrator allows.
void RaiseOpenFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    std::fprintf(stderr, "orderlog-server: could not raise the open-file limit: %s\n",
                 std::strerror(errno));
  }
}

// Connections at most: --max-connections, within what the open-file limit leaves once the rest
// of the server has its descriptors (segments and their indexes, snapshots, each reactor's epoll
// and event descriptors and bell, the listener), so that accept never runs out.
size_t ConnectionBudget(size_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return wanted;
  const size_t limit = static_cast<size_t>(rl.rlim_cur);
  const size_t reserve = std::max<size_t>(64, limit / 8);
  const size_t budget = limit > reserve + 1 ? limit - reserve : 1;
  if (budget < wanted) {
    std::fprintf(stderr,
                 "orderlog-server: at most %zu connections (open-file limit %zu, %zu kept for "
                 "the log and the server)\n",
                 budget, limit, reserve);
  }
  return std::min(wanted, budget);
}

int Run(const Config& cfg) {
  Durability durability{};
  if (!ParseDurability(cfg.durability, &durability)) {
    std::fprintf(stderr, "orderlog-server: --durability must be sync, interval or none\n");
    return 2;
  }
  const size_t colon = cfg.listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "orderlog-server: --listen must be HOST:PORT\n");
    return 2;
  }
  const DataDirCheck dir_check = CheckDataDir(cfg.data_dir);
  if (!dir_check.refusal.empty()) {
    std::fprintf(stderr, "orderlog-server: %s\n", dir_check.refusal.c_str());
    return 2;
  }
  if (!dir_check.warning.empty()) {
    std::fprintf(stderr, "orderlog-server: %s\n", dir_check.warning.c_str());
  }
  http::Tokens tokens(http::TokenSet::Single(cfg.auth_token));
  if (!cfg.auth_token_file.empty()) {
    auto loaded = http::TokenSet::FromFile(cfg.auth_token_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "orderlog-server: %s\n", loaded.status().ToString().c_str());
      return 2;
    }
    tokens.Set(std::move(loaded).value());
  }
  const auto t0 = std::chrono::steady_clock::now();
  domain::ServiceOptions so;
  so.data_dir = cfg.data_dir;
  so.log.durability = durability;
  so.log.sync_interval = std::chrono::milliseconds(cfg.sync_interval_ms);
  so.log.segment_size = cfg.segment_mib << 20;
  so.log.preallocate = cfg.preallocate;
  so.snapshot_every = cfg.snapshot_every;
  domain::StartupReport report;
  auto opened = domain::OrderService::Open(so, &report);
  if (!opened.ok()) {
    std::fprintf(stderr, "orderlog-server: cannot open %s: %s\n", cfg.data_dir.c_str(),
                 opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<domain::OrderService> svc = std::move(opened).value();

  http::Metrics metrics;
  metrics.SetReplaySeconds(report.total_seconds);
  auto router = std::make_shared<Pistache::Rest::Router>();
  http::Api api(svc.get(), &metrics, {cfg.max_body, &tokens});
  api.Register(*router);

  http::GuardLimits limits;
  limits.framing.max_body = cfg.max_body;
  limits.framing.tokens = &tokens;
  limits.header_timeout = std::chrono::seconds(cfg.header_timeout_s);
  limits.body_timeout = std::chrono::seconds(cfg.body_timeout_s);
  limits.keepalive_timeout = std::chrono::seconds(cfg.idle_timeout_s);
  limits.max_connections = ConnectionBudget(static_cast<size_t>(cfg.max_connections));
  std::unique_ptr<Pistache::Http::Endpoint> endpoint;
  try {
    Pistache::Address addr(
        cfg.listen.substr(0, colon),
        Pistache::Port(static_cast<uint16_t>(std::stoi(cfg.listen.substr(colon + 1)))));
    endpoint = std::make_unique<Pistache::Http::Endpoint>(addr);
    endpoint->init(Pistache::Http::Endpoint::options()
                       .threads(cfg.threads)
                       .flags(Pistache::Tcp::Options::ReuseAddr)
                       .maxRequestSize(http::GuardedRouterHandler::PistacheRequestLimit(limits))
                       .headerTimeout(limits.header_timeout)
                       .bodyTimeout(limits.body_timeout)
                       .keepaliveTimeout(limits.keepalive_timeout));
    endpoint->setHandler(std::make_shared<http::GuardedRouterHandler>(router, limits, &metrics));
    const bool tls = !cfg.tls_cert.empty();
    if (tls) http::UseTls(*endpoint, cfg.tls_cert, cfg.tls_key);
    http::SpareDescriptor::Install(*endpoint, &metrics, tls);  // the listener keeps it
    endpoint->serveThreaded();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "orderlog-server: cannot listen on %s: %s\n", cfg.listen.c_str(),
                 e.what());
    return 1;
  }
  const double startup =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "orderlog-server 0.1.0 listening on %s:%u data_dir=%s durability=%s events=%llu "
      "orders=%zu snapshot_position=%llu replayed=%llu startup_seconds=%.3f\n",
      cfg.listen.substr(0, colon).c_str(), static_cast<unsigned>(endpoint->getPort()),
      cfg.data_dir.c_str(), cfg.durability.c_str(),
      static_cast<unsigned long long>(svc->position().value), svc->order_count(),
      static_cast<unsigned long long>(report.snapshot_position.value),
      static_cast<unsigned long long>(report.events_replayed), startup);
  std::fflush(stdout);

  // SIGHUP: re-read the token file (connections stay open; a bad file keeps the tokens in
  // force). SIGTERM / SIGINT: finish in-flight writes, stop serving, sync, snapshot, exit 0.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  int sig = 0;
  while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
    if (cfg.auth_token_file.empty()) continue;
    auto loaded = http::TokenSet::FromFile(cfg.auth_token_file);
    if (loaded.ok()) {
      const size_t n = (*loaded)->size();
      tokens.Set(std::move(loaded).value());
      std::printf("orderlog-server: SIGHUP: %zu tokens from %s in force\n", n,
                  cfg.auth_token_file.c_str());
    } else {
      std::printf("orderlog-server: SIGHUP: %s; the tokens in force are kept\n",
                  loaded.status().ToString().c_str());
    }
    std::fflush(stdout);
  }
  std::printf("orderlog-server: signal %d, draining %d in-flight writes\n", sig, api.inflight());
  std::fflush(stdout);
  const bool drained = api.Drain(std::chrono::seconds(cfg.drain_seconds));
  endpoint->shutdown();
  Status closed = svc->Close();
  std::printf("orderlog-server: stopped (%s, log %s, position %llu)\n",
              drained ? "drained" : "drain deadline passed", closed.ok() ? "synced" : "failed",
              static_cast<unsigned long long>(svc->position().value));
  std::fflush(stdout);
  return closed.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists: the signals are taken by sigwait in Run, and a vanished client
  // must never kill the process.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Config cfg;
  CLI::App app{"orderlog-server: an event-sourced order service with its own storage engine"};
  app.add_option("--data-dir", cfg.data_dir, "Data directory (created if missing)")
      ->envname("ORDERLOG_DATA_DIR")
      ->capture_default_str();
  app.add_option("--listen", cfg.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->envname("ORDERLOG_LISTEN")
      ->capture_default_str();
  app.add_option("--durability", cfg.durability,
                 "sync: acknowledge after fdatasync (group commit); interval: fdatasync every "
                 "--sync-interval-ms; none: leave it to the OS")
      ->envname("ORDERLOG_DURABILITY")
      ->check(CLI::IsMember({"sync", "interval", "none"}))
      ->capture_default_str();
  app.add_option("--sync-interval-ms", cfg.sync_interval_ms, "fdatasync period in interval mode")
      ->envname("ORDERLOG_SYNC_INTERVAL_MS")
      ->check(CLI::Range(1, 60'000))
      ->capture_default_str();
  app.add_option("--threads", cfg.threads, "HTTP reactor threads")
      ->envname("ORDERLOG_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--segment-size-mib", cfg.segment_mib, "Log segment size in MiB")
      ->envname("ORDERLOG_SEGMENT_SIZE_MIB")
      ->check(CLI::Range(1, 2047))
      ->capture_default_str();
  app.add_option("--preallocate", cfg.preallocate,
                 "Zero-fill each log segment in the background before it is used, so that an "
                 "fdatasync writes only data (sync and interval modes; costs the segment size in "
                 "writes per segment)")
      ->envname("ORDERLOG_PREALLOCATE")
      ->capture_default_str();
  app.add_option("--snapshot-every", cfg.snapshot_every,
                 "Events between read-model snapshots (0: only at shutdown; with more than 4x that "
                 "many orders, a quarter of the order count)")
      ->envname("ORDERLOG_SNAPSHOT_EVERY")
      ->capture_default_str();
  app.add_option("--max-body", cfg.max_body, "Largest accepted request body in bytes")
      ->envname("ORDERLOG_MAX_BODY")
      ->check(CLI::Range(size_t{1024}, size_t{16} << 20))
      ->capture_default_str();
  auto* token = app.add_option("--auth-token", cfg.auth_token,
                               "Require 'Authorization: Bearer <token>' on every endpoint but "
                               "/health (visible in ps: prefer --auth-token-file)")
                    ->envname("ORDERLOG_AUTH_TOKEN");
  app.add_option("--auth-token-file", cfg.auth_token_file,
                 "Tokens, one per line ('read:<token>' may only read), re-read on SIGHUP")
      ->envname("ORDERLOG_AUTH_TOKEN_FILE")
      ->excludes(token);
  auto* cert = app.add_option("--tls-cert", cfg.tls_cert,
                              "Serve HTTPS (TLS 1.2+): the certificate chain, PEM")
                   ->envname("ORDERLOG_TLS_CERT")
                   ->check(CLI::ExistingFile);
  auto* key = app.add_option("--tls-key", cfg.tls_key, "The certificate's private key, PEM")
                  ->envname("ORDERLOG_TLS_KEY")
                  ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  app.add_option("--drain-seconds", cfg.drain_seconds,
                 "On SIGTERM/SIGINT, how long to wait for in-flight writes")
      ->envname("ORDERLOG_DRAIN_SECONDS")
      ->check(CLI::Range(0, 600))
      ->capture_default_str();
  app.add_option("--header-timeout", cfg.header_timeout_s,
                 "Seconds for a request head to arrive (then 408 and close)")
      ->envname("ORDERLOG_HEADER_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--body-timeout", cfg.body_timeout_s,
                 "Seconds for a request body to arrive (then 408 and close)")
      ->envname("ORDERLOG_BODY_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--idle-timeout", cfg.idle_timeout_s,
                 "Seconds an idle keep-alive connection is kept open")
      ->envname("ORDERLOG_IDLE_TIMEOUT")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_option("--max-connections", cfg.max_connections,
                 "Open connections at most; further ones are answered 503 and closed")
      ->envname("ORDERLOG_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  RaiseOpenFileLimit();
  return Run(cfg);
}
