"""Benchmark: time travel and graphs in the console, in headless Chromium against a real
`calamari-server`. Prints, never asserts:

- at 10,000 OSDs with 1,000,000 stored events (the store of bench/bench_history.py, built once
  into --dir and reused): the history timeline answered; a cursor placed on the timeline → the
  past OSD workbench drawn (budget 1.5 s); a diff over 1 hour shown (budget 1.5 s);
- a 7-day graph of 100 series (whisper files written here, 5-minute points) drawn after navigation
  (budget 1 s).

Needs /usr/bin/chromium, the playwright package and a built console (make venv).
`python bench/bench_time_travel.py [--osds 10000] [--events 1000000] [--dir DIR] [--runs 5]`"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_console import CHROMIUM_ARGS, log_in  # noqa: E402
from bench_history import build, is_current  # noqa: E402

from calamari.adapters.timeseries import TimeSeriesWriter, WhisperStore  # noqa: E402
from calamari.testing.live import CalamariServer, wait_for  # noqa: E402

SERIES = 100
WEEK = 7 * 86400
STEP = 300  # the 5-minute archive is the one a 7-day read uses


def write_week_of_series(data_dir: Path, fsid: str) -> None:
    """SERIES OSD latency series with a point every STEP seconds over the last 7 days."""
    store = WhisperStore(str(data_dir / "whisper"))
    writer = TimeSeriesWriter(store)
    now = int(time.time())
    for osd in range(SERIES):
        points = [[f"ceph.cluster.{fsid}.osd.{osd}.apply_latency_ms", ts, 5 + (osd % 10) + ((ts // STEP) % 17) * 0.5]
                  for ts in range(now - WEEK, now, STEP)]
        writer.write_batch([(fsid, "bench", points)])


def navigate_in_page(page, path: str) -> None:
    """The console's own navigation (no reload): what a click on a link does."""
    page.evaluate("(to) => { window.history.pushState(null, '', to); window.dispatchEvent(new PopStateEvent('popstate')); }",
                  path)


def fetch_ms(page, part: str) -> float:
    """How long the page's newest request whose URL holds `part` took, from sending it to its
    answer's last byte (the server's work and the transfer; the rest is the console's)."""
    return fetched(page, part)["duration"]


def fetched(page, part: str) -> dict:
    """The page's newest request whose URL holds `part`: its duration (ms) and bytes over the wire
    and decoded (NaN and 0 when there was none)."""
    return page.evaluate("""(part) => {
        const found = performance.getEntriesByType('resource').filter((e) => e.name.includes(part));
        const e = found[found.length - 1];
        return e ? {duration: e.duration, wire: e.transferSize, body: e.decodedBodySize}
                 : {duration: NaN, wire: 0, body: 0}; }""", part)


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system, all threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, limit: float = 300) -> float:
    """Wait until the process uses under a tenth of a core for a second (at most `limit` seconds);
    returns how long that took."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        before = cpu_seconds(pid)
        time.sleep(1)
        if cpu_seconds(pid) - before < 0.1:
            break
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def next_frame(page) -> None:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def cursor_to_workbench(page, origin: str, osds: int, runs: int, timeline: dict, start: datetime,
                        span: timedelta, server_pid: int) -> list[float]:
    """Click the timeline at moments spread over the flaps, with the OSD view open; time to the past
    grid drawn. (The timeline runs from the first to the newest event: the admin user added for
    this run is newer than the flaps, so the clicks are placed by time.)"""
    page.goto(origin + "/history?view=osds")
    slider = page.get_by_role("slider")
    slider.wait_for(timeout=120_000)
    box = slider.bounding_box()
    first, last = (datetime.fromisoformat(timeline[k]).timestamp() for k in ("from", "to"))
    figures = []
    for run in range(runs):
        moment = (start + span * (0.1 + 0.8 * run / max(1, runs - 1))).timestamp()
        before = page.get_by_test_id("past-view").get_attribute("data-position") if run else None
        cpu_before = cpu_seconds(server_pid)
        started = time.perf_counter()
        slider.click(position={"x": box["width"] * (moment - first) / (last - first), "y": box["height"] / 2})
        wait_for(lambda before=before: (page.get_by_test_id("past-view").count() == 1
                                        and page.get_by_test_id("past-view").get_attribute("data-position") != before
                                        and page.get_by_test_id("osd-grid").get_attribute("data-shown") == str(osds)),
                 60, "the past workbench", interval=0.01)
        next_frame(page)
        figures.append(time.perf_counter() - started)
        server_cpu = cpu_seconds(server_pid) - cpu_before
        position = page.get_by_test_id("past-view").get_attribute("data-position")
        answer = fetched(page, "history?at=")
        print(f"  cursor placed → workbench drawn: {figures[-1] * 1000:6.0f} ms (event {int(position):,}; "
              f"the history?at= request {answer['duration']:.0f} ms of it, the console's part "
              f"{figures[-1] * 1000 - answer['duration']:.0f} ms; server CPU {server_cpu * 1000:.0f} ms; "
              f"answer {answer['wire'] / 1e3:,.0f} KB over the wire, {answer['body'] / 1e6:.1f} MB of JSON; "
              f"load average {os.getloadavg()[0]:.1f})")
    return figures


def diff_over_an_hour(page, start: datetime, span: timedelta, runs: int, after_travel: bool) -> list[float]:
    """A diff over one hour at spread-out places: cold (the address opened), or as the console is
    used, right after travelling to its start (the server moves that moment's model on)."""
    figures = []
    for run in range(runs):
        first = start + span * (0.1 + 0.8 * run / max(1, runs - 1)) + timedelta(minutes=7 * after_travel)
        last = first + timedelta(hours=1)
        if after_travel:
            navigate_in_page(page, f"/history?at={quote(first.isoformat())}&view=overview")
            page.locator("#past-health").wait_for(timeout=60_000)
        started = time.perf_counter()
        navigate_in_page(page, f"/history?from={quote(first.isoformat())}&to={quote(last.isoformat())}")
        page.locator("[data-testid='changes'] li").first.wait_for(timeout=60_000)
        next_frame(page)
        figures.append(time.perf_counter() - started)
        entries = page.locator("[data-testid='changes'] li").count()
        how = "after travelling to its start" if after_travel else "cold"
        print(f"  diff over 1 h from {first:%Y-%m-%d %H:%M}, {how}: {figures[-1] * 1000:6.0f} ms "
              f"({entries:,} entries drawn; the history?from= request {fetch_ms(page, 'history?from='):.0f} ms of it)")
        navigate_in_page(page, "/history")
        page.get_by_role("slider").wait_for()
    return figures


def week_graph(page, fsid: str, runs: int) -> list[float]:
    target = f"aliasByNode(ceph.cluster.{fsid}.osd.*.apply_latency_ms,4)"
    figures = []
    for _ in range(runs):
        navigate_in_page(page, "/account")
        page.locator("main h1").first.wait_for()
        started = time.perf_counter()
        navigate_in_page(page, f"/graphs?target={quote(target)}&range=7d")
        canvas = page.locator("[data-graph='explorer'] .graph-canvas[data-drawn]")
        canvas.wait_for(timeout=60_000)
        figures.append(time.perf_counter() - started)
        points = int(canvas.get_attribute("data-points") or 0)
        series = page.locator("[data-graph='explorer'] .u-legend .u-series").count() - 1
        print(f"  7-day graph, {series} series, {points:,} points: drawn {figures[-1] * 1000:6.0f} ms after navigation "
              f"(the render request {fetch_ms(page, 'graphite/render'):.0f} ms of it)")
    return figures


def summary(name: str, figures: list[float], budget_ms: int) -> None:
    print(f"{name}: median {statistics.median(figures) * 1000:.0f} ms, max {max(figures) * 1000:.0f} ms "
          f"(budget {budget_ms} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--osds", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/calamari-bench-time-travel", help="the store, built once and kept")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-settle", dest="settle", action="store_false",
                        help="click at once, while the server's start-up work may still run")
    args = parser.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("bench_time_travel: the playwright package is missing (pip install -e '.[test]'); skipped")
        return 0
    if not Path("/usr/bin/chromium").exists():
        print("bench_time_travel: no /usr/bin/chromium (apt-get install chromium); skipped")
        return 0

    store_dir = Path(args.dir) / "data"
    meta_path = store_dir / "bench.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if not is_current(meta, args.osds, args.events):
        print(f"building {args.osds:,} OSDs, {args.events:,} events in {store_dir} (once) ...")
        build(str(store_dir), args.osds, args.events)
        meta = json.loads(meta_path.read_text())
    fsid = meta["fsid"]
    start, end = datetime.fromisoformat(meta["start"]), datetime.fromisoformat(meta["end"])

    # the server writes into its data dir (users, snapshots): a copy keeps the built store as it is
    base = Path(tempfile.mkdtemp(prefix="bench-time-travel-"))
    data_dir = base / "data"
    shutil.copytree(store_dir, data_dir)
    os.chmod(data_dir, 0o700)
    write_week_of_series(data_dir, fsid)
    server = CalamariServer(data_dir)
    try:
        started = time.perf_counter()
        api = server.start(timeout=600)
        wait_for(lambda: api.get("/cluster"), 600, "the stored cluster")
        print(f"server up on the stored history in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        timeline = api.get(f"/cluster/{fsid}/history/timeline?buckets=120")
        print(f"timeline of {sum(b['count'] for b in timeline['buckets']):,} events in 120 buckets: "
              f"{(time.perf_counter() - started) * 1000:.0f} ms (API)")
        origin = f"http://127.0.0.1:{server.api_port}"
        # Start-up work (the event feed and the alerts each read the newest 200,000 stored events:
        # several seconds of CPU here) would compete with the first clicks: time travel is timed
        # once the server is idle, and how long that took is said (--no-settle: at once).
        if args.settle:
            waited = settle(server.process.pid)
            print(f"server idle (under 10% of a core for a second) {waited:.0f} s after it answered")
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(str(base / "profile"), executable_path="/usr/bin/chromium",
                                                            headless=True, args=CHROMIUM_ARGS,
                                                            viewport={"width": 1440, "height": 900})
            page = context.new_page()
            log_in(page, origin)
            print(f"time travel, {args.osds:,} OSDs, {args.events:,} stored events:")
            workbench = cursor_to_workbench(page, origin, args.osds, args.runs, timeline, start, end - start,
                                            server.process.pid)
            print(f"server RSS after travelling: {rss_mb(server.process.pid):.0f} MB (budget 400 MB at 10,000 OSDs)")
            diffs = diff_over_an_hour(page, start, end - start - timedelta(hours=2), args.runs, False)
            warm = diff_over_an_hour(page, start, end - start - timedelta(hours=2), args.runs, True)
            print(f"graphs ({SERIES} series, 7 days at {STEP // 60}-minute points):")
            graphs = week_graph(page, fsid, args.runs)
            context.close()
        print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        summary("cursor placed → workbench drawn", workbench, 1500)
        summary("diff over 1 hour shown, cold", diffs, 1500)
        summary("diff over 1 hour shown, after travelling to its start", warm, 1500)
        summary(f"7-day graph of {SERIES} series drawn", graphs, 1000)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
