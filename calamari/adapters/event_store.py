"""The event store: the eventsourcing library's application recorder (SQLite file, or in memory
for tests) with a mapper whose transcoder is msgpack. Positions are the recorder's notification
ids: a global, gap-free order of everything ever stored."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import ApplicationRecorder, Mapper
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from calamari.adapters.codec import MsgpackTranscoder, to_json_safe


class EventStoreError(RuntimeError):
    pass


def open_recorder(url: str) -> ApplicationRecorder:
    """`sqlite:///path/events.db` or `memory://`."""
    parsed = urlparse(url)
    if parsed.scheme == "memory":
        return POPOApplicationRecorder()
    if parsed.scheme == "sqlite":
        path = url[len("sqlite://"):]  # sqlite:///abs/path -> /abs/path; sqlite://rel -> rel
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        datastore = SQLiteDatastore(os.path.abspath(path), lock_timeout=30)
        recorder = SQLiteApplicationRecorder(datastore)
        recorder.create_table()
        return recorder
    raise EventStoreError(f"unsupported event store URL {url!r} (sqlite:///PATH or memory://)")


class EventStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.recorder = open_recorder(url)
        self.mapper: Mapper[Any] = Mapper(transcoder=MsgpackTranscoder())

    def close(self) -> None:
        """Close the database connections (an in-memory store has none)."""
        datastore = getattr(self.recorder, "datastore", None)
        if datastore is not None:
            datastore.close()

    def append(self, events: Sequence[DomainEventProtocol[Any]]) -> list[int]:
        """Store a batch in one transaction; returns their positions."""
        if not events:
            return []
        stored = [self.mapper.to_stored_event(e) for e in events]
        positions = self.recorder.insert_events(stored)
        return list(positions or [])

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def read(self, after: int = 0, until: int | None = None, batch: int = 10_000,
             ) -> Iterator[tuple[int, DomainEventProtocol[Any]]]:
        """Stored events with positions in (after, until], in order."""
        start = after
        while True:
            notes = self.recorder.select_notifications(start, batch, stop=until, inclusive_of_start=False)
            if not notes:
                return
            for note in notes:
                yield note.id, self.mapper.to_domain_event(note)
            start = notes[-1].id
            if len(notes) < batch:
                return


def event_record(position: int, event: DomainEventProtocol[Any]) -> dict[str, Any]:
    """A stored event as a plain JSON-able record."""
    state = {k: v for k, v in vars(event).items()
             if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")}
    return {
        "position": position,
        "type": type(event).__name__,
        "aggregate": type(event).__qualname__.split(".")[0],
        "aggregate_id": str(event.originator_id),
        "aggregate_version": event.originator_version,
        "time": event.timestamp.isoformat(),
        "data": to_json_safe(state),
    }
