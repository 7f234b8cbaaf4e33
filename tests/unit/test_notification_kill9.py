"""A real calamari-server killed with SIGKILL between enqueueing a notification and delivering it:
after the restart every channel gets it exactly once. The webhook answered 503 before the kill
(retried later), the Alertmanager had taken the request but not answered (its outcome unknown: it
is sent again, with the same notification id), the SMTP server was not up yet."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calamari.adapters.curve_keys import server_key_dir
from calamari.service.control import call_running_server
from calamari.testing.live import CalamariServer, free_port, wait_for
from calamari.testing.notify_receivers import (
    AlertmanagerReceiver,
    HttpReceiver,
    SmtpReceiver,
    throwaway_certificate,
    verify_webhook,
)

HOOK_SECRET = "kill9-hook-secret-J7"
SMTP_PASSWORD = "kill9-smtp-password-K8"


def alert_doc() -> dict:
    now = datetime.now(UTC).isoformat()
    return {"id": "kill9-alert", "rule": "osd_down", "severity": "critical", "state": "firing", "silenced": False,
            "acknowledged_by": None, "cluster": None, "object": {"kind": "osd", "id": "0"},
            "summary": "OSD 0 is down", "description": "osd.0 down for 1 minute", "labels": {},
            "raised_at": now, "updated_at": now, "resolved_at": None, "changes_before": []}


def outbox(api) -> dict[str, dict]:
    return {row["channel"]: row for row in api.get("/notification?limit=100")["results"]}


@pytest.fixture
def receivers(tmp_path):
    hook = HttpReceiver(status=503)
    am = AlertmanagerReceiver()
    am.hold.clear()  # it takes the request and does not answer yet
    made: dict = {"hook": hook, "am": am, "smtp_port": free_port(),
                  "certificate": throwaway_certificate(tmp_path)}
    yield made
    for receiver in (hook, am, made.get("smtp")):
        if receiver is not None:
            receiver.close()


def test_a_notification_pending_at_a_kill_9_reaches_each_channel_once_after_the_restart(tmp_path, receivers):
    hook, am = receivers["hook"], receivers["am"]
    server = CalamariServer(tmp_path / "data")
    try:
        api = server.start()
        for body in ({"id": "hook", "kind": "webhook", "url": hook.url, "secret": HOOK_SECRET,
                      "repeat_interval_s": 0},
                     {"id": "am", "kind": "alertmanager", "url": am.url, "repeat_interval_s": 0},
                     {"id": "mail", "kind": "email", "host": "127.0.0.1", "port": receivers["smtp_port"],
                      "username": "calamari", "secret": SMTP_PASSWORD, "from_address": "calamari@example.net",
                      "to": ["ops@example.net"], "ca_file": str(receivers["certificate"][0]),
                      "repeat_interval_s": 0}):
            status, answer = api.call("POST", "/notification_channel", body)
            assert status == 201, answer
        reply = call_running_server(server_key_dir(str(server.data_dir)), {"op": "notify_alert", "alert": alert_doc()})
        assert reply == {"ok": True}
        # in flight: the webhook refused it once, Alertmanager holds it, the SMTP server is not up
        hook.wait_for(1, timeout=30)
        am.wait_for(1, timeout=30)
        wait_for(lambda: outbox(api).get("mail", {}).get("attempts", 0) >= 1, 30, "a failed attempt to e-mail")
        rows = outbox(api)
        assert {channel: row["state"] for channel, row in rows.items()} == \
            {"hook": "pending", "am": "pending", "mail": "pending"}
        assert rows["hook"]["last_error"] == "HTTP 503 Service Unavailable"
        server.process.kill9()

        hook.status = 200
        am.status = 200
        held = len(am.received)
        smtp = receivers["smtp"] = SmtpReceiver(tmp_path, "calamari", SMTP_PASSWORD, port=receivers["smtp_port"],
                                                certificate=receivers["certificate"])
        am.hold.set()  # its answer to the killed server goes nowhere
        api = server.start()
        wait_for(lambda: {row["state"] for row in outbox(api).values()} == {"delivered"}, 90,
                 "every notification delivered after the restart")
        server.stop()
    finally:
        server.stop()

    rows_ids = {channel: row["id"] for channel, row in rows.items()}
    answered = [item for item in hook.received if item.answered == 200]
    assert len(answered) == 1 and verify_webhook(HOOK_SECRET, answered[0])
    assert {item.headers["x-calamari-notification-id"] for item in hook.received} == {rows_ids["hook"]}
    # Alertmanager: the request whose answer was lost, then the one after the restart, same id
    assert len(am.received) == held + 1
    assert {item.headers["x-calamari-notification-id"] for item in am.received} == {rows_ids["am"]}
    assert len(smtp.messages) == 1
    assert f"<{rows_ids['mail']}@calamari>".encode() in smtp.messages[0][2]
    log = (server.data_dir / "server.log").read_text(errors="replace")
    assert HOOK_SECRET not in log and SMTP_PASSWORD not in log
