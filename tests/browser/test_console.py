"""The web console in headless Chromium against a real calamari-server with a simulated cluster."""

from __future__ import annotations

import re
import shutil

from browser_support import (
    OTHER_SIMULATION,
    REPO,
    UPDATE_SCREENSHOTS,
    VIEWER,
    VIEWER_PASSWORD,
    add_user,
    expect,
    log_in,
    origin,
    screenshot,
    simulated_collector,
)

from calamari.testing.live import wait_for

HEALTH_WORD = {"HEALTH_OK": "OK", "HEALTH_WARN": "Warning", "HEALTH_ERR": "Error"}


def test_login_then_the_overview_shows_the_simulated_health(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    page.goto(origin(console_server) + "/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    screenshot(page, "login")
    # a wrong password is told on the form
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    log_in(page, console_server)
    health = page.locator("#health")
    checks = api.get(f"/cluster/{fsid}/sync_object/health")["checks"]
    status = api.get(f"/cluster/{fsid}")["health"]["status"]
    expect(health.locator(".health-head .badge")).to_contain_text(HEALTH_WORD[status])
    for code in checks:
        expect(health.locator(f"[data-check='{code}']")).to_be_visible()
    counters = api.get(f"/cluster/{fsid}")["counters"]["osd"]
    expect(page.locator("#osd-counts")).to_contain_text(str(counters["total"]))
    expect(page.locator("#mons")).to_contain_text("in quorum")
    screenshot(page, "overview")
    assert page.page_errors == []


def test_a_read_only_user_is_offered_no_change(page, console_server):
    log_in(page, console_server, VIEWER, VIEWER_PASSWORD)
    expect(page.locator(".who")).to_contain_text("read-only")
    assert re.search(r"\bviewer\b", page.locator(".who").inner_text())
    assert page.page_errors == []


def test_the_osd_workbench_filters(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    osds = api.get(f"/cluster/{fsid}/osd")
    log_in(page, console_server, path="/osds")
    grid = page.get_by_test_id("osd-grid")
    expect(grid).to_have_attribute("data-shown", str(len(osds)))
    host = sorted({o["crush_host"] for o in osds})[1]
    page.get_by_label("Host").select_option(host)
    expect(grid).to_have_attribute("data-shown", str(sum(o["crush_host"] == host for o in osds)))
    assert f"host={host}" in page.url  # the filter is in the address: a reload or a link keeps it
    one = next(o for o in osds if o["crush_host"] == host)
    page.get_by_label("Search").fill(f"osd.{one['id']}")
    expect(grid).to_have_attribute("data-shown", "1")
    page.get_by_role("button", name="Clear filters").click()
    expect(grid).to_have_attribute("data-shown", str(len(osds)))
    pool = api.get(f"/cluster/{fsid}/pool")[0]
    page.get_by_label("Pool").select_option(pool["name"])
    expect(grid).to_have_attribute("data-shown", str(sum(pool["id"] in o["pools"] for o in osds)))
    # keyboard: focus the grid, move, open the detail with Enter
    page.get_by_role("button", name="Clear filters").click()
    grid.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page.locator(".detail")).to_be_visible()
    screenshot(page, "osds")
    assert page.page_errors == []


def test_mark_an_osd_out_and_watch_the_request_complete(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    target = next(o for o in api.get(f"/cluster/{fsid}/osd") if o["in"] and o["up"])
    log_in(page, console_server, path=f"/osds?osd={target['id']}")
    detail = page.locator(".detail")
    expect(detail).to_contain_text(f"osd.{target['id']}")
    detail.get_by_role("button", name="Mark out").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"osd.{target['id']}")
    dialog.get_by_role("button", name="Mark out").click()
    item = page.locator(".tray-item").first
    expect(item).to_contain_text(f"osd.{target['id']}")
    expect(item).to_have_attribute("data-state", "complete", timeout=30_000)
    expect(detail.locator(".badge")).to_contain_text("out", timeout=15_000)
    assert api.get(f"/cluster/{fsid}/osd/{target['id']}")["in"] is False
    screenshot(page, "osd-marked-out")
    assert page.page_errors == []


def test_create_a_pool_bad_name_first(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    log_in(page, console_server, path="/pools")
    page.get_by_role("button", name="Create pool").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("bad name!")
    dialog.get_by_label("Placement groups (pg_num)").fill("16")
    dialog.get_by_role("button", name="Create pool").click()
    error = dialog.locator("[data-field='name']")
    expect(error).to_contain_text("letters")  # the API's 400 reason, next to its field
    expect(dialog.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "pool-bad-name")
    dialog.get_by_label("Name").fill("console-pool")
    dialog.get_by_role("button", name="Create pool").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    item = page.locator(".tray-item", has_text="console-pool")
    expect(item).to_have_attribute("data-state", "complete", timeout=30_000)
    expect(page.locator("tr[data-pool='console-pool']")).to_be_visible(timeout=15_000)
    assert any(p["name"] == "console-pool" for p in api.get(f"/cluster/{fsid}/pool"))
    screenshot(page, "pools")
    assert page.page_errors == []


def test_a_read_only_user_sees_no_change_controls(page, console_server):
    log_in(page, console_server, VIEWER, VIEWER_PASSWORD, path="/pools")
    expect(page.locator("tr[data-pool]").first).to_be_visible()
    expect(page.get_by_role("button", name="Create pool")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^(Edit|Delete) pool"))).to_have_count(0)
    page.goto(origin(console_server) + "/osds?osd=0")
    expect(page.locator(".detail")).to_be_visible()
    for name in ("Mark out", "Mark in", "Reweight…", "Scrub", "Deep scrub", "Repair"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    page.goto(origin(console_server) + "/requests")
    expect(page.get_by_role("table", name="Requests")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    assert page.page_errors == []


def watching_out_osds(page, api, fsid):
    """The OSD grid of a page at /osds?state=out, once it shows the cluster's out OSDs and the
    stream is live; the page is marked, so that a reload would show (an_osd_marked_out_appears)."""
    grid = page.get_by_test_id("osd-grid")
    expect(grid).to_have_attribute("data-shown", str(sum(not o["in"] for o in api.get(f"/cluster/{fsid}/osd"))))
    expect(page.locator("[data-live='live']")).to_be_visible(timeout=15_000)
    page.evaluate("window.__notReloaded = true")
    return grid


def an_osd_marked_out_appears(page, api, fsid, grid):
    """An OSD marked out through the API appears in the grid of out OSDs, without a reload of the
    page watching_out_osds marked and without a page error."""
    outs = sum(not o["in"] for o in api.get(f"/cluster/{fsid}/osd"))
    expect(grid).to_have_attribute("data-shown", str(outs), timeout=15_000)
    target = next(o for o in api.get(f"/cluster/{fsid}/osd") if o["in"])
    api.wait_request(api.submit("PATCH", f"/cluster/{fsid}/osd/{target['id']}", {"in": False}))
    expect(grid).to_have_attribute("data-shown", str(outs + 1), timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    assert page.page_errors == []


def test_a_change_by_the_simulator_appears_without_reloading(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    log_in(page, console_server, VIEWER, VIEWER_PASSWORD, path="/osds?state=out")
    grid = watching_out_osds(page, api, fsid)
    an_osd_marked_out_appears(page, api, fsid, grid)


def test_every_page_renders_and_the_readme_screenshot(page, console_server):
    api = console_server.api
    fqdn = api.get("/server")[0]["fqdn"]
    log_in(page, console_server)
    pages = {"overview": "/", "osds-all": "/osds", "pools-list": "/pools", "hosts": "/hosts", "host": f"/hosts/{fqdn}",
             "requests": "/requests", "alerts": "/alerts", "events": "/events", "account": "/account",
             "unknown": "/no-such-page"}
    for name, path in pages.items():
        page.goto(origin(console_server) + path)
        expect(page.locator("main h1").first).to_be_visible()
        expect(page.locator(".loading")).to_have_count(0, timeout=15_000)  # everything it shows has arrived
        screenshot(page, name)
    page.goto(origin(console_server) + "/")
    expect(page.locator("#health .badge").first).to_be_visible()
    expect(page.locator("[data-live='live']")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(500)
    shot = screenshot(page, "readme")
    if UPDATE_SCREENSHOTS:  # docs/console.png changes only when asked to (docs/console.md)
        shutil.copyfile(shot, REPO / "docs" / "console.png")
    assert page.page_errors == []


# What the keyboard must reach on each page (accessible names), beside the navigation.
FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  let name = el.getAttribute("aria-label") || "";
  const label = el.labels && el.labels[0];
  if (!name && label) {
    const copy = label.cloneNode(true);
    copy.querySelectorAll("select, input, textarea").forEach((c) => c.remove());
    name = copy.textContent.trim();
  }
  if (!name) name = el.textContent.trim().slice(0, 80);
  const style = getComputedStyle(el);
  return {name, tag: el.tagName.toLowerCase(), outline: style.outlineStyle, width: parseFloat(style.outlineWidth) || 0};
}"""
NAVIGATION = {"Skip to content", "Overview", "OSDs", "Pools", "Hosts", "Requests", "Alerts", "Events", "Account",
              "Log out"}


def tab_through(page, wanted: set[str], presses: int = 80) -> list[dict]:
    """Press Tab until every name in `wanted` had the focus (or `presses` ran out); what was focused."""
    focused = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        info = page.evaluate(FOCUS_JS)
        if info is None:
            continue
        focused.append(info)
        names = {f["name"] for f in focused}
        if all(any(n == w or n.startswith(w) for n in names) for w in wanted):
            break
    return focused


def test_tab_reaches_the_controls_of_every_page_with_a_visible_focus_ring(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    osds = api.get(f"/cluster/{fsid}/osd")
    pool = api.get(f"/cluster/{fsid}/pool")[0]["name"]
    host = sorted({o["crush_host"] for o in osds})[0]
    hostname = api.get("/server")[0]["hostname"]
    log_in(page, console_server)
    pages = {
        "/": {"Workbench →", "All events →", "All requests →"},
        f"/osds?host={host}": {"Search", "Host", "Pool", "State", "Clear filters", "OSD grid"},
        "/pools": {"Filter pools by name", "Create pool", f"Edit pool {pool}", f"Delete pool {pool}"},
        "/hosts": {hostname},
        "/requests": {"State"},
        "/alerts": {"State"},
        "/events": {"Severity", "Type", "Object", "All clusters, servers and users"},
        "/account": {"Current password", "New password", "New password again", "Change password", "End session"},
    }
    for path, controls in pages.items():
        page.goto(origin(console_server) + path)
        expect(page.locator("main h1").first).to_be_visible()
        expect(page.locator(".loading")).to_have_count(0, timeout=15_000)
        wanted = NAVIGATION | controls
        focused = tab_through(page, wanted)
        names = {f["name"] for f in focused}
        missing = [w for w in wanted if not any(n == w or n.startswith(w) for n in names)]
        assert not missing, f"{path}: Tab never reached {missing}; it reached {sorted(names)}"
        unringed = [f for f in focused if f["outline"] == "none" or f["width"] < 2]
        assert not unringed, f"{path}: focused without a visible outline: {unringed}"
    assert page.page_errors == []


def test_the_own_password_change_needs_the_current_password(page, console_server):
    user, old, new = "changer", "changer-old-secret", "changer-new-secret-2"
    add_user(console_server, user, old, "read-only")
    log_in(page, console_server, user, old, path="/account")
    form = page.get_by_role("form", name="Change your password")
    form.get_by_label("Current password").fill("not-my-password")
    form.get_by_label("New password", exact=True).fill(new)
    form.get_by_label("New password again").fill(new)
    form.get_by_role("button", name="Change password").click()
    # the API's 400, at its field
    expect(form.locator("[data-field='current_password']")).to_contain_text("wrong")
    expect(form.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "password-wrong-current")
    form.get_by_label("Current password").fill(old)
    form.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()  # every session ended
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(new)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert page.page_errors == []


def choose_cluster(page, fsid: str) -> None:
    switch = page.get_by_label("Cluster", exact=True)
    switch.select_option(fsid)
    expect(switch).to_have_value(fsid)


def osd_total(page):
    return page.locator("#osd-counts .stat").filter(has=page.locator(".stat-label", has_text="total")).locator(".stat-value")


def test_the_cluster_switcher_and_the_stale_banner(page, two_clusters):
    a, b = two_clusters.fsids["a"], two_clusters.fsids["b"]
    log_in(page, two_clusters)
    switch = page.get_by_label("Cluster", exact=True)
    expect(switch.locator("option")).to_have_count(2)
    choose_cluster(page, a)
    expect(osd_total(page)).to_have_text("30")
    choose_cluster(page, b)
    expect(osd_total(page)).to_have_text("6")  # the overview follows the choice
    expect(page.get_by_test_id("stale-banner")).to_have_count(0)
    screenshot(page, "cluster-switcher")
    # b's collector goes silent: after the contact timeout b is stale, with its last contact
    two_clusters.collectors["b"].stop()
    banner = page.get_by_test_id("stale-banner")
    expect(banner).to_be_visible(timeout=30_000)
    last_contact = two_clusters.api.get(f"/cluster/{b}")["last_contact"]
    assert last_contact
    expect(banner).to_contain_text("is not reporting")
    expect(banner).to_contain_text("Last contact:")
    expect(banner).not_to_contain_text("none since")
    screenshot(page, "stale-banner")
    choose_cluster(page, a)  # a still reports
    expect(osd_total(page)).to_have_text("30")
    expect(page.get_by_test_id("stale-banner")).to_have_count(0)
    # b reports again: its banner goes
    two_clusters.collectors["b"] = simulated_collector(two_clusters, OTHER_SIMULATION,
                                                       two_clusters.data_dir / "collector-b-again.log")
    choose_cluster(page, b)
    expect(page.get_by_test_id("stale-banner")).to_have_count(0, timeout=30_000)
    assert page.page_errors == []


def test_the_stream_resumes_after_the_server_restarts(page, two_clusters):
    """The server is killed and started again on the same ports and data dir; the collector (its
    own process) reports on. The console shows the outage, reconnects, and a change made after
    the restart appears without a reload."""
    fsid = two_clusters.fsids["a"]
    log_in(page, two_clusters, path="/osds?state=out")
    choose_cluster(page, fsid)
    grid = watching_out_osds(page, two_clusters.api, fsid)
    two_clusters.process.kill9()
    two_clusters.process.stop()  # closes its log
    expect(page.get_by_test_id("connection-banner")).to_be_visible(timeout=15_000)
    screenshot(page, "connection-lost")
    api = two_clusters.start()
    two_clusters.api = api
    expect(page.locator("[data-live='live']")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("connection-banner")).to_have_count(0)
    wait_for(lambda: api.get(f"/cluster/{fsid}/osd"), 60, "the restored OSDs")
    an_osd_marked_out_appears(page, api, fsid, grid)


def test_alerts_acknowledged_silenced_with_what_changed_before(page, console_server):
    api = console_server.api
    status, _ = api.call("POST", "/alert-rule", {
        "name": "console_test", "kind": "threshold", "severity": "warning", "summary": "Console test alert",
        "params": {"subject": "cluster", "field": "health_checks", "op": ">=", "value": 0}})
    assert status == 201
    [alert] = wait_for(lambda: api.get("/alert?state=firing&severity=warning&object=cluster")
                       and [a for a in api.get("/alert?state=firing") if a["rule"] == "console_test"], 30,
                       "the alert")
    log_in(page, console_server, path="/alerts")
    row = page.locator(f"[data-alert='{alert['id']}']")
    expect(row).to_contain_text("Console test alert")
    row.get_by_role("button", name="What changed before").click()
    expect(page.locator(".row-detail")).to_be_visible()
    row.get_by_role("button", name="Acknowledge").click()
    expect(row).to_contain_text("acknowledged by admin", timeout=15_000)
    row.get_by_role("button", name="Silence").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Silence").click()
    expect(dialog).to_contain_text("Say why")  # the comment is required
    dialog.get_by_label("Why").fill("console test")
    dialog.get_by_role("button", name="Silence").click()
    expect(row).to_contain_text("silenced", timeout=15_000)
    assert api.get(f"/alert/{alert['id']}")["silenced"] is True
    screenshot(page, "alerts")
    silence = page.locator("[data-silence]").first
    silence.get_by_role("button", name="Expire").click()
    expect(page.locator("[data-silence]")).to_have_count(0, timeout=15_000)
    wait_for(lambda: not api.get(f"/alert/{alert['id']}")["silenced"], 15, "the alert unsilenced")
    assert page.page_errors == []


# Elements sticking out of their card (their text cut at its edge), outside a horizontal scroller.
OVERFLOWING = """() => {
  const found = [];
  for (const card of document.querySelectorAll('.card')) {
    const edge = card.getBoundingClientRect().right;
    for (const el of card.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (!box.width || box.right <= edge + 1) continue;
      let up = el.parentElement, scrolls = false;
      for (; up && up !== card; up = up.parentElement) {
        if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) { scrolls = true; break; }
      }
      if (!scrolls) found.push(`${card.id || card.className}: <${el.tagName.toLowerCase()}> ${el.textContent.slice(0, 40)}`);
    }
  }
  return found;
}"""


def test_the_overview_cards_hold_their_content_at_common_widths(page, console_server):
    log_in(page, console_server)
    expect(page.locator("#capacity table")).to_be_visible(timeout=15_000)
    for width in (1024, 1280, 1366, 1400, 1600, 1920):
        page.set_viewport_size({"width": width, "height": 900})  # measuring lays the grid out again
        assert page.evaluate(OVERFLOWING) == [], f"at {width} px wide"
    assert page.page_errors == []
