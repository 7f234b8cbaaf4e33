"""Graphite globs over HTTP against a real `calamari-server`: the time of pathological finds and
renders (star-heavy globs, malformed ones, queries past the limits), of normal finds and renders,
and how long a cheap request waits while expensive queries run on other threads.

    .venv/bin/python bench/bench_graphite_glob.py [--osds 500] [--hosts 50] [--threads 4]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from calamari.adapters.timeseries import WhisperStore
from calamari.graphite.budget import QueryBudget
from calamari.graphite.glob import compile_node
from calamari.testing.live import ApiClient, ApiError, CalamariServer

FSID = "f3b9a7c2-5d1e-4a8b-9c6f-0e2d4b8a1c37"
OSD_METRICS = ("kb_used", "kb_avail", "apply_latency_ms", "commit_latency_ms")
HOST_METRICS = ("cpu.total.idle", "cpu.total.user", "memory.used", "network.eth0.rx_bytes")


def fill(root: Path, osds: int, hosts: int, now: int) -> int:
    """A day of 1-minute points for every OSD and host metric, written straight into whisper."""
    store = WhisperStore(str(root))
    points = [(now - 60 * k, float(k % 97)) for k in range(1, 1441)]
    names = [f"ceph.cluster.{FSID}.osd.{i}.{m}" for i in range(osds) for m in OSD_METRICS]
    names += [f"servers.host{i:03d}.{m}" for i in range(hosts) for m in HOST_METRICS]
    for name in names:
        store.write(name, points, now)
    return len(names)


def timed(client: ApiClient, path: str, params: dict[str, str], runs: int = 3) -> tuple[float, int, str]:
    """(median seconds, status, a short description of the answer)."""
    times, status, what = [], 0, ""
    for _ in range(runs):
        started = time.perf_counter()
        try:
            status, body = client.call("GET", path + "?" + urllib.parse.urlencode(params))
            what = f"{len(body)} entries"
        except ApiError as err:
            status, what = err.status, str((err.body or {}).get("detail", ""))[:70]
        times.append(time.perf_counter() - started)
    return statistics.median(times), status, what


def report(client: ApiClient, label: str, path: str, params: dict[str, str]) -> None:
    seconds, status, what = timed(client, path, params)
    print(f"  {label:<44} {seconds * 1000:9.1f} ms  {status}  {what}")


def stall(client: ApiClient, threads: int, path: str, params: dict[str, str], probes: int = 40) -> None:
    """Latency of /graphite/functions while `threads` threads repeat an expensive query."""
    def baseline() -> list[float]:
        out = []
        for _ in range(probes):
            started = time.perf_counter()
            client.call("GET", "/graphite/functions")
            out.append(time.perf_counter() - started)
            time.sleep(0.01)
        return out

    quiet = baseline()
    stop = threading.Event()
    done = [0]

    def hammer() -> None:
        while not stop.is_set():
            timed(client, path, params, runs=1)
            done[0] += 1

    workers = [threading.Thread(target=hammer, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    try:
        busy = baseline()
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    print(f"  cheap request alone:           median {statistics.median(quiet) * 1000:7.1f} ms, "
          f"max {max(quiet) * 1000:7.1f} ms")
    print(f"  with {threads} expensive queries running: median {statistics.median(busy) * 1000:7.1f} ms, "
          f"max {max(busy) * 1000:7.1f} ms ({done[0]} expensive queries answered meanwhile)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osds", type=int, default=500)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--threads", type=int, default=4, help="expensive queries run at once in the stall test")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-graphite-glob-"))
    server = None
    try:
        now = int(time.time())
        started = time.perf_counter()
        count = fill(base / "data" / "whisper", args.osds, args.hosts, now)
        print(f"{count} metrics of a day at 1 minute written in {time.perf_counter() - started:.1f} s")

        print("matcher steps for one 36-character name (in-process, counted):")
        for node in ("*" * 40 + "Z", "*a" * 20 + "Z", "{" + ",".join(f"*{i}*" for i in range(50)) + "}Z"):
            budget = QueryBudget()
            compile_node(node).matches(FSID, budget)
            print(f"  {node[:40]:<44} {budget.match_steps:>9,} steps")

        server = CalamariServer(base / "data")
        api = server.start()  # logged in under /api/v2; the same token serves /graphite
        client = ApiClient(f"http://127.0.0.1:{server.api_port}", timeout=120)
        client.token = api.token
        find, render = "/graphite/metrics/find", "/graphite/render"

        print("pathological queries (each answered in full or refused; the old regex took ~7x per star):")
        for stars in (10, 20, 40):
            report(client, f"find ceph.cluster.(* x {stars})Z", find, {"query": f"ceph.cluster.{'*' * stars}Z"})
        report(client, "find ceph.cluster.*.osd.(*a x 20)Z", find, {"query": f"ceph.cluster.*.osd.{'*a' * 20}Z"})
        report(client, "render ceph.cluster.*.osd.*.(*a x 20)Z", render,
               {"target": f"ceph.cluster.*.osd.*.{'*a' * 20}Z", "from": "-1h"})
        report(client, "find (300 alternatives x 3 nodes)", find,
               {"query": ".".join(["{" + ",".join(f"*{i}*" for i in range(300)) + "}"] * 3)})
        report(client, "find ceph.[z-a]", find, {"query": "ceph.[z-a]"})
        report(client, "find 1000 nested braces", find, {"query": "ceph." + "{" * 1000 + "a" + "}" * 1000})
        report(client, "render 40 nested calls", render, {"target": "sumSeries(" * 40 + "a.b" + ")" * 40})
        report(client, "render *.*.*.*.*.* over 30 days", render, {"target": "*.*.*.*.*.*", "from": "-30d"})

        print("normal queries:")
        report(client, "find ceph.cluster.*.osd.*", find, {"query": "ceph.cluster.*.osd.*"})
        report(client, "find servers.*.cpu.total.*", find, {"query": "servers.*.cpu.total.*"})
        report(client, "find servers.host0{0,1,2}?.*", find, {"query": "servers.host0{0,1,2}?.*"})
        report(client, f"render {args.osds} OSDs kb_used, 1 day", render,
               {"target": "ceph.cluster.*.osd.*.kb_used", "from": "-1d"})
        report(client, f"render sumSeries of {args.osds}, 1 day", render,
               {"target": "sumSeries(ceph.cluster.*.osd.*.kb_used)", "from": "-1d"})
        report(client, "render servers.*.cpu.total.idle, 1 h", render, {"target": "servers.*.cpu.total.idle"})

        print("a cheap request while expensive queries run:")
        stall(client, args.threads, find, {"query": f"ceph.cluster.*.osd.*.{'*a' * 20}Z"})
        stall(client, args.threads, render, {"target": "sumSeries(ceph.cluster.*.osd.*.kb_used)", "from": "-1d"})
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
