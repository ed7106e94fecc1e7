#!/usr/bin/env python3
"""Turns a bench/run output directory (bench.json, http.txt, machine.txt) into report.md and
PNG plots (gnuplot). Only the Python standard library; gnuplot from Debian's gnuplot-nox.

Usage: bench/report.py DIR
"""
import json
import os
import re
import subprocess
import sys

SYNC, INTERVAL, NONE = 0, 1, 2  # engine::Durability


def load(out):
    with open(os.path.join(out, "bench.json")) as f:
        data = json.load(f)
    # Benchmarks run in processes of their own (bench-*.json) join the rest.
    for extra in sorted(os.listdir(out)):
        if extra.startswith("bench-") and extra.endswith(".json"):
            with open(os.path.join(out, extra)) as f:
                data["benchmarks"] += json.load(f)["benchmarks"]
    # With --benchmark_repetitions the JSON holds aggregates: the median of each run is used (the
    # machine is noisy: a single run can be 30% off). Without, the one run.
    runs = {}
    medians = {}
    for b in data["benchmarks"]:
        key = b.get("run_name", b["name"])
        if b.get("run_type", "iteration") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[key] = b
        elif key not in runs:
            runs[key] = b
    runs.update(medians)
    http = {}
    path = os.path.join(out, "http.txt")
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"^(\w+)\s+requests=(\S+)", line)
            if m:
                http[m.group(1)] = dict(kv.split("=") for kv in line.split()[1:])
    machine = []
    path = os.path.join(out, "machine.txt")
    if os.path.exists(path):
        machine = [l.rstrip("\n") for l in open(path) if l.strip()]
    return runs, http, machine


class Runs:
    def __init__(self, runs):
        self.runs = runs

    def get(self, pattern):
        """The run whose name matches the regex (search), or None; errors count as missing."""
        rx = re.compile(pattern)
        for name, b in self.runs.items():
            if rx.search(name) and not b.get("error_occurred"):
                return b
        return None

    def rate(self, pattern):
        b = self.get(pattern)
        return b.get("items_per_second") if b else None

    def counter(self, pattern, key):
        b = self.get(pattern)
        return b.get(key) if b else None

    def ms(self, pattern):
        b = self.get(pattern)
        if not b:
            return None
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        return b["real_time"] * scale


def medians_used(runs):
    return any(b.get("run_type") == "aggregate" for b in runs.values())


def fmt_rate(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M/s"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k/s"
    return f"{v:.0f}/s"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def fmt(v, unit="", digits=1):
    if v is None:
        return "–"
    return f"{v:.{digits}f}{unit}"


def fmt_bucket(us):
    """An fdatasync percentile read off the engine's histogram (interpolated inside its bucket)."""
    if us is None:
        return "–"
    return f"~{us:.0f} µs"


def engine_blocking(mode, threads, payload=100, prealloc=1):
    return rf"^BM_AppendBlocking/payload:{payload}/durability:{mode}/prealloc:{prealloc}/.*threads:{threads}$"


def peer_threads(peer, sync, threads):
    return rf"^BM_PeerAppendThreads/{peer}/payload:100/sync:{sync}/.*threads:{threads}$"


def main():
    out = sys.argv[1]
    raw_runs, http, machine = load(out)
    r = Runs(raw_runs)
    fsync_ms = r.ms(r"^BM_Fdatasync")
    fsync_us = fsync_ms * 1e3 if fsync_ms is not None else None
    L = []
    L.append("# orderlog benchmark report")
    L.append("")
    L.append("Produced by `bench/run` (" + next((m.split(": ", 1)[1] for m in machine
                                              if m.startswith("mode:")), "?") +
             " mode); every figure below comes from `bench.json` and `http.txt` beside this file" +
             (" (each benchmark the median of its repetitions)." if medians_used(raw_runs) else "."))
    L.append("")
    L.append("## Machine")
    L.append("")
    for m in machine:
        L.append(f"- {m}")
    if fsync_us is not None:
        L.append(f"- measured fdatasync latency (150-byte append, `BM_Fdatasync`): "
                 f"**{fsync_us:.0f} µs** (1/fdatasync = {1e6 / fsync_us / 1e3:.1f} k/s)")
    L.append("")

    # ---- the comparison
    L.append("## The engine against the physical limit and the peers")
    L.append("")
    L.append("Same records (order-id-shaped stream ids, 100-byte payloads unless stated), same "
             "durability and concurrency in each row. *raw write()* is the same framed records "
             "written with plain `write()` calls (no index, no queue, no threads): the limit. "
             "SQLite: WAL, events table keyed by position plus a unique (stream, version) index, "
             "`synchronous=OFF` or `FULL`. RocksDB: a key per position plus a stream index key, "
             "`WriteOptions::sync` off or on. Ratios are the engine's rate divided by the "
             "other's.")
    L.append("")
    L.append("| workload | engine | raw write() | SQLite | RocksDB | ÷ raw | ÷ SQLite | ÷ RocksDB |")
    L.append("|---|---|---|---|---|---|---|---|")

    def row(title, engine, raw, sqlite, rocks):
        e, w, s, k = (r.rate(p) if p else None for p in (engine, raw, sqlite, rocks))
        L.append(f"| {title} | {fmt_rate(e)} | {fmt_rate(w)} | {fmt_rate(s)} | {fmt_rate(k)} | "
                 f"{fmt_ratio(e, w)} | {fmt_ratio(e, s)} | {fmt_ratio(e, k)} |")

    row("buffered append (no fsync), 1 appender; raw: 7000 records per write(), peers: 1000 per "
        "transaction", rf"^BM_AppendAsync/payload:100/durability:{NONE}/",
        r"^BM_RawWrite/payload:100/batch:7000/sync:0/", r"^BM_PeerAppend/sqlite/payload:100/batch:1000/sync:0/",
        r"^BM_PeerAppend/rocksdb/payload:100/batch:1000/sync:0/")
    row("buffered append, 1 KiB payloads", rf"^BM_AppendAsync/payload:1024/durability:{NONE}/",
        r"^BM_RawWrite/payload:1024/batch:1000/sync:0/", r"^BM_PeerAppend/sqlite/payload:1024/batch:1000/sync:0/",
        r"^BM_PeerAppend/rocksdb/payload:1024/batch:1000/sync:0/")
    row("synced append, 64 appender threads, one record each (raw: 64 records per fdatasync)",
        engine_blocking(SYNC, 64), r"^BM_RawWrite/payload:100/batch:64/sync:1/",
        peer_threads("sqlite", 1, 64), peer_threads("rocksdb", 1, 64))
    row("synced append, 1 appender thread (raw: fdatasync per record)", engine_blocking(SYNC, 1),
        r"^BM_RawWrite/payload:100/batch:1/sync:1/", peer_threads("sqlite", 1, 1),
        peer_threads("rocksdb", 1, 1))
    row("synced append, 1 thread submitting asynchronously (peers: 64 records per transaction)",
        rf"^BM_AppendAsync/payload:100/durability:{SYNC}/", r"^BM_RawWrite/payload:100/batch:64/sync:1/",
        r"^BM_PeerAppend/sqlite/payload:100/batch:64/sync:1/",
        r"^BM_PeerAppend/rocksdb/payload:100/batch:64/sync:1/")
    row("replay: every event of a 1 M-event log in order (engine: checksums verified)",
        r"^BM_Scan/", None, r"^BM_PeerScan/sqlite", r"^BM_PeerScan/rocksdb")
    row("stream read: one stream's 4 events by id, random streams", r"^BM_ReadStream",
        None, r"^BM_PeerReadStream/sqlite", r"^BM_PeerReadStream/rocksdb")
    L.append("")

    # ---- latency
    L.append("## Append latency, synced (one record per append)")
    L.append("")
    L.append("| appenders | engine p50 | engine p99 | SQLite p50 | SQLite p99 | RocksDB p50 | RocksDB p99 "
             "| engine's mean fdatasync | engine's fdatasync p99 |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    lat_rows = []
    for t in (1, 8, 64):
        vals = [r.counter(engine_blocking(SYNC, t), "p50_us"), r.counter(engine_blocking(SYNC, t), "p99_us"),
                r.counter(peer_threads("sqlite", 1, t), "p50_us"), r.counter(peer_threads("sqlite", 1, t), "p99_us"),
                r.counter(peer_threads("rocksdb", 1, t), "p50_us"), r.counter(peer_threads("rocksdb", 1, t), "p99_us")]
        lat_rows.append((t, vals))
        under_load = r.counter(engine_blocking(SYNC, t), "fsync_us")
        tail = r.counter(engine_blocking(SYNC, t), "fsync_p99_us")
        L.append(f"| {t} | " + " | ".join(fmt(v, " µs", 0) for v in vals + [under_load]) +
                 f" | {fmt_bucket(tail)} |")
    if fsync_us:
        L.append("")
        L.append(f"One fdatasync here is {fsync_us:.0f} µs (BM_Fdatasync, alone); the last two columns are "
                 "the engine's own fdatasync calls during that run (the p99 interpolated inside its bucket of "
                 "`LogStats::fsync`).")
    wakes = [(t, r.counter(rf"^BM_WakeHandoff/threads:{t}/", "handoff_us")) for t in (1, 8, 64)]
    if any(v is not None for _, v in wakes):
        L.append("")
        L.append("Waking a thread blocked on a condition variable (`BM_WakeHandoff`, a ring of threads each "
                 "waking the next), what every blocking append pays besides the disk: " +
                 ", ".join(f"{fmt(v, ' µs', 1)} per hand-off with {t} thread{'s' if t > 1 else ''}"
                           for t, v in wakes if v is not None) + ".")
    L.append("")
    L.append("Preallocated (zero-filled) segments, as the server runs the log, against segments that are "
             "ordinary growing files (`LogOptions::preallocate`):")
    L.append("")
    L.append("| appenders | preallocated | p50 | p99 | mean fdatasync | ordinary files | p50 | p99 | mean fdatasync |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for t in (1, 8, 64):
        cells = []
        for pre in (1, 0):
            name = engine_blocking(SYNC, t, prealloc=pre)
            cells += [fmt_rate(r.rate(name))] + [fmt(r.counter(name, c), " µs", 0)
                                                 for c in ("p50_us", "p99_us", "fsync_us")]
        L.append(f"| {t} | " + " | ".join(cells) + " |")
    L.append("")

    # ---- domain
    L.append("## Replay into the read model, restart, snapshots")
    L.append("")
    L.append("Order logs of 1 to 3 events per order (2.5 on average), written with the domain's "
             "own encoding. *Restart* is the time from nothing to a ready service.")
    L.append("")
    L.append("| log | restart with snapshot | restart, full replay | replay rate | read model per order |")
    L.append("|---|---|---|---|---|")
    replay_pts = []
    for ev in (1_000_000, 10_000_000):
        with_s = r.ms(rf"^BM_Restart/events:{ev}/snapshot:1/")
        without = r.ms(rf"^BM_Restart/events:{ev}/snapshot:0/")
        rate = r.counter(rf"^BM_Restart/events:{ev}/snapshot:0/", "replay_events_per_s")
        per_order = r.counter(rf"^BM_Restart/events:{ev}/snapshot:0/", "model_B_per_order")
        if with_s is None and without is None:
            continue
        replay_pts.append((ev, with_s, without))
        L.append(f"| {ev / 1e6:.0f} M events | {fmt(with_s, ' ms', 0)} | {fmt(without, ' ms', 0)} | "
                 f"{fmt_rate(rate)} | {fmt(per_order, ' B', 1)} |")
    L.append("")
    for ev in (1_000_000, 10_000_000):
        b = r.get(rf"^BM_SnapshotWrite/events:{ev}/")
        if b:
            L.append(f"- snapshot of the {ev / 1e6:.0f} M-event model: written in "
                     f"{r.ms(rf'^BM_SnapshotWrite/events:{ev}/'):.0f} ms, {b.get('snapshot_MB', 0):.1f} MB "
                     f"({b.get('B_per_order', 0):.1f} B/order); taking its copy held appends for at most "
                     f"{b.get('freeze_us_max', 0):.0f} µs")
    L.append("")

    # ---- HTTP
    if http:
        L.append("## HTTP (wrk on the same machine, 64 connections, keep-alive)")
        L.append("")
        L.append("| workload | requests/s | p50 | p99 | errors | non-2xx | timeouts |")
        L.append("|---|---|---|---|---|---|---|")
        for name in ("post", "get", "put", "mixed", "ceiling"):
            h = http.get(name)
            if not h:
                continue
            title = {"post": "POST /orders/ (durable)", "get": "GET /orders/{id}/",
                     "put": "PUT /orders/{id}/status/", "mixed": "mixed 70% GET / 20% POST / 10% PUT",
                     "ceiling": "Pistache's minimal handler (the ceiling)"}[name]
            L.append(f"| {title} | {float(h['rps']) / 1e3:.1f} k | {h['p50_ms']} ms | {h['p99_ms']} ms | "
                     f"{h['errors']} | {h['non2xx']} | {h['timeouts']} |")
        L.append("")

    # ---- targets
    L.append("## Targets of the engine, domain, HTTP and inspection issues")
    L.append("")
    L.append("| target | measured | met |")
    L.append("|---|---|---|")

    def target(title, measured_text, ok):
        L.append(f"| {title} | {measured_text} | {'–' if ok is None else ('yes' if ok else '**no**')} |")

    def interleaved(title, bench, engine_key, reference, minimum):
        """The row of an interleaved ratio benchmark (engine and reference taking turns in every
        iteration): the figure where it ran. Returns its ratio, None if it did not run."""
        ratio = r.counter(bench, "ratio")
        if ratio is not None:
            counter = lambda key: r.counter(bench, key)
            # Where the benchmark reports it, the median of the turns' ratios judges: a stall of
            # the VM lands in one side's turn and moves the ratio of the totals, not the median.
            median = counter("median_turn_ratio")
            text = f"{fmt_rate(counter(engine_key))} = {ratio:.2f}× of {reference(counter)}"
            if median is not None:
                text += f"; median of the turns {median:.2f}×"
            target(f"{title} (interleaved)", text, (median if median is not None else ratio) >= minimum)
        return ratio

    e_buf = r.rate(rf"^BM_AppendAsync/payload:100/durability:{NONE}/")
    target("buffered append (1 appender, 100 B) ≥ 7 M events/s", fmt_rate(e_buf),
           None if e_buf is None else e_buf >= 7e6)
    bratio = interleaved("buffered append ≥ 0.6× the raw write() loop", r"^BM_BufferedVsRawWrite",
                         "engine_per_s", lambda c: fmt_rate(c("raw_per_s")), 0.6)
    bound = r.counter(r"^BM_HandoffBound", "median_turn_ratio")
    if bound is not None:
        target("buffered: a bare hand-off to a writer thread, none of the engine's work (the ceiling)",
               f"{fmt_rate(r.counter(r'^BM_HandoffBound', 'handoff_per_s'))} against "
               f"{fmt_rate(r.counter(r'^BM_HandoffBound', 'raw_per_s'))}; median of the turns {bound:.2f}×",
               None)
    raw_buf = r.rate(r"^BM_RawWrite/payload:100/batch:7000/sync:0/")
    target("buffered append ≥ 0.6× the raw write() loop" + (" (separate runs)" if bratio is not None else ""),
           f"{fmt_rate(e_buf)} = {fmt_ratio(e_buf, raw_buf)}",
           None if not (e_buf and raw_buf) else e_buf / raw_buf >= 0.6)
    e_async = r.rate(rf"^BM_AppendAsync/payload:100/durability:{SYNC}/")
    target("sync, asynchronous appends from one thread ≥ 500 k/s", fmt_rate(e_async),
           None if e_async is None else e_async >= 500e3)
    e64 = r.rate(engine_blocking(SYNC, 64))
    target("sync, 64 appender threads ≥ 150 k/s", fmt_rate(e64), None if e64 is None else e64 >= 150e3)
    p99 = r.counter(engine_blocking(SYNC, 64), "p99_us")
    fsync_tail = r.counter(engine_blocking(SYNC, 64), "fsync_p99_us")
    target("sync, 64 appenders: p99 ≤ 3 fdatasync times",
           f"{fmt(p99, ' µs', 0)}" + (f" = {p99 / fsync_us:.1f} fsyncs" if p99 and fsync_us else "") +
           (f" (the fdatasync p99 under that load: {fmt_bucket(fsync_tail)})" if fsync_tail else ""),
           None if not (p99 and fsync_us) else p99 <= 3 * fsync_us)
    sratio = interleaved("sync, 1 appender ≥ 0.9× 1/fdatasync", r"^BM_SyncAppendVsFdatasync",
                         "append_per_s", lambda c: "1/" + fmt(c("fdatasync_us"), " µs", 0), 0.9)
    e1 = r.rate(engine_blocking(SYNC, 1))
    target("sync, 1 appender ≥ 0.9× 1/fdatasync" + (" (separate runs)" if sratio is not None else ""),
           fmt_rate(e1) + (f" = {e1 * fsync_us / 1e6:.2f}×" if e1 and fsync_us else ""),
           None if not (e1 and fsync_us) else e1 * fsync_us / 1e6 >= 0.9)
    scan = r.rate(r"^BM_Scan/")
    target("verified scan ≥ 15 M events/s", fmt_rate(scan), None if scan is None else scan >= 15e6)
    open_ms = r.ms(r"^BM_Open10M")
    target("open of a 10 M-event log ≤ 1 s", fmt(open_ms, " ms", 0), None if open_ms is None else open_ms <= 1000)
    bpe = r.counter(r"^BM_Open10M", "index_B_per_event")
    bps = r.counter(r"^BM_Open10M", "index_B_per_stream")
    target("index memory ≤ 16 B/event + 128 B/stream", f"{fmt(bpe, ' B')} + {fmt(bps, ' B')}",
           None if bpe is None else (bpe <= 16 and bps <= 128))
    restart = r.ms(r"^BM_Restart/events:10000000/snapshot:1/")
    target("restart of a 10 M-event log from a snapshot ≤ 1.5 s", fmt(restart, " ms", 0),
           None if restart is None else restart <= 1500)
    rate10 = r.counter(r"^BM_Restart/events:10000000/snapshot:0/", "replay_events_per_s")
    rate1 = r.counter(r"^BM_Restart/events:1000000/snapshot:0/", "replay_events_per_s")
    rate = rate10 if rate10 is not None else rate1
    target("replay without a snapshot ≥ 3 M events/s" + ("" if rate10 is not None else " (1 M log)"),
           fmt_rate(rate), None if rate is None else rate >= 3e6)
    per_order = r.counter(r"^BM_Restart/events:10000000/snapshot:0/", "model_B_per_order") or \
        r.counter(r"^BM_Restart/events:1000000/snapshot:0/", "model_B_per_order")
    target("read model ≤ 200 B/order", fmt(per_order, " B"), None if per_order is None else per_order <= 200)
    freezes = [b.get("freeze_us_max", 0) for n, b in raw_runs.items() if n.startswith("BM_SnapshotWrite")]
    freeze = max(freezes) if freezes else None
    target("a snapshot pauses appends for at most a few ms", fmt(freeze, " µs", 0),
           None if freeze is None else freeze <= 5000)
    ratio = interleaved("`orderlog-inspect verify` of a 10 M-event log ≥ 0.7× the scan rate",
                        r"^BM_VerifyVsScan10M", "verify_per_s", lambda c: fmt_rate(c("scan_per_s")), 0.7)
    v10 = r.rate(r"^BM_Verify10M")
    s10 = r.rate(r"^BM_Scan10M")
    target("`orderlog-inspect verify` of a 10 M-event log ≥ 0.7× the scan rate" +
           (" (separate runs, in the suite's process)" if ratio is not None else ""),
           f"{fmt_rate(v10)} = {fmt_ratio(v10, s10)} of {fmt_rate(s10)}",
           None if not (v10 and s10) else v10 / s10 >= 0.7)
    if http:
        g = http.get("get")
        p = http.get("post")
        mx = http.get("mixed")
        if g:
            target("GET /orders/{id}/ ≥ 35 k requests/s", f"{float(g['rps']) / 1e3:.1f} k", float(g["rps"]) >= 35e3)
        if p:
            target("POST /orders/ (durable) ≥ 15 k requests/s, p99 ≤ 10 ms",
                   f"{float(p['rps']) / 1e3:.1f} k, p99 {p['p99_ms']} ms",
                   float(p["rps"]) >= 15e3 and float(p["p99_ms"]) <= 10)
        if mx:
            bad = int(mx["errors"]) + int(mx["non2xx"]) + int(mx["timeouts"])
            target(f"mixed run ({float(mx['duration_s']):.0f} s): no errors, no stalled requests",
                   f"{bad} errors/non-2xx/timeouts, p99 {mx['p99_ms']} ms", bad == 0)
    L.append("")
    L.append("– : not measured in this run (the quick mode skips the 10 M-event logs).")
    L.append("")

    # ---- plots
    plots = make_plots(out, r, lat_rows, replay_pts, fsync_us)
    if plots:
        L.append("## Plots")
        L.append("")
        for title, png in plots:
            L.append(f"![{title}]({png})")
            L.append("")

    # ---- everything
    L.append("## Every run")
    L.append("")
    L.append("| benchmark | time | rate | counters |")
    L.append("|---|---|---|---|")
    skip = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations",
            "real_time", "cpu_time", "time_unit", "family_index", "per_family_instance_index",
            "items_per_second", "bytes_per_second", "error_occurred", "error_message",
            "aggregate_name", "aggregate_unit"}
    for name, b in raw_runs.items():
        if b.get("error_occurred"):
            L.append(f"| `{name}` | error: {b.get('error_message', '')} | | |")
            continue
        counters = ", ".join(f"{k}={v:.4g}" for k, v in b.items() if k not in skip and isinstance(v, (int, float)))
        L.append(f"| `{name}` | {b['real_time']:.4g} {b['time_unit']} | "
                 f"{fmt_rate(b.get('items_per_second'))} | {counters} |")
    L.append("")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L))


def make_plots(out, r, lat_rows, replay_pts, fsync_us):
    plots = []
    scripts = []
    # Throughput vs appenders per durability mode.
    series = [("engine, sync", lambda t: r.rate(engine_blocking(SYNC, t))),
              ("engine, interval", lambda t: r.rate(engine_blocking(INTERVAL, t))),
              ("engine, none", lambda t: r.rate(engine_blocking(NONE, t))),
              ("SQLite, sync", lambda t: r.rate(peer_threads("sqlite", 1, t))),
              ("SQLite, none", lambda t: r.rate(peer_threads("sqlite", 0, t))),
              ("RocksDB, sync", lambda t: r.rate(peer_threads("rocksdb", 1, t))),
              ("RocksDB, none", lambda t: r.rate(peer_threads("rocksdb", 0, t)))]
    dat = os.path.join(out, "throughput_vs_appenders.dat")
    with open(dat, "w") as f:
        f.write("# appenders " + " ".join(f'"{s[0]}"' for s in series) + "\n")
        for t in (1, 8, 64):
            vals = [s[1](t) for s in series]
            f.write(f"{t} " + " ".join("NaN" if v is None else f"{v:.0f}" for v in vals) + "\n")
    cols = [i for i, s in enumerate(series) if any(s[1](t) for t in (1, 8, 64))]
    if cols:
        lines = ", ".join(f"'{dat}' using 1:{i + 2} with linespoints lw 2 title '{series[i][0]}'" for i in cols)
        scripts.append(f"""
set terminal pngcairo size 900,560 font ',10'
set output '{out}/throughput_vs_appenders.png'
set title 'Append throughput vs appender threads (one record per append, 100 B)'
set xlabel 'appender threads'; set ylabel 'events/s'
set logscale xy; set xtics (1, 8, 64); set grid; set key outside right
plot {lines}
unset logscale
""")
        plots.append(("Throughput vs appenders", "throughput_vs_appenders.png"))
    # Append latency percentiles (sync).
    dat = os.path.join(out, "append_latency.dat")
    have = any(v is not None for _, vals in lat_rows for v in vals)
    if have:
        with open(dat, "w") as f:
            f.write("# appenders engine_p50 engine_p99 sqlite_p50 sqlite_p99 rocksdb_p50 rocksdb_p99\n")
            for t, vals in lat_rows:
                f.write(f'"{t}" ' + " ".join("NaN" if v is None else f"{v:.1f}" for v in vals) + "\n")
        fs = f"set arrow from graph 0, first {fsync_us:.1f} to graph 1, first {fsync_us:.1f} nohead dt 2; " \
             f"set label 'one fdatasync' at graph 0.01, first {fsync_us * 1.15:.1f}" if fsync_us else ""
        scripts.append(f"""
set terminal pngcairo size 900,560 font ',10'
set output '{out}/append_latency.png'
set title 'Synced append latency, p50 and p99 (µs, log scale)'
set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1
set logscale y; set ylabel 'µs'; set xlabel 'appender threads'; set grid ytics; set key outside right
{fs}
plot '{dat}' using 2:xtic(1) title 'engine p50', '' using 3 title 'engine p99', \
     '' using 4 title 'SQLite p50', '' using 5 title 'SQLite p99', \
     '' using 6 title 'RocksDB p50', '' using 7 title 'RocksDB p99'
unset arrow; unset label; unset logscale
""")
        plots.append(("Append latency percentiles", "append_latency.png"))
    # Replay time vs log size, with and without a snapshot.
    if replay_pts:
        dat = os.path.join(out, "replay_vs_log_size.dat")
        with open(dat, "w") as f:
            f.write("# events restart_with_snapshot_ms restart_full_replay_ms\n")
            for ev, w, wo in replay_pts:
                f.write(f"{ev} {'NaN' if w is None else f'{w:.1f}'} {'NaN' if wo is None else f'{wo:.1f}'}\n")
        scripts.append(f"""
set terminal pngcairo size 900,560 font ',10'
set output '{out}/replay_vs_log_size.png'
set title 'Restart time vs log size'
set style data linespoints; set xlabel 'events in the log'; set ylabel 'ms to ready'
set logscale x; set grid; set key top left; set xrange [5e5:2e7]; set yrange [0:*]
plot '{dat}' using 1:3 lw 2 title 'full replay (no snapshot)', '' using 1:2 lw 2 title 'snapshot + tail'
""")
        plots.append(("Replay time vs log size", "replay_vs_log_size.png"))
    if scripts:
        try:
            subprocess.run(["gnuplot"], input="\n".join(scripts), text=True, check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"report: gnuplot failed ({e}); the report has no plots", file=sys.stderr)
            return []
    return plots


if __name__ == "__main__":
    main()
