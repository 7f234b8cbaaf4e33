"""The cluster-wide documents: health checks, PG states, usage (df), file systems and the
central configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calamari.domain.cluster import Cluster
from calamari.domain.ingest import Change
from calamari.domain.maps import ConfigEntry, FsMap, Health, InvalidMap, PgSummary, validate, validate_list
from calamari.domain.model_state import ModelState


def ingest_health(model: ModelState, fsid: str, version: str, data: Any, at: datetime) -> Change:
    health = validate("health", Health, data)

    def change(cluster: Cluster) -> None:
        checks = {code: {"severity": c.severity, "message": c.summary.message, "count": c.summary.count,
                         "muted": c.muted}
                  for code, c in health.checks.items()}
        for code, check in checks.items():
            old = cluster.health_checks.get(code)
            if old is None:
                model.emit(cluster, Cluster.HealthCheckRaised, at, code=code, **check)
            elif _check_news(old) != _check_news(check):
                # Messages carry ages ("blocked for 43 sec") that change on every poll: only a
                # change of severity, count or muting is news.
                model.emit(cluster, Cluster.HealthCheckUpdated, at, code=code, **check,
                           previous_severity=old["severity"])
        for code in cluster.health_checks:
            if code not in checks:
                model.emit(cluster, Cluster.HealthCheckCleared, at, code=code)
        if health.status != cluster.health_status:
            model.emit(cluster, Cluster.HealthChanged, at, status=health.status, previous=cluster.health_status)

    return change


def _check_news(check: dict[str, Any]) -> tuple[Any, ...]:
    return check["severity"], check["count"], check.get("muted", False)


def ingest_pg_summary(model: ModelState, fsid: str, version: int, data: Any, at: datetime) -> Change:
    summary = validate("pg_summary", PgSummary, data)

    def change(cluster: Cluster) -> None:
        by_pool = {p: s for p, s in summary.by_pool.items() if cluster.pg_by_pool.get(p) != s}
        gone = sorted(p for p in cluster.pg_by_pool if p not in summary.by_pool)
        if summary.by_state != cluster.pg_by_state or by_pool or gone:
            model.emit(cluster, Cluster.PgStatesChanged, at, version=version,
                       by_state=summary.by_state, by_pool=by_pool, pools_gone=gone)

    return change


def ingest_df(model: ModelState, fsid: str, version: int, data: Any, at: datetime) -> Change:
    # Usage is a time series, not events; the newest df is only held (for the API).
    if not isinstance(data, dict) or not isinstance(data.get("stats"), dict):
        raise InvalidMap("df", "stats", "must be an object")
    return lambda cluster: None


def ingest_fs_map(model: ModelState, fsid: str, epoch: int, data: Any, at: datetime) -> Change:
    fsmap = validate("fs_map", FsMap, data)

    def change(cluster: Cluster) -> None:
        filesystems = [
            {
                "id": fs.id,
                "name": fs.mdsmap.get("fs_name", ""),
                "max_mds": fs.mdsmap.get("max_mds", 0),
                "metadata_pool": fs.mdsmap.get("metadata_pool"),
                "data_pools": list(fs.mdsmap.get("data_pools", [])),
                "up": len(fs.mdsmap.get("up", {})),
            }
            for fs in fsmap.filesystems
        ]
        if filesystems != cluster.filesystems:
            model.emit(cluster, Cluster.FsMapChanged, at, epoch=epoch, filesystems=filesystems)

    return change


def ingest_config(model: ModelState, fsid: str, version: str, data: Any, at: datetime) -> Change:
    entries = validate_list("config", ConfigEntry, data, "")

    def change(cluster: Cluster) -> None:
        config = {(e.name if e.section == "global" else f"{e.section}/{e.name}"): e.value for e in entries}
        changed = {k: v for k, v in config.items() if cluster.config.get(k) != v}
        removed = sorted(k for k in cluster.config if k not in config)
        if changed or removed:
            model.emit(cluster, Cluster.ConfigChanged, at, changed=changed, removed=removed)

    return change
