"""Map versions across restarts (no map older than what the model reflects is applied, after a
kill or a restart too) and objects that vanish from a map and come back (the model follows the
newest map: a pool or OSD listed again is listed again)."""

from __future__ import annotations

import copy
import logging
import shutil
import typing
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from calamari.adapters.curve_keys import server_key_dir
from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import load_model, write_snapshot
from calamari.domain.cluster import Cluster
from calamari.domain.model import EXACT_VERSIONS, VERSION_SOURCES, ClusterModel
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.projections import ReadModel
from calamari.service import ctl
from calamari.service.control import ControlServer, cluster_handlers
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.captures import capture_steps, captured_at, sync_objects
from calamari.testing.strategies import (
    FSID,
    ClusterState,
    OsdState,
    PoolState,
    cluster_states,
    osd_map,
    pg_summary,
)

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])


def three_pools() -> ClusterState:
    return ClusterState(osds={0: OsdState(), 1: OsdState(), 2: OsdState()},
                        pools={1: PoolState("rbd"), 2: PoolState("images"), 3: PoolState("logs")}, next_pool_id=4)


def pools_of(doc: dict) -> dict[int, str]:
    return {p["pool"]: p["pool_name"] for p in doc["pools"]}


def osds_of(doc: dict) -> dict[int, tuple[bool, bool]]:
    return {o["osd"]: (bool(o["up"]), bool(o["in"])) for o in doc["osds"]}


def view_pools(view: ReadModel, fsid: str = FSID) -> dict[int, str]:
    return {i: r["name"] for i, r in view.pools.get(fsid, {}).items()}


def view_osds(view: ReadModel, fsid: str = FSID) -> dict[int, tuple[bool, bool]]:
    return {i: (r["up"], r["in"]) for i, r in view.osds.get(fsid, {}).items()}


def states(model: ClusterModel) -> dict:
    return {k: a.domain_state() for k, a in model.aggregates.items()}


class Live:
    """A model, its projection and an in-memory store, fed like the service feeds them."""

    def __init__(self) -> None:
        self.model, self.view, self.store = ClusterModel(), ReadModel(), EventStore("memory://")
        self.clock = T0

    def send(self, name: str, version, data, fsid: str = FSID) -> tuple[bool, list]:
        self.clock += timedelta(seconds=1)
        applied = self.model.ingest(fsid, name, version, data, self.clock)
        events = self.model.drain()
        for event in events:
            self.view.apply(event, self.model)
        self.store.append(events)
        return applied, events

    def restart(self, snapshot_dir: str | None = None) -> None:
        """What a restart keeps: the stored events (and a snapshot, when given one)."""
        self.model, _ = load_model(snapshot_dir or "/nonexistent-snapshots", self.store)
        self.view = ReadModel()
        self.view.rebuild(self.model)

    def replayed(self) -> ClusterModel:
        model = ClusterModel()
        for _, event in self.store.read():
            model.apply(event)
        return model


def names(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


# ------------------------------------------------------------------ item 4: vanish and come back


def test_a_pool_absent_then_present_again_is_listed_as_the_map_says() -> None:
    live, state = Live(), three_pools()
    without = copy.deepcopy(state)
    del without.pools[2]
    live.send("osd_map", 10, osd_map(state, 10))
    assert names(live.send("osd_map", 11, osd_map(without, 11))[1]) == ["PoolDeleted"]
    assert names(live.send("osd_map", 12, osd_map(state, 12))[1]) == ["PoolReappeared"]
    held = live.model.held[FSID]["osd_map"][1]
    assert view_pools(live.view) == pools_of(held) == {1: "rbd", 2: "images", 3: "logs"}
    assert states(live.replayed()) == states(live.model)


@SLOW
@given(state=cluster_states(max_osds=6, max_pools=5), data=st.data())
def test_anything_that_vanishes_and_comes_back_is_listed_again(state: ClusterState, data) -> None:
    """Any set of pools and OSDs absent from one map and back in the next (with other changes
    meanwhile): the model, the rows and the replay all equal the newest map."""
    gone_pools = data.draw(st.sets(st.sampled_from(sorted(state.pools)))) if state.pools else set()
    gone_osds = data.draw(st.sets(st.sampled_from(sorted(state.osds)), max_size=len(state.osds) - 1))
    assume(gone_pools or gone_osds)
    without = copy.deepcopy(state)
    for pool in gone_pools:
        del without.pools[pool]
    for osd in gone_osds:
        del without.osds[osd]
    back = copy.deepcopy(state)
    for pool in back.pools.values():  # and it may come back changed
        pool.size = data.draw(st.integers(1, 4))
    for osd in back.osds.values():
        osd.up = data.draw(st.booleans())
    live = Live()
    for epoch, doc in ((10, osd_map(state, 10)), (11, osd_map(without, 11)), (12, osd_map(back, 12))):
        assert live.send("osd_map", epoch, doc)[0]
        assert view_pools(live.view) == pools_of(doc)
        assert view_osds(live.view) == osds_of(doc)
        assert {i: r["size"] for i, r in live.view.pools.get(FSID, {}).items()} == {
            p["pool"]: p["size"] for p in doc["pools"]}
    replayed = live.replayed()
    assert states(replayed) == states(live.model)
    view = ReadModel()
    view.rebuild(replayed)
    assert view.as_dict() == live.view.as_dict()


def test_a_pool_that_comes_back_after_a_restart_is_listed(tmp_path) -> None:
    state = three_pools()
    without = copy.deepcopy(state)
    del without.pools[3]
    service = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    try:
        assert service.on_sync_object(FSID, "osd_map", 10, osd_map(state, 10), T0, host="t")
        assert service.on_sync_object(FSID, "osd_map", 11, osd_map(without, 11), T0, host="t")
        assert 3 not in service.view.pools[FSID]
    finally:
        service.close()
    again = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    try:
        assert again.on_sync_object(FSID, "osd_map", 12, osd_map(state, 12), T0, host="t")
        assert view_pools(again.view) == pools_of(again.sync_object(FSID, "osd_map")[1])
        assert again.view.pools[FSID][3]["name"] == "logs"
    finally:
        again.close()


# ------------------------------------------------------------------ item 3: versions across a restart


def restart(service: ModelService, how: str, leftovers: list[ModelService]) -> ModelService:
    """`snapshot`: a snapshot then a clean stop; `replay`: a clean stop, no snapshot at all;
    `killed`: the process just stops (nothing closed; what the writer wrote is all there is)."""
    config = service.config
    if how == "snapshot":
        assert service.snapshot() is not None
        service.close()
    elif how == "replay":
        service.close()
        shutil.rmtree(config.snapshot_dir, ignore_errors=True)
    else:
        assert service.writer.flush(10)
        leftovers.append(service)  # as good as dead: it is only closed when the test ends
    return ModelService(config)


@pytest.mark.parametrize("how", ["snapshot", "replay", "killed"])
def test_an_older_osd_map_after_a_restart_is_refused(tmp_path, capture_dir, how) -> None:
    """The server held epoch 1,000,011 (a map that changed nothing else); after a restart a map of
    epoch 150 that lacks a pool changes nothing, and is not stored."""
    steps = capture_steps(capture_dir)
    service = ModelService(ServiceConfig(data_dir=str(tmp_path), snapshot_every_events=10**9))
    leftovers: list[ModelService] = []
    try:
        for step in steps[:10]:
            fsid, objects = sync_objects(step)
            for name, version, data in objects:
                service.on_sync_object(fsid, name, version, data, captured_at(step), host="vm")
        current = copy.deepcopy(service.sync_object(fsid, "osd_map")[1])
        current["epoch"] = 1_000_011
        assert service.on_sync_object(fsid, "osd_map", 1_000_011, current, T0, host="vm")
        pools_before = copy.deepcopy(service.view.pools[fsid])
        service = restart(service, how, leftovers)

        older = next(d for n, _, d in sync_objects(steps[10])[1] if n == "osd_map")  # a pool deleted
        older = {**copy.deepcopy(older), "epoch": 150}
        stored = service.store.max_position()
        assert service.on_sync_object(fsid, "osd_map", 150, older, T0, host="vm") is False
        assert service.view.pools[fsid] == pools_before
        assert service.model.reflected[fsid]["osd_map"] == 1_000_011
        assert service.sync_object(fsid, "osd_map") is None
        service.writer.flush(10)
        assert service.store.max_position() == stored
        # the collector's own current map is taken again (same version: nothing new), and a newer
        # one that deletes the pool is applied as usual
        assert service.on_sync_object(fsid, "osd_map", 1_000_011, current, T0, host="vm")
        assert service.view.pools[fsid] == pools_before
        newer = {**copy.deepcopy(older), "epoch": 1_000_012}
        assert service.on_sync_object(fsid, "osd_map", 1_000_012, newer, T0, host="vm")
        assert view_pools(service.view, fsid) == pools_of(newer)
    finally:
        service.close()
        for old in leftovers:
            old.close()


@SLOW
@given(first=cluster_states(max_osds=5, max_pools=4), second=cluster_states(max_osds=5, max_pools=4),
       high=st.integers(20, 10**12), low=st.integers(1, 19), same_content=st.booleans(),
       snapshot=st.booleans())
def test_after_a_restart_no_older_osd_map_rewrites_the_model(first, second, high, low, same_content,
                                                            snapshot, tmp_path_factory) -> None:
    """Any model, whose newest osd map changed something or nothing; a restart from the events
    alone or from a snapshot; then any other map of a lower epoch: refused, model unchanged."""
    live = Live()
    live.send("osd_map", 5, osd_map(first, 5))
    live.send("osd_map", high, osd_map(first if same_content else second, high))
    before = (view_pools(live.view), view_osds(live.view))
    snapdir = None
    if snapshot:
        snapdir = str(tmp_path_factory.mktemp("snapshots"))
        write_snapshot(snapdir, live.store.max_position(), live.model)
    live.restart(snapdir)
    other = copy.deepcopy(second if same_content else first)
    applied, events = live.send("osd_map", low, osd_map(other, low))
    assert (applied, events) == (False, [])
    assert (view_pools(live.view), view_osds(live.view)) == before
    assert live.model.reflected[FSID]["osd_map"] == high


def first_capture(capture_dir: str) -> tuple[str, dict]:
    step = capture_steps(capture_dir)[0]
    fsid, objects = sync_objects(step)
    return fsid, {name: (version, data) for name, version, data in objects}


@pytest.mark.parametrize("name", sorted(EXACT_VERSIONS))
def test_every_versioned_map_keeps_its_version_across_a_restart(capture_dir, name) -> None:
    """A newer version that changed nothing still bounds what comes after a restart."""
    fsid, objects = first_capture(capture_dir)
    live = Live()
    for obj, (version, data) in objects.items():
        live.send(obj, version, data, fsid)
    version, data = objects[name]

    def at(v: int) -> dict:  # the OSD map names its own epoch; the model checks they agree
        return {**data, "epoch": v} if name == "osd_map" else data

    applied, events = live.send(name, version + 1000, at(version + 1000), fsid)
    live.restart()
    assert live.send(name, version + 999, at(version + 999), fsid) == (False, [])
    assert live.send(name, version + 1000, at(version + 1000), fsid) == (True, [])
    assert live.model.held[fsid][name][0] == version + 1000
    assert applied and names(events) == ["SyncVersionAdvanced"]
    assert live.model.reflected[fsid][name] == version + 1000


def test_pg_summary_versions_bound_by_the_last_change_of_counts() -> None:
    """The PG summary's version moves every few seconds: only versions that changed counts are
    recorded, so after a restart older summaries than that are refused."""
    state, live = three_pools(), Live()
    state.pg_states = {"active+clean": 96}
    live.send("pg_summary", 100, pg_summary(state, 100))
    changed = copy.deepcopy(state)
    changed.pg_states = {"active+clean": 90, "peering": 6}
    assert names(live.send("pg_summary", 200, pg_summary(changed, 200))[1]) == ["PgStatesChanged"]
    assert live.send("pg_summary", 300, pg_summary(changed, 300)) == (True, [])
    live.restart()
    assert live.send("pg_summary", 150, pg_summary(state, 150)) == (False, [])
    assert live.model.clusters[FSID].pg_by_state == changed.pg_states
    assert live.send("pg_summary", 250, pg_summary(changed, 250)) == (True, [])


def test_the_same_maps_after_a_restart_restore_the_held_copies_without_events(tmp_path, capture_dir) -> None:
    steps = capture_steps(capture_dir)
    config = ServiceConfig(data_dir=str(tmp_path))
    service = ModelService(config)
    for step in steps:
        fsid, objects = sync_objects(step)
        for name, version, data in objects:
            service.on_sync_object(fsid, name, version, data, captured_at(step), host="vm")
    held = service.sync_versions(fsid)
    service.close()
    again = ModelService(config)
    try:
        assert again.sync_versions(fsid) == {}
        # what a collector's heartbeat then gets asked for again: everything it holds
        assert sorted(again.sync_wanted(fsid, held)) == sorted(held)
        assert again.sync_wanted(fsid, {"osd_map": held["osd_map"] - 1, "mon_map": held["mon_map"] - 1}) == []
        stored = again.store.max_position()
        fsid, objects = sync_objects(steps[-1])
        assert all(again.on_sync_object(fsid, n, v, d, captured_at(steps[-1]), host="vm") for n, v, d in objects)
        again.writer.flush(10)
        assert again.store.max_position() == stored and again.sync_versions(fsid) == held
    finally:
        again.close()


def test_refusals_are_logged_at_most_once_a_minute(tmp_path, caplog) -> None:
    state = three_pools()
    service = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    try:
        service.on_sync_object(FSID, "osd_map", 500, osd_map(state, 500), T0, host="t")
        caplog.set_level(logging.WARNING, logger="calamari.service.model")
        for epoch in range(10, 15):
            assert service.on_sync_object(FSID, "osd_map", epoch, osd_map(state, epoch), T0, host="t") is False
        service.on_sync_object(FSID, "osd_map", 500, osd_map(state, 500), T0, host="t")  # a resend: no warning
        refusals = [r for r in caplog.records if "older than v500" in r.getMessage()]
        assert len(refusals) == 1 and "osd_map v10" in refusals[0].getMessage()
        assert "reset-versions" in refusals[0].getMessage()
        assert service.refused_older == 5
    finally:
        service.close()


def test_a_snapshot_from_before_versions_were_kept_still_bounds_them(tmp_path, capture_dir) -> None:
    from calamari.adapters.codec import pack
    from calamari.adapters.snapshots import decode_snapshot

    fsid, objects = first_capture(capture_dir)
    live = Live()
    for name, (version, data) in objects.items():
        live.send(name, version, data, fsid)
    path = write_snapshot(str(tmp_path), live.store.max_position(), live.model)
    with open(path, "rb") as f:
        doc = decode_snapshot(f.read())
    del doc["reflected"]
    doc["format"] = 1
    with open(path, "wb") as f:  # as written before versions (and checksums) were kept
        f.write(pack(doc))
    restored, _ = load_model(str(tmp_path), live.store)  # the snapshot is set aside: the events bound them
    assert restored.reflected[fsid]["osd_map"] == objects["osd_map"][0]
    assert restored.reflected[fsid]["mon_map"] == objects["mon_map"][0]
    assert not restored.accepts(fsid, "osd_map", objects["osd_map"][0] - 1)


def test_every_event_that_carries_a_map_version_is_counted() -> None:
    """A new map-derived event with a version field must be listed in VERSION_SOURCES, or the
    version it carries would not bound what a restarted model accepts."""
    version_fields = {"epoch", "version", "crush_version", "election_epoch"}
    missing = []
    for aggregate in (Cluster, Osd, Pool):
        for value in vars(aggregate).values():
            if isinstance(value, type) and issubclass(value, Cluster.Event | Osd.Event | Pool.Event):
                fields = set(typing.get_type_hints(value))
                if fields & version_fields and value not in VERSION_SOURCES and value is not Cluster.SyncVersionAdvanced:
                    missing.append(value.__qualname__)
    assert missing == []


# ------------------------------------------------------------------ a cluster rebuilt under the same fsid


def test_reset_versions_lets_a_rebuilt_cluster_in_and_replay_agrees() -> None:
    live, state = Live(), three_pools()
    live.send("osd_map", 900, osd_map(state, 900))
    rebuilt = ClusterState(osds={0: OsdState(uuid="0f0f0f0f-0000-4000-8000-000000000001")},
                           pools={1: PoolState(".mgr")}, next_pool_id=2)
    assert live.send("osd_map", 5, osd_map(rebuilt, 5))[0] is False
    live.model.reset_versions(FSID, "admin", live.clock)
    events = live.model.drain()
    for event in events:
        live.view.apply(event, live.model)
    live.store.append(events)
    assert names(events) == ["SyncVersionsReset"] and FSID not in live.model.reflected
    applied, events = live.send("osd_map", 5, osd_map(rebuilt, 5))
    assert applied and view_pools(live.view) == {1: ".mgr"} and sorted(view_osds(live.view)) == [0]
    assert live.send("osd_map", 4, osd_map(state, 4)) == (False, [])  # and it bounds again from there
    live.restart()
    assert live.model.reflected[FSID]["osd_map"] == 5
    assert states(live.model) == states(live.replayed())
    assert live.send("osd_map", 4, osd_map(state, 4)) == (False, [])


def test_reset_versions_fails_requests_waiting_for_the_old_history() -> None:
    live, state = Live(), three_pools()
    live.send("osd_map", 900, osd_map(state, 900))
    live.model.submit_request("r1", FSID, "admin", "pool_create", "p", "Creating pool p", {}, [{"prefix": "x"}], T0)
    live.model.reset_versions(FSID, "admin", T0)
    assert live.model.requests["r1"].error and "reset by admin" in live.model.requests["r1"].error_message
    with pytest.raises(KeyError):
        live.model.reset_versions("00000000-0000-0000-0000-000000000000", "admin", T0)


def test_ctl_reset_versions_with_the_server_stopped(tmp_path, capsys) -> None:
    state = three_pools()
    config = ServiceConfig(data_dir=str(tmp_path))
    service = ModelService(config)
    service.on_sync_object(FSID, "osd_map", 900, osd_map(state, 900), T0, host="t")
    service.close()
    assert ctl.main(["--data-dir", str(tmp_path), "cluster", "versions", FSID]) == 0
    assert "osd_map\t900" in capsys.readouterr().out.splitlines()
    assert ctl.main(["--data-dir", str(tmp_path), "cluster", "reset-versions", "nope"]) == 1
    assert ctl.main(["--data-dir", str(tmp_path), "cluster", "reset-versions", FSID]) == 0
    again = ModelService(config)
    try:
        assert again.on_sync_object(FSID, "osd_map", 3, osd_map(state, 3), T0, host="t")
        assert again.sync_versions(FSID)["osd_map"] == 3
    finally:
        again.close()


def test_ctl_reset_versions_goes_through_the_running_server(tmp_path, capsys) -> None:
    state = three_pools()
    service = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    control = ControlServer(server_key_dir(str(tmp_path)), cluster_handlers(service))
    control.start()
    try:
        service.on_sync_object(FSID, "osd_map", 900, osd_map(state, 900), T0, host="t")
        assert ctl.main(["--data-dir", str(tmp_path), "cluster", "reset-versions", FSID, "--by", "ops"]) == 0
        assert "running server" in capsys.readouterr().out
        assert service.on_sync_object(FSID, "osd_map", 3, osd_map(state, 3), T0, host="t")
        reset = [e for _, e in service.store.read() if isinstance(e, Cluster.SyncVersionsReset)]
        assert [e.by for e in reset] == ["ops"]
        assert ctl.main(["--data-dir", str(tmp_path), "cluster", "reset-versions", "nope"]) == 1
    finally:
        control.stop()
        service.close()


def test_the_bus_asks_again_only_for_maps_the_restarted_model_would_take(tmp_path, capture_dir) -> None:
    from test_bus import FakeCollector

    from calamari.adapters.bus import CollectorBus

    steps = capture_steps(capture_dir)
    config = ServiceConfig(data_dir=str(tmp_path))
    service = ModelService(config)
    fsid, objects = sync_objects(steps[3])
    for name, version, data in objects:
        service.on_sync_object(fsid, name, version, data, captured_at(steps[3]), host="vm")
    held = service.sync_versions(fsid)
    service.close()
    service = ModelService(config)
    bus = CollectorBus(service, "tcp://127.0.0.1:0", contact_check_interval_s=3600)
    bus.start()
    collector = FakeCollector(bus.bound_endpoint, fsid=fsid)
    try:
        collector.hello()
        # a stale collector: its OSD map is older than the restarted model reflects, its monitor
        # map the same version (whose copy the restart lost), its health some other content
        collector.send("heartbeat", {"versions": {"osd_map": held["osd_map"] - 1, "mon_map": held["mon_map"],
                                                  "health": "another"}})
        assert sorted(collector.receive_type("resync").body["names"]) == ["health", "mon_map"]
    finally:
        collector.close()
        bus.stop()
        service.close()


def test_the_event_feed_and_history_tell_a_pool_listed_again_and_a_reset() -> None:
    from calamari.domain.event_feed import describe
    from calamari.domain.history import ChangeSummary

    live, state = Live(), three_pools()
    without = copy.deepcopy(state)
    del without.pools[2]
    live.send("osd_map", 10, osd_map(state, 10))
    live.send("osd_map", 11, osd_map(without, 11))
    _, events = live.send("osd_map", 12, osd_map(state, 12))
    live.model.reset_versions(FSID, "admin", live.clock)
    events += live.model.drain()
    told = [describe(e, live.model.aggregates[e.originator_id]) for e in events]
    assert [t[1] for t in told if t] == [
        "Pool 'images' listed again by the OSD map after it was deleted",
        "Map versions of cluster 'ceph' reset (by admin): maps of lower versions are accepted again"]
    summary = ChangeSummary(FSID, None)
    for position, event in enumerate(events, 1):
        summary.add(position, event, live.model.aggregates[event.originator_id])
    assert [p["id"] for p in summary.finish(None)["pools"]["created"]] == [2]


def test_the_api_lists_what_the_held_map_lists_across_vanishing_pools_and_a_restart(tmp_path, capture_dir) -> None:
    """/pool and sync_object/osd_map agree: after a pool is absent then present again, and after
    a restart in which an older map that lacks it arrives."""
    from api_support import Harness

    api = Harness(str(tmp_path), capture_dir, steps=("00", "01", "02"))  # 02: pool `images` created
    try:
        full = api.call("GET", "cluster/{fsid}/sync_object/osd_map").json
        epoch = full["epoch"]
        without = {**copy.deepcopy(full), "epoch": epoch + 1,
                   "pools": [p for p in full["pools"] if p["pool_name"] != "images"]}
        assert api.service.on_sync_object(api.fsid, "osd_map", epoch + 1, without, T0, host="vm")
        assert "images" not in [p["name"] for p in api.call("GET", "cluster/{fsid}/pool").json]
        again = {**copy.deepcopy(full), "epoch": epoch + 2}
        assert api.service.on_sync_object(api.fsid, "osd_map", epoch + 2, again, T0, host="vm")
        listed = sorted(p["name"] for p in api.call("GET", "cluster/{fsid}/pool").json)
        held = sorted(p["pool_name"] for p in api.call("GET", "cluster/{fsid}/sync_object/osd_map").json["pools"])
        assert listed == held and "images" in listed
    finally:
        api.close()
    restarted = Harness(str(tmp_path), capture_dir, steps=())
    try:
        restarted.fsid = api.fsid
        stale = {**copy.deepcopy(without), "epoch": epoch - 5}
        assert restarted.service.on_sync_object(api.fsid, "osd_map", epoch - 5, stale, T0, host="vm") is False
        assert sorted(p["name"] for p in restarted.call("GET", "cluster/{fsid}/pool").json) == listed
    finally:
        restarted.close()
