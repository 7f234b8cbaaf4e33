"""Retention of alerts and silences: resolved alerts and ended silences older than the retention
leave the live model (its lists, its snapshots, its memory). Leaving is an event of its own, on
one AlertRetention aggregate, naming many at once, so that a replay gives the live state and the
events of the alerts themselves stay in the store: history still shows them as they were.

Pure: the service decides when a pass runs and passes `now`; this module decides what is due."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid5

from eventsourcing.domain import Aggregate

from calamari.domain.alerts.alert import RESOLVED
from calamari.domain.base import CalamariAggregate
from calamari.domain.ids import NAMESPACE

DEFAULT_ALERT_RETENTION = timedelta(days=30)
BATCH = 1000  # ids one event names at most (an event stays around 40 KB)
# Retired ids kept with when they left, so that the API can say so; beyond this the oldest are
# forgotten (the store and history still hold them).
NAMED_RETIRED = 20_000

ALERT_RETENTION_ID = uuid5(NAMESPACE, "alert-retention")


def remember(named: dict[str, datetime], ids: Iterable[str], at: datetime) -> None:
    """Note `ids` as retired at `at`, forgetting the oldest beyond NAMED_RETIRED."""
    for i in ids:
        named.pop(i, None)
        named[i] = at
    for oldest in list(named)[:max(0, len(named) - NAMED_RETIRED)]:
        del named[oldest]


class AlertRetention(CalamariAggregate):
    class Started(Aggregate.Created):
        pass

    def __init__(self) -> None:
        self.retired_alerts: dict[str, datetime] = {}  # the newest NAMED_RETIRED, with when
        self.retired_silences: dict[str, datetime] = {}
        self.alerts_retired = 0  # counts over all time
        self.silences_retired = 0

    class AlertsRetired(Aggregate.Event):
        """These resolved alerts and ended silences left the live model (the model unindexes them
        when it folds this event in: ModelState.apply); `older_than` is the pass's cut-off."""

        alerts: list[str]
        silences: list[str]
        older_than: datetime

        def apply(self, retention: AlertRetention) -> None:
            remember(retention.retired_alerts, self.alerts, self.timestamp)
            remember(retention.retired_silences, self.silences, self.timestamp)
            retention.alerts_retired += len(self.alerts)
            retention.silences_retired += len(self.silences)


def alerts_due(model: Any, older_than: datetime) -> list[str]:
    """Ids of the resolved alerts resolved at or before `older_than` (never a firing one)."""
    return [i for i, a in list(model.alerts.items())
            if a.state == RESOLVED and a.resolved_at is not None and a.resolved_at <= older_than]


def silences_due(model: Any, older_than: datetime) -> list[str]:
    """Ids of the silences that ended (by their time or expired by someone) at or before
    `older_than`: an active or future one ends after it."""
    return [i for i, s in list(model.silences.items()) if s.ends_at <= older_than]


def _alert_due(model: Any, alert_id: str, older_than: datetime) -> bool:
    alert = model.alerts.get(alert_id)
    return alert is not None and alert.state == RESOLVED and alert.resolved_at is not None \
        and alert.resolved_at <= older_than


def _silence_due(model: Any, silence_id: str, older_than: datetime) -> bool:
    silence = model.silences.get(silence_id)
    return silence is not None and silence.ends_at <= older_than


def retire_alerts(model: Any, keep: timedelta, now: datetime, alerts: Iterable[str] | None = None,
                  silences: Iterable[str] | None = None) -> tuple[int, int]:
    """Retire the resolved alerts and ended silences older than `keep` at `now` (of `alerts` and
    `silences` when given: those found due earlier, checked again, so that a caller can retire
    many in steps), in events of at most BATCH ids; returns (alerts, silences) retired."""
    older_than = now - keep
    if alerts is None or silences is None:
        alerts, silences = alerts_due(model, older_than), silences_due(model, older_than)
    else:
        alerts = [i for i in alerts if _alert_due(model, i, older_than)]
        silences = [i for i in silences if _silence_due(model, i, older_than)]
    if not alerts and not silences:
        return 0, 0
    retention = model.alert_retention
    if retention is None:
        retention = model.create(AlertRetention, AlertRetention.Started, ALERT_RETENTION_ID, now)
    for start in range(0, max(len(alerts), len(silences)), BATCH):
        batch_alerts, batch_silences = alerts[start:start + BATCH], silences[start:start + BATCH]
        model.emit(retention, AlertRetention.AlertsRetired, now, alerts=batch_alerts, silences=batch_silences,
                   older_than=older_than)
        model.unindex_retired(alerts=batch_alerts, silences=batch_silences)
    return len(alerts), len(silences)
