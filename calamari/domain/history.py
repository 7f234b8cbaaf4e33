"""History of a cluster, pure: the documents of a cluster as a model holds them (the same rows as
the live resources), and the summary of what changed between two states with the events between.

Callers fold the events into a model in order and hand each one here *after* applying it, with the
aggregate it changed; the summary never folds events a second way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.cluster import Cluster
from calamari.domain.documents import (
    OSD_FIELDS,
    cluster_document,
    osd_document,
    osd_row,
    osd_server_fqdns,
    pool_row,
    pools_by_root,
    request_row,
    served_pools,
    server_document,
)
from calamari.domain.model import ClusterModel
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.projections import ReadModel, osd_state_key
from calamari.domain.server import Server
from calamari.domain.user_request import UserRequest

# Event fields never shown in history (credentials stay in the store only).
SECRET_MARKERS = ("password", "token", "csrf", "secret")
REDACTED = "(redacted)"
# Row fields that change with every event of the object and say nothing on their own.
NOISE_FIELDS = ("epoch", "update_time", "last_contact")


def redact(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: (REDACTED if any(m in str(k).lower() for m in SECRET_MARKERS) else redact(v))
                for k, v in data.items()}
    if isinstance(data, list):
        return [redact(v) for v in data]
    return data


def cluster_documents(model: ClusterModel, fsid: str) -> dict[str, Any] | None:
    """The cluster's resources as the live API renders them (same row functions, through a
    ReadModel), or None when the model has no such cluster."""
    cluster = model.clusters.get(fsid)
    if cluster is None:
        return None
    view = ReadModel()
    view.refresh(cluster)
    for osd in model.osds.get(fsid, {}).values():
        view.refresh(osd)
    for pool in model.pools.get(fsid, {}).values():
        view.refresh(pool)
    servers = [s for s in model.servers.values() if serves(s, fsid)]
    for server in servers:
        view.refresh(server)
    row = view.clusters[fsid]
    return {
        "cluster": row,
        "health": row["health"],
        "osd": [r for _, r in sorted(view.osds.get(fsid, {}).items())],
        "pool": [r for _, r in sorted(view.pools.get(fsid, {}).items())],
        "server": [view.servers[s.fqdn] for s in sorted(servers, key=lambda s: s.fqdn)],
        "counters": view.counters(fsid),
    }


# The lists of a past state an answer may carry (`parts`); the cluster, health and counters always come.
STATE_PARTS = ("osd", "pool", "server")


def live_state_documents(model: ClusterModel, fsid: str, parts: Collection[str] = STATE_PARTS,
                         osd_fields: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The cluster's documents as the live routes shape them (`with_live_fields` over
    `cluster_documents`), only the lists named in `parts` and only `osd_fields` of each OSD (None:
    all, in the documents' order). Equal to those documents with the rest left out, but renders
    only what it answers: the OSD workbench of a past moment needs neither the servers' rows (1,000
    of them at 10,000 OSDs) nor most of an OSD's fields. None when the model has no such cluster."""
    cluster = model.clusters.get(fsid)
    if cluster is None:
        return None
    view = ReadModel()
    view.refresh(cluster)
    for pool in model.pools.get(fsid, {}).values():
        view.refresh(pool)
    row = view.clusters[fsid]
    pools = [r for _, r in sorted(view.pools.get(fsid, {}).items())]
    servers = sorted((s for s in model.servers.values() if serves(s, fsid)), key=lambda s: s.fqdn)
    osds = [osd for _, osd in sorted(model.osds.get(fsid, {}).items()) if not osd.removed]
    osd_rows = [osd_row(osd) for osd in osds] if "osd" in parts else None
    # counted as the ReadModel counts them (osd_state_key), from the aggregates when no row is rendered
    counts = Counter(osd_state_key(r) for r in osd_rows) if osd_rows is not None else Counter(
        osd_state_key({"up": osd.up, "in": osd.in_}) for osd in osds)
    counters = {"osd": {k: counts.get(k, 0) for k in ("up_in", "up_out", "down_in", "down_out")},
                "pg": dict(row.get("pg_by_state", {}))}
    counters["osd"]["total"] = sum(counters["osd"].values())
    docs: dict[str, Any] = {"cluster": cluster_document(row, counters), "health": row["health"]}
    if osd_rows is not None:
        served = served_pools(pools_by_root(cluster.crush, pools))
        # only the fqdn and services of a server matter here: no server row is rendered for them
        fqdns = osd_server_fqdns(({"fqdn": s.fqdn, "services": s.services} for s in servers), fsid)
        documents = (osd_document(r, served, fqdns) for r in osd_rows)
        if osd_fields is None:
            docs["osd"] = list(documents)
        else:
            wanted = [f for f in OSD_FIELDS if f in set(osd_fields)]  # the documents' order
            docs["osd"] = [{f: d[f] for f in wanted} for d in documents]
    if "pool" in parts:
        docs["pool"] = pools
    if "server" in parts:
        for server in servers:
            view.refresh(server)
        docs["server"] = [server_document(view.servers[s.fqdn], fsid) for s in servers]
    docs["counters"] = counters
    return docs


class SpanRows:
    """The rows a diff's summary compares, rendered only for what the span's events touch: the
    cluster's row, and the rows of the OSDs and pools with events, as they were when the span
    started and as they are at its end. Equal to those of `cluster_documents` at both ends (the
    same row functions over the same aggregates), without rendering every OSD twice.

    Call `before_change(agg)` before each event is applied to an existing aggregate: the first
    change of an OSD or pool indexed at the start renders its starting row then."""

    def __init__(self, model: ClusterModel, fsid: str) -> None:
        self.fsid = fsid
        cluster = model.clusters.get(fsid)
        self.cluster_before = _rows_of([cluster]).clusters.get(fsid) if cluster is not None else None
        # the indexes as they were at the start: an OSD id taken by a new aggregate later in the
        # span still compares with the one it had then
        self._osds = dict(model.osds.get(fsid, {}))
        self._pools = dict(model.pools.get(fsid, {}))
        self._started: dict[Any, dict[str, Any] | None] = {}  # aggregate id -> its row at the start

    def before_change(self, agg: Any) -> None:
        if agg.id in self._started:
            return
        if isinstance(agg, Osd) and self._osds.get(agg.osd_id) is agg:
            self._started[agg.id] = _osd_row_of(agg)
        elif isinstance(agg, Pool) and self._pools.get(agg.pool_id) is agg:
            self._started[agg.id] = _pool_row_of(agg)

    def before(self, osd_ids: Iterable[int], pool_ids: Iterable[int]) -> dict[str, Any] | None:
        """The start's documents of these OSDs and pools (None when the cluster was not known)."""
        if self.cluster_before is None:
            return None
        osds = [self._started[a.id] if a.id in self._started else _osd_row_of(a)
                for a in (self._osds.get(i) for i in osd_ids) if a is not None]
        pools = [self._started[a.id] if a.id in self._started else _pool_row_of(a)
                 for a in (self._pools.get(i) for i in pool_ids) if a is not None]
        return {"cluster": self.cluster_before, "osd": [r for r in osds if r is not None],
                "pool": [r for r in pools if r is not None]}

    def after(self, model: ClusterModel, osd_ids: Iterable[int], pool_ids: Iterable[int]) -> dict[str, Any] | None:
        """The end's documents of these OSDs and pools (None when the cluster is not known)."""
        cluster = model.clusters.get(self.fsid)
        if cluster is None:
            return None
        osds, pools = model.osds.get(self.fsid, {}), model.pools.get(self.fsid, {})
        view = _rows_of([cluster, *(osds[i] for i in osd_ids if i in osds),
                                    *(pools[i] for i in pool_ids if i in pools)])
        return {"cluster": view.clusters[self.fsid], "osd": list(view.osds.get(self.fsid, {}).values()),
                "pool": list(view.pools.get(self.fsid, {}).values())}


def _rows_of(aggregates: Iterable[Any]) -> ReadModel:
    view = ReadModel()
    for agg in aggregates:
        view.refresh(agg)
    return view


# One aggregate's row as ReadModel.refresh renders it (none for a removed OSD or a deleted pool),
# without a ReadModel each: a diff renders thousands.
def _osd_row_of(osd: Osd) -> dict[str, Any] | None:
    return None if osd.removed else osd_row(osd)


def _pool_row_of(pool: Pool) -> dict[str, Any] | None:
    return None if pool.deleted else pool_row(pool)


def serves(server: Server, fsid: str) -> bool:
    return any(s.get("fsid") == fsid for s in server.services)


def is_cluster_object(agg: Any) -> bool:
    return isinstance(agg, Cluster | Osd | Pool | Server | UserRequest)


def belongs(agg: Any, fsid: str) -> bool:
    """Whether an event of `agg` is part of this cluster's history. Aggregates that belong to no
    cluster (users, roles, and whatever else is added later) are part of every cluster's audit."""
    if isinstance(agg, Server):
        return serves(agg, fsid)
    owner = getattr(agg, "fsid", None)
    if owner is not None:
        return owner == fsid
    return not is_cluster_object(agg)


def actor(event: Aggregate.Event, agg: Any) -> str | None:
    """Who made a change, when the event or its aggregate says."""
    by = getattr(event, "by", None)
    if isinstance(by, str):
        return by
    if isinstance(agg, UserRequest):
        return agg.username
    return None


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    if before is None or after is None:
        return {}
    return {k: [before.get(k), v] for k, v in after.items()
            if k not in NOISE_FIELDS and before.get(k) != v}


class ChangeSummary:
    """Collects what happened to one cluster between two states, one event at a time."""

    def __init__(self, fsid: str, before: dict[str, Any] | None) -> None:
        self.fsid = fsid
        self.before = before
        self.osd_events: dict[int, dict[str, int]] = {}
        self.pool_events: dict[int, dict[str, int]] = {}
        self.pool_lifecycle: dict[str, list[dict[str, Any]]] = {"created": [], "deleted": []}
        self.flag_changes: list[dict[str, Any]] = []
        self.health_transitions: list[dict[str, Any]] = []
        self.requests: dict[str, dict[str, Any]] = {}
        self.request_order: list[str] = []
        self.users: list[dict[str, Any]] = []
        self.event_types: dict[str, int] = {}

    def add(self, position: int, event: Aggregate.Event, agg: Any) -> None:
        """Record one event of this cluster, already applied to `agg`."""
        kind = type(event).__name__
        self.event_types[kind] = self.event_types.get(kind, 0) + 1
        when = event.timestamp.isoformat()
        if isinstance(agg, Osd):
            counts = self.osd_events.setdefault(agg.osd_id, {})
            counts[kind] = counts.get(kind, 0) + 1
        elif isinstance(agg, Pool):
            counts = self.pool_events.setdefault(agg.pool_id, {})
            counts[kind] = counts.get(kind, 0) + 1
            if isinstance(event, Pool.PoolCreated | Pool.PoolReappeared | Pool.PoolDeleted):
                # by event, so that a pool created and deleted in between is listed as both
                key = "deleted" if isinstance(event, Pool.PoolDeleted) else "created"
                self.pool_lifecycle[key].append({"id": agg.pool_id, "name": agg.name, "position": position,
                                                 "time": when})
        elif isinstance(event, Cluster.ClusterFlagsChanged):
            self.flag_changes.append({"position": position, "time": when, "set": event.set, "unset": event.unset})
        elif isinstance(event, Cluster.HealthChanged):
            self.health_transitions.append({"position": position, "time": when, "from": event.previous,
                                            "to": event.status})
        elif isinstance(agg, UserRequest):
            if agg.request_id not in self.requests:
                self.request_order.append(agg.request_id)
            entry = self.requests.setdefault(agg.request_id, {"events": []})
            entry["events"].append({"position": position, "time": when, "type": kind})
            entry["row"] = request_row(agg)
        elif not is_cluster_object(agg):
            data = {k: v for k, v in vars(event).items()
                    if k not in ("originator_id", "originator_version", "timestamp", "originator_topic", "by")}
            self.users.append({
                "position": position,
                "time": when,
                "type": kind,
                "aggregate": type(agg).__name__,
                "username": getattr(agg, "username", None),
                "by": actor(event, agg),
                "data": redact(data),
            })

    def finish(self, after: dict[str, Any] | None) -> dict[str, Any]:
        before_docs = self.before or {}
        after_docs = after or {}
        osds_before = {r["id"]: r for r in before_docs.get("osd", [])}
        osds_after = {r["id"]: r for r in after_docs.get("osd", [])}
        osds = []
        for osd_id in sorted(self.osd_events):
            b, a = osds_before.get(osd_id), osds_after.get(osd_id)
            osds.append({
                "id": osd_id,
                "before": osd_state_key(b) if b else None,
                "after": osd_state_key(a) if a else None,
                "changes": _changes(b, a),
                "events": self.osd_events[osd_id],
            })
        pools_before = {r["id"]: r for r in before_docs.get("pool", [])}
        pools_after = {r["id"]: r for r in after_docs.get("pool", [])}
        pools: dict[str, list[dict[str, Any]]] = {**self.pool_lifecycle, "changed": []}
        for pool_id in sorted(self.pool_events):
            b, a = pools_before.get(pool_id), pools_after.get(pool_id)
            if b is not None and a is not None and _changes(b, a):
                pools["changed"].append({"id": pool_id, "name": a["name"], "changes": _changes(b, a)})
        cluster_before = before_docs.get("cluster") or {}
        cluster_after = after_docs.get("cluster") or {}
        flags_before, flags_after = cluster_before.get("flags", []), cluster_after.get("flags", [])
        health_before = (cluster_before.get("health") or {}).get("status")
        health_after = (cluster_after.get("health") or {}).get("status")
        checks_before = set((cluster_before.get("health") or {}).get("checks", {}))
        checks_after = set((cluster_after.get("health") or {}).get("checks", {}))
        requests = []
        for request_id in self.request_order:
            entry = self.requests[request_id]
            row = entry["row"]
            requests.append({
                "id": request_id,
                "username": row["username"],
                "kind": row["kind"],
                "headline": row["headline"],
                "body": row["body"],
                "state": row["state"],
                "outcome": _outcome(row),
                "error_message": row["error_message"] or None,
                "requested_at": row["requested_at"],
                "completed_at": row["completed_at"],
                "events": entry["events"],
            })
        return {
            "osds": osds,
            "pools": pools,
            "flags": {"before": flags_before, "after": flags_after,
                      "set": sorted(set(flags_after) - set(flags_before)),
                      "unset": sorted(set(flags_before) - set(flags_after)),
                      "changes": self.flag_changes},
            "health": {"before": health_before, "after": health_after,
                       "transitions": self.health_transitions,
                       "checks_raised": sorted(checks_after - checks_before),
                       "checks_cleared": sorted(checks_before - checks_after)},
            "requests": requests,
            "users": self.users,
            "event_types": dict(sorted(self.event_types.items())),
        }


def _outcome(row: dict[str, Any]) -> str:
    if row["state"] != "complete":
        return "pending"
    return "failed" if row["error"] else "succeeded"


# ---------------------------------------------------------------------- timeline

def bucket_edges(start: datetime, stop: datetime, count: int) -> list[datetime]:
    """`count + 1` times splitting [start, stop] into `count` equal buckets (the last edge is `stop`)."""
    if count < 1 or stop < start:
        raise ValueError("need at least one bucket over a span that does not end before it starts")
    step = (stop - start) / count
    return [start + step * i for i in range(count)] + [stop]


# event times are exact to the microsecond: the last event before a time is the last at or before this much earlier
_TICK = timedelta(microseconds=1)


def lookup_times(edges: list[datetime]) -> list[datetime]:
    """The times whose positions `density` needs: just before each edge, and the last edge itself,
    so that a bucket holds its start and the last bucket its end too."""
    return [edge - _TICK for edge in edges[:-1]] + edges[-1:]


def density(edges: list[datetime], positions: list[int]) -> list[dict[str, Any]]:
    """Buckets of events between consecutive edges: events at or after `edges[i]` and before
    `edges[i + 1]` (the last bucket includes its end). `positions[i]` is the last stored position at
    or before `lookup_times(edges)[i]`; store positions are gap-free, so the count is the difference
    of positions."""
    if len(edges) != len(positions) or len(edges) < 2:
        raise ValueError("one position per edge, and at least two edges")
    return [{
        "start": edges[i].isoformat(),
        "end": edges[i + 1].isoformat(),
        "count": positions[i + 1] - positions[i],
        "first_position": positions[i] + 1,
        "last_position": positions[i + 1],
    } for i in range(len(edges) - 1)]


def health_transition(position: int, event: Aggregate.Event) -> dict[str, Any]:
    """A health change as the timeline marks it."""
    return {"position": position, "time": event.timestamp.isoformat(),
            "from": getattr(event, "previous", None), "to": getattr(event, "status", None)}
