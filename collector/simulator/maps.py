"""The simulated cluster's documents other than the OSD and CRUSH maps: mon map and quorum
status, fs map, health, df, config, the PG summary; built from its state on each call."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import OBJECT_BYTES, OSD_BYTES, SETTABLE_FLAGS, ceph_stamp, host_address
from collector.simulator.state import ClusterState


def _mons(state: ClusterState) -> list[dict[str, Any]]:
    mons = []
    for rank, host in enumerate(state.mon_hosts()):
        ip = host_address(state.hosts.index(host))
        mons.append({
            "rank": rank,
            "name": host,
            "public_addrs": {"addrvec": [
                {"type": "v2", "addr": f"{ip}:3300", "nonce": 0},
                {"type": "v1", "addr": f"{ip}:6789", "nonce": 0},
            ]},
            "addr": f"{ip}:6789/0",
            "public_addr": f"{ip}:6789/0",
            "priority": 0,
            "weight": 0,
            "crush_location": "{}",
        })
    return mons


def _monmap_base(state: ClusterState) -> dict[str, Any]:
    return {
        "epoch": 1,
        "fsid": state.fsid,
        "modified": state.created.replace("+0000", "Z"),
        "created": state.created.replace("+0000", "Z"),
        "min_mon_release": 16,
        "min_mon_release_name": "pacific",
        "election_strategy": 1,
        "disallowed_leaders: ": "",
        "stretch_mode": False,
        "tiebreaker_mon": "",
        "removed_ranks: ": "",
        "features": {
            "persistent": ["kraken", "luminous", "mimic", "osdmap-prune", "nautilus", "octopus",
                           "pacific", "elector-pinging"],
            "optional": [],
        },
        "mons": _mons(state),
    }


def mon_map(state: ClusterState) -> dict[str, Any]:
    monmap = _monmap_base(state)
    monmap["quorum"] = list(range(len(monmap["mons"])))
    return monmap


def mon_status(state: ClusterState) -> dict[str, Any]:
    mons = state.mon_hosts()
    return {
        "election_epoch": 2 + len(mons),
        "quorum": list(range(len(mons))),
        "quorum_names": list(mons),
        "quorum_leader_name": mons[0],
        "quorum_age": int(state.clock() - state.created_ts),
        "features": {
            "quorum_con": "4540138314316775423",
            "quorum_mon": ["kraken", "luminous", "mimic", "osdmap-prune", "nautilus", "octopus",
                           "pacific", "elector-pinging"],
        },
        "monmap": _monmap_base(state),
    }


def fs_map() -> dict[str, Any]:
    return {
        "epoch": 1,
        "default_fscid": -1,
        "compat": {"compat": {}, "ro_compat": {}, "incompat": {
            "feature_1": "base v0.20", "feature_2": "client writeable ranges",
            "feature_3": "default file layouts on dirs", "feature_4": "dir inode in separate object",
            "feature_5": "mds uses versioned encoding", "feature_6": "dirfrag is stored in omap",
            "feature_8": "no anchor table", "feature_9": "file layout v2", "feature_10": "snaprealm v2",
        }},
        "feature_flags": {"enable_multiple": True, "ever_enabled_multiple": True},
        "standbys": [],
        "filesystems": [],
    }


def health(state: ClusterState) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    settable = sorted(state.flags & SETTABLE_FLAGS)
    if settable:
        checks["OSDMAP_FLAGS"] = {
            "severity": "HEALTH_WARN",
            "summary": {"message": f"{','.join(settable)} flag(s) set", "count": len(settable)},
            "detail": [], "muted": False,
        }
    down = [i for i in range(len(state.osd_up)) if state.osd_exists[i] and not state.osd_up[i]]
    if down:
        checks["OSD_DOWN"] = {
            "severity": "HEALTH_WARN",
            "summary": {"message": f"{len(down)} osds down", "count": len(down)},
            "detail": [{"message": f"osd.{i} (root=default,host={state.hosts[state.osd_host[i]]}) is down"}
                       for i in down],
            "muted": False,
        }
    degraded = sum(
        count for code, count in enumerate(state.pgs.by_state)
        if "degraded" in state.pgs.state_names[code] or "stale" in state.pgs.state_names[code]
    )
    if degraded:
        checks["PG_DEGRADED"] = {
            "severity": "HEALTH_WARN",
            "summary": {"message": f"Degraded data redundancy: {degraded} pgs degraded",
                        "count": degraded},
            "detail": [], "muted": False,
        }
    for pool in state.pools.values():
        if pool.quota_max_bytes and pool.stored_bytes >= pool.quota_max_bytes:
            checks.setdefault("POOL_FULL", {
                "severity": "HEALTH_WARN",
                "summary": {"message": "pool(s) full", "count": 0},
                "detail": [], "muted": False,
            })
            checks["POOL_FULL"]["summary"]["count"] += 1
            checks["POOL_FULL"]["detail"].append({"message": f"pool '{pool.name}' is full (running out of quota)"})
    return {"status": "HEALTH_WARN" if checks else "HEALTH_OK", "checks": checks, "mutes": []}


def io(state: ClusterState) -> dict[str, int]:
    return {
        "read_bytes_sec": sum(p.read_bytes_sec for p in state.pools.values()),
        "write_bytes_sec": sum(p.write_bytes_sec for p in state.pools.values()),
        "read_op_per_sec": sum(p.read_op_per_sec for p in state.pools.values()),
        "write_op_per_sec": sum(p.write_op_per_sec for p in state.pools.values()),
    }


def pg_summary(state: ClusterState) -> dict[str, Any]:
    return state.pgs.summary(ceph_stamp(state.clock()), io(state))


def osd_used_bytes(state: ClusterState) -> list[int]:
    """Each OSD's used bytes: the pools' raw usage shared over the OSDs that are in."""
    raw = sum(p.stored_bytes * (1.5 if p.erasure else p.size) for p in state.pools.values())
    in_osds = sum(1 for i in range(len(state.osd_in)) if state.osd_in[i] and state.osd_exists[i])
    share = raw / max(1, in_osds)
    return [
        int(share * (0.9 + 0.2 * ((i * 2654435761) % 1000) / 1000)) + 64 * 1024**2
        if state.osd_in[i] else 64 * 1024**2
        for i in range(len(state.osd_in))
    ]


def df(state: ClusterState) -> dict[str, Any]:
    total = OSD_BYTES * sum(state.osd_exists)
    used = sum(osd_used_bytes(state))
    avail = total - used
    stats = {"total_bytes": total, "total_avail_bytes": avail, "total_used_bytes": used,
             "total_used_raw_bytes": used, "total_used_raw_ratio": used / total if total else 0}
    pools = []
    for pool in state.pools.values():
        stored = int(pool.stored_bytes)
        factor = 1.5 if pool.erasure else pool.size
        bytes_used = int(stored * factor)
        max_avail = int(avail / factor)
        pools.append({"name": pool.name, "id": pool.pool_id, "stats": {
            "stored": stored, "stored_data": stored, "stored_omap": 0,
            "objects": stored // OBJECT_BYTES, "kb_used": bytes_used // 1024,
            "bytes_used": bytes_used, "data_bytes_used": bytes_used, "omap_bytes_used": 0,
            "percent_used": bytes_used / (bytes_used + max_avail) if bytes_used + max_avail else 0,
            "max_avail": max_avail, "quota_objects": pool.quota_max_objects,
            "quota_bytes": pool.quota_max_bytes, "dirty": stored // OBJECT_BYTES,
            "rd": pool.num_read, "rd_bytes": pool.num_read_kb * 1024,
            "wr": pool.num_write, "wr_bytes": pool.num_write_kb * 1024,
            "compress_bytes_used": 0, "compress_under_bytes": 0,
            "stored_raw": bytes_used, "avail_raw": avail,
        }})
    return {
        "stats": {**stats, "num_osds": sum(state.osd_exists), "num_per_pool_osds": sum(state.osd_exists),
                  "num_per_pool_omap_osds": sum(state.osd_exists)},
        "stats_by_class": {"hdd": dict(stats)},
        "pools": pools,
    }


def config() -> list[dict[str, Any]]:
    return [
        {"section": "global", "name": "osd_pool_default_size", "value": "3", "level": "advanced",
         "can_update_at_runtime": True, "mask": ""},
        {"section": "mgr", "name": "mgr/dashboard/ssl", "value": "false", "level": "advanced",
         "can_update_at_runtime": False, "mask": ""},
    ]

