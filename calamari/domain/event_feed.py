"""The event feed of the API (`/event`): domain events told as Calamari told them, with a severity
(INFO, RECOVERY, WARNING, ERROR, CRITICAL) and links to the cluster and server concerned.

A projection: fed with events as they are committed (and once from the store at start-up),
kept in memory, newest last, bounded."""

from __future__ import annotations

import itertools
from collections import deque
from datetime import UTC, datetime
from typing import Any

from calamari.domain.alerts.alert import Alert
from calamari.domain.alerts.rules import AlertRule
from calamari.domain.alerts.silence import Silence
from calamari.domain.cluster import Cluster
from calamari.domain.login_guard import LoginGuard
from calamari.domain.notifications.channel import Channel
from calamari.domain.notifications.notification import Notification
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.server import Server, osd_service_keys
from calamari.domain.user import User
from calamari.domain.user_request import UserRequest

SEVERITIES = ("INFO", "RECOVERY", "WARNING", "ERROR", "CRITICAL")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
HEALTH_SEVERITY = {"HEALTH_OK": "RECOVERY", "HEALTH_WARN": "WARNING", "HEALTH_ERR": "ERROR"}


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(event: Any, agg: Any, pool_name: str | None = None) -> tuple[str, str, str | None, str | None] | None:
    """(severity, message, fsid, fqdn) for an event worth telling a person; None otherwise.
    `agg` is the aggregate the event belongs to (for names the event itself does not carry)."""
    fsid = getattr(agg, "fsid", None)
    name = type(event).__name__
    if isinstance(agg, Cluster):
        label = f"cluster '{agg.name}'"
        if name == "ClusterDiscovered":
            return "INFO", f"Added cluster {agg.fsid}", fsid, None
        if name == "HealthChanged":
            severity = "INFO" if event.previous is None else HEALTH_SEVERITY.get(event.status, "WARNING")
            return severity, f"Health of {label} changed from {event.previous} to {event.status}", fsid, None
        if name == "HealthCheckRaised":
            if event.muted:  # an operator muted it: Ceph's status leaves it out, and so do we
                return "INFO", f"Health check {event.code} failed (muted): {event.message}", fsid, None
            severity = "ERROR" if event.severity == "HEALTH_ERR" else "WARNING"
            return severity, f"Health check {event.code} failed: {event.message}", fsid, None
        if name == "HealthCheckUpdated":
            previous = event.previous_severity
            if previous is not None and previous != event.severity and not event.muted:
                worse = event.severity == "HEALTH_ERR"
                return ("ERROR" if worse else "WARNING"), (
                    f"Health check {event.code} {'worsened' if worse else 'eased'} to {event.severity}: "
                    f"{event.message}"), fsid, None
            return None
        if name == "HealthCheckCleared":
            return "RECOVERY", f"Health check {event.code} cleared", fsid, None
        if name == "MonQuorumChanged" and (event.left or event.joined):
            if event.left:
                return "WARNING", f"Monitor(s) {', '.join(event.left)} left the quorum of {label}", fsid, None
            if len(event.quorum) != len(event.joined):  # not the first quorum we learn of
                return "RECOVERY", f"Monitor(s) {', '.join(event.joined)} joined the quorum of {label}", fsid, None
        if name == "ClusterFlagsChanged":
            parts = [f"set {', '.join(event.set)}" if event.set else "",
                     f"unset {', '.join(event.unset)}" if event.unset else ""]
            return "INFO", f"OSD flags of {label}: {'; '.join(p for p in parts if p)}", fsid, None
        if name == "ClusterContactLost":
            return "WARNING", f"Lost contact with {label}", fsid, None
        if name == "ClusterContactRegained":
            return "RECOVERY", f"Regained contact with {label}", fsid, None
        if name == "ClusterForgotten":
            return "INFO", f"Cluster {agg.fsid} forgotten (by {event.by})", fsid, None
        if name == "ClusterRediscovered":
            return "INFO", f"Cluster {agg.fsid} reporting again after it was forgotten", fsid, None
        if name == "SyncVersionsReset":
            return "INFO", (f"Map versions of {label} reset (by {event.by}): maps of lower versions "
                            "are accepted again"), fsid, None
        return None
    if isinstance(agg, Osd):
        fqdn = agg.metadata.get("hostname") or agg.host
        osd = f"OSD osd.{agg.osd_id}"
        messages = {
            "OsdAdded": ("INFO", f"{osd} added"),
            "OsdReadded": ("INFO", f"{osd} re-created"),
            "OsdRemoved": ("INFO", f"{osd} removed"),
            "OsdDestroyed": ("INFO", f"{osd} destroyed; its id is kept for a replacement"),
            "OsdMarkedDown": ("WARNING", f"{osd} went down"),
            "OsdMarkedUp": ("RECOVERY", f"{osd} came up"),
            "OsdMarkedOut": ("WARNING", f"{osd} marked out"),
            "OsdMarkedIn": ("RECOVERY", f"{osd} marked in"),
        }
        if name == "OsdReweighted":
            return "INFO", f"{osd} reweighted from {event.previous} to {event.reweight}", fsid, fqdn
        if name in messages:
            severity, message = messages[name]
            return severity, message, fsid, fqdn
        return None
    if isinstance(agg, Pool):
        pool = pool_name or agg.name  # the name it had then, where the caller knows it
        if name == "PoolCreated":
            return "INFO", f"Pool '{event.name}' created", fsid, None
        if name == "PoolRenamed":
            return "INFO", f"Pool '{event.previous}' renamed to '{event.name}'", fsid, None
        if name == "PoolDeleted":
            return "INFO", f"Pool '{pool}' deleted", fsid, None
        if name == "PoolReappeared":
            return "INFO", f"Pool '{event.name}' listed again by the OSD map after it was deleted", fsid, None
        if name == "PoolSettingsChanged":
            changes = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in sorted(event.changes.items()))
            return "INFO", f"Pool '{pool}' changed: {changes}", fsid, None
        if name == "PoolQuotaChanged":
            return "INFO", (f"Pool '{pool}' quotas: max objects {event.quota_max_objects}, "
                            f"max bytes {event.quota_max_bytes}"), fsid, None
        return None
    if isinstance(agg, Server):
        if name == "ServerDiscovered":
            return "INFO", f"Added server {agg.fqdn}", None, agg.fqdn
        if name == "ServerServicesChanged" and event.added:
            kinds: dict[str, int] = {}
            for service in event.added:
                kind = service.split(".", 1)[0]
                kinds[kind] = kinds.get(kind, 0) + 1
            words = ", ".join(_plural(n, {"mon": "monitor service", "osd": "OSD"}.get(k, f"{k} service"))
                              for k, n in sorted(kinds.items()))
            return "INFO", f"Server {agg.fqdn} has new services: {words}", None, agg.fqdn
        if name == "ServerContactLost":
            return "WARNING", f"Lost contact with server {agg.fqdn}", None, agg.fqdn
        if name == "ServerContactRegained":
            return "RECOVERY", f"Regained contact with server {agg.fqdn}", None, agg.fqdn
        if name == "ServerForgotten":
            return "INFO", f"Forgot server {agg.fqdn} (by {event.by})", None, agg.fqdn
        if name == "ServerRediscovered":
            return "INFO", f"Server {agg.fqdn} is back", None, agg.fqdn
        return None
    if isinstance(agg, UserRequest):
        if name == "UserRequestSubmitted":
            return "INFO", f"Started: {event.headline} (by {event.username})", fsid, None
        if name == "UserRequestCompleted":
            return "INFO", f"Completed: {agg.headline}", fsid, None
        if name == "UserRequestFailed":
            return "ERROR", f"Failed: {agg.headline}: {event.error_message}", fsid, None
        return None
    if isinstance(agg, User):
        user = f"user '{agg.username}'"
        if name in ("UserCreated", "UserReinstated"):
            return "INFO", f"Added {user} with role {event.role} (by {event.by})", None, None
        if name == "UserRoleChanged":
            return "INFO", f"Role of {user} changed from {event.previous} to {event.role} (by {event.by})", None, None
        if name == "UserPasswordChanged":
            return "INFO", f"Password of {user} changed (by {event.by})", None, None
        if name == "UserDeleted":
            return "INFO", f"Deleted {user} (by {event.by})", None, None
        if name == "UserTokensRevoked":
            return "INFO", f"All sessions of {user} ended: {event.reason} (by {event.by})", None, None
        if name == "UserLoginLocked":
            return ("WARNING", f"Logins of {user} locked until {_utc(event.until)} after {event.failures} failed "
                    f"attempts (last from {event.address or 'an unknown address'})", None, None)
    if isinstance(agg, Alert | Silence | AlertRule):
        return describe_alerting(event, agg)
    if isinstance(agg, LoginGuard) and name == "LoginAddressLocked":
        return ("WARNING", f"Logins from {event.address} locked until {_utc(event.until)} after {event.failures} "
                "failed attempts", None, None)
    if isinstance(agg, Notification) and name == "DeliveryFailed":
        what = f"Notification of alert {agg.alert_id} to channel '{agg.channel_id}'"
        if event.retry_at is None:
            return "ERROR", f"{what} failed {event.attempt} times, given up: {event.error}", None, None
        return "WARNING", f"{what} failed (attempt {event.attempt}, retried): {event.error}", None, None
    if isinstance(agg, Channel) and name in ("ChannelCreated", "ChannelReinstated", "ChannelDeleted"):
        verb = "Deleted" if name == "ChannelDeleted" else "Added"
        return "INFO", f"{verb} notification channel '{agg.channel_id}' (by {event.by})", None, None
    return None


ALERT_FEED_SEVERITY = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}


def describe_alerting(event: Any, agg: Any) -> tuple[str, str, str | None, str | None] | None:
    """Alerts, silences and rule changes told in the feed."""
    name = type(event).__name__
    if isinstance(agg, Alert):
        host = agg.object["id"] if agg.object and agg.object["kind"] in ("host", "server", "collector") else None
        messages = {
            "AlertRaised": (ALERT_FEED_SEVERITY.get(agg.severity, "WARNING"), f"Alert raised: {agg.summary}"),
            "AlertResolved": ("RECOVERY", f"Alert resolved: {agg.summary}"),
            "AlertAcknowledged": ("INFO", f"Alert acknowledged by {getattr(event, 'by', '?')}: {agg.summary}"),
            "AlertSilenced": ("INFO", f"Alert silenced: {agg.summary}"),
            "AlertUnsilenced": ("INFO", f"Alert no longer silenced: {agg.summary}"),
        }
        if name in messages:
            severity, message = messages[name]
            return severity, message, agg.fsid, host
        return None
    if isinstance(agg, Silence):
        if name == "SilenceCreated":
            return "INFO", f"Silence created by {agg.created_by} until {agg.ends_at.isoformat()}: {agg.comment}", None, None
        if name == "SilenceExpired":
            return "INFO", f"Silence expired by {event.by}: {agg.comment}", None, None
        return None
    if name in ("AlertRuleDefined", "AlertRuleChanged"):
        done = "defined" if name == "AlertRuleDefined" else "changed"
        return "INFO", f"Alert rule {agg.name} {done} (by {event.by})", None, None
    return None


class OsdServers:
    """The fqdn of the server whose services hold an OSD (its metadata names the host as the host
    calls itself, often by a short name that is no server's fqdn); indexed on first use."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.index: dict[tuple[str, int], str] | None = None

    def fqdn(self, osd: Osd) -> str | None:
        if self.index is None:
            servers = list(getattr(self.model, "servers", {}).values())
            self.index = {key: server.fqdn for server in servers if server.merged_into is None
                          for key in osd_service_keys(server.services)}
        return self.index.get((osd.fsid, osd.osd_id))


class OlderEntries:
    """The feed's entries for stored events from before start-up, built from the newest back, so
    that a start reads only as much of the history as the feed keeps."""

    def __init__(self, feed: EventFeed, model: Any) -> None:
        self.feed = feed
        self.model = model
        self.osd_servers = OsdServers(model)
        # The model holds today's pool names; going back from the newest event, each rename
        # undone gives the name a pool had at the time of the events before it.
        self.names: dict[Any, str] = {}
        self.newest_first: list[dict[str, Any]] = []

    def take(self, positioned: list[tuple[int, Any]]) -> bool:
        """Stored events older than all taken before, oldest first, with their positions; True
        while the feed would keep more."""
        model, wanted = self.model, self.feed.capacity
        for position, ev in reversed(positioned):
            if len(self.newest_first) >= wanted:
                break
            agg = model.aggregates.get(ev.originator_id)
            pool_name = None
            if isinstance(agg, Pool):
                pool_name = self.names.get(ev.originator_id, agg.name)
                if type(ev).__name__ == "PoolRenamed":
                    self.names[ev.originator_id] = ev.previous
            entry = EventFeed._entry(ev, model, position, self.osd_servers, pool_name)
            if entry is not None:
                self.newest_first.append(entry)
        return len(self.newest_first) < wanted

    def told(self) -> tuple[dict[str, Any], ...]:
        """The entries, oldest first (EventFeed.older)."""
        return tuple(reversed(self.newest_first))


class EventFeed:
    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self.entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        # what happened before start-up, told once from the store (see add_older)
        self.older: tuple[dict[str, Any], ...] = ()
        self.next_id = 1

    def add(self, events: list[Any], model: Any) -> None:
        osd_servers = OsdServers(model)
        for event in events:
            entry = self._entry(event, model, self.next_id, osd_servers)
            if entry is not None:
                self.entries.append(entry)
                self.next_id += 1

    def add_older(self, positioned: list[tuple[int, Any]], model: Any) -> None:
        """Stored events from before start-up, oldest first, identified by their positions (which
        are all below next_id). Replaces what was told before, in one assignment."""
        older = self.older_entries(model)
        older.take(positioned)
        self.older = older.told()

    def older_entries(self, model: Any) -> OlderEntries:
        """A builder of what the feed tells of the stored past, fed batches going back from the
        newest event (`take`) until it holds as many entries as the feed keeps."""
        return OlderEntries(self, model)

    @staticmethod
    def _entry(event: Any, model: Any, entry_id: int, osd_servers: OsdServers,
               pool_name: str | None = None) -> dict[str, Any] | None:
        agg = model.aggregates.get(event.originator_id)
        if agg is None:
            return None
        told = describe(event, agg, pool_name)
        if told is None:
            return None
        severity, message, fsid, fqdn = told
        if isinstance(agg, Osd):
            fqdn = osd_servers.fqdn(agg) or fqdn
        return {"id": entry_id, "when": event.timestamp.isoformat(), "severity": severity,
                "message": message, "fsid": fsid, "fqdn": fqdn, "_ts": event.timestamp.timestamp()}

    def query(self, fsid: str | None = None, fqdn: str | None = None, severity: str | None = None,
              since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]:
        """Matching entries, newest first."""
        low = since.timestamp() if since is not None else None
        high = until.timestamp() if until is not None else None
        rank = SEVERITY_RANK.get(severity or "INFO", 0)
        result = []
        # copies: live events are appended by other threads while this one reads
        newest_first = itertools.chain(reversed(list(self.entries)), reversed(self.older))
        for entry in newest_first:
            if (low is not None and entry["_ts"] < low) or (high is not None and entry["_ts"] > high):
                continue
            if fsid is not None and entry["fsid"] != fsid:
                continue
            if fqdn is not None and entry["fqdn"] != fqdn:
                continue
            if SEVERITY_RANK[entry["severity"]] < rank:
                continue
            result.append({k: v for k, v in entry.items() if k != "_ts"})
        return result
