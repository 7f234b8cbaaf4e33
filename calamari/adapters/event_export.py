"""Events as JSON lines, for `calamari-ctl events export|import`: each line is the readable record
of `event_record` plus the event's topic and its full state in a lossless JSON form, so that an
import stores exactly the events that were exported.

Lossless form: datetimes, UUIDs, bytes, non-finite floats and maps whose keys are not all plain
strings are tagged as one-key objects (`{"$datetime": "..."}`, `{"$uuid": "..."}`, ...)."""

from __future__ import annotations

import base64
import math
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, resolve_topic

from calamari.adapters.event_store import event_record

# Only the project's own event classes may be named by an imported file (a topic is imported).
ALLOWED_TOPIC_PREFIX = "calamari.domain."
RECORD_FIELDS = ("position", "type", "aggregate", "aggregate_id", "aggregate_version", "time", "topic", "state")
_TAGS = ("$datetime", "$uuid", "$bytes", "$float", "$map", "$tuple")


class ExportFormatError(ValueError):
    """A line of an export file that cannot be turned back into an event."""


def to_tagged(obj: Any) -> Any:
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"$float": repr(obj)}
    if isinstance(obj, datetime):
        return {"$datetime": obj.isoformat()}
    if isinstance(obj, UUID):
        return {"$uuid": str(obj)}
    if isinstance(obj, bytes):
        return {"$bytes": base64.b64encode(obj).decode()}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in obj):
            return {k: to_tagged(v) for k, v in obj.items()}
        return {"$map": [[to_tagged(k), to_tagged(v)] for k, v in obj.items()]}
    if isinstance(obj, list):
        return [to_tagged(v) for v in obj]
    if isinstance(obj, tuple):
        return {"$tuple": [to_tagged(v) for v in obj]}
    raise TypeError(f"cannot export a value of type {type(obj).__name__}")


def from_tagged(obj: Any) -> Any:
    if isinstance(obj, list):
        return [from_tagged(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag in _TAGS:
            return _untag(tag, value)
    for key in obj:
        if key.startswith("$"):
            raise ExportFormatError(f"unknown tag {key!r}")
    return {k: from_tagged(v) for k, v in obj.items()}


def _untag(tag: str, value: Any) -> Any:
    try:
        if tag == "$datetime":
            return datetime.fromisoformat(value)
        if tag == "$uuid":
            return UUID(value)
        if tag == "$bytes":
            return base64.b64decode(value, validate=True)
        if tag == "$float":
            result = float(value)
            if math.isfinite(result):
                raise ValueError("only non-finite floats are tagged")
            return result
        if tag == "$map":
            return {_hashable(from_tagged(k)): from_tagged(v) for k, v in value}
        if tag == "$tuple":
            return tuple(from_tagged(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ExportFormatError(f"bad {tag} value {value!r}: {err}") from None
    raise AssertionError(tag)


def _hashable(key: Any) -> Any:
    if isinstance(key, list | dict):
        raise ValueError("a map key must be a plain value")
    return key


def export_record(position: int, event: Any) -> dict[str, Any]:
    record = event_record(position, event)
    record["topic"] = get_topic(type(event))
    record["state"] = to_tagged(dict(vars(event)))
    return record


def export_line(position: int, event: Any) -> bytes:
    return orjson.dumps(export_record(position, event)) + b"\n"


def parse_line(line: bytes | str) -> tuple[int, Any]:
    """One line back into (position, event); ExportFormatError says what is wrong with it."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise ExportFormatError(f"not JSON: {err}") from None
    if not isinstance(record, dict):
        raise ExportFormatError("not a JSON object")
    missing = [f for f in RECORD_FIELDS if f not in record]
    if missing:
        raise ExportFormatError(f"missing {', '.join(missing)} (was it written by `events export`?)")
    position, topic, state = record["position"], record["topic"], record["state"]
    if type(position) is not int or position < 1:
        raise ExportFormatError(f"position must be a positive integer, not {position!r}")
    if not isinstance(topic, str) or not topic.startswith(ALLOWED_TOPIC_PREFIX):
        raise ExportFormatError(f"topic {topic!r} is not a calamari event class")
    try:
        cls = resolve_topic(topic)
    except Exception as err:  # the library raises several kinds for an unknown topic
        raise ExportFormatError(f"unknown topic {topic!r}: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Aggregate.Event)):
        raise ExportFormatError(f"topic {topic!r} is not an event class")
    if not isinstance(state, dict):
        raise ExportFormatError("state must be an object")
    fields = from_tagged(state)
    if not isinstance(fields.get("originator_id"), UUID):
        raise ExportFormatError("state.originator_id must be a tagged UUID")
    if type(fields.get("originator_version")) is not int or fields["originator_version"] < 1:
        raise ExportFormatError("state.originator_version must be a positive integer")
    if not isinstance(fields.get("timestamp"), datetime) or fields["timestamp"].tzinfo is None:
        raise ExportFormatError("state.timestamp must be a tagged datetime with a time zone")
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", fields)
    return position, event
