"""Property: whatever happens (OSDs stopping and starting, health changing, time passing, alerts
acknowledged, silences made and expired, rules tuned and disabled), folding the stored events
gives the same alerts, silences and rules as the live state, from the events alone and from a
snapshot plus the events after it."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from alert_support import SimulatedAlerts
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from calamari.adapters.snapshots import load_model, write_snapshot
from calamari.domain.alerts.alert import alert_document
from calamari.domain.alerts.silence import silence_document
from calamari.domain.model import ClusterModel

OSDS = 6


def alerting_state(model: ClusterModel, now: Any) -> dict[str, Any]:
    return {
        "alerts": {i: alert_document(a) for i, a in model.alerts.items()},
        "open": {rule: sorted(k for k, a in keys.items() if a.state == "firing")
                 for rule, keys in model.alert_index.items()},
        "silences": {i: silence_document(s, now) for i, s in model.silences.items()},
        "rules": {n: r.document() for n, r in model.alert_rule_set().items()},
    }


class AlertMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="calamari-alerts-")
        self.h = SimulatedAlerts(self.dir, spec=f"hosts=2,osds={OSDS},pools=1,pgs=32")
        self.h.alerting.tune_rule("osd_down", {"for_seconds": 30}, "oper")
        self.silences: list[str] = []

    def teardown(self) -> None:
        self.h.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(osd=st.integers(0, OSDS - 1))
    def stop_osd(self, osd: int) -> None:
        self.h.stop_osd(osd)

    @rule(osd=st.integers(0, OSDS - 1))
    def start_osd(self, osd: int) -> None:
        self.h.start_osd(osd)

    @rule(status=st.sampled_from(["HEALTH_OK", "HEALTH_WARN", "HEALTH_ERR"]))
    def health(self, status: str) -> None:
        checks = {} if status == "HEALTH_OK" else {"OSD_FULL": (status, "full osd(s)")}
        self.h.health(status, checks)

    @rule(seconds=st.sampled_from([1, 20, 45, 400, 1000]))
    def time_passes(self, seconds: int) -> None:
        self.h.later(seconds)

    @rule()
    def changes_evaluated(self) -> None:
        self.h.alerting.evaluate_changes()

    @precondition(lambda self: any(a["acknowledged_by"] is None for a in self.h.alerts()))
    @rule(data=st.data())
    def acknowledge(self, data: st.DataObject) -> None:
        choice = data.draw(st.sampled_from([a["id"] for a in self.h.alerts() if a["acknowledged_by"] is None]))
        self.h.alerting.acknowledge(choice, "oper", "seen")

    @rule(label=st.sampled_from([("alertname", "osd_down"), ("object_id", "1"), ("severity", "critical")]),
          minutes=st.integers(1, 30))
    def silence(self, label: tuple[str, str], minutes: int) -> None:
        document = self.h.alerting.create_silence({"matchers": [{"name": label[0], "value": label[1]}],
                                                   "comment": "test", "duration_seconds": minutes * 60}, "oper")
        self.silences.append(document["id"])

    @precondition(lambda self: self.silences)
    @rule(data=st.data())
    def expire(self, data: st.DataObject) -> None:
        choice = data.draw(st.sampled_from(self.silences))
        if self.h.alerting.silence(choice)["state"] != "expired":
            self.h.alerting.expire_silence(choice, "oper")

    @rule(enabled=st.booleans(), seconds=st.sampled_from([0, 30, 600]))
    def tune(self, enabled: bool, seconds: int) -> None:
        self.h.alerting.tune_rule("osd_down", {"enabled": enabled, "for_seconds": seconds}, "oper")

    @invariant()
    def replay_gives_the_live_state(self) -> None:
        service = self.h.service
        assert service.writer.flush(10)
        now = self.h.clock.now
        with service.lock:
            live = alerting_state(service.model, now)
        with tempfile.TemporaryDirectory(prefix="calamari-nosnap-") as empty:
            replayed, position = load_model(empty, service.store)
        assert alerting_state(replayed, now) == live
        snapdir = tempfile.mkdtemp(prefix="calamari-snap-")
        try:
            write_snapshot(snapdir, position, replayed)
            restored, _ = load_model(snapdir, service.store)
            assert alerting_state(restored, now) == live
        finally:
            shutil.rmtree(snapdir, ignore_errors=True)


AlertMachine.TestCase.settings = settings(max_examples=12, stateful_step_count=15, deadline=None, database=None,
                                          suppress_health_check=list(HealthCheck))
TestAlertReplay = AlertMachine.TestCase
