"""What the alert tests share: a model service fed by a simulated cluster, an alerting service on
a clock the test moves, and a sink recording what the notifier would be told."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calamari.service.alerting import AlertingService
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.captures import content_hash
from collector.simulator import SimulatedCluster

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingAlertSink:
    def __init__(self) -> None:
        self.told: list[dict[str, Any]] = []

    def alert_changed(self, alert: Any) -> None:
        self.told.append(dict(alert))


class SimulatedAlerts:
    """A simulated cluster reporting to a ModelService, with alerting over it."""

    def __init__(self, data_dir: str, spec: str = "hosts=3,osds=9,pools=2,pgs=64", series: Any = None) -> None:
        self.clock = Clock()
        self._bumps = 0
        self.data_dir = data_dir
        self.sim = SimulatedCluster(spec, clock=lambda: self.clock.now.timestamp())
        self.fsid = self.sim.fsid
        self.service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=1_000_000))
        self.sink = RecordingAlertSink()
        self.alerting = AlertingService(self.service, alert_sink=self.sink, clock=self.clock, series=series)
        self.alerting.attach()
        self.feed()

    def feed(self) -> None:
        """One poll of the simulated cluster, as the collector would send it."""
        for name, (version, data) in self.sim.poll().items():
            self.service.on_sync_object(self.fsid, name, version, data, self.clock.now)

    def send(self, name: str, data: Any, version: Any = None) -> None:
        if version is None:
            version = content_hash(data)
        self.service.on_sync_object(self.fsid, name, version, data, self.clock.now)

    def health(self, status: str, checks: dict[str, tuple[str, str]]) -> None:
        """Report a health document: code -> (severity, message)."""
        self.send("health", {"status": status, "mutes": [], "checks": {
            code: {"severity": sev, "summary": {"message": msg, "count": 1}, "detail": [], "muted": False}
            for code, (sev, msg) in checks.items()}})

    def pg_states(self, by_state: dict[str, int]) -> None:
        version, data = self.sim.current("pg_summary")
        data = copy.deepcopy(data)
        data["by_state"] = by_state
        data["by_pool"] = {}
        self._bumps += 1  # each report newer than the one before
        self.send("pg_summary", data, version + 1000 + self._bumps)

    def quorum(self, members: int) -> None:
        version, data = self.sim.current("mon_status")
        data = copy.deepcopy(data)
        data["quorum"] = list(range(members))
        data["quorum_names"] = data["quorum_names"][:members]
        self._bumps += 1
        data["election_epoch"] = version + 10 + self._bumps
        self.send("mon_status", data, version + 10 + self._bumps)

    def stop_osd(self, osd_id: int) -> None:
        """The daemon dies: down, and it does not come back by itself."""
        with self.sim._lock:
            self.sim.state.mark_down(osd_id, "daemon stopped")
            self.sim.state.bump_epoch()
        self.feed()

    def start_osd(self, osd_id: int) -> None:
        with self.sim._lock:
            self.sim.state.mark_up(osd_id)
            self.sim.state.bump_epoch()
        self.feed()

    def submit_pool_update(self, request_id: str, user: str) -> None:
        """A user's request to change pool 'rbd', recorded as submitted (its commands are never sent)."""
        with self.service.durable() as model:
            model.submit_request(request_id, self.fsid, user, "pool", "update", "Update pool 'rbd'", {"size": 2},
                                 [{"prefix": "osd pool set"}], self.clock.now)

    def later(self, seconds: float) -> list[dict[str, Any]]:
        """The changes so far are evaluated as they arrived (as the service's thread does), then
        time passes and the timer's pass runs."""
        self.alerting.evaluate_changes()
        self.clock.advance(seconds)
        return self.alerting.evaluate_all()

    def alerts(self, rule: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.alerting.alerts()
                if (rule is None or a["rule"] == rule) and (state is None or a["state"] == state)]

    def close(self) -> None:
        self.service.close()


def alerts_fixture() -> Any:
    """A test module's fixture: a SimulatedAlerts in the test's tmp_path, closed after."""

    @pytest.fixture
    def sim_alerts(tmp_path: Any) -> Iterator[SimulatedAlerts]:
        harness = SimulatedAlerts(str(tmp_path))
        harness.alerting.evaluate_all()  # the cluster's first state: nothing has lasted long enough yet
        yield harness
        harness.close()

    return sim_alerts
