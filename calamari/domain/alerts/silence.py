"""The Silence aggregate: matchers over alert labels, a time span, who made it and why. While a
silence is active the alerts it matches are marked silenced (notifications hold back); expiring it
early is an event naming who did. Matchers follow Prometheus Alertmanager's: a label name, a value,
whether the value is a regular expression (matched in full) and whether it must match or not."""

from __future__ import annotations

import re
import re._constants as _constants  # the standard library's regular expression parser and its opcodes
import re._parser as _parser
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate

LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_MATCHERS = 20
MAX_VALUE_LENGTH = 256  # a value or a regular expression
MAX_COMMENT_LENGTH = 1000
# A regular expression can be written to take exponential time (`(a+)+$`, `(a|aa)+$`): a repeated
# part that itself repeats or branches, and back-references, are refused, read from the pattern's
# parse tree (the standard library's own parser), so that matching stays about linear per label.
_REPEATS = (_constants.MAX_REPEAT, _constants.MIN_REPEAT, getattr(_constants, "POSSESSIVE_REPEAT", None))
_BACKREFS = (_constants.GROUPREF, _constants.GROUPREF_EXISTS)


class SilenceInvalid(ValueError):
    """A silence that cannot be made; `errors` names each bad field (`matchers.0.value`, …)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        hit = re.fullmatch(self.value, actual) is not None if self.is_regex else actual == self.value
        return hit == self.is_equal

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "is_regex": self.is_regex, "is_equal": self.is_equal}


def parse_matchers(raw: Any) -> list[Matcher]:
    """Matchers from their JSON form; SilenceInvalid naming the bad field of each."""
    if not isinstance(raw, list) or not raw:
        raise SilenceInvalid({"matchers": "a non-empty list of {name, value, is_regex, is_equal}"})
    if len(raw) > MAX_MATCHERS:
        raise SilenceInvalid({"matchers": f"at most {MAX_MATCHERS} matchers"})
    errors: dict[str, str] = {}
    matchers = []
    for i, item in enumerate(raw):
        where = f"matchers.{i}"
        if not isinstance(item, dict):
            errors[where] = "an object {name, value, is_regex, is_equal}"
            continue
        unknown = sorted(set(item) - {"name", "value", "is_regex", "is_equal"})
        if unknown:
            errors[f"{where}.{unknown[0]}"] = "unknown field"
            continue
        name, value = item.get("name"), item.get("value")
        is_regex, is_equal = item.get("is_regex", False), item.get("is_equal", True)
        if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
            errors[f"{where}.name"] = "a label name: a letter or _, then letters, digits or _ (at most 100)"
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            errors[f"{where}.value"] = f"a string of at most {MAX_VALUE_LENGTH} characters"
        if not isinstance(is_regex, bool):
            errors[f"{where}.is_regex"] = "true or false"
        if not isinstance(is_equal, bool):
            errors[f"{where}.is_equal"] = "true or false"
        if f"{where}.value" not in errors and is_regex is True:
            reason = regex_refusal(value)
            if reason:
                errors[f"{where}.value"] = reason
        if not any(k.startswith(where) for k in errors):
            matchers.append(Matcher(name, value, is_regex, is_equal))
    if errors:
        raise SilenceInvalid(errors)
    if all(not m.is_equal or (m.is_regex and re.fullmatch(m.value, "")) or (not m.is_regex and m.value == "")
           for m in matchers):
        # Alertmanager refuses these too: they would silence every alert, the unrelated ones included
        raise SilenceInvalid({"matchers": "at least one matcher must match a non-empty value"})
    return matchers


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-patterns of one parsed item."""
    if op in _REPEATS:
        return [av[2]]
    if op is _constants.SUBPATTERN:
        return [av[-1]]
    if op is _constants.BRANCH:
        return list(av[1])
    if op in (_constants.ASSERT, _constants.ASSERT_NOT):
        return [av[1]]
    return []


def _repeats_or_branches(items: Any) -> bool:
    for op, av in items:
        if (op in _REPEATS and av[1] > 1) or op is _constants.BRANCH:
            return True
        if any(_repeats_or_branches(child) for child in _children(op, av)):
            return True
    return False


def _risky(items: Any) -> bool:
    for op, av in items:
        if op in _BACKREFS:
            return True
        if op in _REPEATS and av[1] > 1 and _repeats_or_branches(av[2]):
            return True
        if any(_risky(child) for child in _children(op, av)):
            return True
    return False


def regex_refusal(pattern: str) -> str | None:
    """Why a matcher's regular expression is refused, or None."""
    try:
        re.compile(pattern)
        tree = _parser.parse(pattern)
    except (re.error, RecursionError) as err:
        return f"not a regular expression: {err}"
    if _risky(tree):
        return ("a repeated part that repeats or branches itself (e.g. (a+)+, (a|b)*) and back-references "
                "are not allowed in a matcher")
    return None


class Silence(CalamariAggregate):
    class SilenceCreated(Aggregate.Created):
        silence_id: str
        matchers: list[dict[str, Any]]
        starts_at: datetime
        ends_at: datetime
        created_by: str
        comment: str

    def __init__(self, silence_id: str, matchers: list[dict[str, Any]], starts_at: datetime, ends_at: datetime,
                 created_by: str, comment: str) -> None:
        self.silence_id = silence_id
        self.matchers = matchers
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.created_by = created_by
        self.comment = comment
        self.expired_by: str | None = None
        self.expired_at: datetime | None = None

    class SilenceExpired(Aggregate.Event):
        """Ended before its time by a user."""

        by: str

        def apply(self, silence: Silence) -> None:
            silence.expired_by, silence.expired_at = self.by, self.timestamp
            silence.ends_at = min(silence.ends_at, self.timestamp)

    def active(self, now: datetime) -> bool:
        return self.expired_by is None and self.starts_at <= now < self.ends_at

    def state(self, now: datetime) -> str:
        if self.active(now):
            return "active"
        return "pending" if self.expired_by is None and now < self.starts_at else "expired"

    def covers(self, labels: dict[str, str]) -> bool:
        return all(Matcher(**m).matches(labels) for m in self.matchers)


def silence_document(silence: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": silence.silence_id,
        "matchers": [dict(m) for m in silence.matchers],
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "created_by": silence.created_by,
        "comment": silence.comment,
        "state": silence.state(now),
        "expired_by": silence.expired_by,
        "created_at": silence.created_on.isoformat(),
    }
