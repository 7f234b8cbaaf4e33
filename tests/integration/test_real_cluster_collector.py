"""The collector against a real Ceph 16.2 cluster: same shapes as the simulator, commands work."""

from __future__ import annotations

import os
from functools import partial

import pytest
import support
from recording_sink import RecordingSink

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from collector.agent import Collector
from collector.ceph_source import CephSource
from collector.simulator import SimulatedCluster

pytestmark = pytest.mark.integration


wait_for = partial(support.wait_for, timeout=20.0)


def shape(value, depth: int = 0):
    """The key structure of a JSON value, down to the first entry of lists."""
    if depth > 2:
        return type(value).__name__
    if isinstance(value, dict):
        return {key: shape(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0], depth + 1)] if value else []
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


@pytest.fixture(scope="module")
def live(ceph_cluster):
    sink = RecordingSink()
    points: list = []
    bus = CollectorBus(sink, "tcp://127.0.0.1:0", stats_sink=lambda fsid, host, pts: points.extend(pts))
    bus.start()
    source = CephSource(ceph_cluster["conf"])
    collector = Collector(source, bus.bound_endpoint, poll_interval=0.5, heartbeat_interval=1.0,
                          stats_interval=1.0)
    collector.start()
    try:
        wait_for(lambda: set(sink.sync_versions(source.fsid)) == protocol.SYNC_NAMES)
        yield {"sink": sink, "bus": bus, "source": source, "collector": collector, "points": points}
    finally:
        collector.stop()
        bus.stop()
        source.close()


def test_every_sync_object_arrives_with_the_shape_the_simulator_produces(live) -> None:
    sink, fsid = live["sink"], live["source"].fsid
    simulated = SimulatedCluster("hosts=1,osds=3,pools=1,pgs=8,seed=1").sync_objects()
    for name in sorted(protocol.SYNC_NAMES):
        version, data = sink.sync_object(fsid, name)
        assert isinstance(version, protocol.SYNC_VERSION_KIND[name]), name
        sim_version, sim_data = simulated[name]
        assert type(data) is type(sim_data), name
        if name == "config":
            continue  # a fresh cluster has an empty config dump
        if isinstance(data, dict):
            assert set(data) == set(sim_data), (name, set(data) ^ set(sim_data))
        else:
            assert set(data[0]) == set(sim_data[0]), name
    osd_map = sink.data(fsid, "osd_map")
    sim_map = simulated["osd_map"][1]
    assert shape(osd_map["osds"][0]) == shape(sim_map["osds"][0])
    assert set(osd_map["pools"][0]) == set(sim_map["pools"][0])
    summary = sink.data(fsid, "pg_summary")
    assert shape(summary)["io"] == shape(simulated["pg_summary"][1])["io"]
    assert sum(summary["by_state"].values()) == summary["num_pgs"] > 0
    assert sink.version(fsid, "osd_map") == osd_map["epoch"]
    assert sink.version(fsid, "crush_map") == osd_map["crush_version"]


def test_server_facts_and_stats_of_this_host(live) -> None:
    sink, fsid = live["sink"], live["source"].fsid
    wait_for(lambda: sink.facts and live["points"])
    _, facts = sink.facts[-1]
    simulated_facts = SimulatedCluster("hosts=1,osds=3,pools=1,pgs=8,seed=1").server_facts()[0][1]
    assert set(facts) == set(simulated_facts)
    kinds = {(s["type"], s["id"]) for s in facts["services"]}
    assert {("osd", "0"), ("osd", "1"), ("osd", "2"), ("mon", "a"), ("mgr", "x")} <= kinds
    assert all(s["version"].startswith("16.2") and s["running"] for s in facts["services"])
    names = {point[0] for point in live["points"]}
    assert f"ceph.cluster.{fsid}.df.total_bytes" in names
    assert f"ceph.cluster.{fsid}.osd.0.commit_latency_ms" in names
    assert f"ceph.cluster.{fsid}.osd.2.kb_used" in names
    assert f"ceph.cluster.{fsid}.pool.1.num_objects" in names
    host = live["source"].hostname
    assert f"servers.{host}.cpu.total.user" in names and f"servers.{host}.loadavg.1" in names


def test_commands_reach_ceph_and_show_in_the_next_map(live) -> None:
    sink, bus, fsid = live["sink"], live["bus"], live["source"].fsid
    assert bus.send_command(fsid, "it-1", "osd set", {"key": "noout"})
    wait_for(lambda: any(r[0] == "it-1" for r in sink.command_results))
    assert [r for r in sink.command_results if r[0] == "it-1"][0][1:] == (0, "", "noout is set")
    wait_for(lambda: "noout" in sink.data(fsid, "osd_map")["flags_set"])
    assert bus.send_command(fsid, "it-2", "osd pool create", {"pool": "itpool", "pg_num": 8})
    wait_for(lambda: "itpool" in {p["pool_name"] for p in sink.data(fsid, "osd_map")["pools"]})
    assert bus.send_command(fsid, "it-3", "osd pool rename", {"srcpool": "itpool", "destpool": "itpool2"})
    wait_for(lambda: "itpool2" in {p["pool_name"] for p in sink.data(fsid, "osd_map")["pools"]})
    assert bus.send_command(fsid, "it-4", "osd unset", {"key": "noout"})
    wait_for(lambda: "noout" not in sink.data(fsid, "osd_map")["flags_set"])
    assert bus.send_command(fsid, "it-5", "no such command", {})
    wait_for(lambda: any(r[0] == "it-5" for r in sink.command_results))
    assert [r for r in sink.command_results if r[0] == "it-5"][0][1] < 0
    assert live["collector"].counters["syncs_delta"] > 0  # map changes went as deltas
    assert bus.totals()["rejects"] == 0


@pytest.mark.parametrize("client", ["bridge", "cli"])
def test_the_fallbacks_read_and_change_what_librados_does(ceph_cluster, client: str) -> None:
    """librados through the ceph CLI's interpreter, and one ceph process per command, give the same
    sync objects as librados in the collector; a change made through them shows at the next check."""
    reference = CephSource(ceph_cluster["conf"], client="librados")
    source = CephSource(ceph_cluster["conf"], client=client, cpu_share=1.0)  # a one-shot CLI would wait for its share
    worker = getattr(source._backends[0], "pid", None)
    try:
        assert source.backend == client and source.fsid == reference.fsid
        expected, got = reference.poll(), source.poll()
        assert set(got) == set(expected) == protocol.SYNC_NAMES
        for name in ("osd_map", "mon_map", "fs_map", "crush_map"):
            assert got[name][0] == expected[name][0], name
        assert got["osd_map"][1]["osds"] == expected["osd_map"][1]["osds"]
        rc, _, err = source.execute("osd set", {"key": "nodeep-scrub"})
        assert rc == 0, err
        wait_for(lambda: "nodeep-scrub" in (source.check().get("osd_map") or source.current("osd_map"))[1]["flags_set"])
        assert source.execute("osd unset", {"key": "nodeep-scrub"})[0] == 0
        wait_for(lambda: "nodeep-scrub" not in (source.check().get("osd_map") or source.current("osd_map"))[1]["flags_set"])
        assert source.backend_used[client] > 0
    finally:
        source.close()
        reference.close()
    if worker is not None:  # the bridge's worker ends with the source
        with pytest.raises(ProcessLookupError):
            os.kill(worker, 0)
