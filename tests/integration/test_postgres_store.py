"""The event store on a real PostgreSQL server (a throwaway one, started for the session): the
store and restart tests of the SQLite store, the service fed with the captures and restarted,
concurrent appends, the ctl commands, and clear errors for bad URLs and unreachable servers."""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest

# The SQLite store's tests, collected here a second time with `store_url` (below) on PostgreSQL.
from test_store_and_restart import (  # noqa: F401
    feed_service,
    test_corrupt_snapshot_falls_back_to_replay,
    test_ctl_events_and_snapshot,
    test_restart_gives_the_same_state,
    test_snapshot_plus_tail_equals_full_replay,
    test_sqlite_store_positions_and_records,
)

from calamari.adapters.event_store import EventStore, EventStoreError
from calamari.adapters.postgres_store import mask_password
from calamari.domain.model import ClusterModel
from calamari.domain.osd import Osd
from calamari.service import ctl
from calamari.service.history import History
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.captures import capture_steps, captured_at, sync_objects
from calamari.testing.postgres_server import PostgresServer, find_bin_dir

pytestmark = pytest.mark.integration
_tables = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CALAMARI_REQUIRE_POSTGRES") == "1":
            pytest.fail("CALAMARI_REQUIRE_POSTGRES=1 but initdb/pg_ctl/postgres were not found")
        pytest.skip("PostgreSQL is not installed (no initdb, pg_ctl, postgres); "
                    "the PostgreSQL store tests need Debian's postgresql package")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def store_url(postgres: PostgresServer) -> str:
    """A new, empty table for each test."""
    return postgres.url(table=f"events_{next(_tables)}")


def _events(capture_dir: str) -> list:
    step = capture_steps(capture_dir)[0]
    model = ClusterModel()
    fsid, objects = sync_objects(step)
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, captured_at(step))
    return model.drain()


def _model_state(service: ModelService) -> dict:
    return {k: a.domain_state() for k, a in service.model.aggregates.items()}


def test_service_fed_the_captures_restarts_to_the_same_projections(tmp_path, capture_dir, store_url):
    steps = capture_steps(capture_dir)
    config = ServiceConfig(data_dir=str(tmp_path), snapshot_every_events=40, event_store_url=store_url,
                           store_pool_size=4)
    service = ModelService(config)
    feed_service(service, steps)
    service.writer.flush(10)
    live, live_state, end = service.view.as_dict(), _model_state(service), service.store.max_position()
    service.close()
    assert end > 40 and service.snapshots.written >= 1

    again = ModelService(config)  # newest snapshot + the tail from PostgreSQL
    try:
        assert again.restored_position == end
        assert again.view.as_dict() == live and _model_state(again) == live_state
    finally:
        again.close()
    shutil.rmtree(config.snapshot_dir)
    replayed = ModelService(config)  # no snapshot: every event from PostgreSQL
    try:
        assert replayed.restored_position == end
        assert replayed.view.as_dict() == live and _model_state(replayed) == live_state
    finally:
        replayed.close()


def _osd_events(capture_dir: str, count: int) -> list:
    """`count` distinct events (OSD 0 marked down and up again, each with its own version)."""
    model = ClusterModel()
    step = capture_steps(capture_dir)[0]
    fsid, objects = sync_objects(step)
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, captured_at(step))
    model.drain()
    osd = next(iter(model.osds[fsid].values()))
    events = []
    for i in range(count):
        at = captured_at(step) + timedelta(seconds=i + 1)
        osd.emit(Osd.OsdMarkedDown if osd.up else Osd.OsdMarkedUp, at, epoch=100 + i)
        events.append(osd.pending_events.pop())
    return events


def test_concurrent_appends_get_unique_increasing_positions_and_readers_miss_none(capture_dir, store_url):
    batches_per_writer, batch_size = 40, 25
    # two aggregates' worth of events, one per writer, so the writers never conflict on versions
    streams = [_osd_events(capture_dir, batches_per_writer * batch_size) for _ in range(2)]
    streams[1] = [_renamed(e) for e in streams[1]]
    # one writer shares its store (and connection pool) with the reader, as the service's threads
    # do; the other has its own, as a second process would
    shared = EventStore(store_url, pool_size=3)
    writers, reader = [shared, EventStore(store_url, pool_size=2)], shared
    got: list[list[list[int]]] = [[], []]
    seen: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            events = streams[index]
            for i in range(0, len(events), batch_size):
                got[index].append(writers[index].append(events[i:i + batch_size]))
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    def tail() -> None:
        # follows the store as the history code does: everything after the last position seen
        try:
            while True:
                finished = done.is_set()
                after = seen[-1] if seen else 0
                seen.extend(p for p, _ in reader.read(after=after, batch=7))
                if finished:
                    return
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    follower = threading.Thread(target=tail)
    follower.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    done.set()
    follower.join(60)
    try:
        assert not errors, errors
        positions = [p for batches in got for batch in batches for p in batch]
        assert len(positions) == len(set(positions)) == 2 * batches_per_writer * batch_size
        for batches in got:  # each writer's positions increase, batch after batch
            flat = [p for batch in batches for p in batch]
            assert flat == sorted(flat)
        stored = list(reader.read())
        assert [p for p, _ in stored] == sorted(positions)
        assert seen == sorted(positions)  # the tailing reader missed nothing and saw nothing twice
        by_position = dict(zip([p for b in got[0] + got[1] for p in b],
                               [e for s in streams for e in s], strict=True))
        assert all(vars(event) == vars(by_position[p]) for p, event in stored)
    finally:
        for store in writers:
            store.close()


def _renamed(event):
    """The same event on another aggregate id (a second, independent stream)."""
    copy = object.__new__(type(event))
    object.__setattr__(copy, "__dict__", {**vars(event), "originator_id": uuid.uuid5(event.originator_id, "b")})
    return copy


def _gap(store: EventStore, events: list) -> None:
    """A failed insert draws sequence values and leaves a gap: PostgreSQL's sequences are not
    rolled back (here a version conflict, as a second writer of the same aggregate would cause)."""
    with pytest.raises(Exception):  # noqa: B017 - the library's IntegrityError
        store.append(events)


def test_positions_with_a_gap_keep_history_and_export_import(tmp_path, capture_dir, postgres, store_url, capsys):
    events = _osd_events(capture_dir, 30)
    created = _events(capture_dir)
    store = EventStore(store_url)
    try:
        store.append(created)
        first = store.append(events[:10])
        _gap(store, events[:3])
        second = store.append(events[10:])
        assert second[0] > first[-1] + 1  # the gap
        assert [p for p, _ in store.read()] == [*range(1, len(created) + 1), *first, *second]
        # times resolve to the newest position at or before them, whichever side of the gap
        history = History(store, str(tmp_path / "no-snapshots"))
        for position, event in zip(first + second, events, strict=True):
            assert history.position_at(event.timestamp) == position
            assert history.position_at(event.timestamp + timedelta(milliseconds=500)) == position
        assert history.time_of(first[-1] + 1) is None
    finally:
        store.close()

    source = ["--data-dir", str(tmp_path / "a"), "--event-store", store_url]
    os.makedirs(tmp_path / "a")
    export = tmp_path / "events.jsonl"
    assert ctl.main([*source, "events", "export", "-o", str(export)]) == 0
    capsys.readouterr()
    lines = [orjson.loads(line) for line in export.read_bytes().splitlines()]
    exported_positions = [r["position"] for r in lines]

    target_url = postgres.url(table=f"imported_{next(_tables)}")
    target = ["--data-dir", str(tmp_path / "b"), "--event-store", target_url]
    assert ctl.main([*target, "events", "import", str(export)]) == 0
    capsys.readouterr()
    imported = EventStore(target_url)
    try:
        assert [p for p, _ in imported.read()] == exported_positions  # the gap is kept
        assert ctl.main([*target, "events", "export"]) == 0
        assert capsys.readouterr().out.encode() == export.read_bytes()
        # appends after an import continue after its last position
        more = _osd_events(capture_dir, 31)[30:]
        assert imported.append(more) == [exported_positions[-1] + 1]
    finally:
        imported.close()

    # SQLite numbers consecutively: it refuses such a file, naming the line
    assert ctl.main(["--data-dir", str(tmp_path / "c"), "events", "import", str(export)]) == 2
    err = capsys.readouterr().err
    assert "expected" in err and "one by one" in err


def test_import_into_postgres_refuses_a_non_empty_table_and_overlaps(tmp_path, capture_dir, postgres, capsys):
    url = postgres.url(table=f"events_{next(_tables)}")
    store = EventStore(url)
    store.append(_events(capture_dir))
    export = tmp_path / "e.jsonl"
    base = ["--data-dir", str(tmp_path / "d"), "--event-store", url]
    os.makedirs(tmp_path / "d")
    assert ctl.main([*base, "events", "export", "-o", str(export)]) == 0
    assert ctl.main([*base, "events", "import", str(export)]) == 2
    assert "already has" in capsys.readouterr().err
    assert ctl.main([*base, "events", "import", str(export), "--append"]) == 2  # positions taken
    assert "expected" in capsys.readouterr().err
    with pytest.raises(EventStoreError, match="already reaches"):
        store.append_at(_osd_events(capture_dir, 1), [1])
    store.close()


def test_history_and_diff_commands_on_postgres(tmp_path, capture_dir, store_url, capsys):
    steps = capture_steps(capture_dir)
    config = ServiceConfig(data_dir=str(tmp_path), event_store_url=store_url)
    service = ModelService(config)
    feed_service(service, steps)
    service.close()
    base = ["--data-dir", str(tmp_path), "--event-store", store_url]
    assert ctl.main([*base, "history", "--at", captured_at(steps[2]).isoformat(), "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["osd"] and doc["position"] > 0
    assert ctl.main([*base, "diff", "--from", "1", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["event_count"] > 0


@pytest.mark.parametrize("make_url, reason", [
    (lambda pg: pg.url().replace(pg.password, "not-the-password"), "password authentication failed"),
    (lambda pg: pg.url().replace(str(pg.port), "1"), "Connection refused"),
    (lambda pg: pg.url("no_such_db"), 'database "no_such_db" does not exist'),
    (lambda pg: pg.url(table="1-bad"), "must be letters, digits and _"),
    (lambda pg: pg.url(tabel="x"), "unknown option 'tabel'"),
    (lambda pg: f"postgresql://{pg.user}:{pg.password}@127.0.0.1:99999/db", "Port out of range"),
])
def test_bad_urls_and_unreachable_servers_are_one_line_errors(tmp_path, postgres, capsys, make_url, reason):
    url = make_url(postgres)
    assert ctl.main(["--data-dir", str(tmp_path), "--event-store", url, "events"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err and "Traceback" not in err
    assert postgres.password not in err and "not-the-password" not in err

    from calamari.service import main as server

    assert server.main(["--data-dir", str(tmp_path), "--event-store", url, "--insecure-bus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("calamari-server: ") and err.count("\n") == 1 and reason in err
    assert postgres.password not in err and "not-the-password" not in err


def test_passwords_are_masked_in_what_is_shown(postgres, store_url):
    store = EventStore(store_url)
    try:
        assert postgres.password not in repr(store) and "***" in repr(store)
        assert mask_password("postgresql://u:p%40ss@h:5/db?table=t") == "postgresql://u:***@h:5/db?table=t"
        assert mask_password("postgresql://u@h/db") == "postgresql://u@h/db"
    finally:
        store.close()


def test_archive_on_postgres_keeps_the_history_from_the_cut_and_imports_back(tmp_path, capture_dir, postgres,
                                                                             store_url, capsys):
    """`events archive` on a PostgreSQL store (with a gap in its positions): the older events go to
    the file and leave the table in one transaction, a restarted service and history queries start
    from the history base, and the archive plus an export of the rest import back to the whole."""
    from calamari.adapters.event_export import export_line, parse_line
    from calamari.service.history import HistoryArchivedError

    steps = capture_steps(capture_dir)
    config = ServiceConfig(data_dir=str(tmp_path / "a"), event_store_url=store_url)
    service = ModelService(config)
    feed_service(service, steps[:4])
    service.close()
    store = EventStore(store_url)
    _gap(store, _events(capture_dir)[:2])  # a creation stored again: refused, its ids drawn
    store.close()
    service = ModelService(config)
    fsid = feed_service(service, steps[4:])
    whole = _model_state(service)
    service.close()
    store = EventStore(store_url)
    lines = [export_line(p, e) for p, e in store.read()]
    positions = [p for p, _ in store.read()]
    assert positions[-1] > len(positions)  # the gap is there
    when = captured_at(steps[5])
    cut = max(p for p, e in store.read() if e.timestamp < when)
    store.close()

    base = ["--data-dir", str(tmp_path / "a"), "--event-store", store_url]
    archive = tmp_path / "old.jsonl"
    assert ctl.main([*base, "events", "archive", "--before", when.isoformat(), "--to", str(archive)]) == 0
    capsys.readouterr()
    kept_lines = [line for line in lines if parse_line(line)[0] > cut]
    assert archive.read_bytes().splitlines(keepends=True) == lines[:len(lines) - len(kept_lines)]
    store = EventStore(store_url)
    try:
        assert [export_line(p, e) for p, e in store.read()] == kept_lines
        history = History(store, config.snapshot_dir)
        assert history.kept_from().position == cut
        with pytest.raises(HistoryArchivedError):
            history.point(str(cut - 1), "at")
        assert history.state(fsid, str(cut))["kept_from"]["position"] == cut
    finally:
        store.close()
    service = ModelService(config)  # starts from the history base and the kept events
    try:
        assert _model_state(service) == whole
    finally:
        service.close()

    assert ctl.main([*base, "events", "export", "-o", str(tmp_path / "rest.jsonl")]) == 0
    target_url = postgres.url(table=f"restored_{next(_tables)}")
    target = ["--data-dir", str(tmp_path / "b"), "--event-store", target_url]
    assert ctl.main([*target, "events", "import", str(archive)]) == 0
    assert ctl.main([*target, "events", "import", "--append", str(tmp_path / "rest.jsonl")]) == 0
    restored = EventStore(target_url)
    try:
        assert [export_line(p, e) for p, e in restored.read()] == lines  # gaps and all
    finally:
        restored.close()
