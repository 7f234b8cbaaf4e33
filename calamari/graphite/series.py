"""Series of values at a fixed step, and how Graphite shrinks them (consolidation) and lines them up
for point-wise combination (alignment)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Series:
    """Values at start, start+step, ...; None where nothing was recorded."""

    name: str
    start: int
    step: int
    values: list[float | None]
    path_expression: str = ""

    @property
    def end(self) -> int:
        return self.start + self.step * len(self.values)

    def timestamps(self) -> range:
        return range(self.start, self.end, self.step)

    def datapoints(self) -> list[tuple[float | None, int]]:
        """Graphite's JSON order: (value, timestamp); tuples serialise as JSON arrays."""
        return list(zip(self.values, self.timestamps(), strict=True))

    def renamed(self, name: str, values: list[float | None] | None = None) -> Series:
        return Series(name, self.start, self.step, self.values if values is None else values, self.path_expression)


def last_value(series: Series) -> float | None:
    for value in reversed(series.values):
        if value is not None:
            return value
    return None


def consolidate(series: Series, points_per_bucket: int) -> Series:
    """Average `points_per_bucket` neighbours into one point (how Graphite shrinks series)."""
    if points_per_bucket <= 1:
        return series
    values: list[float | None] = []
    for i in range(0, len(series.values), points_per_bucket):
        known = [v for v in series.values[i:i + points_per_bucket] if v is not None]
        values.append(sum(known) / len(known) if known else None)
    return Series(series.name, series.start, series.step * points_per_bucket, values, series.path_expression)


def limit_points(series: Series, max_points: int) -> Series:
    """Consolidate so that at most `max_points` points remain (Graphite's maxDataPoints)."""
    if max_points <= 0 or len(series.values) <= max_points:
        return series
    return consolidate(series, math.ceil(len(series.values) / max_points))


def align(series_list: list[Series]) -> tuple[int, int, list[list[float | None]]]:
    """Bring series onto one grid (the coarsest common step) for point-wise combination;
    returns (start, step, value rows)."""
    step = 1
    for s in series_list:
        step = math.lcm(step, s.step)
    rows = [consolidate(s, step // s.step) for s in series_list]
    start = min(s.start for s in rows)
    end = max(s.end for s in rows)
    length = max(0, -(-(end - start) // step))
    grids: list[list[float | None]] = []
    for s in rows:
        grid: list[float | None] = [None] * length
        offset = (s.start - start) // step
        for i, v in enumerate(s.values):
            if 0 <= offset + i < length:
                grid[offset + i] = v
        grids.append(grid)
    return start, step, grids
