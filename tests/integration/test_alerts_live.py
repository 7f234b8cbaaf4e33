"""Alerts against a real cluster: an OSD daemon stops, and the OSD-down alert (its duration
shortened for the test) is raised with what changed before it; the daemon starts again and the
alert resolves; a restart of the server keeps the alert and its acknowledgement. And the
notifications of it: a webhook and an SMTP server told of the alert and its resolution, and a
notification in flight at a kill -9 of the server delivered after the restart, once a channel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from calamari.testing.live import DevCluster, free_port, server_and_collector, wait_for
from calamari.testing.notify_receivers import (
    HttpReceiver,
    Received,
    SmtpReceiver,
    throwaway_certificate,
    verify_webhook,
)

pytestmark = pytest.mark.integration


def osd_alerts(api: Any, state: str) -> list[dict[str, Any]]:
    return api.get(f"/alert?state={state}&object=osd:1")


def test_a_stopped_osd_daemon_raises_osd_down_and_its_return_resolves_it(own_ceph_cluster: dict[str, str],
                                                                         tmp_path: Path) -> None:
    cluster = DevCluster(own_ceph_cluster["dir"])
    with server_and_collector(cluster, tmp_path) as (server, _collector, api):
        fsid = cluster.fsid()
        wait_for(lambda: len(api.get(f"/cluster/{fsid}/osd")) == 3, 60, "the OSDs in the API")
        status, rule = api.call("PATCH", "/alert-rule/osd_down", {"for_seconds": 5})
        assert status == 200 and rule["for_seconds"] == 5
        cluster.stop_daemon("osd.1")
        try:
            [alert] = wait_for(lambda: osd_alerts(api, "firing"), 120, "the OSD-down alert")
            assert alert["rule"] == "osd_down" and alert["cluster"] == fsid
            assert any(c["type"] == "OsdMarkedDown" and c["object"] == {"kind": "osd", "id": "1"}
                       for c in alert["changes_before"])
            status, acked = api.call("POST", f"/alert/{alert['id']}/acknowledge", {"comment": "test"})
            assert status == 200 and acked["acknowledged_by"] == server.USER
        finally:
            cluster.start_daemon("osd.1")
        wait_for(lambda: not osd_alerts(api, "firing"), 120, "the alert to resolve once the OSD is up")
        [resolved] = osd_alerts(api, "resolved")
        assert resolved["id"] == alert["id"] and resolved["acknowledged_by"] == server.USER
        before = api.get(f"/alert/{alert['id']}")
        server.stop()
        api = server.start()
        assert api.get(f"/alert/{alert['id']}") == before  # restored from the stored events
        assert [r for r in api.get("/alert-rule") if r["name"] == "osd_down"][0]["for_seconds"] == 5


HOOK_SECRET = "live-hook-secret-Q4"
SMTP_USER, SMTP_PASSWORD = "calamari", "live-smtp-password-Z9"


def outbox_of(api: Any, alert_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The notifications of one alert, by (channel, reason)."""
    rows = api.get(f"/notification?alert={alert_id}&limit=100")["results"]
    return {(row["channel"], row["reason"]): row for row in rows}


def delivered(api: Any, alert_id: str, reason: str) -> dict[str, str] | None:
    """{channel: notification id} once both channels delivered the alert's `reason`, else None."""
    rows = outbox_of(api, alert_id)
    found = {channel: rows.get((channel, reason)) for channel in ("hook", "mail")}
    if all(row is not None and row["state"] == "delivered" for row in found.values()):
        return {channel: row["id"] for channel, row in found.items()}
    return None


def hook_items(hook: HttpReceiver, notification_id: str) -> list[Received]:
    return [item for item in list(hook.received) if item.headers.get("x-calamari-notification-id") == notification_id]


def mails(smtp: SmtpReceiver, notification_id: str) -> list[bytes]:
    return [content for _, _, content in list(smtp.messages) if f"<{notification_id}@calamari>".encode() in content]


def firing_osd_down(api: Any, not_id: str | None = None) -> dict[str, Any] | None:
    found = [a for a in osd_alerts(api, "firing") if a["rule"] == "osd_down" and a["id"] != not_id]
    return found[0] if found else None


def test_osd_down_reaches_a_webhook_and_an_smtp_server_resolves_and_survives_a_kill_9(
        own_ceph_cluster: dict[str, str], tmp_path: Path) -> None:
    """Channels configured through the API; an OSD daemon stopped -> the alert, signed on the
    webhook and e-mailed over STARTTLS with AUTH -> the daemon started -> resolved on both. Then
    again with the webhook holding its answer and the SMTP server down until the server is killed
    with SIGKILL: after the restart each channel takes each notification exactly once (by id)."""
    cluster = DevCluster(own_ceph_cluster["dir"])
    certificate = throwaway_certificate(tmp_path)
    smtp_port = free_port()
    refuse_before = [0.0]  # the webhook answers 503 to what arrived before this time.monotonic()
    hook = HttpReceiver(status=lambda item: 503 if item.at < refuse_before[0] else 200)
    smtp: SmtpReceiver | None = SmtpReceiver(tmp_path, SMTP_USER, SMTP_PASSWORD, port=smtp_port,
                                             certificate=certificate)
    try:
        with server_and_collector(cluster, tmp_path) as (server, _collector, api):
            fsid = cluster.fsid()
            wait_for(lambda: len(api.get(f"/cluster/{fsid}/osd")) == 3, 60, "the OSDs in the API")
            status, rule = api.call("PATCH", "/alert-rule/osd_down", {"for_seconds": 5})
            assert status == 200 and rule["for_seconds"] == 5
            for body in ({"id": "hook", "kind": "webhook", "url": hook.url, "secret": HOOK_SECRET,
                          "repeat_interval_s": 0},
                         {"id": "mail", "kind": "email", "host": "127.0.0.1", "port": smtp_port,
                          "security": "starttls", "username": SMTP_USER, "secret": SMTP_PASSWORD,
                          "from_address": "calamari@example.net", "to": ["ops@example.net"],
                          "ca_file": str(certificate[0]), "repeat_interval_s": 0}):
                status, answer = api.call("POST", "/notification_channel", body)
                assert status == 201, answer
                assert "secret" not in answer

            # 1. raised and resolved, both channels told of each
            cluster.stop_daemon("osd.1")
            stopped_at = time.monotonic()
            try:
                first = wait_for(lambda: firing_osd_down(api), 120, "the OSD-down alert")
                raised_after = time.monotonic() - stopped_at
                fired = wait_for(lambda: delivered(api, first["id"], "firing"), 60,
                                 "the firing notification on both channels")
            finally:
                cluster.start_daemon("osd.1")
            # the rule's 5 s, the OSD map's way to the server and a rule pass (5 s timer at most)
            assert raised_after < 60, raised_after
            resolved = wait_for(lambda: delivered(api, first["id"], "resolved"), 120,
                                "the resolved notification on both channels")
            assert smtp is not None
            for reason, ids in (("firing", fired), ("resolved", resolved)):
                [item] = hook_items(hook, ids["hook"])
                assert item.answered == 200 and verify_webhook(HOOK_SECRET, item)
                message = item.json()
                assert message["reason"] == reason and message["alert"]["id"] == first["id"]
                assert message["alert"]["rule"] == "osd_down" and message["alert"]["cluster"] == fsid
                [mail] = mails(smtp, ids["mail"])
                assert (b"RESOLVED" if reason == "resolved" else b"FIRING") in mail
                assert first["id"].encode() in mail
            assert smtp.failed_logins == 0
            assert any(c["type"] == "OsdMarkedDown" for c in hook_items(hook, fired["hook"])[0].json()["alert"]
                       ["changes_before"])

            # 2. the webhook holds its answer, the SMTP server is down, the server is killed
            refuse_before[0] = float("inf")
            hook.hold.clear()
            smtp.close()
            smtp = None
            cluster.stop_daemon("osd.1")
            try:
                second = wait_for(lambda: firing_osd_down(api, first["id"]), 120, "the second OSD-down alert")
                in_flight = wait_for(lambda: next((i for i in list(hook.received)
                                                   if i.json()["alert"]["id"] == second["id"]), None), 60,
                                     "the webhook to receive the second alert")
                wait_for(lambda: outbox_of(api, second["id"]).get(("mail", "firing"), {}).get("attempts", 0) >= 1,
                         60, "a failed attempt to e-mail (visible in the outbox)")
                row = outbox_of(api, second["id"])[("mail", "firing")]
                assert row["state"] == "pending" and row["last_error"]
                server.process.kill9()
                refuse_before[0] = time.monotonic()
                hook.hold.set()  # its answer goes to the killed server
                smtp = SmtpReceiver(tmp_path, SMTP_USER, SMTP_PASSWORD, port=smtp_port, certificate=certificate)
                api = server.start()
                fired = wait_for(lambda: delivered(api, second["id"], "firing"), 120,
                                 "the second alert delivered on both channels after the restart")
            finally:
                cluster.start_daemon("osd.1")
            resolved = wait_for(lambda: delivered(api, second["id"], "resolved"), 120,
                                "the second alert's resolution on both channels")
            wait_for(lambda: len(hook_items(hook, fired["hook"])) >= 2
                     and all(i.answered is not None for i in hook_items(hook, fired["hook"])), 30,
                     "the held request and the one sent again answered")
        assert in_flight.headers["x-calamari-notification-id"] == fired["hook"]  # sent again with its id
        items = hook_items(hook, fired["hook"])
        assert [i.answered for i in items] == [503, 200]  # the killed server's, then the restarted one's
        assert all(verify_webhook(HOOK_SECRET, i) for i in items)
        assert len(mails(smtp, fired["mail"])) == 1
        assert len(hook_items(hook, resolved["hook"])) == 1 and len(mails(smtp, resolved["mail"])) == 1
        log = (tmp_path / "data" / "server.log").read_text(errors="replace")
        assert HOOK_SECRET not in log and SMTP_PASSWORD not in log
    finally:
        hook.close()
        if smtp is not None:
            smtp.close()
