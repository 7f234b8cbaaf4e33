"""What a start leaves until its API answers: the stored past that the event feed and alerting tell
(read once, going back from the newest event, only as far as each wants), and the snapshot
writer's own copy of the model (loaded when the first snapshot is due). Until the past is read the
event lists answer 503 and alerting holds its first pass: never an answer with a hole in it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from api_support import FAST_HASHER, PASSWORD, feed_step, step

from calamari.adapters import snapshots
from calamari.adapters.event_store import EventStore
from calamari.adapters.local_host import server_grains
from calamari.adapters.snapshots import SnapshotWriter, encode_aggregates, load_model, load_snapshot, newest_snapshot
from calamari.api.app import create_app
from calamari.bootstrap import build_services
from calamari.domain.alerts.changes import RecentChanges
from calamari.domain.event_feed import EventFeed
from calamari.service.alerting import AlertingService
from calamari.service.auth import AuthService
from calamari.service.collector_keys import CollectorKeyService
from calamari.service.model import ModelService, ServiceConfig, StoreClosed
from calamari.service.stored_past import FeedPast, StoredPast

STEPS = ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09")


def stored_service(tmp_path, capture_dir) -> tuple[ServiceConfig, str]:
    """A data dir whose store holds the capture steps' events; the config to restart on it."""
    config = ServiceConfig(data_dir=str(tmp_path), snapshot_every_events=1_000_000)
    service = ModelService(config)
    for prefix in STEPS:
        fsid = feed_step(service, step(capture_dir, prefix))
    service.close()
    return config, fsid


@pytest.fixture
def restarted(tmp_path, capture_dir) -> Iterator[tuple[ModelService, str]]:
    """A service started again on a store the capture steps were fed into, and their fsid."""
    config, fsid = stored_service(tmp_path, capture_dir)
    service = ModelService(config)
    yield service, fsid
    service.close()


def all_events(store: EventStore) -> list:
    return list(store.read())


def test_the_event_list_answers_503_until_the_stored_past_is_read_then_all_of_it(restarted):
    service, fsid = restarted
    auth = AuthService(service, hasher=FAST_HASHER)
    auth.add_user("admin", PASSWORD, "admin", "test")
    services = build_services(service, auth=auth, read_past=False)
    app = create_app(services, COLLECTOR_KEYS=CollectorKeyService(service), SERVER_GRAINS=server_grains)
    client = app.test_client()
    token = client.post("/api/v2/auth/login", json={"username": "admin", "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v2/event", f"/api/v2/cluster/{fsid}/event"):
        early = client.get(path, headers=headers)
        assert early.status_code == 503, early.data
        assert early.headers["Retry-After"] == "1"
        assert "retry" in early.get_json()["detail"]
    assert not services.feed_history_told.is_set()

    services.stored_past.begin()
    assert services.feed_history_told.wait(30)
    later = client.get(f"/api/v2/cluster/{fsid}/event?page_size=1000", headers=headers)
    assert later.status_code == 200
    reference = EventFeed()
    reference.add_older(all_events(service.store), service.model)
    told = [entry["id"] for entry in later.get_json()["results"]]
    assert told and told == [e["id"] for e in reversed(reference.older) if e["fsid"] == fsid]


def test_the_feed_told_from_batches_going_back_equals_the_feed_told_at_once(restarted):
    service, _ = restarted
    events = all_events(service.store)
    whole = EventFeed()
    whole.add_older(events, service.model)
    assert any("renamed" in e["message"] for e in whole.older)  # a rename: older entries use the old name
    for batch in (1, 3, 7, len(events)):
        feed, told = EventFeed(), threading.Event()
        past = StoredPast(service.store, service.position(), [FeedPast(feed, service.model, told)], 1_000_000,
                          batch=batch, pause_share=0)
        past.run()
        assert told.is_set() and past.done.is_set()
        assert feed.older == whole.older, batch


def test_a_feed_that_keeps_few_entries_reads_only_the_newest_events(restarted):
    service, _ = restarted
    events = all_events(service.store)
    whole = EventFeed(capacity=5)
    whole.add_older(events, service.model)
    feed, told = EventFeed(capacity=5), threading.Event()
    past = StoredPast(service.store, service.position(), [FeedPast(feed, service.model, told)], 1_000_000,
                      batch=2, pause_share=0)
    past.run()
    assert len(feed.older) == 5 and feed.older == whole.older
    assert past.read < len(events)  # it stopped going back once the feed was full


def test_alerting_reads_the_stored_changes_of_its_window_only(restarted):
    service, _ = restarted
    events = all_events(service.store)
    newest = events[-1][1].timestamp
    oldest = events[0][1].timestamp
    assert newest - oldest > timedelta(minutes=1)  # the captures span more than the window below
    # a window that ends at the newest event and does not reach the oldest: the read stops early
    short = AlertingService(service, clock=lambda: newest, window=timedelta(seconds=1))
    short.attach(read_past=False)
    past = StoredPast(service.store, service.position(), [short.older], 1_000_000, batch=2, pause_share=0)
    past.run()
    assert short.primed.is_set()
    assert past.read < len(events)
    # a window reaching back past the oldest event: all of them are read, the changes kept
    long = AlertingService(service, clock=lambda: newest, window=(newest - oldest) + timedelta(days=1))
    long.attach(read_past=False)
    past = StoredPast(service.store, service.position(), [long.older], 1_000_000, batch=2, pause_share=0)
    past.run()
    assert past.read == len(events)
    kept = [entry for entries in long.changes.entries.values() for entry in entries]
    assert kept and min(entry["_at"] for entry in kept) < newest
    at_once = RecentChanges(long.changes.window, long.changes.capacity)
    for _, event in events:
        if (agg := service.model.aggregates.get(event.originator_id)) is not None:
            at_once.add(event, agg)
    assert {key: list(entries) for key, entries in long.changes.entries.items()} == \
        {key: list(entries) for key, entries in at_once.entries.items()}


def test_alerting_holds_its_first_pass_until_the_stored_changes_are_read(tmp_path, capture_dir):
    config, _ = stored_service(tmp_path, capture_dir)
    service = ModelService(config)
    alerting = AlertingService(service, interval_s=0.05)
    passes = threading.Event()

    def evaluate_all() -> list:
        passes.set()
        return []

    alerting.evaluate_all = evaluate_all  # type: ignore[method-assign]
    alerting.evaluate_changes = evaluate_all  # type: ignore[method-assign]
    try:
        alerting.attach(read_past=False)
        alerting.start()
        assert not passes.wait(0.5)  # ten timer periods: none ran
        assert alerting.older is not None
        alerting.older.finish()
        assert passes.wait(30)
    finally:
        alerting.stop()
        service.close()


def test_the_snapshot_writer_loads_no_model_at_a_start_and_its_first_snapshot_is_the_fold(tmp_path, capture_dir,
                                                                                         monkeypatch):
    config, _ = stored_service(tmp_path, capture_dir)
    store = EventStore(config.store_url)
    loads = []
    real_load = snapshots.load_model

    def counted(*args, **kwargs):
        loads.append(kwargs.get("until"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(snapshots, "load_model", counted)
    try:
        events = all_events(store)
        start = events[len(events) // 2][0]
        writer = SnapshotWriter(config.snapshot_dir, store, every_events=1_000_000)
        writer.start(start)
        writer.stop()
        assert loads == []  # started and stopped with no snapshot due: the model was never decoded again

        writer = SnapshotWriter(config.snapshot_dir, store, every_events=1_000_000)
        writer.start(start)
        after = [(p, e) for p, e in events if p > start]
        writer.persisted([p for p, _ in after], [e for _, e in after])
        assert writer.request().wait(30)
        writer.stop()
        assert loads == [start]
        position, path = newest_snapshot(config.snapshot_dir)
        assert position == events[-1][0]
        folded, _ = real_load(str(tmp_path / "nowhere"), store)
        assert encode_aggregates(load_snapshot(path, position).aggregates.values()) == \
            encode_aggregates(folded.aggregates.values())
    finally:
        store.close()


def test_an_event_the_lazily_loaded_shadow_cannot_apply_stops_snapshots(tmp_path, capture_dir):
    config, _ = stored_service(tmp_path, capture_dir)
    store = EventStore(config.store_url)

    class Unappliable:
        originator_id = "not an aggregate"

    try:
        end = store.max_position()
        writer = SnapshotWriter(config.snapshot_dir, store, every_events=1_000_000)
        writer.start(end)
        writer.persisted([end + 1], [Unappliable()])
        assert writer.request().wait(30), "the snapshot writer thread died"
        writer.stop()
        assert newest_snapshot(config.snapshot_dir) is None
        model, position = load_model(config.snapshot_dir, store)
        assert position == end and model.aggregates
    finally:
        store.close()


def test_reading_newest_first_gives_every_stored_event_once_in_batches_going_back(tmp_path, capture_dir):
    config, _ = stored_service(tmp_path, capture_dir)
    store = EventStore(config.store_url)
    try:
        events = all_events(store)
        positions = [p for p, _ in events]
        for batch in (1, 4, 1000):
            batches = list(store.read_newest_first(positions[-1], batch))
            assert all(len(b) <= batch and [p for p, _ in b] == sorted(p for p, _ in b) for b in batches)
            assert [p for b in reversed(batches) for p, _ in b] == positions
            assert batches[0][0][0] == max(positions[0], positions[-1] - batch + 1)  # the newest batch first
        middle = positions[len(positions) // 2]
        assert [p for b in reversed(list(store.read_newest_first(middle, 3))) for p, _ in b] == \
            [p for p in positions if p <= middle]
        cut = positions[len(positions) // 3]
        store.delete_through(cut)  # older events archived: the read stops at the oldest kept
        assert [p for b in reversed(list(store.read_newest_first(positions[-1], 5))) for p, _ in b] == \
            [p for p in positions if p > cut]
    finally:
        store.close()


def test_a_server_storing_in_sqlite_does_not_load_the_postgresql_driver(tmp_path):
    import subprocess
    import sys

    program = ("import sys\n"
               "import calamari.service.main\n"
               "from calamari.service.model import ModelService, ServiceConfig\n"
               f"service = ModelService(ServiceConfig(data_dir={str(tmp_path)!r}))\n"
               "assert not service.store.is_postgres\n"
               "service.close()\n"
               "print(sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg' or m.endswith('postgres_store')))\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_close_waits_for_a_background_reader_of_the_store_and_refuses_new_ones(tmp_path, capture_dir):
    """A SQLite connection closed under a running read can crash the process: close() waits."""
    config, _ = stored_service(tmp_path, capture_dir)
    service = ModelService(config)
    inside, release = threading.Event(), threading.Event()
    read: list[int] = []

    def reader() -> None:
        with service.reading_store() as store:
            inside.set()
            release.wait(5)
            read.append(len(list(store.read())))  # the store is still open here

    thread = threading.Thread(target=reader)
    thread.start()
    assert inside.wait(5)
    closing = threading.Thread(target=service.close)
    closing.start()
    closing.join(0.3)
    assert closing.is_alive()  # waits for the reader
    release.set()
    thread.join(5)
    closing.join(5)
    assert not closing.is_alive()
    assert read and read[0] > 0
    with pytest.raises(StoreClosed):
        with service.reading_store():
            pass
