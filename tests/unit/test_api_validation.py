"""Bad input gets 400 with a reason per field (or 404/409/503), never a 500."""

import time
from datetime import UTC, datetime

import pytest
from api_support import Harness, harness_fixture

api = harness_fixture(steps=("00", "01", "02", "03"), scope="module")


@pytest.mark.parametrize("body, field", [
    ({"name": "bad name!", "pg_num": 8}, "name"),
    ({"name": "ok", "pg_num": 12}, "pg_num"),  # not a power of two
    ({"name": "ok", "pg_num": 131072}, "pg_num"),  # above mon_max_pool_pg_num (default 65536)
    ({"name": "ok", "pg_num": 8, "pgp_num": 16}, "pgp_num"),
    ({"name": "ok", "pg_num": 8, "size": 11}, "size"),  # the rule allows 1..10
    ({"name": "ok", "pg_num": 8, "size": 2, "min_size": 3}, "min_size"),
    ({"name": "ok", "pg_num": 8, "crush_ruleset": 7}, "crush_ruleset"),
    ({"name": "ok", "pg_num": 8, "crush_ruleset": 1}, "crush_ruleset"),  # an erasure rule
    ({"name": "ok", "pg_num": 8, "erasure_code_profile": "nope"}, "erasure_code_profile"),
    ({"name": "ok", "pg_num": 8, "erasure_code_profile": "ec21", "size": 2}, "size"),  # k+m is 3
    ({"name": "ok", "pg_num": 8, "erasure_code_profile": "ec21", "min_size": 1}, "min_size"),  # below k=2
    ({"name": "ok", "pg_num": 8, "colour": "red"}, "colour"),
    ({"name": "ok", "pg_num": 8, "id": 9}, "id"),
    ({"name": "ok", "pg_num": 8, "full": True}, "full"),
    ({"name": "ok"}, "pg_num"),
    ({"name": "ok", "pg_num": "eight"}, "pg_num"),
    ({"name": "ok", "pg_num": 4096, "size": 3}, "pg_num"),  # more PGs per OSD than mon_max_pg_per_osd
])
def test_pool_create_rejections(api, body, field):
    r = api.call("POST", "cluster/{fsid}/pool", json=body)
    assert r.status_code == 400, r.json
    assert field in r.json["errors"], r.json
    assert r.json["detail"]


def test_erasure_coded_pool_plan(api):
    r = api.call("POST", "cluster/{fsid}/pool", json={"name": "ec2", "pg_num": 8, "erasure_code_profile": "ec21"})
    assert r.status_code == 202
    assert api.sender.sent[-1][2:4] == ("osd pool create", {"pool": "ec2", "pg_num": 8, "pgp_num": 8,
                                                            "pool_type": "erasure", "erasure_code_profile": "ec21"})
    api.call("POST", f"/api/v2/request/{r.json['request_id']}/cancel")


@pytest.mark.parametrize("path, body, field", [
    ("pool/2", {"id": 5}, "id"),
    ("pool/2", {"erasure_code_profile": "ec21"}, "erasure_code_profile"),
    ("pool/2", {"min_size": 4}, "min_size"),
    ("pool/2", {"pg_num": 48}, "pg_num"),
    ("pool/4", {"size": 4}, "size"),  # erasure-coded: fixed by the profile
    ("pool/4", {"min_size": 1}, "min_size"),  # erasure-coded ec21: k=2 shards are needed to serve data
    ("pool/2", {"name": "images"}, "name"),  # 409 below
    ("osd/0", {"reweight": 1.5}, "reweight"),
    ("osd/0", {"reweight": -0.1}, "reweight"),
    ("osd/0", {"up": True, "in": True}, None),  # 304: nothing to change
    ("osd/0", {"weight": 1}, "weight"),
    ("osd/0", {"uuid": "x"}, "uuid"),
    ("osd_config", {"nofly": True}, "nofly"),
    ("osd_config", {"noout": "yes"}, "noout"),
])
def test_change_rejections(api, path, body, field):
    r = api.call("PATCH", f"cluster/{{fsid}}/{path}", json=body)
    if field is None:
        assert r.status_code == 304
        return
    assert r.status_code in (400, 409), r.json
    assert field in r.json.get("errors", {}), r.json


@pytest.mark.parametrize("data", [b"{bad", b"[1, 2]", b"", b"null", b"\xff\xfe"])
def test_malformed_bodies(api, data):
    r = api.call("POST", "cluster/{fsid}/pool", data=data, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json["detail"]


@pytest.mark.parametrize("path", [
    "cluster/nope", "cluster/nope/osd", "cluster/{fsid}/osd/99", "cluster/{fsid}/pool/99", "cluster/{fsid}/mon/zz",
    "cluster/{fsid}/crush_rule/9", "cluster/{fsid}/config/nokey", "cluster/{fsid}/sync_object/bogus",
    "request/none", "server/none", "user/none", "cluster/{fsid}/osd/99/command", "no/such/route",
])
def test_unknown_objects_are_404(api, path):
    r = api.call("GET", path)
    assert r.status_code == 404 and r.json["detail"]


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=5000", "severity=LOUD", "since=yesterday",
                                   "since=2026-01-01T00:00:00"])
def test_bad_queries(api, query):
    r = api.call("GET", f"event?{query}")
    assert r.status_code == 400 and r.json["errors"]


def test_osd_filters(api):
    assert [o["id"] for o in api.call("GET", "cluster/{fsid}/osd?id__in[]=2&id__in[]=0").json] == [0, 2]
    assert [o["id"] for o in api.call("GET", "cluster/{fsid}/osd?pool=2").json] == [0, 1, 2]
    assert api.call("GET", "cluster/{fsid}/osd?pool=99").status_code == 404
    assert api.call("GET", "cluster/{fsid}/osd?id__in[]=x").status_code == 400
    osd = api.call("GET", "cluster/{fsid}/osd/0").json
    assert osd["pools"] == [1, 2, 3, 4] and osd["valid_commands"] == ["scrub", "deep_scrub", "repair"]
    assert osd["server"] and osd["crush_node_ancestry"][0] == "default"


def test_osd_server_is_the_fqdn_of_its_server(tmp_path, capture_dir):
    """OSD metadata names the host by its short name; the OSD's `server` is the fqdn its
    collector reports, so that it leads to /server/<fqdn>."""
    api = Harness(str(tmp_path), capture_dir)
    try:
        facts = {"hostname": "vm", "fqdn": "vm.lab.example", "services": []}
        api.service.on_server_facts(api.fsid, facts, datetime.now(UTC))
        osd = api.call("GET", "cluster/{fsid}/osd/0").json
        assert osd["server"] == "vm.lab.example"
        assert {o["server"] for o in api.call("GET", "cluster/{fsid}/osd").json} == {"vm.lab.example"}
        assert api.call("GET", f"server/{osd['server']}").status_code == 200
    finally:
        api.close()


def test_osd_events_link_the_fqdn_of_their_server(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir)
    try:
        facts = {"hostname": "vm", "fqdn": "vm.lab.example", "services": []}
        api.service.on_server_facts(api.fsid, facts, datetime.now(UTC))
        api.feed("05")  # osd.2 goes down
        deadline = time.monotonic() + 10
        while True:
            events = api.call("GET", "server/vm.lab.example/event").json["results"]
            if any(e["message"] == "OSD osd.2 went down" for e in events) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        down = [e for e in events if e["message"] == "OSD osd.2 went down"]
        assert down and down[0]["fqdn"] == "vm.lab.example"
    finally:
        api.close()


def test_scrub_of_unknown_command_or_down_osd(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=("00", "05"))
    try:
        assert api.call("POST", "cluster/{fsid}/osd/0/command/explode").status_code == 404
        r = api.call("POST", "cluster/{fsid}/osd/2/command/scrub")
        assert r.status_code == 400 and "osd.2" in r.json["errors"]
        assert api.call("GET", "cluster/{fsid}/osd/2/command").json == {"2": {"valid_commands": []}}
    finally:
        api.close()


def test_cli_allows_only_read_only_commands(api):
    r = api.call("POST", "cluster/{fsid}/cli", json={"command": "ceph osd pool delete rbd"})
    assert r.status_code == 400 and "command" in r.json["errors"]
    assert api.call("POST", "cluster/{fsid}/cli", json={"command": "ceph 'osd"}).status_code == 400
    assert api.call("POST", "cluster/{fsid}/cli", user="viewer", json={"command": "ceph status"}).status_code == 403


def test_cli_runs_through_the_collector(api):
    import threading

    def answer(already: int = 0):
        for _ in range(500):
            cli = [s for s in api.sender.sent if s[1].startswith("cli/")]
            if len(cli) > already:
                api.service.on_command_result(cli[-1][1], 0, {"epoch": 19}, "", None)
                return
            threading.Event().wait(0.01)

    thread = threading.Thread(target=answer)
    thread.start()
    r = api.call("POST", "cluster/{fsid}/cli", json={"command": "ceph osd pool get rbd size -f json"})
    thread.join()
    assert r.status_code == 200 and r.json == {"out": {"epoch": 19}, "err": "", "status": 0}
    cli = [s for s in api.sender.sent if s[1].startswith("cli/")][-1]
    assert cli[2:4] == ("osd pool get", {"format": "json", "pool": "rbd", "var": "size"})

    # Calamari's clients send the words of the command line as a list: the same command
    before = len([s for s in api.sender.sent if s[1].startswith("cli/")])
    thread = threading.Thread(target=answer, args=(before,))
    thread.start()
    r = api.call("POST", "cluster/{fsid}/cli", json={"command": ["ceph", "osd", "pool", "get", "rbd", "size"]})
    thread.join()
    assert r.status_code == 200 and r.json["status"] == 0
    sent = [s for s in api.sender.sent if s[1].startswith("cli/")]
    assert len(sent) == before + 1
    assert sent[-1][2:4] == ("osd pool get", {"format": "json", "pool": "rbd", "var": "size"})
