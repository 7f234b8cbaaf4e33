"""Time travel and graphs in the console, in headless Chromium against a real server with a
simulated cluster: a deleted pool is there at a moment before its deletion and not live; the
changes between two moments name the user who deleted it; the timeline places the cursor; a
graph shows points of the time series and its range changes. Screenshots go to artifacts/."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, urlparse

import pytest
from browser_support import log_in, origin, screenshot

from calamari.testing.live import ApiClient, wait_for

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

DELETER, DELETER_PASSWORD = "pool-deleter", "quartz-lantern-meadow-71"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@pytest.fixture(scope="module")
def deleted_pool(console_server):
    """A pool created by the admin, then deleted by another (operator) user: its name, the moment
    it still existed and a moment after it was gone."""
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    name = f"travel-{int(time.time())}"
    api.wait_request(api.submit("POST", f"/cluster/{fsid}/pool", {"name": name, "pg_num": 8}))
    pool = wait_for(lambda: next((p for p in api.get(f"/cluster/{fsid}/pool") if p["name"] == name), None), 30,
                    "the new pool")
    time.sleep(1.1)  # a clear second between the pool existing and its deletion
    existed = now_iso()
    time.sleep(1.1)
    api.call("POST", "/user", {"username": DELETER, "password": DELETER_PASSWORD, "role": "operator"})
    deleter = ApiClient(api.base_url)
    deleter.login(DELETER, DELETER_PASSWORD)
    deleter.wait_request(deleter.submit("DELETE", f"/cluster/{fsid}/pool/{pool['id']}"))
    wait_for(lambda: all(p["name"] != name for p in api.get(f"/cluster/{fsid}/pool")), 30, "the pool to be gone")
    time.sleep(1.1)
    return {"fsid": fsid, "name": name, "existed": existed, "gone": now_iso()}


def test_a_deleted_pool_is_there_at_a_moment_before_and_not_live(page, console_server, deleted_pool):
    name = deleted_pool["name"]
    log_in(page, console_server, path=f"/history?at={quote(deleted_pool['existed'])}&view=pools")
    banner = page.get_by_test_id("past-banner")
    expect(banner).to_contain_text("You are looking at the past")
    expect(banner).to_contain_text("UTC")  # the moment in the user's zone and in UTC
    expect(page.locator(f"[data-testid='past-pools'] tr[data-pool='{name}']")).to_be_visible(timeout=15_000)
    screenshot(page, "time-travel-pools")
    # the other views of the same moment
    views = (("overview", "#past-health"), ("osds", "[data-testid='osd-grid']"), ("hosts", "[data-testid='past-hosts']"))
    for view, marker in views:
        page.get_by_role("navigation", name="Views of the moment").get_by_role("link", name=re.compile(f"^{view}", re.I)).click()
        expect(page.locator(marker)).to_be_visible(timeout=15_000)
        expect(banner).to_be_visible()
        screenshot(page, f"time-travel-{view}")
    # after the deletion, the past has no such pool either
    page.goto(origin(console_server) + f"/history?at={quote(deleted_pool['gone'])}&view=pools")
    expect(page.locator("[data-testid='past-pools'] tr[data-pool]").first).to_be_visible(timeout=15_000)
    expect(page.locator(f"tr[data-pool='{name}']")).to_have_count(0)
    # one action back to live: the pools page, where the pool is gone
    page.goto(origin(console_server) + f"/history?at={quote(deleted_pool['existed'])}&view=pools")
    expect(page.locator(f"tr[data-pool='{name}']")).to_be_visible(timeout=15_000)
    page.get_by_test_id("back-to-live").click()
    expect(page).to_have_url(re.compile(r"/pools$"))
    expect(page.locator("tr[data-pool]").first).to_be_visible(timeout=15_000)
    expect(page.locator(f"tr[data-pool='{name}']")).to_have_count(0)
    expect(page.get_by_test_id("past-banner")).to_have_count(0)
    assert page.page_errors == []


def test_the_changes_between_two_moments_name_who_deleted_the_pool(page, console_server, deleted_pool):
    name = deleted_pool["name"]
    log_in(page, console_server,
           path=f"/history?from={quote(deleted_pool['existed'])}&to={quote(deleted_pool['gone'])}")
    changes = page.get_by_test_id("changes")
    request = changes.locator("li[data-kind='request']", has_text=f"Deleting pool '{name}'")
    expect(request).to_contain_text(DELETER, timeout=15_000)
    expect(request).to_contain_text("succeeded")
    deleted = changes.locator("li[data-kind='pool']", has_text=f"pool '{name}' deleted")
    expect(deleted).to_be_visible()
    screenshot(page, "time-travel-changes")
    # the entry links to the pool as it was just before it went
    deleted.get_by_role("link").click()
    expect(page.locator(f"[data-testid='past-pools'] tr[data-pool='{name}']")).to_have_attribute("aria-current", "true",
                                                                                                  timeout=15_000)
    query = parse_qs(urlparse(page.url).query)
    assert query["view"] == ["pools"] and query["pool"] == [name] and "at" in query
    assert page.page_errors == []


def test_the_timeline_places_the_cursor_and_compares_two_moments(page, console_server, deleted_pool):
    log_in(page, console_server, path="/history")
    slider = page.get_by_role("slider")
    expect(slider).to_be_visible(timeout=15_000)
    box = slider.bounding_box()
    assert box is not None
    slider.click(position={"x": box["width"] * 0.5, "y": box["height"] / 2})
    expect(page.get_by_test_id("past-view")).to_be_visible(timeout=15_000)
    first = parse_qs(urlparse(page.url).query)["at"][0]
    screenshot(page, "time-travel-timeline")
    # the moment is in the address: a reload (or a shared link) shows the same moment
    page.reload()
    expect(page.get_by_test_id("past-banner")).to_contain_text("You are looking at the past", timeout=15_000)
    assert parse_qs(urlparse(page.url).query)["at"] == [first]
    page.get_by_role("slider").click(position={"x": box["width"] * 0.95, "y": box["height"] / 2}, modifiers=["Shift"])
    expect(page.get_by_test_id("changes")).to_be_visible(timeout=15_000)
    query = parse_qs(urlparse(page.url).query)
    assert query["from"] == [first] and query["to"][0] > first
    assert page.page_errors == []


def graph_points(page, graph: str) -> int:
    canvas = page.locator(f"[data-graph='{graph}'] .graph-canvas")
    return int(canvas.get_attribute("data-points") or 0)


def test_a_graph_shows_points_of_the_time_series_and_its_range_changes(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    # the simulated collector has sent some points by now
    wait_for(lambda: any(v is not None for v, _ in api.get(f"/cluster/{fsid}/stats?from=-10min")["series"]
                         .get("io.read_op_per_sec", [])), 60, "points of the cluster's time series")
    log_in(page, console_server)
    graph = page.locator("[data-graph='cluster-iops']")
    expect(graph.locator(".graph-canvas")).to_be_visible(timeout=20_000)
    wait_for(lambda: graph_points(page, "cluster-iops") > 0, 30, "points on the IOPS graph")
    assert graph.locator("canvas").count() >= 1
    before = (int(graph.get_attribute("data-from")), int(graph.get_attribute("data-until")))
    assert before[1] - before[0] == 3600
    # values on hover: the legend shows the value under the cursor (points are at the right end:
    # the server started minutes ago)
    graph.scroll_into_view_if_needed()
    box = graph.locator(".u-over").bounding_box()
    assert box is not None
    legend = graph.locator(".u-legend .u-value").nth(1)
    shown = []
    for step in range(1, 60):
        page.mouse.move(box["x"] + box["width"] * (1 - step / 200), box["y"] + box["height"] / 2)
        shown.append(legend.text_content())
        if re.search(r"\d", shown[-1] or ""):
            break
    assert re.search(r"\d+(\.\d)? ?k? op/s", shown[-1] or ""), shown
    page.locator("[data-range='6h']").first.click()
    expect(graph).to_have_attribute("data-from", re.compile(r"\d+"))
    wait_for(lambda: int(graph.get_attribute("data-until")) - int(graph.get_attribute("data-from")) == 6 * 3600, 10,
             "the 6 h range")
    wait_for(lambda: graph_points(page, "cluster-iops") > 0, 30, "points over 6 h")
    screenshot(page, "graphs-overview")
    # drag across the graph: the range becomes that span (custom), every graph follows
    canvas = graph.locator(".u-over")
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    expect(page.locator("[data-range='custom']").first).to_have_attribute("aria-pressed", "true")
    wait_for(lambda: int(graph.get_attribute("data-until")) - int(graph.get_attribute("data-from")) < 6 * 3600, 10,
             "the zoomed range")
    other = page.locator("[data-graph='cluster-throughput']")
    assert other.get_attribute("data-from") == graph.get_attribute("data-from")
    assert page.page_errors == []


def test_graphs_on_the_osd_pool_and_host_panels(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    # a host its collector reports (one known only from OSD metadata may be merged into it meanwhile)
    host = wait_for(lambda: next((s for s in api.get("/server") if s["managed"]), None), 30, "a managed host")
    fqdn, hostname = host["fqdn"], host["hostname"]
    log_in(page, console_server, path="/osds?osd=0")
    expect(page.locator("[data-graph='osd-0-latency'] .graph-canvas")).to_be_visible(timeout=20_000)
    screenshot(page, "graphs-osd")
    pool = api.get(f"/cluster/{fsid}/pool")[0]
    page.goto(origin(console_server) + f"/pools?graph={pool['id']}")
    expect(page.locator(f"[data-graph='pool-{pool['id']}-usage'] .graph-canvas")).to_be_visible(timeout=20_000)
    screenshot(page, "graphs-pool")
    page.goto(origin(console_server) + f"/hosts/{fqdn}")
    expect(page.locator(f"[data-graph='host-{hostname}-cpu'] .graph-canvas")).to_be_visible(timeout=20_000)
    wait_for(lambda: graph_points(page, f"host-{hostname}-cpu") > 0, 30, "points on the host's CPU graph")
    screenshot(page, "graphs-host")
    assert page.page_errors == []


def test_the_time_travel_moment_shows_on_its_graphs(page, console_server, deleted_pool):
    log_in(page, console_server, path=f"/history?at={quote(deleted_pool['existed'])}&view=overview")
    graph = page.locator("[data-graph='cluster-iops']")
    expect(graph.locator(".graph-canvas")).to_be_visible(timeout=20_000)
    at = datetime.fromisoformat(deleted_pool["existed"]).timestamp()
    # the graph spans the moment (three hours either side, up to now)
    assert int(graph.get_attribute("data-from")) < at < int(graph.get_attribute("data-until"))
    expect(graph.locator(".graph-canvas")).to_have_attribute("data-cursor", str(math.floor(at * 1000)))
    screenshot(page, "time-travel-graphs")
    assert page.page_errors == []


def test_the_graph_explorer_says_when_no_series_matches_its_targets(page, console_server):
    log_in(page, console_server, path="/graphs?target=" + quote("no.such.metric.*"))
    graph = page.locator("[data-graph='explorer']")
    empty = graph.locator("[data-empty='true']")
    expect(empty).to_be_visible(timeout=20_000)
    assert page.page_errors == []  # a chart of no series threw in uPlot
    expect(empty).to_contain_text("No series matches")
    assert graph.locator(".graph-canvas").count() == 0  # no axes drawn over nothing
