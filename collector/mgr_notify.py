"""The collector's end of the calamari_notify channel (docs/mgr-module.md): a thread that keeps a
connection to the mgr module, reads its lines and, for each new map it announces, records the kind
and wakes the agent's loop through a pipe (`fileno()`), so that the map is fetched at once.

The channel only ever makes the collector read sooner: everything it says is checked against
Ceph itself, a malformed line is logged (at most once a minute, with a count) and dropped, and a
channel that is down, silent for `SILENCE_S` or speaking for another cluster is dropped and tried
again with back-off, while the agent's version check takes over (`live()` says which)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from collector.ceph_mgr.calamari_notify import wire

log = logging.getLogger("calamari.collector.mgr_notify")

RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 5.0
CONNECT_TIMEOUT_S = 1.0
MALFORMED_LOG_EVERY_S = 60.0


class MalformedLine(ValueError):
    """A line that is not what the channel carries."""


@dataclass(frozen=True)
class Greeting:
    fsid: str
    mgr_name: str


@dataclass(frozen=True)
class MapChanged:
    kind: str


@dataclass(frozen=True)
class MapData:
    """A new map sent with its announcement: its JSON and the module's signature of it, both
    unchecked (the source checks them: CephSource._pushed_map)."""
    kind: str
    mac: str
    payload: bytes


@dataclass(frozen=True)
class MapComing:
    """A map of `kind` is about to be sent (its `data` line follows)."""
    kind: str


@dataclass(frozen=True)
class Tick:
    pass


Line = Greeting | MapChanged | MapData | MapComing | Tick
_HEX = frozenset("0123456789abcdef")


def parse_endpoint(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[V6ADDR]:PORT` or `HOST` (the default port) -> (host, port); ValueError."""
    text = text.strip()
    host, port = text, str(wire.DEFAULT_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"not HOST:PORT: {text!r}")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host:
        raise ValueError(f"no host in {text!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a TCP port: {port!r} in {text!r}")
    return host, int(port)


def mgr_notify_endpoints(text: str) -> list[str]:
    """--mgr-notify (the collector's and the server's) as a list of endpoints ([] for 'none');
    ValueError for a malformed one."""
    if text.strip().lower() in ("none", "off", ""):
        return []
    endpoints = [part.strip() for part in text.split(",")]
    for endpoint in endpoints:
        parse_endpoint(endpoint)
    return endpoints


def mgr_map_problem(document: Any, kind: str, fsid: str | None) -> str | None:
    """What is wrong with `document` as the mgr's dump of the map `kind` of cluster `fsid`; None
    when nothing is. The mgr is Ceph, reached through cephx, but an answer is checked like any
    input before it becomes the cluster's map of record."""
    if not isinstance(document, dict):
        return f"not a JSON object but {type(document).__name__}"
    epoch = document.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        return f"no epoch (found {str(epoch)[:40]!r})"
    found = document.get("fsid")
    if kind != "fs_map" and found != fsid:  # the file system map's dump does not name the cluster
        return f"the {kind} of cluster {str(found)[:40]!r}, not {fsid!r}"
    return None


def parse_line(line: bytes, *, first: bool) -> Line:
    """One line without its newline. The first of a connection must be the greeting."""
    if line.startswith(b"data ") and not first:
        return _parse_data(line)
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedLine("not ASCII") from None
    words = text.split(" ")
    if first:
        if len(words) != 4 or words[0] != wire.GREETING:
            raise MalformedLine(f"not a {wire.GREETING} greeting: {text[:80]!r}")
        if words[1] != str(wire.VERSION):
            raise MalformedLine(f"{wire.GREETING} version {words[1][:20]!r}, not {wire.VERSION}")
        return Greeting(words[2], words[3])
    if words == ["tick"]:
        return Tick()
    if len(words) == 2 and words[0] == "map":
        if words[1] not in wire.MAP_TYPES:
            raise MalformedLine(f"unknown map kind {words[1][:40]!r}")
        return MapChanged(words[1])
    if len(words) == 2 and words[0] == "coming":
        if words[1] not in wire.MAP_DUMPS:
            raise MalformedLine(f"coming: not a map the module sends {words[1][:40]!r}")
        return MapComing(words[1])
    raise MalformedLine(f"unknown line {text[:80]!r}")


def _parse_data(line: bytes) -> MapData:
    parts = line.split(b" ", 3)
    if len(parts) != 4:
        raise MalformedLine("a data line without its map")
    kind, mac = parts[1].decode("ascii", "replace"), parts[2].decode("ascii", "replace")
    if kind not in wire.MAP_DUMPS:
        raise MalformedLine(f"data of an unknown map kind {kind[:40]!r}")
    if len(mac) != 64 or not set(mac) <= _HEX:
        raise MalformedLine(f"data with a malformed signature {mac[:70]!r}")
    return MapData(kind, mac, parts[3])


def _longest(line: bytes | bytearray) -> int:
    """How long a line may be: a map sent with its announcement, or anything else."""
    return wire.MAX_DATA_LINE if line[:5] == b"data " else wire.MAX_LINE


class LineSplitter:
    """Bytes as they arrive -> complete lines; a line longer than `wire.MAX_LINE` is skipped up to
    its end and reported as malformed instead of growing the buffer."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._searched = 0  # the buffer holds no newline before this
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes | MalformedLine]:
        self._buffer += data
        lines: list[bytes | MalformedLine] = []
        while True:
            end = self._buffer.find(b"\n", self._searched)
            if end < 0:
                self._searched = len(self._buffer)  # a long line is searched once, not per read
                longest = _longest(self._buffer)
                if len(self._buffer) > longest:
                    if not self._skipping:
                        lines.append(MalformedLine(f"a line longer than {longest} bytes"))
                    self._skipping = True
                    self._buffer.clear()
                    self._searched = 0
                return lines
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._searched = 0
            if self._skipping:
                self._skipping = False  # the rest of the overlong line
            elif len(line) > _longest(line):
                lines.append(MalformedLine(f"a line longer than {_longest(line)} bytes"))
            else:
                lines.append(line)


class MgrNotifyListener:
    """Keeps a connection to the first of `endpoints` whose module answers for cluster `fsid`."""

    def __init__(self, endpoints: Sequence[tuple[str, int]], fsid: str | None, *,
                 silence_s: float = wire.SILENCE_S, clock: Callable[[], float] = time.monotonic,
                 on_announce: Callable[[], None] | None = None,
                 on_coming: Callable[[str], None] | None = None) -> None:
        """`on_announce`, if given, is called on the listener's thread after each announcement
        (instead of a reader waiting on `fileno()`: one hand-over fewer); `on_coming(kind)` when
        the module says a map of `kind` is about to be sent (else such lines are only heard)."""
        if not endpoints:
            raise ValueError("no calamari_notify endpoint")
        self.endpoints = list(endpoints)
        self.fsid = fsid
        self.silence_s = silence_s
        self._clock = clock
        self._on_announce = on_announce
        self._on_coming = on_coming
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._lock = threading.Lock()
        self._closed = False
        self._pending: set[str] = set()
        self._data: dict[str, MapData] = {}  # per kind, the map sent with its last announcement
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected: Greeting | None = None
        self._last_heard = -float("inf")
        self._malformed_logged_at = -float("inf")
        self._malformed_unlogged = 0
        self.counters = {"connections": 0, "notifications": 0, "malformed": 0, "disconnects": 0}

    # -- the agent's side ------------------------------------------------------------------------
    def fileno(self) -> int:
        """Readable when a notification arrived (see take())."""
        return self._wake_r

    def live(self) -> bool:
        """Connected to a module of our cluster that spoke within `silence_s`."""
        return self._connected is not None and self._clock() - self._last_heard < self.silence_s

    @property
    def mgr_name(self) -> str | None:
        connected = self._connected
        return connected.mgr_name if connected is not None else None

    @property
    def cluster(self) -> str | None:
        """The fsid the connected module greeted with (the `fsid` asked for, or any if None)."""
        connected = self._connected
        return connected.fsid if connected is not None else None

    def take(self) -> set[str]:
        """The kinds of map announced since the last call (and clears the wake-up)."""
        with self._lock:
            if self._closed:
                return set()
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            kinds, self._pending = self._pending, set()
        return kinds

    def announced_all_sent(self) -> bool:
        """Whether something was announced since the last take() and every kind of it came with its map."""
        with self._lock:
            return bool(self._pending) and all(kind in self._data for kind in self._pending)

    def take_data(self, kind: str) -> MapData | None:
        """The map of `kind` sent with its last announcement (once), if that one carried it."""
        with self._lock:
            return self._data.pop(kind, None)

    @property
    def connection(self) -> int:
        """Which connection this is (counts greetings): a new one may be another mgr, module or key."""
        return self.counters["connections"]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="calamari-mgr-notify", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._wake_r)
                os.close(self._wake_w)

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        delay = RECONNECT_MIN_S
        index = 0
        while not self._stopping.is_set():
            host, port = self.endpoints[index % len(self.endpoints)]
            index += 1
            try:
                sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
            except OSError as exc:
                log.debug("calamari_notify at %s:%s: %s", host, port, exc)
            else:
                with sock:
                    if self._listen(sock, f"{host}:{port}"):
                        delay = RECONNECT_MIN_S  # it worked for a while: try again soon
            self._stopping.wait(delay)
            delay = min(RECONNECT_MAX_S, delay * 2)

    def _listen(self, sock: socket.socket, where: str) -> bool:
        """Read the connection until it ends, falls silent or speaks wrongly; True if it greeted."""
        sock.settimeout(min(0.5, self.silence_s / 4))
        splitter = LineSplitter()
        greeted = False
        self._last_heard = self._clock()
        try:
            while not self._stopping.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    if self._clock() - self._last_heard >= self.silence_s:
                        log.warning("calamari_notify at %s silent for %.0f s; polling until it is back",
                                    where, self.silence_s)
                        return greeted
                    continue
                except OSError as exc:
                    log.info("calamari_notify at %s: %s; polling until it is back", where, exc)
                    return greeted
                if not data:
                    if greeted:
                        log.info("calamari_notify at %s closed the channel; polling until it is back", where)
                    return greeted
                for item in splitter.feed(data):
                    try:
                        if isinstance(item, MalformedLine):
                            raise item
                        line = parse_line(item, first=not greeted)
                    except MalformedLine as exc:
                        if not greeted:
                            log.warning("%s is not a calamari_notify module (%s); trying again later", where, exc)
                            self.counters["malformed"] += 1
                            return False
                        self._malformed(where, exc)
                        continue
                    self._last_heard = self._clock()
                    if isinstance(line, Greeting):
                        if self.fsid is not None and line.fsid != self.fsid:
                            log.warning("calamari_notify at %s speaks for cluster %s, not %s; not used",
                                        where, line.fsid, self.fsid)
                            return False
                        greeted = True
                        self._connected = line
                        self.counters["connections"] += 1
                        log.info("calamari_notify of mgr %s at %s: maps are pushed now", line.mgr_name, where)
                    elif isinstance(line, MapComing):
                        if self._on_coming is not None:
                            self._on_coming(line.kind)
                    elif isinstance(line, MapChanged | MapData):
                        self.counters["notifications"] += 1
                        self._announce(line.kind, line if isinstance(line, MapData) else None)
                        if self._on_announce is not None:
                            self._on_announce()
            return greeted
        finally:
            if self._connected is not None:
                self.counters["disconnects"] += 1
            self._connected = None

    def _announce(self, kind: str, data: MapData | None = None) -> None:
        with self._lock:
            if self._closed:  # the pipe's numbers may be another file's now
                return
            self._pending.add(kind)
            if data is not None:
                self._data[kind] = data  # one per kind: the latest replaces one not yet taken
            else:
                self._data.pop(kind, None)  # announced without it: an older one must not stand in
            try:
                os.write(self._wake_w, b"!")
            except BlockingIOError:  # the agent has a wake-up waiting already
                pass

    def _malformed(self, where: str, exc: MalformedLine) -> None:
        self.counters["malformed"] += 1
        self._malformed_unlogged += 1
        now = self._clock()
        if now - self._malformed_logged_at >= MALFORMED_LOG_EVERY_S:
            log.warning("calamari_notify at %s: dropped a malformed line (%s); %d since the last such message",
                        where, exc, self._malformed_unlogged)
            self._malformed_logged_at = now
            self._malformed_unlogged = 0
