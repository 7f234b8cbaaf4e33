"""Each built-in alert rule raises on a simulated cluster once its condition has held for the
rule's duration, is told to the alert sink after it is stored, and resolves when the condition
ends; user threshold rules on model values and series do the same."""

from __future__ import annotations

import pytest
from alert_support import SimulatedAlerts, alerts_fixture

from calamari.domain.alerts.rules import BUILTIN_RULES

sim_alerts = alerts_fixture()


def firing(h: SimulatedAlerts, rule: str) -> list[dict]:
    return h.alerts(rule, "firing")


def test_osd_down_raises_after_its_duration_and_resolves_when_it_comes_up(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.stop_osd(3)
    h.alerting.evaluate_changes()
    assert firing(h, "osd_down") == []  # not yet: down for less than the rule's duration
    h.later(BUILTIN_RULES["osd_down"].for_seconds - 10)
    assert firing(h, "osd_down") == []
    h.later(20)
    [alert] = firing(h, "osd_down")
    assert alert["object"] == {"kind": "osd", "id": "3"} and alert["cluster"] == h.fsid
    assert alert["severity"] == "warning" and alert["acknowledged_by"] is None and not alert["silenced"]
    assert h.sink.told[-1]["id"] == alert["id"] and h.sink.told[-1]["state"] == "firing"
    h.start_osd(3)
    h.alerting.evaluate_changes()  # as the change arrives, no timer needed
    [resolved] = h.alerts("osd_down")
    assert resolved["state"] == "resolved" and resolved["resolved_at"] is not None
    assert h.sink.told[-1]["id"] == alert["id"] and h.sink.told[-1]["state"] == "resolved"


def test_an_osd_back_before_the_duration_raises_nothing(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.stop_osd(2)
    h.later(60)
    h.start_osd(2)
    h.alerting.evaluate_changes()
    h.later(BUILTIN_RULES["osd_down"].for_seconds)
    assert h.alerts("osd_down") == []


def test_all_osds_of_a_host_down(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    first, *rest = h.sim.host_osds[0]
    h.stop_osd(first)
    h.later(BUILTIN_RULES["host_osds_down"].for_seconds + 1)
    assert firing(h, "host_osds_down") == []  # the host's other OSDs are up
    for osd in rest:
        h.stop_osd(osd)
    h.alerting.evaluate_changes()
    h.later(BUILTIN_RULES["host_osds_down"].for_seconds + 1)
    [alert] = firing(h, "host_osds_down")
    host = h.service.model.osds[h.fsid][first].host
    assert alert["object"] == {"kind": "host", "id": host}
    assert len(firing(h, "osd_down")) == len(h.sim.host_osds[0])
    h.start_osd(rest[0])
    h.alerting.evaluate_changes()
    assert firing(h, "host_osds_down") == []


@pytest.mark.parametrize(("rule", "status", "checks"), [
    ("health_error", "HEALTH_ERR", {"MON_DISK_CRIT": ("HEALTH_ERR", "mon disk critical")}),
    ("health_warning", "HEALTH_WARN", {"OSDMAP_FLAGS": ("HEALTH_WARN", "noout flag(s) set")}),
    ("osd_nearfull", "HEALTH_WARN", {"OSD_NEARFULL": ("HEALTH_WARN", "1 nearfull osd(s)")}),
    ("osd_full", "HEALTH_ERR", {"OSD_FULL": ("HEALTH_ERR", "1 full osd(s)")}),
    ("pool_near_full", "HEALTH_WARN", {"POOL_NEAR_FULL": ("HEALTH_WARN", "1 pool(s) nearfull")}),
    ("pool_full", "HEALTH_WARN", {"POOL_FULL": ("HEALTH_WARN", "1 pool(s) full")}),
])
def test_health_rules(sim_alerts: SimulatedAlerts, rule: str, status: str, checks: dict) -> None:
    h = sim_alerts
    h.health(status, checks)
    h.alerting.evaluate_changes()
    h.later(BUILTIN_RULES[rule].for_seconds + 1)
    [alert] = firing(h, rule)
    assert alert["object"] == {"kind": "cluster", "id": h.fsid}
    assert alert["severity"] == BUILTIN_RULES[rule].severity
    if rule not in ("health_error", "health_warning"):
        assert next(iter(checks)) in alert["description"]
    h.health("HEALTH_OK", {})
    h.alerting.evaluate_changes()
    assert firing(h, rule) == [] and h.alerts(rule, "resolved")


def test_muted_health_checks_raise_nothing(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.send("health", {"status": "HEALTH_OK", "mutes": [{"code": "OSD_FULL"}], "checks": {
        "OSD_FULL": {"severity": "HEALTH_ERR", "summary": {"message": "1 full osd(s)", "count": 1}, "detail": [],
                     "muted": True}}})
    h.later(BUILTIN_RULES["osd_full"].for_seconds + 1)
    assert h.alerts("osd_full") == []


@pytest.mark.parametrize(("rule", "states"), [
    ("pgs_inactive", {"peering": 5, "active+clean": 59}),
    ("pgs_unclean", {"active+undersized+degraded": 7, "active+clean": 57}),
])
def test_pg_rules(sim_alerts: SimulatedAlerts, rule: str, states: dict) -> None:
    h = sim_alerts
    h.pg_states({"active+clean": 64})
    h.later(1)
    h.pg_states(states)
    h.later(BUILTIN_RULES[rule].for_seconds + 1)
    [alert] = firing(h, rule)
    bad = sum(n for s, n in states.items() if s != "active+clean")
    assert f": {bad} on cluster" in alert["summary"]
    h.pg_states({"active+clean": 64})
    h.alerting.evaluate_changes()
    assert firing(h, rule) == []


def test_monitor_quorum_reduced_then_lost(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.quorum(2)  # of 3
    h.later(BUILTIN_RULES["mon_quorum_reduced"].for_seconds + 1)
    assert [a["summary"].endswith("2 of 3 monitors in quorum") for a in firing(h, "mon_quorum_reduced")] == [True]
    assert firing(h, "mon_quorum_lost") == []
    h.quorum(1)
    h.alerting.evaluate_changes()
    assert firing(h, "mon_quorum_reduced") == []
    h.later(BUILTIN_RULES["mon_quorum_lost"].for_seconds + 1)
    [lost] = firing(h, "mon_quorum_lost")
    assert lost["severity"] == "critical"
    h.quorum(3)
    h.alerting.evaluate_changes()
    assert firing(h, "mon_quorum_lost") == [] and firing(h, "mon_quorum_reduced") == []


def test_collector_out_of_contact_and_cluster_stale(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    for fsid, facts in [(h.fsid, f) for _, f in h.sim.server_facts()]:
        h.service.on_server_facts(fsid, facts, h.clock.now)
    host = h.sim.server_facts()[0][1]["fqdn"]
    h.service.on_heartbeat(h.fsid, host, h.clock.now)
    h.clock.advance(120)
    h.service.check_contact(h.clock.now, 60)
    h.alerting.evaluate_changes()
    [stale] = firing(h, "cluster_stale")
    assert stale["object"] == {"kind": "cluster", "id": h.fsid} and stale["severity"] == "critical"
    collectors = {a["object"]["id"] for a in firing(h, "collector_contact_lost")}
    assert host in collectors and all(a["cluster"] is None for a in firing(h, "collector_contact_lost"))
    # what a stale cluster shows is old news: no OSD alerts are raised from it meanwhile
    h.stop_osd(1)
    h.later(BUILTIN_RULES["osd_down"].for_seconds + 1)
    assert firing(h, "osd_down") == []
    h.service.on_heartbeat(h.fsid, host, h.clock.now)
    h.alerting.evaluate_changes()
    assert firing(h, "cluster_stale") == []
    assert host not in {a["object"]["id"] for a in firing(h, "collector_contact_lost")}


def _failed_request(h: SimulatedAlerts, request_id: str = "req-1") -> None:
    with h.service.durable() as model:
        model.submit_request(request_id, h.fsid, "oper", "pool", "update", "Update pool 'rbd'", {"size": 9},
                             [{"prefix": "osd pool set"}], h.clock.now)
    with h.service.durable() as model:
        model.request_failed(request_id, "Error EINVAL: pool size must be between 1 and 10", h.clock.now)


def test_a_failed_request_alerts_and_resolves_after_keep_seconds(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    _failed_request(h)
    h.alerting.evaluate_changes()
    [alert] = firing(h, "request_failed")
    assert alert["object"] == {"kind": "request", "id": "req-1"}
    assert "(by oper)" in alert["summary"] and "EINVAL" in alert["description"]
    h.later(BUILTIN_RULES["request_failed"].params["keep_seconds"] + 1)
    assert firing(h, "request_failed") == []


def test_osd_latency_over_the_series_threshold(tmp_path) -> None:
    values: dict[str, float] = {}

    def series(pattern: str, seconds: int) -> list[tuple[str, float]]:
        prefix = pattern.rsplit("osd.*.", 1)[0]
        return [(f"{prefix}osd.{i}.apply_latency_ms", v) for i, v in values.items()] if "osd.*" in pattern else []

    h = SimulatedAlerts(str(tmp_path), series=series)
    try:
        values.update({0: 3.0, 1: 900.0})
        h.later(1)
        h.later(BUILTIN_RULES["osd_high_apply_latency"].for_seconds + 1)
        [alert] = firing(h, "osd_high_apply_latency")
        assert alert["object"] == {"kind": "osd", "id": "1"} and "900" in alert["summary"]
        values[1] = 2.0
        h.later(5)
        assert firing(h, "osd_high_apply_latency") == []
    finally:
        h.close()


def test_a_user_threshold_rule_on_a_model_value(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.alerting.define_rule({"name": "osd_reweighted", "kind": "threshold", "severity": "info",
                            "summary": "OSD reweighted", "for_seconds": 0,
                            "params": {"subject": "osd", "field": "reweight", "op": "<", "value": 1.0}}, "oper")
    assert h.alerts("osd_reweighted") == []
    assert h.sim.execute("osd reweight", {"id": 4, "weight": 0.5})[0] == 0
    h.feed()
    h.alerting.evaluate_changes()
    [alert] = firing(h, "osd_reweighted")
    assert alert["object"] == {"kind": "osd", "id": "4"} and alert["severity"] == "info"
    h.sim.execute("osd reweight", {"id": 4, "weight": 1.0})
    h.feed()
    h.alerting.evaluate_changes()
    assert firing(h, "osd_reweighted") == []


def test_a_user_threshold_rule_on_a_cluster_value(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.alerting.define_rule({"name": "two_osds_down", "kind": "threshold", "severity": "critical",
                            "summary": "Two OSDs down", "params": {"subject": "cluster", "field": "osds_down",
                                                                  "op": ">=", "value": 2}}, "oper")
    h.stop_osd(0)
    h.alerting.evaluate_changes()
    assert firing(h, "two_osds_down") == []
    h.stop_osd(5)
    h.alerting.evaluate_changes()
    [alert] = firing(h, "two_osds_down")
    assert alert["object"]["kind"] == "cluster"


def test_disabling_a_rule_resolves_its_alerts_and_tuning_it_applies(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.alerting.tune_rule("osd_down", {"for_seconds": 30}, "oper")
    h.stop_osd(6)
    h.later(31)
    [alert] = firing(h, "osd_down")
    h.alerting.tune_rule("osd_down", {"enabled": False}, "oper")
    assert firing(h, "osd_down") == []
    h.later(60)
    assert firing(h, "osd_down") == []
    h.alerting.tune_rule("osd_down", {"enabled": True, "severity": "critical"}, "oper")
    h.later(31)
    [again] = firing(h, "osd_down")
    assert again["id"] != alert["id"] and again["severity"] == "critical"


def test_an_alert_carries_what_changed_before_it(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.alerting.tune_rule("osd_down", {"for_seconds": 60}, "oper")
    h.sim.execute("osd set", {"key": "noscrub"})  # before the window: too old to tell
    h.feed()
    h.clock.advance(h.alerting.changes.window.total_seconds() + 60)  # what follows is inside the window
    assert h.sim.execute("osd set", {"key": "noout"})[0] == 0
    h.sim.execute("osd reweight", {"id": 4, "weight": 0.7})  # in the window, but another OSD
    h.feed()
    h.submit_pool_update("req-9", "oper")
    h.clock.advance(5)
    h.stop_osd(3)
    h.later(61)
    [alert] = firing(h, "osd_down")
    changes = alert["changes_before"]
    kinds = [(c["type"], c["object"]["kind"], c["object"]["id"]) for c in changes]
    assert ("ClusterFlagsChanged", "cluster", h.fsid) in kinds
    assert ("OsdMarkedDown", "osd", "3") in kinds
    [request] = [c for c in changes if c["type"] == "UserRequestSubmitted"]
    assert request["user"] == "oper" and request["object"] == {"kind": "request", "id": "req-9"}
    assert not [c for c in changes if c["object"]["kind"] == "osd" and c["object"]["id"] != "3"]
    assert not [c for c in changes if "noscrub" in (c["message"] or "")]
    assert [c for c in changes if "noout" in (c["message"] or "")]
    assert [c["time"] for c in changes] == sorted(c["time"] for c in changes)
    assert all(c["time"] <= alert["raised_at"] for c in changes)
    # the alert keeps them: they are part of its stored events
    with h.service.lock:
        assert h.service.model.alerts[alert["id"]].changes_before == changes


def test_an_osd_moved_to_another_host_counts_for_its_new_host(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.alerting.tune_rule("host_osds_down", {"for_seconds": 0}, "oper")
    stays_up, *others = h.sim.host_osds[0]
    for osd in others:
        h.stop_osd(osd)
    h.alerting.evaluate_changes()
    assert firing(h, "host_osds_down") == []  # host 0 still has an OSD up
    model_osds = h.service.model.osds[h.fsid]
    source, target = model_osds[stays_up].host, model_osds[h.sim.host_osds[1][0]].host
    target_osds = list(h.sim.host_osds[1])
    rc, _, err = h.sim.execute("osd crush move", {"name": f"osd.{stays_up}", "args": [f"host={target}"]})
    assert rc == 0, err
    h.feed()
    h.alerting.evaluate_changes()  # the move is a change: host 0 now holds only down OSDs
    [alert] = firing(h, "host_osds_down")
    assert alert["object"] == {"kind": "host", "id": source}
    for osd in target_osds:  # the new host's own OSDs go down, the moved one is up there
        h.stop_osd(osd)
    h.alerting.evaluate_changes()
    assert [a["object"]["id"] for a in firing(h, "host_osds_down")] == [source]


def test_an_alert_raised_again_at_the_same_time_is_a_new_alert(sim_alerts: SimulatedAlerts) -> None:
    h = sim_alerts
    h.alerting.tune_rule("osd_down", {"for_seconds": 0}, "oper")
    h.stop_osd(7)
    h.alerting.evaluate_changes()
    # resolved and raised again without the clock moving: two alerts, both stored
    h.alerting.tune_rule("osd_down", {"enabled": False}, "oper")
    h.alerting.tune_rule("osd_down", {"enabled": True}, "oper")
    alerts = h.alerts("osd_down")
    assert sorted(a["state"] for a in alerts) == ["firing", "resolved"]
    assert len({a["id"] for a in alerts}) == 2
    h.service.writer.flush(10)
    stored = {e.alert_id for _, e in h.service.store.read(after=0) if type(e).__name__ == "AlertRaised"}
    assert stored == {a["id"] for a in alerts}
