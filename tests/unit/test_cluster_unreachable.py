"""A collector that is alive but cannot reach its cluster (monitors down) says so in its heartbeats:
the server marks the cluster stale at once (ClusterContactLost) and recovers by itself
(ClusterContactRegained) when the cluster answers again, while the collector's host stays in contact."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
import support

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from calamari.domain.model import ClusterModel
from calamari.service.model import ModelService, ServiceConfig
from collector.agent import Collector
from collector.simulator import SimulatedCluster

wait_for = partial(support.wait_for, timeout=60.0)  # generous: CI shares 2 cores


class FlakySource:
    """The simulator, except that while `unreachable` is set every poll fails like a dead mon."""

    def __init__(self, spec: str) -> None:
        self.cluster = SimulatedCluster(spec)
        self.fsid = self.cluster.fsid
        self.hostname = self.cluster.hostname
        self.unreachable = threading.Event()

    def poll(self) -> dict[str, Any]:
        if self.unreachable.is_set():
            raise TimeoutError("error connecting to the cluster: no monitor answered")
        return self.cluster.poll()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cluster, name)


def event_names(service: ModelService) -> list[str]:
    service.writer.flush(10)
    return [type(event).__name__ for _, event in service.store.read(after=0)]


def test_unreachable_cluster_is_stale_at_once_and_recovers(tmp_path) -> None:
    service = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    # a long contact timeout: only the collector's own report can make the cluster stale here
    bus = CollectorBus(service, "tcp://127.0.0.1:0", contact_timeout_s=3600)
    bus.start()
    source = FlakySource("hosts=1,osds=3,pools=1,pgs=8,seed=3")
    collector = Collector(source, bus.bound_endpoint, poll_interval=0.05, heartbeat_interval=0.2, stats_interval=0.3)
    collector.start()
    fsid = source.fsid
    try:
        wait_for(lambda: set(service.sync_versions(fsid)) == protocol.SYNC_NAMES)
        wait_for(lambda: fsid in service.model.last_contact)
        assert service.view.clusters[fsid]["stale"] is False

        source.unreachable.set()
        wait_for(lambda: service.view.clusters[fsid]["stale"] is True)
        assert "ClusterContactLost" in event_names(service)
        host = source.hostname
        assert service.model.servers[host].contact_lost is False  # the collector itself is fine
        assert collector.cluster_error is not None and "no monitor answered" in collector.cluster_error

        time.sleep(0.6)  # several heartbeats while unreachable: still stale, no repeated event
        assert service.view.clusters[fsid]["stale"] is True
        assert event_names(service).count("ClusterContactLost") == 1

        source.unreachable.clear()
        wait_for(lambda: service.view.clusters[fsid]["stale"] is False)
        names = event_names(service)
        assert names.count("ClusterContactRegained") == 1
        assert names.index("ClusterContactRegained") > names.index("ClusterContactLost")
        assert collector.cluster_error is None
    finally:
        collector.stop()
        bus.stop()
        service.close()


def test_unreachable_report_keeps_the_host_and_the_last_contact() -> None:
    model = ClusterModel()
    source = SimulatedCluster("hosts=1,osds=3,pools=1,pgs=8,seed=4")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for name, (version, data) in source.sync_objects().items():
        model.ingest(source.fsid, name, version, data, t0)
    model.heartbeat(source.fsid, "collector-host", t0)
    model.drain()
    later = t0 + timedelta(seconds=30)
    model.cluster_unreachable(source.fsid, "collector-host", later)
    events = model.drain()
    assert [type(e).__name__ for e in events] == ["ClusterContactLost"]
    assert events[0].last_contact == pytest.approx(t0.timestamp())  # the age of what is shown
    assert model.clusters[source.fsid].stale is True
    assert model.last_contact[source.fsid] == pytest.approx(t0.timestamp())
    assert model.last_contact_host["collector-host"] == pytest.approx(later.timestamp())
    model.cluster_unreachable(source.fsid, "collector-host", later + timedelta(seconds=1))
    assert model.drain() == []
    model.heartbeat(source.fsid, "collector-host", later + timedelta(seconds=2))
    assert [type(e).__name__ for e in model.drain()] == ["ClusterContactRegained"]


def test_heartbeat_flag_is_validated() -> None:
    frame = protocol.encode("heartbeat", {"versions": {}, "cluster_unreachable": "yes"}, fsid="f", host="h", seq=1)
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(frame)
    ok = protocol.encode("heartbeat", {"versions": {}, "cluster_unreachable": True, "error": "mon down"}, fsid="f",
                         host="h", seq=2)
    assert protocol.decode(ok).body["cluster_unreachable"] is True
