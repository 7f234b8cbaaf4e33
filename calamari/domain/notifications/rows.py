"""The documents the API shows of channels and notifications. A channel's secret is never in
them (the model does not have it): `has_secret` says whether one is set."""

from __future__ import annotations

from typing import Any

from calamari.domain.notifications.channel import Channel
from calamari.domain.notifications.notification import PENDING, Notification


def channel_row(channel: Channel) -> dict[str, Any]:
    return {"id": channel.channel_id, "kind": channel.kind, **channel.settings, "has_secret": channel.has_secret,
            "changed_by": channel.changed_by, "created_at": channel.created_on.isoformat(),
            "updated_at": channel.modified_on.isoformat()}


def notification_row(note: Notification, with_alert: bool = False) -> dict[str, Any]:
    """One outbox entry; `with_alert`: the whole alert document, else the fields that name it."""
    alert = note.alert
    row: dict[str, Any] = {
        "id": note.notification_id, "channel": note.channel_id, "alert_id": note.alert_id, "reason": note.reason,
        "state": note.state, "attempts": note.attempts, "last_error": note.last_error,
        "next_attempt_at": note.due.isoformat() if note.state == PENDING else None,
        "queued_at": note.queued_at.isoformat(),
        "delivered_at": note.delivered_at.isoformat() if note.delivered_at else None, "answer": note.detail,
        "rule": alert.get("rule"), "severity": alert.get("severity"), "cluster": alert.get("cluster"),
        "summary": alert.get("summary"), "retried_by": getattr(note, "retried_by", None)}
    if with_alert:
        row["alert"] = alert
    return row
