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
                 probe_after: float | None = None, first_answer_after: float | None = None) -> None:
        """`probe_after`: seconds of silence before a probe (default a third of `failover_after`,
        so that two probes go unanswered before the server is left). `first_answer_after`: how
        long a server may take to answer for the first time (default a third of
        `failover_after`; a live server answers a hello in milliseconds)."""
        if not servers:
            raise ValueError("at least one server is needed")
        if not failover_after > 0:
            raise ValueError("failover_after must be above 0 seconds")
        self.servers = list(servers)
        self.failover_after = failover_after
        self.probe_after = probe_after if probe_after is not None else failover_after / 3
        self.first_answer_after = first_answer_after if first_answer_after is not None else failover_after / 3
        self.index = 0
        self.switches = 0
        self.has_answered = False  # the current server answered since the collector moved to it
        self._last_answer = now  # silence counts from the connection's start
        self._last_probe = now

    @property
    def current(self) -> Server:
        return self.servers[self.index]

    def answered(self, now: float) -> None:
        """The current server sent something: it is alive."""
        self.has_answered = True
        self._last_answer = max(self._last_answer, now)

    def silent_for(self, now: float) -> float:
        return now - self._last_answer

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
