"""Whole-model snapshots: files of every aggregate's state at a store position, so that a restart
loads the newest one and replays only the events after it.

The writer keeps its own shadow model, folded from the events as they are persisted, and encodes
snapshots from it on its own thread: neither the ingest path nor the API ever waits for one."""

from __future__ import annotations

import glob
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.utils import get_topic, resolve_topic

from calamari.adapters.codec import pack, unpack
from calamari.adapters.event_store import EventStore
from calamari.domain.base import CalamariAggregate
from calamari.domain.model import ClusterModel

log = logging.getLogger(__name__)

FORMAT = 1
KEEP = 3
# Older snapshots also serve history queries (state at a past time): one is kept per span of
# HISTORY_SPACING positions, for HISTORY_KEEP spans, so a past state costs one snapshot load plus
# about HISTORY_SPACING events of replay (at most twice that).
HISTORY_SPACING = 20_000
HISTORY_KEEP = 50
# What an offline tool (calamari-ctl) keeps: it does not know the server's --history-snapshots,
# so it removes no history snapshot; the server prunes to its own setting when it next writes one.
HISTORY_KEEP_ALL = sys.maxsize


def encode_aggregates(aggregates: Iterable[CalamariAggregate]) -> list[list[Any]]:
    return [[get_topic(type(a)), a.domain_state()] for a in aggregates]


def decode_aggregates(rows: list[list[Any]]) -> list[CalamariAggregate]:
    result = []
    for topic, state in rows:
        agg = object.__new__(resolve_topic(topic))
        agg.__dict__.update(state)
        agg.__dict__["_pending_events"] = []
        result.append(agg)
    return result


def snapshot_path(directory: str, position: int) -> str:
    return os.path.join(directory, f"snapshot-{position:012d}.msgpack")


def write_snapshot(directory: str, position: int, model: ClusterModel, history_keep: int = HISTORY_KEEP) -> str:
    os.makedirs(directory, exist_ok=True)
    path = snapshot_path(directory, position)
    data = pack({"format": FORMAT, "position": position,
                 "aggregates": encode_aggregates(model.aggregates.values()),
                 "reflected": model.reflected})
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic: a reader sees a whole snapshot or none
    prune_snapshots(directory, history_keep)
    return path


def prune_snapshots(directory: str, history_keep: int = HISTORY_KEEP) -> None:
    """Keep the newest KEEP snapshots and, for history, the newest one of each earlier span of
    HISTORY_SPACING positions (up to `history_keep` spans): spans are fixed by position, so what
    is kept stays kept as newer snapshots arrive."""
    seen: set[int] = set()
    kept_history = 0
    for i, (position, path) in enumerate(sorted(_snapshots(directory), reverse=True)):
        span = position // HISTORY_SPACING
        if i < KEEP or (span not in seen and kept_history < history_keep):
            kept_history += i >= KEEP
            seen.add(span)
            continue
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def _snapshots(directory: str) -> list[tuple[int, str]]:
    found = []
    for path in glob.glob(os.path.join(directory, "snapshot-*.msgpack")):
        try:
            found.append((int(os.path.basename(path)[len("snapshot-"):-len(".msgpack")]), path))
        except ValueError:
            continue
    return found


def newest_snapshot(directory: str, at_most: int | None = None) -> tuple[int, str] | None:
    found = [(p, path) for p, path in _snapshots(directory) if at_most is None or p <= at_most]
    return max(found) if found else None


def load_model(directory: str, store: EventStore, until: int | None = None) -> tuple[ClusterModel, int]:
    """The model at store position `until` (default: the end): the newest usable snapshot plus
    the events after it. Returns the model and the position it reflects."""
    model = ClusterModel()
    position = 0
    found = newest_snapshot(directory, until)
    if found is not None:
        try:
            with open(found[1], "rb") as f:
                doc = unpack(f.read())
            model.load(decode_aggregates(doc["aggregates"]), doc.get("reflected"))
            position = doc["position"]
        except Exception:
            log.exception("snapshot %s unreadable; replaying from the start", found[1])
            model, position = ClusterModel(), 0
    for stored_at, event in store.read(after=position, until=until):
        model.apply(event)
        position = stored_at
    return model, position


class SnapshotWriter:
    def __init__(self, directory: str, store: EventStore, every_events: int = 20_000,
                 every_seconds: float = 300.0, history_keep: int = HISTORY_KEEP) -> None:
        self.directory = directory
        self.history_keep = history_keep
        self.store = store
        self.every_events = every_events
        self.every_seconds = every_seconds
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="snapshot-writer", daemon=True)
        self.position = 0
        self.last_written: int | None = None
        self.written = 0
        self._start_from: int | None = None

    def start(self, caught_up_to: int) -> None:
        """Start; the shadow model first catches up to `caught_up_to` from disk, on this thread."""
        self._start_from = caught_up_to
        self._thread.start()

    def persisted(self, positions: list[int], events: Sequence[Any]) -> None:
        """Called by the event writer after each batch is stored."""
        self._queue.put((positions, events))

    def request(self) -> threading.Event:
        """Ask for a snapshot now; the returned event is set once it is written."""
        done = threading.Event()
        self._queue.put(done)
        return done

    def stop(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        shadow, self.position = load_model(self.directory, self.store, until=self._start_from)
        found = newest_snapshot(self.directory, self._start_from)
        self.last_written = found[0] if found else 0
        since = self.position - (self.last_written or 0)
        last_time = time.monotonic()
        broken = False
        while True:
            try:
                item = self._queue.get(timeout=max(0.1, self.every_seconds / 10))
            except queue.Empty:
                item = False
            if item is None:
                return
            forced = isinstance(item, threading.Event)
            if isinstance(item, tuple) and not broken:
                positions, events = item
                try:
                    for position, event in zip(positions, events, strict=True):
                        if position > self.position:
                            shadow.apply(event)
                            self.position = position
                            since += 1
                except Exception:
                    # The shadow no longer equals the fold of the events: write no more snapshots
                    # from it (a restart replays from the last good one), but keep answering.
                    log.exception("snapshot writer could not apply the event after %d; snapshots stop",
                                  self.position)
                    broken = True
            due = since >= self.every_events or (since and time.monotonic() - last_time >= self.every_seconds)
            if (forced or due) and not broken:
                if self.position != self.last_written:
                    try:
                        write_snapshot(self.directory, self.position, shadow, self.history_keep)
                        self.last_written, self.written = self.position, self.written + 1
                    except Exception:
                        log.exception("snapshot at %d failed", self.position)
                since, last_time = 0, time.monotonic()
            if forced:
                item.set()
