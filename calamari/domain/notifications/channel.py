"""The notification channel aggregate: where alerts are sent (a webhook, e-mail over SMTP, a
Prometheus Alertmanager), and which of them (routing by severity and cluster, resolved ones or
not, how often a firing alert is sent again).

A channel's secret (the webhook's HMAC key, the SMTP password, Alertmanager's bearer token) is
never part of it: events and snapshots only say whether one is set (`has_secret`); the secret
itself lives in a file of the data dir (calamari.adapters.notify.secrets).

Pure: settings are checked here (ChannelError names the field), times come in with the calls."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate
from calamari.domain.ids import NAMESPACE

WEBHOOK, EMAIL, ALERTMANAGER = "webhook", "email", "alertmanager"
KINDS = (WEBHOOK, EMAIL, ALERTMANAGER)
SEVERITIES = ("critical", "warning", "info")
SECURITIES = ("starttls", "tls", "none")  # SMTP: STARTTLS on a plain port, TLS from the start, or neither

CHANNEL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FSID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# one '@' between non-empty parts, no spaces, control characters or header punctuation
ADDRESS_RE = re.compile(r"^[^\s@<>,;\"\x00-\x1f\x7f]+@[^\s@<>,;\"\x00-\x1f\x7f]+$")
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")

MIN_REPEAT_S, MAX_REPEAT_S = 60, 7 * 24 * 3600
# Alertmanager ends an alert not sent again by its endsAt (four repeat intervals ahead)
DEFAULT_REPEAT_S = {WEBHOOK: 4 * 3600, EMAIL: 4 * 3600, ALERTMANAGER: 300}
MAX_RECIPIENTS = 50
MAX_URL = 2000
MAX_SECRET = 4096

# Every setting a channel keeps, with its default (None: none), by kind; the routing ones are common.
COMMON_DEFAULTS: dict[str, Any] = {"severities": list(SEVERITIES), "clusters": [], "send_resolved": True,
                                   "enabled": True}
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    WEBHOOK: {"url": None, "ca_file": None},
    EMAIL: {"host": None, "port": 587, "security": "starttls", "username": None, "from_address": None,
            "to": [], "ca_file": None},
    ALERTMANAGER: {"url": None, "ca_file": None},
}


class ChannelError(ValueError):
    """A channel setting that breaks a rule; `field` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def channel_aggregate_id(channel_id: str) -> UUID:
    return uuid5(NAMESPACE, f"notification_channel/{channel_id}")


def check_channel_id(channel_id: Any) -> str:
    if not isinstance(channel_id, str) or not CHANNEL_ID_RE.match(channel_id):
        raise ChannelError("id", "1-64 letters, digits, '.', '-' or '_', starting with a letter or digit")
    return channel_id


def settings_fields(kind: str) -> tuple[str, ...]:
    """The settings a channel of `kind` has (besides its id, kind and secret)."""
    return (*COMMON_DEFAULTS, "repeat_interval_s", *KIND_DEFAULTS[kind])


def _check_url(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        raise ChannelError(field, f"an http:// or https:// URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as err:
        raise ChannelError(field, f"not a URL: {err}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError(field, "an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        # credentials in a URL would be stored and shown: they belong in `secret`
        raise ChannelError(field, "no user or password in the URL; set `secret` instead")
    if any(ch.isspace() or ord(ch) < 32 for ch in value) or parts.fragment:
        raise ChannelError(field, "no spaces, control characters or #fragment")
    return value


def _check_host(value: Any) -> str:
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            if HOST_RE.match(value):
                return value
    raise ChannelError("host", "a host name or IP address")


def _check_address(field: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > 254 or not ADDRESS_RE.match(value):
        raise ChannelError(field, "an e-mail address like name@example.net")
    return value


def _check_common(settings: dict[str, Any]) -> None:
    severities = settings["severities"]
    if (not isinstance(severities, list) or not severities
            or any(s not in SEVERITIES for s in severities) or len(set(severities)) != len(severities)):
        raise ChannelError("severities", f"a non-empty list of distinct values of {', '.join(SEVERITIES)}")
    clusters = settings["clusters"]
    if not isinstance(clusters, list) or len(clusters) > 1000 or \
            any(not isinstance(c, str) or not FSID_RE.match(c) for c in clusters):
        raise ChannelError("clusters", "a list of cluster fsids (empty: every cluster)")
    for name in ("send_resolved", "enabled"):
        if not isinstance(settings[name], bool):
            raise ChannelError(name, "true or false")
    repeat = settings["repeat_interval_s"]
    if isinstance(repeat, bool) or not isinstance(repeat, int) or \
            not (repeat == 0 or MIN_REPEAT_S <= repeat <= MAX_REPEAT_S):
        raise ChannelError("repeat_interval_s", f"0 (never) or {MIN_REPEAT_S} to {MAX_REPEAT_S} seconds")


def _check_email(settings: dict[str, Any], has_secret: bool) -> None:
    settings["host"] = _check_host(settings["host"])
    port = settings["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ChannelError("port", "1 to 65535")
    if settings["security"] not in SECURITIES:
        raise ChannelError("security", f"one of {', '.join(SECURITIES)}")
    username = settings["username"]
    if username is not None and (not isinstance(username, str) or not 0 < len(username) <= 254
                                 or any(ord(ch) < 32 for ch in username)):
        raise ChannelError("username", "1 to 254 characters without control characters, or null")
    if (username is None) != (not has_secret):
        raise ChannelError("secret" if username is not None else "username",
                           "the SMTP password and the username go together")
    if username is not None and settings["security"] == "none":
        raise ChannelError("security", "the password would cross the network in clear: use starttls or tls")
    settings["from_address"] = _check_address("from_address", settings["from_address"])
    recipients = settings["to"]
    if not isinstance(recipients, list) or not 0 < len(recipients) <= MAX_RECIPIENTS:
        raise ChannelError("to", f"a list of 1 to {MAX_RECIPIENTS} e-mail addresses")
    for address in recipients:
        _check_address("to", address)
    _check_ca_file(settings)


def _check_ca_file(settings: dict[str, Any]) -> None:
    ca_file = settings["ca_file"]
    if ca_file is not None and (not isinstance(ca_file, str) or not os.path.isabs(ca_file)
                                or len(ca_file) > 4096 or "\x00" in ca_file):
        raise ChannelError("ca_file", "an absolute path to PEM certificates to trust, or null (the system's)")


def check_settings(kind: Any, given: Mapping[str, Any], has_secret: bool,
                   previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole settings of a channel of `kind`: `given` over `previous` (an update) or over the
    defaults (a new channel), checked. ChannelError names the first bad or missing field."""
    if kind not in KINDS:
        raise ChannelError("kind", f"one of {', '.join(KINDS)}")
    allowed = settings_fields(kind)
    for name in given:
        if name not in allowed:
            raise ChannelError(name, f"not a setting of a {kind} channel")
    defaults = {**{k: (list(v) if isinstance(v, list) else v) for k, v in COMMON_DEFAULTS.items()},
                "repeat_interval_s": DEFAULT_REPEAT_S[kind], **KIND_DEFAULTS[kind]}
    # a channel stored before a setting existed has its default
    settings = {**defaults, **(previous or {}), **given}
    _check_common(settings)
    if kind in (WEBHOOK, ALERTMANAGER):
        settings["url"] = _check_url("url", settings["url"])
        _check_ca_file(settings)
    else:
        _check_email(settings, has_secret)
    return settings


def check_secret(secret: Any) -> str:
    if not isinstance(secret, str) or not 0 < len(secret) <= MAX_SECRET or "\x00" in secret:
        raise ChannelError("secret", f"1 to {MAX_SECRET} characters")
    return secret


class Channel(CalamariAggregate):
    class ChannelCreated(Aggregate.Created):
        channel_id: str
        kind: str
        settings: dict[str, Any]
        has_secret: bool
        by: str

    def __init__(self, channel_id: str, kind: str, settings: dict[str, Any], has_secret: bool, by: str) -> None:
        self.channel_id = channel_id
        self.kind = kind
        self.settings = settings
        self.has_secret = has_secret
        self.changed_by = by
        self.deleted = False

    class ChannelUpdated(Aggregate.Event):
        """New settings (all of them), or a new secret (`has_secret` says whether one is set,
        `secret_changed` whether it was set or removed: the audit of secrets, without them)."""

        settings: dict[str, Any]
        has_secret: bool
        by: str
        secret_changed: bool = False

        def apply(self, channel: Channel) -> None:
            channel.settings, channel.has_secret, channel.changed_by = self.settings, self.has_secret, self.by

    class ChannelDeleted(Aggregate.Event):
        by: str

        def apply(self, channel: Channel) -> None:
            channel.deleted, channel.changed_by = True, self.by

    class ChannelReinstated(Aggregate.Event):
        """A channel made again under the id of a deleted one."""

        kind: str
        settings: dict[str, Any]
        has_secret: bool
        by: str

        def apply(self, channel: Channel) -> None:
            channel.kind, channel.settings, channel.has_secret = self.kind, self.settings, self.has_secret
            channel.changed_by, channel.deleted = self.by, False

    def routes(self, severity: Any, cluster: Any) -> bool:
        """Whether an alert of `severity` on `cluster` goes to this channel (enabled, not deleted)."""
        settings = self.settings
        if self.deleted or not settings["enabled"] or severity not in settings["severities"]:
            return False
        return not settings["clusters"] or cluster in settings["clusters"]
