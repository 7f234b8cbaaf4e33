"""Which server the collector talks to, and the stats it has not yet seen arrive: the pure parts of
failing over between several `calamari-server`s (docs/collector-failover.md).

Only the active server listens on the bus, so for the collector a failover is the server it talks
to falling silent and another one answering. It talks to one server at a time; when none of its
messages has been answered (an ack, a resync, a command...) for `failover_after` seconds it moves
to the next one, round-robin. A server that has not answered at all since the collector moved to
it (a standby does not listen on the bus; its hello goes unanswered) is left sooner, after
`first_answer_after` seconds, so that a round through dead servers is quick. While the server is
quiet it is probed (a heartbeat, which the server acknowledges) every `probe_after` seconds, so
that an idle cluster is not taken for a dead server.

A server answers a connection's messages in order, so it cannot answer anything sent after a
large map before it has received, decoded and ingested that map: the bytes sent to it are counted
as time it may need (at `read_bytes_per_s`), and its silence counts only from when it could have
read the first message sent since its last answer (it answers every sync object and heartbeat),
once it has answered on that connection (a standby never does, so a round through standbys stays
quick).

Stats are not acknowledged one by one: a batch counts as delivered once the server acknowledges a
heartbeat sent after it on the same connection (ZeroMQ keeps one connection's messages in order).
Batches not yet delivered are kept, up to a bound of points, and sent again to the next server.

No sockets and no clock here: times come in as arguments (seconds of a monotonic clock).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

DEFAULT_FAILOVER_AFTER_S = 3.0
# How fast a server is assumed to read what it was sent (receive, decode, ingest) on a loaded
# machine: the server's bus decodes and ingests an OSD map at about 25 MB/s of CPU (10,000 OSDs,
# 10.5 MB on the wire), so this is a twelfth of a core. A 30,000-OSD map (~32 MB) gives 16 s.
SERVER_READ_BYTES_PER_S = 2_000_000
# Stats points kept for delivery after a failover, all hosts together: at the simulator's largest
# clusters about a minute of points, a few MiB of memory.
MAX_BACKLOG_POINTS = 200_000

Server = TypeVar("Server")


@dataclass(frozen=True)
class SwitchDecision:
    """What the rotation says to do now."""

    switch: bool  # move to the next server
    probe: bool  # send a heartbeat to see whether the server still answers


class ServerRotation(Generic[Server]):
    """The servers in the order given, the one talked to, and when it last answered."""

    def __init__(self, servers: Sequence[Server], now: float, *, failover_after: float = DEFAULT_FAILOVER_AFTER_S,
                 probe_after: float | None = None, first_answer_after: float | None = None,
                 read_bytes_per_s: float = SERVER_READ_BYTES_PER_S) -> None:
        """`probe_after`: seconds of silence before a probe (default a third of `failover_after`,
        so that two probes go unanswered before the server is left). `first_answer_after`: how
        long a server may take to answer for the first time (default a third of
        `failover_after`; a live server answers a hello in milliseconds). `read_bytes_per_s`: see
        SERVER_READ_BYTES_PER_S."""
        if not servers:
            raise ValueError("at least one server is needed")
        if not failover_after > 0:
            raise ValueError("failover_after must be above 0 seconds")
        if not read_bytes_per_s > 0:
            raise ValueError("read_bytes_per_s must be above 0")
        self.read_bytes_per_s = read_bytes_per_s
        self.servers = list(servers)
        self.failover_after = failover_after
        self.probe_after = probe_after if probe_after is not None else failover_after / 3
        self.first_answer_after = first_answer_after if first_answer_after is not None else failover_after / 3
        self.index = 0
        self.switches = 0
        self.has_answered = False  # the current server answered since the collector moved to it
        self._last_answer = now  # silence counts from the connection's start
        self._last_probe = now
        self._reading_until = now  # when the server could have read everything sent to it
        # when the server could have read the first message it has not answered past (None: none)
        self._owed_from: float | None = None

    @property
    def current(self) -> Server:
        return self.servers[self.index]

    def answered(self, now: float) -> None:
        """The current server sent something: it is alive."""
        self.has_answered = True
        self._last_answer = max(self._last_answer, now)
        # (it may answer a message sent before a large one it is still reading)
        self._owed_from = self._reading_until if self._reading_until > now else None

    def sent(self, nbytes: int, now: float) -> None:
        """`nbytes` went to the current server, which answers nothing sent later before it has
        read them."""
        self._reading_until = max(self._reading_until, now) + nbytes / self.read_bytes_per_s
        if self._owed_from is None:
            self._owed_from = self._reading_until

    def silent_for(self, now: float) -> float:
        """Seconds the current server has not answered, counted (once it has answered on this
        connection) from when it could have read the first message sent since its last answer:
        the messages sent after that one do not put its deadline off."""
        since = self._last_answer
        if self.has_answered and self._owed_from is not None:
            since = max(since, min(self._owed_from, now))
        return now - since

    def decide(self, now: float) -> SwitchDecision:
        """Whether to move to the next server (never with only one: ZeroMQ reconnects to it by
        itself) or to probe the current one."""
        if len(self.servers) == 1:
            return SwitchDecision(switch=False, probe=False)
        silent = self.silent_for(now)
        switch = silent >= (self.failover_after if self.has_answered else self.first_answer_after)
        probe = not switch and silent >= self.probe_after and now - self._last_probe >= self.probe_after
        return SwitchDecision(switch=switch, probe=probe)

    def probed(self, now: float) -> None:
        self._last_probe = now

    def advance(self, now: float) -> Server:
        """Move to the next server; its silence counts from now."""
        self.index = (self.index + 1) % len(self.servers)
        self.switches += 1
        self.reconnected(now)
        return self.current

    def reconnected(self, now: float) -> None:
        """A new connection to the current server (also after a move): it has not answered on it
        yet, and its silence counts from now."""
        self.has_answered = False
        self._last_answer = now
        self._last_probe = now
        self._reading_until = now
        self._owed_from = None


@dataclass
class _Batch:
    seq: int  # the sequence number of the message that carried it
    host: str
    points: list[list[Any]]


class StatsBacklog:
    """Stats batches sent but not yet known to have arrived, oldest first, bounded in points: when
    full, the oldest are dropped (and counted) first, since the newest matter most to a console."""

    def __init__(self, max_points: int = MAX_BACKLOG_POINTS) -> None:
        if max_points < 1:
            raise ValueError("max_points must be at least 1")
        self.max_points = max_points
        self.points = 0
        self.dropped_points = 0
        self._batches: deque[_Batch] = deque()

    def __len__(self) -> int:
        return len(self._batches)

    def sent(self, seq: int, host: str, points: list[list[Any]]) -> None:
        """A batch went out as message `seq`."""
        if len(points) > self.max_points:  # only the newest part of a batch beyond the bound fits
            self.dropped_points += len(points) - self.max_points
            points = points[-self.max_points:]
        self._batches.append(_Batch(seq, host, points))
        self.points += len(points)
        while self.points > self.max_points:
            oldest = self._batches.popleft()
            self.points -= len(oldest.points)
            self.dropped_points += len(oldest.points)

    def delivered_up_to(self, seq: int) -> None:
        """The server answered message `seq`: every batch sent before it on this connection
        arrived."""
        while self._batches and self._batches[0].seq <= seq:
            self.points -= len(self._batches.popleft().points)

    def take(self) -> list[tuple[str, list[list[Any]]]]:
        """Every undelivered batch, oldest first, to send again (the caller sends them and records
        them with `sent` under their new sequence numbers)."""
        batches = [(batch.host, batch.points) for batch in self._batches]
        self._batches.clear()
        self.points = 0
        return batches
