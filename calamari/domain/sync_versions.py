"""Sync-object versions: which sync objects there are, how their versions compare, and the newest
version of each that the model reflects (see docs/architecture.md, "Versions across a restart").

Pure: the reflected versions are folded from the events, live and in replay alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.cluster import Cluster
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool

SyncVersion = int | str

# Sync objects versioned by a number that only grows; the others carry a content hash.
NUMERIC_VERSIONS = {"osd_map", "mon_map", "mon_status", "fs_map", "pg_summary", "df", "crush_map"}
SYNC_OBJECTS = NUMERIC_VERSIONS | {"health", "config", "osd_metadata"}
# Sync objects whose every newer version is recorded, with SyncVersionAdvanced when nothing else
# changed: their versions move only when the cluster does. The PG summary's moves every few
# seconds, so only versions that changed PG counts are recorded (PgStatesChanged); df is not
# modelled at all.
EXACT_VERSIONS = {"osd_map", "mon_map", "mon_status", "fs_map", "crush_map"}

# The events that carry the version of the sync object that caused them: (sync object, field).
VERSION_SOURCES: dict[type, tuple[str, str]] = {
    **{cls: ("osd_map", "epoch") for cls in (
        Cluster.ClusterFlagsChanged, Cluster.ClusterSettingsChanged,
        Osd.OsdAdded, Osd.OsdReadded, Osd.OsdRemoved, Osd.OsdDestroyed, Osd.OsdMarkedUp, Osd.OsdMarkedDown,
        Osd.OsdMarkedIn, Osd.OsdMarkedOut, Osd.OsdReweighted, Osd.OsdPrimaryAffinityChanged,
        Osd.OsdAddressChanged,
        Pool.PoolCreated, Pool.PoolRenamed, Pool.PoolSettingsChanged, Pool.PoolQuotaChanged,
        Pool.PoolReappeared, Pool.PoolDeleted)},
    Osd.OsdMovedInCrush: ("crush_map", "crush_version"),
    Osd.OsdCrushWeightChanged: ("crush_map", "crush_version"),
    Cluster.CrushMapChanged: ("crush_map", "version"),
    Cluster.MonMapChanged: ("mon_map", "epoch"),
    Cluster.MonQuorumChanged: ("mon_status", "election_epoch"),
    Cluster.FsMapChanged: ("fs_map", "epoch"),
    Cluster.PgStatesChanged: ("pg_summary", "version"),
}

Reflected = dict[str, dict[str, int]]  # fsid -> sync object -> the newest version reflected


def is_newer(name: str, version: SyncVersion, held: SyncVersion | None) -> bool:
    """Numeric versions must grow; a content hash only has to differ."""
    if held is None:
        return True
    if name in NUMERIC_VERSIONS:
        return isinstance(version, int) and isinstance(held, int) and version > held
    return version != held


def note_version(reflected: Reflected, agg: Any, event: Aggregate.Event) -> None:
    """Keep `reflected` as one event says (the same call live and in replay)."""
    if isinstance(event, Cluster.SyncVersionAdvanced):
        name, version = event.name, event.version
    elif isinstance(event, Cluster.SyncVersionsReset | Cluster.ClusterForgotten):
        reflected.pop(agg.fsid, None)
        return
    else:
        source = VERSION_SOURCES.get(type(event))
        if source is None:
            return  # most events carry no version; `agg` may then have no fsid at all
        name, version = source[0], getattr(event, source[1])
    versions = reflected.setdefault(agg.fsid, {})
    if version > versions.get(name, version - 1):
        versions[name] = version


def estimate_reflected(aggregates: Iterable[Any]) -> Reflected:
    """For a snapshot written before reflected versions were kept: the versions its aggregates
    show (the OSD map's from its OSDs and pools, the others from the cluster's own fields)."""
    reflected: Reflected = {}
    aggregates = list(aggregates)
    forgotten = {a.fsid for a in aggregates if isinstance(a, Cluster) and getattr(a, "forgotten", False)}
    for agg in aggregates:
        if getattr(agg, "fsid", None) in forgotten:
            continue  # forgetting a cluster clears its versions
        if isinstance(agg, Osd | Pool):
            found = {"osd_map": agg.epoch}
        elif isinstance(agg, Cluster):
            found = {"mon_map": agg.mon_map_epoch, "mon_status": agg.election_epoch,
                     "pg_summary": agg.pgmap_version, "crush_map": agg.crush_version,
                     "fs_map": agg.fs_map_epoch}
        else:
            continue
        versions = reflected.setdefault(agg.fsid, {})
        for name, version in found.items():
            if version and version > versions.get(name, 0):
                versions[name] = version
    return reflected
