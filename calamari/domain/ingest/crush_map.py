"""The CRUSH map: the cluster's reduced map (types, buckets, rules) and each OSD's place in it
(host, ancestry, CRUSH weight, device class)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calamari.domain.cluster import Cluster
from calamari.domain.ingest import Change
from calamari.domain.maps import CrushMap, validate
from calamari.domain.model_state import ModelState
from calamari.domain.osd import Osd

# The CRUSH place of an OSD the CRUSH map does not hold.
UNPLACED: dict[str, Any] = {"host": None, "ancestry": [], "crush_weight": None, "device_class": None}


def ingest_crush_map(model: ModelState, fsid: str, version: int, data: Any, at: datetime) -> Change:
    crush = validate("crush_map", CrushMap, data)
    reduced = {
        "types": data["types"],
        "buckets": [b.model_dump(by_alias=True) for b in crush.buckets],
        "rules": data["rules"],
    }

    def change(cluster: Cluster) -> None:
        if reduced != cluster.crush:
            model.emit(cluster, Cluster.CrushMapChanged, at, version=version, crush=reduced)
        placement = crush_placement(data)
        for osd_id, osd in model.osds.get(fsid, {}).items():
            # gone from CRUSH (purged): an OSD that takes the id later must not inherit the place
            diff_osd_placement(model, osd, placement.get(osd_id, UNPLACED), version, at)

    return change


def diff_osd_placement(model: ModelState, osd: Osd, place: dict[str, Any], version: int, at: datetime) -> None:
    if (place["host"], place["ancestry"]) != (osd.host, osd.crush_ancestry):
        model.emit(osd, Osd.OsdMovedInCrush, at, crush_version=version, host=place["host"],
                   ancestry=place["ancestry"], previous_host=osd.host)
    if (place["crush_weight"], place["device_class"]) != (osd.crush_weight, osd.device_class):
        model.emit(osd, Osd.OsdCrushWeightChanged, at, crush_version=version,
                   crush_weight=place["crush_weight"], device_class=place["device_class"])


def crush_placement(crush: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Each OSD's host bucket, ancestry (root first) and CRUSH weight, ignoring the per-class
    shadow trees (names with '~')."""
    buckets = {b["id"]: b for b in crush.get("buckets", []) if "~" not in b.get("name", "~")}
    parent: dict[int, int] = {}
    weight: dict[int, float] = {}
    for bucket in buckets.values():
        for item in bucket.get("items", []):
            parent.setdefault(item["id"], bucket["id"])
            if item["id"] >= 0:
                weight.setdefault(item["id"], round(item["weight"] / 0x10000, 5))
    classes = {d["id"]: d.get("class") for d in crush.get("devices", [])}
    result: dict[int, dict[str, Any]] = {}
    for device in crush.get("devices", []):
        osd = device["id"]
        chain: list[dict[str, Any]] = []
        node = parent.get(osd)
        while node is not None and len(chain) < 32:
            chain.append(buckets[node])
            node = parent.get(node)
        host = next((b["name"] for b in chain if b.get("type_name") == "host"), None)
        result[osd] = {
            "host": host,
            "ancestry": [b["name"] for b in reversed(chain)],
            "crush_weight": weight.get(osd),
            "device_class": classes.get(osd),
        }
    return result
