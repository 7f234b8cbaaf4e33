"""The e-mail and Alertmanager texts of an alert the alerting service raised: its changes before
it, each with its time, what it was, and who made a user request among them (the entries as
calamari.domain.alerts.changes records them, not a hand-made shape)."""

from __future__ import annotations

from datetime import UTC, datetime

from alert_support import SimulatedAlerts, alerts_fixture

from calamari.domain.notifications import messages
from calamari.domain.notifications.notification import FIRING
from calamari.domain.notifications.routing import check_alert

sim_alerts = alerts_fixture()


def raised_with_a_request(h: SimulatedAlerts) -> dict:
    h.alerting.tune_rule("osd_down", {"for_seconds": 0}, "oper")
    assert h.sim.execute("osd set", {"key": "noout"})[0] == 0
    h.feed()
    h.submit_pool_update("req-7", "carol")
    h.clock.advance(5)
    h.stop_osd(2)
    h.later(1)
    [alert] = [a for a in h.alerts("osd_down", "firing")]
    return check_alert(alert)  # what the notifier routes


def test_the_email_lists_each_change_with_its_time_and_who_made_a_request(sim_alerts: SimulatedAlerts) -> None:
    alert = raised_with_a_request(sim_alerts)
    changes = alert["changes_before"]
    [request] = [c for c in changes if c["type"] == "UserRequestSubmitted"]
    [down] = [c for c in changes if c["type"] == "OsdMarkedDown"]
    text = messages.email_text("n1", FIRING, alert)
    lines = text.split("What changed before it:", 1)[1].splitlines()
    assert [line for line in lines if request["time"] in line and line.endswith("(by carol)")], lines
    assert [line for line in lines if down["time"] in line and (down["message"] or down["type"]) in line], lines


def test_alertmanager_annotations_carry_the_same_lines(sim_alerts: SimulatedAlerts) -> None:
    alert = raised_with_a_request(sim_alerts)
    [request] = [c for c in alert["changes_before"] if c["type"] == "UserRequestSubmitted"]
    body = messages.alertmanager_alert("n1", FIRING, alert, 300, datetime.now(UTC))
    lines = body[0]["annotations"]["changes_before"].splitlines() if isinstance(body, list) else \
        body["annotations"]["changes_before"].splitlines()
    assert any(line.startswith(request["time"]) and line.endswith("(by carol)") for line in lines), lines
