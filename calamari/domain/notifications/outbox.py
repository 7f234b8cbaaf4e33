"""Channels and the outbox in the model: what the notifier and the API record (the service
decides when; calamari.service.notifier), each change a method's worth of events on the
Channel and Notification aggregates, indexed by `ModelState.channels` and `.notifications`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from calamari.domain.model_state import ModelState
from calamari.domain.notifications.channel import Channel, ChannelError, channel_aggregate_id
from calamari.domain.notifications.notification import (
    FAILED,
    MAX_ERROR,
    PENDING,
    Notification,
    notification_aggregate_id,
)
from calamari.domain.notifications.routing import Planned


def live_channel(model: ModelState, channel_id: str) -> Channel:
    """The channel `channel_id`; KeyError if there is none (or it was deleted)."""
    channel = model.channels.get(channel_id)
    if channel is None or channel.deleted:
        raise KeyError(channel_id)
    return channel


def create_channel(model: ModelState, channel_id: str, kind: str, settings: dict[str, Any], has_secret: bool,
                   by: str, at: datetime) -> Channel:
    """A new channel, or a deleted one made again under its id. ChannelError if it exists."""
    channel = model.channels.get(channel_id)
    if channel is None:
        return model.create(Channel, Channel.ChannelCreated, channel_aggregate_id(channel_id), at,
                            channel_id=channel_id, kind=kind, settings=settings, has_secret=has_secret, by=by)
    if not channel.deleted:
        raise ChannelError("id", f"a channel {channel_id!r} exists")
    model.emit(channel, Channel.ChannelReinstated, at, kind=kind, settings=settings, has_secret=has_secret, by=by)
    return channel


def update_channel(model: ModelState, channel: Channel, settings: dict[str, Any], has_secret: bool, by: str,
                   at: datetime, secret_changed: bool = False) -> bool:
    """Record new settings or a new secret; False (no event) when nothing changed."""
    if settings == channel.settings and has_secret == channel.has_secret and not secret_changed:
        return False
    model.emit(channel, Channel.ChannelUpdated, at, settings=settings, has_secret=has_secret, by=by,
               secret_changed=secret_changed)
    return True


def delete_channel(model: ModelState, channel: Channel, by: str, at: datetime) -> int:
    """Delete a channel and cancel what it still had to send; returns how many were cancelled."""
    model.emit(channel, Channel.ChannelDeleted, at, by=by)
    cancelled = 0
    for note in model.pending_notifications():
        if note.channel_id == channel.channel_id:
            model.emit(note, Notification.NotificationCancelled, at,
                       reason_text=f"the channel was deleted by {by}")
            cancelled += 1
    return cancelled


def queue_notification(model: ModelState, planned: Planned, alert: dict[str, Any], at: datetime) -> Notification:
    """Put a planned notification in the outbox, due at once."""
    return model.create(Notification, Notification.NotificationQueued,
                        notification_aggregate_id(planned.notification_id), at,
                        notification_id=planned.notification_id, channel_id=planned.channel_id,
                        alert_id=str(alert.get("id", "")), reason=planned.reason, alert=alert, due=at)


def delivery_failed(model: ModelState, note: Notification, error: str, retry_at: datetime | None,
                    at: datetime) -> None:
    model.emit(note, Notification.DeliveryFailed, at, attempt=note.attempts + 1, error=error[:MAX_ERROR],
               retry_at=retry_at)


def delivered(model: ModelState, note: Notification, detail: str, at: datetime) -> None:
    model.emit(note, Notification.NotificationDelivered, at, attempt=note.attempts + 1, detail=detail[:MAX_ERROR])


def retry(model: ModelState, note: Notification, by: str, at: datetime) -> None:
    """Try a notification that was given up again. ValueError unless it was given up."""
    if note.state != FAILED:
        raise ValueError(f"it is {note.state}; only one given up ({FAILED}) is tried again")
    model.emit(note, Notification.NotificationRetried, at, by=by)


def was_queued(model: ModelState) -> Callable[[str], bool]:
    """Whether a notification id was queued before: in the outbox, or retired from it (of those
    the model still names), so that one retired is never queued again under its id."""
    retention = model.outbox_retention
    retired = retention.retired_notifications if retention is not None else {}
    return lambda notification_id: notification_id in model.notifications or notification_id in retired


def is_pending(note: Notification) -> bool:
    return note.state == PENDING
