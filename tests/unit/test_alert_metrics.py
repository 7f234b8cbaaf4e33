"""/metrics counts alerts firing by severity and the notification outbox by channel and state,
read back with prometheus_client's parser."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Harness
from prometheus_client.parser import text_string_to_metric_families
from test_api_alerts import cluster_alert_rule

from calamari.testing.notify_receivers import HttpReceiver


@pytest.fixture
def api(tmp_path: Any, capture_dir: str) -> Any:
    harness = Harness(str(tmp_path), capture_dir)
    yield harness
    harness.close()


def scrape(api: Harness) -> dict[str, Any]:
    r = api.client.get("/metrics", headers={"Authorization": f"Bearer {api.token('viewer')}"})
    assert r.status_code == 200
    return {f.name: f for f in text_string_to_metric_families(r.get_data(as_text=True))}


def by_labels(family: Any, *names: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels[n] for n in names): s.value for s in family.samples}


def test_alerts_firing_by_severity_and_silenced(api: Harness) -> None:
    before = scrape(api)
    assert by_labels(before["calamari_alerts_firing"], "severity") == {
        ("critical",): 0, ("warning",): 0, ("info",): 0}
    cluster_alert_rule(api)  # one warning raised at once
    cluster_alert_rule(api, "second_rule")
    families = scrape(api)
    assert by_labels(families["calamari_alerts_firing"], "severity")[("warning",)] == 2
    assert by_labels(families["calamari_alerts_silenced"], "severity")[("warning",)] == 0
    r = api.call("POST", "silence", user="oper", json={
        "matchers": [{"name": "alertname", "value": "second_rule"}], "duration_seconds": 600,
        "comment": "maintenance"})
    assert r.status_code == 201, r.json
    families = scrape(api)
    assert by_labels(families["calamari_alerts_firing"], "severity")[("warning",)] == 2
    assert by_labels(families["calamari_alerts_silenced"], "severity")[("warning",)] == 1
    [failed] = families["calamari_alert_evaluations_failed"].samples
    assert failed.name == "calamari_alert_evaluations_failed_total" and failed.value == 0


def test_the_outbox_by_channel_and_state(api: Harness) -> None:
    good, bad = HttpReceiver(status=200), HttpReceiver(status=503)
    try:
        for channel_id, receiver in (("good", good), ("bad", bad)):
            r = api.call("POST", "notification_channel", json={"id": channel_id, "kind": "webhook",
                                                                "url": receiver.url})
            assert r.status_code == 201, r.json
        empty = scrape(api)
        assert by_labels(empty["calamari_notifications"], "channel", "state")[("good", "pending")] == 0
        for _ in range(2):
            assert api.call("POST", "notification_channel/good/test").status_code == 202
        assert api.call("POST", "notification_channel/bad/test").status_code == 202
        api.services.notifier.process()
        families = scrape(api)
        outbox = by_labels(families["calamari_notifications"], "channel", "state")
        assert outbox[("good", "delivered")] == 2 and outbox[("good", "pending")] == 0
        assert outbox[("bad", "pending")] == 1 and outbox[("bad", "delivered")] == 0
        assert by_labels(families["calamari_notifications_retrying"], "channel") == {("good",): 0, ("bad",): 1}
        attempts = by_labels(families["calamari_notification_attempts_failed"], "channel")
        assert attempts == {("good",): 0, ("bad",): 1}
        assert api.call("DELETE", "notification_channel/bad").status_code in (200, 204)
        gone = scrape(api)
        assert ("bad", "pending") not in by_labels(gone["calamari_notifications"], "channel", "state")
    finally:
        good.close()
        bad.close()
