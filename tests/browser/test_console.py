"""The web console in headless Chromium against a real calamari-server with a simulated cluster."""

from __future__ import annotations

import re

from conftest import VIEWER, VIEWER_PASSWORD, log_in, origin, screenshot


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
