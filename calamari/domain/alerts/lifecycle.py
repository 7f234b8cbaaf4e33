"""The changes people and the engine make to alerts, silences and rules, on the model's state:
raising an alert, acknowledging it, creating and expiring silences, defining and tuning rules.
Each checks its input first, so a bad one changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import uuid5

from calamari.domain.alerts.alert import Alert
from calamari.domain.alerts.rules import (
    BUILTIN_RULES,
    AlertRule,
    RuleDefinition,
    RuleInvalid,
    changed_fields,
    effective_rule,
    tuned,
    user_rule,
)
from calamari.domain.alerts.silence import MAX_COMMENT_LENGTH, Silence, SilenceInvalid, parse_matchers
from calamari.domain.ids import NAMESPACE
from calamari.domain.model_state import ModelState

MAX_SILENCE = timedelta(days=366)
MAX_USER_RULES = 200


class AlertConflict(ValueError):
    """The change does not fit the object's state (the API answers 409)."""


def raise_alert(model: ModelState, alert_id: str, rule: str, key: str, severity: str, fsid: str | None,
                object: dict[str, str] | None, summary: str, description: str,  # noqa: A002 - the field's name
                labels: dict[str, str], changes_before: list[dict[str, Any]], at: datetime) -> Alert:
    return model.create(Alert, Alert.AlertRaised, uuid5(NAMESPACE, f"alert/{alert_id}"), at, alert_id=alert_id,
                        rule=rule, key=key, severity=severity, fsid=fsid, object=object, summary=summary,
                        description=description, labels=labels, changes_before=changes_before)


def acknowledge(model: ModelState, alert_id: str, by: str, comment: str, at: datetime) -> Alert:
    """KeyError for an unknown alert; AlertConflict when it is already acknowledged."""
    alert = model.alerts[alert_id]
    if alert.acknowledged_by is not None:
        raise AlertConflict(f"already acknowledged by {alert.acknowledged_by}")
    model.emit(alert, Alert.AlertAcknowledged, at, by=by, comment=comment)
    return alert


def create_silence(model: ModelState, silence_id: str, body: dict[str, Any], by: str, now: datetime) -> Silence:
    """A silence from its JSON form (matchers, comment, ends_at or duration_seconds, starts_at);
    SilenceInvalid naming each bad field."""
    errors: dict[str, str] = {}
    try:
        matchers = [m.as_dict() for m in parse_matchers(body.get("matchers"))]
    except SilenceInvalid as err:
        errors.update(err.errors)
        matchers = []
    comment = body.get("comment")
    if not isinstance(comment, str) or not comment.strip() or len(comment) > MAX_COMMENT_LENGTH:
        errors["comment"] = f"required: why, in at most {MAX_COMMENT_LENGTH} characters"
    starts_at = body.get("starts_at") or now
    ends_at = body.get("ends_at")
    duration = body.get("duration_seconds")
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None:
        errors["starts_at"] = "an ISO 8601 time with a time zone"
    elif abs(starts_at - now) > MAX_SILENCE:
        errors["starts_at"] = f"within {MAX_SILENCE.days} days of now"
    elif ends_at is None and duration is None:
        errors["ends_at"] = "give ends_at or duration_seconds"
    elif ends_at is not None and duration is not None:
        errors["duration_seconds"] = "give ends_at or duration_seconds, not both"
    else:
        if duration is not None:
            if isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 < duration:
                errors["duration_seconds"] = "a number of seconds above 0"
            else:
                ends_at = starts_at + timedelta(seconds=min(float(duration), MAX_SILENCE.total_seconds() + 1))
        if ends_at is not None and "duration_seconds" not in errors:
            name = "ends_at" if duration is None else "duration_seconds"
            if not isinstance(ends_at, datetime) or ends_at.tzinfo is None:
                errors[name] = "an ISO 8601 time with a time zone"
            elif ends_at <= max(starts_at, now):
                errors[name] = "the silence must end in the future, after it starts"
            elif ends_at - starts_at > MAX_SILENCE:
                errors[name] = f"a silence lasts at most {MAX_SILENCE.days} days"
    if errors:
        raise SilenceInvalid(errors)
    return model.create(Silence, Silence.SilenceCreated, uuid5(NAMESPACE, f"silence/{silence_id}"), now,
                        silence_id=silence_id, matchers=matchers, starts_at=starts_at, ends_at=ends_at,
                        created_by=by, comment=comment)


def expire_silence(model: ModelState, silence_id: str, by: str, now: datetime) -> Silence:
    """KeyError for an unknown silence; AlertConflict when it has already ended."""
    silence = model.silences[silence_id]
    if silence.expired_by is not None or silence.ends_at <= now:
        raise AlertConflict("the silence has already ended")
    model.emit(silence, Silence.SilenceExpired, now, by=by)
    return silence


def rules(model: ModelState) -> dict[str, RuleDefinition]:
    """Every rule as it applies now: the built-in ones (with their changes), then user rules."""
    out = {name: effective_rule(name, model.alert_rules.get(name)) for name in BUILTIN_RULES}
    for name, stored in model.alert_rules.items():
        if name not in out:
            out[name] = effective_rule(name, stored)
    return {name: rule for name, rule in out.items() if rule is not None}


def tune_rule(model: ModelState, name: str, changes: dict[str, Any], by: str, at: datetime) -> RuleDefinition | None:
    """Change a rule's settings (PATCH): KeyError for an unknown rule, RuleInvalid naming each bad
    field; None when nothing changes."""
    current = rules(model)[name]
    new = tuned(current, changes)
    if new == current:
        return None
    base = BUILTIN_RULES.get(name)
    definition = changed_fields(base, new) if base is not None else new.document()
    stored = model.alert_rules.get(name)
    applied = {k: v for k, v in changes.items()}
    if stored is None:
        model.create(AlertRule, AlertRule.AlertRuleDefined, uuid5(NAMESPACE, f"alert-rule/{name}"), at, name=name,
                     definition=definition, by=by)
    else:
        model.emit(stored, AlertRule.AlertRuleChanged, at, definition=definition, changes=applied, by=by)
    return new


def define_rule(model: ModelState, body: dict[str, Any], by: str, at: datetime) -> RuleDefinition:
    """A user rule (POST): RuleInvalid naming each bad field, AlertConflict when the name is taken."""
    rule = user_rule(body)
    if rule.name in model.alert_rules:
        raise AlertConflict(f"a rule named {rule.name} exists")
    if sum(1 for n in model.alert_rules if n not in BUILTIN_RULES) >= MAX_USER_RULES:
        raise RuleInvalid({"name": f"at most {MAX_USER_RULES} user rules"})
    model.create(AlertRule, AlertRule.AlertRuleDefined, uuid5(NAMESPACE, f"alert-rule/{rule.name}"), at,
                 name=rule.name, definition=rule.document(), by=by)
    return rule
