"""Metric-path globs: a pattern is split into dot-separated nodes, and each node (`*`, `?`, `[a-z]`,
`[!abc]`, `{a,b}`, nestable) is matched in time linear in the name.

A node pattern is compiled to a Thompson NFA and matched through a DFA built lazily from it (one
DFA state per set of NFA states met, one transition per (state, character) met), so a match costs
at most (name length) x (pattern size) steps, never the exponential backtracking of a regular
expression built from the pattern. Each step is charged to the caller's step counter (the
request's QueryBudget)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from calamari.graphite.errors import ExpressionError, shown
from calamari.graphite.limits import DEFAULT_LIMITS, QueryLimits


class StepCounter(Protocol):
    """What a match charges its steps to (a QueryBudget); QueryTooLarge stops the match."""

    def step(self, count: int) -> None: ...


GLOB_CHARS = frozenset("*?[{")


def is_glob(part: str) -> bool:
    return any(c in GLOB_CHARS for c in part)


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
                raise ExpressionError(f"unbalanced {c!r} in {shown(pattern)}")
        elif c == "." and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(c)
    if depth:
        raise ExpressionError(f"unclosed brace or bracket in {shown(pattern)}")
    parts.append("".join(current))
    if any(p == "" for p in parts):
        raise ExpressionError(f"empty node in {shown(pattern)}")
    if len(parts) > limits.max_nodes:
        raise ExpressionError(f"more than {limits.max_nodes} nodes in {shown(pattern)} (no metric has as many)")
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
                                          f"{shown(text)}")
                branches = []
                while True:
                    self.pos += 1
                    branches.append(tuple(self.sequence(depth + 1, inside=True)))
                    if self.pos >= len(text):
                        raise ExpressionError(f"unclosed '{{' in {shown(text)}")
                    if text[self.pos] == "}":
                        break
                items.append(("{", tuple(branches)))
            elif inside and c in ",}":
                return items
            elif c in "}]":
                raise ExpressionError(f"unbalanced {c!r} in {shown(text)}")
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
            raise ExpressionError(f"unclosed '[' in {shown(text)}")
        body = text[first:close]
        if not body:
            raise ExpressionError(f"empty character class in {shown(text)}")
        ranges, i = [], 0
        while i < len(body):
            low = body[i]
            if i + 2 < len(body) and body[i + 1] == "-":
                high = body[i + 2]
                if low > high:
                    raise ExpressionError(f"invalid range {low}-{high} (reversed) in {shown(text)}")
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

    def matches(self, name: str, budget: StepCounter | None = None) -> bool:
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

    def matches(self, metric: str, budget: StepCounter | None = None) -> bool:
        names = metric.split(".")
        return len(names) == len(self.nodes) and all(
            node.matches(name, budget) for node, name in zip(self.nodes, names, strict=True))


def compile_path(pattern: str, limits: QueryLimits = DEFAULT_LIMITS) -> PathGlob:
    """Compile a metric pattern (`ceph.cluster.*.pool.{1,2}.num_bytes`); ExpressionError says what
    is wrong with a malformed one, before anything is read."""
    return PathGlob(pattern, tuple(compile_node(part, limits) for part in split_path(pattern, limits)))
