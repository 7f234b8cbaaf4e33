"""Keeping the collector's steady reads of a cluster within a share of one CPU core.

A version check that costs 0.3 ms (librados) can run every 50 ms for 0.6 % of a core; the same
check through one `ceph` process costs a quarter of a second and would need the whole core. A
pacer measures what each run of a periodic read cost and spaces the runs by it, so that the
configured share holds whatever the backend and the machine. Pure: times come in as arguments.
"""

from __future__ import annotations

# A single unusually expensive run (a page fault storm, a GC pass) should not push the next one
# far out: costs are smoothed, a new one weighing this much.
COST_WEIGHT = 0.25


class CpuPacer:
    """Spaces the runs of one periodic activity: after a run that cost `c` CPU seconds (smoothed)
    the next may start no sooner than `c / share` seconds after that run started, and never
    sooner than `min_interval`, nor later than `max_interval` (a read that costs too much for the
    share still happens now and then, so the data is never frozen)."""

    def __init__(self, share: float, min_interval: float = 0.0, max_interval: float = 60.0) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"a CPU share is in (0, 1], not {share}")
        if min_interval < 0 or max_interval < min_interval:
            raise ValueError("intervals must satisfy 0 <= min_interval <= max_interval")
        self.share = share
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.cost: float | None = None  # smoothed CPU seconds of one run; None before the first
        self._next: float | None = None  # monotonic time the next run may start; None: now

    def due(self, now: float) -> bool:
        """May a run start at `now`?"""
        return self._next is None or now >= self._next

    def ran(self, started: float, cpu_seconds: float) -> None:
        """A run started at `started` (monotonic) and used `cpu_seconds` of CPU."""
        cpu_seconds = max(0.0, cpu_seconds)
        self.cost = cpu_seconds if self.cost is None else self.cost + COST_WEIGHT * (cpu_seconds - self.cost)
        self._next = started + self.interval

    @property
    def interval(self) -> float:
        """The spacing between runs at the current cost."""
        wanted = (self.cost or 0.0) / self.share
        return min(self.max_interval, max(self.min_interval, wanted))

    def release(self) -> None:
        """Let the next run start at once (after a user's command: its result must show soon)."""
        self._next = None
