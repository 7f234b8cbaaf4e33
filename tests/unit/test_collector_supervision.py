"""A collector's thread must not die silently: a failure of its loop is logged, the loop restarts
and the server hears why; a map the protocol cannot carry (an integer beyond 64 bits, which once
killed the thread after a CRUSH change) is not sent, the cluster is reported unreachable with the
reason instead of going silently stale, and the command that produced it fails with that reason."""

from __future__ import annotations

from functools import partial
from typing import Any

import support
from recording_sink import UnreachableRecordingSink
from support import collector_on_bus

from collector.simulator import SimulatedCluster

SPEC = "hosts=2,osds=4,pools=1,pgs=16,seed=2,churn=0.5"


wait_for = partial(support.wait_for, timeout=8.0)


class FailingOnce(SimulatedCluster):
    """A source with a bug: the n-th call of reporting_hosts (from the loop's heartbeats) raises."""

    def __init__(self, spec: str, fail_at: int) -> None:
        super().__init__(spec)
        self.calls = 0
        self.fail_at = fail_at

    def reporting_hosts(self) -> list[str]:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("a bug in the source")
        return super().reporting_hosts()


def test_a_failing_loop_is_restarted_and_the_server_hears_why(caplog) -> None:
    cluster = FailingOnce(SPEC, fail_at=3)
    with collector_on_bus(cluster) as (sink, bus, collector):
        wait_for(lambda: collector.counters["restarts"] == 1, what="the loop restarted")
        assert "a bug in the source" in (collector.last_failure or "")
        assert "the collector loop failed" in caplog.text
        wait_for(lambda: any("restarted after an error: RuntimeError: a bug in the source" in (c["last_error"] or "")
                             for c in bus.counters().values()), what="the server told why")
        # and it goes on: newer maps keep arriving after the restart
        seen = sink.version(cluster.fsid, "osd_map") or 0
        wait_for(lambda: (sink.version(cluster.fsid, "osd_map") or 0) > seen + 2, what="maps after the restart")
        assert collector._thread is not None and collector._thread.is_alive()


class Unencodable(SimulatedCluster):
    """A cluster whose maps, while `poisoned`, hold an integer no msgpack frame can carry."""

    poisoned = False

    def _poison(self, objects: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
        if self.poisoned and "osd_map" in objects:
            version, data = objects["osd_map"]
            objects = {**objects, "osd_map": (version, {**data, "crush_id": -99999999999999999999999})}
        return objects

    def poll(self) -> dict[str, tuple[Any, Any]]:
        return self._poison(super().poll())

    def current(self, name: str) -> tuple[Any, Any] | None:
        held = super().current(name)
        return None if held is None else self._poison({name: held})[name]


def test_a_map_that_cannot_be_sent_fails_the_command_and_reports_the_cluster_unreachable() -> None:
    cluster = Unencodable("hosts=2,osds=4,pools=1,pgs=16,seed=2")  # no churn: only the command changes maps
    with collector_on_bus(cluster, UnreachableRecordingSink()) as (sink, bus, collector):
        wait_for(lambda: sink.version(cluster.fsid, "osd_map") is not None, what="first maps")
        before = sink.version(cluster.fsid, "osd_map")
        cluster.poisoned = True
        assert bus.send_command(cluster.fsid, "req-1", "osd pool create", {"pool": "made", "pg_num": 8})
        wait_for(lambda: any(r[0] == "req-1" for r in sink.command_results), what="the command's result")
        (_, rc, _, err), = [r for r in sink.command_results if r[0] == "req-1"]
        assert rc != 0 and "Ceph ran the command, but the cluster's osd_map" in err and "cannot be sent" in err
        wait_for(lambda: sink.unreachable, what="the cluster reported unreachable")
        wait_for(lambda: any("osd_map" in (c["last_error"] or "") for c in bus.counters().values()),
                 what="the reason reached the server")
        assert sink.version(cluster.fsid, "osd_map") == before
        assert collector.counters["unsendable"] >= 1 and collector.counters["restarts"] == 0

        # the thread lives on: once the map can be sent, it arrives, and the cluster is reachable again
        cluster.poisoned = False
        assert bus.send_command(cluster.fsid, "req-2", "osd pool create", {"pool": "other", "pg_num": 8})
        wait_for(lambda: (sink.version(cluster.fsid, "osd_map") or 0) > before, what="the map after the cure")
        assert ("req-2", 0, "", "pool 'other' created") in sink.command_results
        assert {"made", "other"} <= {p["pool_name"] for p in sink.data(cluster.fsid, "osd_map")["pools"]}
        assert not collector.unsendable


def test_a_result_that_cannot_be_sent_is_replaced_by_a_failure() -> None:
    class HugeOutput(SimulatedCluster):
        def execute(self, prefix: str, args: dict[str, Any], target: str = "mon", input: str | None = None):  # noqa: A002
            if prefix == "osd dump":
                return 0, {"epoch": 1 << 70}, ""
            return super().execute(prefix, args, target, input=input)

    cluster = HugeOutput("hosts=1,osds=3,pools=1,pgs=8,seed=1")
    with collector_on_bus(cluster) as (sink, bus, collector):
        wait_for(lambda: sink.version(cluster.fsid, "osd_map") is not None, what="first maps")
        assert bus.send_command(cluster.fsid, "cli-1", "osd dump", {})
        wait_for(lambda: any(r[0] == "cli-1" for r in sink.command_results), what="the result")
        (_, rc, _, err), = [r for r in sink.command_results if r[0] == "cli-1"]
        assert rc != 0 and "result cannot be sent" in err
        assert collector.counters["restarts"] == 0
