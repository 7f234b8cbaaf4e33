"""Alert rules: the built-in set (modelled on the alerts Ceph ships for Prometheus: health error
and warning, OSDs down, a host's OSDs all down, OSDs and pools near full or full, PGs inactive or
unclean, monitor quorum, contact, a failed user request, OSD latency) and user-defined threshold
rules over model values and time series; what an operator may tune, and the checks that name a
bad field. A rule's settings as changed through the API are the AlertRule aggregate's events."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.alerts.alert import CRITICAL, INFO, SEVERITIES, WARNING
from calamari.domain.base import CalamariAggregate

RULE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
OPERATORS = (">", ">=", "<", "<=", "==", "!=")
MAX_FOR_SECONDS = 7 * 24 * 3600
MAX_TEXT = 500
# Series names below ceph.cluster.<fsid>.: nodes of letters, digits, _ and -, with * for any one node.
METRIC_RE = re.compile(r"^[A-Za-z0-9_*-]{1,64}(\.[A-Za-z0-9_*-]{1,64}){0,7}$")
SERIES_LOOKBACK_S = 300  # the newest point of a series counts when it is at most this old

# Model values a user threshold rule may compare, per subject.
THRESHOLD_FIELDS: dict[str, tuple[str, ...]] = {
    "osd": ("up", "in", "reweight", "primary_affinity", "crush_weight"),
    "pool": ("size", "min_size", "pg_num", "pgp_num", "quota_max_objects", "quota_max_bytes"),
    "cluster": ("osds_down", "osds_out", "pgs_inactive", "pgs_unclean", "mons_out_of_quorum", "health_checks"),
}
USER_KINDS = ("threshold", "series")


def compare(op: str, left: float, right: float) -> bool:
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right,
            "==": left == right, "!=": left != right}[op]


@dataclass(frozen=True)
class RuleDefinition:
    name: str
    kind: str
    severity: str
    for_seconds: float
    summary: str
    enabled: bool = True
    builtin: bool = True
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "severity": self.severity, "for_seconds": self.for_seconds,
                "enabled": self.enabled, "builtin": self.builtin, "summary": self.summary,
                "description": self.description, "params": dict(self.params)}


def _builtin(name: str, kind: str, severity: str, for_seconds: float, summary: str, description: str,
             **params: Any) -> RuleDefinition:
    return RuleDefinition(name, kind, severity, for_seconds, summary, True, True, description, params)


BUILTIN_RULES: dict[str, RuleDefinition] = {r.name: r for r in (
    _builtin("health_error", "health_error", CRITICAL, 300, "Cluster health is HEALTH_ERR",
             "The cluster has reported HEALTH_ERR for longer than the rule's duration; see its health checks."),
    _builtin("health_warning", "health_warning", WARNING, 900, "Cluster health is HEALTH_WARN",
             "The cluster has reported HEALTH_WARN for longer than the rule's duration."),
    _builtin("osd_down", "osd_down", WARNING, 300, "An OSD is down",
             "An OSD has been marked down for longer than the rule's duration."),
    _builtin("host_osds_down", "host_osds_down", WARNING, 300, "All OSDs of a host are down",
             "Every OSD the CRUSH map places on the host is down: the host or its network may be gone."),
    _builtin("osd_nearfull", "health_check", WARNING, 300, "OSDs are near full",
             "Ceph reports OSDs above their nearfull or backfillfull ratio.",
             codes=["OSD_NEARFULL", "OSD_BACKFILLFULL"]),
    _builtin("osd_full", "health_check", CRITICAL, 60, "OSDs are full",
             "Ceph reports OSDs above their full ratio: writes to their pools are blocked.", codes=["OSD_FULL"]),
    _builtin("pool_near_full", "health_check", WARNING, 300, "Pools are near their quota or capacity",
             "Ceph reports pools near full.", codes=["POOL_NEAR_FULL", "POOL_NEARFULL"]),
    _builtin("pool_full", "health_check", CRITICAL, 60, "Pools are full",
             "Ceph reports pools at their quota or capacity: writes to them are blocked.", codes=["POOL_FULL"]),
    _builtin("pgs_inactive", "pgs", CRITICAL, 300, "PGs are inactive",
             "Placement groups have not been active for longer than the rule's duration: their data cannot "
             "be read or written.", want="active"),
    _builtin("pgs_unclean", "pgs", WARNING, 900, "PGs are not clean",
             "Placement groups have not been clean for longer than the rule's duration.", want="clean"),
    _builtin("mon_quorum_lost", "mon_quorum_lost", CRITICAL, 30, "Monitor quorum lost",
             "Fewer monitors than a majority are in quorum: the cluster cannot change its maps."),
    _builtin("mon_quorum_reduced", "mon_quorum_reduced", WARNING, 30, "Monitor quorum reduced",
             "Monitors are out of quorum; one more failure may lose it."),
    _builtin("collector_contact_lost", "server_contact_lost", WARNING, 0, "A collector is out of contact",
             "The collector on a host has not been heard from within the contact timeout."),
    _builtin("cluster_stale", "cluster_stale", CRITICAL, 0, "No collector reports for the cluster",
             "No collector has reported for the cluster within the contact timeout: what is shown is stale."),
    _builtin("request_failed", "request_failed", WARNING, 0, "A user request failed",
             "A change asked for through the API failed; the alert resolves after keep_seconds.",
             keep_seconds=3600),
    _builtin("osd_high_apply_latency", "series", WARNING, 300, "OSD apply latency is high",
             "An OSD's apply latency has been above the threshold for longer than the rule's duration.",
             metric="osd.*.apply_latency_ms", op=">", value=500.0),
)}

# What PATCH may change, per rule kind, beyond enabled/severity/for_seconds/summary/description.
TUNABLE_PARAMS: dict[str, tuple[str, ...]] = {
    "request_failed": ("keep_seconds",),
    "series": ("metric", "op", "value"),
    "threshold": ("subject", "field", "op", "value"),
}
COMMON_FIELDS = ("enabled", "severity", "for_seconds", "summary", "description")


class RuleInvalid(ValueError):
    """A rule definition or change that cannot be taken; `errors` names each bad field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_common(values: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "enabled" in values and not isinstance(values["enabled"], bool):
        errors["enabled"] = "true or false"
    if "severity" in values and values["severity"] not in SEVERITIES:
        errors["severity"] = f"one of {', '.join(SEVERITIES)}"
    if "for_seconds" in values:
        value = values["for_seconds"]
        if not _number(value) or not 0 <= value <= MAX_FOR_SECONDS:
            errors["for_seconds"] = f"a number of seconds from 0 to {MAX_FOR_SECONDS}"
    for name in ("summary", "description"):
        if name in values and (not isinstance(values[name], str) or len(values[name]) > MAX_TEXT
                               or any(ord(c) < 32 for c in values[name])):
            errors[name] = f"text of at most {MAX_TEXT} characters, no control characters"
    if "summary" in values and isinstance(values["summary"], str) and not values["summary"].strip():
        errors["summary"] = "must not be empty"
    return errors


def check_params(kind: str, params: dict[str, Any]) -> dict[str, str]:
    """The bad fields of a rule kind's parameters (`params.<name>`)."""
    errors: dict[str, str] = {}
    allowed = TUNABLE_PARAMS.get(kind, ())
    for name in params:
        if name not in allowed:
            errors[f"params.{name}"] = (f"unknown parameter; {kind} rules take {', '.join(allowed)}" if allowed
                                        else f"{kind} rules take no parameters")
    if kind == "request_failed" and "keep_seconds" in params:
        value = params["keep_seconds"]
        if not _number(value) or not 0 < value <= MAX_FOR_SECONDS:
            errors["params.keep_seconds"] = f"a number of seconds above 0, at most {MAX_FOR_SECONDS}"
    if kind in ("series", "threshold"):
        if params.get("op") not in OPERATORS:
            errors["params.op"] = f"one of {' '.join(OPERATORS)}"
        if not _number(params.get("value")):
            errors["params.value"] = "a finite number"
    if kind == "series":
        metric = params.get("metric")
        if not isinstance(metric, str) or not METRIC_RE.match(metric):
            errors["params.metric"] = ("a series name below ceph.cluster.<fsid>. (e.g. osd.*.apply_latency_ms): "
                                       "up to 8 dot-separated nodes of letters, digits, _, - or *")
    if kind == "threshold":
        subject = params.get("subject")
        if not isinstance(subject, str) or subject not in THRESHOLD_FIELDS:
            errors["params.subject"] = f"one of {', '.join(THRESHOLD_FIELDS)}"
        elif params.get("field") not in THRESHOLD_FIELDS[subject]:
            errors["params.field"] = f"for {subject}: one of {', '.join(THRESHOLD_FIELDS[subject])}"
    return errors


def tuned(rule: RuleDefinition, changes: dict[str, Any]) -> RuleDefinition:
    """The rule with `changes` (the PATCH body) applied; RuleInvalid naming every bad field."""
    errors = {k: "unknown field" for k in changes if k not in (*COMMON_FIELDS, "params")}
    errors.update(check_common(changes))
    params = dict(rule.params)
    if "params" in changes:
        if not isinstance(changes["params"], dict):
            errors["params"] = "an object"
        else:
            unknown = {f"params.{k}": "unknown parameter" for k in changes["params"]
                       if k not in TUNABLE_PARAMS.get(rule.kind, ())}
            errors.update(unknown or {})
            params.update(changes["params"])
            if not unknown:
                errors.update(check_params(rule.kind, params))
    if errors:
        raise RuleInvalid(errors)
    common = {k: v for k, v in changes.items() if k in COMMON_FIELDS}
    return replace(rule, params=params, **common)


def user_rule(definition: dict[str, Any]) -> RuleDefinition:
    """A user-defined rule from its JSON form (POST); RuleInvalid naming every bad field."""
    errors: dict[str, str] = {}
    known = ("name", "kind", *COMMON_FIELDS, "params")
    errors.update({k: "unknown field" for k in definition if k not in known})
    name = definition.get("name")
    if not isinstance(name, str) or not RULE_NAME_RE.match(name):
        errors["name"] = "1-64 lower-case letters, digits and _, starting with a letter"
    elif name in BUILTIN_RULES:
        errors["name"] = "the name of a built-in rule"
    kind = definition.get("kind")
    if kind not in USER_KINDS:
        errors["kind"] = f"one of {', '.join(USER_KINDS)}"
    for required in ("severity", "summary"):
        if required not in definition:
            errors[required] = "required"
    errors.update(check_common(definition))
    params = definition.get("params")
    if not isinstance(params, dict):
        errors["params"] = "an object with the rule's parameters"
    elif kind in USER_KINDS:
        errors.update(check_params(kind, params))
    if errors:
        raise RuleInvalid(errors)
    return RuleDefinition(name, kind, definition["severity"], float(definition.get("for_seconds", 0)),
                          definition["summary"], definition.get("enabled", True), False,
                          definition.get("description", ""), dict(params))  # type: ignore[arg-type]


class AlertRule(CalamariAggregate):
    """A rule's settings as changed through the API: a user rule's whole definition, or a built-in
    rule's changes over its defaults. Every change names who made it."""

    class AlertRuleDefined(Aggregate.Created):
        name: str
        definition: dict[str, Any]  # a user rule's document, or a built-in rule's changed fields
        by: str

    def __init__(self, name: str, definition: dict[str, Any], by: str) -> None:
        self.name = name
        self.definition = definition

    class AlertRuleChanged(Aggregate.Event):
        definition: dict[str, Any]
        changes: dict[str, Any]
        by: str

        def apply(self, rule: AlertRule) -> None:
            rule.definition = self.definition


def effective_rule(name: str, stored: AlertRule | None) -> RuleDefinition | None:
    """The rule as it applies now: a built-in one with its stored changes, or a user rule."""
    base = BUILTIN_RULES.get(name)
    if stored is None:
        return base
    if base is not None:
        return replace(base, **{k: v for k, v in stored.definition.items() if k != "params"},
                       params={**base.params, **stored.definition.get("params", {})})
    d = stored.definition
    return RuleDefinition(d["name"], d["kind"], d["severity"], d["for_seconds"], d["summary"], d["enabled"], False,
                          d.get("description", ""), dict(d["params"]))


def changed_fields(base: RuleDefinition, rule: RuleDefinition) -> dict[str, Any]:
    """A built-in rule's fields that differ from its defaults (what is stored for it)."""
    before, after = base.document(), rule.document()
    out = {k: v for k, v in after.items() if k in COMMON_FIELDS and before[k] != v}
    params = {k: v for k, v in after["params"].items() if before["params"].get(k) != v}
    if params:
        out["params"] = params
    return out


__all__ = ["BUILTIN_RULES", "CRITICAL", "INFO", "OPERATORS", "SERIES_LOOKBACK_S", "THRESHOLD_FIELDS", "WARNING",
           "AlertRule", "RuleDefinition", "RuleInvalid", "changed_fields", "compare", "effective_rule", "tuned",
           "user_rule"]
