"""The OSD map: cluster flags and ratios, OSDs added, changed, destroyed and removed, and its pools
(diffed by `pools`). Entries that are the same object, or equal, as in the previous map are
skipped without validation: that keeps one changed OSD in a 10,000-OSD map around a millisecond."""

from __future__ import annotations

from collections.abc import KeysView
from datetime import datetime
from typing import Any

from calamari.domain import ids
from calamari.domain.cluster import Cluster
from calamari.domain.ingest import Change
from calamari.domain.ingest.crush_map import crush_placement, diff_osd_placement
from calamari.domain.ingest.osd_metadata import diff_osd_metadata
from calamari.domain.ingest.pools import diff_pool
from calamari.domain.maps import InvalidMap, OsdEntry, OsdMapHeader, PoolEntry, validate
from calamari.domain.model_state import ModelState
from calamari.domain.osd import NIL_UUID, Osd
from calamari.domain.pool import Pool

# OSD map header fields kept as cluster settings.
RATIO_FIELDS = ("full_ratio", "backfillfull_ratio", "nearfull_ratio", "require_osd_release")


def ingest_osd_map(model: ModelState, fsid: str, epoch: int, data: Any, at: datetime) -> Change:
    if not isinstance(data, dict):
        raise InvalidMap("osd_map", "(document)", "must be an object")
    head = {k: v for k, v in data.items() if k not in ("osds", "pools")}
    head["osds"], head["pools"] = [], []
    header = validate("osd_map", OsdMapHeader, head)
    if header.fsid != fsid:
        raise InvalidMap("osd_map", "fsid", f"is {header.fsid}, expected {fsid}")
    if header.epoch != epoch:
        raise InvalidMap("osd_map", "epoch", f"is {header.epoch}, the version says {epoch}")
    prev_osds, prev_pools = model.osd_map_entries(fsid)
    osd_changes, osd_entries = _changed_entries("osd_map", "osds", "osd", OsdEntry, data.get("osds"), prev_osds)
    pool_changes, pool_entries = _changed_entries(
        "osd_map", "pools", "pool", PoolEntry, data.get("pools"), prev_pools)
    prev_osd_keys = prev_osds.keys()
    prev_pool_keys = prev_pools.keys()

    def change(cluster: Cluster) -> None:
        flags = sorted(f for f in header.flags.split(",") if f)
        if flags != cluster.flags:
            old = set(cluster.flags)
            model.emit(cluster, Cluster.ClusterFlagsChanged, at, epoch=epoch, flags=flags,
                       set=sorted(set(flags) - old), unset=sorted(old - set(flags)))
        ratios = {k: getattr(header, k) for k in RATIO_FIELDS}
        if ratios != cluster.ratios:
            model.emit(cluster, Cluster.ClusterSettingsChanged, at, epoch=epoch, ratios=ratios)
        osds = model.osds.setdefault(fsid, {})
        placing = NewOsdPlaces(model, fsid)
        for entry in osd_changes:
            _diff_osd(model, fsid, osds.get(entry.osd), entry, epoch, at, placing)
        for osd in _unlisted(osds, "removed", prev_osd_keys, osd_entries):
            model.emit(osd, Osd.OsdRemoved, at, epoch=epoch)
        pools = model.pools.setdefault(fsid, {})
        for entry in pool_changes:
            diff_pool(model, fsid, pools.get(entry.pool), entry, epoch, at)
        for pool in _unlisted(pools, "deleted", prev_pool_keys, pool_entries):
            model.emit(pool, Pool.PoolDeleted, at, epoch=epoch)
        model.keep_osd_map_entries(fsid, osd_entries, pool_entries)

    return change


def _changed_entries(name: str, field: str, key: str, entry_model: type, items: Any,
                     previous: dict[int, Any]) -> tuple[list[Any], dict[int, Any]]:
    """Validate the entries that differ from the previous map's (the same object or an equal dict
    is unchanged), and index all raw entries by id."""
    if not isinstance(items, list):
        raise InvalidMap(name, field, "must be a list")
    changed: list[Any] = []
    entries: dict[int, Any] = {}
    for i, raw in enumerate(items):
        if not isinstance(raw, dict):
            raise InvalidMap(name, f"{field}.{i}", "must be an object")
        entry_id = raw.get(key)
        prev = previous.get(entry_id) if type(entry_id) is int else None
        if prev is not None and (prev is raw or prev == raw):
            entries[entry_id] = raw
            continue
        entry = validate(name, entry_model, raw, f"{field}.{i}.")
        if getattr(entry, key) in entries:
            raise InvalidMap(name, f"{field}.{i}.{key}", "duplicate id")
        entries[getattr(entry, key)] = raw
        changed.append(entry)
    return changed, entries


def _unlisted(aggregates: dict[int, Any], gone: str, previous_ids: KeysView[int],
              entries: dict[int, Any]) -> list[Any]:
    """The OSDs or pools this map no longer lists (and not already `gone`); none to look for when
    it lists the same ids as the previous one."""
    if previous_ids and previous_ids == entries.keys():
        return []
    return [agg for agg_id, agg in aggregates.items() if not getattr(agg, gone) and agg_id not in entries]


def _diff_osd(model: ModelState, fsid: str, osd: Osd | None, e: OsdEntry, epoch: int, at: datetime,
              placing: NewOsdPlaces) -> None:
    up, in_ = bool(e.up), bool(e.in_)
    if osd is None:
        osd = model.create(Osd, Osd.OsdAdded, ids.osd_id(fsid, e.osd), at, fsid=fsid, osd_id=e.osd,
                           uuid=e.uuid, up=up, in_=in_, reweight=e.weight,
                           primary_affinity=e.primary_affinity, public_addr=e.public_addr,
                           cluster_addr=e.cluster_addr, epoch=epoch)
        placing.place(osd, at)
        return
    if not osd.removed and e.uuid == NIL_UUID and osd.uuid != NIL_UUID:
        # `ceph osd destroy` zeroes the uuid and keeps the id for a replacement: not a new OSD
        model.emit(osd, Osd.OsdDestroyed, at, epoch=epoch)
    elif osd.removed or osd.uuid != e.uuid:
        model.emit(osd, Osd.OsdReadded, at, uuid=e.uuid, up=up, in_=in_, reweight=e.weight,
                   primary_affinity=e.primary_affinity, public_addr=e.public_addr,
                   cluster_addr=e.cluster_addr, epoch=epoch)
        return
    if up != osd.up:
        model.emit(osd, Osd.OsdMarkedUp if up else Osd.OsdMarkedDown, at, epoch=epoch)
    if in_ != osd.in_:
        model.emit(osd, Osd.OsdMarkedIn if in_ else Osd.OsdMarkedOut, at, epoch=epoch, reweight=e.weight)
    elif e.weight != osd.reweight:
        model.emit(osd, Osd.OsdReweighted, at, epoch=epoch, reweight=e.weight, previous=osd.reweight)
    if e.primary_affinity != osd.primary_affinity:
        model.emit(osd, Osd.OsdPrimaryAffinityChanged, at, epoch=epoch,
                   primary_affinity=e.primary_affinity, previous=osd.primary_affinity)
    if (e.public_addr, e.cluster_addr) != (osd.public_addr, osd.cluster_addr):
        model.emit(osd, Osd.OsdAddressChanged, at, epoch=epoch, public_addr=e.public_addr,
                   cluster_addr=e.cluster_addr)


class NewOsdPlaces:
    """Where new OSDs go: their CRUSH place and metadata from the maps already held, each map
    read (unpacked, indexed) once per OSD map however many OSDs it adds."""

    def __init__(self, model: ModelState, fsid: str) -> None:
        self.model = model
        self.fsid = fsid
        self._crush: tuple[Any, dict[int, Any]] | None = None
        self._metadata: dict[Any, list[dict[str, Any]]] | None = None

    def place(self, osd: Osd, at: datetime) -> None:
        crush = self._crush_placement()
        if crush is not None and osd.osd_id in crush[1]:
            diff_osd_placement(self.model, osd, crush[1][osd.osd_id], crush[0], at)
        for entry in self._metadata_by_id().get(osd.osd_id, ()):
            diff_osd_metadata(self.model, osd, entry, at)

    def _crush_placement(self) -> tuple[Any, dict[int, Any]] | None:
        if self._crush is None:
            held = self.model.held_document(self.fsid, "crush_map")
            if held is None:
                return None
            self._crush = (held[0], crush_placement(held[1]))
        return self._crush

    def _metadata_by_id(self) -> dict[Any, list[dict[str, Any]]]:
        if self._metadata is None:
            held = self.model.held_document(self.fsid, "osd_metadata")
            self._metadata = {}
            for entry in held[1] if held is not None else ():
                self._metadata.setdefault(entry.get("id"), []).append(entry)
        return self._metadata
