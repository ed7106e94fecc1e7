// orderlog-inspect: the operator's view of a data directory, read through the engine's and the
// domain's own code (LogCursor, CheckLog, Log read-only, snapshots). Takes no lock and writes
// nothing, so it may run beside a live server — except `repair --yes`, which takes the lock.
//
// Exit codes: 0 done (verify: clean), 1 problems found or the request could not be carried out,
// 2 unusable arguments or directory.
#include <CLI/CLI.hpp>

#include "tools/inspect/inspect.h"

using namespace orderlog::inspect;

int main(int argc, char** argv) {
  static char out_buf[1 << 20];
  std::setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));

  CLI::App app{
      "orderlog-inspect: look into an orderlog data directory (read-only; safe beside a running "
      "server, except `repair --yes`)"};
  app.require_subcommand(1);
  std::string dir;
  bool json = false;
  auto with_dir = [&](CLI::App* sub, bool data_output = true) {
    sub->add_option("DIR", dir, "the data directory")->required();
    if (data_output) sub->add_flag("--json", json, "machine-readable output (JSON / JSON Lines)");
  };

  auto* segments = app.add_subcommand("segments",
                                      "every segment file: positions, records, "
                                      "bytes, sealed or active, timestamps, index");
  with_dir(segments);

  DumpFilter filter;
  auto* dump = app.add_subcommand("dump", "records in position order, decoded, one per line");
  with_dir(dump);
  dump->add_option("--from", filter.from, "first position")->check(CLI::PositiveNumber);
  dump->add_option("--to", filter.to, "last position")->check(CLI::PositiveNumber);
  dump->add_option("--limit", filter.limit, "at most N records");
  dump->add_option("--order", filter.order, "only this order's events");
  dump->add_option("--type", filter.type, "only events of this type (name or number)");

  std::string order_id;
  auto* order = app.add_subcommand("order", "one order's history and folded state");
  with_dir(order);
  order->add_option("ID", order_id, "the order id")->required();

  auto* verify = app.add_subcommand(
      "verify",
      "check every record, segment, index file and snapshot; exit 0 clean, 1 problems, "
      "2 unusable");
  with_dir(verify);

  auto* stats = app.add_subcommand("stats", "events, orders, types, statuses, sizes, memory");
  with_dir(stats);

  auto* snapshots = app.add_subcommand("snapshots", "snapshot files: position, size, valid");
  with_dir(snapshots);

  bool yes = false;
  auto* repair = app.add_subcommand(
      "repair",
      "cut a torn tail or the log at its first corrupt record (keeping what is cut); "
      "without --yes only says what it would do");
  with_dir(repair);
  repair->add_flag("--yes", yes, "do it (takes the directory lock: stop the server first)");

  uint64_t lines = 10;
  bool follow = false;
  auto* tail = app.add_subcommand("tail", "the last events; with -f, follow new ones");
  with_dir(tail);
  tail->add_option("-n,--lines", lines, "how many of the last events (default 10)");
  tail->add_flag("-f,--follow", follow, "keep printing events as the server appends them");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUnusable;
  }
  if (*segments) return Segments(dir, json);
  if (*dump) return Dump(dir, filter, json);
  if (*order) return Order(dir, order_id, json);
  if (*verify) return Verify(dir, json);
  if (*stats) return Stats(dir, json);
  if (*snapshots) return Snapshots(dir, json);
  if (*repair) return Repair(dir, yes, json);
  if (*tail) return Tail(dir, lines, follow, json);
  return kUnusable;
}
