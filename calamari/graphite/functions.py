"""The functions a target may call: their registry (name, group, parameters with Graphite's type
names), their implementations over already evaluated series, and the catalog /graphite/functions
answers. Arguments are bound and converted by evaluate.py before a function runs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from calamari.graphite.errors import ExpressionError
from calamari.graphite.series import Series, align

# The module name the catalog has always given for every function; Grafana shows it, so it stays
# as it was when the functions lived elsewhere.
CATALOG_MODULE = "calamari.domain.series"

@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # Graphite's type names: seriesList, seriesLists, float, integer, node, string, boolean
    required: bool = True
    default: Any = None
    multiple: bool = False


@dataclass(frozen=True)
class Function:
    name: str
    group: str
    description: str
    params: tuple[Param, ...]
    run: Callable[..., list[Series]]


FUNCTIONS: dict[str, Function] = {}


def _function(name: str, group: str, params: Iterable[Param], aliases: Iterable[str] = ()) -> Callable[..., Any]:
    def register(run: Callable[..., list[Series]]) -> Callable[..., list[Series]]:
        fn = Function(name, group, (run.__doc__ or "").strip(), tuple(params), run)
        for key in (name, *aliases):
            FUNCTIONS[key] = fn
        return run
    return register

def _flatten(series_lists: list[list[Series]]) -> list[Series]:
    return [s for lst in series_lists for s in lst]


def _combined_name(function: str, series: list[Series]) -> str:
    expressions = sorted({s.path_expression or s.name for s in series})
    return f"{function}({','.join(expressions)})"


def _combine(function: str, series_lists: list[list[Series]],
             point: Callable[[tuple[float | None, ...]], float | None]) -> list[Series]:
    """The series aligned, and each timestamp's column of their values made one point by `point`."""
    series = _flatten(series_lists)
    if not series:
        return []
    start, step, rows = align(series)
    values = [point(column) for column in zip(*rows, strict=True)]
    name = _combined_name(function, series)
    return [Series(name, start, step, values, name)]


def _of_known(reduce: Callable[[list[float]], float]) -> Callable[[tuple[float | None, ...]], float | None]:
    """A column's point: `reduce` of its known values; None where none is known."""

    def point(column: tuple[float | None, ...]) -> float | None:
        known = [v for v in column if v is not None]
        return reduce(known) if known else None

    return point


def _first_minus_rest(column: tuple[float | None, ...]) -> float | None:
    first, rest = column[0], [v for v in column[1:] if v is not None]
    return None if first is None and not rest else (first or 0.0) - sum(rest)


_SERIES_LISTS = Param("seriesLists", "seriesLists", multiple=True)
_SERIES = Param("seriesList", "seriesList")


@_function("sumSeries", "Combine", [_SERIES_LISTS], aliases=["sum"])
def sum_series(series_lists: list[list[Series]]) -> list[Series]:
    """Point-wise sum of all the series (missing points are left out)."""
    return _combine("sumSeries", series_lists, _of_known(sum))


@_function("averageSeries", "Combine", [_SERIES_LISTS], aliases=["avg"])
def average_series(series_lists: list[list[Series]]) -> list[Series]:
    """Point-wise average of the series that have a value."""
    return _combine("averageSeries", series_lists, _of_known(lambda known: sum(known) / len(known)))


@_function("maxSeries", "Combine", [_SERIES_LISTS])
def max_series(series_lists: list[list[Series]]) -> list[Series]:
    """Point-wise maximum."""
    return _combine("maxSeries", series_lists, _of_known(max))


@_function("minSeries", "Combine", [_SERIES_LISTS])
def min_series(series_lists: list[list[Series]]) -> list[Series]:
    """Point-wise minimum."""
    return _combine("minSeries", series_lists, _of_known(min))


@_function("diffSeries", "Combine", [_SERIES_LISTS])
def diff_series(series_lists: list[list[Series]]) -> list[Series]:
    """The first series minus all the others."""
    return _combine("diffSeries", series_lists, _first_minus_rest)


@_function("divideSeries", "Combine", [Param("dividendSeriesList", "seriesList"), Param("divisorSeries", "seriesList")])
def divide_series(dividends: list[Series], divisors: list[Series]) -> list[Series]:
    """Each dividend divided point-wise by the one divisor series (None where it is 0 or missing)."""
    if len(divisors) != 1:
        raise ExpressionError(f"divideSeries: the divisor must be exactly one series, got {len(divisors)}")
    out = []
    for dividend in dividends:
        start, step, (top, bottom) = align([dividend, divisors[0]])
        values = [None if a is None or not b else a / b for a, b in zip(top, bottom, strict=True)]
        out.append(Series(f"divideSeries({dividend.name},{divisors[0].name})", start, step, values,
                          dividend.path_expression))
    return out


@_function("group", "Combine", [_SERIES_LISTS])
def group(series_lists: list[list[Series]]) -> list[Series]:
    """All the series as one list."""
    return _flatten(series_lists)


def _map(series: list[Series], name: Callable[[Series], str],
         value: Callable[[float], float]) -> list[Series]:
    return [s.renamed(name(s), [None if v is None else value(v) for v in s.values]) for s in series]


@_function("scale", "Transform", [_SERIES, Param("factor", "float")])
def scale(series: list[Series], factor: float) -> list[Series]:
    """Multiply every value by a constant."""
    return _map(series, lambda s: f"scale({s.name},{factor:g})", lambda v: v * factor)


@_function("offset", "Transform", [_SERIES, Param("factor", "float")])
def offset(series: list[Series], amount: float) -> list[Series]:
    """Add a constant to every value."""
    return _map(series, lambda s: f"offset({s.name},{amount:g})", lambda v: v + amount)


@_function("absolute", "Transform", [_SERIES])
def absolute(series: list[Series]) -> list[Series]:
    """The absolute value of every point."""
    return _map(series, lambda s: f"absolute({s.name})", abs)


@_function("derivative", "Transform", [_SERIES])
def derivative(series: list[Series]) -> list[Series]:
    """The change from each point to the next (None next to a gap)."""
    out = []
    for s in series:
        values: list[float | None] = []
        previous = None
        for v in s.values:
            values.append(None if v is None or previous is None else v - previous)
            previous = v
        out.append(s.renamed(f"derivative({s.name})", values))
    return out


def _non_negative_deltas(values: list[float | None], max_value: float | None) -> list[float | None]:
    """Counter increases; a decrease is a wrap past max_value when one is given, else a reset."""
    out: list[float | None] = []
    previous = None
    for v in values:
        if v is None or (max_value is not None and v > max_value):
            out.append(None)
            previous = None
            continue
        if previous is None:
            out.append(None)
        elif v >= previous:
            out.append(v - previous)
        elif max_value is not None:
            out.append(max_value + 1 + v - previous)
        else:
            out.append(None)  # the counter was reset: the true increase is unknown
        previous = v
    return out


@_function("nonNegativeDerivative", "Transform", [_SERIES, Param("maxValue", "float", required=False)])
def non_negative_derivative(series: list[Series], max_value: float | None) -> list[Series]:
    """Like derivative, for counters: a drop means a reset or wrap, never a negative rate."""
    return [s.renamed(f"nonNegativeDerivative({s.name})", _non_negative_deltas(s.values, max_value)) for s in series]


@_function("perSecond", "Transform", [_SERIES, Param("maxValue", "float", required=False)])
def per_second(series: list[Series], max_value: float | None) -> list[Series]:
    """nonNegativeDerivative divided by the step: a counter as a rate per second."""
    return [s.renamed(f"perSecond({s.name})",
                      [None if d is None else d / s.step for d in _non_negative_deltas(s.values, max_value)])
            for s in series]


@_function("keepLastValue", "Transform", [_SERIES, Param("limit", "integer", required=False)])
def keep_last_value(series: list[Series], limit: int | None) -> list[Series]:
    """Fill gaps of at most `limit` points (any length when omitted) with the value before them."""
    out = []
    for s in series:
        values = list(s.values)
        last, gap_start = None, None
        for i, v in enumerate(values + [0.0]):  # the sentinel closes a trailing gap
            if v is None:
                gap_start = i if gap_start is None else gap_start
                continue
            if gap_start is not None and last is not None and i < len(values) \
                    and (limit is None or i - gap_start <= limit):
                values[gap_start:i] = [last] * (i - gap_start)
            gap_start = None
            last = v
        out.append(s.renamed(f"keepLastValue({s.name})", values))
    return out


@_function("alias", "Alias", [_SERIES, Param("newName", "string")])
def alias(series: list[Series], new_name: str) -> list[Series]:
    """Show the series under another name."""
    return [s.renamed(new_name) for s in series]


_INNER_PATH_RE = re.compile(r"([^(),\s]+)")


def _metric_path_of(name: str) -> str:
    """The metric path a (possibly function-wrapped) series name was built from."""
    inner = name[name.rfind("(") + 1:] if "(" in name else name
    match = _INNER_PATH_RE.match(inner)
    return match.group(1) if match else name


@_function("aliasByNode", "Alias", [_SERIES, Param("nodes", "node", multiple=True)])
def alias_by_node(series: list[Series], nodes: list[int]) -> list[Series]:
    """Name each series by some nodes of its path (0 = first, -1 = last)."""
    out = []
    for s in series:
        parts = _metric_path_of(s.name).split(".")
        try:
            out.append(s.renamed(".".join(parts[n] for n in nodes)))
        except IndexError:
            raise ExpressionError(f"aliasByNode: {s.name!r} has only {len(parts)} nodes") from None
    return out


@_function("aliasByMetric", "Alias", [_SERIES])
def alias_by_metric(series: list[Series]) -> list[Series]:
    """Name each series by the last node of its path."""
    return [s.renamed(_metric_path_of(s.name).split(".")[-1]) for s in series]


def function_catalog() -> dict[str, dict[str, Any]]:
    """The supported functions, shaped like Graphite's /functions answer (for Grafana's editor)."""
    catalog = {}
    for key, fn in FUNCTIONS.items():
        catalog[key] = {
            "name": key,
            "function": f"{key}({', '.join(p.name for p in fn.params)})",
            "group": fn.group,
            "description": fn.description,
            "module": CATALOG_MODULE,
            "params": [{"name": p.name, "type": "seriesList" if p.kind == "seriesLists" else p.kind,
                        "required": p.required, **({"multiple": True} if p.multiple else {})}
                       for p in fn.params],
        }
    return catalog
