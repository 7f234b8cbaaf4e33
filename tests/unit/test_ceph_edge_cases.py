"""Ceph 16.2 behaviours an operator meets, on the real captures: PG counts moving towards their
targets, destroyed OSDs, and how requests plan and complete around them."""

import copy
from datetime import timedelta

import pytest

from calamari.domain.event_feed import describe
from calamari.domain.model import ClusterModel
from calamari.domain.requests import plan_pool_update
from calamari.testing.captures import capture_steps, captured_at, sync_objects

PHOTOS = 3  # the pool of step 09: pg_num 32 reached, pgp_num 16 on its way to 32


def model_at_step(capture_dir: str, last: str) -> tuple[ClusterModel, str, dict]:
    """A model fed every step up to `last`, its fsid, and a copy of that step's OSD map."""
    model = ClusterModel()
    for step in capture_steps(capture_dir):
        fsid, objects = sync_objects(step)
        for name, version, data in objects:
            model.ingest(fsid, name, version, data, captured_at(step))
        model.drain()
        if step.endswith(last):
            osd_map = copy.deepcopy(next(d for n, _, d in objects if n == "osd_map"))
            return model, fsid, osd_map
    raise AssertionError(f"no step {last}")


def next_osd_map(model: ClusterModel, fsid: str, change) -> list:
    """Ingest the held OSD map, changed by `change`, as the next epoch; the events it made."""
    osd_map = copy.deepcopy(model.held[fsid]["osd_map"][1])  # a new map is a new document
    osd_map["epoch"] += 1
    change(osd_map)
    at = max(model.aggregates[e].modified_on for e in model.aggregates) + timedelta(seconds=1)
    model.ingest(fsid, "osd_map", osd_map["epoch"], osd_map, at)
    return model.drain()


@pytest.fixture
def step09(capture_dir):
    return model_at_step(capture_dir, "09-pool-changed")


def test_the_capture_shows_pgp_num_on_its_way(step09):
    _, _, osd_map = step09
    photos = next(p for p in osd_map["pools"] if p["pool"] == PHOTOS)
    assert (photos["pg_placement_num"], photos["pg_placement_num_target"]) == (16, 32)


def test_setting_pgp_num_to_the_value_on_the_way_is_a_change(step09):
    # Ceph is moving pgp_num 16 -> 32; asking for 16 stops it there, it is not "no change"
    model, fsid, _ = step09
    plan = plan_pool_update(model, fsid, PHOTOS, {"pgp_num": 16})
    assert plan is not None
    assert [c["args"] for c in plan.commands] == [{"pool": "photos", "var": "pgp_num", "val": "16"}]


def test_setting_pgp_num_to_its_target_is_no_change(step09):
    model, fsid, _ = step09
    assert plan_pool_update(model, fsid, PHOTOS, {"pgp_num": 32}) is None


def test_pg_num_split_in_progress_is_judged_against_the_target(step09):
    model, fsid, _ = step09

    def split_under_way(m: dict) -> None:
        photos = next(p for p in m["pools"] if p["pool"] == PHOTOS)
        photos.update(pg_num=16, pg_num_target=32, pg_placement_num=16, pg_placement_num_target=16)

    next_osd_map(model, fsid, split_under_way)
    assert model.pools[fsid][PHOTOS].settings["pg_num"] == 16
    # back to 16 is a change (Ceph's target is 32) ...
    assert plan_pool_update(model, fsid, PHOTOS, {"pg_num": 16}) is not None
    # ... and pgp_num may follow pg_num's target, as Ceph allows
    plan = plan_pool_update(model, fsid, PHOTOS, {"pgp_num": 32})
    assert plan is not None and plan.expect[0]["fields"] == {"pgp_num": 32}


def test_osd_destroy_keeps_the_id_and_a_replacement_takes_it(step09):
    model, fsid, _ = step09
    old_uuid = model.osds[fsid][2].uuid

    def destroyed(m: dict) -> None:  # `ceph osd down 2; ceph osd out 2; ceph osd destroy 2`
        m["osds"][2].update(uuid="00000000-0000-0000-0000-000000000000", up=0, weight=0, state=["destroyed", "exists"])
        m["osds"][2]["in"] = 0

    events = next_osd_map(model, fsid, destroyed)
    assert [type(e).__name__ for e in events] == ["OsdDestroyed", "OsdMarkedDown", "OsdMarkedOut"]
    osd = model.osds[fsid][2]
    assert not osd.removed and (osd.up, osd.in_) == (False, False) and osd.uuid != old_uuid
    assert describe(events[0], osd)[1] == "OSD osd.2 destroyed; its id is kept for a replacement"

    def replaced(m: dict) -> None:  # `ceph osd new <uuid> 2` by the new disk's deployment
        m["osds"][2].update(uuid="5a0e5b52-6a50-4c1c-9c1c-2f1b0d3c7e11", state=["exists", "new"])

    events = next_osd_map(model, fsid, replaced)
    assert [type(e).__name__ for e in events] == ["OsdReadded"]
    assert model.osds[fsid][2].uuid == "5a0e5b52-6a50-4c1c-9c1c-2f1b0d3c7e11"


def test_an_osd_taking_a_purged_id_does_not_inherit_the_old_host(step09):
    model, fsid, _ = step09
    at = model.clusters[fsid].modified_on + timedelta(seconds=1)
    assert model.osds[fsid][2].host == model.osds[fsid][2].metadata["hostname"] == "vm"

    # `ceph osd purge 2`: gone from the OSD map, the CRUSH map and the OSD metadata
    next_osd_map(model, fsid, lambda m: m["osds"].pop(2))
    crush_version, crush = model.held_document(fsid, "crush_map")
    crush = copy.deepcopy(crush)
    crush["devices"] = [d for d in crush["devices"] if d["id"] != 2]
    for bucket in crush["buckets"]:
        bucket["items"] = [i for i in bucket["items"] if i["id"] != 2]
    model.ingest(fsid, "crush_map", crush_version + 1, crush, at)
    metadata = [m for m in model.held_document(fsid, "osd_metadata")[1] if m["id"] != 2]
    model.ingest(fsid, "osd_metadata", "after-purge", metadata, at)
    model.drain()

    # `ceph osd new <uuid>` on another host takes id 2; its daemon has not booted yet
    def created(m: dict) -> None:
        m["osds"].append({"osd": 2, "uuid": "0f3c5a6e-8d1b-4c2a-9e7f-1a2b3c4d5e6f", "up": 0, "in": 0, "weight": 0,
                          "primary_affinity": 1, "public_addr": "", "cluster_addr": "", "state": ["exists", "new"]})

    events = next_osd_map(model, fsid, created)
    assert [type(e).__name__ for e in events] == ["OsdReadded"]
    osd = model.osds[fsid][2]
    assert (osd.host, osd.crush_ancestry, osd.metadata) == (None, [], {})
    assert describe(events[0], osd)[3] is None  # the feed does not tie it to the old server
