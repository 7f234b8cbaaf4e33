"""Forgetting a decommissioned server: refused while Ceph services are still placed on it, gone
from the lists once forgotten, back when its collector or the OSD metadata names it again."""

from datetime import UTC, datetime, timedelta

from calamari.testing.captures import content_hash
from tests.unit.api_support import Harness

T0 = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def test_forget_a_server_through_the_api(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir)
    try:
        assert api.call("DELETE", "/api/v2/server/no-such-host").status_code == 404
        r = api.call("DELETE", "/api/v2/server/vm")
        assert r.status_code == 409 and "osd.0" in r.json["detail"]  # the captures place 3 OSDs on it
        assert api.call("DELETE", "/api/v2/server/vm", user="oper").status_code == 403

        # the host is decommissioned: its OSDs are gone from the OSD metadata
        api.service.on_sync_object(api.fsid, "osd_metadata", content_hash([]), [], T0)
        assert api.call("GET", "/api/v2/server/vm").json["services"] == []
        assert api.call("DELETE", "/api/v2/server/vm").status_code == 204
        assert api.call("GET", "/api/v2/server/vm").status_code == 404
        assert "vm" not in [s["fqdn"] for s in api.call("GET", "/api/v2/server").json]
        assert api.call("DELETE", "/api/v2/server/vm").status_code == 404  # already forgotten
        events = [type(e).__name__ for _, e in _stored(api)]
        assert "ServerForgotten" in events

        # its collector reports again: it is back
        api.service.on_server_facts(api.fsid, {"hostname": "vm", "fqdn": "vm", "services": []},
                                    T0 + timedelta(seconds=5))
        assert api.call("GET", "/api/v2/server/vm").status_code == 200
        assert "ServerRediscovered" in [type(e).__name__ for _, e in _stored(api)]
        told = [e["message"] for e in api.call("GET", "/api/v2/server/vm/event").json["results"]]
        assert told[:2] == ["Server vm is back", "Forgot server vm (by admin)"]
    finally:
        api.close()


def _stored(api: Harness) -> list:
    api.service.writer.flush(10)
    return list(api.service.store.read())
