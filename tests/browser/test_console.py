"""The web console in headless Chromium against a real calamari-server with a simulated cluster."""

from __future__ import annotations

import re

from browser_support import REPO, VIEWER, VIEWER_PASSWORD, log_in, origin, screenshot


def expect(locator, **kwargs):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator, **kwargs)


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


def test_a_change_by_the_simulator_appears_without_reloading(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    log_in(page, console_server, VIEWER, VIEWER_PASSWORD, path="/osds?state=out")
    grid = page.get_by_test_id("osd-grid")
    outs = sum(not o["in"] for o in api.get(f"/cluster/{fsid}/osd"))
    expect(grid).to_have_attribute("data-shown", str(outs))
    expect(page.locator("[data-live='live']")).to_be_visible(timeout=15_000)
    page.evaluate("window.__notReloaded = true")
    target = next(o for o in api.get(f"/cluster/{fsid}/osd") if o["in"])
    api.wait_request(api.submit("PATCH", f"/cluster/{fsid}/osd/{target['id']}", {"in": False}))
    expect(grid).to_have_attribute("data-shown", str(outs + 1), timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    assert page.page_errors == []


def test_every_page_renders_and_the_readme_screenshot(page, console_server):
    api = console_server.api
    fqdn = api.get("/server")[0]["fqdn"]
    log_in(page, console_server)
    pages = {"overview": "/", "osds-all": "/osds", "pools-list": "/pools", "hosts": "/hosts", "host": f"/hosts/{fqdn}",
             "requests": "/requests", "events": "/events", "account": "/account", "unknown": "/no-such-page"}
    for name, path in pages.items():
        page.goto(origin(console_server) + path)
        expect(page.locator("main h1").first).to_be_visible()
        expect(page.locator(".loading")).to_have_count(0, timeout=15_000)  # everything it shows has arrived
        screenshot(page, name)
    # keyboard: Tab reaches the skip link and the navigation, with a visible focus ring
    page.goto(origin(console_server) + "/")
    expect(page.locator("#health")).to_be_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.goto(origin(console_server) + "/")
    expect(page.locator("#health .badge").first).to_be_visible()
    expect(page.locator("[data-live='live']")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(REPO / "docs" / "console.png"))
    assert page.page_errors == []


def test_the_stream_resumes_after_the_server_restarts(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    log_in(page, console_server, path="/osds?state=out")
    expect(page.locator("[data-live='live']")).to_be_visible(timeout=15_000)
    page.evaluate("window.__notReloaded = true")
    console_server.stop()
    expect(page.get_by_test_id("connection-banner")).to_be_visible(timeout=15_000)
    screenshot(page, "connection-lost")
    api = console_server.start()
    console_server.api = api
    expect(page.locator("[data-live='live']")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("connection-banner")).to_have_count(0)
    grid = page.get_by_test_id("osd-grid")
    outs = sum(not o["in"] for o in api.get(f"/cluster/{fsid}/osd"))
    expect(grid).to_have_attribute("data-shown", str(outs), timeout=15_000)
    target = next(o for o in api.get(f"/cluster/{fsid}/osd") if o["in"])
    api.wait_request(api.submit("PATCH", f"/cluster/{fsid}/osd/{target['id']}", {"in": False}))
    expect(grid).to_have_attribute("data-shown", str(outs + 1), timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
