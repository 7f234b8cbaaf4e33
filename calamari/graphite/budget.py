"""The work one request has done so far (names looked at, matcher steps, series, points), charged
as it goes against its QueryLimits."""

from __future__ import annotations

from calamari.graphite.glob import PathGlob, compile_path
from calamari.graphite.limits import DEFAULT_LIMITS, QueryLimits, QueryTooLarge


class QueryBudget:
    """The work one request has done so far, charged as it goes: QueryTooLarge as soon as a limit
    is passed, so an expensive query stops early instead of running on."""

    def __init__(self, limits: QueryLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.candidates = 0
        self.match_steps = 0
        self.series = 0
        self.points = 0
        self._globs: dict[str, PathGlob] = {}

    def path_glob(self, pattern: str) -> PathGlob:
        """The compiled pattern, compiled once per request however often the targets repeat it."""
        glob = self._globs.get(pattern)
        if glob is None:
            glob = self._globs[pattern] = compile_path(pattern, self.limits)
        return glob

    def examine(self, count: int) -> None:
        """Charge `count` names looked at (directory entries or file lookups)."""
        self.candidates += count
        if self.candidates > self.limits.max_candidates:
            raise QueryTooLarge(f"the query looks at more than {self.limits.max_candidates} metric names; "
                                "narrow the pattern")

    def step(self, count: int) -> None:
        """Charge `count` glob matcher steps."""
        self.match_steps += count
        if self.match_steps > self.limits.max_match_steps:
            raise QueryTooLarge(f"matching the patterns takes more than {self.limits.max_match_steps} steps; "
                                "use fewer or simpler globs")

    def ensure_room(self, series: int = 0, points: int = 0) -> None:
        """QueryTooLarge when `series` more series or `points` more points would pass a limit.
        Charges nothing: a reader calls it before reading, `add` charges what was read."""
        if self.series + series > self.limits.max_series:
            raise QueryTooLarge(f"the targets match more than {self.limits.max_series} series; narrow the pattern")
        if self.points + points > self.limits.max_points:
            raise QueryTooLarge(f"the query needs more than {self.limits.max_points} points; "
                                "narrow the pattern or the time range")

    def add(self, series: int, points: int) -> None:
        """Charge series read and points read or computed."""
        self.ensure_room(series, points)
        self.series += series
        self.points += points
