"""A collector running the simulator (and replayed captures) against the real bus adapter."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zmq
from recording_sink import RecordingSink
from support import collector_on_bus, fast_collector, received_of_type, wait_for

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from collector.replay import ReplaySource
from collector.simulator import SimulatedCluster

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "ceph-pacific-3osd"


def test_simulated_cluster_reaches_the_sink_with_deltas_and_runs_commands() -> None:
    cluster = SimulatedCluster("hosts=4,osds=16,pools=3,pgs=256,seed=5,churn=0.05")
    with collector_on_bus(cluster) as (sink, bus, collector):
        wait_for(lambda: set(sink.sync_versions(cluster.fsid)) == protocol.SYNC_NAMES)
        wait_for(lambda: collector.counters["syncs_delta"] > 5)
        # what the server rebuilt from deltas equals what the simulator produced
        wait_for(lambda: sink.version(cluster.fsid, "osd_map") == cluster.epoch, timeout=3)
        assert sink.data(cluster.fsid, "osd_map") == cluster.osd_map()
        assert bus.send_command(cluster.fsid, "req-1", "osd pool create", {"pool": "made", "pg_num": 8})
        wait_for(lambda: any(r[0] == "req-1" for r in sink.command_results))
        assert sink.command_results[0] == ("req-1", 0, "", "pool 'made' created")
        wait_for(lambda: "made" in {p["pool_name"] for p in sink.data(cluster.fsid, "osd_map")["pools"]})
        hosts = {host for _, host in sink.heartbeats}
        wait_for(lambda: {f["hostname"] for _, f in sink.facts} == set(cluster.hosts))
        assert set(cluster.hosts) <= hosts | {h for _, h in sink.heartbeats}
        assert sink.log_lines  # flaps were logged
        assert bus.totals()["rejects"] == 0


def test_command_results_are_resent_until_acknowledged() -> None:
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    cluster = SimulatedCluster("hosts=1,osds=3,pools=1,pgs=8,seed=1")
    collector = fast_collector(cluster, f"tcp://127.0.0.1:{port}")
    collector.start()
    try:
        identity, _ = router.recv_multipart()  # hello
        command = protocol.encode("command", {"request_id": "r9", "prefix": "osd set", "args": {"key": "noout"},
                                              "target": "mon"}, fsid=cluster.fsid, host="server", seq=1)
        router.send_multipart([identity, command])
        assert received_of_type(router, "command_result", 3, timeout=5) == 3  # never acknowledged: resent
        router.send_multipart([identity, protocol.encode("ack", {"command_result": "r9"}, fsid=cluster.fsid,
                                                         host="server", seq=2)])
        router.send_multipart([identity, command])  # a duplicate: answered again, not run again
        assert received_of_type(router, "command_result", 1, timeout=3) == 1
        router.send_multipart([identity, protocol.encode("ack", {"command_result": "r9"}, fsid=cluster.fsid,
                                                         host="server", seq=3)])
        time.sleep(0.3)
        while router.poll(50):
            router.recv_multipart()
        time.sleep(0.6)
        later = 0
        while router.poll(50):
            later += protocol.decode(router.recv_multipart()[1]).type == "command_result"
        assert later == 0
        assert collector.counters["commands"] == 1
    finally:
        collector.stop()
        router.close(0)


def test_collector_recovers_when_the_server_restarts() -> None:
    first_sink = RecordingSink()
    bus = CollectorBus(first_sink, "tcp://127.0.0.1:0")  # the port is ours from the start
    bus.start()
    endpoint = bus.bound_endpoint
    cluster = SimulatedCluster("hosts=2,osds=4,pools=1,pgs=16,seed=2")
    collector = fast_collector(cluster, endpoint)
    collector.start()
    try:
        wait_for(lambda: first_sink.version(cluster.fsid, "osd_map") is not None)
        bus.stop()
        second_sink = RecordingSink()  # a restarted server that lost everything
        bus = CollectorBus(second_sink, endpoint)
        for _ in range(50):  # the port was free a moment ago; another program may hold it briefly
            try:
                bus.start()
                break
            except Exception:
                time.sleep(0.1)
                bus = CollectorBus(second_sink, endpoint)
        else:
            pytest.fail(f"could not bind {endpoint} again")
        # it asks for a hello, the heartbeat shows newer versions, full objects are resent
        wait_for(lambda: set(second_sink.sync_versions(cluster.fsid)) == protocol.SYNC_NAMES, timeout=8)
        assert second_sink.data(cluster.fsid, "osd_map") == cluster.osd_map()
    finally:
        collector.stop()
        bus.stop()


@pytest.mark.skipif(not FIXTURES.exists(), reason="Ceph 16.2 captures not available")
def test_replayed_captures_arrive_as_if_live() -> None:
    source = ReplaySource(FIXTURES, interval=0.05)
    with collector_on_bus(source) as (sink, bus, collector):
        wait_for(lambda: sink.version(source.fsid, "osd_map") == 49)
        osd_map = sink.data(source.fsid, "osd_map")
        assert osd_map["flags_set"] and "scrubbing" not in osd_map["flags"]
        wait_for(lambda: sink.version(source.fsid, "pg_summary") == 168)
        assert sink.data(source.fsid, "pg_summary")["num_pgs"] == 65
        assert collector.counters["syncs_delta"] >= 10  # later steps went as deltas
        assert bus.totals()["rejects"] == 0
