"""A collector key deleted while its collector runs (DELETE /api/v2/key/<host>): docs/security.md
says its next hello makes it pending again. A running collector says hello only when asked, so the
bus asks a collector whose key it does not know: the key comes back as pending, and once accepted
again the collector's maps are applied, without restarting the collector."""

from __future__ import annotations

from typing import Any

from test_collector_keys import Server, server, start_collector, wait_for  # noqa: F401 - the fixture

from calamari.adapters.curve_keys import ClientCurveKeys, new_key_pair
from collector.simulator import SimulatedCluster


def test_a_deleted_key_of_a_running_collector_becomes_pending_again(server: Server) -> None:  # noqa: F811
    cluster = SimulatedCluster("hosts=2,osds=8,pools=1,pgs=64,seed=3,churn=0.5")
    host, fsid = cluster.hostname, cluster.fsid
    client_keys = new_key_pair()
    collector = start_collector(server, cluster, ClientCurveKeys(client_keys, server.server_keys.public_key))
    try:
        wait_for(lambda: server.keys.get(host) is not None, what="key registered")
        assert server.call("PATCH", f"key/{host}", json={"status": "accepted"}).status_code == 200
        wait_for(lambda: server.held_epoch(fsid) is not None, what="maps applied after accept")

        assert server.call("DELETE", f"key/{host}").status_code == 200
        wait_for(lambda: server.keys.get(host) is not None, 10, "the key pending again after its deletion")
        key: Any = server.call("GET", f"key/{host}").json
        assert key["status"] == "pre" and key["public_key"] == client_keys.public_key
        frozen = server.held_epoch(fsid) or 0
        wait_for(lambda: cluster.epoch > frozen + 2, what="the cluster moves on")

        assert server.call("PATCH", f"key/{host}", json={"status": "accepted"}).status_code == 200
        wait_for(lambda: (server.held_epoch(fsid) or 0) > frozen, 10, "maps applied after the new accept")
    finally:
        collector.stop()
