"""The console's CRUSH, configuration, logs and administration pages in headless Chromium against a
real calamari-server: a CRUSH text with a bad line shows the API's reason at that line, an OSD moved
through the tree, a collector's pending key accepted from the console (its cluster then appears), a
weak password refused at its field, and no administration for read-only or operator users."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser_support import (
    OTHER_SIMULATION,
    VIEWER,
    VIEWER_PASSWORD,
    add_user,
    expect,
    log_in,
    origin,
    screenshot,
    skip_or_fail,
)

from calamari.testing.live import BIN, ApiError, CalamariServer, Process, wait_for


def refused(server: CalamariServer, method: str, path: str, body: object) -> tuple[int, dict]:
    """The status and body of a call the API refuses."""
    with pytest.raises(ApiError) as refusal:
        server.api.call(method, path, body)  # type: ignore[attr-defined]
    return refusal.value.status, refusal.value.body


# ------------------------------------------------------------------------------------ CRUSH

def test_a_crush_map_with_bad_lines_shows_each_reason_at_its_line(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    text = api.get(f"/cluster/{fsid}/crush_map")
    lines = text.split("\n")
    # break every rule's `step take` and one bucket's item: the server names each line
    takes = [i for i, line in enumerate(lines) if line.strip().startswith("step take ")]
    items = [i for i, line in enumerate(lines) if line.strip().startswith("item osd.")]
    assert takes and items
    for i in takes:
        lines[i] = re.sub(r"step take \S+", "step take no-such-bucket", lines[i])
    lines[items[-1]] = re.sub(r"item osd\.\d+", "item osd.9999", lines[items[-1]])
    bad = "\n".join(lines)
    status, body = refused(console_server, "POST", f"/cluster/{fsid}/crush_map", {"crush_map": bad})
    assert status == 400, body
    want = {int(key.split()[1]): reason for key, reason in body["errors"].items() if key.startswith("line ")}
    assert {i + 1 for i in takes} <= set(want)  # the lines broken are among those the API names
    version = api.get(f"/cluster/{fsid}/crush_map")

    log_in(page, console_server, path="/crush?tab=map")
    editor = page.get_by_label("CRUSH map text")
    expect(editor).to_have_value(text, timeout=20_000)
    editor.fill(bad)
    page.get_by_role("button", name="Submit map").click()
    marks = page.locator(".line-error")
    expect(marks).to_have_count(len(want))
    for line, reason in want.items():
        expect(page.locator(f".line-error[data-line='{line}']")).to_contain_text(reason)
        expect(page.get_by_test_id("crush-line-errors")).to_contain_text(f"Line {line}")
    # the first bad line is selected, and its number is marked in the gutter beside it
    first = min(want)
    expect(page.locator(f".gutter-line[data-line='{first}']")).to_have_class(re.compile(r"\bgutter-error\b"))
    selected = editor.evaluate("el => el.value.slice(el.selectionStart, el.selectionEnd)")
    assert selected == bad.split("\n")[first - 1]
    # a mark sits on its line: level with the gutter's number for that line
    mark_box = page.locator(f".line-error[data-line='{first}']").bounding_box()
    gutter_box = page.locator(f".gutter-line[data-line='{first}']").bounding_box()
    assert mark_box and gutter_box and abs(mark_box["y"] - gutter_box["y"]) < 2
    screenshot(page, "crush-map-errors")
    assert page.locator(".tray-item").count() == 0  # nothing was sent to the cluster
    assert api.get(f"/cluster/{fsid}/crush_map") == version
    assert page.page_errors == []


def test_an_osd_moved_to_another_host_in_the_crush_tree(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    osds = api.get(f"/cluster/{fsid}/osd")
    hosts = sorted({o["crush_host"] for o in osds})
    target = next(o for o in osds if o["crush_host"] == hosts[0])
    destination = hosts[-1]
    log_in(page, console_server, path="/crush")
    tree = page.get_by_test_id("crush-tree")
    for host in hosts:
        expect(tree.locator(f"tr[data-crush-name='{host}']")).to_be_visible()
    rules = {r["name"] for r in api.get(f"/cluster/{fsid}/crush_rule")}
    screenshot(page, "crush-tree")
    page.get_by_role("button", name=f"Move osd.{target['id']}", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Destination").select_option(label=f"host {destination}")
    dialog.get_by_role("button", name="Move", exact=True).click()
    item = page.locator(".tray-item").first
    expect(item).to_contain_text(f"osd.{target['id']}")
    expect(item).to_have_attribute("data-state", "complete", timeout=30_000)
    assert api.get(f"/cluster/{fsid}/osd/{target['id']}")["crush_host"] == destination
    # the tree follows: the OSD's row now comes after its new host's row
    expect(tree.locator(f"tr[data-crush-id='{target['id']}']")).to_have_count(1)
    wait_for(lambda: _holder(tree, target["id"]) == destination, 15, "the tree to show the move")
    page.get_by_role("tab", name="Rules").click()
    for name in rules:
        expect(page.locator(f"tr[data-rule='{name}']")).to_be_visible()
    for pool in api.get(f"/cluster/{fsid}/pool"):
        rule = next(r["name"] for r in api.get(f"/cluster/{fsid}/crush_rule") if r["id"] == pool["crush_ruleset"])
        expect(page.locator(f"tr[data-rule='{rule}']")).to_contain_text(pool["name"])
    screenshot(page, "crush-rules")
    assert page.page_errors == []


def _holder(tree, osd_id: int) -> str:
    """The host whose row is the nearest above the OSD's row in the tree."""
    names = tree.locator("tr[data-crush-name]").evaluate_all(
        "rows => rows.map(r => [r.dataset.crushName, r.dataset.crushId])")
    holder = ""
    for name, crush_id in names:
        if int(crush_id) < 0:
            holder = name
        elif int(crush_id) == osd_id:
            return holder
    return ""


# ------------------------------------------------------------------------------------ configuration, logs

def test_the_configuration_searches_and_a_host_log_is_tailed(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    config = api.get(f"/cluster/{fsid}/config")
    assert config, "the simulated cluster sets configuration keys"
    one = config[-1]
    log_in(page, console_server, path="/config")
    table = page.get_by_test_id("config-table")
    expect(table.locator("tbody tr")).to_have_count(len(config))
    page.get_by_label("Search").fill(one["key"].upper())
    expect(table.locator("tbody tr")).to_have_count(sum(one["key"].lower() in c["key"].lower() for c in config))
    expect(table.locator(f"tr[data-key='{one['key']}']")).to_contain_text(one["value"])
    assert "q=" in page.url
    screenshot(page, "config")

    server = api.get("/server")[0]["fqdn"]
    files = api.get(f"/server/{server}/log")
    log_in_path = f"/logs?host={server}"
    page.goto(origin(console_server) + log_in_path)
    listed = page.get_by_test_id("log-files").locator("a")
    expect(listed).to_have_count(len(files))
    osd_log = next(f for f in files if "osd" in f)
    page.get_by_role("link", name=osd_log.removeprefix("ceph/"), exact=True).click()
    view = page.get_by_test_id("host-log")
    tail = api.get(f"/server/{server}/log/{osd_log}?lines=200")["lines"].splitlines()
    assert tail
    expect(view).to_contain_text(tail[0][:40], timeout=20_000)
    page.get_by_label("Follow").check()
    assert "follow=1" in page.url
    # the cluster log is live: a line the cluster logs now shows without a reload
    name = "logged-pool"
    api.wait_request(api.submit("POST", f"/cluster/{fsid}/pool", {"name": name, "pg_num": 32, "size": 2}), 60)
    expect(page.get_by_test_id("cluster-log")).to_contain_text(f"pool '{name}' created", timeout=20_000)
    screenshot(page, "logs")
    assert page.page_errors == []


# ------------------------------------------------------------------------------------ administration

def test_users_are_managed_and_a_weak_password_is_refused_at_its_field(page, console_server):
    name = "ops-console"
    log_in(page, console_server, path="/admin")
    form = page.get_by_role("form", name="Add a user")
    form.get_by_label("User name").fill(name)
    form.get_by_label("Role").select_option("operator")
    form.get_by_label("Password", exact=True).fill("password")
    form.get_by_label("Password again").fill("password")
    form.get_by_role("button", name="Add user").click()
    status, body = refused(console_server, "POST", "/user", {"username": name, "password": "password", "role": "operator"})
    assert status == 400 and "password" in body["errors"]
    expect(form.locator("[data-field='new-password']")).to_contain_text(body["errors"]["password"])
    assert all(u["username"] != name for u in console_server.api.get("/user"))

    strong = "a-much-longer-console-secret"
    form.get_by_label("Password", exact=True).fill(strong)
    form.get_by_label("Password again").fill(strong)
    form.get_by_role("button", name="Add user").click()
    row = page.get_by_test_id("users").locator(f"tr[data-user='{name}']")
    expect(row).to_be_visible()
    row.get_by_label(f"Role of {name}").select_option("read-only")
    wait_for(lambda: _role(console_server, name) == "read-only", 15, "the role change")
    # a password reset: the API's reason for a weak one at the dialog's field, then a good one
    page.get_by_role("button", name=f"Reset the password of {name}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New password", exact=True).fill(name)
    dialog.get_by_label("New password again").fill(name)
    dialog.get_by_role("button", name="Set password").click()
    status, body = refused(console_server, "PATCH", f"/user/{name}", {"password": name})
    assert status == 400 and "password" in body["errors"]
    expect(dialog.locator("[data-field='reset-password']")).to_contain_text(body["errors"]["password"])
    renewed = "another-long-console-secret"
    dialog.get_by_label("New password", exact=True).fill(renewed)
    dialog.get_by_label("New password again").fill(renewed)
    dialog.get_by_role("button", name="Set password").click()
    expect(row).to_contain_text("New password set")
    assert logs_in(console_server, name, renewed)
    page.get_by_role("button", name=f"End the sessions of {name}").click()
    expect(row).to_contain_text(re.compile(r"Ended [1-9]\d* session"))
    page.get_by_role("button", name=f"Delete {name}", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete user").click()
    expect(row).to_have_count(0)
    assert all(u["username"] != name for u in console_server.api.get("/user"))
    assert page.page_errors == []


def logs_in(server: CalamariServer, user: str, password: str) -> bool:
    """Whether `user` logs in with `password` (a session of its own, apart from the test's)."""
    from calamari.testing.live import ApiClient

    return ApiClient(server.url).login(user, password)


def _role(server: CalamariServer, name: str) -> str | None:
    return next((u["role"] for u in server.api.get("/user") if u["username"] == name), None)  # type: ignore[attr-defined]


def test_read_only_and_operator_users_see_no_administration(page, console_server):
    add_user(console_server, "oper-no-admin", "operator-secret-pass", "operator")
    for user, password in ((VIEWER, VIEWER_PASSWORD), ("oper-no-admin", "operator-secret-pass")):
        page.context.clear_cookies()
        log_in(page, console_server, user, password)
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="CRUSH")).to_be_visible()
        expect(nav.get_by_role("link", name="Administration")).to_have_count(0)
        page.goto(origin(console_server) + "/admin")
        expect(page.locator("main h1")).to_have_text("Not available")
        expect(page.get_by_test_id("users")).to_have_count(0)
        expect(page.get_by_test_id("collector-keys")).to_have_count(0)
        expect(page.get_by_role("form", name="Add a user")).to_have_count(0)
        screenshot(page, f"admin-as-{user}")
    # and a read-only user may look at the CRUSH map but not submit one
    page.context.clear_cookies()
    log_in(page, console_server, VIEWER, VIEWER_PASSWORD, path="/crush?tab=map")
    expect(page.get_by_label("CRUSH map text")).to_have_attribute("readonly", "")
    expect(page.get_by_role("button", name="Submit map")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile(r"^Move "))).to_have_count(0)
    assert page.page_errors == []


@pytest.fixture(scope="module")
def secure_server(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[CalamariServer]:
    """A server on the authenticated bus with no cluster yet; `server.server_key` is its public key."""
    server = CalamariServer(tmp_path_factory.mktemp("secure") / "data", secure_bus=True)
    server.server_key = server.ctl("key", "server").strip()  # type: ignore[attr-defined]
    server.api = server.start()  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def test_a_pending_collector_key_is_accepted_in_the_console_and_its_cluster_appears(page, secure_server, tmp_path):
    api = secure_server.api
    if not (BIN / "calamari-collector").exists():
        skip_or_fail("calamari-collector is not installed")
    collector = Process([str(BIN / "calamari-collector"), "--server", secure_server.bus,
                         "--server-key", secure_server.server_key, "--key-dir", str(tmp_path / "collector-keys"),
                         "--simulate", OTHER_SIMULATION, "--poll-interval", "0.5", "--heartbeat-interval", "1"],
                        tmp_path / "collector.log")
    try:
        key = wait_for(lambda: next((k for k in api.get("/key") if k["status"] == "pre"), None), 60,
                       "the collector's key to be registered as pending")
        assert api.get("/cluster") == []
        log_in(page, secure_server, path="/admin")
        row = page.get_by_test_id("collector-keys").locator(f"tr[data-key-host='{key['id']}']")
        expect(row).to_have_attribute("data-key-status", "pre")
        fingerprint = key["fingerprint"].split(":", 1)[-1]
        expect(row).to_contain_text(fingerprint[:4])
        assert re.sub(r"\s", "", row.locator(".fingerprint").inner_text()) == key["fingerprint"]
        expect(row.locator("[data-collector-state]")).to_have_attribute("data-collector-state", "pending")
        screenshot(page, "admin-pending-key")
        row.get_by_role("button", name=f"Accept the key of {key['id']}").click()
        expect(row).to_have_attribute("data-key-status", "accepted", timeout=15_000)
        expect(row.locator("[data-collector-state]")).to_have_attribute("data-collector-state", "reporting", timeout=60_000)
        cluster = wait_for(lambda: (api.get("/cluster") or [None])[0], 60, "the cluster to appear")
        expect(page.locator("header.top")).to_contain_text(cluster["name"], timeout=30_000)
        expect(row).to_contain_text(cluster["name"])
        assert api.get("/key")[0]["decided_by"] == secure_server.USER
        screenshot(page, "admin")
        page.goto(origin(secure_server) + "/")
        expect(page.locator("#osd-counts")).to_contain_text(str(len(api.get(f"/cluster/{cluster['id']}/osd"))),
                                                          timeout=30_000)
        # reject it, then delete it: the running collector's next hello registers it as pending again
        page.goto(origin(secure_server) + "/admin")
        row.get_by_role("button", name=f"Reject the key of {key['id']}").click()
        expect(row).to_have_attribute("data-key-status", "rejected", timeout=15_000)
        expect(row.locator("[data-collector-state]")).to_have_attribute("data-collector-state", "rejected")
        assert api.get("/key")[0]["status"] == "rejected"
        row.get_by_role("button", name=f"Delete the key of {key['id']}").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete key").click()
        expect(row).to_have_attribute("data-key-status", "pre", timeout=60_000)
        assert [k["status"] for k in api.get("/key")] == ["pre"]
        assert page.page_errors == []
    finally:
        collector.stop()


def test_tab_reaches_the_controls_of_the_new_pages_with_a_visible_focus_ring(page, console_server):
    from test_console import NAVIGATION, tab_through

    api = console_server.api
    fqdn = api.get("/server")[0]["fqdn"]
    first_log = api.get(f"/server/{fqdn}/log")[0].removeprefix("ceph/")
    log_in(page, console_server)
    pages = {
        "/crush": {"Tree", "Rules", "Map text", "Fold default"},
        "/crush?tab=map": {"CRUSH map text"},
        "/config": {"Search"},
        f"/logs?host={fqdn}": {"Live", "Host", first_log},
        "/admin": {"Role of admin", "Reset the password of admin", "End the sessions of admin", "User name",
                   "Add user"},
    }
    for path, controls in pages.items():
        page.goto(origin(console_server) + path)
        expect(page.locator("main h1").first).to_be_visible()
        expect(page.locator(".loading")).to_have_count(0, timeout=20_000)
        wanted = NAVIGATION | {"CRUSH", "Configuration", "Logs", "Administration"} | controls
        focused = tab_through(page, wanted)
        names = {f["name"] for f in focused}
        missing = [w for w in wanted if not any(n == w or n.startswith(w) for n in names)]
        assert not missing, f"{path}: Tab never reached {missing}; it reached {sorted(names)}"
        unringed = [f for f in focused if f["outline"] == "none" or f["width"] < 2]
        assert not unringed, f"{path}: focused without a visible outline: {unringed}"
    assert page.page_errors == []
