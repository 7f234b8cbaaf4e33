"""Whisper storage of the collectors' metric points: a background writer fed by the bus (which
only enqueues) and a reader for the render and stats APIs. A metric `a.b.c` lives in
`<root>/a/b/c.wsp`; the retention schema is documented in docs/metrics.md."""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import whisper

from calamari.graphite.budget import QueryBudget
from calamari.graphite.errors import ExpressionError
from calamari.graphite.glob import NodeGlob, compile_path
from calamari.graphite.series import Series

log = logging.getLogger(__name__)

# 1 minute for a day, 5 minutes for a month, 1 hour for a year (see docs/metrics.md)
DEFAULT_RETENTION = "1m:1d,5m:30d,1h:1y"
# Counters keep their last value when rolled up, so derivatives over coarse archives stay right.
COUNTER_RE = re.compile(r"\.(rx_bytes|tx_bytes|read_bytes|write_bytes|num_read|num_write|num_read_kb|num_write_kb)$")
# One metric node: no dots, slashes or other characters a path or a glob could misread.
NODE_RE = re.compile(r"^[A-Za-z0-9_\-:@%+~#]+$")
MAX_METRIC_LENGTH = 512
MAX_NODES = 32
SUFFIX = ".wsp"
# Patterns whose matching metrics `newest` keeps (the alert rules'; more are matched again)
MAX_KEPT_PATTERNS = 64
# Whisper packs timestamps as unsigned 32-bit: a later one fails the whole batch's write.
MAX_TIMESTAMP = 0xFFFFFFFF


class MetricNameError(ValueError):
    """A metric name that cannot be stored safely; the message says why."""


def metric_nodes(metric: str) -> list[str]:
    """The nodes of a metric name, or MetricNameError when it could escape the store's directory
    or collide with glob syntax."""
    if not isinstance(metric, str) or not metric:
        raise MetricNameError("empty metric name")
    if len(metric) > MAX_METRIC_LENGTH:
        raise MetricNameError(f"metric name longer than {MAX_METRIC_LENGTH} characters")
    nodes = metric.split(".")
    if len(nodes) > MAX_NODES:
        raise MetricNameError(f"more than {MAX_NODES} nodes")
    for node in nodes:
        if not node:
            raise MetricNameError("empty node (leading, trailing or doubled dot)")
        if not NODE_RE.match(node):
            raise MetricNameError(f"node {node!r} has characters other than letters, digits and _-:@%+~#")
        if len(node) + len(SUFFIX) > 255:
            raise MetricNameError(f"node {node[:20]!r}... is too long for a file name")
    return nodes


@dataclass(frozen=True)
class MetricNode:
    """One entry of a find: a metric (leaf) and/or a folder of metrics (branch)."""

    path: str
    leaf: bool
    branch: bool

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


class WhisperStore:
    """Whisper files under `root`; creates a file with the retention schema on the first point."""

    def __init__(self, root: str, retention: str = DEFAULT_RETENTION, x_files_factor: float = 0.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.archives = [whisper.parseRetentionDef(d) for d in retention.split(",")]
        whisper.validateArchiveList(self.archives)
        self.retention = retention
        # 0: a rolled-up point is kept however few of its source points arrived (gaps stay visible
        # in the fine archive; the coarse one keeps what it can)
        self.x_files_factor = x_files_factor
        self.clock = clock
        # newest point per metric seen by the writer: lets /metrics show OSD usage without reading files
        self.latest: dict[str, tuple[int, float]] = {}
        # goes up when a newest value in `latest` changes: /metrics renders those lines again only then
        self.latest_version = 0
        # The finest archive's step: whisper keeps one value per such slot, the last one written.
        self.step = self.archives[0][0]
        # A point of the slot still open (the clock's current one), per metric, not yet in its file:
        # a collector reporting every 10 s sends 6 points a minute to a file that keeps the last
        # one, so the writer holds it and writes once when the slot closes (`write_closed`) or
        # when the metric is read (`fetch` writes it first, so reads answer as if written).
        self.held: dict[str, tuple[int, float]] = {}
        # Orders the writes of a metric's held point between the writer and readers.
        self.held_lock = threading.Lock()
        # Since when every point stored came through this object (so `latest` knows them all)
        self.started = int(clock())
        self.written_on_read = 0  # held points a read wrote before reading
        # Metrics whose name was checked and whose file exists: their path needs no checks again
        self._created: set[str] = set()
        self._folders: set[str] = set()  # folders made (or found) already: no makedirs per new file
        self._matches: dict[str, tuple[int, list[str]]] = {}  # pattern -> (len(latest) then, metrics)

    # ------------------------------------------------------------------ paths

    def file_path(self, metric: str) -> str:
        if metric in self._created:  # checked already: no dots but between nodes, no separators
            return f"{self.root}{os.sep}{metric.replace('.', os.sep)}{SUFFIX}"
        return os.path.join(self.root, *metric_nodes(metric)) + SUFFIX

    # ------------------------------------------------------------------ writing

    def write(self, metric: str, points: list[tuple[int, float]], now: int | None = None) -> None:
        """Store points of one metric (timestamp, value), creating its file when new."""
        path = self.ensure_file(metric)
        now = now if now is not None else int(self.clock())
        try:
            whisper.update_many(path, points, now=now)
        except FileNotFoundError:  # removed since it was created (by hand): made again
            self._created.discard(metric)
            self._folders.discard(os.path.dirname(path))
            whisper.update_many(self.ensure_file(metric), points, now=now)
        self.note_latest(metric, max(points))

    def note_latest(self, metric: str, point: tuple[int, float]) -> None:
        """Keep `point` as the metric's newest unless a newer one is known."""
        known = self.latest.get(metric)
        if known is None or point[0] >= known[0]:
            self.latest[metric] = point
            if known is None or known[1] != point[1]:
                self.latest_version += 1

    def ensure_file(self, metric: str) -> str:
        """The metric's file path, the file created with the retention schema when new."""
        path = self.file_path(metric)
        if metric in self._created:
            return path
        if not os.path.exists(path):
            folder = os.path.dirname(path)
            if folder not in self._folders:
                os.makedirs(folder, exist_ok=True)
                self._folders.add(folder)
            method = "last" if COUNTER_RE.search(metric) else "average"
            try:
                whisper.create(path, self.archives, self.x_files_factor, method, sparse=True)
            except whisper.InvalidConfiguration:
                pass  # created meanwhile (another process); use it
        self._created.add(metric)
        return path

    def is_known(self, metric: str) -> bool:
        """Whether the metric's name was checked and its file made."""
        return metric in self._created

    def slot(self, ts: int) -> int:
        """The start of the finest archive's slot holding `ts`."""
        return ts - ts % self.step

    def write_held(self, metric: str, now: int | None = None) -> None:
        """Write the metric's held point, if any, to its file."""
        with self.held_lock:
            point = self.held.pop(metric, None)
            if point is not None:
                self.write(metric, [point], now)
                self.written_on_read += 1

    # ------------------------------------------------------------------ reading

    def find(self, pattern: str, budget: QueryBudget | None = None) -> list[MetricNode]:
        """Metrics and folders matching a Graphite pattern (`*`, `?`, `[..]`, `{a,b}` per node).
        ExpressionError for a malformed pattern; QueryTooLarge once the names looked at or the
        matching steps pass the budget's limits (a fresh default budget when none is given)."""
        budget = budget if budget is not None else QueryBudget()
        nodes = budget.path_glob(pattern).nodes
        for node in nodes:
            if node.literal is not None and not NODE_RE.match(node.literal):
                raise ExpressionError(f"node {node.literal[:40]!r} cannot name a metric")
        prefixes: list[tuple[str, str]] = [("", self.root)]  # (metric prefix, directory)
        for node in nodes[:-1]:
            prefixes = [(f"{prefix}{name}.", os.path.join(folder, name))
                        for prefix, folder in prefixes for name in self._matching(folder, node, budget)[0]]
        found: dict[str, MetricNode] = {}
        for prefix, folder in prefixes:
            folders, metrics = self._matching(folder, nodes[-1], budget)
            for name in folders:
                found[prefix + name] = MetricNode(prefix + name, leaf=False, branch=True)
            for name in metrics:
                found[prefix + name] = MetricNode(prefix + name, leaf=True, branch=prefix + name in found)
        return [found[k] for k in sorted(found)]

    def _matching(self, folder: str, node: NodeGlob, budget: QueryBudget) -> tuple[list[str], list[str]]:
        """(sub-folders, metrics) of `folder` whose names match `node`."""
        if node.literal is not None:
            budget.examine(1)
            name = node.literal
            return ([name] if os.path.isdir(os.path.join(folder, name)) else [],
                    [name] if os.path.isfile(os.path.join(folder, name + SUFFIX)) else [])
        folders, metrics = [], []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    budget.examine(1)  # charged as read: a huge directory stops the query early
                    if entry.name.startswith("."):
                        continue
                    if entry.name.endswith(SUFFIX) and entry.is_file():
                        if node.matches(entry.name[:-len(SUFFIX)], budget):
                            metrics.append(entry.name[:-len(SUFFIX)])
                    elif entry.is_dir() and node.matches(entry.name, budget):
                        folders.append(entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return [], []
        return sorted(folders), sorted(metrics)

    def newest(self, pattern: str, seconds: int, now: int | None = None) -> list[tuple[str, float]]:
        """(metric, value) of each metric matching a Graphite pattern, sorted, with the value of
        its newest point within the last `seconds` (whisper's slots: as a fetch of that range
        would give). Read from the points held in memory (`latest`): a metric's newest point came
        through this store if it came since the store started. The files are read only for
        metrics not seen since then while the range reaches back before the start."""
        now = now if now is not None else int(self.clock())
        oldest, newest = self.slot(now - seconds) + self.step, self.slot(now)
        latest = self.latest
        matching = self._matching_metrics(pattern)
        found = []
        for metric in matching:
            point = latest[metric]
            if oldest <= point[0] - point[0] % self.step <= newest:
                found.append((metric, float(point[1])))
        if now - seconds < self.started:
            for node in self.find(pattern):
                if node.leaf and node.path not in latest:
                    series = self.fetch(node.path, now - seconds, now, now=now)
                    values = [v for v in series.values if v is not None] if series is not None else []
                    if values:
                        found.append((node.path, float(values[-1])))
        return sorted(found)

    def _matching_metrics(self, pattern: str) -> list[str]:
        """The metrics in `latest` matching a pattern, kept until a new metric appears (metrics
        are only ever added): an alert rule's pass looks up its 10,000 series, matching none."""
        count = len(self.latest)
        kept = self._matches.get(pattern)
        if kept is not None and kept[0] == count:
            return kept[1]
        glob = compile_path(pattern)
        prefix = ""
        for node in glob.nodes[:-1]:  # the leading plain nodes: most metrics are skipped by them
            if node.literal is None:
                break
            prefix += node.literal + "."
        metrics = [metric for metric in list(self.latest) if metric.startswith(prefix) and glob.matches(metric)]
        if len(self._matches) >= MAX_KEPT_PATTERNS:
            self._matches.clear()
        self._matches[pattern] = (count, metrics)
        return metrics

    def fetch(self, metric: str, start: int, end: int, now: int | None = None) -> Series | None:
        """One metric between start and end, at the finest archive that reaches back to start."""
        path = self.file_path(metric)
        now = now if now is not None else int(self.clock())
        if start >= min(end, now):
            return None
        if metric in self.held:
            try:
                self.write_held(metric, now)
            except (OSError, whisper.WhisperException) as err:
                log.error("cannot write %s: %s", path, err)
        try:
            result = whisper.fetch(path, start, min(end, now), now=now)
        except FileNotFoundError:
            return None
        except (whisper.CorruptWhisperFile, whisper.InvalidTimeInterval) as err:
            log.warning("cannot read %s: %s", path, err)
            return None
        if result is None:  # the range lies before the oldest archive
            return None
        (first, _last, step), values = result
        return Series(metric, first, step, list(values), metric)

    def fetch_pattern(self, pattern: str, start: int, end: int, now: int | None = None,
                      budget: QueryBudget | None = None) -> list[Series]:
        """Every metric matching a pattern; the series carry the pattern as their path expression.
        Checks the budget before each read (QueryTooLarge when the series or their points would
        pass its limits) without charging: the caller charges what it gets."""
        budget = budget if budget is not None else QueryBudget()
        leaves = [node.path for node in self.find(pattern, budget) if node.leaf]
        budget.ensure_room(series=len(leaves))
        out, points = [], 0
        for metric in leaves:
            series = self.fetch(metric, start, end, now)
            if series is not None:
                points += len(series.values)
                budget.ensure_room(series=len(leaves), points=points)
                series.path_expression = pattern
                out.append(series)
        return out

    def children(self, prefix: str) -> list[str]:
        """Metric names directly under a prefix (e.g. `ceph.cluster.<fsid>.pool.3`)."""
        return [n.path for n in self.find(prefix + ".*") if n.leaf]


_STOP = object()
# Points queued or being written at most (about 240 bytes each decoded, as much again while a batch
# is grouped by metric): some 25-50 MB. At 10,000 OSDs a writer behind on its files held 150 MB
# of them (10,000 messages queued, 2,000 in hand).
MAX_PENDING_POINTS = 100_000


class TimeSeriesWriter:
    """Writes `stats` points to a WhisperStore from a thread of its own, a batch at a time:
    points of the same metric that queued up together go to its file in one update_many."""

    def __init__(self, store: WhisperStore, max_pending: int = 10_000, max_batch: int = 2_000,
                 max_pending_points: int = MAX_PENDING_POINTS) -> None:
        self.store = store
        self.pending: queue.Queue[Any] = queue.Queue(maxsize=max_pending)
        # Points queued or in the batch being written, bounded too: a message's size is the
        # reporter's choice (MAX_PENDING_POINTS).
        self.max_pending_points = max_pending_points
        self.pending_points = 0
        self._points_lock = threading.Lock()
        self.max_batch = max_batch
        self._written = 0
        self.rejected = 0
        self.dropped = 0  # points turned away because the queue was full
        self.failed = 0  # points whose file could not be written
        self._thread: threading.Thread | None = None
        self._last_drop_log = 0.0
        self._closed_before: int | None = None  # held points of slots before this one are written

    @property
    def written(self) -> int:
        """Points in whisper files, those superseded in their slot by a newer one included."""
        return self._written + self.store.written_on_read

    # ------------------------------------------------------------------ ingest side

    def stats_sink(self, fsid: str | None, host: str, points: list[list[Any]]) -> None:
        """Called by the bus for each `stats` message; only enqueues, never blocks."""
        count = len(points) if isinstance(points, list) else 0
        try:
            with self._points_lock:
                # one message is taken whatever its size when none waits, so none is refused forever
                if self.pending_points and self.pending_points + count > self.max_pending_points:
                    raise queue.Full
                self.pending.put_nowait((fsid, host, points))
                self.pending_points += count
        except queue.Full:
            self.dropped += count
            now = time.monotonic()
            if now - self._last_drop_log > 10:
                self._last_drop_log = now
                log.warning("time-series writer behind: dropped points from %s (%d dropped so far)",
                            host, self.dropped)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="timeseries-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self.pending.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything enqueued before this call is written."""
        done = threading.Event()
        try:
            self.pending.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        store = self.store
        while True:
            try:  # woken when the open slot closes, to write its held points without new ones
                now = store.clock()
                batch = [self.pending.get(timeout=store.step - now % store.step + 0.5)]
            except queue.Empty:
                try:
                    self.write_held(only_closed=True)
                except Exception:
                    log.exception("time-series write of held points failed")
                continue
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            stop = False
            messages, markers = [], []
            for item in batch:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    markers.append(item)
                else:
                    messages.append(item)
            try:
                self.write_batch(messages)
                if markers or stop:  # what was sent before a flush is in the files after it
                    self.write_held()
            except Exception:  # a bug here must not end the thread and silently stop all writing
                log.exception("time-series batch failed")
            with self._points_lock:  # only now: the batch's points were held until written
                self.pending_points -= sum(len(points) for _, _, points in messages if isinstance(points, list))
            for marker in markers:
                marker.set()
            if stop:
                return

    def write_batch(self, messages: list[tuple[str | None, str, list[list[Any]]]]) -> int:
        """Validate, group by metric and write; returns the number of points taken (written, or
        held as the newest of the finest archive's slot still open, see WhisperStore.held)."""
        by_metric: dict[str, list[tuple[int, float]]] = {}
        reasons: dict[str, tuple[int, str]] = {}
        for fsid, host, points in messages:
            for point in points:
                reason = self._check(fsid, point)
                if reason is not None:
                    count, example = reasons.get(reason, (0, ""))
                    reasons[reason] = (count + 1, example or f"{point[0] if point else point!r} from {host}")
                    continue
                by_metric.setdefault(point[0], []).append((int(point[1]), float(point[2])))
        for reason, (count, example) in reasons.items():
            self.rejected += count
            log.warning("rejected %d metric point(s): %s (e.g. %s)", count, reason, example)
        store = self.store
        now = int(store.clock())
        current = store.slot(now)
        if current != self._closed_before:
            self.write_held(now, only_closed=True)
        taken = 0
        for metric, points in by_metric.items():
            # of the points in the open slot only the newest counts: whisper keeps one per slot
            to_write = [point for point in points if point[0] - point[0] % store.step != current]
            in_open_slot = len(points) - len(to_write)
            try:
                if in_open_slot:
                    store.ensure_file(metric)  # so that a find lists it before it is written
                    newest = max((point for point in points if point[0] - point[0] % store.step == current),
                                 key=lambda point: point[0])
                    with store.held_lock:
                        held = store.held.get(metric)
                        if held is None or newest[0] >= held[0]:
                            store.held[metric] = newest
                        self._written += in_open_slot - (held is None)  # those superseded
                if to_write:
                    store.write(metric, to_write, now)
                    self._written += len(to_write)
            except MetricNameError as err:
                self.rejected += len(points)
                log.warning("rejected metric %r: %s", metric, err)
                continue
            except (OSError, whisper.WhisperException) as err:
                self.failed += len(to_write) or in_open_slot
                log.error("cannot write %s: %s", metric, err)
                continue
            taken += len(points)
            store.note_latest(metric, max(points))
        return taken

    def write_held(self, now: int | None = None, only_closed: bool = False) -> None:
        """Write the held points to their files: all of them, or those of slots closed by now."""
        store = self.store
        now = now if now is not None else int(store.clock())
        current = store.slot(now)
        for metric, point in list(store.held.items()):
            if only_closed and point[0] - point[0] % store.step == current:
                continue
            with store.held_lock:
                if store.held.get(metric) is not point:
                    continue  # replaced or written by a reader meanwhile
                del store.held[metric]
                try:
                    store.write(metric, [point], now)
                except (OSError, whisper.WhisperException) as err:
                    self.failed += 1
                    log.error("cannot write %s: %s", metric, err)
                    continue
            self._written += 1
        if only_closed:
            self._closed_before = current

    def _check(self, fsid: str | None, point: Any) -> str | None:
        if not isinstance(point, list | tuple) or len(point) != 3:
            return "a point is not [metric, timestamp, value]"
        metric, ts, value = point
        if not isinstance(metric, str):
            return "metric name is not a string"
        for number in (ts, value):
            if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
                return "timestamp or value is not a finite number"
        if ts < 0:
            return "negative timestamp"
        if ts > MAX_TIMESTAMP:
            return "timestamp beyond what whisper stores"
        if not self.store.is_known(metric):  # a known one was checked when its file was made
            try:
                metric_nodes(metric)
            except MetricNameError as err:
                return f"unsafe metric name: {err}"
        # a collector speaks for its own cluster only
        nodes = metric.split(".", 3)
        if nodes[0] == "ceph" and len(nodes) > 2 and nodes[1] == "cluster" and nodes[2] != fsid:
            return f"cluster metric for another fsid than the sender's ({fsid})"
        return None
