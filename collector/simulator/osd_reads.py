"""Read-only OSD commands of the simulated cluster, as `ceph <prefix> -f json` prints them:
`osd dump|stat|ls|tree|df|perf|blocked-by|metadata`."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import ENOENT, OSD_BYTES, STATE_PEERED, STATE_STALE, Reply
from collector.simulator.host_reports import osd_latency_ms
from collector.simulator.maps import osd_used_bytes
from collector.simulator.osd_map import osd_entry, osd_map, osd_metadata
from collector.simulator.state import ClusterState, Handler


def osd_stat(osd_dump: dict[str, Any]) -> dict[str, Any]:
    """`osd stat` of an OSD map: its epoch and how many OSDs there are, up and in."""
    osds = osd_dump["osds"]
    return {"epoch": osd_dump["epoch"], "num_osds": len(osds), "num_up_osds": sum(o["up"] for o in osds),
            "num_in_osds": sum(o["in"] for o in osds), "num_remapped_pgs": 0}


def _read_osd_metadata(state: ClusterState, args: dict[str, Any]) -> Reply:
    _, metadata = osd_metadata(state)
    if args.get("id") is None:
        return 0, metadata, ""
    wanted = int(args["id"])
    for entry in metadata:
        if entry["id"] == wanted:
            return 0, entry, ""
    return -ENOENT, "", f"osd.{wanted} does not exist"


def _crush_osd_weights(state: ClusterState) -> tuple[list[dict[str, Any]], dict[int, float], dict[int, int]]:
    """The real (not "~hdd" shadow) buckets, root first; each OSD's CRUSH weight and depth."""
    buckets = [b for b in state.crush.dump()["buckets"] if "~" not in b["name"]]
    weights: dict[int, float] = {}
    depths: dict[int, int] = {}
    by_id = {b["id"]: b for b in buckets}
    child_ids = {item["id"] for b in buckets for item in b["items"]}

    def walk(bucket: dict[str, Any], depth: int) -> None:
        for item in bucket["items"]:
            if item["id"] >= 0:
                weights[item["id"]] = item["weight"] / 0x10000
                depths[item["id"]] = depth + 1
            elif item["id"] in by_id:
                walk(by_id[item["id"]], depth + 1)

    roots = [b for b in buckets if b["id"] not in child_ids]
    for root in roots:
        walk(root, 0)
    return roots, weights, depths


def _read_osd_tree(state: ClusterState, args: dict[str, Any]) -> Reply:
    buckets = {b["id"]: b for b in state.crush.dump()["buckets"] if "~" not in b["name"]}
    roots, weights, _ = _crush_osd_weights(state)
    nodes: list[dict[str, Any]] = []

    def visit(bucket: dict[str, Any], depth: int) -> None:
        # Ceph lists a bucket's children newest first, then descends depth first in item order
        node = {"id": bucket["id"], "name": bucket["name"], "type": bucket["type_name"],
                "type_id": bucket["type_id"]}
        if depth:
            node["pool_weights"] = {}
        node["children"] = [item["id"] for item in reversed(bucket["items"])]
        nodes.append(node)
        for item in bucket["items"]:
            if item["id"] >= 0:
                osd_id = item["id"]
                entry = osd_entry(state, osd_id)
                nodes.append({"id": osd_id, "device_class": "hdd", "name": f"osd.{osd_id}", "type": "osd",
                              "type_id": 0, "crush_weight": weights[osd_id], "depth": depth + 1,
                              "pool_weights": {}, "exists": 1, "status": "up" if entry["up"] else "down",
                              "reweight": entry["weight"], "primary_affinity": entry["primary_affinity"]})
            elif item["id"] in buckets:
                visit(buckets[item["id"]], depth + 1)

    for root in roots:
        visit(root, 0)
    stray = [{"id": o, "name": f"osd.{o}", "type": "osd", "type_id": 0, "crush_weight": 0, "depth": 0,
              "exists": 1, "status": "up" if state.osd_up[o] else "down", "reweight": osd_entry(state, o)["weight"],
              "primary_affinity": 1}
             for o in range(len(state.osd_up)) if state.osd_exists[o] and o not in weights]
    return 0, {"nodes": nodes, "stray": stray}, ""


def _read_osd_df(state: ClusterState, args: dict[str, Any]) -> Reply:
    _, weights, depths = _crush_osd_weights(state)
    used = osd_used_bytes(state)
    rows: list[dict[str, Any]] = []
    for osd_id in range(len(state.osd_up)):
        if not state.osd_exists[osd_id]:
            continue
        entry = osd_entry(state, osd_id)
        # an out OSD counts for nothing in Ceph's totals: its sizes print as 0
        kb = OSD_BYTES // 1024 if entry["in"] else 0
        kb_used = used[osd_id] // 1024 if kb else 0
        rows.append({"id": osd_id, "device_class": "hdd", "name": f"osd.{osd_id}", "type": "osd", "type_id": 0,
                     "crush_weight": weights.get(osd_id, 0), "depth": depths.get(osd_id, 0), "pool_weights": {},
                     "reweight": entry["weight"], "kb": kb, "kb_used": kb_used, "kb_used_data": kb_used,
                     "kb_used_omap": 0, "kb_used_meta": 0, "kb_avail": kb - kb_used,
                     "utilization": kb_used / kb * 100 if kb else 0, "var": 0,
                     "pgs": state.pgs.pgs_on(osd_id), "status": "up" if entry["up"] else "down"})
    counted = [row for row in rows if row["kb"]]
    total_kb = sum(row["kb"] for row in counted)
    total_used = sum(row["kb_used"] for row in counted)
    average = total_used / total_kb * 100 if total_kb else 0
    for row in counted:
        row["var"] = row["utilization"] / average if average else 1
    variances = [row["var"] for row in counted] or [0]
    deviation = (sum((row["utilization"] - average) ** 2 for row in counted) / len(counted)) ** 0.5 if counted else 0
    return 0, {"nodes": rows, "stray": [], "summary": {
        "total_kb": total_kb, "total_kb_used": total_used, "total_kb_used_data": total_used,
        "total_kb_used_omap": 0, "total_kb_used_meta": 0, "total_kb_avail": total_kb - total_used,
        "average_utilization": average, "min_var": min(variances), "max_var": max(variances), "dev": deviation,
    }}, ""


def _read_osd_perf(state: ClusterState, args: dict[str, Any]) -> Reply:
    infos = []
    for osd_id in reversed(range(len(state.osd_up))):  # Ceph lists the highest id first
        if state.osd_exists[osd_id]:
            latency = osd_latency_ms(state, osd_id)
            infos.append({"id": osd_id, "perf_stats": {
                "commit_latency_ms": latency, "apply_latency_ms": latency,
                "commit_latency_ns": latency * 1_000_000, "apply_latency_ns": latency * 1_000_000}})
    return 0, {"pg_ready": True, "osdstats": {"osd_perf_infos": infos}}, ""


def _read_osd_blocked_by(state: ClusterState, args: dict[str, Any]) -> Reply:
    # A PG that cannot go active (peered, stale) is blocked by its down OSDs; only down OSDs'
    # PGs are looked at, so this stays cheap on a large healthy cluster.
    inactive = {code for name in (STATE_PEERED, STATE_STALE) if (code := state.pgs.known_code(name)) is not None}
    blocked: dict[int, int] = {}
    for osd_id in range(len(state.osd_up)):
        if state.osd_exists[osd_id] and not state.osd_up[osd_id]:
            count = sum(1 for index in state.pgs.osd_pgs[osd_id] if state.pgs.pg_state[index] in inactive)
            if count:
                blocked[osd_id] = count
    return 0, [{"id": osd_id, "num_blocked": count} for osd_id, count in sorted(blocked.items())], ""


OSD_READS: dict[str, Handler] = {
    "osd dump": lambda state, args: (0, osd_map(state), ""),
    "osd stat": lambda state, args: (0, osd_stat(osd_map(state)), ""),
    "osd ls": lambda state, args: (0, [o["osd"] for o in osd_map(state)["osds"]], ""),
    "osd tree": _read_osd_tree,
    "osd df": _read_osd_df,
    "osd perf": _read_osd_perf,
    "osd blocked-by": _read_osd_blocked_by,
    "osd metadata": _read_osd_metadata,
}
