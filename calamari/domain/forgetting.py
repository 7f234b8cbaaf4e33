"""What an admin tells the model to forget: a cluster (off the lists until its collector reports
again), the map versions of a cluster rebuilt under the same fsid, a host that runs no Ceph
service any more."""

from __future__ import annotations

from datetime import datetime

from calamari.domain.cluster import Cluster
from calamari.domain.model_state import ModelState
from calamari.domain.request_lifecycle import fail_open_requests
from calamari.domain.server import Server


def forget_cluster(model: ModelState, fsid: str, by: str, at: datetime) -> None:
    """Drop a cluster from the lists: its open requests fail, the maps held for it go (so the
    next map its collector sends, of any version, brings it back). Raises KeyError if unknown."""
    cluster = model.clusters[fsid]
    fail_open_requests(model, fsid, f"The cluster was forgotten by {by}", at)
    model.emit(cluster, Cluster.ClusterForgotten, at, by=by)
    model.unindex_cluster(fsid)


def reset_versions(model: ModelState, fsid: str, by: str, at: datetime) -> None:
    """The cluster was rebuilt under the same fsid: forget the versions it reached, so that the
    next map of any version is diffed against the model (and bounds what comes after it). Its
    open requests fail (they wait for versions of the old history). KeyError if unknown."""
    cluster = model.clusters[fsid]
    fail_open_requests(model, fsid, f"The cluster's map versions were reset by {by}", at)
    model.emit(cluster, Cluster.SyncVersionsReset, at, by=by)
    model.drop_held_maps(fsid)


def forget_server(model: ModelState, fqdn: str, by: str, at: datetime) -> None:
    """Drop a host that runs no Ceph service any more. KeyError if unknown; ValueError, naming
    them, while services are still placed on it (they would bring it straight back)."""
    server = model.servers[fqdn]
    if server.forgotten or server.merged_into is not None:
        raise KeyError(fqdn)
    if server.services:
        names = ", ".join(f"{s['type']}.{s['id']}" for s in server.services[:10])
        raise ValueError(f"it still runs {names}: remove them from their cluster first")
    model.emit(server, Server.ServerForgotten, at, by=by)
    model.last_contact_host.pop(fqdn, None)
