"""The API's latency while push streams are open: a real `calamari-server --simulate` with 1,000
OSDs whose simulator keeps changing OSDs (so every stream keeps receiving events), asked for one
OSD and for the OSD list, with 0 and then 100 open streams read by a client thread. Prints median
and p99 latency, how many events the streams received meanwhile and how many worker threads the
server has; asserts nothing.

`python bench/bench_stream.py [--osds 1000] [--streams 0,100] [--requests 300]`"""

from __future__ import annotations

import argparse
import http.client
import selectors
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calamari.testing.live import CalamariServer, wait_for  # noqa: E402
from calamari.testing.sse import StreamClient, open_streams, pump_until  # noqa: E402

THREADS = 8  # calamari-server's default --threads


class Readers:
    """Reads every open stream as it comes, on one thread, until stopped."""

    def __init__(self, streams: list[StreamClient]) -> None:
        self.streams = streams
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Readers:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            for stream in self.streams:
                selector.register(stream, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(0.2):
                    stream = key.fileobj
                    assert isinstance(stream, StreamClient)
                    stream.pump()
                    if stream.closed:
                        selector.unregister(stream)

    def changes(self) -> int:
        return sum(len(s.changes) for s in self.streams)


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
    many = latencies(server.api_port, token, f"/api/v2/cluster/{fsid}/osd", max(20, requests // 10))
    print(f"  {label:>12}: GET …/osd/0 {summary(one)};  GET …/osd (list) {summary(many)}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--osds", type=int, default=1000)
    parser.add_argument("--streams", default="0,100", help="numbers of open streams to measure with")
    parser.add_argument("--requests", type=int, default=300, help="GETs of one OSD per measurement")
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
        latencies(server.api_port, api.token, f"/api/v2/cluster/{fsid}/osd", 10)  # warm up
        print(f"calamari-server, {args.osds} simulated OSDs changing (churn), {THREADS} API worker threads:")
        for count in counts:
            streams = open_streams("127.0.0.1", server.api_port, api.token, count)
            try:
                if streams:
                    pump_until(streams, lambda s: any(f["event"] == "hello" for f in s.frames), 60, "hello")
                with Readers(streams) as readers:
                    before = readers.changes()
                    started = time.perf_counter()
                    measure(server, api.token, fsid, args.requests, f"{count} streams")
                    took = time.perf_counter() - started
                    received = readers.changes() - before
                    open_now = sum(not s.closed and s.status == 200 for s in streams)
                if streams:
                    print(f"  {'':>12}  meanwhile ({took:.1f} s) the {open_now} open streams received {received} "
                          f"events ({received / max(1, len(streams)):.0f} each)")
            finally:
                for stream in streams:
                    stream.close()
            time.sleep(1)  # the closed streams leave the hub before the next round
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
