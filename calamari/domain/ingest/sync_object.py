"""Taking in one sync object: whether its version is taken (newer than the copy held, not older
than the version the model reflects), the handler of its kind, and what follows every change:
its cluster, the version recorded, the copy held, requests it completes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from calamari.domain import ids
from calamari.domain.cluster import Cluster
from calamari.domain.ingest import Change
from calamari.domain.ingest.cluster_state import (
    ingest_config,
    ingest_df,
    ingest_fs_map,
    ingest_health,
    ingest_pg_summary,
)
from calamari.domain.ingest.crush_map import ingest_crush_map
from calamari.domain.ingest.mon import ingest_mon_map, ingest_mon_status
from calamari.domain.ingest.osd_map import ingest_osd_map
from calamari.domain.ingest.osd_metadata import ingest_osd_metadata
from calamari.domain.maps import InvalidMap
from calamari.domain.model_state import ModelState
from calamari.domain.request_lifecycle import complete_awaiting
from calamari.domain.sync_versions import EXACT_VERSIONS, NUMERIC_VERSIONS, SYNC_OBJECTS, SyncVersion, is_newer

# Each validates the whole document and returns the change to make (see calamari.domain.ingest).
HANDLERS: dict[str, Callable[[ModelState, str, Any, Any, datetime], Change]] = {
    "osd_map": ingest_osd_map,
    "health": ingest_health,
    "mon_map": ingest_mon_map,
    "mon_status": ingest_mon_status,
    "pg_summary": ingest_pg_summary,
    "df": ingest_df,
    "crush_map": ingest_crush_map,
    "fs_map": ingest_fs_map,
    "config": ingest_config,
    "osd_metadata": ingest_osd_metadata,
}


def accepts(model: ModelState, fsid: str, name: str, version: SyncVersion) -> bool:
    """Whether a sync object of this version would be taken in: newer than the copy held, and
    not older than the version the model reflects. The held copies are gone after a restart,
    the reflected versions are not: a map of exactly that version is then taken again (it
    restores the held copy and changes nothing), an older one is refused."""
    if name in NUMERIC_VERSIONS and (not isinstance(version, int) or isinstance(version, bool)):
        return False
    held = model.held.get(fsid, {}).get(name)
    if held is not None and not is_newer(name, version, held[0]):
        return False
    floor = model.reflected.get(fsid, {}).get(name)
    return floor is None or (isinstance(version, int) and version >= floor)


def reflected_version(model: ModelState, fsid: str, name: str) -> SyncVersion | None:
    """The newest version of a sync object the model holds or reflects (for messages)."""
    held = model.held.get(fsid, {}).get(name)
    return held[0] if held is not None else model.reflected.get(fsid, {}).get(name)


def ingest(model: ModelState, fsid: str, name: str, version: SyncVersion, data: Any, at: datetime) -> bool:
    """Diff a sync object into events. False (and no change) when it is not newer than the one
    held or older than the one the model reflects (`accepts`). Raises InvalidMap, with nothing
    changed, when it is malformed."""
    if name not in SYNC_OBJECTS:
        raise InvalidMap(name, "name", "unknown sync object")
    if not isinstance(version, int | str) or isinstance(version, bool):
        raise InvalidMap(name, "version", "must be an integer or a string")
    if name in NUMERIC_VERSIONS and not isinstance(version, int):
        raise InvalidMap(name, "version", "must be an integer")
    if not accepts(model, fsid, name, version):
        return False
    apply_changes = HANDLERS[name](model, fsid, version, data, at)  # validates; returns the change to make
    cluster = cluster_for(model, fsid, at)
    apply_changes(cluster)
    if name in EXACT_VERSIONS and model.reflected.get(fsid, {}).get(name) != version:
        # nothing the model keeps changed, yet this version must still bound what comes next
        model.emit(cluster, Cluster.SyncVersionAdvanced, at, name=name, version=version)
    model.hold(fsid, name, version, data)
    model.received_at.setdefault(fsid, {})[name] = at.timestamp()
    complete_awaiting(model, fsid, name, at)
    return True


def cluster_for(model: ModelState, fsid: str, at: datetime) -> Cluster:
    """The cluster a sync object belongs to: discovered on its first, rediscovered if forgotten."""
    cluster = model.clusters.get(fsid)
    if cluster is None and ids.cluster_id(fsid) in model.aggregates:
        # forgotten, and its collector still reports: the same aggregate comes back
        cluster = model.aggregates[ids.cluster_id(fsid)]
        model.emit(cluster, Cluster.ClusterRediscovered, at)
        model.clusters[fsid] = cluster
    if cluster is None:
        cluster = model.create(Cluster, Cluster.ClusterDiscovered, ids.cluster_id(fsid), at, fsid=fsid, name="ceph")
    return cluster
