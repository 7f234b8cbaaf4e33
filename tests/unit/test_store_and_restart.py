"""Event store round trips, batched writing, snapshots and restart.

The tests that take `store_url` run again against PostgreSQL in
tests/integration/test_postgres_store.py, which overrides that fixture."""

import os

import pytest
from support import step_events

from calamari.adapters.event_store import EventStore, event_record
from calamari.adapters.snapshots import load_model, newest_snapshot
from calamari.domain.projections import ReadModel
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.captures import capture_steps, captured_at, sync_objects


@pytest.fixture
def store_url():
    """None: the default SQLite store in the data dir."""
    return None


def feed_service(service, steps):
    for step in steps:
        fsid, objects = sync_objects(step)
        for name, version, data in objects:
            service.on_sync_object(fsid, name, version, data, captured_at(step), host="vm")
    return fsid


def snapshotted_after(tmp_path, store_url, steps):
    """A service that takes no snapshot by itself, fed `steps` and then snapshotted: its
    configuration, the service and the snapshot's position."""
    config = ServiceConfig(data_dir=str(tmp_path), snapshot_every_events=10**9, event_store_url=store_url)
    service = ModelService(config)
    feed_service(service, steps)
    return config, service, service.snapshot()


def test_stored_events_decode_to_equal_events(capture_dir):
    events = step_events(capture_steps(capture_dir)[0])
    for url in ("memory://", None):
        store = EventStore(url or "memory://")
        positions = store.append(events)
        assert positions == list(range(1, len(events) + 1))
        decoded = [e for _, e in store.read()]
        assert [vars(e) for e in decoded] == [vars(e) for e in events]


def test_sqlite_store_positions_and_records(tmp_path, capture_dir, store_url):
    store = EventStore(store_url or f"sqlite:///{tmp_path}/events.db")
    step = capture_steps(capture_dir)[0]
    fsid, _ = sync_objects(step)
    events = step_events(step)
    store.append(events[:5])
    store.append(events[5:])
    assert store.max_position() == len(events)
    tail = list(store.read(after=5))
    assert [p for p, _ in tail] == list(range(6, len(events) + 1))
    assert [p for p, _ in store.read(after=2, until=7)] == [3, 4, 5, 6, 7]
    record = event_record(*next(store.read()))
    assert record["type"] == "ClusterDiscovered" and record["data"]["fsid"] == fsid
    store.close()


def test_restart_gives_the_same_state(tmp_path, capture_dir, store_url):
    steps = capture_steps(capture_dir)
    config = ServiceConfig(data_dir=str(tmp_path), snapshot_every_events=25, event_store_url=store_url)
    service = ModelService(config)
    fsid = feed_service(service, steps)
    service.writer.flush(10)
    live = service.view.as_dict()
    live_state = {k: a.domain_state() for k, a in service.model.aggregates.items()}
    service.close()
    assert newest_snapshot(config.snapshot_dir) is not None

    again = ModelService(config)
    try:
        assert again.view.as_dict() == live
        assert {k: a.domain_state() for k, a in again.model.aggregates.items()} == live_state
        # the restored model diffs the next map against what it had: no spurious events
        before = again.store.max_position()
        feed_service(again, steps[-1:])
        again.writer.flush(10)
        assert again.store.max_position() == before
        assert again.view.osds[fsid][1]["reweight"] == 0.5
    finally:
        again.close()


def test_snapshot_plus_tail_equals_full_replay(tmp_path, capture_dir, store_url):
    steps = capture_steps(capture_dir)
    config, service, position = snapshotted_after(tmp_path, store_url, steps[:6])
    assert position and newest_snapshot(config.snapshot_dir)[0] == position
    feed_service(service, steps[6:])
    service.writer.flush(10)
    service.close()

    store = EventStore(config.store_url)  # closing the service closed its store
    from_snapshot, end = load_model(config.snapshot_dir, store)
    full, full_end = load_model(str(tmp_path / "no-snapshots"), store)
    assert end == full_end == store.max_position()
    assert {k: a.domain_state() for k, a in from_snapshot.aggregates.items()} == \
        {k: a.domain_state() for k, a in full.aggregates.items()}
    a, b = ReadModel(), ReadModel()
    a.rebuild(from_snapshot)
    b.rebuild(full)
    assert a.as_dict() == b.as_dict()
    store.close()


def test_corrupt_snapshot_falls_back_to_replay(tmp_path, capture_dir, store_url):
    steps = capture_steps(capture_dir)
    config, service, position = snapshotted_after(tmp_path, store_url, steps[:3])
    service.close()
    with open(os.path.join(config.snapshot_dir, f"snapshot-{position:012d}.msgpack"), "wb") as f:
        f.write(b"\x00garbage")
    store = EventStore(config.store_url)  # closing the service closed its store
    model, end = load_model(config.snapshot_dir, store)
    assert end == store.max_position()
    pools = model.pools[next(iter(model.pools))].values()
    assert sorted(p.name for p in pools) == ["device_health_metrics", "images", "rbd"]
    store.close()


def test_ctl_events_and_snapshot(tmp_path, capture_dir, capsys, store_url):
    import orjson

    from calamari.service import ctl

    steps = capture_steps(capture_dir)
    service = ModelService(ServiceConfig(data_dir=str(tmp_path), event_store_url=store_url))
    feed_service(service, steps[:2])
    service.close()
    store = EventStore(service.config.store_url)  # closing the service closed its store
    base = ["--data-dir", str(tmp_path)] + (["--event-store", store_url] if store_url else [])
    assert ctl.main([*base, "events", "--since", "3"]) == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["position"] == 4 and all(r["position"] > 3 for r in lines)
    assert lines[-1]["position"] == store.max_position()
    assert ctl.main([*base, "snapshot"]) == 0
    assert newest_snapshot(os.path.join(tmp_path, "snapshots"))[0] == store.max_position()
    store.close()


def test_a_failing_store_holds_new_maps_back_and_loses_nothing(tmp_path, capture_dir):
    """While the store fails, the model may run ahead of it only by max_write_backlog events;
    maps beyond that are not applied (a resync brings them later), and once the store recovers
    the stored events replay to exactly the live state."""
    steps = capture_steps(capture_dir)
    config = ServiceConfig(data_dir=str(tmp_path), max_write_backlog=5)
    service = ModelService(config)
    real_append = service.store.append
    failing = [True]

    def append(events):
        if failing[0]:
            raise OSError("disk full")
        return real_append(events)

    service.store.append = append
    try:
        fsid = feed_service(service, steps[:1])  # the first maps make far more than 5 events
        assert service.writer.backlog > 5
        held_before = service.sync_versions(fsid)
        deferred_before = service.deferred
        fsid2, objects = sync_objects(steps[1])
        applied = [service.on_sync_object(fsid2, name, version, data, captured_at(steps[1]), host="vm")
                   for name, version, data in objects]
        assert not any(applied) and service.deferred == deferred_before + len(objects)
        assert service.sync_versions(fsid) == held_before  # nothing of step 01 was taken in
        failing[0] = False
        assert service.writer.flush(30) and service.writer.backlog == 0
        feed_service(service, steps[1:])  # as the collector's resync would send them
        service.writer.flush(10)
        assert service.sync_versions(fsid) != held_before
        live = {k: a.domain_state() for k, a in service.model.aggregates.items()}
    finally:
        failing[0] = False  # else closing waits for the writer's retries
        service.close()
    replayed, _ = load_model(str(tmp_path / "empty-snapshots"), EventStore(config.store_url))
    assert {k: a.domain_state() for k, a in replayed.aggregates.items()} == live
