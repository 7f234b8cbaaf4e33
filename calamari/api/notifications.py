"""Notification channels (admins) and the outbox (operators): where alerts are sent, and what was
sent, is waiting, or failed and why. A channel's `secret` (webhook HMAC key, SMTP password,
Alertmanager bearer token) is write-only: answers say `has_secret`, never the secret."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, request
from pydantic import Field

from calamari.api.common import ApiError, current_user, doc, json_response, parse_body, services
from calamari.api.listing import choice_arg, page_args
from calamari.api.lookup import retired_error
from calamari.api.schemas import Strict
from calamari.domain.notifications.channel import (
    KINDS,
    MAX_RECIPIENTS,
    MAX_SECRET,
    MAX_URL,
    SECURITIES,
    SEVERITIES,
    ChannelError,
)
from calamari.domain.notifications.notification import STATES
from calamari.domain.notifications.rows import channel_row, notification_row

blueprint = Blueprint("notifications", __name__, url_prefix="/api/v2")

Severity = Literal["critical", "warning", "info"]
SETTINGS_SCHEMA: dict[str, Any] = {
    "url": {"type": "string", "description": "webhook: where to POST; alertmanager: its base URL"},
    "severities": {"type": "array", "items": {"type": "string", "enum": list(SEVERITIES)}},
    "clusters": {"type": "array", "items": {"type": "string"}, "description": "fsids; empty: every cluster"},
    "send_resolved": {"type": "boolean"}, "enabled": {"type": "boolean"},
    "repeat_interval_s": {"type": "integer", "description": "0: never"},
    "host": {"type": "string"}, "port": {"type": "integer"}, "security": {"type": "string", "enum": list(SECURITIES)},
    "username": {"type": ["string", "null"]}, "from_address": {"type": "string"},
    "to": {"type": "array", "items": {"type": "string"}}, "ca_file": {"type": ["string", "null"]}}
CHANNEL_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string"}, "kind": {"type": "string", "enum": list(KINDS)}, **SETTINGS_SCHEMA,
    "has_secret": {"type": "boolean"}, "changed_by": {"type": "string"},
    "created_at": {"type": "string"}, "updated_at": {"type": "string"}}}
NOTIFICATION_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string", "description": "also the receivers' idempotency key"},
    "channel": {"type": "string"}, "alert_id": {"type": "string"},
    "reason": {"type": "string", "enum": ["firing", "resolved", "repeat", "test"]},
    "state": {"type": "string", "enum": list(STATES)}, "attempts": {"type": "integer"},
    "last_error": {"type": ["string", "null"]}, "next_attempt_at": {"type": ["string", "null"]},
    "queued_at": {"type": "string"}, "delivered_at": {"type": ["string", "null"]},
    "answer": {"type": ["string", "null"]}, "rule": {"type": ["string", "null"]},
    "severity": {"type": ["string", "null"]}, "cluster": {"type": ["string", "null"]},
    "summary": {"type": ["string", "null"]}, "retried_by": {"type": ["string", "null"]},
    "alert": {"type": "object"}}}
LIST_QUERY = {"state": {"type": "string", "enum": list(STATES)}, "channel": {"type": "string"},
              "alert": {"type": "string"}, "offset": {"type": "integer", "minimum": 0},
              "limit": {"type": "integer", "minimum": 1}}
READ_ONLY = ("has_secret", "changed_by", "created_at", "updated_at")


class ChannelSettings(Strict):
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL)
    severities: list[Severity] | None = Field(default=None, min_length=1, max_length=len(SEVERITIES))
    clusters: list[str] | None = Field(default=None, max_length=1000)
    send_resolved: bool | None = None
    enabled: bool | None = None
    repeat_interval_s: int | None = None
    host: str | None = Field(default=None, min_length=1, max_length=253)
    port: int | None = None
    security: Literal["starttls", "tls", "none"] | None = None
    username: str | None = Field(default=None, min_length=1, max_length=254)
    from_address: str | None = Field(default=None, min_length=3, max_length=254)
    to: list[str] | None = Field(default=None, min_length=1, max_length=MAX_RECIPIENTS)
    ca_file: str | None = Field(default=None, min_length=1, max_length=4096)
    secret: str | None = Field(default=None, min_length=1, max_length=MAX_SECRET,
                               description="write-only: webhook HMAC key, SMTP password, Alertmanager token; "
                                           "null removes it")


class ChannelCreate(ChannelSettings):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    kind: Literal["webhook", "email", "alertmanager"]


class ChannelUpdate(ChannelSettings):
    pass


def notifier() -> Any:
    found = getattr(services(), "notifier", None)
    if found is None:
        raise ApiError(503, "notifications are not set up on this server")
    return found


def _bad_settings(err: ChannelError) -> ApiError:
    status = 409 if err.field == "id" and "exists" in err.reason else 400
    return ApiError(status, "invalid channel settings" if status == 400 else err.reason, {err.field: err.reason})


def _no_channel(channel_id: str) -> ApiError:
    return ApiError(404, f"no notification channel {channel_id[:100]!r}")


@blueprint.get("/notification_channel")
@doc("Notification channels (admin)", response={"type": "array", "items": CHANNEL_SCHEMA}, errors=(401, 403))
def list_channels() -> Response:
    return json_response([channel_row(c) for c in notifier().channels()])


@blueprint.post("/notification_channel")
@doc("Add a notification channel (admin): a webhook, e-mail over SMTP or a Prometheus Alertmanager, with "
     "routing by severity and cluster", body=ChannelCreate, response=CHANNEL_SCHEMA, status=201,
     errors=(400, 401, 403, 409, 415, 503))
def create_channel() -> Response:
    body = parse_body(ChannelCreate, read_only=READ_ONLY)
    fields = body.model_dump(exclude_unset=True)
    channel_id, kind, secret = fields.pop("id"), fields.pop("kind"), fields.pop("secret", None)
    try:
        channel = notifier().create_channel(channel_id, kind, fields, secret, current_user().username)
    except ChannelError as err:
        raise _bad_settings(err) from None
    return json_response(channel_row(channel), 201)


@blueprint.get("/notification_channel/<channel_id>")
@doc("A notification channel (admin)", response=CHANNEL_SCHEMA, errors=(401, 403, 404))
def get_channel(channel_id: str) -> Response:
    try:
        return json_response(channel_row(notifier().channel(channel_id)))
    except KeyError:
        raise _no_channel(channel_id) from None


@blueprint.patch("/notification_channel/<channel_id>")
@doc("Change a notification channel's settings or secret (admin; `secret: null` removes it)",
     body=ChannelUpdate, response=CHANNEL_SCHEMA, errors=(400, 401, 403, 404, 415, 503))
def update_channel(channel_id: str) -> Response:
    body = parse_body(ChannelUpdate, read_only=(*READ_ONLY, "id", "kind"))
    fields = body.model_dump(exclude_unset=True)
    secret_given = "secret" in fields
    secret = fields.pop("secret", None)
    try:
        channel = notifier().update_channel(channel_id, fields, current_user().username,
                                            secret_given=secret_given, secret=secret)
    except KeyError:
        raise _no_channel(channel_id) from None
    except ChannelError as err:
        raise _bad_settings(err) from None
    return json_response(channel_row(channel))


@blueprint.delete("/notification_channel/<channel_id>")
@doc("Delete a notification channel (admin); what it still had to send is cancelled",
     response={"type": "object"}, errors=(401, 403, 404, 503))
def delete_channel(channel_id: str) -> Response:
    try:
        cancelled = notifier().delete_channel(channel_id, current_user().username)
    except KeyError:
        raise _no_channel(channel_id) from None
    return json_response({"detail": f"deleted notification channel {channel_id}", "cancelled": cancelled})


@blueprint.post("/notification_channel/<channel_id>/test")
@doc("Send a test notification through a channel (admin), through the outbox like any other",
     response=NOTIFICATION_SCHEMA, status=202, errors=(401, 403, 404, 503))
def test_channel(channel_id: str) -> Response:
    try:
        note = notifier().send_test(channel_id, current_user().username)
    except KeyError:
        raise _no_channel(channel_id) from None
    return json_response(notification_row(note), 202)


@blueprint.get("/notification")
@doc("The outbox: notifications sent, waiting (with the next attempt's time) or failed (with the "
     "receiver's answer), newest first", response={"type": "object", "properties": {
         "count": {"type": "integer"}, "results": {"type": "array", "items": NOTIFICATION_SCHEMA}}},
     query=LIST_QUERY, errors=(400, 401, 403))
def list_notifications() -> Response:
    states = choice_arg("state", STATES)
    offset, limit = page_args()
    channel, alert = request.args.get("channel"), request.args.get("alert")
    notes = notifier().notifications(channel=channel, alert=alert)
    rows = [notification_row(n) for n in notes if states is None or n.state in states]
    end = None if limit is None else offset + limit
    return json_response({"count": len(rows), "results": rows[offset:end]})


def _no_notification(notification_id: str) -> ApiError:
    return retired_error("notification", notification_id, notifier().retired(notification_id),
                         "--notification-retention")


@blueprint.get("/notification/<notification_id>")
@doc("One notification, with the alert document it tells; 410 for one retired from the live model "
     "(history keeps it)", response=NOTIFICATION_SCHEMA, errors=(401, 403, 404, 410))
def get_notification(notification_id: str) -> Response:
    try:
        note = notifier().notification(notification_id)
    except KeyError:
        raise _no_notification(notification_id) from None
    return json_response(notification_row(note, with_alert=True))


@blueprint.post("/notification/<notification_id>/retry")
@doc("Try a notification that was given up again (operator), e.g. once its channel or receiver is "
     "fixed: pending, with another 24 h of retries", response=NOTIFICATION_SCHEMA, status=202,
     errors=(401, 403, 404, 409, 410, 503))
def retry_notification(notification_id: str) -> Response:
    try:
        note = notifier().retry_notification(notification_id, current_user().username)
    except KeyError:
        raise _no_notification(notification_id) from None
    except ValueError as err:
        raise ApiError(409, str(err)) from None
    return json_response(notification_row(note), 202)
