"""Alerts against a real cluster: an OSD daemon stops, and the OSD-down alert (its duration
shortened for the test) is raised with what changed before it; the daemon starts again and the
alert resolves; a restart of the server keeps the alert and its acknowledgement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from calamari.testing.live import DevCluster, server_and_collector, wait_for

pytestmark = pytest.mark.integration


def osd_alerts(api: Any, state: str) -> list[dict[str, Any]]:
    return api.get(f"/alert?state={state}&object=osd:1")


def test_a_stopped_osd_daemon_raises_osd_down_and_its_return_resolves_it(ceph_cluster: dict[str, str],
                                                                         tmp_path: Path) -> None:
    cluster = DevCluster(ceph_cluster["dir"])
    with server_and_collector(cluster, tmp_path) as (server, _collector, api):
        fsid = cluster.fsid()
        wait_for(lambda: len(api.get(f"/cluster/{fsid}/osd")) == 3, 60, "the OSDs in the API")
        status, rule = api.call("PATCH", "/alert-rule/osd_down", {"for_seconds": 5})
        assert status == 200 and rule["for_seconds"] == 5
        cluster.stop_daemon("osd.1")
        try:
            [alert] = wait_for(lambda: osd_alerts(api, "firing"), 120, "the OSD-down alert")
            assert alert["rule"] == "osd_down" and alert["cluster"] == fsid
            assert any(c["type"] == "OsdMarkedDown" and c["object"] == {"kind": "osd", "id": "1"}
                       for c in alert["changes_before"])
            status, acked = api.call("POST", f"/alert/{alert['id']}/acknowledge", {"comment": "test"})
            assert status == 200 and acked["acknowledged_by"] == server.USER
        finally:
            cluster.start_daemon("osd.1")
        wait_for(lambda: not osd_alerts(api, "firing"), 120, "the alert to resolve once the OSD is up")
        [resolved] = osd_alerts(api, "resolved")
        assert resolved["id"] == alert["id"] and resolved["acknowledged_by"] == server.USER
        before = api.get(f"/alert/{alert['id']}")
        server.stop()
        api = server.start()
        assert api.get(f"/alert/{alert['id']}") == before  # restored from the stored events
        assert [r for r in api.get("/alert-rule") if r["name"] == "osd_down"][0]["for_seconds"] == 5
