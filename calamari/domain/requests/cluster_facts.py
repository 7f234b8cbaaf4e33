"""What the planners read of a cluster in the model: the cluster itself (404 when unknown), its
configuration (503 until it has arrived), CRUSH rules, live pools and the OSD map held."""

from __future__ import annotations

from typing import Any

from calamari.domain.model import ClusterModel
from calamari.domain.requests.plan import RequestRejected

# Ceph's defaults when the cluster's configuration does not set them.
CONFIG_DEFAULTS = {"mon_max_pool_pg_num": 65536, "mon_max_pg_per_osd": 250}


def cluster_of(model: ClusterModel, fsid: str) -> Any:
    cluster = model.clusters.get(fsid)
    if cluster is None:
        raise RequestRejected(f"no cluster {fsid}", status=404)
    return cluster


def config_value(model: ClusterModel, fsid: str, key: str) -> int:
    cluster = cluster_of(model, fsid)
    if "config" not in model.held.get(fsid, {}) and not cluster.config:
        raise RequestRejected("the cluster's configuration has not been received yet; retry shortly", status=503)
    raw = cluster.config.get(key) or cluster.config.get(f"mon/{key}")
    try:
        return int(raw) if raw is not None else CONFIG_DEFAULTS[key]
    except ValueError:
        return CONFIG_DEFAULTS[key]


def crush_rules(model: ClusterModel, fsid: str) -> dict[int, dict[str, Any]]:
    return {r["rule_id"]: r for r in cluster_of(model, fsid).crush.get("rules", [])}


def live_pools(model: ClusterModel, fsid: str) -> dict[int, Any]:
    return {pid: p for pid, p in model.pools.get(fsid, {}).items() if not p.deleted}


def held_osd_map(model: ClusterModel, fsid: str) -> dict[str, Any] | None:
    held = model.held.get(fsid, {}).get("osd_map")
    return held[1] if held else None


def osd_map_epoch(model: ClusterModel, fsid: str) -> int:
    held = model.held.get(fsid, {}).get("osd_map")
    return int(held[0]) if held else 0
