"""Helpers of the browser tests (conftest.py holds the fixtures)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from calamari.testing.live import BIN, CalamariServer, Process, plain_bus_options

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "web" / "dist"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("CALAMARI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SIMULATION = "hosts=5,osds=30,pools=4,pgs=1024,seed=7,churn=0"
OTHER_SIMULATION = "hosts=2,osds=6,pools=2,pgs=128,seed=8,churn=0"  # a second cluster: another fsid
UPDATE_SCREENSHOTS = os.environ.get("CALAMARI_UPDATE_SCREENSHOTS") == "1"  # rewrite docs/console.png
VIEWER, VIEWER_PASSWORD = "viewer", "viewer-secret-pass"


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CALAMARI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CALAMARI_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def add_user(server: CalamariServer, name: str, password: str, role: str) -> None:
    subprocess.run([str(BIN / "calamari-ctl"), "--data-dir", str(server.data_dir), "user", "add", name, "--role", role],
                   input=password + "\n", text=True, check=True, timeout=60, capture_output=True)


def simulated_collector(server: CalamariServer, spec: str, log_path: Path) -> Process:
    """`calamari-collector --simulate SPEC` reporting to `server` over its plain-TCP bus, as its own
    process: it outlives a restart of the server and can be stopped on its own."""
    return Process([str(BIN / "calamari-collector"), "--server", server.bus, *plain_bus_options("calamari-collector"),
                    "--simulate", spec, "--poll-interval", "0.5", "--heartbeat-interval", "1"], log_path)


def expect(locator: object, **kwargs: object) -> object:
    """Playwright's expect, imported when first called so that collecting the tests needs no Playwright."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator, **kwargs)


def origin(server: CalamariServer) -> str:
    return f"http://127.0.0.1:{server.api_port}"


def screenshot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)  # type: ignore[attr-defined]
    return path


def log_in(page: object, server: CalamariServer, user: str = CalamariServer.USER,
           password: str = CalamariServer.PASSWORD, path: str = "/") -> None:
    page.goto(origin(server) + path)  # type: ignore[attr-defined]
    page.get_by_label("User name").fill(user)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]
    page.get_by_role("navigation", name="Main").wait_for()  # type: ignore[attr-defined]
