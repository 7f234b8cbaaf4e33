"""Benchmark: restart of the real `calamari-server` on a large store (budget: with 1,000,000 stored
events, until the API answers, 5 s), measured from outside.

The store is bench_history's (10,000 OSDs, 1,000,000 events, snapshots every 5,000 events as the
server writes them), built once in --dir and kept; the runs use a copy, since a server writes into
its data dir. A first start warms the page cache and is not counted; then each run kills the
previous server with SIGKILL (as a crash would) and starts a new one on the same data dir, and
prints, from the moment it is started:

- the API answers: a login succeeds (polled every 20 ms, a new connection each time);
- the OSD list full: `GET …/osd` holds every OSD (the model is complete);
- the event list answers: `GET /api/v2/event` is 200, not 503 (the stored past the event feed
  tells has been read, which the server does after its API answers);

with the server's CPU time (user + system, /proc/<pid>/stat) and RSS at each point and the load
average of the machine, which inflates every wall time on a shared machine. Prints figures;
asserts nothing.

    python bench/bench_restart.py [--dir DIR] [--osds 10000] [--events 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_history import build, is_current  # noqa: E402
from bench.measure import cpu_seconds, http_get, memory_kib  # noqa: E402
from calamari.testing.live import BIN, ApiClient, CalamariServer, Process, wait_for  # noqa: E402

BUDGET_S = 5.0
POLL_S = 0.02


class RestartRun:
    """One start of the server on the data dir, its milestones timed from the start."""

    def __init__(self, server: CalamariServer, fsid: str, osds: int, timeout: float) -> None:
        self.server = server
        self.fsid = fsid
        self.osds = osds
        self.timeout = timeout
        self.figures: dict[str, float] = {}

    def argv(self) -> list[str]:
        server = self.server
        return [str(BIN / "calamari-server"), "--data-dir", str(server.data_dir), "--api",
                f"127.0.0.1:{server.api_port}", "--bus", server.bus, *server._plain, *server.extra]

    def milestone(self, name: str, started: float, process: Process) -> None:
        self.figures[f"{name} s"] = time.monotonic() - started
        self.figures[f"{name}: server CPU s"] = cpu_seconds(process.pid)
        self.figures[f"{name}: RSS MB"] = memory_kib(process.pid)["VmRSS"] / 1024

    def run(self) -> Process:
        started = time.monotonic()
        process = Process(self.argv(), self.server.data_dir / "server.log")
        self.server.process = process
        client = ApiClient(self.server.url, timeout=300)

        def alive() -> bool:
            if not process.alive():
                raise RuntimeError(f"calamari-server exited: {process.log_tail()}")
            return True

        def logged_in() -> bool:
            alive()
            try:
                return bool(client.login(CalamariServer.USER, CalamariServer.PASSWORD))
            except Exception:  # not listening yet
                return False

        wait_for(logged_in, self.timeout, "the API to answer a login", POLL_S)
        self.milestone("API answers", started, process)
        headers = {"Authorization": f"Bearer {client.token}", "Accept": "application/json"}
        root = f"http://127.0.0.1:{self.server.api_port}/api/v2"

        def osd_list_full() -> bool:
            answer = http_get(f"{root}/cluster/{self.fsid}/osd", headers, timeout=300)
            return alive() and answer.status == 200 and len(json.loads(answer.body)) >= self.osds

        wait_for(osd_list_full, self.timeout, f"the OSD list to hold {self.osds} OSDs", POLL_S)
        self.milestone("OSD list full", started, process)
        wait_for(lambda: alive() and http_get(f"{root}/event?page_size=1", headers).status == 200, self.timeout,
                 "the event list to answer", POLL_S)
        self.milestone("event list answers", started, process)
        return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default="/tmp/calamari-bench-history",
                        help="the store (bench_history's), built there once if missing and kept")
    parser.add_argument("--osds", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep", action="store_true", help="keep the copy of the data dir (its server.log)")
    args = parser.parse_args()

    meta_path = Path(args.dir) / "bench.json"
    meta: Any = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if not is_current(meta, args.osds, args.events):
        print(f"building {args.osds:,} OSDs, {args.events:,} events in {args.dir} (once) ...", flush=True)
        build(args.dir, args.osds, args.events)
        meta = json.loads(meta_path.read_text())

    base = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    data_dir = base / "data"
    shutil.copytree(args.dir, data_dir)
    os.chmod(data_dir, 0o700)
    server = CalamariServer(data_dir)  # adds the admin user (calamari-ctl, server stopped)
    runs: list[dict[str, float]] = []
    process: Process | None = None
    try:
        for index in range(args.runs + 1):
            if process is not None:
                process.kill9()
                process.stop()  # closes its log; the process is gone already
            load_before = os.getloadavg()[0]
            run = RestartRun(server, meta["fsid"], meta["osds"], args.timeout)
            process = run.run()
            figures = {**run.figures, "load average": (load_before + os.getloadavg()[0]) / 2}
            what = "warm-up start (not counted)" if index == 0 else f"restart {index} after kill -9"
            print(f"{what}: API answers after {figures['API answers s']:.2f} s "
                  f"(server CPU {figures['API answers: server CPU s']:.2f} s), OSD list full after "
                  f"{figures['OSD list full s']:.2f} s, event list after {figures['event list answers s']:.2f} s "
                  f"(CPU {figures['event list answers: server CPU s']:.2f} s, RSS "
                  f"{figures['event list answers: RSS MB']:.0f} MB); load average {figures['load average']:.1f}",
                  flush=True)
            if index:
                runs.append(figures)
    finally:
        if process is not None:
            process.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"data dir kept: {data_dir}")

    print(f"\nrestart of calamari-server, {meta['osds']:,} OSDs, {meta['events']:,} stored events, median of "
          f"{len(runs)} (budget: the API answers within {BUDGET_S:g} s):")
    for name in ("API answers", "OSD list full", "event list answers"):
        wall = statistics.median(r[f"{name} s"] for r in runs)
        cpu = statistics.median(r[f"{name}: server CPU s"] for r in runs)
        rss = statistics.median(r[f"{name}: RSS MB"] for r in runs)
        print(f"  {name:<20} {wall:6.2f} s   server CPU {cpu:5.2f} s   RSS {rss:5.0f} MB")
    print(f"  load average {statistics.median(r['load average'] for r in runs):.1f} (2 cores; wall times include "
          "the other load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
