"""The agent's version checks between polls: a source that has them (a real cluster) gets its
changed maps sent without waiting for the next poll; checks stop while the cluster does not
answer; the loop sleeps between them rather than spinning."""

from __future__ import annotations

import threading
import time
from typing import Any

from recording_sink import RecordingSink, UnreachableRecordingSink

from calamari.adapters.bus import CollectorBus
from collector.agent import Collector
from collector.logs import HostLogs
from collector.source import ReportTracker, VersionChecking

FSID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
NEVER = 3600.0  # a poll interval no test waits for: what arrives after the first poll came from a check


def wait_for(condition, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"{what} not met in time")


class CheckedSource:
    """An OSD map that changes when a test says so, read by polls and by checks alike."""

    hostname = "checked-host"

    def __init__(self) -> None:
        self.fsid: str | None = FSID
        self.lock = threading.Lock()
        self.epoch = 1
        self.polls = 0
        self.checks = 0
        self.fail_checks: Exception | None = None
        self._tracker = ReportTracker()

    def _changed(self) -> dict[str, tuple[Any, Any]]:
        return self._tracker.changed({"osd_map": (self.epoch, {"epoch": self.epoch, "osds": [], "pools": []})})

    def poll(self) -> dict[str, tuple[Any, Any]]:
        with self.lock:
            self.polls += 1
            return self._changed()

    def check(self) -> dict[str, tuple[Any, Any]]:
        with self.lock:
            if self.fail_checks is not None:
                raise self.fail_checks
            self.checks += 1
            return self._changed()

    def current(self, name: str) -> tuple[Any, Any] | None:
        return (self.epoch, {"epoch": self.epoch, "osds": [], "pools": []}) if name == "osd_map" else None

    def cluster_log(self) -> list[dict[str, Any]]:
        return []

    def server_facts(self) -> list[tuple[str, dict[str, Any]]]:
        return []

    def stats(self) -> list[tuple[str, list[list[Any]]]]:
        return []

    def reporting_hosts(self) -> list[str]:
        return [self.hostname]

    def execute(self, prefix: str, args: dict[str, Any], target: str = "mon",
                input: str | None = None) -> tuple[int, Any, str]:  # noqa: A002
        return -22, "", "not here"

    def host_logs(self, host: str) -> HostLogs | None:
        return None

    def close(self) -> None:
        return None


def running(source: CheckedSource, sink: RecordingSink) -> tuple[CollectorBus, Collector]:
    bus = CollectorBus(sink, "tcp://127.0.0.1:0")
    bus.start()
    collector = Collector(source, bus.bound_endpoint, poll_interval=NEVER, check_interval=0.02,
                          heartbeat_interval=0.2, stats_interval=NEVER)
    collector.start()
    return bus, collector


def test_a_source_with_checks_is_recognised() -> None:
    assert isinstance(CheckedSource(), VersionChecking)
    assert not isinstance(object(), VersionChecking)


def test_a_change_is_sent_by_the_next_check_not_the_next_poll() -> None:
    source, sink = CheckedSource(), RecordingSink()
    bus, collector = running(source, sink)
    try:
        wait_for(lambda: sink.version(FSID, "osd_map") == 1, what="the first map")
        for epoch in (2, 3, 4):
            with source.lock:
                source.epoch = epoch
            wait_for(lambda e=epoch: sink.version(FSID, "osd_map") == e, what=f"epoch {epoch} at the server")
        assert source.polls == 1  # only the first: the changes came with checks
        assert collector.counters["syncs_delta"] >= 3
    finally:
        collector.stop()
        bus.stop()


def test_the_loop_sleeps_between_checks_rather_than_spinning() -> None:
    source, sink = CheckedSource(), RecordingSink()
    bus, collector = running(source, sink)
    try:
        wait_for(lambda: source.checks >= 40, what="40 checks")
        # each turn of the loop is a check, a heartbeat or a message; a wait rounded down to 0 ms
        # would turn it dozens of times before each check
        assert collector.counters["wakeups"] <= 3 * source.checks + 20
    finally:
        collector.stop()
        bus.stop()


def test_checks_pause_while_the_cluster_does_not_answer_and_the_server_hears_it() -> None:
    source, sink = CheckedSource(), UnreachableRecordingSink()
    bus, collector = running(source, sink)
    try:
        wait_for(lambda: source.checks >= 3, what="checks")
        with source.lock:
            source.fail_checks = TimeoutError("monitors do not answer")
        wait_for(lambda: collector.cluster_error is not None, what="the failure noticed")
        assert "monitors do not answer" in collector.cluster_error
        wait_for(lambda: sink.unreachable, what="the server told")
        errors = collector.counters["source_errors"]
        wakeups = collector.counters["wakeups"]
        wait_for(lambda: collector.counters["wakeups"] >= wakeups + 10, what="ten more turns of the loop")
        # each check would wait for the same timeout again: only polls try again
        assert collector.counters["source_errors"] == errors == 1
    finally:
        collector.stop()
        bus.stop()
