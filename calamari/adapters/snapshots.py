"""Whole-model snapshots: files of every aggregate's state at a store position, so that a restart
loads the newest one and replays only the events after it.

The writer keeps its own shadow model, folded from the events as they are persisted, and encodes
snapshots from it on its own thread: neither the ingest path nor the API ever waits for one.

A snapshot file is one header line, `calamari-snapshot 3 sha256 <hex digest of the body>`, then
the body: msgpack, compressed with zlib (format 2, still read, has it uncompressed). A file
whose header, digest or content does not check out (a flipped bit, an edit, a snapshot of
format 1 from before checksums, which cannot be told from a forged one) is never loaded: it is
renamed `*.rejected`, with a warning, and the next older snapshot, or the events from the
start, take its place. Files are written owner-only (0600).

A history base (`history-base-<position>.msgpack`, the same format plus the time of the event
at its position) is the model at the last event `calamari-ctl events archive` moved out of the
store: once the store's oldest event is after it, the kept history starts there. It is never
pruned; a model is built from it, or from a snapshot after it, never from one before it (whose
following events are gone), and a base that does not check out stops the load rather than
leave the model without the archived past."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import queue
import sys
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.utils import get_topic, resolve_topic

from calamari.adapters.codec import pack, unpack
from calamari.adapters.event_store import EventStore, EventStoreError
from calamari.domain.base import CalamariAggregate
from calamari.domain.model import ClusterModel

log = logging.getLogger(__name__)

# Format 3 is format 2 with the msgpack body compressed (zlib, fastest level): a snapshot of a
# 10,000-OSD model shrinks tenfold (10.6 MB to 1.1 MB), which is what lets history snapshots be
# kept densely (docs/history.md, "Cost"), for about 0.05 s more per load. Format 2 is still read.
FORMAT = 3
_COMPRESSED_FROM = 3
HEADER_PREFIXES = {version: b"calamari-snapshot %d sha256 " % version for version in (2, 3)}
HEADER_PREFIX = HEADER_PREFIXES[FORMAT]
_COMPRESSION_LEVEL = 1
_MAX_HEADER = 128  # bytes read to find the header line
REJECTED_SUFFIX = ".rejected"
KEEP = 3
# Older snapshots also serve history queries (state at a past time): one is kept per span of
# HISTORY_SPACING positions, for HISTORY_KEEP spans, so a past state costs one snapshot load plus
# at most about HISTORY_SPACING events of replay (the writer writes one every HISTORY_SPACING
# events). 5,000: at 10,000 OSDs a replay of that many costs about as much as a snapshot load, and
# 200 compressed snapshots (about 1.1 MB each there) cover the last million events in 220 MB.
HISTORY_SPACING = 5_000
HISTORY_KEEP = 200
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


class SnapshotRejected(ValueError):
    """A snapshot file that must not be loaded; the message says why."""


def encode_snapshot(position: int, model: ClusterModel, extra: dict[str, Any] | None = None) -> bytes:
    """The bytes of a snapshot file: the header line with the body's SHA-256, then the body
    (`extra`: more fields of the body, covered by the checksum)."""
    body = zlib.compress(pack({**(extra or {}), "format": FORMAT, "position": position,
                               "aggregates": encode_aggregates(model.aggregates.values()),
                               "reflected": model.reflected}), _COMPRESSION_LEVEL)
    return HEADER_PREFIX + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def decode_snapshot(data: bytes, position: int | None = None) -> dict[str, Any]:
    """The document of a snapshot file, after checking its header, digest and content (and, if
    given, that it is of `position`, the one its name says); SnapshotRejected otherwise."""
    newline = data.find(b"\n", 0, _MAX_HEADER)
    version = _header_version(data)
    if version is None or newline < 0:
        raise SnapshotRejected("no checksum header (a snapshot of format 1, or not a snapshot)")
    digest = data[len(HEADER_PREFIXES[version]):newline].decode("ascii", "replace")
    body = data[newline + 1:]
    if hashlib.sha256(body).hexdigest() != digest:
        raise SnapshotRejected("its content does not match its checksum (damaged or edited)")
    try:
        doc = unpack(zlib.decompress(body) if version >= _COMPRESSED_FROM else body)
    except Exception as err:  # a checked body that does not decode: written by something else
        raise SnapshotRejected(f"its content does not decode: {err}") from None
    if not isinstance(doc, dict) or doc.get("format") != version or not isinstance(doc.get("aggregates"), list) \
            or not isinstance(doc.get("position"), int):
        raise SnapshotRejected(f"its content is not a snapshot of format {version}")
    if position is not None and doc["position"] != position:
        raise SnapshotRejected(f"it holds position {doc['position']}, not the {position} of its name")
    return doc


def _header_version(data: bytes) -> int | None:
    """The format a snapshot's header line names (None: no header of a known format)."""
    return next((version for version, prefix in HEADER_PREFIXES.items() if data.startswith(prefix)), None)


def write_snapshot(directory: str, position: int, model: ClusterModel, history_keep: int = HISTORY_KEEP) -> str:
    path = snapshot_path(directory, position)
    _write_atomically(directory, path, encode_snapshot(position, model))
    prune_snapshots(directory, history_keep)
    return path


def _write_atomically(directory: str, path: str, data: bytes) -> None:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic: a reader sees a whole snapshot or none
    except BaseException:
        with contextlib.suppress(OSError):  # e.g. a full disk: leave no partial file taking space
            os.remove(tmp)
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable (a crash right after could otherwise lose it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    # rejected snapshots are kept for inspection, the newest few only: after an upgrade they can
    # be as many as the history snapshots of format 1
    for _position, path in sorted(_snapshots(directory, REJECTED_SUFFIX), reverse=True)[KEEP:]:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _snapshots(directory: str, suffix: str = "") -> list[tuple[int, str]]:
    found = []
    for path in glob.glob(os.path.join(directory, "snapshot-*.msgpack" + suffix)):
        name = os.path.basename(path)[:-len(suffix)] if suffix else os.path.basename(path)
        try:
            found.append((int(name[len("snapshot-"):-len(".msgpack")]), path))
        except ValueError:
            continue
    return found


def newest_snapshot(directory: str, at_most: int | None = None) -> tuple[int, str] | None:
    found = [(p, path) for p, path in _snapshots(directory) if at_most is None or p <= at_most]
    return max(found) if found else None


def load_snapshot(path: str, position: int) -> ClusterModel:
    """The model a snapshot file holds; SnapshotRejected if it does not check out, OSError if it
    cannot be read."""
    with open(path, "rb") as f:
        head = f.read(len(HEADER_PREFIX))  # every format's header prefix has this length
        if _header_version(head) is None:  # told without reading a whole (possibly large) file of format 1
            raise SnapshotRejected("no checksum header (a snapshot of format 1, or not a snapshot)")
        doc = decode_snapshot(head + f.read(), position)
    model = ClusterModel()
    try:
        model.load(decode_aggregates(doc["aggregates"]), doc.get("reflected"))
    except Exception as err:  # checked, but not aggregates this version knows
        raise SnapshotRejected(f"its aggregates cannot be restored: {err}") from None
    return model


def reject_snapshot(path: str, reason: str) -> None:
    """Set a snapshot that must not be loaded aside (renamed *.rejected, kept for inspection)."""
    try:
        os.replace(path, path + REJECTED_SUFFIX)
        log.warning("snapshot %s rejected: %s; renamed %s%s", path, reason, os.path.basename(path), REJECTED_SUFFIX)
    except OSError as err:  # e.g. a read-only data dir: it is skipped again next time
        log.warning("snapshot %s rejected: %s (could not rename it: %s)", path, reason, err)


HISTORY_BASE_PREFIX = "history-base-"


class HistoryBaseUnusable(EventStoreError):
    """The kept history starts at a history base that cannot be loaded: the events before it are
    archived, so no model can be built without it."""


class HistoryArchived(EventStoreError):
    """A model before the kept history was asked for."""

    def __init__(self, kept_from: int) -> None:
        super().__init__(f"the history before position {kept_from} is archived")
        self.kept_from = kept_from


@dataclass(frozen=True)
class HistoryBase:
    """Where the kept history starts: the position of the last archived event and its time."""

    position: int
    time: datetime
    path: str


def history_base_path(directory: str, position: int) -> str:
    return os.path.join(directory, f"{HISTORY_BASE_PREFIX}{position:012d}.msgpack")


def write_history_base(directory: str, position: int, model: ClusterModel, time: datetime) -> str:
    """Write the model at `position` (the last archived event, which happened at `time`) as a
    history base, atomically."""
    path = history_base_path(directory, position)
    _write_atomically(directory, path, encode_snapshot(position, model, {"kept_from_time": time}))
    return path


def history_bases(directory: str) -> list[tuple[int, str]]:
    """(position, path) of every history base file, oldest first."""
    found = []
    for path in glob.glob(os.path.join(directory, HISTORY_BASE_PREFIX + "*.msgpack")):
        digits = os.path.basename(path)[len(HISTORY_BASE_PREFIX):-len(".msgpack")]
        if digits.isdigit():
            found.append((int(digits), path))
    return sorted(found)


def kept_base_file(directory: str, store: EventStore) -> tuple[int, str] | None:
    """The history base the kept history starts from: the newest one before the store's oldest
    event (one at or after it was written by an archive that had not removed its events yet,
    and does not count); None when the store holds its whole history."""
    first = store.min_position()
    candidates = [found for found in history_bases(directory) if found[0] < first]
    return candidates[-1] if candidates else None


def read_history_base(path: str, position: int) -> tuple[ClusterModel, datetime]:
    """The model a history base holds and the time of its event; HistoryBaseUnusable if it does
    not check out."""
    try:
        with open(path, "rb") as f:
            doc = decode_snapshot(f.read(), position)
        time = doc.get("kept_from_time")
        if not isinstance(time, datetime):
            raise SnapshotRejected("it names no time")
        model = ClusterModel()
        model.load(decode_aggregates(doc["aggregates"]), doc.get("reflected"))
    except (OSError, SnapshotRejected) as err:
        raise HistoryBaseUnusable(f"the kept history starts at the history base {path}, which cannot be "
                                  f"loaded ({err}); restore the file, or rebuild the data dir from the "
                                  "archives with `calamari-ctl events import`") from None
    except Exception as err:  # checked, but not aggregates this version knows
        raise HistoryBaseUnusable(f"the history base {path} cannot be restored: {err}") from None
    return model, time


def load_model(directory: str, store: EventStore, until: int | None = None) -> tuple[ClusterModel, int]:
    """The model at store position `until` (default: the end): the newest snapshot that checks
    out, plus the events after it (from the start if none does, or from the history base where
    older events were archived). Returns the model and the position it reflects."""
    model, position = ClusterModel(), 0
    base = kept_base_file(directory, store)
    floor = base[0] if base is not None else 0
    if until is not None and until < floor:
        raise HistoryArchived(floor)
    loaded = False
    passed_over = 0
    for snapshot_position, path in sorted(_snapshots(directory), reverse=True):
        if until is not None and snapshot_position > until:
            continue
        if snapshot_position < floor:
            break  # the events after it up to the base are archived: only the base will do
        try:
            model, position = load_snapshot(path, snapshot_position), snapshot_position
            loaded = True
            break
        except SnapshotRejected as err:
            reject_snapshot(path, str(err))
        except OSError as err:  # unreadable now (removed by pruning meanwhile, an I/O error): skip it
            log.warning("snapshot %s unreadable (%s); trying an older one", path, err)
        passed_over += 1
    if not loaded and base is not None:
        model, position = read_history_base(base[1], base[0])[0], base[0]
    if passed_over:
        log.warning("%d snapshot(s) in %s passed over: the model is rebuilt from %s", passed_over, directory,
                    f"the snapshot at {position} and the events after it" if position else "every stored event")
    for stored_at, event in store.read(after=position, until=until):
        model.apply(event)
        position = stored_at
    return model, position


class _ShadowBroken(RuntimeError):
    """An event persisted since the start could not be applied to the snapshot writer's model."""


class SnapshotWriter:
    def __init__(self, directory: str, store: EventStore, every_events: int = HISTORY_SPACING,
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

    def _load_shadow(self, waiting: list[Any]) -> ClusterModel:
        """The model at the start position, from disk, with the events persisted since applied."""
        shadow, at = load_model(self.directory, self.store, until=self._start_from)
        if at != (self._start_from or 0):
            raise EventStoreError(f"the shadow model loads at position {at}, not at the start's {self._start_from}")
        try:
            for event in waiting:
                shadow.apply(event)
        except Exception as err:
            raise _ShadowBroken(str(err)) from err
        return shadow

    def _run(self) -> None:
        # The shadow is loaded when the first snapshot is due, not at the start: a start then
        # decodes the model once (the service's) and this thread takes no interpreter time from
        # it. Until then the events persisted wait here (a snapshot is due after every_events).
        shadow: ClusterModel | None = None
        waiting: list[Any] = []
        self.position = self._start_from or 0
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
                            if shadow is not None:
                                shadow.apply(event)
                            else:
                                waiting.append(event)
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
                    if shadow is None:
                        try:
                            shadow, waiting = self._load_shadow(waiting), []
                        except _ShadowBroken:
                            log.exception("snapshot writer could not apply the events after %d; snapshots stop",
                                          self._start_from)
                            broken, waiting = True, []
                        except Exception:  # the store or the snapshot files: tried again when the next is due
                            log.exception("snapshot writer could not load its model; snapshot at %d not written",
                                          self.position)
                    if shadow is not None and not broken:
                        try:
                            write_snapshot(self.directory, self.position, shadow, self.history_keep)
                            self.last_written, self.written = self.position, self.written + 1
                        except Exception:
                            log.exception("snapshot at %d failed", self.position)
                since, last_time = 0, time.monotonic()
            if forced:
                item.set()
