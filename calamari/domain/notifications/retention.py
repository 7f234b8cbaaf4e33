"""Retention of the outbox: finished notifications (delivered, given up, cancelled) older than the
retention leave the live model. Leaving is an event on one OutboxRetention aggregate naming many
at once; the notifications' own events stay in the store (history shows them).

The notifications of one alert leave together, only when all of them are finished, the newest
finished before the cut-off, and the alert is not firing: the notifier tells whether it queued a
notification by its id, so a firing alert (or a resolved one whose firing notification is still
kept) whose notification had left would be notified again.

Pure: `now` comes from the service's pass."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid5

from eventsourcing.domain import Aggregate

from calamari.domain.alerts.alert import FIRING
from calamari.domain.alerts.retention import BATCH, remember
from calamari.domain.base import CalamariAggregate
from calamari.domain.ids import NAMESPACE
from calamari.domain.notifications.notification import PENDING

DEFAULT_NOTIFICATION_RETENTION = timedelta(days=7)
OUTBOX_RETENTION_ID = uuid5(NAMESPACE, "outbox-retention")


class OutboxRetention(CalamariAggregate):
    class Started(Aggregate.Created):
        pass

    def __init__(self) -> None:
        self.retired_notifications: dict[str, datetime] = {}  # the newest NAMED_RETIRED, with when
        self.notifications_retired = 0  # over all time

    class NotificationsRetired(Aggregate.Event):
        """These finished notifications left the live model (ModelState.apply unindexes them);
        `older_than` is the pass's cut-off."""

        notifications: list[str]
        older_than: datetime

        def apply(self, retention: OutboxRetention) -> None:
            remember(retention.retired_notifications, self.notifications, self.timestamp)
            retention.notifications_retired += len(self.notifications)


def notifications_due(model: Any, older_than: datetime, firing: Collection[str] = ()) -> list[list[str]]:
    """Ids of the finished notifications that may leave (see the module's rule), an alert's
    together, the groups oldest first; `firing`: ids of alerts the caller knows to be firing
    besides the model's."""
    by_alert: dict[str, list[Any]] = {}
    for note in list(model.notifications.values()):
        by_alert.setdefault(note.alert_id, []).append(note)
    groups = []
    for alert_id, notes in by_alert.items():
        alert = model.alerts.get(alert_id)
        if alert_id in firing or (alert is not None and alert.state == FIRING):
            continue
        if all(n.state != PENDING and n.modified_on <= older_than for n in notes):
            notes.sort(key=lambda n: (n.modified_on, n.notification_id))
            groups.append(notes)
    groups.sort(key=lambda notes: (notes[-1].modified_on, notes[-1].notification_id))
    return [[n.notification_id for n in notes] for notes in groups]


def _group_due(model: Any, group: list[str], older_than: datetime, firing: Collection[str]) -> bool:
    notes = [model.notifications.get(i) for i in group]
    if any(n is None or n.state == PENDING or n.modified_on > older_than for n in notes):
        return False
    alert_id = notes[0].alert_id if notes else ""
    alert = model.alerts.get(alert_id)
    return alert_id not in firing and not (alert is not None and alert.state == FIRING)


def retire_notifications(model: Any, keep: timedelta, now: datetime, firing: Collection[str] = (),
                         groups: list[list[str]] | None = None) -> int:
    """Retire the finished notifications older than `keep` at `now` (of `groups` when given:
    those notifications_due found earlier, checked again, so that a caller can retire many in
    steps), in events of at most BATCH ids; returns how many."""
    older_than = now - keep
    if groups is None:
        groups = notifications_due(model, older_than, firing)
    else:
        groups = [g for g in groups if _group_due(model, g, older_than, firing)]
    due = [i for group in groups for i in group]
    if not due:
        return 0
    retention = model.outbox_retention
    if retention is None:
        retention = model.create(OutboxRetention, OutboxRetention.Started, OUTBOX_RETENTION_ID, now)
    for start in range(0, len(due), BATCH):
        batch = due[start:start + BATCH]
        model.emit(retention, OutboxRetention.NotificationsRetired, now, notifications=batch, older_than=older_than)
        model.unindex_retired(notifications=batch)
    return len(due)
