"""The sync objects a simulated cluster reports: each one's version and document, and which
versions are cheap to know without building the document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.ceph_shapes import content_hash
from collector.simulator import maps
from collector.simulator.osd_map import osd_map, osd_metadata
from collector.simulator.state import ClusterState


def _hashed(document: Any) -> tuple[str, Any]:
    """A document whose version is a hash of its content."""
    return content_hash(document), document


# name -> (version, document), in the order a resync reports them
_BUILDERS: dict[str, Callable[[ClusterState], tuple[Any, Any]]] = {
    "osd_map": lambda state: (state.epoch, osd_map(state)),
    "mon_map": lambda state: (1, maps.mon_map(state)),
    "mon_status": lambda state: (2 + len(state.mon_hosts()), maps.mon_status(state)),
    "fs_map": lambda state: (1, maps.fs_map()),
    "health": lambda state: _hashed(maps.health(state)),
    "pg_summary": lambda state: (state.pgs.version, maps.pg_summary(state)),
    "df": lambda state: (state.pgs.version, maps.df(state)),
    "crush_map": lambda state: (state.crush.version, state.crush.dump()),
    "config": lambda state: _hashed(maps.config()),
    "osd_metadata": osd_metadata,
}
# The order they are built in for a resync: building some reads the clock (stamps, ages), so
# the order is part of what a seeded simulation with a given clock says.
_RESYNC_BUILD_ORDER = ("osd_map", "pg_summary", "health", "config", "osd_metadata", "mon_map", "mon_status",
                       "fs_map", "df", "crush_map")
# Reported every few ticks: their versions are hashes of their content, or change every tick.
PERIODIC = ("df", "health", "config", "osd_metadata")


def sync_object(state: ClusterState, name: str) -> tuple[Any, Any]:
    """(version, document) of one sync object; KeyError for a name that is none."""
    return _BUILDERS[name](state)


def all_sync_objects(state: ClusterState) -> dict[str, tuple[Any, Any]]:
    built = {name: sync_object(state, name) for name in _RESYNC_BUILD_ORDER}
    return {name: built[name] for name in _BUILDERS}


def cheap_versions(state: ClusterState) -> dict[str, Any]:
    """The versions known without building the documents."""
    return {
        "osd_map": state.epoch, "mon_map": 1, "mon_status": 2 + len(state.mon_hosts()),
        "fs_map": 1, "pg_summary": state.pgs.version, "crush_map": state.crush.version,
    }
