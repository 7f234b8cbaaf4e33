"""The simulator runs CRUSH commands as a Pacific monitor does: the next CRUSH map, with the next
crush_version (also in the OSD map), shows the change; refusals carry Ceph's errno and message."""

import pytest

from collector.simulator import SimulatedCluster


@pytest.fixture
def sim():
    return SimulatedCluster("hosts=3,osds=6,pools=2,pgs=64,seed=3")


def buckets(sim):
    return {b["name"]: b for b in sim.crush_map()["buckets"]}


def parent_of(sim, name):
    node = buckets(sim)[name]["id"]
    return next((b["name"] for b in sim.crush_map()["buckets"] if any(i["id"] == node for i in b["items"])), None)


def test_add_move_rename_and_remove_a_bucket(sim):
    version, epoch = sim.crush_version, sim.osd_map()["epoch"]
    assert sim.execute("osd crush add-bucket", {"name": "rack1", "type": "rack"})[0] == 0
    assert sim.crush_version == version + 1 and sim.osd_map()["crush_version"] == version + 1
    assert sim.osd_map()["epoch"] == epoch + 1
    assert buckets(sim)["rack1"]["type_name"] == "rack" and parent_of(sim, "rack1") is None
    assert "rack1~hdd" in buckets(sim)
    assert sim.execute("osd crush move", {"name": "rack1", "args": ["root=default"]})[0] == 0
    assert parent_of(sim, "rack1") == "default"
    rc, _, err = sim.execute("osd crush move", {"name": "rack1", "args": ["root=default"]})
    assert rc == 0 and "no need to move" in err
    assert sim.execute("osd crush move", {"name": "node0001", "args": ["rack=rack1"]})[0] == 0
    assert parent_of(sim, "node0001") == "rack1"
    assert buckets(sim)["rack1"]["weight"] == buckets(sim)["node0001"]["weight"] > 0
    assert sim.execute("osd crush rename-bucket", {"srcname": "rack1", "dstname": "rack-a"})[0] == 0
    assert "rack-a" in buckets(sim) and "rack1" not in buckets(sim)
    assert sim.execute("osd crush rename-bucket", {"srcname": "rack1", "dstname": "rack-a"}) == (
        0, "", "already renamed to 'rack-a'")
    rc, _, err = sim.execute("osd crush rm", {"name": "rack-a"})
    assert rc == -39 and "not empty" in err
    assert sim.execute("osd crush move", {"name": "node0001", "args": ["root=default"]})[0] == 0
    assert sim.execute("osd crush rm", {"name": "rack-a"})[0] == 0
    assert "rack-a" not in buckets(sim)
    assert sim.execute("osd crush rm", {"name": "rack-a"}) == (0, "", "device 'rack-a' does not appear in the crush map")


@pytest.mark.parametrize("prefix, args, rc, message", [
    ("osd crush add-bucket", {"name": "a b", "type": "rack"}, -22, "does not match"),
    ("osd crush add-bucket", {"name": "r", "type": "shelf"}, -22, "type 'shelf' does not exist"),
    ("osd crush add-bucket", {"name": "node0000", "type": "rack"}, 0, "already exists"),
    ("osd crush move", {"name": "nothing", "args": ["root=default"]}, -2, "does not exist"),
    ("osd crush move", {"name": "osd.1", "args": ["host=node0000"]}, -22, "is a device, not bucket"),
    ("osd crush move", {"name": "default", "args": ["host=node0000"]}, -22, "under itself"),
    ("osd crush rename-bucket", {"srcname": "node0000", "dstname": "node0001"}, -17, "already exists"),
    ("osd crush rename-bucket", {"srcname": "osd.0", "dstname": "x"}, -20, "is not a bucket"),
    ("osd crush rm", {"name": "default"}, -39, "is not empty"),
    ("osd crush rule create-replicated", {"name": "r", "root": "nowhere", "type": "host"}, -2,
     "root item nowhere does not exist"),
    ("osd crush rule create-replicated", {"name": "r", "root": "default", "type": "shelf"}, -22, "unknown type"),
    ("osd crush rule create-replicated", {"name": "r", "root": "default", "type": "host", "class": "ssd"}, -22,
     "device class ssd does not exist"),
    ("osd crush rule create-replicated", {"name": "replicated_rule", "root": "default", "type": "host"}, 0,
     "already exists"),
    ("osd crush rule create-erasure", {"name": "e", "profile": "nope"}, -2, "does not exist"),
    ("osd crush rule rm", {"name": "replicated_rule"}, -16, "is in use"),
    ("osd crush rule rm", {"name": "nope"}, 0, "rule nope does not exist"),
    ("osd crush rule rename", {"srcname": "nope", "dstname": "x"}, -2, "does not exist"),
    ("osd crush rule rename", {"srcname": "ec21", "dstname": "replicated_rule"}, -17, "already exists"),
])
def test_refusals_carry_cephs_errno_and_message(sim, prefix, args, rc, message):
    version = sim.crush_version
    result = sim.execute(prefix, args)
    assert result[0] == rc and message in result[2], result
    assert sim.crush_version == version  # nothing changed


def test_rules_are_created_used_renamed_and_removed(sim):
    assert sim.execute("osd crush rule create-replicated",
                       {"name": "fast", "root": "default", "type": "osd", "class": "hdd"})[0] == 0
    rule = next(r for r in sim.crush_map()["rules"] if r["rule_name"] == "fast")
    assert rule["rule_id"] == 2 and rule["type"] == 1
    assert rule["steps"][0] == {"op": "take", "item": -2, "item_name": "default~hdd"}
    assert rule["steps"][1] == {"op": "choose_firstn", "num": 0, "type": "osd"}
    assert sim.execute("osd pool create", {"pool": "p", "pg_num": 8, "pool_type": "replicated", "rule": "fast"})[0] == 0
    assert next(p for p in sim.osd_map()["pools"] if p["pool_name"] == "p")["crush_rule"] == 2
    assert sim.execute("osd crush rule rm", {"name": "fast"})[0] == -16
    assert sim.execute("osd crush rule rename", {"srcname": "fast", "dstname": "quick"})[0] == 0
    assert sim.execute("osd pool delete", {"pool": "p", "pool2": "p", "yes_i_really_really_mean_it": True})[0] == 0
    assert sim.execute("osd crush rule rm", {"name": "quick"})[0] == 0
    assert [r["rule_name"] for r in sim.crush_map()["rules"]] == ["replicated_rule", "ec21"]
    rc, _, out = sim.execute("osd crush rule create-erasure", {"name": "ec", "profile": "ec21"})
    assert rc == 0 and out == "created rule ec at 2"
    rule = sim.crush_map()["rules"][2]
    assert rule["type"] == 3 and rule["max_size"] == 3
    assert {"op": "chooseleaf_indep", "num": 0, "type": "host"} in rule["steps"]


def test_a_bucket_a_rule_takes_cannot_be_removed(sim):
    sim.execute("osd crush add-bucket", {"name": "spare", "type": "root"})
    sim.execute("osd crush rule create-replicated", {"name": "on-spare", "root": "spare", "type": "host"})
    rc, _, err = sim.execute("osd crush rm", {"name": "spare"})
    assert rc == -16 and "on-spare" in err
