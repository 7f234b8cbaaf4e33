"""The API's latency while push streams are open: a real `calamari-server --simulate` with 1,000
OSDs whose simulator keeps changing OSDs (so every stream keeps receiving events), asked for one
OSD and for the OSD list, with 0 and then 100 open streams read by another client process. Prints median
and p99 latency, how many events the streams received meanwhile and how many worker threads the
server has; asserts nothing.

`python bench/bench_stream.py [--osds 1000] [--streams 0,100] [--requests 1000]`"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import selectors
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calamari.testing.live import CalamariServer, wait_for  # noqa: E402
from calamari.testing.sse import StreamClient, open_streams, pump_until  # noqa: E402

THREADS = 8  # calamari-server's default --threads


def read_streams(port: int, token: str, count: int, conn: Connection) -> None:
    """In its own process (the client's parsing must not slow the client that measures): open
    `count` streams, say "ready" once each said hello, then read them all as events come; at
    "count", answer the change frames received so far; at "stop", end."""
    streams = open_streams("127.0.0.1", port, token, count)
    pump_until(streams, lambda s: any(f["event"] == "hello" for f in s.frames), 60, "hello")
    conn.send("ready")
    with selectors.DefaultSelector() as selector:
        for stream in streams:
            selector.register(stream, selectors.EVENT_READ)
        while True:
            if conn.poll():
                asked = conn.recv()
                if asked == "stop":
                    break
                conn.send((sum(len(s.changes) for s in streams), sum(not s.closed for s in streams)))
            for key, _ in selector.select(0.05):
                stream = key.fileobj
                assert isinstance(stream, StreamClient)
                stream.pump()
                if stream.closed:
                    selector.unregister(stream)
    for stream in streams:
        stream.close()


class Readers:
    """`count` streams read by another process while the API is measured from this one."""

    def __init__(self, port: int, token: str, count: int) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=read_streams, args=(port, token, count, child), daemon=True)

    def __enter__(self) -> Readers:
        self._process.start()
        if not self._conn.poll(120) or self._conn.recv() != "ready":
            raise RuntimeError("the stream readers did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(30)

    def received(self) -> tuple[int, int]:
        """Change frames received so far by all streams, and how many streams are open."""
        self._conn.send("count")
        return self._conn.recv()


def latencies(port: int, token: str, path: str, count: int) -> list[float]:
    """`count` GETs of `path` on one kept-alive connection; seconds each (body read)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            times.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status}")
    finally:
        conn.close()
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1000:6.2f} ms, p99 {p99 * 1000:6.2f} ms"


def measure(server: CalamariServer, token: str, fsid: str, requests: int, label: str) -> None:
    one = latencies(server.api_port, token, f"/api/v2/cluster/{fsid}/osd/0", requests)
    many = latencies(server.api_port, token, f"/api/v2/cluster/{fsid}/osd", max(50, requests // 10))
    print(f"  {label:>12}: GET …/osd/0 {summary(one)};  GET …/osd (list) {summary(many)}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--osds", type=int, default=1000)
    parser.add_argument("--streams", default="0,100", help="numbers of open streams to measure with")
    parser.add_argument("--requests", type=int, default=1000, help="GETs of one OSD per measurement")
    args = parser.parse_args()
    counts = [int(n) for n in args.streams.split(",")]
    base = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    hosts = max(1, args.osds // 20)
    spec = f"hosts={hosts},osds={args.osds},pools=10,pgs={max(1024, args.osds * 16)},seed=7,churn=0.005"
    server = CalamariServer(base / "data", extra=["--simulate", spec, "--threads", str(THREADS),
                                                  "--http-max-streams", str(max(counts + [1]))])
    api = server.start(timeout=300)
    try:
        fsid = wait_for(lambda: api.get("/cluster"), 300, "the simulated cluster")[0]["id"]
        wait_for(lambda: len(api.get(f"/cluster/{fsid}/osd")) == args.osds, 300, "every OSD")
        assert api.token is not None
        time.sleep(5)  # the first maps' events settle
        latencies(server.api_port, api.token, f"/api/v2/cluster/{fsid}/osd", 30)  # warm up
        latencies(server.api_port, api.token, f"/api/v2/cluster/{fsid}/osd/0", 200)
        print(f"calamari-server, {args.osds} simulated OSDs changing (churn), {THREADS} API worker threads:")
        for count in counts:
            if count == 0:
                measure(server, api.token, fsid, args.requests, "0 streams")
                continue
            with Readers(server.api_port, api.token, count) as readers:
                before, _ = readers.received()
                started = time.perf_counter()
                measure(server, api.token, fsid, args.requests, f"{count} streams")
                took = time.perf_counter() - started
                after, open_now = readers.received()
            print(f"  {'':>12}  meanwhile ({took:.1f} s) the {open_now} open streams received {after - before} "
                  f"events ({(after - before) / count:.0f} each)")
            time.sleep(1)  # the closed streams leave the hub before the next round
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
