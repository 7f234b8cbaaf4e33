"""Browser tests of the web console: headless Chromium (Debian's /usr/bin/chromium, driven by
playwright) against a real `calamari-server --simulate`. Skipped with a reason when Chromium,
playwright or the built console is missing; with CALAMARI_REQUIRE_BROWSER=1 (CI, once chromium is
installed) a skip is a failure. Screenshots of each page go to tests/browser/artifacts/."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DIST,
    OTHER_SIMULATION,
    SIMULATION,
    VIEWER,
    VIEWER_PASSWORD,
    add_user,
    simulated_collector,
    skip_or_fail,
)

from calamari.testing.live import CalamariServer, wait_for


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright package is not installed (pip install -e '.[test]')")
    if not (DIST / "index.html").is_file():
        skip_or_fail("the console is not built (make venv, or: cd web && npm ci && npm run build)")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="calamari-chromium-")
    with sync_playwright() as pw:
        # a fresh profile each session: no state of an earlier run leaks in
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900})
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[CalamariServer]:
    """A server with a simulated 30-OSD cluster, an admin and a read-only user."""
    server = CalamariServer(tmp_path_factory.mktemp("console") / "data", extra=["--simulate", SIMULATION])
    add_user(server, VIEWER, VIEWER_PASSWORD, "read-only")
    api = server.start()
    wait_for(lambda: api.get("/cluster"), 60, "the simulated cluster to report")
    server.api = api  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


CONTACT_TIMEOUT_S = 3  # a silent collector makes its cluster stale this soon (the default is 30 s)


@pytest.fixture(scope="module")
def two_clusters(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[CalamariServer]:
    """A server and two simulated clusters, each reported by its own `calamari-collector` process
    (`server.collectors["a"|"b"]`, `server.fsids["a"|"b"]`; a: 30 OSDs, b: 6), with a short
    contact timeout."""
    base = tmp_path_factory.mktemp("two-clusters")
    server = CalamariServer(base / "data", extra=["--contact-timeout", str(CONTACT_TIMEOUT_S)])
    api = server.start()
    collectors = {"a": simulated_collector(server, SIMULATION, base / "collector-a.log"),
                  "b": simulated_collector(server, OTHER_SIMULATION, base / "collector-b.log")}
    server.api = api  # type: ignore[attr-defined]
    server.collectors = collectors  # type: ignore[attr-defined]
    try:
        wait_for(lambda: len(api.get("/cluster")) == 2, 60, "both simulated clusters to report")

        def by_size() -> dict[str, str]:
            totals = {c["id"]: api.get(f"/cluster/{c['id']}")["counters"]["osd"]["total"] for c in api.get("/cluster")}
            found = {"a" if n == 30 else "b" if n == 6 else "?": fsid for fsid, n in totals.items()}
            return found if set(found) == {"a", "b"} else {}

        server.fsids = wait_for(by_size, 60, "the OSD maps of both clusters")  # type: ignore[attr-defined]
        yield server
    finally:
        for collector in collectors.values():
            collector.stop()
        server.stop()


@pytest.fixture()
def page(browser: object) -> Iterator[object]:
    """A new tab with no cookies of an earlier test; script errors and CSP refusals are collected."""
    browser.clear_cookies()  # type: ignore[attr-defined]
    tab = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(msg: object) -> None:
        if msg.type == "error" and "Content Security Policy" in msg.text:  # type: ignore[attr-defined]
            errors.append(msg.text)  # type: ignore[attr-defined]

    tab.on("console", on_console)
    tab.page_errors = errors  # checked by tests: a script error or a CSP refusal is a bug
    try:
        yield tab
    finally:
        tab.close()
