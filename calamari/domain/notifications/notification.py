"""The outbox entry: one notification of one alert change to one channel, from queued to delivered
(or given up, or cancelled), with every attempt that failed and when the next one is due.

Its id is derived from what it tells (the alert, the channel, why, and the alert's time for that
reason), so handing the same alert change in twice queues it once; receivers get it as an
idempotency key, since a delivery whose answer was not recorded before a crash is sent again.

Pure: times come in with the calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate
from calamari.domain.ids import NAMESPACE

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
STATES = (PENDING, DELIVERED, FAILED, CANCELLED)
FIRING, RESOLVED, REPEAT, TEST = "firing", "resolved", "repeat", "test"
REASONS = (FIRING, RESOLVED, REPEAT, TEST)
MAX_ERROR = 500  # characters of a receiver's error kept


def notification_key(alert_id: str, channel_id: str, reason: str, when: str) -> str:
    """The notification's id (also the receivers' idempotency key): one per alert, channel,
    reason and the alert's time for it (raised, resolved, or the repeat's due time)."""
    return str(uuid5(NAMESPACE, f"notification/{alert_id}/{channel_id}/{reason}/{when}"))


def notification_aggregate_id(notification_id: str) -> UUID:
    return uuid5(NAMESPACE, f"notification/{notification_id}")


class Notification(CalamariAggregate):
    class NotificationQueued(Aggregate.Created):
        notification_id: str
        channel_id: str
        alert_id: str
        reason: str
        alert: dict[str, Any]  # the alert document as it was handed in (no channel settings, no secrets)
        due: datetime

    def __init__(self, notification_id: str, channel_id: str, alert_id: str, reason: str, alert: dict[str, Any],
                 due: datetime) -> None:
        self.notification_id = notification_id
        self.channel_id = channel_id
        self.alert_id = alert_id
        self.reason = reason
        self.alert = alert
        self.state = PENDING
        self.due = due
        self.attempts = 0
        self.last_error: str | None = None
        self.delivered_at: datetime | None = None
        self.detail: str | None = None

    class DeliveryFailed(Aggregate.Event):
        """An attempt failed; `retry_at` is when the next one is due (None: given up)."""

        attempt: int
        error: str
        retry_at: datetime | None

        def apply(self, note: Notification) -> None:
            note.attempts, note.last_error = self.attempt, self.error
            if self.retry_at is None:
                note.state = FAILED
            else:
                note.due = self.retry_at

    class NotificationDelivered(Aggregate.Event):
        """The receiver took it (`detail`: what it answered)."""

        attempt: int
        detail: str

        def apply(self, note: Notification) -> None:
            note.attempts, note.state, note.detail = self.attempt, DELIVERED, self.detail
            note.delivered_at = self.timestamp

    class NotificationRetried(Aggregate.Event):
        """A notification given up is to be tried again (someone fixed the channel or the
        receiver): pending, due at once, given another full period of retries."""

        by: str

        def apply(self, note: Notification) -> None:
            note.state, note.due, note.retried_at, note.retried_by = PENDING, self.timestamp, self.timestamp, self.by

    class NotificationCancelled(Aggregate.Event):
        """Not to be sent any more (its channel was deleted)."""

        reason_text: str

        def apply(self, note: Notification) -> None:
            note.state, note.last_error = CANCELLED, self.reason_text

    @property
    def queued_at(self) -> datetime:
        return self.created_on

    @property
    def retrying_since(self) -> datetime:
        """Where the period of retries began: the queueing, or the last retry asked for."""
        return getattr(self, "retried_at", None) or self.created_on
