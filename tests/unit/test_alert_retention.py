"""Retention of alerts and silences: resolved alerts and ended silences older than the retention
leave the live model through a stored event; firing alerts and active or future silences never
do; a replay and a snapshot give the live state; history (a past model) and the event feed still
have them; a retirement that is not stored is undone."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from typing import Any

import pytest
from alert_support import SimulatedAlerts

from calamari.adapters.snapshots import load_model, write_snapshot
from calamari.domain.alerts.alert import FIRING, alert_document
from calamari.domain.alerts.retention import AlertRetention, alerts_due, remember, silences_due
from calamari.domain.alerts.silence import silence_document
from calamari.domain.event_feed import EventFeed
from calamari.service.history import History

DAY = 86400


@pytest.fixture
def sim(tmp_path: Any) -> Any:
    harness = SimulatedAlerts(str(tmp_path), spec="hosts=2,osds=6,pools=1,pgs=32")
    harness.alerting.tune_rule("osd_down", {"for_seconds": 0}, "oper")
    harness.alerting.evaluate_all()
    yield harness
    harness.close()


def osd_down_alert(sim: SimulatedAlerts, osd: int) -> dict[str, Any]:
    sim.stop_osd(osd)
    sim.later(1)
    return next(a for a in sim.alerts("osd_down", FIRING) if a["object"]["id"] == str(osd))


def resolved_alert(sim: SimulatedAlerts, osd: int) -> dict[str, Any]:
    alert = osd_down_alert(sim, osd)
    sim.start_osd(osd)
    sim.later(1)
    return sim.alerting.alert(alert["id"])


def live_state(model: Any, now: Any) -> dict[str, Any]:
    return {"alerts": {i: alert_document(a) for i, a in model.alerts.items()},
            "silences": {i: silence_document(s, now) for i, s in model.silences.items()},
            "open": {r: sorted(k for k, a in keys.items() if a.state == FIRING) for r, keys in model.alert_index.items()},
            "retention": model.alert_retention.domain_state() if model.alert_retention else None,
            "ids": sorted(str(i) for i in model.aggregates)}


def silence(sim: SimulatedAlerts, minutes: int, osd: str = "5") -> str:
    return sim.alerting.create_silence({"matchers": [{"name": "object_id", "value": osd}], "comment": "maintenance",
                                        "duration_seconds": minutes * 60}, "oper")["id"]


def test_resolved_alerts_and_ended_silences_past_the_retention_leave_and_nothing_live_does(sim):
    sim.alerting.retention = timedelta(days=30)
    old = resolved_alert(sim, 1)
    firing = osd_down_alert(sim, 2)
    ended = silence(sim, 10)
    sim.later(20 * DAY)
    recent = resolved_alert(sim, 3)
    lasting = silence(sim, 365 * 24 * 60)  # active for a year
    future = sim.alerting.create_silence({"matchers": [{"name": "object_id", "value": "4"}], "comment": "later",
                                          "starts_at": sim.clock.now + timedelta(days=40),
                                          "duration_seconds": 3600}, "oper")["id"]
    assert sim.alerting.retire() == (0, 0)  # 20 days: nothing is old enough yet
    sim.later(11 * DAY)
    retired = sim.alerting.retire()
    model = sim.service.model
    assert retired[1] == 1 and retired[0] >= 1
    assert old["id"] not in model.alerts and ended not in model.silences
    assert {firing["id"], recent["id"]} <= set(model.alerts) and {lasting, future} <= set(model.silences)
    assert model.open_alert(model.alerts[firing["id"]].key) is model.alerts[firing["id"]]
    listed = {a["id"] for a in sim.alerts()}
    assert old["id"] not in listed and {recent["id"], firing["id"]} <= listed
    assert all(a["state"] == FIRING or a["resolved_at"] > (sim.clock.now - timedelta(days=30)).isoformat()
               for a in sim.alerts())
    assert sim.alerting.retired("alert", old["id"]) == sim.clock.now
    assert sim.alerting.retired("silence", ended) == sim.clock.now
    assert sim.alerting.retired("alert", firing["id"]) is None
    assert sim.alerting.retire() == (0, 0)  # a second pass finds nothing more
    sim.later(400 * DAY)  # a year later the firing alert and the active silence still stay
    sim.alerting.retire()
    assert firing["id"] in model.alerts and model.alerts[firing["id"]].state == FIRING
    assert lasting not in model.silences  # it ended 35 days ago
    assert recent["id"] not in model.alerts and future not in model.silences


def test_a_replay_and_a_snapshot_after_retirements_give_the_live_state(sim):
    sim.alerting.retention = timedelta(days=1)
    for osd in range(3):
        resolved_alert(sim, osd)
    silence(sim, 5)
    firing = osd_down_alert(sim, 4)
    sim.later(2 * DAY)
    resolved = {i for i, a in sim.service.model.alerts.items() if a.state != FIRING}
    assert len(resolved) >= 3
    assert sim.alerting.retire() == (len(resolved), 1)
    service = sim.service
    assert service.writer.flush(10)
    live = live_state(service.model, sim.clock.now)
    assert firing["id"] in live["alerts"] and not resolved & set(live["alerts"])
    assert all(a["state"] == FIRING for a in live["alerts"].values())
    with tempfile.TemporaryDirectory() as empty:
        replayed, position = load_model(empty, service.store)
    assert live_state(replayed, sim.clock.now) == live
    with tempfile.TemporaryDirectory() as snapdir:
        write_snapshot(snapdir, position, replayed)
        restored, _ = load_model(snapdir, service.store)
    assert live_state(restored, sim.clock.now) == live


def test_history_still_shows_a_retired_alert_as_it_was_and_the_feed_still_tells_it(sim):
    sim.alerting.retention = timedelta(days=1)
    alert = resolved_alert(sim, 1)
    sim.alerting.acknowledge(alert["id"], "oper", "seen")
    as_it_was = sim.alerting.alert(alert["id"])
    service = sim.service
    assert service.writer.flush(10)
    before = service.store.max_position()
    sim.later(2 * DAY)
    assert sim.alerting.retire()[0] >= 1
    assert service.writer.flush(10)
    assert alert["id"] not in service.model.alerts
    history = History(service.store, service.config.snapshot_dir)
    past = history.model_at(before)
    assert alert_document(past.alerts[alert["id"]]) == as_it_was
    assert alert["id"] not in history.model_at(service.store.max_position()).alerts
    # a restarted server's feed tells the stored events, the retired alert's among them
    replayed, _ = load_model(service.config.snapshot_dir, service.store)
    feed = EventFeed()
    feed.add_older(list(service.store.read(after=0)), replayed)
    told = [e["message"] for e in feed.older]
    assert any(m.startswith("Alert raised: ") and "osd.1" in m for m in told), told
    assert any(m.startswith("Alert resolved: ") for m in told) and any("acknowledged by oper" in m for m in told)


def test_a_retirement_that_fails_is_undone(sim):
    sim.alerting.retention = timedelta(days=1)
    alerts = [resolved_alert(sim, osd) for osd in (1, 2)]
    ended = silence(sim, 5)
    sim.later(2 * DAY)
    service = sim.service
    resolved = {i for i, a in service.model.alerts.items() if a.state != FIRING}
    assert service.writer.flush(10)
    before = live_state(service.model, sim.clock.now)
    stored = service.store.max_position()
    from calamari.domain.alerts.retention import retire_alerts

    with pytest.raises(RuntimeError, match="halfway"), service.durable() as model:
        assert retire_alerts(model, timedelta(days=1), sim.clock.now) == (len(resolved), 1)
        assert not resolved & set(model.alerts)
        raise RuntimeError("halfway")
    assert live_state(service.model, sim.clock.now) == before
    assert {a["id"] for a in alerts} <= set(service.model.alerts) and ended in service.model.silences
    assert service.model.alert_retention is None
    assert service.writer.flush(10) and service.store.max_position() == stored
    assert sim.alerting.retire() == (len(resolved), 1)  # and the next pass retires them


def test_a_pass_in_steps_retires_them_all_and_skips_what_changed_since_it_looked(sim, monkeypatch):
    import calamari.service.alerting as alerting_module
    from calamari.domain.alerts.retention import retire_alerts

    sim.alerting.retention = timedelta(days=1)
    for osd in (1, 2, 3):
        resolved_alert(sim, osd)
    ended = [silence(sim, 5, str(osd)) for osd in (1, 2)]
    sim.later(2 * DAY)
    model = sim.service.model
    resolved = [i for i, a in model.alerts.items() if a.state != FIRING]
    stale = resolved_alert(sim, 4)["id"]  # resolved just now: in a stale list, it is not due
    with sim.service.durable() as m:
        assert retire_alerts(m, timedelta(days=1), sim.clock.now, [resolved[0], stale], []) == (1, 0)
    assert stale in model.alerts and resolved[0] not in model.alerts
    steps: list[tuple[int, int]] = []
    monkeypatch.setattr(alerting_module, "RETIRE_STEP", 1)
    real = alerting_module.retire_alerts
    monkeypatch.setattr(alerting_module, "retire_alerts",
                        lambda *a: steps.append((len(a[3]), len(a[4]))) or real(*a))
    assert sim.alerting.retire() == (len(resolved) - 1, 2)
    assert len(steps) == len(resolved) - 1 and all(n <= 1 and m <= 1 for n, m in steps)
    assert not set(resolved) & set(model.alerts) and not set(ended) & set(model.silences)
    assert stale in model.alerts


def test_the_due_rules_never_pick_a_firing_alert_or_an_unended_silence(sim):
    firing = osd_down_alert(sim, 1)
    active = silence(sim, 60)
    model = sim.service.model
    far = sim.clock.now + timedelta(days=10_000)
    assert firing["id"] not in alerts_due(model, far)
    assert active not in silences_due(model, sim.clock.now)
    assert active in silences_due(model, far)


def test_the_named_retired_ids_are_bounded(monkeypatch):
    import calamari.domain.alerts.retention as retention

    monkeypatch.setattr(retention, "NAMED_RETIRED", 3)
    named: dict[str, Any] = {}
    remember(named, ["a", "b"], 1)
    remember(named, ["c", "d"], 2)
    assert named == {"b": 1, "c": 2, "d": 2}
    assert isinstance(AlertRetention.AlertsRetired.__name__, str)


# ------------------------------------------------------------------ property: retirements in random runs

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import rule  # noqa: E402
from test_alert_replay import AlertMachine  # noqa: E402


class RetiringAlertMachine(AlertMachine):
    """The alert replay machine, with retirement passes of random retentions among its steps: the
    invariant (a replay and a snapshot give the live state) holds with them, and a pass never
    takes a firing alert or a silence that has not ended."""

    @rule(osd=st.integers(0, 5))
    def an_osd_down_for_a_while(self, osd: int) -> None:
        """Raised and resolved: what retirement passes take (the machine's own rules seldom do both)."""
        self.h.stop_osd(osd)
        self.h.later(45)
        self.h.start_osd(osd)
        self.h.later(5)

    @rule(seconds=st.sampled_from([1, 30, 120, 900]))
    def retire(self, seconds: int) -> None:
        alerting, model = self.h.alerting, self.h.service.model
        now = self.h.clock.now
        firing = {i for i, a in model.alerts.items() if a.state == FIRING}
        unended = {i for i, s in model.silences.items() if s.ends_at > now - timedelta(seconds=seconds)}
        alerting.retention = timedelta(seconds=seconds)
        alerting.retire()
        assert firing <= set(model.alerts) and unended <= set(model.silences)
        assert all(a.state == FIRING or a.resolved_at > now - timedelta(seconds=seconds)
                   for a in model.alerts.values())
        self.silences = [s for s in self.silences if s in model.silences]


RetiringAlertMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=25, deadline=None,
                                                  database=None, suppress_health_check=list(HealthCheck))
TestRetiringAlertReplay = RetiringAlertMachine.TestCase


def test_the_push_stream_names_what_a_retirement_took_away(sim):
    from calamari.domain.event_feed import OsdServers
    from calamari.service.stream_messages import describe_event

    committed: list[Any] = []
    sim.service.listeners.append(lambda events, model: committed.extend(events))
    sim.alerting.retention = timedelta(days=1)
    old = resolved_alert(sim, 1)
    ended = silence(sim, 10)
    sim.later(2 * DAY)
    alerts, silences = sim.alerting.retire()
    assert alerts >= 1 and silences == 1
    retirements = [e for e in committed if isinstance(e, AlertRetention.AlertsRetired)]
    assert retirements
    told = describe_event(retirements[-1], sim.service.model, OsdServers(sim.service.model))
    assert f"alert/{old['id']}" in told["changed"] and f"silence/{ended}" in told["changed"]
