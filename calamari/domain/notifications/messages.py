"""What a notification says, per kind of channel: the webhook's JSON body, the e-mail's subject
and text, Alertmanager's alert object. Pure: the sending time comes in with the calls; the
adapters (calamari.adapters.notify) only send these."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from calamari.domain.notifications.notification import RESOLVED

MESSAGE_VERSION = 1
MAX_CHANGES_IN_TEXT = 50
# a repeat keeps an Alertmanager alert alive this many repeat intervals (Prometheus sends 4 evaluation intervals)
ALERTMANAGER_LIFETIMES = 4
_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")


def webhook_body(notification_id: str, channel_id: str, reason: str, alert: dict[str, Any],
                 sent_at: datetime) -> dict[str, Any]:
    return {"version": MESSAGE_VERSION, "notification_id": notification_id, "channel": channel_id, "reason": reason,
            "sent_at": sent_at.isoformat(), "alert": alert}


def _object_text(alert: dict[str, Any]) -> str:
    obj = alert.get("object")
    return f"{obj.get('kind')} {obj.get('id')}" if isinstance(obj, dict) else "-"


def change_lines(alert: dict[str, Any], limit: int = MAX_CHANGES_IN_TEXT) -> list[str]:
    """The changes before the alert, one line each (the newest `limit`)."""
    changes = alert.get("changes_before") or []
    if not isinstance(changes, list):
        return []
    lines = []
    for entry in changes[-limit:]:
        if isinstance(entry, dict):
            # the alerting service records time, type, message (None when the event feed has no
            # words for it) and user (who made a user request); when/by are the older names
            who = entry.get("user") or entry.get("by") or entry.get("username")
            lines.append(" ".join(str(part) for part in (entry.get("time") or entry.get("when"),
                                                          entry.get("severity"),
                                                          entry.get("message") or entry.get("type"),
                                                          f"(by {who})" if who else None) if part))
        else:
            lines.append(str(entry))
    left_out = max(0, len(changes) - limit) + (alert.get("changes_left_out") or 0)
    if left_out:
        lines.insert(0, f"({left_out} earlier changes left out)")
    return lines


def email_subject(reason: str, alert: dict[str, Any]) -> str:
    state = "RESOLVED" if reason == RESOLVED else "FIRING"
    text = f"[calamari] {state} {alert.get('severity', '')}: {alert.get('summary') or alert.get('rule')}"
    return " ".join(text.split())[:200]  # one line: no header injection


def email_text(notification_id: str, reason: str, alert: dict[str, Any]) -> str:
    labels = alert.get("labels") or {}
    lines = [
        str(alert.get("summary") or alert.get("rule")), "",
        str(alert.get("description") or ""), "",
        f"State:        {alert.get('state')} ({reason})",
        f"Severity:     {alert.get('severity')}",
        f"Rule:         {alert.get('rule')}",
        f"Cluster:      {alert.get('cluster') or '-'}",
        f"Object:       {_object_text(alert)}",
        f"Raised at:    {alert.get('raised_at')}",
        f"Resolved at:  {alert.get('resolved_at') or '-'}",
        f"Acknowledged: {alert.get('acknowledged_by') or '-'}",
        f"Labels:       {', '.join(f'{k}={v}' for k, v in sorted(labels.items())) or '-'}",
        f"Alert id:     {alert.get('id')}",
        f"Notification: {notification_id}",
        "", "What changed before it:",
    ]
    lines += [f"  {line}" for line in change_lines(alert)] or ["  (nothing recorded)"]
    return "\n".join(lines) + "\n"


def label_name(name: str) -> str:
    """A name Alertmanager takes as a label: [A-Za-z_][A-Za-z0-9_]*."""
    cleaned = _LABEL_NAME.sub("_", name) or "_"
    return cleaned if not cleaned[0].isdigit() else f"_{cleaned}"


def alertmanager_alert(notification_id: str, reason: str, alert: dict[str, Any], repeat_interval_s: int,
                       sent_at: datetime) -> dict[str, Any]:
    """One alert of Alertmanager's v2 API (`POST /api/v2/alerts` takes a list of them). Alertmanager
    groups, deduplicates (by labels), silences and routes it; a firing one ends unless sent
    again, so its endsAt is a few repeat intervals ahead."""
    labels = {label_name(k): v for k, v in (alert.get("labels") or {}).items()}
    labels.update({"alertname": str(alert.get("rule")), "severity": str(alert.get("severity")),
                   "calamari_alert_id": str(alert.get("id"))})
    if alert.get("cluster"):
        labels["cluster"] = str(alert["cluster"])
    obj = alert.get("object")
    if isinstance(obj, dict):
        labels["object_kind"], labels["object_id"] = str(obj.get("kind")), str(obj.get("id"))
    annotations = {"summary": str(alert.get("summary") or ""), "description": str(alert.get("description") or ""),
                   "notification_id": notification_id}
    changes = change_lines(alert, 20)
    if changes:
        annotations["changes_before"] = "\n".join(changes)
    if reason == RESOLVED:
        ends = str(alert.get("resolved_at"))
    else:
        lifetime = ALERTMANAGER_LIFETIMES * (repeat_interval_s or 3600)
        ends = (sent_at + timedelta(seconds=lifetime)).isoformat()
    return {"labels": labels, "annotations": annotations, "startsAt": str(alert.get("raised_at")), "endsAt": ends}
