"""DELETE /api/v2/cluster/<fsid> forgets a cluster: it leaves the lists with its OSDs and pools,
its open requests fail, a restart keeps it forgotten, and its collector's next maps bring it back."""

from api_support import Harness


def test_forget_then_the_next_maps_bring_the_cluster_back(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=("00", "01"))
    try:
        fsid = api.fsid
        open_request = api.call("POST", "cluster/{fsid}/pool", json={"name": "p1", "pg_num": 8}).json["request_id"]
        assert api.call("DELETE", "cluster/{fsid}", user="oper").status_code == 403
        r = api.call("DELETE", "cluster/{fsid}")
        assert r.status_code == 204
        assert api.call("GET", "cluster").json == []
        for path in ("cluster/{fsid}", "cluster/{fsid}/osd", "cluster/{fsid}/pool", "cluster/{fsid}/crush_rule"):
            assert api.call("GET", path).status_code == 404, path
        assert fsid not in api.service.view.osds and fsid not in api.service.view.pools
        assert api.call("DELETE", "cluster/{fsid}").status_code == 404
        req = api.request(open_request)
        assert req["state"] == "complete" and req["error"] and "forgotten by admin" in req["error_message"]
        messages = [e["message"] for e in api.call("GET", "event").json["results"]]
        assert f"Cluster {fsid} forgotten (by admin)" in messages

        api.feed("02")  # the collector still reports: maps of any version are taken again
        assert [c["id"] for c in api.call("GET", "cluster").json] == [fsid]
        assert len(api.call("GET", "cluster/{fsid}/osd").json) == 3
        assert "images" in [p["name"] for p in api.call("GET", "cluster/{fsid}/pool").json]
        assert api.call("GET", "cluster/{fsid}").json["counters"]["osd"]["total"] == 3
        messages = [e["message"] for e in api.call("GET", "event").json["results"]]
        assert f"Cluster {fsid} reporting again after it was forgotten" in messages
    finally:
        api.close()


def test_a_forgotten_cluster_stays_forgotten_after_a_restart(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=("00",))
    assert api.call("DELETE", "cluster/{fsid}").status_code == 204
    api.close()
    again = Harness(str(tmp_path), capture_dir, steps=())
    try:
        assert again.call("GET", "cluster").json == []
        assert again.service.model.clusters == {} and again.service.view.osds == {}
    finally:
        again.close()
