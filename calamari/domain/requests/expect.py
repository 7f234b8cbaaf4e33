"""When a request is done: does a map Ceph sent show every change the request expects?

Reads only the map given (never the model), so that the model can ask it."""

from __future__ import annotations

from typing import Any

from calamari.domain.requests.expect_crush import CRUSH_CHECKS, crush_expectation_met, crush_map_expectation_met

REWEIGHT_STEP = 1 / 0x10000  # Ceph stores reweights as 16.16 fixed point


def awaited_sync_object(expect: list[dict[str, Any]]) -> str:
    """The sync object a request's change shows in: the CRUSH map for CRUSH changes (versioned by
    the OSD map's crush_version), else the OSD map."""
    return "crush_map" if expect and all(c.get("check") in CRUSH_CHECKS for c in expect) else "osd_map"


def pool_field(entry: dict[str, Any], key: str) -> Any:
    """A pool setting as an OSD map entry shows it: pg_num and pgp_num as their targets (Ceph moves
    the values step by step towards them), hashpspool from the flag names."""
    if key == "pg_num":
        return entry.get("pg_num_target", entry.get("pg_num"))
    if key == "pgp_num":
        return entry.get("pg_placement_num_target", entry.get("pg_placement_num"))
    if key == "hashpspool":
        return "hashpspool" in str(entry.get("flags_names", "")).split(",")
    return entry.get(key)


def expectation_met(expect: list[dict[str, Any]], osd_map: dict[str, Any] | None, version: Any = None) -> bool:
    """Does this map (the document as Ceph gives it: the OSD map, or the CRUSH map for CRUSH
    changes, see awaited_sync_object), of this version, show every expected change?"""
    if not expect:
        return True
    if not isinstance(osd_map, dict):
        return False
    pools = {p.get("pool"): p for p in osd_map.get("pools", []) if isinstance(p, dict)}
    for check in expect:
        kind = check["check"]
        if kind == "crush_map":
            if not crush_map_expectation_met(check, osd_map, version):
                return False
        elif kind in CRUSH_CHECKS:
            if not crush_expectation_met(check, osd_map):
                return False
        elif kind == "pool":
            if "id" in check:
                entry = pools.get(check["id"])
                if entry is None or entry.get("pool_name") != check["name"]:
                    return False
            else:
                entry = next((p for p in pools.values() if p.get("pool_name") == check["name"]), None)
                if entry is None:
                    return False
            for key, value in check["fields"].items():
                if key == "pg_num" and entry.get("pg_autoscale_mode") == "on" and key not in ("pgp_num",):
                    continue  # the autoscaler owns pg_num; Ceph may already be moving it elsewhere
                if pool_field(entry, key) != value:
                    return False
        elif kind == "pool_gone":
            if check["id"] in pools:
                return False
        elif kind == "osd":
            entry = next((o for o in osd_map.get("osds", []) if isinstance(o, dict) and o.get("osd") == check["id"]),
                         None)
            if entry is None:
                return False
            for key, value in check["fields"].items():
                if key == "up":
                    # a healthy daemon marked down comes back at once: a later down_at shows it happened
                    if entry.get("up") != 0 and int(entry.get("down_at") or 0) <= check.get("after", 0):
                        return False
                elif key == "weight":
                    if abs(float(entry.get("weight", -1)) - value) > REWEIGHT_STEP:
                        return False
                elif entry.get(key) != value:
                    return False
        elif kind == "flags":
            present = set(str(osd_map.get("flags", "")).split(","))
            if not set(check["set"]) <= present or set(check["unset"]) & present:
                return False
        else:
            return False
    return True
