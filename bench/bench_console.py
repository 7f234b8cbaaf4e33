"""The web console in headless Chromium against real `calamari-server --simulate` processes. Prints,
never asserts:

- the first load's bytes over the wire (gzip) and the time to the overview drawn, 30 OSDs
  (budgets: <= 300 KB, <= 1 s);
- the workbench at 10,000 OSDs: painted after navigation (<= 1.5 s), one OSD's change on screen
  after the API took it (<= 1 s), the longest frame while scrolling and filtering (<= 100 ms);
- the API's median latency with 0 and with 100 streams open (/api/v2/stream; bench/bench_stream.py
  measures it with events flowing to every stream, p99 too).

Needs /usr/bin/chromium, the playwright package and a built console (make venv).
`python bench/bench_console.py [--osds 10000] [--skip-large]`"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calamari.testing.live import CalamariServer, wait_for  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def start(base: Path, spec: str) -> tuple[CalamariServer, object]:
    server = CalamariServer(base / "data", extra=["--simulate", spec])
    api = server.start(timeout=300)
    wait_for(lambda: api.get("/cluster"), 300, "the simulated cluster")
    fsid = api.get("/cluster")[0]["id"]
    wait_for(lambda: api.get(f"/cluster/{fsid}/osd"), 300, "the OSD map")
    return server, api


def log_in(page, origin: str) -> None:
    page.goto(origin + "/")
    page.get_by_label("User name").fill(CalamariServer.USER)
    page.get_by_label("Password").fill(CalamariServer.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").wait_for()


def first_load(context, origin: str) -> None:
    page = context.new_page()
    log_in(page, origin)
    page.close()
    # a fresh cache (the session cookie stays): what a new visit costs
    page = context.new_page()
    client = page.context.new_cdp_session(page)
    client.send("Network.enable")
    client.send("Network.clearBrowserCache")
    sizes: dict[str, int] = {}
    def finished(request) -> None:
        try:
            size = request.sizes()
        except Exception:  # the page closed meanwhile
            return
        sizes[request.url] = size["responseBodySize"] + size["responseHeadersSize"]

    page.on("requestfinished", finished)
    started = time.perf_counter()
    page.goto(origin + "/")
    page.locator("#health .badge").first.wait_for()
    page.locator("#capacity table").wait_for()
    drawn = time.perf_counter() - started
    page.wait_for_timeout(1500)
    console = sum(v for u, v in sizes.items() if "/api/" not in u)
    api = sum(v for u, v in sizes.items() if "/api/" in u and "/stream" not in u)
    page.remove_listener("requestfinished", finished)
    print(f"first load: console files {console / 1024:.1f} KB over the wire (gzip), API answers {api / 1024:.1f} KB "
          f"(budget: 300 KB); overview drawn in {drawn * 1000:.0f} ms (budget 1000 ms)")
    page.close()


def api_latency_with_streams(server: CalamariServer, api, streams: int) -> None:
    fsid = api.get("/cluster")[0]["id"]

    def median(n: int = 60) -> float:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            api.get(f"/cluster/{fsid}")
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    before = median()
    sockets = []
    accepted = refused = 0
    for _ in range(streams):
        s = socket.create_connection(("127.0.0.1", server.api_port), timeout=10)
        s.sendall(f"GET /api/v2/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
                  "Accept: text/event-stream\r\n\r\n".encode())
        sockets.append(s)
    kept = []
    for s in sockets:
        try:
            head = s.recv(200).decode(errors="replace")
        except OSError:
            head = ""
        if " 200 " in head.split("\r\n", 1)[0]:
            accepted += 1
            kept.append(s)
        else:
            refused += " 503 " in head.split("\r\n", 1)[0]
            s.close()  # as a client does after a 503: it polls and asks again later
    sockets = kept
    during = median()
    for s in sockets:
        s.close()
    print(f"API median GET /cluster/<fsid>: {before:.2f} ms with 0 streams, {during:.2f} ms with {streams} streams "
          f"asked for ({accepted} open, {refused} refused with 503; bench_stream.py measures with events flowing)")


def wait_shown(page, count: int, timeout: float) -> None:
    """Until the grid shows `count` OSDs (polled from here: the page's CSP allows no eval)."""
    deadline = time.perf_counter() + timeout
    grid = page.get_by_test_id("osd-grid")
    while grid.get_attribute("data-shown") != str(count):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the grid did not show {count} OSDs")
        page.wait_for_timeout(10)


def workbench(context, origin: str, api, osds: int) -> None:
    fsid = api.get("/cluster")[0]["id"]
    page = context.new_page()
    log_in(page, origin)
    page.wait_for_timeout(1000)
    started = time.perf_counter()
    page.get_by_role("link", name="OSDs").click()
    grid = page.get_by_test_id("osd-grid")
    grid.wait_for()
    wait_shown(page, osds, 60)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    painted = time.perf_counter() - started
    print(f"workbench, {osds} OSDs: painted {painted * 1000:.0f} ms after navigation (budget 1500 ms)")

    # one OSD's change: the API takes it, the simulator applies it, the console shows it
    page.get_by_label("State").select_option("out")
    shown = int(grid.get_attribute("data-shown") or 0)
    page.wait_for_selector("[data-live='live']", timeout=30_000)
    target = next(o for o in api.get(f"/cluster/{fsid}/osd") if o["in"])
    request_id = api.submit("PATCH", f"/cluster/{fsid}/osd/{target['id']}", {"in": False})
    sent = time.perf_counter()
    api.wait_request(request_id, timeout=60)
    completed = time.perf_counter()
    wait_shown(page, shown + 1, 30)
    on_screen = time.perf_counter()
    print(f"one OSD marked out: on screen {(on_screen - completed) * 1000:.0f} ms after the API showed it "
          f"({(on_screen - sent) * 1000:.0f} ms after the request was sent; budget 1000 ms from the collector)")

    # frames while scrolling and filtering
    page.get_by_label("State").select_option("")
    page.evaluate("""() => { window.__frames = []; let last = performance.now();
        const tick = (t) => { window.__frames.push(t - last); last = t;
                              if (window.__frames.length < 100000) requestAnimationFrame(tick); };
        requestAnimationFrame(tick); }""")
    view = page.get_by_test_id("osd-grid")
    for step in range(40):
        view.evaluate(f"(el) => {{ el.scrollTop = {step} * el.scrollHeight / 40; }}")
        page.wait_for_timeout(16)
    for text in ("n", "no", "nod", "node", "node0", "node00", "node001", "osd.5", ""):
        page.get_by_label("Search").fill(text)
        page.wait_for_timeout(60)
    page.wait_for_timeout(300)
    frames = page.evaluate("window.__frames.slice(2)")
    print(f"scrolling and filtering {osds} OSDs: {len(frames)} frames, longest {max(frames):.0f} ms, "
          f"{sum(f > 100 for f in frames)} over 100 ms (budget: none over 100 ms)")
    page.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--osds", type=int, default=10_000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("bench_console: the playwright package is missing (pip install -e '.[test]'); skipped")
        return 0
    if not Path("/usr/bin/chromium").exists():
        print("bench_console: no /usr/bin/chromium (apt-get install chromium); skipped")
        return 0
    base = Path(tempfile.mkdtemp(prefix="bench-console-"))
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(str(base / "profile"), executable_path="/usr/bin/chromium",
                                                        headless=True, args=CHROMIUM_ARGS,
                                                        viewport={"width": 1440, "height": 900})
        server, api = start(base / "small", "hosts=5,osds=30,pools=4,pgs=1024,seed=7,churn=0.01")
        try:
            origin = f"http://127.0.0.1:{server.api_port}"
            first_load(context, origin)
            api_latency_with_streams(server, api, 100)
        finally:
            server.stop()
        if not args.skip_large:
            hosts = max(1, args.osds // 10)
            server, api = start(base / "large", f"hosts={hosts},osds={args.osds},pools=20,pgs=65536,seed=7,churn=0")
            try:
                workbench(context, f"http://127.0.0.1:{server.api_port}", api, args.osds)
            finally:
                server.stop()
        context.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
