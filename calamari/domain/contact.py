"""Contact with clusters and hosts: heartbeats keep them in contact, a collector that cannot reach
its cluster makes it stale at once, and silence beyond the timeout loses contact."""

from __future__ import annotations

from datetime import datetime

from calamari.domain.cluster import Cluster
from calamari.domain.model_state import ModelState
from calamari.domain.server import Server


def heartbeat(model: ModelState, fsid: str | None, host: str, at: datetime) -> None:
    """The collector on `host` (of cluster `fsid`, if it has reached one) is alive."""
    ts = at.timestamp()
    if fsid:
        model.last_contact[fsid] = ts
        cluster = model.clusters.get(fsid)
        if cluster is not None and cluster.stale:
            model.emit(cluster, Cluster.ClusterContactRegained, at)
    _host_contact(model, host, at)


def cluster_unreachable(model: ModelState, fsid: str, host: str, at: datetime) -> None:
    """The collector on `host` is alive but cannot reach its cluster (e.g. every monitor is
    down): the host is in contact, and the cluster is stale now rather than after the contact
    timeout, which a live collector's heartbeats would otherwise keep postponing."""
    cluster = model.clusters.get(fsid)
    if cluster is not None and not cluster.stale:
        model.emit(cluster, Cluster.ClusterContactLost, at, last_contact=model.last_contact.get(fsid, at.timestamp()))
    _host_contact(model, host, at)


def _host_contact(model: ModelState, host: str, at: datetime) -> None:
    server = model.servers.get(host)
    if server is None or not server.managed:
        # A collector says hello and heartbeats under its short host name, and reports its
        # facts under its fqdn: a heartbeat counts for the server of that host name too, or
        # after a restart a host whose collector died before its next facts would never be lost.
        def fits(s: Server | None) -> bool:
            return s is not None and s.hostname == host and s.managed and s.merged_into is None \
                and not s.forgotten
        cached = model.servers.get(model.fqdn_of_hello.get(host, ""))
        if not fits(cached):  # checked at each use, so a scan happens only when it changed
            cached = next((s for s in model.servers.values() if fits(s)), None)
            if cached is not None:
                model.fqdn_of_hello[host] = cached.fqdn
        server = cached or server
    model.last_contact_host[host] = at.timestamp()
    if server is not None:
        model.last_contact_host[server.fqdn] = at.timestamp()
    if server is not None and server.contact_lost:
        model.emit(server, Server.ServerContactRegained, at)


def check_contact(model: ModelState, now: datetime, timeout_s: float) -> None:
    """Clusters and managed servers not heard from in `timeout_s` seconds lose contact."""
    limit = now.timestamp() - timeout_s
    for fsid, last in model.last_contact.items():
        cluster = model.clusters.get(fsid)
        if cluster is not None and not cluster.stale and last < limit:
            model.emit(cluster, Cluster.ClusterContactLost, now, last_contact=last)
    for host, last in model.last_contact_host.items():
        server = model.servers.get(host)
        if server is not None and server.managed and not server.contact_lost and last < limit:
            model.emit(server, Server.ServerContactLost, now, last_contact=last)
