"""Graphite target expressions -> a tree of PathNode, LiteralNode and CallNode, parsed by hand
(never eval'd) within QueryLimits: a bounded length, call nesting and argument count, so a hostile
target is refused with a reason instead of exhausting the stack. Every metric pattern in a target
is compiled as it is parsed, so a malformed glob is refused before anything is read.

Hand-written rather than built on a parsing library because it is faster on Grafana-style targets
(bench/bench_graphite_parse.py, 10,000 targets, globs compiled by all: this parser 0.62 s, lark's
LALR with callbacks 0.89 s, pyparsing 5.7 s) although lark's variant does less (no limits, no
positions in errors, braces nested at most two deep: a regular-expression token cannot count
deeper)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from calamari.graphite.errors import ExpressionError, shown
from calamari.graphite.glob import compile_path
from calamari.graphite.limits import DEFAULT_LIMITS, QueryLimits


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
        return ExpressionError(f"{reason} at position {self.pos} of {shown(self.text)}")

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
