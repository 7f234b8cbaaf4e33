"""Reading a CRUSH map's text word by word: the words with their line numbers, and a reader that
takes the next one as a keyword, name or number within Ceph's bounds, or says what it expected."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from calamari.crush.bounds import MAX_NAME_LENGTH, MAX_NUMBER_DIGITS

NAME_RE = re.compile(r"^[-_.0-9A-Za-z]+$")
INT_RE = re.compile(r"^-?[0-9]+$")
FLOAT_RE = re.compile(r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")


@dataclass
class Token:
    text: str
    line: int


class SyntaxProblem(Exception):
    """The first syntax error of a text, as "line N: reason"; parsing stops there."""


def shown(word: str) -> str:
    """A word of the text as an error message quotes it: long ones clipped."""
    return repr(word) if len(word) <= 40 else f"{word[:20]!r}... ({len(word)} characters)"


def text_tokens(text: str) -> list[Token]:
    """The words and brackets of a text with their line numbers, comments left out."""
    tokens = []
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        for word in re.findall(r"[{}\[\]]|[^\s{}\[\]]+", code):
            tokens.append(Token(word, number))
    return tokens


class Reader:
    """The tokens of a text, taken one at a time."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, ahead: int = 0) -> str | None:
        i = self.index + ahead
        return self.tokens[i].text if i < len(self.tokens) else None

    @property
    def line(self) -> int:
        if self.index < len(self.tokens):
            return self.tokens[self.index].line
        return self.tokens[-1].line if self.tokens else 1

    def fail(self, expected: str) -> SyntaxProblem:
        got = shown(self.peek() or "") if self.peek() is not None else "the end of the text"
        return SyntaxProblem(f"line {self.line}: expected {expected}, found {got}")

    def take(self, expected: str | None = None) -> Token:
        if self.index >= len(self.tokens) or (expected is not None and self.peek() != expected):
            raise self.fail(repr(expected) if expected else "more text")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def int(self, what: str, low: int, high: int) -> int:
        """The next token as an integer between `low` and `high` (Ceph's bounds for `what`)."""
        if self.peek() is None or not INT_RE.match(self.peek() or ""):
            raise self.fail(what)
        line = self.line
        text = self.take().text
        digits = text.lstrip("-").lstrip("0") or "0"
        value = None
        if len(digits) <= MAX_NUMBER_DIGITS:  # int() would refuse thousands of digits with a ValueError
            value = -int(digits) if text.startswith("-") else int(digits)
        if value is None or not low <= value <= high:
            shown = text if len(text) <= 24 else f"{text[:12]}... ({len(digits)} digits)"
            raise SyntaxProblem(f"line {line}: {what} must be between {low} and {high}, not {shown}")
        return value

    def float(self, what: str, high: float) -> float:
        """The next token as a finite number between 0 and `high`."""
        if self.peek() is None or not FLOAT_RE.match(self.peek() or ""):
            raise self.fail(what)
        line = self.line
        value = float(self.take().text)
        if not math.isfinite(value):  # e.g. 1e999: CRUSH weights are 16.16 fixed point
            raise SyntaxProblem(f"line {line}: {what} must be a finite number")
        if not 0 <= value <= high:
            raise SyntaxProblem(f"line {line}: {what} must be between 0 and {high:g}, not {value:g}")
        return value

    def name(self, what: str) -> str:
        if self.peek() is None or not NAME_RE.match(self.peek() or ""):
            raise self.fail(what)
        if len(self.peek() or "") > MAX_NAME_LENGTH:
            raise SyntaxProblem(f"line {self.line}: {what} has at most {MAX_NAME_LENGTH} characters, "
                          f"not {len(self.peek() or '')}")
        return self.take().text

