"""The server a user runs, at scale, measured from outside: for each size N it starts a real
`calamari-server` (own data dir, SQLite store, plain-TCP bus) and, in its own process, a
`calamari-collector --simulate hosts=N/10,osds=N,pools=N/10,pgs=N*100` (a host per 10 OSDs, a pool
per 10 OSDs, 100 PGs per OSD), then prints

- the time to the first full view: from the collector's start until the OSD list holds N OSDs
  (and until the pool and server lists are complete too);
- the CPU share of the server and of the collector over an idle window (no API requests, the
  simulator's default churn unless --churn), from /proc/<pid>/stat, and the server's RSS;
- the event store's growth over that window, extrapolated to events/day and bytes/day (pages in
  use in the SQLite file, index included), with the event types written;
- GET timings of the OSD list, one OSD, pools, one pool, servers and /metrics: median and p90 over
  --requests interleaved requests, each on a new connection and timed to the last byte, with the
  wire bytes, once without and once with `Accept-Encoding: gzip`; and, where the server sends an
  ETag, the conditional GET (If-None-Match);
- the restart time: kill -9, start again on the same data dir, until the API answers a login and
  until the OSD list holds N OSDs again;

and finally one table across sizes with each figure's budget beside it (issue 14 and the design's
budgets, which are set at 10,000 OSDs: a smaller cluster gets the same budget; a larger one the
budget scaled linearly with N, "linear or better"; RSS: linear through the 150 MB at 1,000 and the
400 MB at 10,000 OSDs) and k, the growth exponent (figure ~ N**k; 1 is linear).

    python bench/bench_scale.py [--sizes 1000,10000,30000 | --quick] [--requests 30] [--idle 30]
        [--churn X] [--route 'LABEL=/api/v2/cluster/{fsid}/osd?fields=id'] [--json out.json]
        [--tracemalloc] [--holders] [--keep]

`--tracemalloc` runs the server under tracemalloc (bench/traced_server.py) and prints the top 15
allocation sites once the reads are done (default size then 10,000); tracing slows the server and
adds its own memory, so take the other figures from a run without it. The machine's other load
shows in every figure: compare runs made on a quiet machine. `--holders` prints what holds the
server's memory (the deep size of each part of the model, the views, the time series and the API's
caches, each object counted once) at the same two points, with or without tracemalloc. Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script without PYTHONPATH
    sys.path.insert(0, str(HERE.parent))

from bench.measure import (  # noqa: E402
    CpuWindow,
    Response,
    StoreState,
    Timings,
    directory_bytes,
    growth_exponent,
    http_get,
    human_bytes,
    memory_kib,
    per_day,
    sqlite_row_bytes_between,
    sqlite_store_state,
    sqlite_topics_between,
    table,
)
from calamari.testing.live import (  # noqa: E402
    BIN,
    ApiClient,
    CalamariServer,
    Process,
    WaitTimeout,
    plain_bus_options,
    wait_for,
)

DEFAULT_SIZES = (1_000, 10_000, 30_000)
BUDGET_SIZE = 10_000


# ------------------------------------------------------------------------------------ budgets

@dataclass(frozen=True)
class Budget:
    """A ceiling at 10,000 OSDs; `scales`: a larger cluster gets it times N/10,000."""

    limit: float
    scales: bool = True

    def at(self, size: int) -> float:
        return self.limit * max(1.0, size / BUDGET_SIZE) if self.scales else self.limit


class RssBudget(Budget):
    """150 MB at 1,000 OSDs and 400 MB at 10,000 (issue 14), linear through both."""

    def at(self, size: int) -> float:
        return max(150.0, 150.0 + (size - 1_000) * (400.0 - 150.0) / (BUDGET_SIZE - 1_000))


BUDGETS: dict[str, Budget] = {
    "OSD list median ms": Budget(60.0),
    "one OSD median ms": Budget(2.0, scales=False),
    "one pool median ms": Budget(2.0, scales=False),
    "/metrics median ms": Budget(200.0),
    "server RSS MB (idle)": RssBudget(400.0),
    "server RSS MB (after reads)": RssBudget(400.0),
    "collector CPU % (idle)": Budget(5.0, scales=False),
    "events/day": Budget(100_000.0),
    "store MB/day": Budget(50.0),
    "restart: API answers s": Budget(5.0, scales=False),
}


# ------------------------------------------------------------------------------------ processes

@functools.cache
def bus_options(command: str) -> tuple[str, ...]:
    """The plain-TCP bus option of `command` (asked of its --help once per run)."""
    return tuple(plain_bus_options(command))


class ScaleServer(CalamariServer):
    """calamari-server on free ports with its own data dir; optionally under tracemalloc."""

    def __init__(self, data_dir: Path, tracemalloc_dump: Path | None = None, traced: bool = True) -> None:
        super().__init__(data_dir)
        self.tracemalloc_dump = tracemalloc_dump
        self.traced = traced

    def argv(self) -> list[str]:
        options = ["--data-dir", str(self.data_dir), "--api", f"127.0.0.1:{self.api_port}", "--bus", self.bus,
                   *bus_options("calamari-server"), *self.extra]
        if self.tracemalloc_dump is None:
            return [str(BIN / "calamari-server"), *options]
        return [sys.executable, str(HERE / "traced_server.py"), "--dump", str(self.tracemalloc_dump), "--holders",
                *([] if self.traced else ["--no-trace"]), "--", *options]

    def start(self, timeout: float = 600) -> ApiClient:
        """Start and wait (polling every 50 ms) until a login answers; the logged-in client."""
        self.process = Process(self.argv(), self.data_dir / "server.log")
        client = ApiClient(self.url, timeout=300)
        try:
            wait_until(lambda: client.login(self.USER, self.PASSWORD), timeout, "the server's API to answer a login",
                       (self.process,))
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}\n{self.process.log_tail()}") from None
        return client

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def wait_until(condition: Callable[[], Any], timeout: float, what: str, watched: tuple[Process | None, ...] = (),
               interval: float = 0.05) -> Any:
    """Poll `condition` until it returns something truthy (returned). Its exceptions count as "not
    yet"; but a watched process that exits ends the wait at once, with its log's tail."""
    def exited() -> str | None:
        for process in watched:
            if process is not None and not process.alive():
                return f"{Path(process.argv[0]).name} exited while waiting for {what}:\n{process.log_tail()}"
        return None

    return wait_for(condition, timeout, what, interval, give_up=exited)


def count_items(parsed: Any) -> int:
    """How many rows a list answer holds: a JSON array, or a page object with `results`."""
    if isinstance(parsed, list):
        return len(parsed)
    if isinstance(parsed, dict) and isinstance(parsed.get("results"), list):
        return len(parsed["results"])
    raise ValueError(f"not a list answer: {str(parsed)[:200]}")


def backlog_drained(written: list[int], block: int) -> bool:
    """True once the events stored in the last `block` windows are no longer well below those of the
    `block` windows before them: a draining backlog's rate falls, a steady churn's does not."""
    if len(written) < 2 * block:
        return False
    before, last = sum(written[-2 * block:-block]), sum(written[-block:])
    return last >= before / 1.5 - 100


# ------------------------------------------------------------------------------------ one size

class SizeRun:
    """Everything measured for one size; `figures` holds what the summary table shows."""

    def __init__(self, size: int, base: Path, args: argparse.Namespace) -> None:
        self.size = size
        self.base = base
        self.args = args
        self.hosts = max(1, size // 10)
        self.pools = max(1, size // 10)
        spec = f"hosts={self.hosts},osds={size},pools={self.pools},pgs={size * 100},seed={args.seed}"
        if args.churn is not None:
            spec += f",churn={args.churn:g}"
        self.spec = spec
        self.figures: dict[str, float | None] = {}
        self.details: dict[str, Any] = {"size": size, "spec": spec}
        dump = base / "tracemalloc.txt" if args.tracemalloc or args.holders else None
        self.server = ScaleServer(base / "data", tracemalloc_dump=dump, traced=args.tracemalloc)
        self.collector: Process | None = None
        self.api: ApiClient | None = None
        self.fsid = ""

    # -- plumbing
    @property
    def auth(self) -> dict[str, str]:
        assert self.api is not None and self.api.token
        return {"Authorization": f"Bearer {self.api.token}"}

    @property
    def store_path(self) -> Path:
        return self.base / "data" / "events.db"

    def get(self, path: str, encoding: str = "identity", extra: dict[str, str] | None = None) -> Response:
        headers = {**self.auth, "Accept": "application/json", "Accept-Encoding": encoding, **(extra or {})}
        return http_get(self.server.root_url + path, headers, timeout=300)

    def list_count(self, path: str) -> int:
        answer = self.get(path)
        if answer.status != 200:
            return -1
        return count_items(json.loads(answer.body))

    def check_collector(self) -> bool:
        assert self.collector is not None
        if not self.collector.alive():
            raise RuntimeError(f"the collector exited: {self.collector.log_tail()}")
        return True

    def say(self, text: str) -> None:
        print(f"[{self.size:,} OSDs] {text}", flush=True)

    # -- the phases
    def run(self) -> None:
        try:
            self.api = self.server.start()
            self.first_view()
            self.settle()
            self.idle_window()
            if self.server.tracemalloc_dump is not None:
                self.tracemalloc_top("after the idle window, before any read")
            self.reads()
            if self.server.tracemalloc_dump is not None:
                self.tracemalloc_top("after the reads")
            self.restart()
        finally:
            if self.collector is not None:
                self.collector.stop()
            self.server.stop()

    def first_view(self) -> None:
        n, timeout = self.size, self.args.timeout
        argv = [str(BIN / "calamari-collector"), "--server", self.server.bus,
                *bus_options("calamari-collector"), "--simulate", self.spec]
        started = time.monotonic()
        self.collector = Process(argv, self.base / "collector.log")
        watched = (self.collector, self.server.process)

        def cluster_id() -> str | None:
            assert self.api is not None
            rows = self.api.get("/cluster")
            return rows[0]["id"] if rows else None

        self.fsid = wait_until(cluster_id, timeout, "the simulated cluster to appear", watched)
        appeared = time.monotonic() - started
        osds = f"/api/v2/cluster/{self.fsid}/osd"
        # the OSD map arrives whole: the last OSD there means the list is worth fetching in full
        wait_until(lambda: self.get(f"{osds}/{n - 1}").status == 200, timeout, f"osd.{n - 1} to appear", watched)
        wait_until(lambda: self.list_count(osds) >= n, timeout, f"the OSD list to hold {n} OSDs", watched)
        full = time.monotonic() - started
        wait_until(lambda: self.list_count(f"/api/v2/cluster/{self.fsid}/pool") >= self.pools
                   and self.list_count(f"/api/v2/cluster/{self.fsid}/server") >= self.hosts,
                   timeout, f"{self.pools} pools and {self.hosts} servers", watched, interval=0.2)
        complete = time.monotonic() - started
        self.figures["first view: OSD list full s"] = full
        self.figures["first view: + pools, servers s"] = complete
        self.details["cluster_appeared_s"] = appeared
        self.say(f"simulated cluster {self.fsid}: in /cluster after {appeared:.1f} s, OSD list full after "
                 f"{full:.1f} s, pools and servers complete after {complete:.1f} s")

    def store_state(self) -> StoreState:
        return sqlite_store_state(self.store_path)

    def settle(self, window_s: float = 2.0, limit_s: float = 600.0) -> None:
        """Wait until the writer has stored the first view's backlog: until the events stored in the
        last 10 s are no longer well below those of the 10 s before (a draining backlog's rate falls;
        the steady churn's, bursty as host facts arrive, does not)."""
        started = time.monotonic()
        previous = self.store_state()
        written: list[int] = []
        block = round(10 / window_s)
        settled = False
        while time.monotonic() - started < limit_s:
            time.sleep(window_s)
            current = self.store_state()
            written.append(current.position - previous.position)
            previous = current
            if backlog_drained(written, block):
                settled = True
                break
        self.say(f"store {'settled' if settled else 'NOT settled'} after {time.monotonic() - started:.0f} s at "
                 f"position {previous.position:,} ({human_bytes(previous.used_bytes)}); events per {window_s:g} s "
                 f"meanwhile: {written}")

    def idle_window(self) -> None:
        assert self.collector is not None
        seconds = self.args.idle
        before = self.store_state()
        window = CpuWindow({"server": self.server.pid, "collector": self.collector.pid})
        started = time.monotonic()
        time.sleep(seconds)
        shares = window.shares()
        elapsed = time.monotonic() - started
        after = self.store_state()
        self.check_collector()
        rss = memory_kib(self.server.pid)
        collector_rss = memory_kib(self.collector.pid)
        events_day = per_day(before.position, after.position, elapsed)
        bytes_day = per_day(before.used_bytes, after.used_bytes, elapsed)
        topics = sqlite_topics_between(self.store_path, before.position, after.position)
        row_bytes = sqlite_row_bytes_between(self.store_path, before.position, after.position)
        self.figures["server CPU % (idle)"] = shares["server"] * 100
        self.figures["collector CPU % (idle)"] = shares["collector"] * 100
        self.figures["server RSS MB (idle)"] = rss["VmRSS"] / 1024
        self.figures["events/day"] = events_day
        self.figures["store MB/day"] = bytes_day / 1e6
        self.details["idle"] = {"seconds": elapsed, "events": after.position - before.position,
                                "store_bytes": after.used_bytes - before.used_bytes, "row_bytes": row_bytes,
                                "topics": topics,
                                "collector_rss_kib": collector_rss["VmRSS"]}
        self.say(f"idle {elapsed:.0f} s: server CPU {shares['server'] * 100:.1f} %, collector CPU "
                 f"{shares['collector'] * 100:.1f} % of a core; server RSS {rss['VmRSS'] / 1024:.0f} MB, collector "
                 f"RSS {collector_rss['VmRSS'] / 1024:.0f} MB")
        written = ", ".join(f"{topic.rpartition('.')[2] or topic} {count}" for topic, count in topics[:6]) or "none"
        self.say(f"store: {after.position - before.position:,} events, {human_bytes(after.used_bytes - before.used_bytes)}"
                 f" ({human_bytes(row_bytes)} of rows) in {elapsed:.0f} s -> {events_day:,.0f} events/day, "
                 f"{human_bytes(bytes_day)}/day; written: {written}")

    def routes(self) -> list[tuple[str, Callable[[int], str]]]:
        """(label, the path of the i-th request): single resources rotate over ids."""
        base = f"/api/v2/cluster/{self.fsid}"
        pool_ids = [row["id"] for row in json.loads(self.get(f"{base}/pool").body)]
        picker = random.Random(self.args.seed)
        osd_ids = [picker.randrange(self.size) for _ in range(64)]
        pool_pick = [picker.choice(pool_ids) for _ in range(64)]
        found: list[tuple[str, Callable[[int], str]]] = [
            ("OSD list", lambda i: f"{base}/osd"),
            ("one OSD", lambda i: f"{base}/osd/{osd_ids[i % len(osd_ids)]}"),
            ("pools", lambda i: f"{base}/pool"),
            ("one pool", lambda i: f"{base}/pool/{pool_pick[i % len(pool_pick)]}"),
            ("servers", lambda i: f"{base}/server"),
            ("/metrics", lambda i: "/metrics"),
        ]
        for label, template in self.args.route:
            found.append((label, lambda i, t=template: t.format(fsid=self.fsid)))
        return found

    def reads(self) -> None:
        routes = self.routes()
        encodings = ("identity", "gzip")
        timings = {(label, enc): Timings() for label, _ in routes for enc in encodings}
        warmup, rounds = 2, self.args.requests
        for round_no in range(warmup + rounds):  # interleaved: the machine's load falls on all alike
            for label, path_of in routes:
                for enc in encodings:
                    answer = self.get(path_of(round_no), enc)
                    if round_no >= warmup:
                        timings[(label, enc)].add(answer)
        conditional: dict[str, Timings | None] = {}
        for label, path_of in routes:
            first = self.get(path_of(0))
            if first.etag is None:
                conditional[label] = None
                continue
            samples = Timings()
            for _ in range(rounds):
                samples.add(self.get(path_of(0), extra={"If-None-Match": first.etag}))
            conditional[label] = samples
        rows = []
        for label, _ in routes:
            plain, packed, cond = timings[(label, "identity")], timings[(label, "gzip")], conditional[label]
            rows.append([label, plain.status, f"{plain.median_ms:.1f}", f"{plain.p90_ms:.1f}",
                         human_bytes(plain.median_bytes), f"{packed.median_ms:.1f}", f"{packed.p90_ms:.1f}",
                         human_bytes(packed.median_bytes), packed.encoding,
                         "no ETag" if cond is None else f"{cond.median_ms:.1f} ({cond.status})"])
        self.say(f"GET, {rounds} requests each (after {warmup} warm-up rounds), new connection each, "
                 "timed to the last byte:")
        print(table(["route", "status", "median ms", "p90 ms", "bytes", "gzip: median", "p90", "wire bytes",
                     "encoding", "If-None-Match ms"], rows), flush=True)
        figure_names = {"OSD list": "OSD list", "one OSD": "one OSD", "pools": "pool list", "one pool": "one pool",
                        "servers": "server list", "/metrics": "/metrics"}
        for label, name in figure_names.items():
            self.figures[f"{name} median ms"] = timings[(label, "identity")].median_ms
        self.figures["OSD list MB"] = timings[("OSD list", "identity")].median_bytes / 1e6
        self.figures["OSD list gzip median ms"] = timings[("OSD list", "gzip")].median_ms
        self.figures["OSD list gzip wire MB"] = timings[("OSD list", "gzip")].median_bytes / 1e6
        self.figures["/metrics MB"] = timings[("/metrics", "identity")].median_bytes / 1e6
        self.figures["/metrics gzip wire MB"] = timings[("/metrics", "gzip")].median_bytes / 1e6
        memory = memory_kib(self.server.pid)
        self.figures["server RSS MB (after reads)"] = memory["VmRSS"] / 1024
        self.figures["server peak RSS MB"] = memory["VmHWM"] / 1024
        self.details["reads"] = {f"{label} {enc}": t.summary() for (label, enc), t in timings.items()}
        self.details["conditional"] = {label: (t.summary() if t else None) for label, t in conditional.items()}
        self.say(f"server RSS after the reads {memory['VmRSS'] / 1024:.0f} MB (peak so far {memory['VmHWM'] / 1024:.0f} MB)")

    def tracemalloc_top(self, when: str) -> None:
        dump = self.server.tracemalloc_dump
        assert dump is not None
        dump.unlink(missing_ok=True)
        os.kill(self.server.pid, signal.SIGUSR1)
        wait_until(dump.exists, self.args.timeout, "the tracemalloc dump", (self.server.process,), interval=0.5)
        text = dump.read_text()
        self.details.setdefault("tracemalloc", {})[when] = text
        rss = memory_kib(self.server.pid)["VmRSS"] / 1024
        what = "top allocation sites (tracemalloc, by line) and " if self.args.tracemalloc else ""
        self.say(f"{what}what holds the memory {when} (RSS {rss:.0f} MB):")
        print(text, flush=True)

    def restart(self) -> None:
        n = self.size
        assert self.server.process is not None
        position = self.store_state().position
        self.server.process.kill9()
        self.server.process.stop()  # closes its log; the process is gone already
        started = time.monotonic()
        self.api = self.server.start(timeout=self.args.timeout)
        answers = time.monotonic() - started
        wait_until(lambda: self.list_count(f"/api/v2/cluster/{self.fsid}/osd") >= n, self.args.timeout,
                   f"the OSD list to hold {n} OSDs again", (self.server.process, self.collector))
        full = time.monotonic() - started
        rss = memory_kib(self.server.pid)["VmRSS"] / 1024
        self.figures["restart: API answers s"] = answers
        self.figures["restart: OSD list full s"] = full
        self.figures["server RSS MB (after restart)"] = rss
        snapshots = self.base / "data" / "snapshots"
        self.details["restart"] = {"stored_events": position, "snapshots_bytes": directory_bytes(snapshots)
                                   if snapshots.exists() else 0}
        self.say(f"restart after kill -9 with {position:,} stored events: API answers after {answers:.2f} s, OSD list "
                 f"full after {full:.2f} s; RSS then {rss:.0f} MB; data dir {human_bytes(directory_bytes(self.base / 'data'))}")


# ------------------------------------------------------------------------------------ the summary

SUMMARY_ORDER = (
    ("first view: OSD list full s", "{:.1f}"),
    ("first view: + pools, servers s", "{:.1f}"),
    ("OSD list median ms", "{:.1f}"),
    ("OSD list MB", "{:.2f}"),
    ("OSD list gzip median ms", "{:.1f}"),
    ("OSD list gzip wire MB", "{:.2f}"),
    ("one OSD median ms", "{:.2f}"),
    ("pool list median ms", "{:.1f}"),
    ("one pool median ms", "{:.2f}"),
    ("server list median ms", "{:.1f}"),
    ("/metrics median ms", "{:.1f}"),
    ("/metrics MB", "{:.2f}"),
    ("/metrics gzip wire MB", "{:.2f}"),
    ("server RSS MB (idle)", "{:.0f}"),
    ("server RSS MB (after reads)", "{:.0f}"),
    ("server peak RSS MB", "{:.0f}"),
    ("server CPU % (idle)", "{:.1f}"),
    ("collector CPU % (idle)", "{:.1f}"),
    ("events/day", "{:,.0f}"),
    ("store MB/day", "{:,.1f}"),
    ("restart: API answers s", "{:.2f}"),
    ("restart: OSD list full s", "{:.2f}"),
    ("server RSS MB (after restart)", "{:.0f}"),
)


def summary(runs: list[SizeRun]) -> str:
    sizes = [r.size for r in runs]
    rows = []
    for name, fmt in SUMMARY_ORDER:
        values = [r.figures.get(name) for r in runs]
        cells = []
        for run, value in zip(runs, values, strict=True):
            if value is None:
                cells.append("-")
                continue
            cell = fmt.format(value)
            budget = BUDGETS.get(name)
            if budget is not None:
                limit = budget.at(run.size)
                shown = f"{limit:,.0f}" if limit >= 1000 else f"{limit:.4g}"
                cell += f" (≤{shown} {'ok' if value <= limit else 'OVER'})"
            cells.append(cell)
        k = growth_exponent(sizes, values)
        rows.append([name, *cells, "-" if k is None else f"{k:.2f}"])
    return table(["figure", *[f"{s:,} OSDs" for s in sizes], "k"], rows)


def parse_route(text: str) -> tuple[str, str]:
    label, sep, path = text.partition("=")
    if not sep or not path.startswith("/"):
        raise argparse.ArgumentTypeError("a route is LABEL=/path (with {fsid} where the cluster id goes)")
    return label, path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="OSD counts, comma-separated (default 1000,10000,30000)")
    parser.add_argument("--quick", action="store_true", help="1,000 OSDs only")
    parser.add_argument("--requests", type=int, default=30, help="timed GETs per route and encoding")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of the idle window (CPU, store growth)")
    parser.add_argument("--churn", type=float, default=None,
                        help="the simulator's churn (default: the simulator's own default)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--route", type=parse_route, action="append", default=[],
                        help="another GET to time, LABEL=PATH ({fsid} is replaced); repeatable")
    parser.add_argument("--timeout", type=float, default=1800.0, help="longest wait for any phase, s")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="run the server under tracemalloc and print its top 15 allocation sites "
                             "(default size then 10,000; the other figures are then inflated)")
    parser.add_argument("--holders", action="store_true",
                        help="print what holds the server's memory (bench/heap_holders.py: deep sizes of the "
                             "model, views, time series, caches) after the idle window and after the reads; "
                             "without --tracemalloc the server is not slowed but for the walk itself")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and logs (printed)")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="where the data dirs go (default: the system's temporary directory); the "
                             "store's disk shows in the figures")
    args = parser.parse_args()
    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    elif args.quick:
        sizes = [1_000]
    elif args.tracemalloc:
        sizes = [10_000]
    else:
        sizes = list(DEFAULT_SIZES)
    if any(s < 10 for s in sizes):
        parser.error("sizes must be at least 10 OSDs (a host and a pool per 10)")
    print(f"bench_scale: sizes {', '.join(f'{s:,}' for s in sizes)}; {args.requests} requests per route; idle "
          f"window {args.idle:g} s; churn {'simulator default' if args.churn is None else args.churn}; "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
          + ("; server under tracemalloc" if args.tracemalloc else ""), flush=True)
    runs: list[SizeRun] = []
    tmp = Path(tempfile.mkdtemp(prefix="calamari-scale-", dir=args.data_root))
    try:
        for size in sizes:
            run = SizeRun(size, tmp / f"n{size}", args)
            run.say(f"calamari-collector --simulate {run.spec}")
            try:
                run.run()
            finally:
                if not args.keep:  # before the next size: removing many whisper files is slow disk work
                    started = time.monotonic()
                    shutil.rmtree(run.base, ignore_errors=True)
                    run.say(f"data dir removed in {time.monotonic() - started:.0f} s")
            runs.append(run)
            print(flush=True)
    finally:
        if args.keep:
            print(f"data dirs and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("Budgets (issue 14 / the design) are set at 10,000 OSDs; a larger size gets them scaled "
          "linearly. k: growth exponent between the smallest and largest size (figure ~ N**k).")
    print(summary(runs))
    if args.json:
        args.json.write_text(json.dumps([{**r.details, "figures": r.figures} for r in runs], indent=1))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
