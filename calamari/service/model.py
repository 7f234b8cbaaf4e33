"""The model service: the in-memory cluster model and its projections, fed by the bus, persisted
by the background event writer and snapshot writer. One lock orders all changes; readers of the
projections take plain dict reads (rows are replaced, never mutated in place)."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calamari.adapters.data_dir import secure_data_dir
from calamari.adapters.event_store import EventStore
from calamari.adapters.event_writer import EventWriter, Submission
from calamari.adapters.snapshots import HISTORY_KEEP, HISTORY_SPACING, SnapshotWriter, load_model
from calamari.domain.maps import InvalidMap
from calamari.domain.model import ClusterModel, SyncVersion
from calamari.domain.projections import ReadModel
from calamari.service.maps_coming import MapsComing

log = logging.getLogger(__name__)

REFUSAL_LOG_INTERVAL_S = 60.0
# How long close() waits for background readers of the store to leave it (they check `closed`
# between batches, so they leave within one batch read).
CLOSE_WAIT_FOR_READERS_S = 10.0


class StoreClosed(RuntimeError):
    """The model service is closed: its store may no longer be read."""


@dataclass
class ServiceConfig:
    data_dir: str = "./var"
    event_store_url: str | None = None
    # connections a PostgreSQL store may hold: the writer, the snapshot writer and API threads
    store_pool_size: int | None = None
    snapshot_every_events: int = HISTORY_SPACING  # history snapshots are this far apart
    snapshot_every_seconds: float = 300.0
    # older snapshots kept for history queries, one per 20k-event span (see adapters/snapshots.py)
    history_snapshots: int = HISTORY_KEEP
    write_batch: int = 5000
    # how long map-derived events are gathered before they are written (adapters/event_writer.py)
    write_gather_s: float = 0.02
    durable_timeout: float = 30.0
    # Events not yet written beyond which new maps wait: the event store is failing or too slow,
    # and the model must not run ahead of it without bound. Collectors resend later (resync).
    max_write_backlog: int = 200_000

    @property
    def store_url(self) -> str:
        return self.event_store_url or f"sqlite:///{os.path.abspath(self.data_dir)}/events.db"

    @property
    def snapshot_dir(self) -> str:
        return os.path.join(self.data_dir, "snapshots")


@dataclass(frozen=True)
class Persistence:
    """The event store and the writers that fill it: events in batches, snapshots of the model."""

    store: EventStore
    snapshots: SnapshotWriter
    writer: EventWriter


def open_persistence(config: ServiceConfig) -> Persistence:
    """Open the event store of `config` and make its writers (started by the ModelService, which
    first restores the model from them). The data dir is made owner-only before the store's
    files are created, and tightened if an older version left it open."""
    secure_data_dir(config.data_dir)
    store = EventStore(config.store_url, config.store_pool_size)
    snapshots = SnapshotWriter(config.snapshot_dir, store, config.snapshot_every_events,
                               config.snapshot_every_seconds, config.history_snapshots)
    return Persistence(store, snapshots, EventWriter(store, config.write_batch, on_persisted=snapshots.persisted,
                                                        gather_s=config.write_gather_s))


class NotPersisted(RuntimeError):
    """A durable change was not stored, and has been undone: the caller must answer that it failed
    (the API answers 503). `reason` says why, for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChangeLock:
    """The model's re-entrant lock, counting how often it was taken and given back (`changes`):
    every change to the model is made holding it, so the same even count read before and after
    rendering an answer means that nothing changed meanwhile (a sequence lock; odd: held now).
    The API's cache of finished answers (calamari.api.answers) is keyed by it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0  # only the holder changes it
        self._unchanged = False  # the holder said its hold changed nothing
        self.changes = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        taken = self._lock.acquire(blocking, timeout)
        if taken:
            self._depth += 1
            if self._depth == 1:
                self.changes += 1
        return taken

    def release(self) -> None:
        if self._depth == 1:
            # a hold that changed nothing gives the count back: what was kept before stays valid
            self.changes += -1 if self._unchanged else 1
            self._unchanged = False
        self._depth -= 1
        self._lock.release()

    def unchanged(self) -> None:
        """Said by a holder that only read (or found nothing to change) in its hold; only the
        outermost hold may say it, since an enclosing one may have changed something."""
        if self._depth == 1:
            self._unchanged = True

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class ModelService:
    """Implements calamari.service.sink.ClusterSink, and the operations of user requests."""

    def __init__(self, config: ServiceConfig | None = None, persistence: Persistence | None = None) -> None:
        """`persistence` is the store and its writers, not started (the composition root passes
        them); without it the service opens its own from `config`."""
        self.config = config or ServiceConfig()
        persistence = persistence or open_persistence(self.config)
        self.store = persistence.store
        self.lock = ChangeLock()
        self.model, position = load_model(self.config.snapshot_dir, self.store)
        self.restored_position = position
        self.view = ReadModel()
        self.view.rebuild(self.model)
        self.snapshots = persistence.snapshots
        self.writer = persistence.writer
        self.rejected = 0
        self.closed = False
        self._store_readers = 0  # background threads inside reading_store()
        self._store_readers_changed = threading.Condition()
        self.deferred = 0  # maps not applied while the event store was behind
        self._deferral_logged = 0.0
        self.refused_older = 0  # sync objects older than the version the model reflects
        self._refusals_logged: dict[tuple[str, str], tuple[float, int]] = {}  # -> (when, refused since)
        self.cluster_log: dict[str, list[dict[str, Any]]] = {}  # newest lines, not evented
        self._durable_depth = 0  # durable() blocks open in the thread holding the lock
        # Called with each batch of committed events, under the lock (in-memory projections such
        # as the API's event feed); must be quick and must not raise.
        self.listeners: list[Any] = []
        self.commits = 0  # batches projected (even empty ones: a held map may change without events)
        # Replaces the default handling of command results when set (the request executor).
        self.command_result_handler: Any = None
        # The store position the model reflects while it follows a store another server writes
        # (a standby, service/high_availability.py); None while this server is the writer.
        self.followed_position: int | None = None
        self.maps_coming = MapsComing()  # maps ceph-mgr announced and the collector has yet to send
        # Per cluster, the key its calamari_notify module signs maps with, as its collector read it
        # from Ceph (in memory only: collectors repeat it in every heartbeat).
        self.mgr_push_keys: dict[str, bytes] = {}
        self.mgr_announcements: Any = None  # the server's listener on ceph-mgr, once started (its counters)
        self.snapshots.start(position)
        self.writer.start()

    @contextmanager
    def reading(self) -> Iterator[ClusterModel]:
        """The model, under its lock, for a hold that only reads it (or changes what is not the
        model: a caller's own state kept in step with commits). Unless something was committed
        within the hold, the lock's change count is given back: the API's kept answers stay
        valid, which every such hold would otherwise throw away (an alert pass that finds
        nothing, a scrape of /metrics)."""
        with self.lock:
            commits = self.commits
            yield self.model
            if self.commits == commits:
                self.lock.unchanged()

    @contextmanager
    def reading_store(self) -> Iterator[EventStore]:
        """The store, for a background thread reading it (the stored past after a start): close()
        waits for such a thread to leave before it closes the store, since a SQLite connection
        closed under a running read can crash the process. StoreClosed once closed."""
        with self._store_readers_changed:
            if self.closed:
                raise StoreClosed("the model service is closed")
            self._store_readers += 1
        try:
            yield self.store
        finally:
            with self._store_readers_changed:
                self._store_readers -= 1
                self._store_readers_changed.notify_all()

    def close(self) -> None:
        with self._store_readers_changed:
            self.closed = True  # background readers of the store then end quietly, within a batch
            if not self._store_readers_changed.wait_for(lambda: self._store_readers == 0, CLOSE_WAIT_FOR_READERS_S):
                log.warning("closing the store with %d background readers still in it", self._store_readers)
        self.writer.stop()
        self.snapshots.stop()
        self.store.close()

    # ------------------------------------------------------------------ commit

    def commit(self) -> Submission:
        """Project the events the model made and hand them to the writer, not waiting for the store
        (call with the lock held): for changes a crash may lose, since the next report makes them
        again. Changes that must be stored before they count use durable()."""
        events = self.model.drain()
        self._project(events)
        return self.writer.submit(events)

    def _project(self, events: list[Any]) -> None:
        self.commits += 1
        for event in events:
            self.view.apply(event, self.model)
        for listener in self.listeners:
            try:
                listener(events, self.model)
            except Exception:
                log.exception("event listener %r failed", listener)

    @contextmanager
    def durable(self) -> Iterator[ClusterModel]:
        """A change that counts only once it is stored: user requests, users, sessions, keys.
        Under the lock, yields the model; at the end of the block the events made are written
        and confirmed before they reach the projections and listeners. If they are not stored
        (the disk is full, the store does not confirm in time), or the block raises, the model
        is put back as it was and nothing of the change is, or will later be, stored:
        NotPersisted then says why. Nested blocks join the outermost one."""
        with self.lock:
            if self._durable_depth:
                self._durable_depth += 1
                try:
                    yield self.model
                finally:
                    self._durable_depth -= 1
                return
            self._durable_depth = 1
            commits = self.commits
            try:
                with self.model.undoable() as undo:
                    try:
                        yield self.model
                    except BaseException:
                        undo()
                        raise
                    self._store_durably(undo, nothing_before=self.commits == commits)
            finally:
                self._durable_depth = 0

    def _store_durably(self, undo: Callable[[], None], nothing_before: bool) -> None:
        events = self.model.drain()
        if not events:
            if nothing_before:
                self.lock.unchanged()  # a block that found nothing to change (most alert passes)
            return
        sub = self.writer.submit(events, durable=True)
        if not sub.wait(self.config.durable_timeout) and self.writer.withdraw(sub):
            log.warning("a change of %d events was not stored in %.0f s: undone", len(events),
                        self.config.durable_timeout)
        if sub.error is not None:
            undo()
            raise NotPersisted(sub.error.reason) from sub.error
        self._project(events)

    # ------------------------------------------------------------------ following the store

    def position(self) -> int:
        """The store position the model reflects (what this server wrote: the store's end)."""
        if self.followed_position is not None:
            return self.followed_position
        return self.store.max_position()

    def follow_store(self, batch: int = 2000) -> int:
        """Fold the events other processes stored after the followed position into the model, its
        projections, its listeners (the event feed), the snapshot writer and the push stream, as
        if this server had made and stored them; returns how many. Only while following (a standby)."""
        after = self.followed_position
        if after is None:
            raise RuntimeError("this server writes the store; it has nothing to follow")
        stored = list(itertools.islice(self.store.read(after=after, batch=batch), batch))
        if not stored:
            return 0
        positions = [position for position, _ in stored]
        events = [event for _, event in stored]
        with self.lock:
            if self.followed_position != after:
                return 0  # promoted meanwhile: the caller caught up under the lock already
            for event in events:
                self.model.apply(event)
            self._project(events)
            self.followed_position = positions[-1]
        # what the writer tells of a stored batch (the snapshot writer, the push stream), as if
        # this server had stored it
        persisted = self.writer.on_persisted
        if persisted is not None:
            persisted(positions, events)
        return len(events)

    # ------------------------------------------------------------------ ClusterSink

    def store_behind(self) -> bool:
        """True while more events wait for the store than config.max_write_backlog: new maps are
        then not applied (their collector's next heartbeat gets a resync once the store caught up),
        so memory stays bounded and the stored events stay the whole history of the model."""
        if self.writer.backlog <= self.config.max_write_backlog:
            return False
        self.deferred += 1
        now = time.monotonic()
        if now - self._deferral_logged > 10.0:
            self._deferral_logged = now
            log.warning("event store is %d events behind (limit %d): new cluster maps wait (%d so far)",
                        self.writer.backlog, self.config.max_write_backlog, self.deferred)
        return True

    def on_mgr_push_key(self, fsid: str, key: bytes) -> None:
        if self.mgr_push_keys.get(fsid) != key:
            log.info("cluster %s's collector handed over its calamari_notify module's key: maps the "
                     "module signs with it are taken as they come", fsid)
            self.mgr_push_keys[fsid] = key

    def takes_mgr_maps(self, fsid: str) -> bool:
        announcements = self.mgr_announcements
        return fsid in self.mgr_push_keys and announcements is not None and announcements.takes_maps_of(fsid)

    def expect_map(self, fsid: str, name: str, version: int) -> None:
        """ceph-mgr sent version `version` of map `name` of cluster `fsid`: reads of that cluster
        wait for it (calamari.service.maps_coming), unless the model has it already. It replaces
        what was expected of that map when ceph-mgr said it was coming (`expect_newer_map`)."""
        with self.reading():  # held: an arrival cannot slip between the look and the expectation
            if fsid not in self.model.clusters:
                return  # a cluster this server does not know: nobody reads it
            held = self._held_epoch(fsid, name)
            if held is not None and held >= version:
                self.maps_coming.withdraw(fsid, name)  # the collector was quicker
                return
            self.maps_coming.expect(fsid, name, version, replace=True)

    def expect_newer_map(self, fsid: str, name: str) -> None:
        """ceph-mgr is about to send a map `name` of cluster `fsid`: until it is here (and then
        `expect_map` says which version it is), reads of that cluster wait for a version newer
        than the model's (calamari.service.maps_coming)."""
        with self.reading():
            held = self._held_epoch(fsid, name)
            if held is not None:
                self.maps_coming.expect(fsid, name, held + 1)

    def _held_epoch(self, fsid: str, name: str) -> int | None:
        """(Under the lock) the epoch of map `name` of `fsid` the model holds; None for none."""
        held = self.model.held.get(fsid, {}).get(name)
        return held[0] if held is not None and isinstance(held[0], int) else None

    def on_sync_object(self, fsid: str, name: str, version: SyncVersion, data: Any, at: datetime,
                       host: str = "") -> bool:
        try:
            return self._take_sync_object(fsid, name, version, data, at, host)
        finally:
            if isinstance(version, int):
                self.maps_coming.arrived(fsid, name, version)  # after the lock: waiting reads go on at once

    def _take_sync_object(self, fsid: str, name: str, version: SyncVersion, data: Any, at: datetime,
                          host: str) -> bool:
        if self.store_behind():
            return False
        with self.lock:
            try:
                changed = self.model.ingest(fsid, name, version, data, at)
            except InvalidMap as err:
                self.rejected += 1
                log.warning("rejected %s v%s of %s from %s: %s", name, version, fsid, host or "?", err)
                self.model.drain()  # nothing is made before validation passes; keep it that way
                raise
            if not changed:
                self._note_refusal(fsid, name, version, host)
            self.commit()
            return changed

    def _note_refusal(self, fsid: str, name: str, version: SyncVersion, host: str) -> None:
        """Log a map older than the one the model reflects: at most once a minute per cluster
        and sync object (with how many were refused meanwhile), since a stale collector or a
        rebuilt cluster sends one every few seconds. Resends of the same version are normal."""
        reflected = self.model.reflected_version(fsid, name)
        if not (isinstance(version, int) and isinstance(reflected, int) and version < reflected):
            return
        self.refused_older += 1
        key = (fsid, name)
        now = time.monotonic()
        last, count = self._refusals_logged.get(key, (-REFUSAL_LOG_INTERVAL_S, 0))
        if now - last < REFUSAL_LOG_INTERVAL_S:
            self._refusals_logged[key] = (last, count + 1)
            return
        self._refusals_logged[key] = (now, 0)
        log.warning("refused %s v%s of %s from %s: older than v%s, which the model already reflects "
                    "(%d more refused in the last minute; a cluster rebuilt under the same fsid needs "
                    "`calamari-ctl cluster reset-versions %s`)", name, version, fsid, host or "?",
                    reflected, count, fsid)

    def sync_wanted(self, fsid: str, versions: dict[str, Any]) -> list[str]:
        """The names among a collector's versions that the model would take in (the bus asks
        for those again): not what it holds, and never older than what it reflects."""
        with self.lock:
            self.lock.unchanged()
            return [name for name, version in versions.items() if self.model.accepts(fsid, name, version)]

    def reset_sync_versions(self, fsid: str, by: str) -> None:
        """A cluster rebuilt under the same fsid: lower versions are accepted again (the event is
        written before this returns). KeyError for an unknown cluster; NotPersisted."""
        with self.durable() as model:
            model.reset_versions(fsid, by, datetime.now(UTC))

    def sync_versions(self, fsid: str) -> dict[str, SyncVersion]:
        with self.lock:
            self.lock.unchanged()
            return {name: held[0] for name, held in self.model.held.get(fsid, {}).items()}

    def sync_object(self, fsid: str, name: str) -> tuple[SyncVersion, Any] | None:
        with self.lock:
            self.lock.unchanged()
            return self.model.held_document(fsid, name)

    def on_server_facts(self, fsid: str | None, facts: dict[str, Any], at: datetime) -> None:
        if self.store_behind():
            return  # facts come again every few seconds
        with self.lock:
            try:
                self.model.server_facts(fsid, facts, at)
            except InvalidMap as err:
                self.rejected += 1
                log.warning("rejected server facts: %s", err)
                self.model.drain()
                raise
            self.commit()

    def on_heartbeat(self, fsid: str | None, host: str, at: datetime) -> None:
        with self.lock:
            self.model.heartbeat(fsid, host, at)
            self.commit()

    def on_cluster_unreachable(self, fsid: str, host: str, at: datetime) -> None:
        with self.lock:
            self.model.cluster_unreachable(fsid, host, at)
            self.commit()

    def check_contact(self, now: datetime, timeout_s: float) -> None:
        with self.lock:
            self.model.check_contact(now, timeout_s)  # changes nothing but by the events it makes
            events = self.model.drain()
            if not events:
                self.lock.unchanged()  # the usual case, every second: kept answers stay valid
                return
            self._project(events)
            self.writer.submit(events)

    def on_command_result(self, request_id: str, rc: int, out: Any, err: str, at: datetime) -> None:
        """Command results belong to the RequestExecutor that sent the commands (it registers as
        command_result_handler); without one, nothing was sent, so nothing waits for them."""
        if self.command_result_handler is None:
            log.warning("command result %s arrived, but no request executor runs; dropped", request_id)
            return
        self.command_result_handler(request_id, rc, out, err, at)

    def on_cluster_log(self, fsid: str, lines: list[dict[str, Any]], at: datetime) -> None:
        with self.lock:
            log_lines = self.cluster_log.setdefault(fsid, [])
            log_lines.extend(lines)
            del log_lines[:-1000]

    # ------------------------------------------------------------------ maintenance

    def snapshot(self, timeout: float = 60.0) -> int | None:
        """Force a snapshot of everything written so far; returns its position."""
        self.writer.flush(timeout)
        if not self.snapshots.request().wait(timeout):
            return None
        return self.snapshots.last_written
