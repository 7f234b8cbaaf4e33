"""The event feed of the API (`/event`): domain events told as Calamari told them, with a severity
(INFO, RECOVERY, WARNING, ERROR, CRITICAL) and links to the cluster and server concerned.

A projection: fed with events as they are committed (and once from the store at start-up),
kept in memory, newest last, bounded."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
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


Told = tuple[str, str]
"""What the feed says of an event: (severity, message)."""

Teller = Callable[[Any, Any, str], Told | None]
"""(event, its aggregate, the aggregate's name in the feed) → what the feed says, or None for an
event not worth telling."""


def _health_changed(event: Any, _cluster: Cluster, label: str) -> Told:
    severity = "INFO" if event.previous is None else HEALTH_SEVERITY.get(event.status, "WARNING")
    return severity, f"Health of {label} changed from {event.previous} to {event.status}"


def _health_check_raised(event: Any, _cluster: Cluster, _label: str) -> Told:
    if event.muted:  # an operator muted it: Ceph's status leaves it out, and so do we
        return "INFO", f"Health check {event.code} failed (muted): {event.message}"
    severity = "ERROR" if event.severity == "HEALTH_ERR" else "WARNING"
    return severity, f"Health check {event.code} failed: {event.message}"


def _health_check_updated(event: Any, _cluster: Cluster, _label: str) -> Told | None:
    previous = event.previous_severity
    if previous is None or previous == event.severity or event.muted:
        return None
    worse = event.severity == "HEALTH_ERR"
    return ("ERROR" if worse else "WARNING"), (
        f"Health check {event.code} {'worsened' if worse else 'eased'} to {event.severity}: {event.message}")


def _quorum_changed(event: Any, _cluster: Cluster, label: str) -> Told | None:
    if event.left:
        return "WARNING", f"Monitor(s) {', '.join(event.left)} left the quorum of {label}"
    if event.joined and len(event.quorum) != len(event.joined):  # not the first quorum we learn of
        return "RECOVERY", f"Monitor(s) {', '.join(event.joined)} joined the quorum of {label}"
    return None


def _flags_changed(event: Any, _cluster: Cluster, label: str) -> Told:
    parts = [f"set {', '.join(event.set)}" if event.set else "", f"unset {', '.join(event.unset)}" if event.unset else ""]
    return "INFO", f"OSD flags of {label}: {'; '.join(p for p in parts if p)}"


def _pool_settings_changed(event: Any, _pool: Pool, pool: str) -> Told:
    changes = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in sorted(event.changes.items()))
    return "INFO", f"Pool '{pool}' changed: {changes}"


def _services_added(event: Any, server: Server, _label: str) -> Told | None:
    if not event.added:
        return None
    kinds: dict[str, int] = {}
    for service in event.added:
        kind = service.split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    words = ", ".join(_plural(n, {"mon": "monitor service", "osd": "OSD"}.get(k, f"{k} service"))
                      for k, n in sorted(kinds.items()))
    return "INFO", f"Server {server.fqdn} has new services: {words}"


def _delivery_failed(event: Any, note: Notification, _label: str) -> Told:
    what = f"Notification of alert {note.alert_id} to channel '{note.channel_id}'"
    if event.retry_at is None:
        return "ERROR", f"{what} failed {event.attempt} times, given up: {event.error}"
    return "WARNING", f"{what} failed (attempt {event.attempt}, retried): {event.error}"


_CLUSTER_TOLD: dict[str, Teller] = {
    "ClusterDiscovered": lambda _e, cluster, _label: ("INFO", f"Added cluster {cluster.fsid}"),
    "HealthChanged": _health_changed,
    "HealthCheckRaised": _health_check_raised,
    "HealthCheckUpdated": _health_check_updated,
    "HealthCheckCleared": lambda e, _c, _label: ("RECOVERY", f"Health check {e.code} cleared"),
    "MonQuorumChanged": _quorum_changed,
    "ClusterFlagsChanged": _flags_changed,
    "ClusterContactLost": lambda _e, _c, label: ("WARNING", f"Lost contact with {label}"),
    "ClusterContactRegained": lambda _e, _c, label: ("RECOVERY", f"Regained contact with {label}"),
    "ClusterForgotten": lambda e, cluster, _label: ("INFO", f"Cluster {cluster.fsid} forgotten (by {e.by})"),
    "ClusterRediscovered": lambda _e, cluster, _label: (
        "INFO", f"Cluster {cluster.fsid} reporting again after it was forgotten"),
    "SyncVersionsReset": lambda e, _c, label: (
        "INFO", f"Map versions of {label} reset (by {e.by}): maps of lower versions are accepted again"),
}

_OSD_TOLD: dict[str, Teller] = {
    "OsdAdded": lambda _e, _o, osd: ("INFO", f"{osd} added"),
    "OsdReadded": lambda _e, _o, osd: ("INFO", f"{osd} re-created"),
    "OsdRemoved": lambda _e, _o, osd: ("INFO", f"{osd} removed"),
    "OsdDestroyed": lambda _e, _o, osd: ("INFO", f"{osd} destroyed; its id is kept for a replacement"),
    "OsdMarkedDown": lambda _e, _o, osd: ("WARNING", f"{osd} went down"),
    "OsdMarkedUp": lambda _e, _o, osd: ("RECOVERY", f"{osd} came up"),
    "OsdMarkedOut": lambda _e, _o, osd: ("WARNING", f"{osd} marked out"),
    "OsdMarkedIn": lambda _e, _o, osd: ("RECOVERY", f"{osd} marked in"),
    "OsdReweighted": lambda e, _o, osd: ("INFO", f"{osd} reweighted from {e.previous} to {e.reweight}"),
}

# a pool is told by the name it had then (`describe`'s pool_name, where the caller knows it)
_POOL_TOLD: dict[str, Teller] = {
    "PoolCreated": lambda e, _p, _pool: ("INFO", f"Pool '{e.name}' created"),
    "PoolRenamed": lambda e, _p, _pool: ("INFO", f"Pool '{e.previous}' renamed to '{e.name}'"),
    "PoolDeleted": lambda _e, _p, pool: ("INFO", f"Pool '{pool}' deleted"),
    "PoolReappeared": lambda e, _p, _pool: ("INFO", f"Pool '{e.name}' listed again by the OSD map after it was deleted"),
    "PoolSettingsChanged": _pool_settings_changed,
    "PoolQuotaChanged": lambda e, _p, pool: (
        "INFO", f"Pool '{pool}' quotas: max objects {e.quota_max_objects}, max bytes {e.quota_max_bytes}"),
}

_SERVER_TOLD: dict[str, Teller] = {
    "ServerDiscovered": lambda _e, _s, fqdn: ("INFO", f"Added server {fqdn}"),
    "ServerServicesChanged": _services_added,
    "ServerContactLost": lambda _e, _s, fqdn: ("WARNING", f"Lost contact with server {fqdn}"),
    "ServerContactRegained": lambda _e, _s, fqdn: ("RECOVERY", f"Regained contact with server {fqdn}"),
    "ServerForgotten": lambda e, _s, fqdn: ("INFO", f"Forgot server {fqdn} (by {e.by})"),
    "ServerRediscovered": lambda _e, _s, fqdn: ("INFO", f"Server {fqdn} is back"),
}

_REQUEST_TOLD: dict[str, Teller] = {
    "UserRequestSubmitted": lambda e, _r, _label: ("INFO", f"Started: {e.headline} (by {e.username})"),
    "UserRequestCompleted": lambda _e, _r, headline: ("INFO", f"Completed: {headline}"),
    "UserRequestFailed": lambda e, _r, headline: ("ERROR", f"Failed: {headline}: {e.error_message}"),
}

_USER_TOLD: dict[str, Teller] = {
    "UserCreated": lambda e, _u, user: ("INFO", f"Added {user} with role {e.role} (by {e.by})"),
    "UserReinstated": lambda e, _u, user: ("INFO", f"Added {user} with role {e.role} (by {e.by})"),
    "UserRoleChanged": lambda e, _u, user: (
        "INFO", f"Role of {user} changed from {e.previous} to {e.role} (by {e.by})"),
    "UserPasswordChanged": lambda e, _u, user: ("INFO", f"Password of {user} changed (by {e.by})"),
    "UserDeleted": lambda e, _u, user: ("INFO", f"Deleted {user} (by {e.by})"),
    "UserTokensRevoked": lambda e, _u, user: ("INFO", f"All sessions of {user} ended: {e.reason} (by {e.by})"),
    "UserLoginLocked": lambda e, _u, user: (
        "WARNING", f"Logins of {user} locked until {_utc(e.until)} after {e.failures} failed attempts "
                   f"(last from {e.address or 'an unknown address'})"),
}

ALERT_FEED_SEVERITY = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}

_ALERT_TOLD: dict[str, Teller] = {
    "AlertRaised": lambda _e, alert, summary: (
        ALERT_FEED_SEVERITY.get(alert.severity, "WARNING"), f"Alert raised: {summary}"),
    "AlertResolved": lambda _e, _a, summary: ("RECOVERY", f"Alert resolved: {summary}"),
    "AlertAcknowledged": lambda e, _a, summary: (
        "INFO", f"Alert acknowledged by {getattr(e, 'by', '?')}: {summary}"),
    "AlertSilenced": lambda _e, _a, summary: ("INFO", f"Alert silenced: {summary}"),
    "AlertUnsilenced": lambda _e, _a, summary: ("INFO", f"Alert no longer silenced: {summary}"),
}

_SILENCE_TOLD: dict[str, Teller] = {
    "SilenceCreated": lambda _e, silence, _label: (
        "INFO", f"Silence created by {silence.created_by} until {silence.ends_at.isoformat()}: {silence.comment}"),
    "SilenceExpired": lambda e, silence, _label: ("INFO", f"Silence expired by {e.by}: {silence.comment}"),
}

_RULE_TOLD: dict[str, Teller] = {
    "AlertRuleDefined": lambda e, rule, _label: ("INFO", f"Alert rule {rule.name} defined (by {e.by})"),
    "AlertRuleChanged": lambda e, rule, _label: ("INFO", f"Alert rule {rule.name} changed (by {e.by})"),
}

_CHANNEL_TOLD: dict[str, Teller] = {
    "ChannelCreated": lambda e, channel, _label: (
        "INFO", f"Added notification channel '{channel.channel_id}' (by {e.by})"),
    "ChannelReinstated": lambda e, channel, _label: (
        "INFO", f"Added notification channel '{channel.channel_id}' (by {e.by})"),
    "ChannelDeleted": lambda e, channel, _label: (
        "INFO", f"Deleted notification channel '{channel.channel_id}' (by {e.by})"),
}


def _alert_host(alert: Alert) -> str | None:
    kind = alert.object["kind"] if alert.object else None
    return alert.object["id"] if kind in ("host", "server", "collector") else None


@dataclass(frozen=True)
class _Kind:
    """How the feed tells the events of one kind of aggregate."""

    told: dict[str, Teller]
    label: Callable[[Any, str | None], str]  # (aggregate, describe's pool_name) → its name in messages
    place: Callable[[Any], tuple[str | None, str | None]]  # aggregate → the (fsid, fqdn) an entry links to


def _in_cluster(agg: Any) -> tuple[str | None, str | None]:
    return getattr(agg, "fsid", None), None


def _nowhere(_agg: Any) -> tuple[str | None, str | None]:
    return None, None


def _no_label(_agg: Any, _pool_name: str | None) -> str:
    return ""


_KINDS: tuple[tuple[type, _Kind], ...] = (
    (Cluster, _Kind(_CLUSTER_TOLD, lambda c, _p: f"cluster '{c.name}'", _in_cluster)),
    (Osd, _Kind(_OSD_TOLD, lambda o, _p: f"OSD osd.{o.osd_id}",
                lambda o: (getattr(o, "fsid", None), o.metadata.get("hostname") or o.host))),
    (Pool, _Kind(_POOL_TOLD, lambda p, pool_name: pool_name or p.name, _in_cluster)),
    (Server, _Kind(_SERVER_TOLD, lambda s, _p: s.fqdn, lambda s: (None, s.fqdn))),
    (UserRequest, _Kind(_REQUEST_TOLD, lambda r, _p: r.headline, _in_cluster)),
    (User, _Kind(_USER_TOLD, lambda u, _p: f"user '{u.username}'", _nowhere)),
    (Alert, _Kind(_ALERT_TOLD, lambda a, _p: a.summary, lambda a: (a.fsid, _alert_host(a)))),
    (Silence, _Kind(_SILENCE_TOLD, _no_label, _nowhere)),
    (AlertRule, _Kind(_RULE_TOLD, _no_label, _nowhere)),
    (LoginGuard, _Kind({"LoginAddressLocked": lambda e, _g, _label: (
        "WARNING", f"Logins from {e.address} locked until {_utc(e.until)} after {e.failures} failed attempts")},
        _no_label, _nowhere)),
    (Notification, _Kind({"DeliveryFailed": _delivery_failed}, _no_label, _nowhere)),
    (Channel, _Kind(_CHANNEL_TOLD, _no_label, _nowhere)),
)


def describe(event: Any, agg: Any, pool_name: str | None = None) -> tuple[str, str, str | None, str | None] | None:
    """(severity, message, fsid, fqdn) for an event worth telling a person; None otherwise.
    `agg` is the aggregate the event belongs to (for names the event itself does not carry)."""
    kind = next((kind for cls, kind in _KINDS if isinstance(agg, cls)), None)
    teller = kind.told.get(type(event).__name__) if kind is not None else None
    if teller is None:
        return None
    told = teller(event, agg, kind.label(agg, pool_name))
    if told is None:
        return None
    return (*told, *kind.place(agg))


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


def feed_entry(event: Any, agg: Any, osd_servers: OsdServers, pool_name: str | None = None) -> dict[str, Any] | None:
    """The feed's entry for an event of `agg` (when, severity, message, fsid, fqdn; an OSD's fqdn
    that of the server holding it), None for an event not worth telling."""
    told = describe(event, agg, pool_name)
    if told is None:
        return None
    severity, message, fsid, fqdn = told
    if isinstance(agg, Osd):
        fqdn = osd_servers.fqdn(agg) or fqdn
    return {"when": event.timestamp.isoformat(), "severity": severity, "message": message, "fsid": fsid, "fqdn": fqdn}


# Aggregates that leave the live model when retired (calamari.domain.alerts.retention): their
# stored events are still told, by aggregates rebuilt from them.
_RETIRED_CREATED = (Alert.AlertRaised, Silence.SilenceCreated, Notification.NotificationQueued)
_RETIRED_KINDS = tuple(f"{kind.__name__}." for kind in (Alert, Silence, Notification))



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
        # Events of retired aggregates (no longer in the model), newest first, held until the
        # event that created the aggregate is read: it is then rebuilt from them and they are told.
        self.unplaced: dict[Any, list[tuple[int, Any]]] = {}

    def take(self, positioned: list[tuple[int, Any]]) -> bool:
        """Stored events older than all taken before, oldest first, with their positions; True
        while the feed would keep more."""
        model, wanted = self.model, self.feed.capacity
        for position, ev in reversed(positioned):
            if len(self.newest_first) >= wanted:
                break
            agg = model.aggregates.get(ev.originator_id)
            if agg is None:
                self._retired(position, ev)
                continue
            pool_name = None
            if isinstance(agg, Pool):
                pool_name = self.names.get(ev.originator_id, agg.name)
                if type(ev).__name__ == "PoolRenamed":
                    self.names[ev.originator_id] = ev.previous
            entry = EventFeed._entry(ev, model, position, self.osd_servers, pool_name)
            if entry is not None:
                self.newest_first.append(entry)
        return len(self.newest_first) < wanted

    def _retired(self, position: int, ev: Any) -> None:
        if not type(ev).__qualname__.startswith(_RETIRED_KINDS):
            return  # an aggregate gone for another reason (no entry, as before)
        held = self.unplaced.setdefault(ev.originator_id, [])
        held.append((position, ev))
        if not isinstance(ev, _RETIRED_CREATED):
            return
        del self.unplaced[ev.originator_id]
        oldest_first = held[::-1]
        stand_in = None
        for _, event in oldest_first:
            stand_in = event.mutate(stand_in)
        retired = {ev.originator_id: stand_in}
        for p, event in oldest_first:
            entry = EventFeed._entry(event, self.model, p, self.osd_servers, None, retired)
            if entry is not None:
                self.newest_first.append(entry)

    def told(self) -> tuple[dict[str, Any], ...]:
        """The entries, oldest first (EventFeed.older): the newest the feed keeps."""
        ordered = sorted(self.newest_first, key=lambda entry: entry["id"])
        return tuple(ordered[-self.feed.capacity:])


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
               pool_name: str | None = None, retired: dict[Any, Any] | None = None) -> dict[str, Any] | None:
        agg = model.aggregates.get(event.originator_id) or (retired or {}).get(event.originator_id)
        entry = feed_entry(event, agg, osd_servers, pool_name) if agg is not None else None
        if entry is None:
            return None
        return {"id": entry_id, **entry, "_ts": event.timestamp.timestamp()}

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
