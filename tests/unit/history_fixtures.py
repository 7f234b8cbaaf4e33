"""A recorded history for the history tests: the real capture steps ingested in order, with user
requests (one completed, one failed) and user account changes in between, stored in a SQLite
store with snapshots every few events, as the service writes them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import write_snapshot
from calamari.api.history import blueprint
from calamari.domain import ids
from calamari.domain.model import ClusterModel
from calamari.domain.projections import ReadModel
from calamari.domain.user import User
from calamari.testing.captures import capture_steps, captured_at, sync_objects

PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


@dataclass
class RecordedHistory:
    data_dir: str
    store: EventStore
    snapshot_dir: str
    fsid: str
    step_times: list[datetime]
    # after each capture step: its last position, and the live API rows (incremental projection)
    step_positions: list[int] = field(default_factory=list)
    live_rows: list[dict[str, Any]] = field(default_factory=list)
    request_ids: dict[str, str] = field(default_factory=dict)


class FakeService:
    """What the history blueprint reads of the model service."""

    def __init__(self, recorded: RecordedHistory, view: ReadModel) -> None:
        self.store = recorded.store
        self.view = view
        self.config = type("Config", (), {"snapshot_dir": recorded.snapshot_dir})()


def history_client(recorded: RecordedHistory, view: ReadModel) -> FlaskClient:
    """A test client of the history blueprint alone, reading this recorded history."""
    app = Flask("test")
    app.config["SERVICE"] = FakeService(recorded, view)
    app.register_blueprint(blueprint)
    return app.test_client()


def record_history(data_dir: str, capture_dir: str, snapshot_every: int = 17) -> tuple[RecordedHistory, ReadModel]:
    steps = capture_steps(capture_dir)
    store = EventStore(f"sqlite:///{data_dir}/events.db")
    snapshot_dir = os.path.join(data_dir, "snapshots")
    model, view = ClusterModel(), ReadModel()
    recorded = RecordedHistory(data_dir, store, snapshot_dir, "", [captured_at(s) for s in steps])
    since_snapshot = 0

    def commit(events: list[Any]) -> None:
        nonlocal since_snapshot
        positions = store.append(events)
        for event in events:
            view.apply(event, model)
        since_snapshot += len(events)
        if since_snapshot >= snapshot_every and positions:
            write_snapshot(snapshot_dir, positions[-1], model)
            since_snapshot = 0

    for index, step in enumerate(steps):
        fsid, objects = sync_objects(step)
        recorded.fsid = fsid
        at = captured_at(step)
        for name, version, data in objects:
            model.ingest(fsid, name, version, data, at)
        commit(model.drain())
        recorded.step_positions.append(store.max_position())
        recorded.live_rows.append(_rows(view, fsid))
        later = at + timedelta(seconds=1)
        if index == 0:
            user = model_user(model, "alice", later)
            user.change(later, by="admin", role="operator")
            commit(_pending(user))
        if index == 1:
            # alice asks for the pool the next capture shows; it completes with that OSD map
            recorded.request_ids["create"] = "req-create-images"
            model.submit_request("req-create-images", fsid, "alice", "pool_create", "pool",
                                 "Creating pool 'images'", {"name": "images", "pg_num": 16, "size": 2},
                                 [{"prefix": "osd pool create", "pool": "images"}], later)
            model.request_executing("req-create-images", "Running osd pool create", later)
            held_epoch = model.held[fsid]["osd_map"][0]
            model.request_command_succeeded("req-create-images", 0, "pool 'images' created",
                                            {"name": "osd_map", "after": held_epoch}, later)
            commit(model.drain())
        if index == 4:
            recorded.request_ids["fail"] = "req-bad-reweight"
            model.submit_request("req-bad-reweight", fsid, "bob", "osd_update", "osd",
                                 "Modifying OSD 7", {"id": 7, "reweight": 0.5}, [], later)
            model.request_failed("req-bad-reweight", "osd.7 does not exist", later)
            commit(model.drain())
    # User events recorded after the last step too (an audit entry at the end of the history).
    user = model.aggregates[ids.user_id("alice")]
    end = recorded.step_times[-1] + timedelta(seconds=2)
    user.change(end, by="admin", role="admin", password_hash=PASSWORD_HASH + "2")
    commit(_pending(user))
    return recorded, view


def model_user(model: ClusterModel, username: str, at: datetime) -> User:
    user = User._create(User.UserCreated, id=ids.user_id(username), timestamp=at, username=username,
                        role="read-only", password_hash=PASSWORD_HASH, email=f"{username}@example.com", by="admin")
    model.aggregates[user.id] = user
    return user


def _pending(agg: Any) -> list[Any]:
    events = list(agg.pending_events)
    agg.pending_events.clear()
    return events


def _rows(view: ReadModel, fsid: str) -> dict[str, Any]:
    return {
        "cluster": view.clusters[fsid],
        "osd": [r for _, r in sorted(view.osds.get(fsid, {}).items())],
        "pool": [r for _, r in sorted(view.pools.get(fsid, {}).items())],
        "server": [view.servers[k] for k in sorted(view.servers)],
    }
