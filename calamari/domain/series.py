"""Graphite's target language, parsed by hand (never eval'd) and evaluated over series that a
caller-supplied function fetches, plus Graphite's time syntax and metric-path globs.

Pure: the caller passes `now` and the fetch function, so the same code serves the render API,
the stats API and tests."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class ExpressionError(ValueError):
    """A target expression that cannot be parsed or evaluated; the message says why."""


class TimeSyntaxError(ValueError):
    """A from/until value Graphite would not accept."""


# --------------------------------------------------------------------------- series


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


# --------------------------------------------------------------------------- time syntax

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "mon": 2592000, "month": 2592000, "months": 2592000,  # 30 days, as Graphite counts
    "y": 31536000, "year": 31536000, "years": 31536000,  # 365 days
}
_OFFSET_RE = re.compile(r"^(?:now)?\s*([+-])\s*(\d{1,18})\s*([a-z]+)$")
# An offset further than this is refused: it could not be answered in JSON or read from whisper.
MAX_OFFSET_S = 1 << 40
_ABSOLUTE_RE = re.compile(r"^(\d{1,2}):(\d{2})_(\d{8})$")


def parse_time(text: str, now: int) -> int:
    """Epoch seconds for a Graphite from/until value: `now`, `-1h`, `now-7d`, `+5min`, epoch
    seconds, `YYYYMMDD` or `HH:MM_YYYYMMDD` (UTC)."""
    value = text.strip().lower()
    if value in ("", "now"):
        return now
    match = _OFFSET_RE.match(value)
    if match:
        sign, amount, unit = match.groups()
        if unit not in _UNITS:
            raise TimeSyntaxError(f"unknown time unit {unit!r} in {text!r} (use s, min, h, d, w, mon or y)")
        delta = int(amount) * _UNITS[unit]
        if delta > MAX_OFFSET_S:
            raise TimeSyntaxError(f"{text!r} is too far from now")
        return now - delta if sign == "-" else now + delta
    if value.isascii() and value.isdigit():  # not '²', which isdigit() takes and int() refuses
        if len(value) == 8 and _plausible_date(value):
            return _utc(value, 0, 0)
        if len(value) > 12:
            raise TimeSyntaxError(f"{text!r} is not a time in epoch seconds")
        return int(value)
    match = _ABSOLUTE_RE.match(value)
    if match and _plausible_date(match.group(3)):
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return _utc(match.group(3), hour, minute)
    raise TimeSyntaxError(f"cannot read {text!r} as a time (try -1h, -7d, now, epoch seconds or HH:MM_YYYYMMDD)")


def _plausible_date(yyyymmdd: str) -> bool:
    try:
        datetime.strptime(yyyymmdd, "%Y%m%d")
    except ValueError:
        return False
    return True


def _utc(yyyymmdd: str, hour: int, minute: int) -> int:
    day = datetime.strptime(yyyymmdd, "%Y%m%d").replace(hour=hour, minute=minute, tzinfo=UTC)
    return int(day.timestamp())


# --------------------------------------------------------------------------- path globs

GLOB_CHARS = frozenset("*?[{")


def is_glob(part: str) -> bool:
    return any(c in GLOB_CHARS for c in part)


def split_path(pattern: str) -> list[str]:
    """Split a metric pattern into nodes at dots outside braces and brackets."""
    parts, depth, current = [], 0, []
    for c in pattern:
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth < 0:
                raise ExpressionError(f"unbalanced {c!r} in {pattern!r}")
        elif c == "." and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(c)
    if depth:
        raise ExpressionError(f"unclosed brace or bracket in {pattern!r}")
    parts.append("".join(current))
    if any(p == "" for p in parts):
        raise ExpressionError(f"empty node in {pattern!r}")
    return parts


def node_regex(part: str) -> re.Pattern[str]:
    """A compiled regex for one node pattern: `*`, `?`, `[abc]`/`[!abc]`, `{a,b}` (nestable)."""
    regex, end = _glob_to_regex(part, 0, top=True)
    if end != len(part):
        raise ExpressionError(f"unexpected {part[end]!r} in {part!r}")
    return re.compile(regex + r"\Z")


def _glob_to_regex(part: str, pos: int, top: bool) -> tuple[str, int]:
    out: list[str] = []
    while pos < len(part):
        c = part[pos]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            close = part.find("]", pos + 2)
            if close < 0:
                raise ExpressionError(f"unclosed '[' in {part!r}")
            body = part[pos + 1:close]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("^", "\\^") + "]")
            pos = close
        elif c == "{":
            alternatives = []
            pos += 1
            while True:
                alternative, pos = _glob_to_regex(part, pos, top=False)
                alternatives.append(alternative)
                if pos >= len(part):
                    raise ExpressionError(f"unclosed '{{' in {part!r}")
                if part[pos] == "}":
                    break
                pos += 1  # the comma
            out.append("(?:" + "|".join(alternatives) + ")")
        elif not top and c in ",}":
            return "".join(out), pos
        elif c == "}" or c == "]":
            raise ExpressionError(f"unbalanced {c!r} in {part!r}")
        else:
            out.append(re.escape(c))
        pos += 1
    return "".join(out), pos


# --------------------------------------------------------------------------- parser

@dataclass(frozen=True)
class PathNode:
    pattern: str


@dataclass(frozen=True)
class LiteralNode:
    value: str | int | float | bool


@dataclass(frozen=True)
class CallNode:
    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]
    text: str


Node = PathNode | LiteralNode | CallNode

MAX_DEPTH = 32
MAX_LENGTH = 8192
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-*?[]{}:#@%+~^$!")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KWARG_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=")


def parse_target(text: str) -> Node:
    """Parse one `target=` expression into a tree of PathNode, LiteralNode and CallNode."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"target longer than {MAX_LENGTH} characters")
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str) -> ExpressionError:
        return ExpressionError(f"{reason} at position {self.pos} of {self.text!r}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def parse(self) -> Node:
        node = self.expression(0)
        self.skip_space()
        if self.pos != len(self.text):
            raise self.fail(f"unexpected {self.peek()!r}")
        return node

    def expression(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail("expression nested too deeply")
        self.skip_space()
        c = self.peek()
        if not c:
            raise self.fail("expression ends early")
        if c in "\"'":
            return LiteralNode(self.string(c))
        number = _NUMBER_RE.match(self.text, self.pos)
        if number and (number.end() == len(self.text) or self.text[number.end()] in ",) \t"):
            self.pos = number.end()
            literal = number.group()
            is_float = any(ch in literal for ch in ".eE")
            if not is_float and len(literal) > 100:  # int() refuses thousands of digits
                raise self.fail("number too long")
            return LiteralNode(float(literal) if is_float else int(literal))
        start = self.pos
        word = self.word()
        if not word:
            raise self.fail(f"unexpected {c!r}")
        self.skip_space()
        if self.peek() == "(":
            if not _IDENT_RE.fullmatch(word):
                raise ExpressionError(f"{word!r} is not a function name")
            self.pos += 1
            args, kwargs = self.arguments(depth)
            return CallNode(word, tuple(args), tuple(kwargs), self.text[start:self.pos])
        if word in ("true", "True"):
            return LiteralNode(True)
        if word in ("false", "False"):
            return LiteralNode(False)
        return PathNode(word)

    def string(self, quote: str) -> str:
        close = self.text.find(quote, self.pos + 1)
        if close < 0:
            raise self.fail("unterminated string")
        value = self.text[self.pos + 1:close]
        self.pos = close + 1
        return value

    def word(self) -> str:
        start, depth = self.pos, 0
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in "{[":
                depth += 1
            elif c in "}]":
                if depth == 0:
                    raise self.fail(f"unbalanced {c!r}")
                depth -= 1
            elif depth == 0 and (c in "(),=" or c.isspace()):
                break
            elif c not in _PATH_CHARS and not (depth and c == ","):
                raise self.fail(f"unexpected {c!r}")
            self.pos += 1
        if depth:
            raise self.fail("unclosed brace or bracket")
        return self.text[start:self.pos]

    def arguments(self, depth: int) -> tuple[list[Node], list[tuple[str, Node]]]:
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        self.skip_space()
        if self.peek() == ")":
            self.pos += 1
            return args, kwargs
        while True:
            self.skip_space()
            keyword = _KWARG_RE.match(self.text, self.pos)
            if keyword and not self.text.startswith("==", keyword.end() - 1):
                self.pos = keyword.end()
                kwargs.append((keyword.group(1), self.expression(depth + 1)))
            elif kwargs:
                raise self.fail("positional argument after a keyword argument")
            else:
                args.append(self.expression(depth + 1))
            self.skip_space()
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c == ")":
                self.pos += 1
                return args, kwargs
            else:
                raise self.fail("expected ',' or ')'" if c else "missing ')'")


# --------------------------------------------------------------------------- evaluation

Fetch = Callable[[str], list[Series]]


@dataclass
class Context:
    """What evaluation needs: the metric fetcher (already bound to the time range)."""

    fetch: Fetch
    series_limit: int = 10_000
    fetched: int = field(default=0)


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


def evaluate(node: Node, ctx: Context) -> list[Series]:
    """The series a parsed target stands for."""
    if isinstance(node, PathNode):
        series = ctx.fetch(node.pattern)
        ctx.fetched += len(series)
        if ctx.fetched > ctx.series_limit:
            raise ExpressionError(f"the targets match more than {ctx.series_limit} series; narrow the pattern")
        return series
    if isinstance(node, LiteralNode):
        raise ExpressionError(f"{node.value!r} is not a series (a metric path or a function call)")
    fn = FUNCTIONS.get(node.name)
    if fn is None:
        raise ExpressionError(f"unknown function {node.name!r}")
    return fn.run(*_bind(fn, node, ctx))


def _bind(fn: Function, node: CallNode, ctx: Context) -> list[Any]:
    """Match the call's arguments to the function's parameters, checked and converted."""
    bound: dict[str, Any] = {}
    positional = list(node.args)
    for param in fn.params:
        if param.multiple:
            bound[param.name] = [_convert(fn, param, a, ctx) for a in positional]
            positional = []
            if param.required and not bound[param.name]:
                raise ExpressionError(f"{fn.name}: needs at least one {param.name}")
        elif positional:
            bound[param.name] = _convert(fn, param, positional.pop(0), ctx)
    if positional:
        raise ExpressionError(f"{fn.name}: too many arguments")
    names = {p.name: p for p in fn.params}
    for key, value in node.kwargs:
        param = names.get(key)
        if param is None or param.multiple:
            raise ExpressionError(f"{fn.name}: no argument named {key!r}")
        if key in bound:
            raise ExpressionError(f"{fn.name}: {key!r} given twice")
        bound[key] = _convert(fn, param, value, ctx)
    out = []
    for param in fn.params:
        if param.name in bound:
            out.append(bound[param.name])
        elif param.required:
            raise ExpressionError(f"{fn.name}: missing argument {param.name!r}")
        else:
            out.append(param.default)
    return out


def _convert(fn: Function, param: Param, node: Node, ctx: Context) -> Any:
    where = f"{fn.name}: {param.name}"
    if param.kind in ("seriesList", "seriesLists"):
        if isinstance(node, LiteralNode):
            raise ExpressionError(f"{where} must be a series, not {node.value!r}")
        return evaluate(node, ctx)
    if not isinstance(node, LiteralNode):
        wanted = {"float": "number", "integer": "whole number", "node": "node index (a whole number)",
                  "string": "quoted string", "boolean": "true or false"}.get(param.kind, param.kind)
        raise ExpressionError(f"{where} must be a {wanted}, not a series")
    value = node.value
    if param.kind == "boolean":
        if not isinstance(value, bool):
            raise ExpressionError(f"{where} must be true or false")
        return value
    if param.kind == "string":
        if not isinstance(value, str):
            raise ExpressionError(f"{where} must be a quoted string")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"{where} must be a number")
    if param.kind in ("integer", "node"):
        if not float(value).is_integer():
            raise ExpressionError(f"{where} must be a whole number")
        return int(value)
    if not math.isfinite(value):
        raise ExpressionError(f"{where} must be finite")
    return float(value)


def _flatten(series_lists: list[list[Series]]) -> list[Series]:
    return [s for lst in series_lists for s in lst]


def _combined_name(function: str, series: list[Series]) -> str:
    expressions = sorted({s.path_expression or s.name for s in series})
    return f"{function}({','.join(expressions)})"


def _combine(function: str, series_lists: list[list[Series]],
             reduce: Callable[[list[float]], float]) -> list[Series]:
    series = _flatten(series_lists)
    if not series:
        return []
    start, step, rows = align(series)
    values: list[float | None] = []
    for column in zip(*rows, strict=True):
        known = [v for v in column if v is not None]
        values.append(reduce(known) if known else None)
    name = _combined_name(function, series)
    return [Series(name, start, step, values, name)]


_SERIES_LISTS = Param("seriesLists", "seriesLists", multiple=True)
_SERIES = Param("seriesList", "seriesList")


@_function("sumSeries", "Combine", [_SERIES_LISTS], aliases=["sum"])
def sum_series(series_lists: list[list[Series]]) -> list[Series]:
    """Point-wise sum of all the series (missing points are left out)."""
    return _combine("sumSeries", series_lists, sum)


@_function("averageSeries", "Combine", [_SERIES_LISTS], aliases=["avg"])
def average_series(series_lists: list[list[Series]]) -> list[Series]:
    """Point-wise average of the series that have a value."""
    return _combine("averageSeries", series_lists, lambda known: sum(known) / len(known))


@_function("maxSeries", "Combine", [_SERIES_LISTS])
def max_series(series_lists: list[list[Series]]) -> list[Series]:
    """Point-wise maximum."""
    return _combine("maxSeries", series_lists, max)


@_function("minSeries", "Combine", [_SERIES_LISTS])
def min_series(series_lists: list[list[Series]]) -> list[Series]:
    """Point-wise minimum."""
    return _combine("minSeries", series_lists, min)


@_function("diffSeries", "Combine", [_SERIES_LISTS])
def diff_series(series_lists: list[list[Series]]) -> list[Series]:
    """The first series minus all the others."""
    series = _flatten(series_lists)
    if not series:
        return []
    start, step, rows = align(series)
    values: list[float | None] = []
    for column in zip(*rows, strict=True):
        first, rest = column[0], [v for v in column[1:] if v is not None]
        values.append(None if first is None and not rest else (first or 0.0) - sum(rest))
    name = _combined_name("diffSeries", series)
    return [Series(name, start, step, values, name)]


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
            "module": "calamari.domain.series",
            "params": [{"name": p.name, "type": "seriesList" if p.kind == "seriesLists" else p.kind,
                        "required": p.required, **({"multiple": True} if p.multiple else {})}
                       for p in fn.params],
        }
    return catalog
