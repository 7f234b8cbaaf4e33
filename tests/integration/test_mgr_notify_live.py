"""The calamari_notify mgr module on a real cluster (docs/mgr-module.md): loaded and enabled by the
test cluster's mgr; it hands over the OSD and file system maps as the monitors dump them; a `ceph
osd out` reaches the collector through a notification (the fetch is recorded as caused by it, the
map taken as the module sent it, and no version check read anything meanwhile); with the module disabled
or the mgr restarted the collector's checks take over, and it reconnects when the module is back.
A `calamari-server --mgr-notify` takes the maps the module signs straight from it, once its
collector handed over the module's key, and tells each change once.

The collector polls only once a minute here, so that a change it sees came either through the
module or through a version check, and `CephSource.fetched_by` says which."""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recording_sink import RecordingSink

from calamari.adapters.bus import CollectorBus
from calamari.testing.live import ApiClient, DevCluster, server_and_collector, wait_for
from collector.agent import Collector
from collector.ceph_source import CephSource

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(ceph_cluster) -> DevCluster:
    return DevCluster(ceph_cluster["dir"])


@pytest.fixture
def live(ceph_cluster) -> Iterator[dict[str, Any]]:
    sink = RecordingSink()
    bus = CollectorBus(sink, "tcp://127.0.0.1:0")
    bus.start()
    # the bridge, not librados in this process: a librados client that sent mgr commands may crash
    # when the mgr restarts (docs/architecture.md, "Freshness"), which one test here does
    source = CephSource(ceph_cluster["conf"], client="bridge", mgr_notify=[f"127.0.0.1:{ceph_cluster['notify_port']}"])
    collector = Collector(source, bus.bound_endpoint, poll_interval=60.0, heartbeat_interval=1.0, stats_interval=60.0)
    collector.start()
    try:
        wait_for(lambda: sink.sync_object(source.fsid, "osd_map"), 30, "the first OSD map")
        yield {"sink": sink, "source": source, "collector": collector}
    finally:
        collector.stop()
        bus.stop()
        source.close()


def osd_in(live: dict[str, Any], osd: int) -> int:
    osd_map = live["sink"].data(live["source"].fsid, "osd_map")
    return next(entry["in"] for entry in osd_map["osds"] if entry["osd"] == osd)


def mark(cluster: DevCluster, live: dict[str, Any], osd: int, state: str) -> None:
    """`ceph osd out|in OSD` as a user runs it, then wait until the collector sent the new map."""
    cluster.ceph("osd", state, str(osd))
    wanted = 1 if state == "in" else 0
    wait_for(lambda: osd_in(live, osd) == wanted, 30, f"osd.{osd} {state} to reach the collector")


def test_the_module_is_loaded_enabled_and_listening(cluster, ceph_cluster) -> None:
    assert "calamari_notify" in cluster.ceph("mgr", "module", "ls")["enabled_modules"]
    status = wait_for(lambda: (lambda s: s if s["listening"] else None)(cluster.ceph("calamari_notify", "status")),
                      60, "the module to listen")
    assert status["listening"] == ["127.0.0.1", int(ceph_cluster["notify_port"])]
    assert status["error"] is None


def test_the_module_hands_over_the_maps_as_the_monitors_dump_them(cluster) -> None:
    def same(kind: str, dump: str) -> bool:
        handed, dumped = cluster.ceph("calamari_notify", "get", kind), cluster.ceph(*dump.split())
        if handed["epoch"] != dumped["epoch"]:  # the cluster moved on between the two reads
            return False
        assert handed == dumped
        return True

    for kind, dump in (("osd_map", "osd dump"), ("fs_map", "fs dump")):
        wait_for(lambda kind=kind, dump=dump: same(kind, dump), 60, f"{kind} and `{dump}` at one epoch")
    with pytest.raises(RuntimeError, match="rc=22"):  # only the maps whose dump is the monitors'
        cluster.ceph("calamari_notify", "get", "mon_map")
    # the key that signs the maps the module sends, in its store, for a collector to read
    key = subprocess.run(["ceph", "--conf", cluster.conf, "config-key", "get", "mgr/calamari_notify/push_key"],
                         env=cluster.env, capture_output=True, check=True, timeout=60).stdout.strip()
    assert len(key) == 64


def test_a_change_reaches_the_collector_through_a_notification(cluster, live) -> None:
    source, collector = live["source"], live["collector"]
    wait_for(source.pushed, 30, "the collector to connect to the module")
    notified, checks, pushed = collector.counters["notified"], source.reads["check"], source.maps_pushed
    try:
        mark(cluster, live, 0, "out")
        assert source.fetched_by["osd_map"] == "notified"
        assert source.maps_pushed > pushed  # sent with its announcement, signed: not read again
        assert collector.counters["notified"] > notified
        assert source.notify_counters["notifications"] >= 1
        assert source.reads["check"] == checks  # no status read: the module said when to look
    finally:
        mark(cluster, live, 0, "in")


def test_with_the_module_disabled_checks_take_over_and_it_reconnects_after(cluster, live) -> None:
    source = live["source"]
    wait_for(source.pushed, 30, "the collector to connect to the module")
    connections = source.notify_counters["connections"]
    cluster.ceph("mgr", "module", "disable", "calamari_notify")
    try:
        wait_for(lambda: not source.pushed(), 60, "the channel to close")
        mark(cluster, live, 1, "out")
        assert source.fetched_by["osd_map"] == "check"
    finally:
        cluster.ceph("mgr", "module", "enable", "calamari_notify")
    wait_for(source.pushed, 90, "the collector to reconnect to the module")
    assert source.notify_counters["connections"] > connections
    mark(cluster, live, 1, "in")
    assert source.fetched_by["osd_map"] == "notified"


def test_across_a_mgr_restart_checks_take_over_and_it_reconnects_after(cluster, live) -> None:
    source = live["source"]
    wait_for(source.pushed, 30, "the collector to connect to the module")
    connections = source.notify_counters["connections"]
    cluster.stop_daemon("mgr.x")
    try:
        wait_for(lambda: not source.pushed(), 30, "the channel to close with the mgr")
        mark(cluster, live, 2, "out")
        assert source.fetched_by["osd_map"] == "check"
    finally:
        cluster.start_daemon("mgr.x")
    wait_for(source.pushed, 120, "the collector to reconnect to the restarted mgr's module")
    assert source.notify_counters["connections"] > connections
    mark(cluster, live, 2, "in")
    assert source.fetched_by["osd_map"] == "notified"


def counter(api: ApiClient, name: str) -> float:
    """A sample of the server's /metrics."""
    request = urllib.request.Request(api.base_url.removesuffix("/api/v2") + "/metrics",
                                     headers={"Authorization": f"Bearer {api.token}"})
    with urllib.request.urlopen(request, timeout=15) as answer:
        text = answer.read().decode()
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


def test_the_server_takes_the_maps_the_module_signs_straight_from_it(cluster, ceph_cluster, tmp_path: Path) -> None:
    notify = ["--mgr-notify", f"127.0.0.1:{ceph_cluster['notify_port']}"]
    with server_and_collector(cluster, tmp_path, server_options=notify, collector_options=notify) as (_, _, api):
        fsid = cluster.fsid()

        def osd_in(osd: int) -> bool:
            return api.get(f"/cluster/{fsid}/osd/{osd}")["in"]

        def toggle(osd: int) -> None:
            """`ceph osd out`, then `in`, each waited for in the API."""
            for state, wanted in (("out", False), ("in", True)):
                cluster.ceph("osd", state, str(osd))
                wait_for(lambda wanted=wanted: osd_in(osd) is wanted, 30, f"osd.{osd} {state} in the API")

        wait_for(lambda: len(api.get(f"/cluster/{fsid}/osd")) == 3, 60, "3 OSDs in the API")
        # the collector hands the key over in its heartbeats (every second here): a change or two
        # may come before it
        wait_for(lambda: toggle(0) or counter(api, "calamari_mgr_maps_taken_total") > 0, 60,
                 "a map taken straight from the module")
        taken = counter(api, "calamari_mgr_maps_taken_total")
        toggle(1)
        assert counter(api, "calamari_mgr_maps_taken_total") > taken
        assert counter(api, "calamari_mgr_maps_unusable_total") == 0
        # each change told once, though the collector sent the same maps after
        messages = [row["message"] for row in api.get(f"/cluster/{fsid}/event?page_size=1000")["results"]]
        assert messages.count("OSD osd.1 marked out") == 1 and messages.count("OSD osd.1 marked in") == 1
