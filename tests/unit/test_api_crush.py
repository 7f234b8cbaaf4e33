"""CRUSH changes through the API: the Ceph commands each route sends, completion only when a CRUSH
map (versioned by the OSD map's crush_version) shows the change, and every 400/404/409."""

import copy
from datetime import UTC, datetime

import pytest
from api_support import harness_fixture

api = harness_fixture(steps=("00", "01", "02", "03"))


def held_crush(api):
    version, data = api.service.model.held_document(api.fsid, "crush_map")
    return version, copy.deepcopy(data)


def feed_crush(api, change) -> int:
    """Feed the next CRUSH map version: the held one as `change` edits it."""
    version, crush = held_crush(api)
    change(crush)
    api.service.on_sync_object(api.fsid, "crush_map", version + 1, crush, datetime.now(UTC), host="vm")
    return version + 1


def bucket(crush, name):
    return next(b for b in crush["buckets"] if b["name"] == name)


def add_bucket(crush, name, type_name, bucket_id, parent=None):
    type_id = next(t["type_id"] for t in crush["types"] if t["name"] == type_name)
    crush["buckets"].append({"id": bucket_id, "name": name, "type_id": type_id, "type_name": type_name,
                             "weight": 0, "alg": "straw2", "hash": "rjenkins1", "items": []})
    if parent:
        bucket(crush, parent)["items"].append({"id": bucket_id, "weight": 0, "pos": 1})


def add_rule(crush, name, rule_id, root="default"):
    crush["rules"].append({"rule_id": rule_id, "rule_name": name, "ruleset": rule_id, "type": 1, "min_size": 1,
                           "max_size": 10, "steps": [{"op": "take", "item": -1, "item_name": root},
                                                     {"op": "chooseleaf_firstn", "num": 0, "type": "host"},
                                                     {"op": "emit"}]})


def submit(api, method, path, body=None, user="oper"):
    r = api.call(method, f"cluster/{{fsid}}/{path}", user=user, json=body)
    assert r.status_code == 202, r.json
    return r.json["request_id"]


# ---------------------------------------------------------------------------- rules

def test_replicated_rule_completes_only_when_a_crush_map_shows_it(api):
    request_id = submit(api, "POST", "crush_rule",
                        {"name": "by-host", "root": "default", "failure_domain": "host", "device_class": "hdd"})
    assert api.sender.prefixes() == ["osd crush rule create-replicated"]
    assert api.sender.sent[0][3] == {"name": "by-host", "root": "default", "type": "host", "class": "hdd"}
    api.answer_all()
    req = api.request(request_id)
    assert req["state"] == "executing" and "CRUSH map" in req["status"]
    api.feed("04")  # a newer OSD map does not complete a CRUSH change
    feed_crush(api, lambda c: None)  # nor a newer CRUSH map without the rule
    assert api.request(request_id)["state"] == "executing"
    feed_crush(api, lambda c: add_rule(c, "by-host", 2))
    req = api.request(request_id)
    assert req["state"] == "complete" and req["error"] is False
    assert req["headline"] == "Creating CRUSH rule 'by-host'"
    names = [r["name"] for r in api.call("GET", "cluster/{fsid}/crush_rule").json]
    assert "by-host" in names


def test_erasure_rule_is_made_from_a_profile(api):
    submit(api, "POST", "crush_rule", {"name": "ec-rule", "erasure_code_profile": "ec21"})
    assert api.sender.sent[0][2:4] == ("osd crush rule create-erasure", {"name": "ec-rule", "profile": "ec21"})


def assert_refused_naming(api, resource, body, field):
    """An operator's POST of `body` to the cluster's `resource` is a 400 naming `field`, and
    nothing is sent to Ceph."""
    r = api.call("POST", f"cluster/{{fsid}}/{resource}", user="oper", json=body)
    assert r.status_code == 400, r.json
    assert field in r.json["errors"]
    assert api.sender.sent == []


@pytest.mark.parametrize("body, field", [
    ({"name": "bad name", "root": "default"}, "name"),
    ({"name": "r1"}, "root"),
    ({"name": "r1", "root": "nowhere"}, "root"),
    ({"name": "r1", "root": "default", "failure_domain": "galaxy"}, "failure_domain"),
    ({"name": "r1", "root": "default", "device_class": "nvme"}, "device_class"),
    ({"name": "r1", "erasure_code_profile": "missing"}, "erasure_code_profile"),
    ({"name": "r1", "type": "erasure"}, "erasure_code_profile"),
    ({"name": "r1", "erasure_code_profile": "ec21", "root": "default"}, "root"),
    ({"name": "r1", "root": "default", "steps": []}, "steps"),
    ({"name": "r1", "root": "default", "colour": "red"}, "colour"),
    ({"name": 5, "root": "default"}, "name"),
])
def test_invalid_rules_are_400_with_the_field(api, body, field):
    assert_refused_naming(api, "crush_rule", body, field)


def test_rule_name_in_use_is_409(api):
    r = api.call("POST", "cluster/{fsid}/crush_rule", json={"name": "replicated_rule", "root": "default"})
    assert r.status_code == 409 and "name" in r.json["errors"]


def test_rule_rename_and_its_errors(api):
    assert api.call("PATCH", "cluster/{fsid}/crush_rule/1", json={"name": "ecpool"}).status_code == 304
    assert api.call("PATCH", "cluster/{fsid}/crush_rule/1", json={"name": "replicated_rule"}).status_code == 409
    assert api.call("PATCH", "cluster/{fsid}/crush_rule/7", json={"name": "x"}).status_code == 404
    r = api.call("PATCH", "cluster/{fsid}/crush_rule/1", json={"name": "x", "min_size": 2})
    assert r.status_code == 400 and r.json["errors"] == {"min_size": "read-only field"}
    request_id = submit(api, "PATCH", "crush_rule/1", {"name": "ec-data"})
    assert api.sender.sent[0][2:4] == ("osd crush rule rename", {"srcname": "ecpool", "dstname": "ec-data"})
    api.answer_all()
    feed_crush(api, lambda c: None)
    assert api.request(request_id)["state"] == "executing"

    def rename(c):
        c["rules"][1]["rule_name"] = "ec-data"

    feed_crush(api, rename)
    assert api.request(request_id)["state"] == "complete"


def test_deleting_a_rule_in_use_is_409_and_an_unused_one_is_removed(api):
    r = api.call("DELETE", "cluster/{fsid}/crush_rule/0", user="oper")
    assert r.status_code == 409 and "rbd" in r.json["errors"]["id"]
    assert api.call("DELETE", "cluster/{fsid}/crush_rule/9", user="oper").status_code == 404
    feed_crush(api, lambda c: add_rule(c, "spare", 2))
    request_id = submit(api, "DELETE", "crush_rule/2")
    assert api.sender.sent[0][2:4] == ("osd crush rule rm", {"name": "spare"})
    api.answer_all()
    assert api.request(request_id)["state"] == "executing"
    feed_crush(api, lambda c: c["rules"].pop())
    assert api.request(request_id)["state"] == "complete"
    assert [r["id"] for r in api.call("GET", "cluster/{fsid}/crush_rule").json] == [0, 1]


# ---------------------------------------------------------------------------- nodes

def test_bucket_is_added_then_moved_and_completes_under_its_parent(api):
    request_id = submit(api, "POST", "crush_node", {"name": "rack1", "bucket_type": "rack", "parent": "default"})
    assert api.sender.prefixes() == ["osd crush add-bucket"]
    assert api.sender.sent[0][3] == {"name": "rack1", "type": "rack"}
    api.answer_all()
    assert api.sender.prefixes() == ["osd crush add-bucket", "osd crush move"]
    assert api.sender.sent[1][3] == {"name": "rack1", "args": ["root=default"]}
    api.answer_all()
    feed_crush(api, lambda c: add_bucket(c, "rack1", "rack", -5))  # added, not yet moved
    assert api.request(request_id)["state"] == "executing"
    feed_crush(api, lambda c: bucket(c, "default")["items"].append({"id": -5, "weight": 0, "pos": 1}))
    assert api.request(request_id)["state"] == "complete"
    node = next(n for n in api.call("GET", "cluster/{fsid}/crush_node").json if n["name"] == "rack1")
    assert node["id"] == -5 and node["bucket_type"] == "rack"


def test_a_top_level_bucket_is_one_command_and_parent_may_be_an_id(api):
    submit(api, "POST", "crush_node", {"name": "ssd-root", "bucket_type": "root"})
    assert api.sender.sent[0][3] == {"name": "ssd-root", "type": "root"}
    api.answer_all()
    assert api.sender.prefixes() == ["osd crush add-bucket"]
    submit(api, "POST", "crush_node", {"name": "row1", "bucket_type": "row", "parent": -1})
    api.result(1)
    assert api.sender.sent[2][3] == {"name": "row1", "args": ["root=default"]}


@pytest.mark.parametrize("body, field", [
    ({"name": "r/1", "bucket_type": "rack"}, "name"),
    ({"name": "r1", "bucket_type": "shelf"}, "bucket_type"),
    ({"name": "r1", "bucket_type": "osd"}, "bucket_type"),
    ({"name": "r1", "bucket_type": "rack", "parent": "nowhere"}, "parent"),
    ({"name": "r1", "bucket_type": "rack", "parent": -99}, "parent"),
    ({"name": "r1", "bucket_type": "rack", "parent": "vm"}, "parent"),  # a host cannot hold a rack
    ({"name": "r1", "bucket_type": "rack", "weight": 1.0}, "weight"),  # a bucket weighs what its items weigh
    ({"name": "r1"}, "bucket_type"),
])
def test_invalid_buckets_are_400_with_the_field(api, body, field):
    assert_refused_naming(api, "crush_node", body, field)


def test_every_bad_field_of_a_bucket_is_told_at_once(api):
    r = api.call("POST", "cluster/{fsid}/crush_node", user="oper",
                 json={"name": "x", "bucket_type": "shelf", "parent": "nowhere"})
    assert r.status_code == 400
    assert set(r.json["errors"]) == {"bucket_type", "parent"}
    assert r.json["errors"]["parent"] == "no CRUSH node 'nowhere'"


@pytest.mark.parametrize("name", ["vm", "default", "osd.1"])
def test_a_bucket_name_in_use_is_409(api, name):
    r = api.call("POST", "cluster/{fsid}/crush_node", json={"name": name, "bucket_type": "rack"})
    assert r.status_code == 409 and "name" in r.json["errors"]


def test_moving_and_renaming_a_bucket(api):
    feed_crush(api, lambda c: (add_bucket(c, "rack1", "rack", -5), add_bucket(c, "row1", "row", -6, "default")))
    r = api.call("PATCH", "cluster/{fsid}/crush_node/-5", json={"parent": "row1", "name": "rack-a"})
    assert r.status_code == 202
    api.answer_all()
    assert api.sender.sent[0][2:4] == ("osd crush move", {"name": "rack1", "args": ["row=row1"]})
    assert api.sender.sent[1][2:4] == ("osd crush rename-bucket", {"srcname": "rack1", "dstname": "rack-a"})

    def moved(c):
        bucket(c, "row1")["items"].append({"id": -5, "weight": 0, "pos": 0})

    feed_crush(api, moved)
    assert api.request(r.json["request_id"])["state"] == "executing"  # not renamed yet
    feed_crush(api, lambda c: bucket(c, "rack1").update(name="rack-a"))
    req = api.request(r.json["request_id"])
    assert req["state"] == "complete" and req["headline"] == "Renaming CRUSH node 'rack1' to 'rack-a' under 'row1'"


def test_bucket_changes_that_cannot_be_made(api):
    feed_crush(api, lambda c: (add_bucket(c, "rack1", "rack", -5), add_bucket(c, "row1", "row", -6, "default")))
    feed_crush(api, lambda c: bucket(c, "row1")["items"].append({"id": -5, "weight": 0, "pos": 0}))
    path = "cluster/{fsid}/crush_node/"
    assert api.call("PATCH", path + "-6", json={"parent": "rack1"}).json["errors"].keys() == {"parent"}
    assert api.call("PATCH", path + "-6", json={"parent": "row1"}).status_code == 400  # under itself
    assert api.call("PATCH", path + "-5", json={"parent": "row1"}).status_code == 304  # already there
    assert api.call("PATCH", path + "-5", json={"name": "rack1"}).status_code == 304
    assert api.call("PATCH", path + "-5", json={"name": "vm"}).status_code == 409
    assert api.call("PATCH", path + "-5", json={"name": "a b"}).json["errors"].keys() == {"name"}
    assert api.call("PATCH", path + "-5", json={"bucket_type": "row"}).json["errors"] == {
        "bucket_type": "read-only field"}
    assert api.call("PATCH", path + "-50", json={"name": "x"}).status_code == 404
    assert api.call("PATCH", path + "0", json={"name": "x"}).status_code == 404  # a device, not a bucket
    assert api.sender.sent == []


def test_deleting_buckets(api):
    r = api.call("DELETE", "cluster/{fsid}/crush_node/-3")
    assert r.status_code == 409 and "3 item" in r.json["errors"]["id"]
    assert api.call("DELETE", "cluster/{fsid}/crush_node/-40").status_code == 404
    feed_crush(api, lambda c: (add_bucket(c, "spare", "root", -5), add_rule(c, "on-spare", 2, root="spare"),
                               add_bucket(c, "empty", "rack", -6)))
    r = api.call("DELETE", "cluster/{fsid}/crush_node/-5")
    assert r.status_code == 409 and "on-spare" in r.json["errors"]["id"]
    request_id = submit(api, "DELETE", "crush_node/-6")
    assert api.sender.sent[0][2:4] == ("osd crush rm", {"name": "empty"})
    # a second change of the same bucket while the first runs
    assert api.call("PATCH", "cluster/{fsid}/crush_node/-6", json={"name": "other"}).status_code == 409
    api.answer_all()
    assert api.request(request_id)["state"] == "executing"
    feed_crush(api, lambda c: c["buckets"].remove(bucket(c, "empty")))
    assert api.request(request_id)["state"] == "complete"


def test_a_failed_crush_command_fails_the_request_with_cephs_message(api):
    request_id = submit(api, "POST", "crush_node", {"name": "r9", "bucket_type": "rack"})
    api.result(0, rc=-22, err="Error EINVAL: type 'rack' does not exist")
    req = api.request(request_id)
    assert req["state"] == "complete" and req["error"] is True and "EINVAL" in req["error_message"]


def test_crush_changes_wait_for_the_crush_map(api):
    api.service.model.held[api.fsid].pop("crush_map")
    api.service.model.clusters[api.fsid].crush = {}
    r = api.call("POST", "cluster/{fsid}/crush_node", json={"name": "r1", "bucket_type": "rack"})
    assert r.status_code == 503
