"""Changes through the API become user requests: commands sent in order, completion only when a
real captured OSD map shows the change, failures with Ceph's message, conflicts, restarts."""

from api_support import Harness, harness_fixture

api = harness_fixture(steps=("00", "01"))


def test_pool_create_completes_when_the_map_shows_the_pool(api):
    r = api.call("POST", "cluster/{fsid}/pool", json={"name": "images", "pg_num": 16, "size": 2})
    assert r.status_code == 202
    request_id = r.json["request_id"]
    assert api.sender.prefixes() == ["osd pool create"]
    assert api.sender.sent[0][3] == {"pool": "images", "pg_num": 16, "pgp_num": 16, "pool_type": "replicated"}
    assert api.request(request_id)["state"] == "executing"
    api.result(0)
    assert api.sender.prefixes() == ["osd pool create", "osd pool set"]
    assert api.sender.sent[1][3] == {"pool": "images", "var": "size", "val": "2"}
    api.result(1)
    req = api.request(request_id)
    assert req["state"] == "executing" and "Waiting" in req["status"]  # the held map has no such pool
    api.feed("02")  # the capture taken after `ceph osd pool create images 16; size 2`
    req = api.request(request_id)
    assert req["state"] == "complete" and req["error"] is False and req["completed_at"]
    assert req["username"] == "admin" and req["headline"] == "Creating pool 'images'"
    names = [p["name"] for p in api.call("GET", "cluster/{fsid}/pool").json]
    assert "images" in names
    messages = [e["message"] for e in api.call("GET", "event").json["results"]]
    assert "Completed: Creating pool 'images'" in messages
    assert "Started: Creating pool 'images' (by admin)" in messages
    assert "Pool 'images' created" in messages


def test_a_newer_map_without_the_change_leaves_the_request_waiting(api):
    request_id = api.call("POST", "cluster/{fsid}/pool", json={"name": "other", "pg_num": 16}).json["request_id"]
    api.answer_all()
    api.feed("02")  # a newer OSD map, but it shows "images", not "other"
    assert api.request(request_id)["state"] == "executing"


def test_a_failed_command_fails_the_request_with_cephs_message(api):
    request_id = api.call("POST", "cluster/{fsid}/pool", json={"name": "p1", "pg_num": 8}).json["request_id"]
    api.result(0, rc=-34, err="Error ERANGE: pg_num 8 size 3 would mean 1000 total pgs")
    req = api.request(request_id)
    assert req["state"] == "complete" and req["error"] is True
    assert req["error_message"].startswith("Error ERANGE")
    feed = api.call("GET", "event?severity=ERROR").json["results"]
    assert feed[0]["message"].startswith("Failed: Creating pool 'p1'")


def test_conflicting_requests_on_one_pool_get_409(api):
    first = api.call("PATCH", "cluster/{fsid}/pool/2", json={"size": 2})
    assert first.status_code == 202
    second = api.call("PATCH", "cluster/{fsid}/pool/2", json={"min_size": 1, "pg_num": 64})
    assert second.status_code == 409
    assert second.json["errors"]["request"] == first.json["request_id"]
    api.result(0, rc=-1, err="failed")
    assert api.call("PATCH", "cluster/{fsid}/pool/2", json={"pg_num": 64}).status_code == 202


def test_pool_name_in_use_is_409(api):
    r = api.call("POST", "cluster/{fsid}/pool", json={"name": "rbd", "pg_num": 8})
    assert r.status_code == 409 and "name" in r.json["errors"]


def test_rename_and_pg_change_then_delete(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=("00", "01", "02", "03", "08"))
    try:
        r = api.call("PATCH", "cluster/{fsid}/pool/3", json={"name": "photos", "pg_num": 32})
        assert r.status_code == 202
        assert api.sender.prefixes() == ["osd pool set"]
        api.answer_all()
        assert api.sender.prefixes() == ["osd pool set", "osd pool rename"]
        assert api.sender.sent[1][3] == {"srcpool": "images", "destpool": "photos"}
        assert api.request(r.json["request_id"])["state"] == "executing"
        api.feed("09")  # renamed; pg_num 32 (pgp_num still ramping, as Ceph does it)
        assert api.request(r.json["request_id"])["state"] == "complete"
        d = api.call("DELETE", "cluster/{fsid}/pool/3")
        assert d.status_code == 202
        assert api.sender.sent[-1][3] == {"pool": "photos", "pool2": "photos", "yes_i_really_really_mean_it": True}
        api.answer_all()
        assert api.request(d.json["request_id"])["state"] == "executing"
        api.feed("10")
        assert api.request(d.json["request_id"])["state"] == "complete"
        assert api.call("GET", "cluster/{fsid}/pool/3").status_code == 404
    finally:
        api.close()


def test_nodelete_pool_cannot_be_deleted(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=("00", "11"))
    try:
        r = api.call("DELETE", "cluster/{fsid}/pool/2")
        assert r.status_code == 409 and "nodelete" in r.json["detail"]
    finally:
        api.close()


def test_osd_flag_and_osd_out_complete_on_the_captured_maps(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=("00", "01", "02", "03"))
    try:
        flags = api.call("PATCH", "cluster/{fsid}/osd_config", json={"noout": True})
        assert flags.status_code == 202
        assert api.sender.sent[-1][2:4] == ("osd set", {"key": "noout"})
        api.answer_all()
        api.feed("04")
        assert api.request(flags.json["request_id"])["state"] == "complete"
        assert api.call("GET", "cluster/{fsid}/osd_config").json["noout"] is True
        api.feed("05")
        out = api.call("PATCH", "cluster/{fsid}/osd/2", json={"in": False})
        assert out.status_code == 202
        assert api.sender.sent[-1][2:4] == ("osd out", {"ids": ["2"]})
        api.result(-1)
        assert api.request(out.json["request_id"])["state"] == "executing"
        api.feed("06")
        assert api.request(out.json["request_id"])["state"] == "complete"
        osd = api.call("GET", "cluster/{fsid}/osd/2").json
        assert osd["in"] is False and osd["valid_commands"] == []
        warnings = [e["message"] for e in api.call("GET", "event?severity=WARNING").json["results"]]
        assert "OSD osd.2 went down" in warnings and "OSD osd.2 marked out" in warnings
        assert all(e["severity"] != "INFO" for e in api.call("GET", "event?severity=WARNING").json["results"])
    finally:
        api.close()


def test_reweight_and_scrub(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=("00", "07"))
    try:
        r = api.call("PATCH", "cluster/{fsid}/osd/1", json={"reweight": 0.5})
        assert r.status_code == 202
        assert api.sender.sent[-1][2:4] == ("osd reweight", {"id": 1, "weight": 0.5})
        api.answer_all()
        api.feed("08")
        assert api.request(r.json["request_id"])["state"] == "complete"
        s = api.call("POST", "cluster/{fsid}/osd/command/deep_scrub", json={"ids": [0, 2]})
        assert s.status_code == 202
        assert api.sender.sent[-1][2:4] == ("osd deep-scrub", {"who": "0"})  # one at a time, in order
        api.result(-1)
        assert api.request(s.json["request_id"])["state"] == "executing"
        assert api.sender.sent[-1][2:4] == ("osd deep-scrub", {"who": "2"})
        api.result(-1)
        assert api.request(s.json["request_id"])["state"] == "complete"  # scrubs change no map
    finally:
        api.close()


def test_unfinished_requests_survive_a_restart(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=("00", "01"), connected=False)
    request_id = api.call("POST", "cluster/{fsid}/pool", json={"name": "images", "pg_num": 16, "size": 2}).json[
        "request_id"]
    assert api.sender.sent == []  # no collector yet
    api.close()
    again = Harness(str(tmp_path), capture_dir, steps=(), users=False)
    try:
        again.fsid = api.fsid
        assert again.request(request_id)["state"] == "submitted"
        again.executor.recover()
        assert again.sender.prefixes() == ["osd pool create"]
        again.answer_all()
        again.feed("00")
        again.feed("02")
        req = again.request(request_id)
        assert req["state"] == "complete" and not req["error"]
    finally:
        again.close()


def test_timeouts_fail_requests_with_a_reason(tmp_path, capture_dir):
    now = [1_000_000.0]
    api = Harness(str(tmp_path), capture_dir, steps=("00",), clock=lambda: now[0])
    try:
        request_id = api.call("POST", "cluster/{fsid}/pool", json={"name": "slow", "pg_num": 8}).json["request_id"]
        now[0] += 30
        api.executor.tick()
        assert api.request(request_id)["state"] == "executing"
        now[0] += 31
        api.executor.tick()
        req = api.request(request_id)
        assert req["error"] and "No answer from the cluster" in req["error_message"]
    finally:
        api.close()


def test_cancel(api):
    request_id = api.call("POST", "cluster/{fsid}/pool", json={"name": "x1", "pg_num": 8}).json["request_id"]
    r = api.call("POST", f"/api/v2/request/{request_id}/cancel")
    assert r.status_code == 200 and r.json["error"] and "Cancelled by admin" in r.json["error_message"]
    assert api.call("POST", f"/api/v2/request/{request_id}/cancel").status_code == 409
    listed = api.call("GET", "request?state=complete").json
    assert listed["count"] == 1 and listed["results"][0]["id"] == request_id
