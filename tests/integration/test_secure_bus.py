"""The default, authenticated and encrypted bus (CurveZMQ) against a real cluster: a new
collector waits as pending and feeds nothing until an admin accepts its key; then its maps arrive
and commands reach the cluster through it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from calamari.testing.live import CalamariCollector, CalamariServer, DevCluster, wait_for

pytestmark = pytest.mark.integration


def test_a_collector_feeds_the_model_only_once_its_key_is_accepted(ceph_cluster, tmp_path: Path) -> None:
    cluster = DevCluster(ceph_cluster["dir"])
    fsid = cluster.fsid()
    server = CalamariServer(tmp_path / "data", secure_bus=True)
    server_key = server.ctl("key", "server").strip()
    collector = None
    try:
        api = server.start()
        collector = CalamariCollector(server.bus, cluster.conf, tmp_path / "collector.log",
                                      curve=(server_key, tmp_path / "collector-keys"))
        collector.start()
        host = socket.gethostname()
        key = wait_for(lambda: next((k for k in api.get("/key") if k["id"] == host), None), 60,
                       "the collector's key to be registered")
        assert key["status"] == "pre"
        assert api.get("/cluster") == []  # nothing from a pending key reaches the model
        assert "pre" in server.ctl("key", "list")

        api.call("PATCH", f"/key/{host}", {"status": "accepted"})
        wait_for(lambda: any(c["id"] == fsid for c in api.get("/cluster")), 60, "the cluster to appear")
        wait_for(lambda: len(api.get(f"/cluster/{fsid}/osd")) == 3, 60, "3 OSDs in the API")

        # commands go down the encrypted connection too
        row = api.wait_request(api.submit("PATCH", f"/cluster/{fsid}/osd_config", {"nodeep-scrub": True}), 90)
        assert row["error"] is False, row
        assert "nodeep-scrub" in cluster.ceph("osd", "dump")["flags"].split(",")
        row = api.wait_request(api.submit("PATCH", f"/cluster/{fsid}/osd_config", {"nodeep-scrub": False}), 90)
        assert row["error"] is False, row
        assert "nodeep-scrub" not in cluster.ceph("osd", "dump")["flags"].split(",")
    finally:
        if collector is not None:
            collector.stop()
        server.stop()
