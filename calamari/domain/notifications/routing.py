"""What to send, where and when: an alert document checked, the channels it goes to and why
(firing, resolved, repeat), and when a failed delivery is tried again.

The rules (docs/notifications.md):
- a silenced alert is not notified (neither firing nor resolved);
- a firing alert goes to every channel that routes its severity and cluster, once per raise;
- a resolved alert goes to the channels that were sent its firing and want resolved ones;
- a firing alert that is neither silenced nor acknowledged is sent again every repeat interval
  of the channel, counted from when it was raised (a repeat missed while the server was down
  is sent once, not once per interval missed).

Pure: the clock comes in with the calls."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from calamari.domain.notifications.channel import SEVERITIES, Channel
from calamari.domain.notifications.notification import FIRING, REPEAT, RESOLVED, notification_key

ALERT_STATES = ("firing", "resolved")
MAX_ALERT_ID = 200
# An alert document is stored with each of its notifications: beyond this, its oldest changes are
# left out (`changes_left_out` says how many); one still larger is refused.
MAX_ALERT_BYTES = 256 * 1024


class AlertDocumentError(ValueError):
    """An alert document the notifier cannot use; `field` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_time(value: Any, field: str) -> datetime:
    """An ISO 8601 time with a time zone."""
    if not isinstance(value, str):
        raise AlertDocumentError(field, "an ISO 8601 time")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AlertDocumentError(field, "an ISO 8601 time") from None
    if when.tzinfo is None:
        raise AlertDocumentError(field, "an ISO 8601 time with a time zone")
    return when


def check_alert(alert: Any) -> dict[str, Any]:
    """The alert document as a plain dict, checked for what notifying needs (the hand-over of
    calamari.service.alerting); AlertDocumentError names the first field that is wrong. A copy
    in JSON's types (other values as their text), so that the caller may change its own and the
    event store can always encode it."""
    if not isinstance(alert, Mapping):
        raise AlertDocumentError("(alert)", "an object")
    try:
        doc = json.loads(json.dumps(alert, default=str))
    except (TypeError, ValueError) as err:  # keys that are not strings, circular references
        raise AlertDocumentError("(alert)", f"not a JSON document: {err}") from None
    for name in ("id", "rule"):
        if not isinstance(doc.get(name), str) or not 0 < len(doc[name]) <= MAX_ALERT_ID:
            raise AlertDocumentError(name, f"a string of 1 to {MAX_ALERT_ID} characters")
    if doc.get("severity") not in SEVERITIES:
        raise AlertDocumentError("severity", f"one of {', '.join(SEVERITIES)}")
    if doc.get("state") not in ALERT_STATES:
        raise AlertDocumentError("state", f"one of {', '.join(ALERT_STATES)}")
    if not isinstance(doc.get("silenced", False), bool):
        raise AlertDocumentError("silenced", "true or false")
    if doc.get("cluster") is not None and not isinstance(doc["cluster"], str):
        raise AlertDocumentError("cluster", "a cluster fsid or null")
    labels = doc.get("labels") or {}
    if not isinstance(labels, Mapping) or any(not isinstance(k, str) or not isinstance(v, str)
                                              for k, v in labels.items()):
        raise AlertDocumentError("labels", "an object of strings")
    obj = doc.get("object")
    if obj is not None and not (isinstance(obj, Mapping) and isinstance(obj.get("kind"), str)
                                and isinstance(obj.get("id"), str | int)):
        raise AlertDocumentError("object", '{"kind": ..., "id": ...} or null')
    parse_time(doc.get("raised_at"), "raised_at")
    if doc["state"] == "resolved":
        parse_time(doc.get("resolved_at"), "resolved_at")
    return _within_size(doc)


def _size(doc: dict[str, Any]) -> int:
    return len(json.dumps(doc).encode())


def _within_size(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc`, with its oldest changes left out if it is larger than MAX_ALERT_BYTES."""
    if _size(doc) <= MAX_ALERT_BYTES:
        return doc
    changes = doc.get("changes_before")
    if isinstance(changes, list) and changes:
        low, high = 0, len(changes)  # find the most newest changes that fit (halving)
        while low < high:
            keep = (low + high + 1) // 2
            if _size({**doc, "changes_before": changes[-keep:], "changes_left_out": len(changes)}) <= MAX_ALERT_BYTES:
                low = keep
            else:
                high = keep - 1
        doc = {**doc, "changes_before": changes[len(changes) - low:], "changes_left_out": len(changes) - low}
    if _size(doc) > MAX_ALERT_BYTES:
        raise AlertDocumentError("(alert)", f"larger than {MAX_ALERT_BYTES} bytes without its changes")
    return doc


@dataclass(frozen=True)
class Planned:
    """A notification to queue: its id, the channel, why, and when it is due."""

    notification_id: str
    channel_id: str
    reason: str


def plan_for_change(alert: Mapping[str, Any], channels: Iterable[Channel],
                    queued: Callable[[str], bool]) -> list[Planned]:
    """The notifications an alert change makes (`alert` checked by check_alert); `queued` tells
    whether a notification id was queued before (a change handed in twice queues nothing new)."""
    if alert.get("silenced"):
        return []
    planned = []
    for channel in channels:
        if not channel.routes(alert["severity"], alert.get("cluster")):
            continue
        firing = notification_key(alert["id"], channel.channel_id, FIRING, alert["raised_at"])
        if alert["state"] == "firing":
            if not queued(firing):
                planned.append(Planned(firing, channel.channel_id, FIRING))
        elif channel.settings["send_resolved"] and queued(firing):
            resolved = notification_key(alert["id"], channel.channel_id, RESOLVED, alert["resolved_at"])
            if not queued(resolved):
                planned.append(Planned(resolved, channel.channel_id, RESOLVED))
    return planned


def repeats_due(alert: Mapping[str, Any], channels: Iterable[Channel], queued: Callable[[str], bool],
                now: datetime) -> list[Planned]:
    """The repeats of a firing alert due at `now`: per channel that was sent its firing and has
    a repeat interval, the latest interval boundary since the raise, if not queued yet."""
    if alert.get("state") != "firing" or alert.get("silenced") or alert.get("acknowledged_by"):
        return []
    raised = parse_time(alert["raised_at"], "raised_at")
    planned = []
    for channel in channels:
        interval = channel.settings["repeat_interval_s"]
        if not interval or not channel.routes(alert["severity"], alert.get("cluster")):
            continue
        periods = math.floor((now - raised).total_seconds() / interval)
        if periods < 1 or not queued(notification_key(alert["id"], channel.channel_id, FIRING, alert["raised_at"])):
            continue
        due = (raised + timedelta(seconds=periods * interval)).isoformat()
        repeat = notification_key(alert["id"], channel.channel_id, REPEAT, due)
        if not queued(repeat):
            planned.append(Planned(repeat, channel.channel_id, REPEAT))
    return planned


REPEAT_CHANGES = 20  # changes a repeat carries (the firing notification had them all)


def for_repeat(alert: dict[str, Any]) -> dict[str, Any]:
    """The document a repeat carries: the alert with only its newest REPEAT_CHANGES changes
    (`changes_left_out` counting the rest), as repeats of a long-firing alert add up."""
    changes = alert.get("changes_before")
    if not isinstance(changes, list) or len(changes) <= REPEAT_CHANGES:
        return alert
    left_out = len(changes) - REPEAT_CHANGES + (alert.get("changes_left_out") or 0)
    return {**alert, "changes_before": changes[-REPEAT_CHANGES:], "changes_left_out": left_out}


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off of failed deliveries: `first_s`, doubling up to `cap_s`; given up `give_up_after_s`
    after it was queued, or at once when the receiver refused it for good."""

    first_s: float = 5.0
    cap_s: float = 600.0
    give_up_after_s: float = 24 * 3600.0

    def retry_at(self, attempt: int, queued_at: datetime, now: datetime, permanent: bool) -> datetime | None:
        """When attempt `attempt + 1` is due after attempt `attempt` failed at `now`; None: give up."""
        if permanent or (now - queued_at).total_seconds() >= self.give_up_after_s:
            return None
        delay = min(self.cap_s, self.first_s * 2 ** min(max(attempt - 1, 0), 30))
        return now + timedelta(seconds=delay)
