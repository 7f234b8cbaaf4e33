"""Read-only pool commands of the simulated cluster, as `ceph <prefix> -f json` prints them:
`osd pool ls|get|get-quota|stats`, `osd erasure-code-profile ls|get`."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import EACCES, EINVAL, ENOENT, OBJECT_BYTES, Reply
from collector.simulator.osd_map import osd_map
from collector.simulator.pool import SimPool, no_such_pool
from collector.simulator.state import ClusterState, Handler


def _read_pool_ls(state: ClusterState, args: dict[str, Any]) -> Reply:
    pools = osd_map(state)["pools"]
    if args.get("detail"):
        return 0, pools, ""
    return 0, [p["pool_name"] for p in pools], ""


def _pool_get_values(state: ClusterState, pool: SimPool) -> dict[str, Any]:
    """What `osd pool get <pool> all` reports, in Ceph's order and types (flags are strings)."""
    rule = next((r for r in state.crush.rules if r["rule_id"] == pool.crush_rule), None)
    values: dict[str, Any] = {
        "size": pool.size, "min_size": pool.min_size, "pg_num": pool.pg_num, "pgp_num": pool.pg_num,
        "crush_rule": rule["rule_name"] if rule else str(pool.crush_rule),
        "hashpspool": "true" if pool.hashpspool else "false", "nodelete": "false", "nopgchange": "false",
        "nosizechange": "false", "write_fadvise_dontneed": "false", "noscrub": "false", "nodeep-scrub": "false",
        "use_gmt_hitset": True, "fast_read": False, "pg_autoscale_mode": pool.pg_autoscale_mode,
        "bulk": "false",
    }
    if pool.erasure:
        values["erasure_code_profile"] = pool.erasure_code_profile
    return values


def _read_pool_get(state: ClusterState, args: dict[str, Any]) -> Reply:
    pool = state.pool_by_name(args.get("pool"))
    if pool is None:
        return no_such_pool(args.get("pool"))
    var = args.get("var")
    values = _pool_get_values(state, pool)
    header = {"pool": pool.name, "pool_id": pool.pool_id}
    if var == "all":
        return 0, {**header, **values}, ""
    if var == "erasure_code_profile" and not pool.erasure:
        return -EACCES, "", f"pool '{pool.name}' is not a erasure pool: variable not applicable"
    if var not in values:
        return -EINVAL, "", f"invalid choice for var: '{var}' (known: {', '.join(values)}, all)"
    return 0, {**header, var: values[var]}, ""


def _read_pool_get_quota(state: ClusterState, args: dict[str, Any]) -> Reply:
    pool = state.pool_by_name(args.get("pool"))
    if pool is None:
        return no_such_pool(args.get("pool"))
    return 0, {"pool_name": pool.name, "pool_id": pool.pool_id, "quota_max_objects": pool.quota_max_objects,
               "current_num_objects": pool.objects, "quota_max_bytes": pool.quota_max_bytes,
               "current_num_bytes": int(pool.stored_bytes)}, ""


def _pool_stats_entry(state: ClusterState, pool: SimPool) -> dict[str, Any]:
    counts = state.pgs.by_pool.get(pool.pool_id, [])
    names = state.pgs.state_names
    degraded = sum(n for code, n in enumerate(counts) if "degraded" in names[code])
    misplaced = sum(n for code, n in enumerate(counts) if "remapped" in names[code])
    objects = pool.objects
    copies = objects * pool.size
    per_pg = copies / max(1, pool.pg_num)
    recovery: dict[str, Any] = {}
    # Ceph prints only the recovery counters that are non-zero; estimated from the PG counts
    if degraded:
        degraded_objects = int(per_pg * degraded / pool.size)
        recovery.update(degraded_objects=degraded_objects, degraded_total=copies,
                        degraded_ratio=degraded_objects / copies if copies else 0)
    if misplaced:
        misplaced_objects = int(per_pg * misplaced / pool.size)
        recovery.update(misplaced_objects=misplaced_objects, misplaced_total=copies,
                        misplaced_ratio=misplaced_objects / copies if copies else 0)
    recovering = sum(n for code, n in enumerate(counts)  # waiting to backfill moves nothing yet
                     if "recovering" in names[code] or "backfilling" in names[code])
    recovery_rate: dict[str, Any] = {}
    if recovering:
        recovery_rate = {"recovering_objects_per_sec": recovering, "recovering_bytes_per_sec": recovering * OBJECT_BYTES,
                         "recovering_keys_per_sec": 0, "num_objects_recovered": recovering,
                         "num_bytes_recovered": recovering * OBJECT_BYTES, "num_keys_recovered": 0}
    client_io: dict[str, Any] = {}
    if pool.read_bytes_sec or pool.write_bytes_sec:
        client_io = {key: value for key, value in (("read_bytes_sec", pool.read_bytes_sec),
                                                   ("write_bytes_sec", pool.write_bytes_sec)) if value}
        client_io.update(read_op_per_sec=pool.read_op_per_sec, write_op_per_sec=pool.write_op_per_sec)
    return {"pool_name": pool.name, "pool_id": pool.pool_id, "recovery": recovery, "recovery_rate": recovery_rate,
            "client_io_rate": client_io}


def _read_pool_stats(state: ClusterState, args: dict[str, Any]) -> Reply:
    name = args.get("pool_name")
    if name is None:
        return 0, [_pool_stats_entry(state, pool) for pool in state.pools.values()], ""
    pool = state.pool_by_name(name)
    if pool is None:
        return no_such_pool(name)
    return 0, [_pool_stats_entry(state, pool)], ""


def _read_ec_profile_get(state: ClusterState, args: dict[str, Any]) -> Reply:
    name = args.get("name")
    profile = state.erasure_code_profiles.get(str(name))
    if profile is None:
        return -ENOENT, "", f"unknown erasure code profile '{name}'"
    return 0, dict(profile), ""


POOL_READS: dict[str, Handler] = {
    "osd pool ls": _read_pool_ls,
    "osd pool get": _read_pool_get,
    "osd pool get-quota": _read_pool_get_quota,
    "osd pool stats": _read_pool_stats,
    "osd erasure-code-profile ls": lambda state, args: (0, sorted(state.erasure_code_profiles), ""),
    "osd erasure-code-profile get": _read_ec_profile_get,
}
