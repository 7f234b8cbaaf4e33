"""Read-side projections for the API: a row per object (shaped by calamari.domain.documents) and
counters, kept up to date as each event is applied. A row is re-rendered from the aggregate the
event changed, so the projection never folds events a second way."""

from __future__ import annotations

from collections import Counter
from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.cluster import Cluster
from calamari.domain.documents import cluster_row, osd_row, pool_row, request_row, server_row
from calamari.domain.model import ClusterModel
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.server import Server, osd_service_keys
from calamari.domain.user_request import UserRequest


def osd_state_key(row: dict[str, Any]) -> str:
    return ("up" if row["up"] else "down") + "_" + ("in" if row["in"] else "out")


class ReadModel:
    """Rows per resource, by cluster, plus OSD counters by state, and how often each part changed
    (`generation`): the API derives ETags from those counters, so telling that a list has not
    changed costs a few dict lookups, never a render."""

    def __init__(self) -> None:
        self.clusters: dict[str, dict[str, Any]] = {}
        self.osds: dict[str, dict[int, dict[str, Any]]] = {}
        self.pools: dict[str, dict[int, dict[str, Any]]] = {}
        self.servers: dict[str, dict[str, Any]] = {}
        # (fsid, osd id) -> fqdn of the server whose services include that OSD: an OSD's
        # metadata names its host by the name the host gives itself, often the short one.
        self.osd_servers: dict[tuple[str, int], str] = {}
        self.requests: dict[str, dict[str, Any]] = {}
        self.osd_counts: dict[str, Counter[str]] = {}
        # (part, fsid or "") -> changes so far; parts: "osds", "pools", "crush", "cluster" (per
        # cluster), "servers", "osd_servers", "requests" (fsid ""). Only ever goes up.
        self.generations: Counter[tuple[str, str]] = Counter()
        self._crush: dict[str, Any] = {}  # fsid -> the CRUSH map the view last saw (replaced, never mutated)

    def generation(self, *parts: tuple[str, str]) -> tuple[int, ...]:
        """The change counters of `parts`, e.g. `("osds", fsid), ("servers", "")`: equal tuples
        read at two times mean that nothing of those parts changed in between."""
        return tuple(self.generations[part] for part in parts)

    def _changed(self, part: str, fsid: str = "") -> None:
        self.generations[(part, fsid)] += 1

    def apply(self, event: Aggregate.Event, model: ClusterModel) -> None:
        """Re-render what `event` (already applied to `model`) changed."""
        agg = model.aggregates[event.originator_id]
        if isinstance(event, Cluster.ClusterForgotten):
            self.drop_cluster(agg.fsid)
        elif isinstance(event, Cluster.ClusterRediscovered):
            for member in [*model.osds.get(agg.fsid, {}).values(), *model.pools.get(agg.fsid, {}).values()]:
                self.refresh(member)
        self.refresh(agg)

    def drop_cluster(self, fsid: str) -> None:
        for rows in (self.clusters, self.osds, self.pools, self.osd_counts, self._crush):
            rows.pop(fsid, None)
        for part in ("osds", "pools", "crush", "cluster"):
            self._changed(part, fsid)

    def refresh(self, agg: Any) -> None:
        if isinstance(agg, Osd):
            self._put_osd(agg)
        elif isinstance(agg, Pool):
            rows = self.pools.setdefault(agg.fsid, {})
            self._changed("pools", agg.fsid)
            if agg.deleted:
                rows.pop(agg.pool_id, None)
            else:
                rows[agg.pool_id] = pool_row(agg)
        elif isinstance(agg, Cluster):
            if getattr(agg, "forgotten", False):
                return
            self.clusters[agg.fsid] = cluster_row(agg)
            self.osd_counts.setdefault(agg.fsid, Counter())
            self._changed("cluster", agg.fsid)
            if self._crush.get(agg.fsid) is not agg.crush:  # CrushMapChanged replaces the map
                self._crush[agg.fsid] = agg.crush
                self._changed("crush", agg.fsid)
        elif isinstance(agg, Server):
            old = self.servers.get(agg.fqdn)
            owned_before = {key for key in osd_service_keys(old["services"])
                            if self.osd_servers.get(key) == agg.fqdn} if old is not None else set()
            for key in owned_before:
                del self.osd_servers[key]
            owned_now: set[tuple[str, int]] = set()
            if agg.merged_into is None and not agg.forgotten:
                row = server_row(agg)
                self.servers[agg.fqdn] = row
                for key in osd_service_keys(row["services"]):
                    self.osd_servers[key] = agg.fqdn
                    owned_now.add(key)
            else:
                self.servers.pop(agg.fqdn, None)
            self._changed("servers")
            if owned_now != owned_before:  # an OSD document names its server: those lists change too
                self._changed("osd_servers")
        elif isinstance(agg, UserRequest):
            self.requests[agg.request_id] = request_row(agg)
            self._changed("requests")

    def _put_osd(self, osd: Osd) -> None:
        rows = self.osds.setdefault(osd.fsid, {})
        counts = self.osd_counts.get(osd.fsid)
        if counts is None:  # not setdefault: a Counter made per OSD was half the cost of rendering 10,000 rows
            counts = self.osd_counts[osd.fsid] = Counter()
        old = rows.get(osd.osd_id)
        self._changed("osds", osd.fsid)
        if old is not None:
            counts[osd_state_key(old)] -= 1
        if osd.removed:
            rows.pop(osd.osd_id, None)
        else:
            row = osd_row(osd)
            rows[osd.osd_id] = row
            counts[osd_state_key(row)] += 1

    def rebuild(self, model: ClusterModel) -> None:
        """Render every row from the model (after loading a snapshot)."""
        for agg in model.aggregates.values():
            if not isinstance(agg, Osd | Pool | Cluster) or agg.fsid in model.clusters:  # not forgotten
                self.refresh(agg)

    def counters(self, fsid: str) -> dict[str, Any]:
        counts = self.osd_counts.get(fsid, Counter())
        cluster = self.clusters.get(fsid, {})
        osd = {k: counts.get(k, 0) for k in ("up_in", "up_out", "down_in", "down_out")}
        osd["total"] = sum(osd.values())
        return {"osd": osd, "pg": dict(cluster.get("pg_by_state", {}))}

    def as_dict(self) -> dict[str, Any]:
        """Everything, for comparisons (replay == live)."""
        return {
            "clusters": self.clusters,
            "osds": self.osds,
            "pools": self.pools,
            "servers": self.servers,
            "osd_servers": {f"{fsid}/{osd}": fqdn for (fsid, osd), fqdn in sorted(self.osd_servers.items())},
            "requests": self.requests,
            "osd_counts": {f: {k: v for k, v in c.items() if v} for f, c in self.osd_counts.items()},
        }

