"""What the push stream tells of an event: its type, time, the event feed's entry and the API paths
of the resources it changed (calamari.service.stream_hub fans these out)."""

from __future__ import annotations

from typing import Any

from calamari.domain.alerts.alert import Alert
from calamari.domain.alerts.retention import AlertRetention
from calamari.domain.alerts.silence import Silence
from calamari.domain.cluster import Cluster
from calamari.domain.collector_key import CollectorKey
from calamari.domain.event_feed import OsdServers, feed_entry
from calamari.domain.notifications.channel import Channel
from calamari.domain.notifications.notification import Notification
from calamari.domain.notifications.retention import OutboxRetention
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.server import Server
from calamari.domain.user import User
from calamari.domain.user_request import UserRequest


def changed_paths(agg: Any) -> list[str]:
    """The API paths (below /api/v2/) of what an event of `agg` changed."""
    if isinstance(agg, Osd):
        return [f"cluster/{agg.fsid}/osd/{agg.osd_id}"]
    if isinstance(agg, Pool):
        return [f"cluster/{agg.fsid}/pool/{agg.pool_id}"]
    if isinstance(agg, Cluster):
        return [f"cluster/{agg.fsid}"]
    if isinstance(agg, Server):
        return [f"server/{agg.fqdn}"]
    if isinstance(agg, UserRequest):
        paths = [f"request/{agg.request_id}"]
        if agg.fsid:
            paths.append(f"cluster/{agg.fsid}/request/{agg.request_id}")
        return paths
    if isinstance(agg, User):
        return [f"user/{agg.username}"]
    if isinstance(agg, CollectorKey):
        return [f"key/{agg.key_id}"]
    if isinstance(agg, Channel):
        return [f"notification_channel/{agg.channel_id}"]
    if isinstance(agg, Notification):
        return [f"notification/{agg.notification_id}"]
    if isinstance(agg, Alert):
        return [f"alert/{agg.alert_id}"]
    if isinstance(agg, Silence):
        return [f"silence/{agg.silence_id}"]
    return []


def retired_paths(event: Any) -> list[str]:
    """The API paths of the alerts, silences or notifications a retirement took out of the live
    model (a watcher showing one reads it again and gets 410)."""
    if isinstance(event, AlertRetention.AlertsRetired):
        return [f"alert/{i}" for i in event.alerts] + [f"silence/{i}" for i in event.silences]
    if isinstance(event, OutboxRetention.NotificationsRetired):
        return [f"notification/{i}" for i in event.notifications]
    return []


def describe_event(event: Any, model: Any, osd_servers: OsdServers) -> dict[str, Any]:
    """What the stream tells of one event (without its position): type, time, the feed's entry
    (or None for an event the feed does not tell), the changed paths."""
    agg = model.aggregates.get(event.originator_id)
    entry = feed_entry(event, agg, osd_servers) if agg is not None else None
    return {"type": type(event).__name__, "when": event.timestamp.isoformat(), "event": entry,
            "changed": (changed_paths(agg) if agg is not None else []) + retired_paths(event)}


def positioned(position: int, described: dict[str, Any]) -> dict[str, Any]:
    message = {"position": position, **described}
    if message["event"] is not None:
        message["event"] = {"id": position, **message["event"]}
    return message
