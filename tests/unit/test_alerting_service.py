"""The alerting service as it runs: its thread evaluates the rules as commits arrive (no test
calls a pass), the sink hears of an alert only once its event is stored, a failing sink does not
stop alerting, and after a restart what changed before is read back from the store."""

from __future__ import annotations

from typing import Any

from alert_support import RecordingAlertSink, SimulatedAlerts
from support import wait_for

from calamari.service.alerting import AlertingService


def stored_alert_events(h: SimulatedAlerts) -> list[tuple[str, str]]:
    return [(type(e).__name__, getattr(e, "alert_id", "")) for _, e in h.service.store.read(after=0)
            if type(e).__name__.startswith("Alert")]


def test_the_thread_raises_and_resolves_as_changes_arrive(tmp_path: Any) -> None:
    h = SimulatedAlerts(str(tmp_path))
    seen_stored: list[bool] = []

    class CheckingSink:
        def alert_changed(self, alert: Any) -> None:
            # told only after the change is stored: the raise is in the store already
            seen_stored.append(any(kind == "AlertRaised" and alert_id == alert["id"]
                                   for kind, alert_id in stored_alert_events(h)))
            h.sink.alert_changed(alert)

    try:
        h.alerting.alert_sink = CheckingSink()
        h.alerting.tune_rule("osd_down", {"for_seconds": 0}, "oper")
        h.alerting.interval_s = 3600  # the timer does not run in this test: only changes wake the thread
        h.alerting.start()
        h.stop_osd(4)
        wait_for(lambda: [a for a in h.sink.told if a["state"] == "firing"], timeout=10, what="the alert raised")
        h.start_osd(4)
        wait_for(lambda: [a for a in h.sink.told if a["state"] == "resolved"], timeout=10, what="the alert resolved")
        assert seen_stored and all(seen_stored)
        assert [a["rule"] for a in h.sink.told] == ["osd_down", "osd_down"]
    finally:
        h.alerting.stop()
        h.close()


def test_a_failing_sink_does_not_stop_alerting(tmp_path: Any) -> None:
    h = SimulatedAlerts(str(tmp_path))

    class BrokenSink:
        def alert_changed(self, alert: Any) -> None:
            raise RuntimeError("notifier down")

    try:
        h.alerting.alert_sink = BrokenSink()
        h.alerting.tune_rule("osd_down", {"for_seconds": 0}, "oper")
        h.stop_osd(1)
        h.alerting.evaluate_changes()
        h.stop_osd(2)
        h.alerting.evaluate_changes()
        assert sorted(a["object"]["id"] for a in h.alerts("osd_down", "firing")) == ["1", "2"]
    finally:
        h.close()


def test_after_a_restart_alerts_see_the_changes_from_before_it(tmp_path: Any) -> None:
    h = SimulatedAlerts(str(tmp_path))
    try:
        assert h.sim.execute("osd set", {"key": "noout"})[0] == 0
        h.feed()
        h.service.writer.flush(10)
    finally:
        h.close()
    again = SimulatedAlerts(str(tmp_path))
    try:
        fresh = AlertingService(again.service, clock=again.clock)  # a start on the stored events
        assert fresh.attach().wait(30)
        fresh.tune_rule("osd_down", {"for_seconds": 0}, "oper")
        again.stop_osd(0)
        fresh.evaluate_changes()
        [alert] = [a for a in fresh.alerts() if a["rule"] == "osd_down"]
        messages = [c["message"] or "" for c in alert["changes_before"]]
        # set before the restart (the restarted simulator's first map unsets it again)
        assert any("set noout" in m and "unset" not in m for m in messages), messages
    finally:
        again.close()


def test_the_series_reader_gives_each_matching_metric_its_newest_value(tmp_path: Any) -> None:
    from calamari.adapters.timeseries import WhisperStore
    from calamari.service.alerting import whisper_reader

    now = 1_800_000_000
    store = WhisperStore(str(tmp_path / "whisper"), clock=lambda: now)
    base = "ceph.cluster.f00d.osd"
    store.write(f"{base}.1.apply_latency_ms", [(now - 180, 900.0), (now - 60, 700.0)])
    store.write(f"{base}.2.apply_latency_ms", [(now - 120, 4.0)])
    store.write(f"{base}.3.apply_latency_ms", [(now - 3000, 999.0)])  # older than the look-back
    store.write(f"{base}.1.commit_latency_ms", [(now - 60, 1.0)])
    read = whisper_reader(store, clock=lambda: now)
    assert sorted(read(f"{base}.*.apply_latency_ms", 300)) == [
        (f"{base}.1.apply_latency_ms", 700.0), (f"{base}.2.apply_latency_ms", 4.0)]


def test_the_alert_window_option(tmp_path: Any) -> None:
    import pytest

    from calamari.bootstrap import build_services
    from calamari.service import main as server_main
    from calamari.service.model import ModelService, ServiceConfig

    assert server_main.parse_args([]).alert_window == 1800
    assert server_main.parse_args(["--alert-window", "600"]).alert_window == 600
    for bad in ("0", "-5", "soon"):
        with pytest.raises(SystemExit):
            server_main.parse_args(["--alert-window", bad])
    service = ModelService(ServiceConfig(data_dir=str(tmp_path), snapshot_every_events=1_000_000))
    try:
        from datetime import timedelta

        services = build_services(service, alert_window=timedelta(seconds=600))
        assert services.alerting.changes.window == timedelta(seconds=600)
    finally:
        service.close()


def test_due_in_is_the_time_left_of_the_first_pending_condition(tmp_path: Any) -> None:
    h = SimulatedAlerts(str(tmp_path))
    try:
        h.alerting.tune_rule("osd_down", {"for_seconds": 60}, "oper")
        others = h.alerting.due_in()  # conditions of the simulated cluster's own (5 minutes)
        assert others is None or others > 60
        h.stop_osd(2)
        h.alerting.evaluate_changes()
        h.clock.advance(20)
        h.stop_osd(5)
        h.alerting.evaluate_changes()
        assert h.alerting.due_in() == 40  # osd.2's, the first
        h.alerting.tune_rule("osd_down", {"enabled": False}, "oper")
        left = h.alerting.due_in()  # a disabled rule raises nothing: the others are left
        assert left is None or left > 40
    finally:
        h.close()


def test_a_condition_is_raised_when_its_duration_ends_not_at_the_next_timer_pass(tmp_path: Any) -> None:
    h = SimulatedAlerts(str(tmp_path))
    sink = RecordingAlertSink()
    live = AlertingService(h.service, alert_sink=sink, interval_s=3600)  # the timer alone would wait an hour
    try:
        live.attach()
        live.tune_rule("osd_down", {"for_seconds": 1}, "oper")
        live.start()
        h.stop_osd(4)
        wait_for(lambda: [a for a in sink.told if a["rule"] == "osd_down" and a["state"] == "firing"], 30,
                 "the OSD-down alert once its second has passed")
    finally:
        live.stop()
        h.close()
