"""The event store: the eventsourcing library's application recorder (SQLite file, PostgreSQL, or
in memory for tests) with a mapper whose transcoder is msgpack. Positions are the recorder's
notification ids: a global order of everything ever stored, strictly increasing in commit order
(gap-free on SQLite; on PostgreSQL a failed transaction can leave a gap, see postgres_store).

Every event is stored with a checksum (ChecksummedMapper): a damaged event fails loudly when it
is read instead of folding into the model as something else. Write failures that more attempts
cannot fix soon (a full disk, a read-only file system) are told apart by `unavailable_reason`."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification, PersistenceError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from calamari.adapters import postgres_names
from calamari.adapters.codec import MsgpackTranscoder, to_json_safe


class EventStoreError(RuntimeError):
    """The store cannot be opened or used as asked; the message is meant for the user (no password)."""


class CorruptEvent(EventStoreError):
    """A stored event does not match its checksum (or cannot be decoded at all): the store was
    damaged or edited. Raised instead of handing the model an event that is not what was written."""


# A stored event's state: CHECKSUM_MARK, CHECKSUM_VERSION, then an 8-byte BLAKE2b digest of the
# aggregate id, version, topic and body, then the msgpack body. 0xc1 is never used by msgpack, so
# events stored before checksums (a msgpack map, 0x80-0x8f/0xde/0xdf) are told apart.
CHECKSUM_MARK = 0xC1
CHECKSUM_VERSION = 1
_DIGEST_SIZE = 8
_HEADER = bytes((CHECKSUM_MARK, CHECKSUM_VERSION))
_MSGPACK_MAP_STARTS = frozenset([*range(0x80, 0x90), 0xDE, 0xDF])


def event_digest(originator_id: UUID | str, version: int, topic: str, body: bytes) -> bytes:
    if not isinstance(originator_id, UUID):
        try:  # a store that hands ids back as text: the same digest as the UUID it was written as
            originator_id = UUID(originator_id)
        except ValueError:
            pass
    identity = originator_id.bytes if isinstance(originator_id, UUID) else originator_id.encode()
    return hashlib.blake2b(b"".join((identity, version.to_bytes(8, "big", signed=True), topic.encode(), b"\0",
                                     body)), digest_size=_DIGEST_SIZE).digest()


class ChecksummedMapper(Mapper[Any]):
    """The library's mapper, with a checksum over each stored event. Events stored before
    checksums existed (no mark) are read as they are."""

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        stored = super().to_stored_event(domain_event)
        digest = event_digest(stored.originator_id, stored.originator_version, stored.topic, stored.state)
        return StoredEvent(originator_id=stored.originator_id, originator_version=stored.originator_version,
                           topic=stored.topic, state=_HEADER + digest + stored.state)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        state = stored_event.state
        if state[:1] == _HEADER[:1]:
            if state[1:2] != _HEADER[1:2]:
                raise CorruptEvent(f"{_describe(stored_event)}: unknown checksum version {state[1:2].hex() or 'none'}")
            digest, body = state[2:2 + _DIGEST_SIZE], state[2 + _DIGEST_SIZE:]
            expected = event_digest(stored_event.originator_id, stored_event.originator_version,
                                    stored_event.topic, body)
            if digest != expected:
                raise CorruptEvent(f"{_describe(stored_event)} does not match its checksum: the event store is damaged")
            return super().to_domain_event(StoredEvent(
                originator_id=stored_event.originator_id, originator_version=stored_event.originator_version,
                topic=stored_event.topic, state=body))
        if not state or state[0] not in _MSGPACK_MAP_STARTS:
            raise CorruptEvent(f"{_describe(stored_event)} is neither a checksummed event nor an older unchecked one")
        try:
            return super().to_domain_event(stored_event)
        except Exception as err:  # an older unchecked event that no longer decodes
            raise CorruptEvent(f"{_describe(stored_event)} cannot be decoded ({err}): the event store is damaged") from err


def _describe(stored_event: StoredEvent) -> str:
    position = getattr(stored_event, "id", None)
    at = f" at position {position}" if position is not None else ""
    return (f"stored event{at} (aggregate {stored_event.originator_id}, version "
            f"{stored_event.originator_version}, {stored_event.topic.rpartition('.')[2] or '?'})")


# sqlite3 messages of errors that retrying soon will not fix (the library wraps them in its own types)
_SQLITE_UNAVAILABLE = (
    ("database or disk is full", "the data disk is full"),
    ("attempt to write a readonly database", "the event store is read-only"),
    ("unable to open database file", "the event store cannot be opened for writing"),
    ("disk i/o error", "the data disk reports I/O errors"),
)
_ERRNO_UNAVAILABLE = {
    errno.ENOSPC: "the data disk is full",
    errno.EDQUOT: "the data disk quota is exhausted",
    errno.EROFS: "the data directory is on a read-only file system",
    errno.EACCES: "the data directory is not writable",
    errno.EPERM: "the data directory is not writable",
    errno.EIO: "the data disk reports I/O errors",
}
# PostgreSQL SQLSTATE classes and codes of the same kind: disk full, out of resources, read-only
# server, connection lost or refused
_SQLSTATE_UNAVAILABLE = (
    (postgres_names.LEASE_LOST_SQLSTATE, "this server is not the active one (it does not hold the lease)"),
    (postgres_names.SERVER_ACTIVE_SQLSTATE, "a calamari-server is active on this event store: make the change "
                                            "through it (calamari-ctl on its data dir)"),
    ("53", "the PostgreSQL server has run out of disk, memory or connections"),
    ("25006", "the PostgreSQL server is read-only"),
    ("08", "the PostgreSQL server cannot be reached"),
    ("57P", "the PostgreSQL server is shutting down or not accepting writes"),
)


def unavailable_reason(error: BaseException) -> str | None:
    """Why a write failed, for a failure that a quick retry will not fix (full disk, read-only file
    system or database, unreachable database server); None for other errors. Follows the chain of
    causes, as the eventsourcing library wraps the driver's errors."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _ERRNO_UNAVAILABLE:
            return _ERRNO_UNAVAILABLE[current.errno]
        if isinstance(current, sqlite3.Error | PersistenceError):  # the library keeps the driver's message
            text = str(current).lower()
            for fragment, reason in _SQLITE_UNAVAILABLE:
                if fragment in text:
                    return reason
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str):
            for prefix, reason in _SQLSTATE_UNAVAILABLE:
                if sqlstate.startswith(prefix):
                    return reason
        current = current.__cause__ or current.__context__
    return None


def _postgres_store() -> Any:
    """The PostgreSQL store's module, loaded on first use: a server storing in SQLite never needs it."""
    from calamari.adapters import postgres_store

    return postgres_store


def open_recorder(url: str, pool_size: int | None = None) -> ApplicationRecorder:
    """`sqlite:///path/events.db`, `postgresql://USER:PASS@HOST:PORT/DB[?table=...]` or `memory://`.
    `pool_size`: connections a PostgreSQL store may hold at once."""
    parsed = urlparse(url)
    if parsed.scheme in postgres_names.SCHEMES:
        postgres_store = _postgres_store()
        try:
            return postgres_store.open_postgres_recorder(url, pool_size)
        except (postgres_store.PostgresUrlError, postgres_store.PostgresUnavailable) as err:
            raise EventStoreError(str(err)) from None
    if parsed.scheme == "memory":
        return POPOApplicationRecorder()
    if parsed.scheme == "sqlite":
        path = url[len("sqlite://"):]  # sqlite:///abs/path -> /abs/path; sqlite://rel -> rel
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not os.path.exists(path):
            # created owner-only before SQLite opens it: SQLite gives its -wal and -shm files the
            # database file's mode, and the store holds password hashes
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        datastore = SQLiteDatastore(os.path.abspath(path), lock_timeout=30)
        recorder = SQLiteApplicationRecorder(datastore)
        recorder.create_table()
        return recorder
    raise EventStoreError(f"unsupported event store URL {postgres_names.mask_password(url)!r} "
                          "(sqlite:///PATH, postgresql://USER:PASS@HOST:PORT/DBNAME or memory://)")


class EventStore:
    def __init__(self, url: str, pool_size: int | None = None) -> None:
        self.url = url
        self.recorder = open_recorder(url, pool_size)
        self.mapper: Mapper[Any] = ChecksummedMapper(transcoder=MsgpackTranscoder())

    def __repr__(self) -> str:
        return f"EventStore({postgres_names.mask_password(self.url)!r})"

    @property
    def is_postgres(self) -> bool:
        # no PostgreSQL recorder exists unless its module was loaded (by open_recorder)
        postgres_store = sys.modules.get("calamari.adapters.postgres_store")
        return postgres_store is not None and isinstance(self.recorder, postgres_store.PostgresApplicationRecorder)

    def fence_with_lease(self, holder: str) -> None:
        """Several servers share this (PostgreSQL) store: from now on an append stores only while
        `holder` holds the lease under the epoch given to `lease_epoch` (none yet: refused)."""
        if not self.is_postgres:
            raise EventStoreError("only a PostgreSQL event store can be shared by several servers")
        self.recorder.lease_epoch = None  # type: ignore[attr-defined]
        self.recorder.lease_holder = holder  # type: ignore[attr-defined]

    @property
    def lease_epoch(self) -> int | None:
        return getattr(self.recorder, "lease_epoch", None)

    @lease_epoch.setter
    def lease_epoch(self, epoch: int | None) -> None:
        self.recorder.lease_epoch = epoch  # type: ignore[attr-defined]

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

    def append_at(self, events: Sequence[DomainEventProtocol[Any]], positions: Sequence[int]) -> None:
        """Store a batch under the given increasing positions (an import), all after every stored
        one. PostgreSQL places them so, gaps included; the other stores number consecutively
        from the end, so there the positions must continue the store exactly."""
        if not events:
            return
        if len(events) != len(positions) or any(b <= a for a, b in zip(positions, positions[1:], strict=False)):
            raise EventStoreError("positions must be increasing, one per event")
        if self.is_postgres:
            stored = [self.mapper.to_stored_event(e) for e in events]
            postgres_store = _postgres_store()
            try:
                postgres_store.insert_at_positions(self.recorder, stored, positions)
            except postgres_store.PositionsTaken as err:
                raise EventStoreError(f"cannot store positions {positions[0]}..{positions[-1]}: {err}") from None
            return
        first = self.max_position() + 1
        expected = list(range(first, first + len(events)))
        if list(positions) != expected:
            raise EventStoreError(f"this store numbers events consecutively from {expected[0]}; "
                                  f"cannot store positions {positions[0]}..{positions[-1]}")
        stored_at = self.append(events)
        if stored_at != list(positions):
            raise EventStoreError(f"the store gave positions {stored_at[:1]}..{stored_at[-1:]} instead of "
                                  f"{positions[0]}..{positions[-1]}: was it written to at the same time?")

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def min_position(self) -> int:
        """The oldest stored position (0: no events). Above 1 once older events were archived
        (`calamari-ctl events archive`), or on PostgreSQL after a gap at the very start."""
        if self.is_postgres:
            return _postgres_store().min_position(self.recorder)  # type: ignore[arg-type]
        if isinstance(self.recorder, SQLiteApplicationRecorder):
            with self.recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT MIN(rowid) FROM {self.recorder.events_table_name}")
                return cursor.fetchone()[0] or 0
        first = next(iter(self.read(batch=1)), None)
        return first[0] if first is not None else 0

    def delete_through(self, position: int) -> int:
        """Remove every event at or before `position`, in one transaction (all or none), keeping
        at least the newest one, which numbers what comes next; returns how many were removed.
        Only for events already archived and covered by a history base snapshot."""
        if position >= self.max_position():
            raise EventStoreError(f"refusing to remove the newest stored event (position {self.max_position()})")
        if self.is_postgres:
            return _postgres_store().delete_through(self.recorder, position)  # type: ignore[arg-type]
        if not isinstance(self.recorder, SQLiteApplicationRecorder):
            raise EventStoreError("only a SQLite or PostgreSQL store can remove archived events")
        with self.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {self.recorder.events_table_name} WHERE rowid <= ?", (position,))
            cursor.execute("SELECT changes()")
            return int(cursor.fetchone()[0])

    def compact(self) -> None:
        """Give the space of removed events back to the file system (SQLite's VACUUM; PostgreSQL
        reuses the space itself once autovacuum has passed). The store is closed afterwards."""
        if isinstance(self.recorder, SQLiteApplicationRecorder):
            path = os.path.abspath(self.url[len("sqlite://"):])
            self.close()  # VACUUM needs no other connection in a transaction
            connection = sqlite3.connect(path, isolation_level=None)
            try:
                connection.execute("VACUUM")
            finally:
                connection.close()

    def read(self, after: int = 0, until: int | None = None, batch: int = 10_000, topics: Sequence[str] = (),
             ) -> Iterator[tuple[int, DomainEventProtocol[Any]]]:
        """Stored events with positions in (after, until], in order; only those of `topics` (event
        classes, as eventsourcing names them) when given: the store filters them, undecoded."""
        start = after
        select = self._select_sqlite if isinstance(self.recorder, SQLiteApplicationRecorder) else self._select
        while True:
            notes = select(start, batch, until, topics)
            if not notes:
                return
            for position, note in notes:
                yield position, self.mapper.to_domain_event(note)
            start = notes[-1][0]
            if len(notes) < batch:
                return

    def read_newest_first(self, until: int, batch: int = 10_000,
                          ) -> Iterator[list[tuple[int, DomainEventProtocol[Any]]]]:
        """The stored events at positions up to `until`, in batches of up to `batch` positions
        going back from it, each batch oldest first: for readers that want only the newest part
        of the history and stop once they have it (a start-up reads what came just before it)."""
        oldest = self.min_position()
        while until >= max(oldest, 1):
            after = max(0, until - batch)
            found = list(self.read(after=after, until=until, batch=batch))
            if found:
                yield found
            until = after

    def _select(self, after: int, limit: int, until: int | None, topics: Sequence[str],
                ) -> list[tuple[int, StoredEvent]]:
        notes = self.recorder.select_notifications(after, limit, stop=until, topics=topics, inclusive_of_start=False)
        return [(note.id, note) for note in notes]

    def _select_sqlite(self, after: int, limit: int, until: int | None, topics: Sequence[str],
                       ) -> list[tuple[int, StoredEvent]]:
        """The library's select_notifications, without the cost that dominates a replay (an
        aggregate id parsed from text for every event): a history query reads up to tens of
        thousands of events, and ids repeat (an OSD's flaps), so each is parsed once per batch."""
        recorder = self.recorder
        statement = (f"SELECT rowid, originator_id, originator_version, topic, state FROM "  # noqa: S608
                     f"{recorder.events_table_name} WHERE rowid>? ")  # type: ignore[attr-defined]
        params: list[Any] = [after]
        if until is not None:
            statement += "AND rowid<=? "
            params.append(until)
        if topics:
            statement += f"AND topic IN ({','.join('?' * len(topics))}) "
            params += list(topics)
        statement += "ORDER BY rowid LIMIT ?"
        params.append(limit)
        with recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        ids: dict[str, UUID | str] = {}
        found = []
        for position, originator, version, topic, state in rows:
            uid = ids.get(originator)
            if uid is None:
                uid = ids[originator] = recorder.convert_originator_id(originator)  # type: ignore[attr-defined]
            # a Notification, as the library's read gives: a damaged event's error names its position
            found.append((position, Notification(id=position, originator_id=uid, originator_version=version,
                                                 topic=topic, state=state)))
        return found


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
