"""The console's alerts and notifications in headless Chromium against a real calamari-server
with a simulated cluster: alerts filtered, each with what changed before it (the user request and
who made it) and the notifications sent for it with their delivery state; silences created with
their matchers, the API's 400 at the matcher it names, and expired; and an admin's notification
channels listed, added (a 400 at its field), changed, tested and deleted."""

from __future__ import annotations

from browser_support import expect, log_in, screenshot

from calamari.testing.live import wait_for
from calamari.testing.notify_receivers import HttpReceiver


def test_alerts_filtered_with_changes_notifications_and_silences(page, console_server):
    api = console_server.api
    fsid = api.get("/cluster")[0]["id"]
    good, bad = HttpReceiver(status=200), HttpReceiver(status=503)
    try:
        for channel_id, receiver in (("good-hook", good), ("bad-hook", bad)):
            status, _ = api.call("POST", "/notification_channel", {"id": channel_id, "kind": "webhook",
                                                                   "url": receiver.url, "repeat_interval_s": 0})
            assert status == 201
        # a user request just before the alert: it shows among the changes, with who made it
        api.wait_request(api.submit("PATCH", f"/cluster/{fsid}/osd_config", {"noscrub": True}))
        status, _ = api.call("POST", "/alert-rule", {
            "name": "console_notified", "kind": "threshold", "severity": "critical",
            "summary": "Console notified alert",
            "params": {"subject": "cluster", "field": "health_checks", "op": ">=", "value": 0}})
        assert status == 201
        [alert] = wait_for(lambda: [a for a in api.get("/alert?state=firing") if a["rule"] == "console_notified"],
                           30, "the alert")
        bad.wait_for(1, timeout=30)  # its first attempt failed
        good.wait_for(1, timeout=30)

        log_in(page, console_server, path="/alerts")
        row = page.locator(f"[data-alert='{alert['id']}']")
        expect(row).to_contain_text("Console notified alert")
        page.get_by_label("Severity").select_option("info")
        expect(row).to_have_count(0)
        page.get_by_label("Severity").select_option("critical")
        expect(row).to_be_visible()
        page.get_by_label("Object", exact=True).fill("osd:0")
        page.get_by_role("button", name="Filter").click()
        expect(row).to_have_count(0)
        page.get_by_label("Object", exact=True).fill("cluster")
        page.get_by_role("button", name="Filter").click()
        expect(row).to_be_visible()
        assert "severity=critical" in page.url and "object=cluster" in page.url

        row.get_by_role("button", name="What changed before").click()
        detail = page.locator(".row-detail")
        expect(detail).to_contain_text("by admin")  # the noscrub request
        notes = detail.get_by_role("table", name="Notifications sent")
        delivered = notes.locator("[data-state='delivered']")
        expect(delivered).to_contain_text("good-hook", timeout=15_000)
        failing = notes.locator("tr", has_text="bad-hook")
        expect(failing).to_contain_text("retrying")
        expect(failing).to_contain_text("HTTP 503")
        screenshot(page, "alert-notifications")

        # a silence of our own: a bad matcher is a 400 shown at that matcher
        page.get_by_role("button", name="New silence").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Label 1").fill("not a label!")
        dialog.get_by_label("Value 1").fill("console_notified")
        dialog.get_by_label("Why").fill("console silence")
        dialog.get_by_role("button", name="Silence").click()
        expect(dialog.locator("[data-field='m-0-name']")).to_contain_text("a label name")
        assert api.get("/silence?state=active,pending") == []
        dialog.get_by_label("Label 1").fill("alertname")
        dialog.get_by_label("For how many hours").fill("3")
        dialog.get_by_role("button", name="Silence").click()
        expect(dialog).to_have_count(0, timeout=15_000)
        silence = page.locator("[data-silence]", has_text="console silence")
        expect(silence).to_contain_text("alertname=console_notified")
        expect(row).to_contain_text("silenced", timeout=15_000)
        [made] = api.get("/silence?state=active")
        assert made["comment"] == "console silence" and made["created_by"] == "admin"
        silence.get_by_role("button", name="Expire").click()
        expect(silence).to_have_count(0, timeout=15_000)
        wait_for(lambda: not api.get(f"/alert/{alert['id']}")["silenced"], 15, "the alert unsilenced")
        assert page.page_errors == []
    finally:
        for channel_id in ("good-hook", "bad-hook"):
            api.call("DELETE", f"/notification_channel/{channel_id}")
        good.close()
        bad.close()


def test_an_admin_manages_notification_channels(page, console_server):
    api = console_server.api
    receiver = HttpReceiver()
    try:
        log_in(page, console_server, path="/admin")
        card = page.locator(".card", has_text="Notification channels")
        card.get_by_role("button", name="Add a channel").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Id").fill("ops-hook")
        dialog.get_by_label("URL").fill("ftp://example.net/in")
        dialog.get_by_label("Signing secret").fill("console-hook-secret")
        dialog.get_by_role("button", name="Add channel").click()
        error = dialog.locator("[data-field='ch-url']")
        expect(error).to_be_visible()
        assert api.get("/notification_channel") == []  # nothing stored
        dialog.get_by_label("URL").fill(receiver.url)
        dialog.get_by_role("button", name="Add channel").click()
        expect(dialog).to_have_count(0, timeout=15_000)
        row = card.locator("[data-channel='ops-hook']")
        expect(row).to_contain_text("secret set")
        expect(row).to_contain_text("critical, warning, info")
        [stored] = api.get("/notification_channel")
        assert stored["url"] == receiver.url and stored["has_secret"] is True and "secret" not in stored

        row.get_by_role("button", name="Change").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("info").uncheck()
        dialog.get_by_label("Repeat every (seconds)").fill("5")  # below the minimum: a 400 at the field
        dialog.get_by_role("button", name="Save").click()
        expect(dialog.locator("[data-field='ch-repeat_interval_s']")).to_be_visible()
        dialog.get_by_label("Repeat every (seconds)").fill("3600")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_have_count(0, timeout=15_000)
        expect(row).to_contain_text("critical, warning")
        expect(row).not_to_contain_text("info")
        [changed] = api.get("/notification_channel")
        assert changed["severities"] == ["critical", "warning"] and changed["repeat_interval_s"] == 3600
        assert changed["has_secret"] is True  # an empty secret field keeps it

        row.get_by_role("button", name="Test").click()
        expect(card.get_by_role("status")).to_contain_text("test notification to ops-hook")
        [item] = receiver.wait_for(1, timeout=30)
        assert item.json()["reason"] == "test"
        screenshot(page, "admin-channels")

        row.get_by_role("button", name="Delete").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete channel").click()
        expect(row).to_have_count(0, timeout=15_000)
        assert api.get("/notification_channel") == []
        assert page.page_errors == []
    finally:
        receiver.close()
