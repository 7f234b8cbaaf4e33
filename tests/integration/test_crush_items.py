"""A CRUSH bucket's items through the API against a real Ceph 16.2 cluster: osd.2 is moved into a
new host bucket with a new CRUSH weight, which the `ceph` CLI and the API both show once the request
completes; then it is moved back with its old weight and the bucket deleted, so the shared cluster
is left as it was."""

from __future__ import annotations

from typing import Any

import pytest
from crush_live import crush_live_fixture, done

from calamari.testing.live import ApiClient, ApiError, DevCluster

pytestmark = pytest.mark.integration

MOVED_OSD = 2
NEW_HOST = "host-items-e2e"
CRUSH_WEIGHT_UNIT = 0x10000  # CRUSH weights are 16.16 fixed point


live = crush_live_fixture("calamari-crush-items", "crush_node")


def holder_of(crush: dict[str, Any], item_id: int) -> dict[str, Any]:
    """The bucket (not a per-class shadow) that holds an item."""
    return next(b for b in crush["buckets"] if "~" not in b["name"] and any(i["id"] == item_id for i in b["items"]))


def item_weight(bucket: dict[str, Any], item_id: int) -> int:
    return next(i["weight"] for i in bucket["items"] if i["id"] == item_id)


def placement(crush: dict[str, Any]) -> dict[str, list[tuple[int, int]]]:
    """What must be as it was: each bucket's items and their weights."""
    return {b["name"]: [(i["id"], i["weight"]) for i in b["items"]] for b in crush["buckets"]}


def restore(cluster: DevCluster, home: str, weight: int) -> None:
    """Put osd.2 back and remove the test bucket with the CLI, whatever state a failure left."""
    cluster.ceph("osd", "crush", "move", f"osd.{MOVED_OSD}", f"host={home}")
    cluster.ceph("osd", "crush", "reweight", f"osd.{MOVED_OSD}", repr(weight / CRUSH_WEIGHT_UNIT))
    cluster.ceph("osd", "crush", "rm", NEW_HOST)


def test_an_osd_is_moved_into_a_new_host_with_a_weight_and_back(live: tuple[DevCluster, ApiClient, str]) -> None:
    cluster, api, fsid = live
    c = f"/cluster/{fsid}"
    before = cluster.ceph("osd", "crush", "dump")
    home = holder_of(before, MOVED_OSD)
    home_weight = item_weight(home, MOVED_OSD)
    try:
        done(api, api.submit("POST", f"{c}/crush_node", {"name": NEW_HOST, "bucket_type": "host",
                                                         "parent": "default"}))
        node = next(n for n in api.get(f"{c}/crush_node") if n["name"] == NEW_HOST)

        row = done(api, api.submit("PATCH", f"{c}/crush_node/{node['id']}",
                                   {"items": [{"id": MOVED_OSD, "weight": 0.5}]}))
        assert row["headline"] == (f"Changing the items of CRUSH node '{NEW_HOST}' (moving in osd.{MOVED_OSD}; "
                                   f"reweighting osd.{MOVED_OSD} to 0.5)")
        tree = {n["name"]: n for n in cluster.ceph("osd", "tree")["nodes"]}
        assert tree[NEW_HOST]["children"] == [MOVED_OSD] and MOVED_OSD not in tree[home["name"]]["children"]
        assert tree[f"osd.{MOVED_OSD}"]["crush_weight"] == 0.5
        crush = cluster.ceph("osd", "crush", "dump")
        assert holder_of(crush, MOVED_OSD)["name"] == NEW_HOST
        assert item_weight(holder_of(crush, MOVED_OSD), MOVED_OSD) == CRUSH_WEIGHT_UNIT // 2
        # complete means the API already shows it
        assert api.get(f"{c}/crush_node/{node['id']}")["items"] == [{"id": MOVED_OSD, "weight": 0.5, "pos": 0}]
        osd = api.get(f"{c}/osd/{MOVED_OSD}")
        assert osd["crush_node_ancestry"] == ["default", NEW_HOST] and osd["crush_weight"] == 0.5

        # emptying the new host would leave osd.2 in no bucket
        with pytest.raises(ApiError) as refused:
            api.call("PATCH", f"{c}/crush_node/{node['id']}", {"items": []})
        assert refused.value.status == 409 and f"osd.{MOVED_OSD}" in refused.value.body["errors"]["items"]

        # back home with its old weight, exactly (a 16.16 weight is a float the monitor takes as is)
        home_items = [{"id": i["id"]} for i in api.get(f"{c}/crush_node/{home['id']}")["items"]]
        done(api, api.submit("PATCH", f"{c}/crush_node/{home['id']}",
                             {"items": [*home_items, {"id": MOVED_OSD, "weight": home_weight / CRUSH_WEIGHT_UNIT}]}))
        assert api.get(f"{c}/crush_node/{node['id']}")["items"] == []
        assert api.get(f"{c}/osd/{MOVED_OSD}")["crush_node_ancestry"] == ["default", home["name"]]
        done(api, api.submit("DELETE", f"{c}/crush_node/{node['id']}"))
    except BaseException:
        restore(cluster, home["name"], home_weight)
        raise
    after = cluster.ceph("osd", "crush", "dump")
    assert placement(after) == placement(before)
    assert NEW_HOST not in {n["name"] for n in api.get(f"{c}/crush_node")}
