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
    ("osd crush move", {"name": "osd.99", "args": ["host=node0000"]}, -2, "item osd.99 does not exist"),
    ("osd crush move", {"name": "osd.1", "args": ["host=node0000"]}, 0, "no need to move item id 1"),
    ("osd crush reweight", {"name": "node0000", "weight": 1.0}, -22, "is not a leaf"),
    ("osd crush reweight", {"name": "osd.99", "weight": 1.0}, -2, "does not appear in the crush map"),
    ("osd crush reweight", {"name": "osd.1", "weight": -1.0}, -22, "not in range"),
    ("osd crush unlink", {"name": "osd.1", "ancestor": "nowhere"}, -2, "ancestor item 'nowhere' does not appear"),
    ("osd crush unlink", {"name": "osd.1", "ancestor": "node0001"}, 0, "item 1 does not appear in that position"),
    ("osd crush unlink", {"name": "osd.99"}, 0, "device 'osd.99' does not appear in the crush map"),
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


def items_of(sim, name):
    return {i["id"]: i["weight"] for i in buckets(sim)[name]["items"]}


def hostname_of(sim, osd_id):
    return next(m["hostname"] for m in sim.osd_metadata()[1] if m["id"] == osd_id)


def test_an_osd_is_moved_between_hosts_and_its_machine_follows(sim):
    version = sim.crush_version
    assert sim.execute("osd crush move", {"name": "osd.1", "args": ["host=node0001"]}) == (
        0, "", "moved item id 1 name 'osd.1' to location {host=node0001} in crush map")
    assert sim.crush_version == version + 1
    assert 1 not in items_of(sim, "node0000") and items_of(sim, "node0001")[1] == 4 * 0x10000  # weight kept
    assert list(items_of(sim, "node0001")) == [2, 3, 1]  # appended, as Ceph inserts a moved item
    assert 1 in items_of(sim, "node0001~hdd")
    assert buckets(sim)["node0001"]["weight"] == 3 * 4 * 0x10000
    assert hostname_of(sim, 1) == "node0001" and hostname_of(sim, 0) == "node0000"
    services = dict(sim.server_facts())["node0001"]["services"]
    assert {"type": "osd", "id": "1"} in [{"type": s["type"], "id": s["id"]} for s in services]
    addrs = {o["osd"]: o["public_addr"] for o in sim.osd_map()["osds"]}
    assert addrs[1].startswith("10.0.1.10:") and len(set(addrs.values())) == 6  # no two OSDs share an address


def test_an_osd_moved_to_a_new_bucket_keeps_its_machine(sim):
    sim.execute("osd crush add-bucket", {"name": "spare-host", "type": "host"})
    sim.execute("osd crush move", {"name": "spare-host", "args": ["root=default"]})
    assert sim.execute("osd crush move", {"name": "osd.5", "args": ["host=spare-host"]})[0] == 0
    assert items_of(sim, "spare-host") == {5: 4 * 0x10000}
    assert hostname_of(sim, 5) == "node0002"
    rc, _, err = sim.execute("osd crush rm", {"name": "spare-host"})
    assert rc == -39 and "not empty" in err


def test_crush_reweight_and_unlink_show_in_the_next_map(sim):
    version = sim.crush_version
    assert sim.execute("osd crush reweight", {"name": "osd.2", "weight": 0.5}) == (
        0, "", "reweighted item id 2 name 'osd.2' to 0.5 in crush map")
    assert items_of(sim, "node0001")[2] == 0x8000 and sim.crush_version == version + 1
    assert sim.execute("osd crush unlink", {"name": "osd.2", "ancestor": "node0001"}) == (
        0, "", "removed item id 2 name 'osd.2' from crush map")
    assert 2 not in items_of(sim, "node0001")
    assert 2 in {d["id"] for d in sim.crush_map()["devices"]}  # unlinked, not removed
    assert sim.execute("osd crush move", {"name": "osd.2", "args": ["host=node0001"]})[0] == 0
    assert items_of(sim, "node0001")[2] == 0x8000  # its weight was remembered
    assert sim.execute("osd crush unlink", {"name": "node0002", "ancestor": "default"})[0] == 0
    assert parent_of(sim, "node0002") is None and items_of(sim, "node0002")  # a bucket keeps its items


def test_a_machine_emptied_by_moves_still_takes_new_pools(sim):
    for osd_id in (0, 1):
        assert sim.execute("osd crush move", {"name": f"osd.{osd_id}", "args": ["host=node0001"]})[0] == 0
    assert sim.host_osds[0] == []
    assert sim.execute("osd pool create", {"pool": "after-move", "pg_num": 32})[0] == 0
    assert sim.execute("osd crush rm", {"name": "node0000"})[0] == 0


def test_setcrushmap_resent_after_it_was_applied_is_answered_as_done_like_the_monitor():
    from calamari.crush.text_render import render_crush_text

    sim = SimulatedCluster("hosts=2,osds=4,pools=1,pgs=16,seed=5")
    before = sim.crush_version
    text = render_crush_text(sim.crush_map()).replace("weight 4.000", "weight 3.000", 1)
    assert sim.execute("osd setcrushmap", {"prior_version": before}, input=text)[0] == 0
    assert sim.crush_version == before + 1
    # the same map again with the same prior version: a resend of the update that was applied
    assert sim.execute("osd setcrushmap", {"prior_version": before}, input=text) == (0, "", str(before + 1))
    assert sim.crush_version == before + 1
    # a different map with that stale prior version is refused
    other = text.replace("weight 3.000", "weight 2.000", 1)
    rc, _, err = sim.execute("osd setcrushmap", {"prior_version": before}, input=other)
    assert rc < 0 and err == f"prior_version {before} != crush version {before + 1}"
