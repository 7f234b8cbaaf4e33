"""Hypothesis strategies for realistic Ceph 16.2 maps, for testing calamari and code built on it.

Documents are built on the shapes of real `ceph ... -f json` output (see FIXTURE_* below, taken
from a real Pacific cluster's first entries) with the fields a cluster changes drawn at random.

    from calamari.testing.strategies import cluster_states, osd_map
    @given(cluster_states())
    def test_something(state): doc = osd_map(state, epoch=10) ...
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

FSID = "9141328e-ac6c-4887-9e9e-66cca43253be"

# One entry of `ceph osd dump -f json`'s "osds", as a real Pacific cluster printed it.
FIXTURE_OSD: dict[str, Any] = {
    "osd": 0, "uuid": "c06b9a6c-ada5-4bdd-b37f-ad345898212d", "up": 1, "in": 1, "weight": 1,
    "primary_affinity": 1, "last_clean_begin": 0, "last_clean_end": 0, "up_from": 5, "up_thru": 13,
    "down_at": 0, "lost_at": 0,
    "public_addrs": {"addrvec": [{"type": "v2", "addr": "127.0.0.1:6800", "nonce": 5265},
                                 {"type": "v1", "addr": "127.0.0.1:6801", "nonce": 5265}]},
    "cluster_addrs": {"addrvec": [{"type": "v2", "addr": "127.0.0.1:6802", "nonce": 5265},
                                  {"type": "v1", "addr": "127.0.0.1:6803", "nonce": 5265}]},
    "heartbeat_back_addrs": {"addrvec": [{"type": "v2", "addr": "127.0.0.1:6806", "nonce": 5265}]},
    "heartbeat_front_addrs": {"addrvec": [{"type": "v2", "addr": "127.0.0.1:6804", "nonce": 5265}]},
    "public_addr": "127.0.0.1:6801/5265", "cluster_addr": "127.0.0.1:6803/5265",
    "heartbeat_back_addr": "127.0.0.1:6807/5265", "heartbeat_front_addr": "127.0.0.1:6805/5265",
    "state": ["exists", "up"],
}

# One entry of its "pools" (trimmed of the cache-tier fields a replicated pool leaves at zero).
FIXTURE_POOL: dict[str, Any] = {
    "pool": 2, "pool_name": "rbd", "create_time": "2026-11-24T15:42:47.650567+0000", "flags": 1,
    "flags_names": "hashpspool", "type": 1, "size": 1, "min_size": 1, "crush_rule": 0,
    "object_hash": 2, "pg_autoscale_mode": "on", "pg_num": 32, "pg_placement_num": 32,
    "pg_placement_num_target": 32, "pg_num_target": 32, "pg_num_pending": 32, "last_change": "15",
    "snap_mode": "selfmanaged", "snap_seq": 0, "snap_epoch": 0, "pool_snaps": [], "removed_snaps": "[]",
    "quota_max_bytes": 0, "quota_max_objects": 0, "tiers": [], "tier_of": -1, "read_tier": -1,
    "write_tier": -1, "cache_mode": "none", "target_max_bytes": 0, "target_max_objects": 0,
    "erasure_code_profile": "", "stripe_width": 0, "expected_num_objects": 0, "fast_read": False,
    "options": {}, "application_metadata": {"rbd": {}},
}

BASE_FLAGS = ["sortbitwise", "recovery_deletes", "purged_snapdirs", "pglog_hardlimit"]
OPERATOR_FLAGS = ["noout", "noin", "noup", "nodown", "pause", "nobackfill", "norecover", "noscrub",
                  "nodeep-scrub", "norebalance"]
HEALTH_CHECKS = {
    "OSDMAP_FLAGS": ("HEALTH_WARN", "{n} flag(s) set"),
    "OSD_DOWN": ("HEALTH_WARN", "{n} osds down"),
    "PG_AVAILABILITY": ("HEALTH_WARN", "Reduced data availability: {n} pgs stale"),
    "PG_DEGRADED": ("HEALTH_WARN", "Degraded data redundancy: {n} pgs undersized"),
    "POOL_FULL": ("HEALTH_ERR", "{n} pool(s) full"),
    "MON_DOWN": ("HEALTH_WARN", "{n}/3 mons down"),
}
PG_STATES = ["active+clean", "active+undersized", "stale+active+clean", "peering",
             "active+recovery_wait+remapped", "active+clean+scrubbing", "active+undersized+degraded"]
POOL_NAME = st.from_regex(r"[a-z][a-z0-9_.-]{0,14}", fullmatch=True)


@dataclass
class OsdState:
    up: bool = True
    in_: bool = True
    weight: float = 1.0
    uuid: str = ""
    port: int = 6800


@dataclass
class PoolState:
    name: str
    size: int = 3
    min_size: int = 2
    pg_num: int = 32
    erasure: bool = False
    quota_max_bytes: int = 0
    quota_max_objects: int = 0
    application: str = "rbd"


@dataclass
class ClusterState:
    """What a cluster is at one moment; render it with osd_map(), health_detail(), ..."""

    fsid: str = FSID
    osds: dict[int, OsdState] = field(default_factory=dict)
    pools: dict[int, PoolState] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    health: dict[str, int] = field(default_factory=dict)
    pg_states: dict[str, int] = field(default_factory=lambda: {"active+clean": 32})
    next_pool_id: int = 1


def new_uuid(seed: int) -> str:
    return str(uuid.UUID(int=seed + (1 << 100)))


def osd_entry(osd_id: int, s: OsdState) -> dict[str, Any]:
    e = copy.deepcopy(FIXTURE_OSD)
    nonce = 1000 + s.port
    e.update(osd=osd_id, uuid=s.uuid or new_uuid(osd_id), up=int(s.up), **{"in": int(s.in_)},
             weight=s.weight if s.in_ else 0.0)
    e["public_addr"] = f"127.0.0.1:{s.port + 1}/{nonce}"
    e["cluster_addr"] = f"127.0.0.1:{s.port + 3}/{nonce}"
    e["state"] = ["exists", "up"] if s.up else ["exists"]
    return e


def pool_entry(pool_id: int, p: PoolState) -> dict[str, Any]:
    e = copy.deepcopy(FIXTURE_POOL)
    e.update(pool=pool_id, pool_name=p.name, size=p.size, min_size=p.min_size, pg_num=p.pg_num,
             pg_placement_num=p.pg_num, pg_num_target=p.pg_num, pg_placement_num_target=p.pg_num,
             pg_num_pending=p.pg_num, type=3 if p.erasure else 1,
             erasure_code_profile="ec21" if p.erasure else "", quota_max_bytes=p.quota_max_bytes,
             quota_max_objects=p.quota_max_objects, application_metadata={p.application: {}})
    return e


def osd_map(state: ClusterState, epoch: int) -> dict[str, Any]:
    """`ceph osd dump -f json` for the state."""
    flags = [f for f in OPERATOR_FLAGS if f in state.flags] + BASE_FLAGS
    return {
        "epoch": epoch, "fsid": state.fsid, "created": "2026-11-24T15:42:31.014255+0000",
        "modified": "2026-11-24T15:42:50.198736+0000", "flags": ",".join(flags),
        "flags_num": 5799936, "flags_set": sorted(flags), "crush_version": 7,
        "full_ratio": 0.949999988079071, "backfillfull_ratio": 0.8999999761581421,
        "nearfull_ratio": 0.8500000238418579, "cluster_snapshot": "",
        "pool_max": max(state.pools, default=0), "max_osd": max(state.osds, default=-1) + 1,
        "require_min_compat_client": "luminous", "min_compat_client": "jewel",
        "require_osd_release": "pacific",
        "pools": [pool_entry(i, p) for i, p in sorted(state.pools.items())],
        "osds": [osd_entry(i, o) for i, o in sorted(state.osds.items())],
        "osd_xinfo": [], "pg_upmap": [], "pg_upmap_items": [], "pg_temp": [], "primary_temp": [],
        "blocklist": {}, "erasure_code_profiles": {}, "removed_snaps_queue": [], "new_removed_snaps": [],
        "new_purged_snaps": [], "crush_node_flags": {}, "device_class_flags": {},
        "stretch_mode": {"stretch_mode_enabled": False},
    }


def health_detail(state: ClusterState) -> dict[str, Any]:
    """`ceph health detail -f json` for the state."""
    checks = {}
    for code, count in sorted(state.health.items()):
        severity, message = HEALTH_CHECKS[code]
        checks[code] = {"severity": severity, "summary": {"message": message.format(n=count), "count": count},
                        "detail": [], "muted": False}
    status = "HEALTH_OK"
    if checks:
        status = "HEALTH_ERR" if any(c["severity"] == "HEALTH_ERR" for c in checks.values()) else "HEALTH_WARN"
    return {"status": status, "checks": checks, "mutes": []}


def pg_summary(state: ClusterState, version: int) -> dict[str, Any]:
    """The collector's reduction of the PG map (counts by state, per pool)."""
    by_pool: dict[str, dict[str, int]] = {}
    pools = sorted(state.pools) or [0]
    for i, (pg_state, count) in enumerate(sorted(state.pg_states.items())):
        pool = str(pools[i % len(pools)])
        by_pool.setdefault(pool, {})[pg_state] = count
    return {"version": version, "stamp": "", "num_pgs": sum(state.pg_states.values()),
            "by_state": dict(state.pg_states), "by_pool": by_pool, "by_osd": {}}


def osd_states(max_osds: int = 12) -> st.SearchStrategy[dict[int, OsdState]]:
    one = st.builds(OsdState, up=st.booleans(), in_=st.booleans(),
                    weight=st.sampled_from([1.0, 0.5, 0.75, 0.25]))
    return st.dictionaries(st.integers(0, max_osds * 2), one, min_size=1, max_size=max_osds)


def pool_states(max_pools: int = 6) -> st.SearchStrategy[list[PoolState]]:
    one = st.builds(PoolState, name=POOL_NAME, size=st.integers(1, 4), min_size=st.integers(1, 2),
                    pg_num=st.sampled_from([8, 16, 32, 64, 128]), erasure=st.booleans(),
                    quota_max_bytes=st.sampled_from([0, 1 << 30]),
                    application=st.sampled_from(["rbd", "rgw", "cephfs"]))
    return st.lists(one, max_size=max_pools, unique_by=lambda p: p.name)


@st.composite
def cluster_states(draw: st.DrawFn, max_osds: int = 12, max_pools: int = 6) -> ClusterState:
    """A whole cluster state: OSDs, pools, flags, health checks and PG states."""
    state = ClusterState(osds=draw(osd_states(max_osds)))
    for pool in draw(pool_states(max_pools)):
        state.pools[state.next_pool_id] = pool
        state.next_pool_id += 1
    state.flags = draw(st.lists(st.sampled_from(OPERATOR_FLAGS), unique=True, max_size=3))
    state.health = draw(st.dictionaries(st.sampled_from(sorted(HEALTH_CHECKS)), st.integers(1, 9), max_size=3))
    state.pg_states = draw(st.dictionaries(st.sampled_from(PG_STATES), st.integers(1, 512), min_size=1, max_size=4))
    return state
