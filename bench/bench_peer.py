"""Calamari against the Ceph Dashboard on the same cluster, in the same run. Starts a loopback
cluster with scripts/ceph-dev-cluster.sh (the mgr's dashboard module enabled on a free port, user
admin), a calamari-server and a calamari-collector reading that cluster (the collector's default
poll interval unless --poll-interval), logs in to both and prints:

- for each read both offer (OSD list, one OSD, pools, health, hosts, monitors, CRUSH rules,
  summary): the median and p90 of each over --requests interleaved requests, timed to the last
  byte, and the ratio of the medians (dashboard / calamari: how many times faster calamari is; the
  budget is >= 2). Three passes, each the same for both sides: a new connection per request
  without compression (as curl), the same with the Accept-Encoding a browser sends
  (`gzip, deflate, br`: each side compresses what it finds worth it), and one kept-alive
  connection per side with that Accept-Encoding (as a browser, which reuses its connections).
  Both sides authenticate the same way: a bearer token in the Authorization header, got by one
  login before the run (calamari's /auth/login token, the dashboard's JWT), looked up on every
  request by each server;
- the CPU time each server spends per read (its process's user + system time over a block of
  the same reads, side by side rather than interleaved, so that it is its own): less noisy than
  times on a loaded machine, where the time to the last byte is mostly waiting for a core;
- the freshness of both for the same `ceph osd out` / `ceph osd in` changes: from the moment the
  change is committed (the librados call returns, or with --cli the `ceph` CLI) until each API
  shows it, both polled at once, each by its own thread, every --poll-ms; median, p90 and max
  (budget: calamari no slower than the dashboard, and median <= 100 ms, p99 <= 500 ms);
- the CPU share of calamari-server, calamari-collector and ceph-mgr (all its modules, the
  dashboard among them) over an idle window.

The cluster's mgr also loads calamari's own module, calamari_notify, and the collector is told of
new maps by it, as the dashboard is by ceph-mgr, and sent the OSD map with the news
(docs/mgr-module.md); --no-mgr-notify measures the collector with its version checks alone. The
server listens to the module too (`calamari-server --mgr-notify`) and takes the maps it signs
straight from it, with the key the collector hands over (the bench prints how many it took); a
read made after ceph-mgr announced a map the server does not hold yet waits for it;
--no-server-notify leaves that out.

The dashboard is Debian's `ceph-mgr-dashboard` package (`apt-get install -y ceph-mgr-dashboard`);
without it, or without Ceph, the bench says what to install and exits 0. Calamari's side of each
pair is the v2 resource that answers the same question: "health" and "summary" are both the
cluster resource (/api/v2/cluster/<fsid>: health, flags, counters), "hosts" the cluster's servers.

    python bench/bench_peer.py [--osds 3] [--hosts 1] [--requests 30] [--changes 10] [--poll-ms 2]
        [--poll-interval 1.0] [--idle 20] [--cli] [--no-mgr-notify] [--no-server-notify] [--json out.json]

The machine's other load shows in every figure. Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script without PYTHONPATH
    sys.path.insert(0, str(HERE.parent))

from bench.bench_freshness import MonCommands  # noqa: E402
from bench.measure import (  # noqa: E402
    CpuWindow,
    Response,
    Timings,
    cpu_seconds,
    http_get,
    human_bytes,
    percentile,
    table,
)
from calamari.testing.live import (  # noqa: E402
    CalamariCollector,
    CalamariServer,
    DevCluster,
    free_port,
    missing_ceph_tools,
    wait_for,
)

DASHBOARD_MODULE = Path("/usr/share/ceph/mgr/dashboard")
DASHBOARD_PASSWORD = "Bench-dashb0ard-pass"
DASHBOARD_ACCEPT = "application/vnd.ceph.api.v1.0+json"
READ_RATIO_BUDGET = 2.0
BROWSER_ENCODING = "gzip, deflate, br"  # what Chromium and Firefox send
# (key, title, Accept-Encoding, kept-alive connection)
PASSES = (("identity", "new connection each, without compression", "identity", False),
          ("gzip", f"new connection each, Accept-Encoding: {BROWSER_ENCODING}", BROWSER_ENCODING, False),
          ("kept_alive", f"one kept-alive connection per side, Accept-Encoding: {BROWSER_ENCODING}",
           BROWSER_ENCODING, True))
FRESHNESS_BUDGET_MS = (100.0, 500.0)  # median, p99

# (what, calamari's path under /api/v2 with {fsid} and {osd}, the dashboard's path with {osd})
SHARED_READS = (
    ("OSD list", "/cluster/{fsid}/osd", "/api/osd"),
    ("one OSD", "/cluster/{fsid}/osd/{osd}", "/api/osd/{osd}"),
    ("pools", "/cluster/{fsid}/pool", "/api/pool"),
    ("health", "/cluster/{fsid}", "/api/health/minimal"),
    ("hosts", "/cluster/{fsid}/server", "/api/host"),
    ("monitors", "/cluster/{fsid}/mon", "/api/monitor"),
    ("CRUSH rules", "/cluster/{fsid}/crush_rule", "/api/crush_rule"),
    ("summary", "/cluster/{fsid}", "/api/summary"),
)


class Endpoint:
    """One API: a base URL and the headers every request carries."""

    def __init__(self, name: str, base_url: str, headers: dict[str, str]) -> None:
        self.name = name
        self.base_url = base_url
        self.headers = headers
        self._kept: http.client.HTTPConnection | None = None

    def get(self, path: str, encoding: str = "identity", kept_alive: bool = False) -> Any:
        if kept_alive:
            return self._get_kept_alive(path, encoding)
        return http_get(self.base_url + path, {**self.headers, "Accept-Encoding": encoding}, timeout=60)

    def _get_kept_alive(self, path: str, encoding: str) -> Response:
        """GET on the connection kept from the previous request (opened once, again if the server
        closed it), timed from the request to the last byte."""
        parts = urlsplit(self.base_url)
        for attempt in (1, 2):
            if self._kept is None:
                self._kept = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
                self._kept.connect()
            started = time.perf_counter()
            try:
                self._kept.request("GET", parts.path + path, headers={**self.headers, "Accept-Encoding": encoding})
                answer = self._kept.getresponse()
                body = answer.read()
            except (http.client.HTTPException, OSError):
                self._kept.close()
                self._kept = None
                if attempt == 2:
                    raise
                continue
            seconds = time.perf_counter() - started
            found = {name.lower(): value for name, value in answer.getheaders()}
            if answer.will_close:
                self._kept.close()
                self._kept = None
            return Response(answer.status, seconds, len(body), body, found)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    def json(self, path: str) -> Any:
        answer = self.get(path)
        if answer.status != 200:
            raise RuntimeError(f"{self.name} GET {path}: {answer.status} {answer.body[:300]!r}")
        return json.loads(answer.body)


class CliCommands(MonCommands):
    """Changes through the `ceph` CLI even where librados is importable."""

    def __init__(self, cluster: DevCluster) -> None:
        self.cluster = cluster
        self.rados = None


def dashboard_login(base_url: str) -> str:
    """POST /api/auth; the JWT the dashboard answers with."""
    body = json.dumps({"username": "admin", "password": DASHBOARD_PASSWORD}).encode()
    req = urllib.request.Request(f"{base_url}/api/auth", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Accept": DASHBOARD_ACCEPT})
    with urllib.request.urlopen(req, timeout=30) as answer:
        return str(json.loads(answer.read())["token"])


# ------------------------------------------------------------------------------------ reads

def compare_reads(calamari: Endpoint, dashboard: Endpoint, fsid: str, osd: int, requests: int,
                  warmup: int = 3) -> list[dict[str, Any]]:
    """Both sides of every shared read, interleaved request by request (which side goes first
    alternates), once per pass (PASSES)."""
    samples = {(what, side, key): Timings() for what, _, _ in SHARED_READS for side in ("calamari", "dashboard")
               for key, *_ in PASSES}
    for round_no in range(warmup + requests):
        for what, cal_path, dash_path in SHARED_READS:
            for key, _, encoding, kept_alive in PASSES:
                pair = [("calamari", calamari, cal_path.format(fsid=fsid, osd=osd)),
                        ("dashboard", dashboard, dash_path.format(osd=osd))]
                if round_no % 2:
                    pair.reverse()
                for side, endpoint, path in pair:
                    answer = endpoint.get(path, encoding, kept_alive)
                    if round_no >= warmup:
                        samples[(what, side, key)].add(answer)
    calamari.close()
    dashboard.close()
    results = []
    for what, cal_path, dash_path in SHARED_READS:
        row: dict[str, Any] = {"read": what, "calamari_path": "/api/v2" + cal_path, "dashboard_path": dash_path}
        for key, *_ in PASSES:
            cal, dash = samples[(what, "calamari", key)], samples[(what, "dashboard", key)]
            row[key] = {"calamari": cal.summary(), "dashboard": dash.summary(),
                        "ratio": dash.median_ms / cal.median_ms}
        results.append(row)
    return results


def compare_cpu(calamari: Endpoint, dashboard: Endpoint, pids: dict[str, int], fsid: str, osd: int,
                requests: int) -> dict[str, dict[str, float]]:
    """Server CPU microseconds per read, per pass: every shared read `requests` times on one side,
    then on the other; the process's CPU time over the block (background work included: at idle
    it is a few ms a second for either) divided by the reads."""
    figures: dict[str, dict[str, float]] = {}
    for key, _, encoding, kept_alive in PASSES:
        row: dict[str, float] = {}
        for side, endpoint, paths in (("calamari", calamari, [c.format(fsid=fsid, osd=osd) for _, c, _ in SHARED_READS]),
                                      ("dashboard", dashboard, [d.format(osd=osd) for _, _, d in SHARED_READS])):
            before = cpu_seconds(pids[side])
            for _ in range(requests):
                for path in paths:
                    endpoint.get(path, encoding, kept_alive)
            row[side] = (cpu_seconds(pids[side]) - before) / (requests * len(paths)) * 1e6
            endpoint.close()
        row["ratio"] = row["dashboard"] / row["calamari"] if row["calamari"] > 0 else float("inf")
        figures[key] = row
    return figures


def print_cpu(figures: dict[str, dict[str, float]], requests: int) -> None:
    print(f"\nServer CPU per read (user + system time of the process, mean over the {len(SHARED_READS)} reads, "
          f"{requests} of each; ceph-mgr's includes its other modules' background work):")
    print(table(["pass", "calamari-server us", "ceph-mgr us", "calamari uses less by"],
                [[title, f"{row['calamari']:.0f}", f"{row['dashboard']:.0f}", f"{row['ratio']:.2f}x"]
                 for (key, title, *_), row in zip(PASSES, figures.values(), strict=True)]))


def print_reads(results: list[dict[str, Any]], requests: int) -> None:
    print(f"\nShared reads: median and p90 ms over {requests} interleaved requests each, timed to the last byte, "
          f"both with a bearer token. Faster by = dashboard median / calamari median (budget >= {READ_RATIO_BUDGET:g}).")
    for enc, title, *_ in PASSES:
        rows = []
        for row in results:
            cal, dash, ratio = row[enc]["calamari"], row[enc]["dashboard"], row[enc]["ratio"]
            status = "200" if cal["status"] == dash["status"] == "200" else f"{cal['status']}/{dash['status']}"
            rows.append([row["read"], f"{cal['median_ms']:.2f}", f"{cal['p90_ms']:.2f}", f"{dash['median_ms']:.2f}",
                         f"{dash['p90_ms']:.2f}", f"{ratio:.2f}x {'ok' if ratio >= READ_RATIO_BUDGET else 'UNDER'}",
                         human_bytes(cal["wire_bytes"]), human_bytes(dash["wire_bytes"]),
                         f"{cal['encoding']}/{dash['encoding']}", status])
        met = sum(1 for row in results if row[enc]["ratio"] >= READ_RATIO_BUDGET)
        print(f"\n{title}: calamari at least {READ_RATIO_BUDGET:g}x faster on {met} of {len(results)} reads")
        print(table(["read", "calamari median", "p90", "dashboard median", "p90", "faster by", "calamari bytes",
                     "dashboard bytes", "encoding", "status"], rows))
    print()
    print(table(["read", "calamari", "dashboard"],
                [[row["read"], row["calamari_path"], row["dashboard_path"]] for row in results]))


# ------------------------------------------------------------------------------------ freshness

class Watcher(threading.Thread):
    """Polls `shows()` every `interval` s from `start` until it is true; `seen` is the monotonic
    time the answer that showed it arrived (None on timeout)."""

    def __init__(self, shows: Callable[[], bool], interval: float, timeout: float) -> None:
        super().__init__(daemon=True)
        self.shows = shows
        self.interval = interval
        self.timeout = timeout
        self.seen: float | None = None
        self.polls = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.polls += 1
            try:
                if self.shows():
                    self.seen = time.monotonic()
                    return
            except Exception as exc:  # a failed poll counts as "not yet"; the last one is kept
                self.error = exc
            time.sleep(self.interval)


def measure_freshness(mon: MonCommands, calamari: Endpoint, dashboard: Endpoint, fsid: str, osds: int,
                      changes: int, poll_s: float, pause_max: float) -> list[dict[str, Any]]:
    def calamari_in(osd: int) -> bool:
        return bool(calamari.json(f"/cluster/{fsid}/osd/{osd}")["in"])

    def dashboard_in(osd: int) -> bool:
        return bool(dashboard.json(f"/api/osd/{osd}")["osd_map"]["in"])

    pauses = random.Random(11)
    results = []
    for i in range(changes):
        osd, now_in = (i // 2) % osds, i % 2 == 1  # out, then in again
        word = "in" if now_in else "out"
        mon.run(["osd", word], {"ids": [str(osd)]})
        made = time.monotonic()  # the monitors have committed the change
        watchers = {"calamari": Watcher(lambda o=osd, v=now_in: calamari_in(o) == v, poll_s, 30),
                    "dashboard": Watcher(lambda o=osd, v=now_in: dashboard_in(o) == v, poll_s, 30)}
        # started one after the other: which one first alternates, so that neither always gets
        # the head start of a thread started first
        for watcher in (list(watchers.values()) if i % 2 == 0 else list(watchers.values())[::-1]):
            watcher.start()
        for watcher in watchers.values():
            watcher.join()
        row: dict[str, Any] = {"change": f"osd {word} {osd}"}
        for side, watcher in watchers.items():
            row[side] = None if watcher.seen is None else (watcher.seen - made) * 1000
            row[f"{side}_polls"] = watcher.polls
            if watcher.seen is None:
                print(f"  {side} did not show 'osd {word} {osd}' within 30 s (last error: {watcher.error!r})")
        results.append(row)
        shown = "  ".join(f"{side} {'-' if row[side] is None else format(row[side], '7.1f')} ms"
                          for side in watchers)
        print(f"  {row['change']:<12} {shown}", flush=True)
        # a random pause: changes must not fall into step with the collector's polls
        time.sleep(pauses.uniform(0.2, 0.2 + pause_max))
    return results


def print_freshness(results: list[dict[str, Any]], how: str) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    rows = []
    for side in ("calamari", "dashboard"):
        values = [r[side] for r in results if r[side] is not None]
        missed = len(results) - len(values)
        if not values:
            rows.append([side, "-", "-", "-", missed])
            continue
        figures[side] = {"median_ms": statistics.median(values), "p90_ms": percentile(values, 0.9),
                         "max_ms": max(values), "missed": missed}
        rows.append([side, f"{figures[side]['median_ms']:.1f}", f"{figures[side]['p90_ms']:.1f}",
                     f"{figures[side]['max_ms']:.1f}", missed])
    print(f"\nFreshness over {len(results)} changes ({how} -> visible in the API):")
    print(table(["API", "median ms", "p90 ms", "max ms", "not seen"], rows))
    if "calamari" in figures and "dashboard" in figures:
        cal, dash = figures["calamari"], figures["dashboard"]
        median_budget, p99_budget = FRESHNESS_BUDGET_MS
        both = [r for r in results if r["calamari"] is not None and r["dashboard"] is not None]
        first = sum(r["calamari"] < r["dashboard"] for r in both)
        figures["calamari_first"] = first
        print(f"calamari saw the change first in {first} of {len(both)} changes")
        print(f"calamari / dashboard median: {cal['median_ms'] / max(dash['median_ms'], 1e-9):.2f}x "
              f"(budget: no slower, <= 1x: {'ok' if cal['median_ms'] <= dash['median_ms'] else 'OVER'}); calamari "
              f"median {cal['median_ms']:.0f} ms (budget {median_budget:.0f}: "
              f"{'ok' if cal['median_ms'] <= median_budget else 'OVER'}), max {cal['max_ms']:.0f} ms (p99 budget "
              f"{p99_budget:.0f}: {'ok' if cal['max_ms'] <= p99_budget else 'OVER'})")
    return figures


# ------------------------------------------------------------------------------------ main

def server_mgr_maps(calamari: Endpoint) -> dict[str, int]:
    """How the server came by the maps ceph-mgr announced (its /metrics): taken straight from the
    module, or waited for from the collector."""
    answer = http_get(calamari.base_url.removesuffix("/api/v2") + "/metrics", calamari.headers, timeout=60)
    counts = {}
    for line in answer.body.decode().splitlines():
        for kind in ("taken", "awaited", "unusable"):
            if line.startswith(f"calamari_mgr_maps_{kind}_total "):
                counts[kind] = int(float(line.split()[-1]))
    return counts


def dashboard_missing() -> str | None:
    missing = missing_ceph_tools()
    if missing:
        return f"Ceph is not installed (missing {', '.join(missing)}; apt-get install -y ceph-mon ceph-osd ceph-mgr " \
               "ceph-common python3-rados ceph-mgr-dashboard)"
    if not DASHBOARD_MODULE.is_dir():
        return f"the Ceph Dashboard is not installed (no {DASHBOARD_MODULE}): apt-get install -y ceph-mgr-dashboard"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--osds", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=1, help="CRUSH hosts the OSDs are spread over")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per read, side and encoding")
    parser.add_argument("--changes", type=int, default=10, help="osd out / osd in changes (alternating)")
    parser.add_argument("--poll-ms", type=float, default=2.0, help="pause between two polls of one API")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="the collector's (its default: 1.0)")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of the idle CPU window (0: none)")
    parser.add_argument("--cli", action="store_true",
                        help="make the changes with the ceph CLI (default: librados, when importable)")
    parser.add_argument("--no-mgr-notify", action="store_true",
                        help="without the calamari_notify mgr module: the collector's version checks alone")
    parser.add_argument("--no-server-notify", action="store_true",
                        help="the server does not listen to calamari_notify itself (reads do not wait for "
                             "announced maps)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    why_not = dashboard_missing()
    if why_not:
        print(f"bench_peer: skipped, {why_not}")
        return 0
    print(f"bench_peer: {args.osds} OSDs on {args.hosts} host(s); {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="calamari-peer-") as tmp:
        base = Path(tmp)
        cluster = DevCluster(base / "ceph", osds=args.osds, hosts=args.hosts, mgr_notify=not args.no_mgr_notify)
        dashboard_port = free_port()
        cluster.env.update(DASHBOARD_PORT=str(dashboard_port), DASHBOARD_PASSWORD=DASHBOARD_PASSWORD)
        server: CalamariServer | None = None
        collector: CalamariCollector | None = None
        mon: MonCommands | None = None
        try:
            started = time.monotonic()
            cluster.up(timeout=600)
            dashboard_url = f"http://127.0.0.1:{dashboard_port}"
            token = wait_for(lambda: dashboard_login(dashboard_url), 180, "the dashboard to answer a login",
                             interval=1.0)
            dashboard = Endpoint("dashboard", dashboard_url,
                                 {"Authorization": f"Bearer {token}", "Accept": DASHBOARD_ACCEPT})
            print(f"cluster and dashboard up in {time.monotonic() - started:.0f} s", flush=True)
            cluster.ceph("osd", "pool", "create", "bench", "8")
            server = CalamariServer(base / "data")
            if cluster.notify_port is not None and not args.no_server_notify:
                # the server hears of new maps from ceph-mgr too, and reads wait for them
                server.extra += ["--mgr-notify", f"127.0.0.1:{cluster.notify_port}"]
            api = server.start()
            collector = CalamariCollector(server.bus, cluster.conf, base / "collector.log",
                                          poll_interval=args.poll_interval, heartbeat_interval=5.0,
                                          ceph_timeout=10.0)
            collector.argv += ["--mgr-notify", "none" if cluster.notify_port is None
                               else f"127.0.0.1:{cluster.notify_port}"]
            collector.start()
            fsid = cluster.fsid()
            calamari = Endpoint("calamari", server.url, {"Authorization": f"Bearer {api.token}",
                                                          "Accept": "application/json"})

            def both_see_everything() -> bool:
                cal_osds = calamari.json(f"/cluster/{fsid}/osd")
                cal_pools = calamari.json(f"/cluster/{fsid}/pool")
                dash_osds = dashboard.json("/api/osd")
                return (len(cal_osds) == len(dash_osds) == args.osds and any(p["name"] == "bench" for p in cal_pools)
                        and all(o["up"] and o["in"] for o in cal_osds))

            wait_for(both_see_everything, 120, "both APIs to show every OSD and the pool", interval=0.5)
            if args.idle > 0:
                assert server.process is not None and collector.process is not None
                window = CpuWindow({"calamari-server": server.process.pid, "calamari-collector": collector.process.pid,
                                    "ceph-mgr": cluster.pid_of("mgr.x") or 0})
                time.sleep(args.idle)
                shares = window.shares()
                report["idle_cpu"] = shares
                print(f"idle {args.idle:g} s, CPU share of one core: "
                      + ", ".join(f"{name} {share * 100:.1f} %" for name, share in shares.items())
                      + f" (collector poll {args.poll_interval:g} s; ceph-mgr: all its modules)", flush=True)
            report["reads"] = compare_reads(calamari, dashboard, fsid, osd=0, requests=args.requests)
            print_reads(report["reads"], args.requests)
            mgr_pid = cluster.pid_of("mgr.x")
            if server.process is not None and mgr_pid is not None:
                report["cpu_per_read_us"] = compare_cpu(calamari, dashboard, {
                    "calamari": server.process.pid, "dashboard": mgr_pid}, fsid, 0, args.requests)
                print_cpu(report["cpu_per_read_us"], args.requests)
            mon = CliCommands(cluster) if args.cli else MonCommands(cluster)
            how = "the ceph CLI returned" if mon.rados is None else "librados' mon_command returned (committed)"
            print(f"\nFreshness: {args.changes} changes, each API polled every {args.poll_ms:g} ms by its own "
                  f"thread; collector poll interval {args.poll_interval:g} s, "
                  f"{'version checks alone' if args.no_mgr_notify else 'told of new maps by calamari_notify'}",
                  flush=True)
            report["freshness"] = measure_freshness(mon, calamari, dashboard, fsid, args.osds, args.changes,
                                                    args.poll_ms / 1000, args.poll_interval)
            report["freshness_summary"] = print_freshness(report["freshness"], how)
            if "--mgr-notify" in server.extra:
                report["server_mgr_maps"] = server_mgr_maps(calamari)
                print("maps ceph-mgr announced, as the server came by them: "
                      + ", ".join(f"{kind} {n}" for kind, n in report["server_mgr_maps"].items())
                      + " (taken: straight from the module; awaited: from the collector)")
        finally:
            if mon is not None:
                mon.close()
            if collector is not None:
                collector.stop()
            if server is not None:
                server.stop()
            cluster.down()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
