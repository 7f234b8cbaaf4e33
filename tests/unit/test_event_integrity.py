"""Stored events carry a checksum: a damaged event (a flipped bit in its state, type, aggregate or
version) fails loudly, naming its position, instead of folding into the model as something that
was never written. Events stored before checksums existed are still read."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import Mapper, StoredEvent

from calamari.adapters import event_store
from calamari.adapters.codec import MsgpackTranscoder
from calamari.adapters.event_store import EventStore
from calamari.domain.model import ClusterModel
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.captures import capture_steps, captured_at, sync_objects

AT = datetime(2026, 1, 1, tzinfo=UTC)


def cluster_events(capture_dir: str) -> list:
    model = ClusterModel()
    first = capture_steps(capture_dir)[0]
    fsid, objects = sync_objects(first)
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, captured_at(first))
    model.add_user("viewer", "read-only", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", "", "t", AT)
    return model.drain()


def flipped(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def outcome(mapper: Mapper, stored: StoredEvent) -> str:
    try:
        mapper.to_domain_event(stored)
    except event_store.EventStoreError as err:
        return f"refused: {type(err).__name__}"
    except Exception as err:
        return f"other error: {type(err).__name__}"
    return "loaded"


def test_every_bit_flip_of_a_stored_event_is_refused(capture_dir):
    store = EventStore("memory://")
    user_created = cluster_events(capture_dir)[-1]
    stored = store.mapper.to_stored_event(user_created)
    assert vars(store.mapper.to_domain_event(stored)) == vars(user_created)
    damaged = [StoredEvent(stored.originator_id, stored.originator_version, stored.topic, flipped(stored.state, bit))
               for bit in range(len(stored.state) * 8)]
    damaged += [StoredEvent(stored.originator_id, stored.originator_version,
                            flipped(stored.topic.encode(), bit).decode("utf-8", "replace"), stored.state)
                for bit in range(len(stored.topic.encode()) * 8)]
    damaged += [StoredEvent(stored.originator_id, version, stored.topic, stored.state)
                for version in (0, 2, stored.originator_version ^ 1 << 20)]
    assert Counter(outcome(store.mapper, d) for d in damaged) == {"refused: CorruptEvent": len(damaged)}


def sqlite_store_with_events(tmp_path, capture_dir) -> tuple[str, list]:
    url = f"sqlite:///{tmp_path}/events.db"
    store = EventStore(url)
    events = cluster_events(capture_dir)
    store.append(events)
    store.close()
    return url, events


def test_flipped_bits_in_the_sqlite_file_fail_loudly_naming_the_position(tmp_path, capture_dir):
    url, events = sqlite_store_with_events(tmp_path, capture_dir)
    db = sqlite3.connect(f"{tmp_path}/events.db")
    rows = db.execute("SELECT rowid, state FROM stored_events ORDER BY rowid").fetchall()
    rng = random.Random(5)
    for position, state in rng.sample(rows, 10):
        for bit in rng.sample(range(len(state) * 8), 6):
            db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (flipped(state, bit), position))
            db.commit()
            store = EventStore(url)
            try:
                with pytest.raises(event_store.EventStoreError, match=f"position {position}"):
                    list(store.read())
            finally:
                store.close()
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (state, position))
        db.commit()
    db.close()
    store = EventStore(url)
    assert [vars(e) for _, e in store.read()] == [vars(e) for e in events]
    store.close()


def test_a_server_does_not_start_from_a_damaged_event(tmp_path, capture_dir):
    sqlite_store_with_events(tmp_path, capture_dir)
    db = sqlite3.connect(f"{tmp_path}/events.db")
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 3").fetchone()
    db.execute("UPDATE stored_events SET state = ? WHERE rowid = 3", (flipped(state, len(state) * 4),))
    db.commit()
    db.close()
    with pytest.raises(event_store.EventStoreError, match="position 3"):
        ModelService(ServiceConfig(data_dir=str(tmp_path)))


def test_events_stored_before_checksums_are_still_read(tmp_path, capture_dir):
    url = f"sqlite:///{tmp_path}/events.db"
    store = EventStore(url)
    events = cluster_events(capture_dir)
    unchecked = Mapper(transcoder=MsgpackTranscoder())
    store.recorder.insert_events([unchecked.to_stored_event(e) for e in events[:10]])
    store.append(events[10:])
    assert [vars(e) for _, e in store.read()] == [vars(e) for e in events]
    store.close()
