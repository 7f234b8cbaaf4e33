"""`ceph osd metadata`: what each OSD runs on and with (kept on the OSD), and from it the OSD
services of each server."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calamari.domain import ids
from calamari.domain.cluster import Cluster
from calamari.domain.ingest import Change
from calamari.domain.ingest.hosts import set_services
from calamari.domain.maps import OsdMetadataEntry, validate_list
from calamari.domain.model_state import ModelState
from calamari.domain.osd import Osd
from calamari.domain.server import Server

# `ceph osd metadata` fields worth keeping on the OSD.
METADATA_FIELDS = (
    "hostname",
    "ceph_version",
    "ceph_version_short",
    "osd_objectstore",
    "osd_data",
    "devices",
    "arch",
    "kernel_version",
    "distro_description",
    "front_addr",
    "back_addr",
    "front_iface",
    "back_iface",
    "rotational",
)


def ingest_osd_metadata(model: ModelState, fsid: str, version: str, data: Any, at: datetime) -> Change:
    entries = validate_list("osd_metadata", OsdMetadataEntry, data, "")

    def change(cluster: Cluster) -> None:
        osds = model.osds.get(fsid, {})
        hosts: dict[str, list[int]] = {}
        for raw, entry in zip(data, entries, strict=True):
            if entry.hostname:
                hosts.setdefault(entry.hostname, []).append(entry.id)
            osd = osds.get(entry.id)
            if osd is not None:
                diff_osd_metadata(model, osd, raw, at)
        # Ceph drops a purged OSD's metadata: an OSD that takes the id must not show the old host
        listed = {entry.id for entry in entries}
        for osd_id, osd in osds.items():
            if osd_id not in listed and osd.metadata:
                diff_osd_metadata(model, osd, {}, at)
        diff_osd_services(model, fsid, hosts, at)

    return change


def diff_osd_metadata(model: ModelState, osd: Osd, raw: dict[str, Any], at: datetime) -> None:
    metadata = {k: raw[k] for k in METADATA_FIELDS if k in raw}
    if metadata != osd.metadata:
        model.emit(osd, Osd.OsdMetadataChanged, at, metadata=metadata)


def diff_osd_services(model: ModelState, fsid: str, hosts: dict[str, list[int]], at: datetime) -> None:
    """Keep each server's list of this cluster's OSD services as the metadata says (`hosts`: the
    OSD ids of each host name). The metadata names hosts by their short names: a host that
    reported its facts is found by it."""
    servers = model.servers
    fqdn_of = {s.hostname: s.fqdn for s in servers.values() if s.managed and s.merged_into is None}
    by_fqdn: dict[str, list[int]] = {}
    for hostname, osd_ids in hosts.items():
        by_fqdn.setdefault(fqdn_of.get(hostname, hostname), []).extend(osd_ids)
    live = {s.fqdn for s in servers.values() if s.merged_into is None and not s.forgotten}
    for fqdn in set(by_fqdn) | live:
        server = servers.get(fqdn)
        wanted = [{"fsid": fsid, "type": "osd", "id": str(i), "running": None, "version": None}
                  for i in sorted(by_fqdn.get(fqdn, []))]
        if server is not None and server.forgotten:
            model.emit(server, Server.ServerRediscovered, at)
        if server is None:
            if not wanted:
                continue
            server = model.create(Server, Server.ServerDiscovered, ids.server_id(fqdn), at,
                                  fqdn=fqdn, hostname=fqdn.split(".")[0])
        others = [s for s in server.services if not (s["fsid"] == fsid and s["type"] == "osd")]
        known = {(s["fsid"], s["type"], s["id"]): s for s in server.services}
        # Keep what the host itself reported (running, version) for OSDs it still has.
        merged = [known.get((fsid, "osd", w["id"]), w) for w in wanted]
        set_services(model, server, others + merged, at)
