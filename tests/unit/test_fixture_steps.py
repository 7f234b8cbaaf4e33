"""Feeding the real Ceph 16.2 capture steps 00→11 in order gives exactly the changes a person
sees between them."""

from collections import Counter

import pytest

from calamari.domain.model import ClusterModel
from calamari.testing.captures import capture_steps, captured_at, sync_objects

# step → the events (type and subject) that step must produce, nothing more.
EXPECTED = {
    "01-after-writes": [],
    "02-pool-created": ["PoolCreated images", "PgStatesChanged"],
    "03-ec-pool": ["PoolCreated ecpool", "CrushMapChanged", "PgStatesChanged"],
    "04-noout-set": ["ClusterFlagsChanged +noout", "HealthCheckRaised OSDMAP_FLAGS", "HealthChanged HEALTH_WARN"],
    "05-osd2-down": ["OsdMarkedDown osd.2", "HealthCheckRaised OSD_DOWN", "PgStatesChanged"],
    "06-osd2-out": ["ClusterFlagsChanged -noout", "OsdMarkedOut osd.2", "HealthCheckCleared OSDMAP_FLAGS",
                    "HealthCheckCleared OSD_DOWN", "HealthChanged HEALTH_OK", "PgStatesChanged"],
    "07-osd2-back": ["OsdMarkedUp osd.2", "OsdMarkedIn osd.2", "OsdAddressChanged osd.2",
                     "OsdMetadataChanged osd.2", "PoolSettingsChanged ecpool pg_num,pgp_num", "PgStatesChanged",
                     # the CRUSH version moved (the OSD re-registered) without a change we model
                     "SyncVersionAdvanced crush_map 9"],
    "08-reweight": ["OsdReweighted osd.1 0.5", "PgStatesChanged"],
    "09-pool-changed": ["PoolRenamed images->photos", "PoolSettingsChanged photos pg_num", "PgStatesChanged"],
    "10-pool-deleted": ["PoolDeleted photos", "HealthCheckRaised PG_AVAILABILITY", "HealthCheckRaised SLOW_OPS",
                        "HealthChanged HEALTH_WARN", "PgStatesChanged"],
    "11-scrub-and-flag": ["PgStatesChanged", "SyncVersionAdvanced osd_map 49"],
}


def describe(event, model: ClusterModel) -> str:
    name = type(event).__name__
    agg = model.aggregates[event.originator_id]
    if name.startswith("Osd"):
        extra = f" {event.reweight}" if name == "OsdReweighted" else ""
        return f"{name} osd.{agg.osd_id}{extra}"
    if name == "PoolRenamed":
        return f"{name} {event.previous}->{event.name}"
    if name == "PoolSettingsChanged":
        return f"{name} {agg.name} {','.join(sorted(event.changes))}"
    if name.startswith("Pool"):
        return f"{name} {agg.name}"
    if name == "ClusterFlagsChanged":
        return name + " " + " ".join([f"+{f}" for f in event.set] + [f"-{f}" for f in event.unset])
    if name.startswith("HealthCheck"):
        return f"{name} {event.code}"
    if name == "HealthChanged":
        return f"{name} {event.status}"
    if name == "SyncVersionAdvanced":
        return f"{name} {event.name} {event.version}"
    return name


def feed(model: ClusterModel, step_dir: str) -> list:
    fsid, objects = sync_objects(step_dir)
    at = captured_at(step_dir)
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, at)
    return model.drain()


def test_every_step_produces_what_a_person_sees(capture_dir):
    model = ClusterModel()
    steps = capture_steps(capture_dir)
    baseline = feed(model, steps[0])
    kinds = Counter(type(e).__name__ for e in baseline)
    assert kinds["OsdAdded"] == 3 and kinds["PoolCreated"] == 2 and kinds["ClusterDiscovered"] == 1
    assert kinds["HealthChanged"] == 1 and kinds["MonQuorumChanged"] == 1
    for step in steps[1:]:
        name = step.rsplit("/", 1)[-1]
        got = sorted(describe(e, model) for e in feed(model, step))
        assert got == sorted(EXPECTED[name]), name


def test_events_carry_source_version_and_capture_time(capture_dir):
    model = ClusterModel()
    steps = capture_steps(capture_dir)
    for step in steps[:5]:
        feed(model, step)
    events = feed(model, steps[5])
    down = next(e for e in events if type(e).__name__ == "OsdMarkedDown")
    assert down.epoch == 27
    assert down.timestamp == captured_at(steps[5])


def test_same_maps_again_produce_nothing(capture_dir):
    model = ClusterModel()
    step = capture_steps(capture_dir)[3]
    feed(model, step)
    assert feed(model, step) == []


def test_older_map_is_ignored(capture_dir):
    model = ClusterModel()
    steps = capture_steps(capture_dir)
    feed(model, steps[6])
    fsid, objects = sync_objects(steps[5])
    name, version, data = next(o for o in objects if o[0] == "osd_map")
    assert model.ingest(fsid, name, version, data, captured_at(steps[5])) is False
    assert model.drain() == []
    assert model.osds[fsid][2].in_ is False  # still as step 06 left it


@pytest.mark.parametrize("step_index", range(12))
def test_projection_rows_match_the_maps(capture_dir, step_index):
    from calamari.domain.projections import ReadModel

    model, view = ClusterModel(), ReadModel()
    steps = capture_steps(capture_dir)
    for step in steps[: step_index + 1]:
        for event in feed(model, step):
            view.apply(event, model)
    fsid, objects = sync_objects(steps[step_index])
    osd_map = next(o for o in objects if o[0] == "osd_map")[2]
    assert {(o["osd"], bool(o["up"]), bool(o["in"]), o["weight"]) for o in osd_map["osds"]} == {
        (r["id"], r["up"], r["in"], r["reweight"]) for r in view.osds[fsid].values()}
    assert {(p["pool"], p["pool_name"], p["size"], p["pg_num"]) for p in osd_map["pools"]} == {
        (r["id"], r["name"], r["size"], r["pg_num"]) for r in view.pools[fsid].values()}
    counts = view.counters(fsid)["osd"]
    assert counts["up_in"] == sum(1 for o in osd_map["osds"] if o["up"] and o["in"])
    assert counts["total"] == len(osd_map["osds"])
    assert all(r["server"] == "vm" for r in view.osds[fsid].values())
