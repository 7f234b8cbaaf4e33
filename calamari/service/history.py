"""History queries over the event store: a cluster's resources as they were at a past time or
position, and what changed between two of them. Shared by the REST API and `calamari-ctl`.

A past state is the nearest snapshot at or before the position plus the events after it (the
snapshot writer keeps older snapshots spaced out for this). A time maps to the last position whose
event happened at or before it, found by binary search over single events of the store: event
times are the times of the changes, which grow with the position (events are stored in the order
they are made).

Where older events were archived (`calamari-ctl events archive`), the kept history starts at the
history base: the state at the last archived event. A point before it is refused with
`HistoryArchivedError` naming where the kept history starts, and every answer carries that
point as `kept_from` (null while the store holds the whole history)."""

from __future__ import annotations

import contextlib
import gc
import re
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.utils import get_topic

from calamari.adapters.event_store import EventStore, event_record
from calamari.adapters.snapshots import kept_base_file, load_model, read_history_base
from calamari.domain.cluster import Cluster
from calamari.domain.documents import OSD_FIELDS
from calamari.domain.history import (
    STATE_PARTS,
    ChangeSummary,
    SpanRows,
    actor,
    belongs,
    bucket_edges,
    cluster_documents,
    density,
    health_transition,
    live_state_documents,
    lookup_times,
    redact,
    serves,
)
from calamari.domain.ids import cluster_id
from calamari.domain.model import ClusterModel
from calamari.domain.server import Server

DEFAULT_EVENT_LIMIT = 1000
MAX_EVENT_LIMIT = 10_000
_POSITION = re.compile(r"^\d{1,18}$")
_TIME_CACHE_SIZE = 100_000
DEFAULT_BUCKETS = 100
MAX_BUCKETS = 1000
# a timeline marks at most this many health transitions (a flapping cluster's are summed up as truncated)
MAX_HEALTH_MARKS = 1000
_HEALTH_TOPIC = get_topic(Cluster.HealthChanged)
# The last past model built is kept and moved forward for a later point this few events on: cheaper
# than decoding a snapshot (about as much as replaying 8,000 events at 10,000 OSDs). The console
# asks for nearby points one after another (a cursor stepped on, "what changed since then").
REUSE_WITHIN = 8_000
Shape = Callable[[ClusterModel, str, dict[str, Any]], dict[str, Any]]


_gc_lock = threading.Lock()
_gc_pauses = 0  # queries running with the cyclic collector paused
_gc_was_enabled = False
# What paused queries leave alive is set aside from the collector (gc.freeze), as calamari-server
# does with its live model once it is loaded; garbage cycles other threads left meanwhile are set
# aside with it, so once this many more objects are set aside than after the last full collection,
# one runs (and what it leaves alive is set aside again).
SET_ASIDE_GROWTH_LIMIT = 50_000
# Counting what is set aside walks all of it (a few ms per 100,000 objects): every this many times.
SET_ASIDE_COUNT_EVERY = 10
_set_aside_after_collection: int | None = None
_set_asides = 0


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a past model is built and rendered. Such a
    model is hundreds of thousands of new objects, and beside the server's live model each few
    thousand of them set off a collection that walks the whole heap: half of a past state's CPU
    at 10,000 OSDs. Reference counting frees such objects (whatever else is collected once the
    collector resumes), the pause lasts one query, and the collector resumes when the last query
    running ends (unless it was off before): see `_set_aside_survivors` for what it finds then."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                _set_aside_survivors()
                gc.enable()


def _set_aside_survivors() -> None:
    """Set aside from the cyclic collector the objects made while it was paused. A resumed
    collector would otherwise first walk every one of them, the kept past model included (none
    garbage), and again when they move on a generation: 50-100 ms of CPU per past state at 10,000
    OSDs, in the request. A past model holds no reference cycles, so reference counting frees it
    when it is dropped, set aside or not (tests/unit/test_history_gc_pause.py)."""
    global _set_aside_after_collection, _set_asides
    gc.freeze()
    _set_asides += 1
    if _set_aside_after_collection is not None and _set_asides % SET_ASIDE_COUNT_EVERY:
        return
    set_aside = gc.get_freeze_count()
    if _set_aside_after_collection is None or set_aside < _set_aside_after_collection:
        _set_aside_after_collection = set_aside
    elif set_aside - _set_aside_after_collection > SET_ASIDE_GROWTH_LIMIT:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _set_aside_after_collection = gc.get_freeze_count()


class HistoryError(ValueError):
    """Bad input to a history query; `field` names it (for a 400 or a CLI error)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Point:
    """A place in the history: a store position and the time of its event (None at 0)."""

    position: int
    time: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "time": self.time.isoformat() if self.time else None}


class HistoryArchivedError(HistoryError):
    """A point before the kept history: its events were archived (HTTP 410)."""

    def __init__(self, field: str, kept_from: Point) -> None:
        when = kept_from.time.isoformat() if kept_from.time else "?"
        super().__init__(field, f"is before the kept history, which starts at {when} (position "
                                f"{kept_from.position}); older events are archived")
        self.kept_from = kept_from


class ClusterNotFound(LookupError):
    """No such cluster in the history at that point."""


def parse_point(value: str | None, field: str) -> int | datetime:
    """An event position (digits) or an ISO 8601 time; a time without a zone is taken as UTC."""
    if value is None or not value.strip():
        raise HistoryError(field, "required: an ISO 8601 time (2024-05-07T03:12:00Z) or an event position")
    text = value.strip()
    if _POSITION.match(text):
        return int(text)
    if text.startswith("-") and text[1:].isdigit():
        raise HistoryError(field, "an event position cannot be negative")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise HistoryError(field, f"{value!r} is neither an ISO 8601 time nor an event position") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_EVENT_LIMIT
    # isascii: isdigit() takes '²', which int() refuses; the length keeps int() from refusing
    if not (value.isascii() and value.isdigit()) or len(value) > 18 or int(value) > MAX_EVENT_LIMIT:
        raise HistoryError("limit", f"must be an integer from 0 to {MAX_EVENT_LIMIT}")
    return int(value)


def _names(value: str, field: str, known: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    if not names:
        raise HistoryError(field, f"name at least one of: {', '.join(known)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise HistoryError(field, f"unknown {unknown[0][:100]!r}; known: {', '.join(known)}")
    return names


def parse_parts(value: str | None) -> tuple[str, ...]:
    """`parts=osd,pool`: the lists a past state answers (default: all of them)."""
    return STATE_PARTS if value is None else _names(value, "parts", STATE_PARTS)


def parse_osd_fields(value: str | None) -> tuple[str, ...] | None:
    """`osd_fields=id,up,in`: the fields of each OSD a past state answers (default: all)."""
    return None if value is None else _names(value, "osd_fields", OSD_FIELDS)


def parse_buckets(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_BUCKETS
    if not (value.isascii() and value.isdigit()) or len(value) > 18 or not 1 <= int(value) <= MAX_BUCKETS:
        raise HistoryError("buckets", f"must be an integer from 1 to {MAX_BUCKETS}")
    return int(value)


class History:
    """Read-only queries on a store and its snapshot directory (safe beside a running server)."""

    def __init__(self, store: EventStore, snapshot_dir: str) -> None:
        self.store = store
        self.snapshot_dir = snapshot_dir
        self._times: dict[int, datetime] = {}  # stored events never change: cache their times
        self._bases: dict[str, Point] = {}  # history base file -> where the kept history starts
        self._lock = threading.Lock()
        # (position, model) of the last query, taken out while a query uses it (queries run on
        # several threads; a model is never shared)
        self._kept: tuple[int, ClusterModel] | None = None
        self.models_built = 0  # from a snapshot (or the start), for tests and benchmarks

    def kept_from(self) -> Point | None:
        """Where the kept history starts (the last archived event), or None when the store holds
        the whole history."""
        found = kept_base_file(self.snapshot_dir, self.store)
        if found is None:
            return None
        position, path = found
        with self._lock:
            cached = self._bases.get(path)
        if cached is None:
            cached = Point(position, read_history_base(path, position)[1])
            with self._lock:
                self._bases[path] = cached
        return cached

    # ------------------------------------------------------------------ positions and times

    def end(self) -> int:
        return self.store.max_position()

    def time_of(self, position: int) -> datetime | None:
        if position <= 0:
            return None
        with self._lock:
            cached = self._times.get(position)
        if cached is not None:
            return cached
        found = next(iter(self.store.read(after=position - 1, until=position, batch=1)), None)
        if found is None:
            return None
        with self._lock:
            if len(self._times) >= _TIME_CACHE_SIZE:
                self._times.clear()
            self._times[position] = found[1].timestamp
        return found[1].timestamp

    def position_at(self, when: datetime, end: int | None = None, start: int = 0) -> int:
        """The last position whose event happened at or before `when` (`start`: a position known
        to be at or before `when`, which narrows the search; the first stored event is after it)."""
        low, high = start, self.end() if end is None else end
        while low < high:
            mid = (low + high + 1) // 2
            found_at, time = mid, self.time_of(mid)
            if time is None:  # a gap in the positions (PostgreSQL): the next stored event decides
                found = next(iter(self.store.read(after=mid - 1, until=high, batch=1)), None)
                if found is not None:
                    found_at, time = found[0], found[1].timestamp
            if time is not None and time <= when:
                low = found_at
            else:
                high = mid - 1
        return low

    def point(self, value: str | None, field: str, end: int | None = None, clamp: bool = False) -> Point:
        """Resolve a query value (position or time) against the store. A point before the kept
        history raises HistoryArchivedError, or with `clamp` stands for where it starts."""
        end = self.end() if end is None else end
        parsed = parse_point(value, field)
        kept = self.kept_from()
        if isinstance(parsed, int):
            if parsed > end:
                raise HistoryError(field, f"position {parsed} is beyond the newest stored event ({end})")
            before_kept = kept is not None and parsed < kept.position
            position = parsed
        else:
            before_kept = kept is not None and kept.time is not None and parsed < kept.time
            position = self.position_at(parsed, end, kept.position if kept else 0)
        if kept is not None and before_kept:
            if not clamp:
                raise HistoryArchivedError(field, kept)
            return kept
        if kept is not None and position == kept.position:
            return kept  # its event is archived: the base knows its time
        return Point(position, self.time_of(position))

    def positions_at(self, times: list[datetime], end: int) -> list[int]:
        """`position_at` for each of ascending `times`, each search starting where the last ended."""
        found: list[int] = []
        kept = self.kept_from()
        low = kept.position if kept is not None else 0
        for when in times:
            low = self.position_at(when, end, low)
            found.append(low)
        return found

    # ------------------------------------------------------------------ timeline

    def timeline(self, fsid: str, start: str | None, stop: str | None, buckets: int = DEFAULT_BUCKETS,
                 ) -> dict[str, Any]:
        """How many events were stored in each of `buckets` equal spans between `start` (default:
        the first event) and `stop` (default: the newest), and the cluster's health transitions in
        between (the first MAX_HEALTH_MARKS)."""
        end = self.end()
        kept = self.kept_from()
        first = kept if kept is not None else Point(min(end, 1), self.time_of(1))
        last = Point(end, self.time_of(end))
        begin = self._time_of_point(start, "from", end, first.time)
        finish = self._time_of_point(stop, "to", end, last.time)
        answer: dict[str, Any] = {"fsid": fsid, "first": first.as_dict(), "last": last.as_dict(),
                                  "from": begin.isoformat() if begin else None,
                                  "to": finish.isoformat() if finish else None,
                                  "buckets": [], "health": [], "health_truncated": False}
        if begin is None or finish is None:  # nothing stored yet
            return answer
        if finish < begin:
            raise HistoryError("from", f"is after to ({begin.isoformat()} > {finish.isoformat()})")
        edges = bucket_edges(begin, finish, buckets)
        positions = self.positions_at(lookup_times(edges), end)
        answer["buckets"] = density(edges, positions)
        marks: list[dict[str, Any]] = []
        cluster = cluster_id(fsid)
        for position, event in self.store.read(after=positions[0], until=positions[-1], batch=500,
                                               topics=(_HEALTH_TOPIC,)):
            if event.originator_id != cluster:
                continue
            if len(marks) == MAX_HEALTH_MARKS:
                answer["health_truncated"] = True
                break
            marks.append(health_transition(position, event))
        answer["health"] = marks
        return answer

    def _time_of_point(self, value: str | None, field: str, end: int, default: datetime | None) -> datetime | None:
        if value is None:
            return default
        parsed = parse_point(value, field)
        if isinstance(parsed, datetime):
            return parsed
        if parsed > end:
            raise HistoryError(field, f"position {parsed} is beyond the newest stored event ({end})")
        return self.time_of(parsed) or default

    # ------------------------------------------------------------------ states

    def model_at(self, position: int) -> ClusterModel:
        """The model at `position`: the kept one moved forward when it is at most REUSE_WITHIN
        events before it, else the nearest snapshot and the events after it. The caller owns it
        (and may `keep` it when done)."""
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None and 0 <= position - kept[0] <= REUSE_WITHIN:
            model = kept[1]
            for _, event in self.store.read(after=kept[0], until=position):
                model.apply(event)
            return model
        # Of no use here: dropped before another model is built, so that the server holds at most
        # one past model besides the live one (the next query keeps the one built now).
        del kept
        model, _ = load_model(self.snapshot_dir, self.store, until=position)
        with self._lock:
            self.models_built += 1
        return model

    def keep(self, position: int, model: ClusterModel) -> None:
        """Offer a model at `position` no longer used to the next query (only the latest is kept)."""
        with self._lock:
            self._kept = (position, model)

    def clusters_at(self, position: int) -> list[str]:
        model = self.model_at(position)
        self.keep(position, model)
        return sorted(model.clusters)

    def state(self, fsid: str, at: str | None, shape: Shape | None = None) -> dict[str, Any]:
        """The cluster's documents (cluster, health, osd, pool, server) as they were at `at`;
        `shape(model, fsid, docs)` may add what the live resources derive from other state."""
        def render(model: ClusterModel) -> dict[str, Any] | None:
            docs = cluster_documents(model, fsid)
            return shape(model, fsid, docs) if docs is not None and shape is not None else docs

        with gc_paused():
            return self._state(fsid, at, render)

    def live_state(self, fsid: str, at: str | None, parts: Collection[str] = STATE_PARTS,
                   osd_fields: Sequence[str] | None = None) -> dict[str, Any]:
        """The cluster's documents at `at` as the live routes shape them, only the lists named in
        `parts` and only `osd_fields` of each OSD (None: all): what `GET …/history?at=` answers."""
        with gc_paused():
            return self._state(fsid, at, lambda model: live_state_documents(model, fsid, parts, osd_fields))

    def _state(self, fsid: str, at: str | None, render: Callable[[ClusterModel], dict[str, Any] | None],
               ) -> dict[str, Any]:
        point = self.point(at, "at")
        model = self.model_at(point.position)
        docs = render(model)
        self.keep(point.position, model)
        if docs is None:
            raise ClusterNotFound(f"cluster {fsid} has no recorded state at position {point.position}"
                                  + (f" ({point.time.isoformat()})" if point.time else ""))
        kept = self.kept_from()
        return {"fsid": fsid, "at": at, **point.as_dict(), "kept_from": kept.as_dict() if kept else None, **docs}

    def diff(self, fsid: str, start: str | None, stop: str | None, limit: int = DEFAULT_EVENT_LIMIT,
             ) -> dict[str, Any]:
        """The cluster's events in (from, to] (the first `limit` of them) and a summary of what
        changed: `to` defaults to now."""
        with gc_paused():
            return self._diff(fsid, start, stop, limit)

    def _diff(self, fsid: str, start: str | None, stop: str | None, limit: int) -> dict[str, Any]:
        end = self.end()
        first = self.point(start, "from", end)
        last = self.point(stop, "to", end) if stop is not None else Point(end, self.time_of(end))
        if first.position > last.position:
            raise HistoryError("from", f"is after to (positions {first.position} > {last.position})")
        model = self.model_at(first.position)
        rows = SpanRows(model, fsid)
        summary = ChangeSummary(fsid, None)
        events: list[dict[str, Any]] = []
        count = 0
        for position, event in self.store.read(after=first.position, until=last.position):
            prior = model.aggregates.get(event.originator_id)
            # A server that stops serving this cluster still shows the change that made it so.
            served = isinstance(prior, Server) and serves(prior, fsid)
            if prior is not None:
                rows.before_change(prior)
            model.apply(event)
            agg = model.aggregates[event.originator_id]
            if not (served or belongs(agg, fsid)):
                continue
            count += 1
            summary.add(position, event, agg)
            if len(events) < limit:
                record = event_record(position, event)
                record["data"] = redact(record["data"])
                record["by"] = actor(event, agg)
                events.append(record)
        summary.before = rows.before(summary.osd_events, summary.pool_events)
        after = rows.after(model, summary.osd_events, summary.pool_events)
        self.keep(last.position, model)
        if summary.before is None and after is None:
            raise ClusterNotFound(f"cluster {fsid} has no recorded state between positions "
                                  f"{first.position} and {last.position}")
        kept = self.kept_from()
        return {
            "fsid": fsid,
            "kept_from": kept.as_dict() if kept else None,
            "from": first.as_dict(),
            "to": last.as_dict(),
            "event_count": count,
            "events": events,
            "truncated": count > len(events),
            "summary": summary.finish(after),
        }
