"""Graphite's from/until syntax: `now`, relative offsets (`-1h`, `now-7d`, `+5min`), epoch seconds,
`YYYYMMDD` and `HH:MM_YYYYMMDD` (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime


class TimeSyntaxError(ValueError):
    """A from/until value Graphite would not accept."""


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
