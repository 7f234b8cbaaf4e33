"""The Alert aggregate: one occurrence of a rule's condition on one object, from raised to
resolved, with who acknowledged it, whether a silence covers it and the changes that came before
it. Raising, updating, resolving, acknowledging and (un)silencing are its events, so history, the
audit and a restart see alerts like every other object."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)
FIRING, RESOLVED = "firing", "resolved"
STATES = (FIRING, RESOLVED)
OBJECT_KINDS = ("osd", "pool", "host", "mon", "cluster", "collector", "server", "request")


class Alert(CalamariAggregate):
    class AlertRaised(Aggregate.Created):
        alert_id: str
        rule: str
        key: str
        severity: str
        fsid: str | None
        object: dict[str, str] | None
        summary: str
        description: str
        labels: dict[str, str]
        changes_before: list[dict[str, Any]]

    def __init__(self, alert_id: str, rule: str, key: str, severity: str, fsid: str | None,
                 object: dict[str, str] | None, summary: str, description: str,  # noqa: A002 - the field's name
                 labels: dict[str, str], changes_before: list[dict[str, Any]]) -> None:
        self.alert_id = alert_id
        self.rule = rule
        self.key = key  # rule and object: one open alert per key
        self.severity = severity
        self.fsid = fsid
        self.object = object
        self.summary = summary
        self.description = description
        self.labels = labels
        self.changes_before = changes_before
        self.state = FIRING
        self.silenced_by: list[str] = []
        self.acknowledged_by: str | None = None
        self.acknowledged_at: str | None = None
        self.acknowledge_comment = ""
        self.raised_at = self.created_on
        self.updated_at = self.created_on
        self.resolved_at: Any = None

    @property
    def firing(self) -> bool:
        return self.state == FIRING

    class AlertUpdated(Aggregate.Event):
        """The condition still holds but reads differently now (its severity or summary)."""

        severity: str
        summary: str
        description: str

        def apply(self, alert: Alert) -> None:
            alert.severity, alert.summary, alert.description = self.severity, self.summary, self.description
            alert.updated_at = self.timestamp

    class AlertResolved(Aggregate.Event):
        reason: str

        def apply(self, alert: Alert) -> None:
            alert.state, alert.resolved_at, alert.updated_at = RESOLVED, self.timestamp, self.timestamp

    class AlertAcknowledged(Aggregate.Event):
        by: str
        comment: str

        def apply(self, alert: Alert) -> None:
            alert.acknowledged_by, alert.acknowledge_comment = self.by, self.comment
            alert.acknowledged_at = self.timestamp.isoformat()
            alert.updated_at = self.timestamp

    class AlertSilenced(Aggregate.Event):
        """Silences now cover the alert (their ids): notifications hold back."""

        silences: list[str]

        def apply(self, alert: Alert) -> None:
            alert.silenced_by, alert.updated_at = list(self.silences), self.timestamp

    class AlertUnsilenced(Aggregate.Event):
        def apply(self, alert: Alert) -> None:
            alert.silenced_by, alert.updated_at = [], self.timestamp


def alert_labels(rule: str, severity: str, fsid: str | None, obj: dict[str, str] | None,
                 extra: dict[str, str] | None = None) -> dict[str, str]:
    """The labels silences match on: the rule's own, then the alert's identity (which wins)."""
    return {**(extra or {}), "alertname": rule, "severity": severity, "cluster": fsid or "",
            "object_kind": obj["kind"] if obj else "", "object_id": obj["id"] if obj else ""}


def _iso(when: Any) -> str | None:
    return when.isoformat() if when is not None else None


def alert_document(alert: Alert) -> dict[str, Any]:
    """The alert as `GET /api/v2/alert/<id>` answers it, and as the notifier is handed it."""
    return {
        "id": alert.alert_id,
        "rule": alert.rule,
        "severity": alert.severity,
        "state": alert.state,
        "silenced": bool(alert.silenced_by),
        "silenced_by": list(alert.silenced_by),
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledge_comment": alert.acknowledge_comment,
        "cluster": alert.fsid,
        "object": dict(alert.object) if alert.object else None,
        "summary": alert.summary,
        "description": alert.description,
        "labels": {**alert.labels, "severity": alert.severity},
        "raised_at": _iso(alert.raised_at),
        "updated_at": _iso(alert.updated_at),
        "resolved_at": _iso(alert.resolved_at),
        "changes_before": list(alert.changes_before),
    }
