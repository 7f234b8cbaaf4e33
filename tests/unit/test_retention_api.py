"""The API after retirements: the alert, silence and notification lists hold what is live, and a
retired id answers 410 saying when it was retired (an id never seen stays a plain 404)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import Harness
from test_api_alerts import RULE, cluster_alert_rule
from test_notification_properties import ScriptedSender


@pytest.fixture
def api(tmp_path: Any, capture_dir: str) -> Any:
    harness = Harness(str(tmp_path), capture_dir)
    for user in ("admin", "oper", "viewer"):
        harness.token(user)
    yield harness
    harness.close()



def alerting_to_a_hook(api: Harness) -> tuple[Any, Any, dict[str, Any]]:
    """The harness's alerting and notifier, a webhook channel with a scripted sender, and a rule
    that raises an alert on the cluster."""
    alerting, notifier = api.services.alerting, api.services.notifier
    notifier.sender = ScriptedSender()
    notifier.create_channel("hook", "webhook", {"url": "https://hooks.example.net/x", "repeat_interval_s": 0},
                            None, "admin")
    return alerting, notifier, cluster_alert_rule(api)

def test_retired_alerts_silences_and_notifications_leave_the_lists_and_answer_410(api: Harness) -> None:
    alerting, notifier, rule = alerting_to_a_hook(api)
    [alert] = [a for a in api.call("GET", "alert").json if a["rule"] == rule["name"]]
    notifier.process()
    r = api.call("POST", "silence", user="oper", json={"matchers": [{"name": "alertname", "value": "x"}],
                                                       "comment": "short", "duration_seconds": 60})
    assert r.status_code == 201, r.json
    ended = r.json["id"]
    assert api.call("PATCH", f"/{RULE}/{rule['name']}", user="oper", json={"enabled": False}).status_code == 200
    assert api.call("GET", f"alert/{alert['id']}").json["state"] == "resolved"
    notifier.process()
    notes = api.call("GET", "notification").json["results"]
    assert {n["alert_id"] for n in notes} == {alert["id"]} and all(n["state"] == "delivered" for n in notes)

    later = datetime.now(UTC) + timedelta(days=40)
    alerting.clock = lambda: later
    notifier.clock = later.timestamp
    assert alerting.retire()[1] == 1 and notifier.retire() == len(notes)

    assert alert["id"] not in {a["id"] for a in api.call("GET", "alert").json}
    assert ended not in {s["id"] for s in api.call("GET", "silence").json}
    assert api.call("GET", "notification").json == {"count": 0, "results": []}
    for path in (f"alert/{alert['id']}", f"silence/{ended}", f"notification/{notes[0]['id']}"):
        r = api.call("GET", path)
        assert r.status_code == 410, (path, r.json)
        assert r.json["retired_at"] == later.isoformat() and "retired" in r.json["detail"]
    r = api.call("POST", f"alert/{alert['id']}/acknowledge", user="oper", json={})
    assert r.status_code == 410
    assert api.call("DELETE", f"silence/{ended}", user="oper").status_code == 410
    assert api.call("POST", f"notification/{notes[0]['id']}/retry", user="oper").status_code == 410
    for path in ("alert/nope", "silence/nope", "notification/nope"):
        r = api.call("GET", path)
        assert r.status_code == 404 and "retired_at" not in r.json


def test_the_alerts_as_they_were_at_a_past_moment_include_retired_ones(api: Harness) -> None:
    alerting = api.services.alerting
    rule = cluster_alert_rule(api)
    assert api.call("PATCH", f"/{RULE}/{rule['name']}", user="oper", json={"enabled": False}).status_code == 200
    [alert] = [a for a in api.call("GET", "alert").json if a["rule"] == rule["name"]]
    assert alert["state"] == "resolved"
    before = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later = datetime.now(UTC) + timedelta(days=40)
    alerting.clock = lambda: later
    assert alerting.retire()[0] >= 1
    assert api.service.writer.flush(10)
    assert api.call("GET", f"alert/{alert['id']}").status_code == 410
    r = api.call("GET", "alert", query_string={"at": before, "state": "resolved"})
    assert r.status_code == 200 and "ETag" not in r.headers
    assert [a for a in r.json if a["id"] == alert["id"]] == [alert]
    r = api.call("GET", "alert", query_string={"at": (later + timedelta(seconds=1)).isoformat()})
    assert r.status_code == 200 and alert["id"] not in {a["id"] for a in r.json}
    r = api.call("GET", "alert", query_string={"at": "last tuesday"})
    assert r.status_code == 400 and "at" in r.json["errors"]


def test_the_retention_options_take_durations_and_refuse_nonsense() -> None:
    from calamari.service.main import parse_args

    args = parse_args(["--alert-retention", "12h", "--notification-retention", "90m"])
    assert (args.alert_retention, args.notification_retention) == (12 * 3600, 90 * 60)
    defaults = parse_args([])
    assert (defaults.alert_retention, defaults.notification_retention) == (30 * 86400, 7 * 86400)
    assert parse_args(["--alert-retention", "3600"]).alert_retention == 3600
    for bad in ("0", "-1d", "abc", "d", "5w"):
        with pytest.raises(SystemExit):
            parse_args(["--alert-retention", bad])


def test_the_services_threads_retire_at_their_start(api: Harness) -> None:
    """The alerting and notifier threads run a retirement pass when they start (then hourly)."""
    alerting, notifier, rule = alerting_to_a_hook(api)
    notifier.process()
    assert api.call("PATCH", f"/{RULE}/{rule['name']}", user="oper", json={"enabled": False}).status_code == 200
    notifier.process()
    model = api.service.model
    assert model.alerts and model.notifications
    later = datetime.now(UTC) + timedelta(days=40)
    alerting.clock = lambda: later
    notifier.clock = later.timestamp
    alerting.interval_s = 0.05
    notifier.start()
    alerting.start()
    try:
        deadline = time.monotonic() + 60
        while (model.notifications or any(a.state == "resolved" for a in model.alerts.values())) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not model.notifications
        assert all(a.state == "firing" for a in model.alerts.values())
        assert model.alert_retention is not None and model.outbox_retention is not None
    finally:
        alerting.stop()
        notifier.stop()
