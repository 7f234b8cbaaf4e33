"""What changed before an alert: the newest changes of each cluster, kept for a window, and the
ones an alert concerns (its objects, and what is cluster-wide: flags, CRUSH, pools, user
requests with who made them). Fed with committed events; pure (times come with the events)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from calamari.domain.cluster import Cluster
from calamari.domain.event_feed import describe
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.server import Server
from calamari.domain.user_request import UserRequest

# Changes that say nothing to a person reading what came before an alert (they come every few
# seconds, or are the model's own book-keeping).
QUIET_EVENTS = frozenset({"PgStatesChanged", "SyncVersionAdvanced", "ServerFactsChanged", "OsdMetadataChanged"})
CLUSTER_WIDE_KINDS = ("cluster", "pool", "request")
MAX_PER_ALERT = 100
DEFAULT_CAPACITY = 20_000  # per cluster


def object_of(agg: Any) -> tuple[str | None, dict[str, str] | None, str | None]:
    """(fsid, object, user) of an aggregate whose events are cluster changes; object None else."""
    if isinstance(agg, Osd):
        return agg.fsid, {"kind": "osd", "id": str(agg.osd_id)}, None
    if isinstance(agg, Pool):
        return agg.fsid, {"kind": "pool", "id": str(agg.pool_id)}, None
    if isinstance(agg, Cluster):
        return agg.fsid, {"kind": "cluster", "id": agg.fsid}, None
    if isinstance(agg, Server):
        return None, {"kind": "server", "id": agg.fqdn}, None
    if isinstance(agg, UserRequest):
        return agg.fsid or None, {"kind": "request", "id": agg.request_id}, agg.username
    return None, None, None


class RecentChanges:
    """Per cluster (and "" for servers), the newest changes as event-feed entries."""

    def __init__(self, window: timedelta = timedelta(minutes=30), capacity: int = DEFAULT_CAPACITY) -> None:
        self.window = window
        self.capacity = capacity
        self.entries: dict[str, deque[dict[str, Any]]] = {}

    def add(self, event: Any, agg: Any) -> None:
        name = type(event).__name__
        if name in QUIET_EVENTS:
            return
        fsid, obj, user = object_of(agg)
        if obj is None:
            return
        told = describe(event, agg)
        entry = {"time": event.timestamp.isoformat(), "type": name, "cluster": fsid, "object": obj,
                 "user": getattr(event, "by", None) or user, "message": told[1] if told else None,
                 "_at": event.timestamp}
        self.entries.setdefault(fsid or "", deque(maxlen=self.capacity)).append(entry)

    def add_older(self, older: RecentChanges) -> None:
        """Put changes from before these (read from the store at a start) in front of them."""
        for key, entries in older.entries.items():
            newer = self.entries.get(key, deque())
            self.entries[key] = deque([*entries, *newer], maxlen=self.capacity)

    def before(self, fsid: str | None, related: list[dict[str, str]], now: datetime) -> list[dict[str, Any]]:
        """The changes of the window before `now` on the `related` objects and, for a cluster's
        alert, the cluster-wide ones; oldest first, the newest MAX_PER_ALERT."""
        start = now - self.window
        wanted = {(o["kind"], o["id"]) for o in related}
        out: list[dict[str, Any]] = []
        for entry in reversed(self.entries.get(fsid or "", ())):
            if entry["_at"] < start:
                break
            if entry["_at"] > now:
                continue
            obj = entry["object"]
            if (obj["kind"], obj["id"]) in wanted or (fsid is not None and obj["kind"] in CLUSTER_WIDE_KINDS):
                out.append({k: v for k, v in entry.items() if k != "_at"})
                if len(out) >= MAX_PER_ALERT:
                    break
        out.reverse()
        return out
