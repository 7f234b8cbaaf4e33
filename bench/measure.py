"""Measuring a server from outside, as a user's tools would: plain HTTP requests timed to the last
byte (a new connection each, like curl), a process's RSS and CPU time from /proc, and the growth
of a SQLite event store read through a read-only connection. Shared by bench_scale.py and
bench_peer.py; nothing here starts or stops processes."""

from __future__ import annotations

import http.client
import math
import os
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# ------------------------------------------------------------------------------------ HTTP


@dataclass(frozen=True)
class Response:
    """One request as the client saw it: `seconds` from before the connection was opened to the
    last byte of the body; `wire_bytes` the body as sent (compressed if `encoding` says so)."""

    status: int
    seconds: float
    wire_bytes: int
    body: bytes
    headers: Mapping[str, str]

    @property
    def encoding(self) -> str:
        return self.headers.get("content-encoding", "identity")

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")


def http_get(url: str, headers: Mapping[str, str] | None = None, timeout: float = 120.0) -> Response:
    """GET `url` on a fresh connection; the body is read in full and left as sent (no decompression)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    started = time.perf_counter()
    connection = connection_class(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.request("GET", path or "/", headers=dict(headers or {}))
        answer = connection.getresponse()
        body = answer.read()
        seconds = time.perf_counter() - started
        found = {name.lower(): value for name, value in answer.getheaders()}
        return Response(answer.status, seconds, len(body), body, found)
    finally:
        connection.close()


# ------------------------------------------------------------------------------------ figures


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (0 < fraction <= 1) of `values`: a value that was measured."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Timings:
    """The samples of one route; `statuses` and `wire_bytes` as seen on each request."""

    seconds: list[float] = field(default_factory=list)
    wire_bytes: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    encodings: list[str] = field(default_factory=list)

    def add(self, response: Response) -> None:
        self.seconds.append(response.seconds)
        self.wire_bytes.append(response.wire_bytes)
        self.statuses.append(response.status)
        self.encodings.append(response.encoding)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def p90_ms(self) -> float:
        return percentile(self.seconds, 0.9) * 1000

    @property
    def median_bytes(self) -> int:
        return int(statistics.median(self.wire_bytes))

    @property
    def encoding(self) -> str:
        """The content encoding the server chose, or `mixed` if it varied."""
        seen = set(self.encodings)
        return seen.pop() if len(seen) == 1 else "mixed"

    @property
    def status(self) -> str:
        seen = sorted(set(self.statuses))
        return "/".join(str(s) for s in seen)

    def summary(self) -> dict[str, Any]:
        return {"n": len(self.seconds), "median_ms": round(self.median_ms, 3), "p90_ms": round(self.p90_ms, 3),
                "wire_bytes": self.median_bytes, "encoding": self.encoding, "status": self.status}


def growth_exponent(sizes: Sequence[float], values: Sequence[float | None]) -> float | None:
    """k in value ~ size**k between the smallest and the largest size with a positive figure:
    1.0 is linear growth, 0 flat, 2 quadratic. None if fewer than two such sizes."""
    pairs = [(s, v) for s, v in zip(sizes, values, strict=True) if v is not None and v > 0 and s > 0]
    if len(pairs) < 2:
        return None
    (s0, v0), (s1, v1) = min(pairs), max(pairs)
    if s1 == s0:
        return None
    return math.log(v1 / v0) / math.log(s1 / s0)


# ------------------------------------------------------------------------------------ processes

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads) from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return cpu_seconds_from_stat(text)


def cpu_seconds_from_stat(text: str) -> float:
    # the command name (field 2) is in parentheses and may itself hold spaces and parentheses:
    # the fields that follow start after the last ')'
    after_name = text[text.rindex(")") + 2:].split()
    utime, stime = int(after_name[11]), int(after_name[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the peak resident) of `pid`, in KiB, from /proc/<pid>/status."""
    return memory_kib_from_status(Path(f"/proc/{pid}/status").read_text())


def memory_kib_from_status(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(rest.split()[0])  # "123456 kB"
    if "VmRSS" not in found:
        raise ValueError("no VmRSS in the status text (a kernel thread or a zombie?)")
    return found


class CpuWindow:
    """The CPU share of some processes over a stretch of wall-clock time: 1.0 is one core busy."""

    def __init__(self, pids: Mapping[str, int], clock: Callable[[], float] = time.monotonic,
                 read_cpu: Callable[[int], float] = cpu_seconds) -> None:
        self.pids = dict(pids)
        self._clock = clock
        self._read_cpu = read_cpu
        self._start_wall = clock()
        self._start_cpu = {name: read_cpu(pid) for name, pid in self.pids.items()}

    def shares(self) -> dict[str, float]:
        wall = self._clock() - self._start_wall
        if wall <= 0:
            raise ValueError("no time has passed")
        return {name: (self._read_cpu(pid) - self._start_cpu[name]) / wall for name, pid in self.pids.items()}


# ------------------------------------------------------------------------------------ the event store


@dataclass(frozen=True)
class StoreState:
    """Where a SQLite event store stands: its last position and the bytes its pages hold."""

    position: int
    used_bytes: int


def sqlite_store_state(path: str | Path, table: str = "stored_events") -> StoreState:
    """Read through a read-only connection (WAL mode: it sees every committed transaction and blocks
    no writer). `used_bytes` counts the database's pages in use, index pages included, whether they
    are still in the WAL file or already checkpointed: the store's real size, not the file sizes."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=30) as connection:
        position = connection.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()[0]
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        page_count = connection.execute("PRAGMA page_count").fetchone()[0]
        free_pages = connection.execute("PRAGMA freelist_count").fetchone()[0]
    connection.close()
    return StoreState(int(position), int((page_count - free_pages) * page_size))


def sqlite_topics_between(path: str | Path, after: int, upto: int,
                          table: str = "stored_events") -> list[tuple[str, int]]:
    """The event types (the library's topics) stored at positions after..upto, most frequent first."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=30) as connection:
        rows = connection.execute(f"SELECT topic, COUNT(*) FROM {table} WHERE rowid > ? AND "
                                  "rowid <= ? GROUP BY topic ORDER BY COUNT(*) DESC, topic",
                                  (after, upto)).fetchall()
    connection.close()
    return [(str(topic), int(count)) for topic, count in rows]


def sqlite_row_bytes_between(path: str | Path, after: int, upto: int, table: str = "stored_events") -> int:
    """The bytes of the rows stored at positions after..upto: their columns' lengths, without SQLite's
    page and index overhead (smooth where the page count moves in steps)."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=30) as connection:
        total = connection.execute(
            f"SELECT COALESCE(SUM(LENGTH(originator_id) + 8 + LENGTH(topic) + LENGTH(state)), 0) FROM {table} "
            "WHERE rowid > ? AND rowid <= ?", (after, upto)).fetchone()[0]
    connection.close()
    return int(total)


def per_day(before: float, after: float, seconds: float) -> float:
    """A rate measured over `seconds`, extrapolated to a day."""
    if seconds <= 0:
        raise ValueError("the window must be longer than zero")
    return (after - before) / seconds * 86_400


def directory_bytes(path: str | Path) -> int:
    """Bytes allocated on disk under `path` (sparse files count what they use, not their length)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:  # removed meanwhile (a temp file renamed into place)
                pass
    return total


# ------------------------------------------------------------------------------------ printing


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Plain text columns: the first left-aligned, the others right-aligned."""
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def human_bytes(count: float | None) -> str:
    if count is None:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"
