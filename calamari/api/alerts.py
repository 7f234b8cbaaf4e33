"""Alerts, silences and alert rules: list and read alerts (`?state=&severity=&cluster=&object=`,
paging and `?fields=`), acknowledge one; create, list and expire silences; list the rules, tune one
(operators), define a user rule. Handlers only translate: the alerting service
(calamari.service.alerting) checks and stores, answering 400 naming the bad field before anything
is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Blueprint, Response, request
from pydantic import Field

from calamari.api.common import ApiError, current_user, doc, json_response, parse_body, services
from calamari.api.history import history_of
from calamari.api.listing import (
    LIST_HEADERS,
    PAGE_QUERY,
    choice_arg,
    etag,
    fields_arg,
    fields_query,
    plain_list,
    unchanged,
    values_arg,
)
from calamari.api.lookup import retired_error
from calamari.api.schemas import Strict
from calamari.domain.alerts.alert import OBJECT_KINDS, SEVERITIES, STATES, alert_document
from calamari.domain.alerts.lifecycle import AlertConflict
from calamari.domain.alerts.rules import MAX_FOR_SECONDS, MAX_TEXT, RuleInvalid
from calamari.domain.alerts.silence import MAX_COMMENT_LENGTH, MAX_MATCHERS, MAX_VALUE_LENGTH, SilenceInvalid
from calamari.service.history import HistoryArchivedError, HistoryError

blueprint = Blueprint("alerts", __name__, url_prefix="/api/v2")

ALERT_FIELDS = ("id", "rule", "severity", "state", "silenced", "silenced_by", "acknowledged_by", "acknowledged_at",
                "acknowledge_comment", "cluster", "object", "summary", "description", "labels", "raised_at",
                "updated_at", "resolved_at", "changes_before")
_TIME = {"type": ["string", "null"], "format": "date-time"}
CHANGE_SCHEMA = {"type": "object", "properties": {
    "time": {"type": "string"}, "type": {"type": "string"}, "cluster": {"type": ["string", "null"]},
    "object": {"type": "object"}, "user": {"type": ["string", "null"]}, "message": {"type": ["string", "null"]}}}
ALERT_SCHEMA = {"type": "object", "required": ["id", "rule", "severity", "state"], "properties": {
    "id": {"type": "string"}, "rule": {"type": "string"}, "severity": {"enum": list(SEVERITIES)},
    "state": {"enum": list(STATES)}, "silenced": {"type": "boolean"},
    "silenced_by": {"type": "array", "items": {"type": "string"}},
    "acknowledged_by": {"type": ["string", "null"]}, "acknowledged_at": _TIME, "acknowledge_comment": {"type": "string"},
    "cluster": {"type": ["string", "null"]},
    "object": {"type": ["object", "null"], "properties": {"kind": {"enum": list(OBJECT_KINDS)}, "id": {"type": "string"}}},
    "summary": {"type": "string"}, "description": {"type": "string"},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "raised_at": _TIME, "updated_at": _TIME, "resolved_at": _TIME,
    "changes_before": {"type": "array", "items": CHANGE_SCHEMA,
                       "description": "the changes of the window before the alert on its objects and its cluster"}}}
ALERT_LIST = {"type": "array", "items": ALERT_SCHEMA}
SILENCE_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string"}, "matchers": {"type": "array", "items": {"type": "object"}},
    "starts_at": {"type": "string"}, "ends_at": {"type": "string"}, "created_by": {"type": "string"},
    "comment": {"type": "string"}, "state": {"enum": ["pending", "active", "expired"]},
    "expired_by": {"type": ["string", "null"]}, "created_at": {"type": "string"}}}
RULE_SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string"}, "kind": {"type": "string"}, "severity": {"enum": list(SEVERITIES)},
    "for_seconds": {"type": "number"}, "enabled": {"type": "boolean"}, "builtin": {"type": "boolean"},
    "summary": {"type": "string"}, "description": {"type": "string"}, "params": {"type": "object"}}}
ALERT_QUERY = {
    "state": {"type": "string", "description": "firing, resolved (comma-separated)"},
    "severity": {"type": "string", "description": "critical, warning, info (comma-separated)"},
    "cluster": {"type": "string", "description": "fsids (comma-separated)"},
    "object": {"type": "string", "description": "`kind` or `kind:id`, e.g. osd:3 (comma-separated)"},
    "at": {"type": "string", "description": "the alerts as they were at a time (ISO 8601) or event position, "
                                            "retired ones included (no ETag)"},
    "fields": fields_query(ALERT_FIELDS), **PAGE_QUERY}


class AlertAcknowledge(Strict):
    comment: str = Field(default="", max_length=MAX_COMMENT_LENGTH)


class SilenceCreate(Strict):
    # each {name, value, is_regex, is_equal}: checked by the domain, which names the bad field
    matchers: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_MATCHERS,
        description=f"{{name, value, is_regex, is_equal}}: a label name, a value (a regular expression matched in "
                    f"full when is_regex; at most {MAX_VALUE_LENGTH} characters), and whether it must match")
    comment: str = Field(min_length=1, max_length=MAX_COMMENT_LENGTH)
    starts_at: str | None = Field(default=None, max_length=64, description="ISO 8601 with a time zone; default now")
    ends_at: str | None = Field(default=None, max_length=64, description="ISO 8601 with a time zone")
    duration_seconds: float | None = Field(default=None, ge=1, description="instead of ends_at")


Severity = Literal["critical", "warning", "info"]


class AlertRuleUpdate(Strict):
    enabled: bool | None = None
    severity: Severity | None = None
    for_seconds: float | None = Field(default=None, ge=0, le=MAX_FOR_SECONDS)
    summary: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    params: dict[str, Any] | None = Field(default=None, description="the kind's parameters, e.g. value, op, metric")


class AlertRuleCreate(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["threshold", "series"]
    severity: Severity
    summary: str = Field(min_length=1, max_length=MAX_TEXT)
    description: str = Field(default="", max_length=MAX_TEXT)
    for_seconds: float = Field(default=0, ge=0, le=MAX_FOR_SECONDS)
    enabled: bool = True
    params: dict[str, Any] = Field(description="threshold: subject, field, op, value; series: metric, op, value")


def _alerting() -> Any:
    return services().alerting


def _object_filter() -> list[tuple[str, str | None]] | None:
    values = values_arg("object")
    if values is None:
        return None
    wanted = []
    for value in values:
        kind, sep, obj_id = value.partition(":")
        if kind not in OBJECT_KINDS or (sep and not obj_id):
            raise ApiError(400, "invalid query parameter object",
                           {"object": f"`kind` or `kind:id`, kind one of {', '.join(OBJECT_KINDS)}"})
        wanted.append((kind, obj_id if sep else None))
    return wanted


def _matches_object(doc_object: dict[str, str] | None, wanted: list[tuple[str, str | None]]) -> bool:
    return doc_object is not None and any(doc_object["kind"] == kind and (obj_id is None or doc_object["id"] == obj_id)
                                          for kind, obj_id in wanted)


def _alerts_at(at: str) -> list[dict[str, Any]]:
    """Every alert's document as it was at `at` (a time or position), from the stored events:
    those retired since are there too."""
    history = history_of(services().service)
    try:
        point = history.point(at, "at")
    except HistoryArchivedError as err:
        error = ApiError(410, f"invalid at: {err.reason}", {"at": err.reason})
        error.extra = {"kept_from": err.kept_from.as_dict()}
        raise error from None
    except HistoryError as err:
        raise ApiError(400, f"invalid {err.field}: {err.reason}", {err.field: err.reason}) from None
    model = history.model_at(point.position)
    try:
        docs = [alert_document(a) for a in list(model.alerts.values())]
    finally:
        history.keep(point.position, model)
    docs.sort(key=lambda d: (d["raised_at"], d["id"]), reverse=True)
    return docs


@blueprint.get("/alert")
@doc("Alerts, newest first; filters `?state=&severity=&cluster=&object=`, paging, `?fields=`; an ETag; "
     "`?at=` a past time or position: the alerts as they were then (those retired since too)",
     response=ALERT_LIST, query=ALERT_QUERY, errors=(400, 401, 410), etag=True, headers=LIST_HEADERS)
def alerts() -> Response:
    states = choice_arg("state", STATES)
    severities = choice_arg("severity", SEVERITIES)
    clusters = values_arg("cluster")
    objects = _object_filter()
    fields = fields_arg(ALERT_FIELDS)
    at = request.args.get("at")
    if at is not None:
        tag, found = None, _alerts_at(at)
    else:
        tag = etag(_alerting().generation)
        if (answer := unchanged(tag)) is not None:
            return answer
        found = _alerting().alerts()
    matching = [d for d in found
                if (states is None or d["state"] in states) and (severities is None or d["severity"] in severities)
                and (clusters is None or d["cluster"] in clusters)
                and (objects is None or _matches_object(d["object"], objects))]
    return plain_list(matching, tag, fields)


def _alert(alert_id: str) -> dict[str, Any]:
    document = _alerting().alert(alert_id)
    if document is None:
        raise retired_error("alert", alert_id, _alerting().retired("alert", alert_id), "--alert-retention")
    return document


@blueprint.get("/alert/<alert_id>")
@doc("One alert, with the changes that came before it; 410 for one retired from the live model (history keeps it)",
     response=ALERT_SCHEMA, errors=(401, 404, 410))
def alert(alert_id: str) -> Response:
    return json_response(_alert(alert_id))


@blueprint.post("/alert/<alert_id>/acknowledge")
@doc("Acknowledge an alert (who and why are recorded); 409 if it is acknowledged already", body=AlertAcknowledge,
     response=ALERT_SCHEMA, errors=(400, 401, 403, 404, 409, 410, 415, 503))
def acknowledge(alert_id: str) -> Response:
    # the body is optional; one that is sent must be JSON (415 otherwise, before anything else)
    body = parse_body(AlertAcknowledge) if request.get_data(cache=True).strip() else AlertAcknowledge()
    _alert(alert_id)
    try:
        document = _alerting().acknowledge(alert_id, current_user().username, body.comment)
    except AlertConflict as err:
        raise ApiError(409, str(err)) from None
    return json_response(document)


# ---------------------------------------------------------------------------- silences

def _time_field(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid input", {name: "an ISO 8601 time, e.g. 2026-01-31T12:00:00Z"}) from None
    if when.tzinfo is None:
        raise ApiError(400, "invalid input", {name: "must carry a time zone (e.g. Z)"})
    return when


@blueprint.get("/silence")
@doc("Silences, newest first (`?state=active,pending,expired`)", response={"type": "array", "items": SILENCE_SCHEMA},
     query={"state": {"type": "string"}, **PAGE_QUERY}, errors=(400, 401), etag=True, headers=LIST_HEADERS)
def silences() -> Response:
    states = choice_arg("state", ("active", "pending", "expired"))
    tag = etag(_alerting().generation, int(_alerting().clock().timestamp()) // 10)  # states move with time
    if (answer := unchanged(tag)) is not None:
        return answer
    matching = [s for s in _alerting().silences() if states is None or s["state"] in states]
    return plain_list(matching, tag)


@blueprint.get("/silence/<silence_id>")
@doc("One silence; 410 for one retired from the live model (history keeps it)", response=SILENCE_SCHEMA,
     errors=(401, 404, 410))
def silence(silence_id: str) -> Response:
    document = _alerting().silence(silence_id)
    if document is None:
        raise retired_error("silence", silence_id, _alerting().retired("silence", silence_id), "--alert-retention")
    return json_response(document)


@blueprint.post("/silence")
@doc("Silence the alerts whose labels match (alertname, severity, cluster, object_kind, object_id): "
     "`ends_at` or `duration_seconds`, and a comment", body=SilenceCreate, response=SILENCE_SCHEMA, status=201,
     errors=(400, 401, 403, 415, 503))
def create_silence() -> Response:
    body = parse_body(SilenceCreate)
    data = body.model_dump(exclude_unset=True)
    data["starts_at"] = _time_field("starts_at", body.starts_at)
    if body.ends_at is not None:
        data["ends_at"] = _time_field("ends_at", body.ends_at)
    try:
        document = _alerting().create_silence(data, current_user().username)
    except SilenceInvalid as err:
        raise ApiError(400, "invalid silence", err.errors) from None
    return json_response(document, 201)


@blueprint.delete("/silence/<silence_id>")
@doc("Expire a silence now; 409 if it has ended", response=SILENCE_SCHEMA, errors=(401, 403, 404, 409, 410, 503))
def expire_silence(silence_id: str) -> Response:
    try:
        document = _alerting().expire_silence(silence_id, current_user().username)
    except KeyError:
        raise retired_error("silence", silence_id, _alerting().retired("silence", silence_id),
                            "--alert-retention") from None
    except AlertConflict as err:
        raise ApiError(409, str(err)) from None
    return json_response(document)


# ---------------------------------------------------------------------------- rules

@blueprint.get("/alert-rule")
@doc("The alert rules: the built-in ones as tuned, and user rules", response={"type": "array", "items": RULE_SCHEMA},
     errors=(401,))
def rules() -> Response:
    return json_response([r.document() for r in _alerting().rules()])


@blueprint.patch("/alert-rule/<name>")
@doc("Enable, disable or tune a rule (severity, for_seconds, texts, its kind's params); 304 if nothing changes",
     body=AlertRuleUpdate, response=RULE_SCHEMA, errors=(400, 401, 403, 404, 415, 503))
def tune_rule(name: str) -> Response:
    body = parse_body(AlertRuleUpdate).model_dump(exclude_unset=True)
    if not body:
        raise ApiError(400, "nothing to change: give at least one field")
    try:
        rule = _alerting().tune_rule(name, body, current_user().username)
    except KeyError:
        raise ApiError(404, f"no alert rule {name[:100]}") from None
    except RuleInvalid as err:
        raise ApiError(400, "invalid rule settings", err.errors) from None
    if rule is None:
        return Response(status=304)
    return json_response(rule.document())


@blueprint.post("/alert-rule")
@doc("Define a user rule: a threshold on a model value (subject osd|pool|cluster, field, op, value) or on a time "
     "series below ceph.cluster.<fsid>. (metric, op, value)", body=AlertRuleCreate, response=RULE_SCHEMA, status=201,
     errors=(400, 401, 403, 409, 415, 503))
def define_rule() -> Response:
    body = parse_body(AlertRuleCreate).model_dump()
    try:
        rule = _alerting().define_rule(body, current_user().username)
    except RuleInvalid as err:
        raise ApiError(400, "invalid rule", err.errors) from None
    except AlertConflict as err:
        raise ApiError(409, str(err)) from None
    return json_response(rule.document(), 201)
