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


# --------------------------------------------------------------------------- bounded work

class QueryTooLarge(ExpressionError):
    """A well-formed query that needs more work than one request may do; the message names the
    limit and how to stay under it."""


@dataclass(frozen=True)
class QueryLimits:
    """How much one render or find request may ask for (docs/security.md, "Bounded work")."""

    max_target_length: int = 8192  # characters of one target or find query
    max_nodes: int = 32  # dot-separated nodes of a path (a metric name has at most 32)
    max_nesting: int = 32  # function calls inside calls, braces inside braces
    max_arguments: int = 256  # arguments of one function call
    max_candidates: int = 200_000  # directory entries (metric and folder names) looked at
    max_match_steps: int = 2_000_000  # glob matcher steps: one per character of a name, more for a new state
    max_series: int = 10_000  # series read
    max_points: int = 5_000_000  # points read plus points computed by functions


DEFAULT_LIMITS = QueryLimits()


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


# --------------------------------------------------------------------------- path globs
#
# A node pattern is compiled to a Thompson NFA and matched through a DFA built lazily from it
# (one DFA state per set of NFA states met, one transition per (state, character) met), so a match
# costs at most (name length) x (pattern size) steps, never the exponential backtracking of a
# regular expression built from the pattern. Each step is charged to the request's QueryBudget.

GLOB_CHARS = frozenset("*?[{")


def is_glob(part: str) -> bool:
    return any(c in GLOB_CHARS for c in part)


def _shown(text: str, limit: int = 80) -> str:
    """`text` quoted for an error message, cut when long (a pattern may be thousands of characters)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def split_path(pattern: str, limits: QueryLimits = DEFAULT_LIMITS) -> list[str]:
    """Split a metric pattern into nodes at dots outside braces and brackets."""
    if len(pattern) > limits.max_target_length:
        raise ExpressionError(f"pattern longer than {limits.max_target_length} characters")
    parts, depth, current = [], 0, []
    for c in pattern:
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth < 0:
                raise ExpressionError(f"unbalanced {c!r} in {_shown(pattern)}")
        elif c == "." and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(c)
    if depth:
        raise ExpressionError(f"unclosed brace or bracket in {_shown(pattern)}")
    parts.append("".join(current))
    if any(p == "" for p in parts):
        raise ExpressionError(f"empty node in {_shown(pattern)}")
    if len(parts) > limits.max_nodes:
        raise ExpressionError(f"more than {limits.max_nodes} nodes in {_shown(pattern)} (no metric has as many)")
    return parts


# Parsed node items: ("*",) any run of characters, ("?",) one character, ("=", c) the character c,
# ("[", ((low, high), ...), negated) a character class, ("{", (branch, ...)) alternatives, each
# branch a tuple of items.
_Item = tuple[Any, ...]
_STAR: _Item = ("*",)
_ANY: _Item = ("?",)


class _NodeParser:
    def __init__(self, text: str, limits: QueryLimits) -> None:
        self.text = text
        self.limits = limits
        self.pos = 0

    def parse(self) -> tuple[_Item, ...]:
        items = self.sequence(0, inside=False)
        return tuple(items)

    def sequence(self, depth: int, inside: bool) -> list[_Item]:
        """Items up to the end, or (inside braces) up to the `,` or `}` that ends the branch."""
        text, items = self.text, []
        while self.pos < len(text):
            c = text[self.pos]
            if c == "*":
                if not items or items[-1] != _STAR:  # `**` matches what `*` does, with fewer states
                    items.append(_STAR)
            elif c == "?":
                items.append(_ANY)
            elif c == "[":
                items.append(self.char_class())
            elif c == "{":
                if depth >= self.limits.max_nesting:
                    raise ExpressionError(f"braces nested more than {self.limits.max_nesting} deep in "
                                          f"{_shown(text)}")
                branches = []
                while True:
                    self.pos += 1
                    branches.append(tuple(self.sequence(depth + 1, inside=True)))
                    if self.pos >= len(text):
                        raise ExpressionError(f"unclosed '{{' in {_shown(text)}")
                    if text[self.pos] == "}":
                        break
                items.append(("{", tuple(branches)))
            elif inside and c in ",}":
                return items
            elif c in "}]":
                raise ExpressionError(f"unbalanced {c!r} in {_shown(text)}")
            else:
                items.append(("=", c))
            self.pos += 1
        return items

    def char_class(self) -> _Item:
        """`[abc]`, `[a-z]`, `[!abc]` (not these); leaves pos at the closing `]`."""
        text = self.text
        first = self.pos + 1
        negated = text.startswith("!", first)
        first += negated
        close = text.find("]", first)
        if close < 0:
            raise ExpressionError(f"unclosed '[' in {_shown(text)}")
        body = text[first:close]
        if not body:
            raise ExpressionError(f"empty character class in {_shown(text)}")
        ranges, i = [], 0
        while i < len(body):
            low = body[i]
            if i + 2 < len(body) and body[i + 1] == "-":
                high = body[i + 2]
                if low > high:
                    raise ExpressionError(f"invalid range {low}-{high} (reversed) in {_shown(text)}")
                ranges.append((low, high))
                i += 3
            else:  # a `-` first or last stands for itself
                ranges.append((low, low))
                i += 1
        self.pos = close
        return ("[", tuple(ranges), negated)


_ACCEPT, _EPSILON, _TEST = 0, 1, 2


class _Nfa:
    """Thompson's construction: each state tests one character and moves on, or branches without
    reading (epsilon), or accepts. State 0 accepts."""

    def __init__(self) -> None:
        self.kinds: list[int] = [_ACCEPT]
        self.tests: list[_Item] = [()]
        self.targets: list[list[int]] = [[]]

    def add(self, kind: int, test: _Item, targets: list[int]) -> int:
        self.kinds.append(kind)
        self.tests.append(test)
        self.targets.append(targets)
        return len(self.kinds) - 1

    def build(self, items: tuple[_Item, ...], follow: int) -> int:
        """The state that matches `items` and then goes on to `follow`."""
        state = follow
        for item in reversed(items):
            if item == _STAR:
                split = self.add(_EPSILON, (), [])
                loop = self.add(_TEST, _ANY, [split])
                self.targets[split] = [loop, state]
                state = split
            elif item[0] == "{":
                state = self.add(_EPSILON, (), [self.build(branch, state) for branch in item[1]])
            else:
                state = self.add(_TEST, item, [state])
        return state

    def closure(self, states: list[int]) -> tuple[frozenset[int], int]:
        """The testing and accepting states reachable through epsilons; and the states visited."""
        seen: set[int] = set()
        found = []
        stack = list(states)
        while stack:
            state = stack.pop()
            if state in seen:
                continue
            seen.add(state)
            if self.kinds[state] == _EPSILON:
                stack.extend(self.targets[state])
            else:
                found.append(state)
        return frozenset(found), len(seen)


def _test(test: _Item, c: str) -> tuple[bool, int]:
    """Whether a testing state takes character `c`, and the steps that took."""
    kind = test[0]
    if kind == "?":
        return True, 1
    if kind == "=":
        return c == test[1], 1
    ranges, negated = test[1], test[2]
    return any(low <= c <= high for low, high in ranges) != negated, len(ranges)


# The lazily built DFA of a node is forgotten (and rebuilt as needed) beyond this many NFA states
# summed over its DFA states, which bounds its memory for any pattern.
_MAX_DFA_SIZE = 200_000


class NodeGlob:
    """One compiled node pattern: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`, `{a,b}` (nestable)."""

    def __init__(self, text: str, limits: QueryLimits = DEFAULT_LIMITS) -> None:
        self.text = text
        items = _NodeParser(text, limits).parse()
        # a node without glob characters is looked up directly; one that is only `*` takes every name
        self.literal: str | None = None if is_glob(text) else text
        self.match_all = items == (_STAR,)
        self._nfa = _Nfa()
        self._nfa_start = self._nfa.build(items, 0)
        self._reset()

    def _reset(self) -> None:
        self._sets: list[frozenset[int]] = []
        self._ids: dict[frozenset[int], int] = {}
        self._accepting: list[bool] = []
        self._moves: dict[tuple[int, str], int] = {}
        self._size = 0
        self._start = self._state(self._nfa.closure([self._nfa_start])[0])

    def _state(self, states: frozenset[int]) -> int:
        found = self._ids.get(states)
        if found is None:
            found = self._ids[states] = len(self._sets)
            self._sets.append(states)
            self._accepting.append(0 in states)
            self._size += len(states) + 1
        return found

    def _move(self, state: int, c: str) -> tuple[int, int]:
        """The DFA state after reading `c` in `state`, built now; and the steps that took."""
        kinds, targets = self._nfa.kinds, self._nfa.targets
        current = self._sets[state]
        if self._size > _MAX_DFA_SIZE:  # forget the cache, keeping only where this match stands
            self._reset()
            state = self._state(current)
        reached, steps = [], 0
        for nfa_state in current:
            if kinds[nfa_state] == _TEST:
                taken, cost = _test(self._nfa.tests[nfa_state], c)
                steps += cost
                if taken:
                    reached.append(targets[nfa_state][0])
        states, visited = self._nfa.closure(reached)
        found = self._state(states)
        self._moves[(state, c)] = found
        self._size += 1
        return found, steps + visited

    def matches(self, name: str, budget: QueryBudget | None = None) -> bool:
        """Whether the whole of `name` matches; the steps are charged to `budget`."""
        if self.literal is not None:
            return name == self.literal
        if self.match_all:
            return True
        state, steps = self._start, 0
        for c in name:
            steps += 1
            found = self._moves.get((state, c))
            if found is None:
                found, cost = self._move(state, c)
                if budget is not None:
                    budget.step(cost)
            state = found
            if not self._sets[state]:  # no way on: the rest of the name cannot match
                break
        if budget is not None:
            budget.step(steps)
        return self._accepting[state]


def compile_node(part: str, limits: QueryLimits = DEFAULT_LIMITS) -> NodeGlob:
    """Compile one node pattern; ExpressionError says what is wrong with a malformed one."""
    if len(part) > limits.max_target_length:
        raise ExpressionError(f"pattern longer than {limits.max_target_length} characters")
    return NodeGlob(part, limits)


@dataclass(frozen=True)
class PathGlob:
    """A compiled metric pattern: one NodeGlob per dot-separated node."""

    pattern: str
    nodes: tuple[NodeGlob, ...]

    def matches(self, metric: str, budget: QueryBudget | None = None) -> bool:
        names = metric.split(".")
        return len(names) == len(self.nodes) and all(
            node.matches(name, budget) for node, name in zip(self.nodes, names, strict=True))


def compile_path(pattern: str, limits: QueryLimits = DEFAULT_LIMITS) -> PathGlob:
    """Compile a metric pattern (`ceph.cluster.*.pool.{1,2}.num_bytes`); ExpressionError says what
    is wrong with a malformed one, before anything is read."""
    return PathGlob(pattern, tuple(compile_node(part, limits) for part in split_path(pattern, limits)))


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

_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-*?[]{}:#@%+~^$!")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KWARG_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=")


def parse_target(text: str, limits: QueryLimits = DEFAULT_LIMITS) -> Node:
    """Parse one `target=` expression into a tree of PathNode, LiteralNode and CallNode. Every
    metric pattern in it is compiled too, so a malformed glob is refused before anything is read."""
    if len(text) > limits.max_target_length:
        raise ExpressionError(f"target longer than {limits.max_target_length} characters")
    return _Parser(text, limits).parse()


class _Parser:
    def __init__(self, text: str, limits: QueryLimits = DEFAULT_LIMITS) -> None:
        self.text = text
        self.limits = limits
        self.pos = 0

    def fail(self, reason: str) -> ExpressionError:
        return ExpressionError(f"{reason} at position {self.pos} of {_shown(self.text)}")

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
        if depth > self.limits.max_nesting:
            raise self.fail(f"expression nested too deeply (more than {self.limits.max_nesting} calls)")
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
        try:
            compile_path(word, self.limits)
        except ExpressionError as err:
            raise ExpressionError(f"{err} (at position {start})") from None
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
            if len(args) + len(kwargs) > self.limits.max_arguments:
                raise self.fail(f"more than {self.limits.max_arguments} arguments")
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
    """What evaluation needs: the metric fetcher (already bound to the time range) and the
    request's budget. Evaluation charges the series fetched and the points read and computed; a
    fetcher that reads files should call `budget.ensure_room` before each read, so that a query
    over too many series stops before reading them."""

    fetch: Fetch
    budget: QueryBudget = field(default_factory=QueryBudget)


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
        ctx.budget.add(len(series), _points(series))
        return series
    if isinstance(node, LiteralNode):
        raise ExpressionError(f"{node.value!r} is not a series (a metric path or a function call)")
    fn = FUNCTIONS.get(node.name)
    if fn is None:
        raise ExpressionError(f"unknown function {node.name!r}")
    out = fn.run(*_bind(fn, node, ctx))
    # what a function made, plus its per-series work on its other arguments (aliasByNode's nodes)
    ctx.budget.add(0, _points(out) + len(out) * (len(node.args) + len(node.kwargs)))
    return out


def _points(series: list[Series]) -> int:
    return sum(len(s.values) for s in series)


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
