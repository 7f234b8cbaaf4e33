"""The OSD map (`osd dump`) and the OSDs' metadata of the simulated cluster, from its state.

Entries are built once and kept in the state until a change drops them, so an unchanged OSD or
pool is the same object in consecutive maps."""

from __future__ import annotations

from typing import Any

from collector.ceph_shapes import content_hash
from collector.simulator.ceph import (
    CEPH_VERSION,
    CEPH_VERSION_SHORT,
    OSD_FEATURES,
    OSDMAP_FLAG_BITS,
    addrvec_string,
    host_address,
    json_number,
)
from collector.simulator.pool import SimPool
from collector.simulator.state import ClusterState


def osd_entry(state: ClusterState, osd_id: int) -> dict[str, Any]:
    entry = state.osd_entries[osd_id]
    if entry is not None:
        return entry
    host_index = state.osd_host[osd_id]
    ip = host_address(host_index)
    nonce = state.osd_nonce[osd_id]
    port = 6800 + 8 * state.osd_slot[osd_id]

    def addrs(offset: int) -> dict[str, Any]:
        return {"addrvec": [
            {"type": "v2", "addr": f"{ip}:{port + offset}", "nonce": nonce},
            {"type": "v1", "addr": f"{ip}:{port + offset + 1}", "nonce": nonce},
        ]}

    up, in_ = state.osd_up[osd_id], state.osd_in[osd_id]
    daemon_state = ["exists", "up"] if up else ["exists"]
    entry = {
        "osd": osd_id,
        "uuid": state.osd_uuid[osd_id],
        "up": int(up),
        "in": int(in_),
        # Ceph's JSON writer prints integral floats without a fraction ("weight": 1)
        "weight": json_number(state.osd_weight[osd_id]) if in_ else 0,
        "primary_affinity": 1,
        "last_clean_begin": 0,
        "last_clean_end": 0,
        "up_from": state.osd_up_from[osd_id],
        "up_thru": max(state.osd_up_from[osd_id], state.epoch - 1) if up else state.osd_down_at[osd_id] - 1,
        "down_at": state.osd_down_at[osd_id],
        "lost_at": 0,
        "public_addrs": addrs(0),
        "cluster_addrs": addrs(2),
        "heartbeat_back_addrs": addrs(6),
        "heartbeat_front_addrs": addrs(4),
        "public_addr": f"{ip}:{port + 1}/{nonce}",
        "cluster_addr": f"{ip}:{port + 3}/{nonce}",
        "heartbeat_back_addr": f"{ip}:{port + 7}/{nonce}",
        "heartbeat_front_addr": f"{ip}:{port + 5}/{nonce}",
        "state": daemon_state,
    }
    state.osd_entries[osd_id] = entry
    return entry


def _xinfo_entry(state: ClusterState, osd_id: int) -> dict[str, Any]:
    entry = state.xinfo_entries[osd_id]
    if entry is None:
        entry = state.xinfo_entries[osd_id] = {
            "osd": osd_id,
            "down_stamp": "0.000000" if state.osd_up[osd_id] else f"{state.clock():.6f}",
            "laggy_probability": 0,
            "laggy_interval": 0,
            "features": OSD_FEATURES,
            "old_weight": 0,
            "last_purged_snaps_scrub": state.created,
            "dead_epoch": 0 if state.osd_up[osd_id] else state.osd_down_at[osd_id],
        }
    return entry


def _pool_entry(state: ClusterState, pool: SimPool) -> dict[str, Any]:
    entry = state.pool_entries.get(pool.pool_id)
    if entry is not None:
        return entry
    entry = {
        "pool": pool.pool_id,
        "pool_name": pool.name,
        "create_time": pool.create_time,
        "flags": 1 if pool.hashpspool else 0,
        "flags_names": "hashpspool" if pool.hashpspool else "",
        "type": 3 if pool.erasure else 1,
        "size": pool.size,
        "min_size": pool.min_size,
        "crush_rule": pool.crush_rule,
        "peering_crush_bucket_count": 0,
        "peering_crush_bucket_target": 0,
        "peering_crush_bucket_barrier": 0,
        "peering_crush_bucket_mandatory_member": 2147483647,
        "object_hash": 2,
        "pg_autoscale_mode": pool.pg_autoscale_mode,
        "pg_num": pool.pg_num,
        "pg_placement_num": pool.pg_num,
        "pg_placement_num_target": pool.pg_num,
        "pg_num_target": pool.pg_num,
        "pg_num_pending": pool.pg_num,
        "last_pg_merge_meta": {
            "source_pgid": "0.0", "ready_epoch": 0, "last_epoch_started": 0,
            "last_epoch_clean": 0, "source_version": "0'0", "target_version": "0'0",
        },
        "last_change": str(pool.last_change),
        "last_force_op_resend": "0",
        "last_force_op_resend_prenautilus": "0",
        "last_force_op_resend_preluminous": "0",
        "auid": 0,
        "snap_mode": "selfmanaged",
        "snap_seq": 0,
        "snap_epoch": 0,
        "pool_snaps": [],
        "removed_snaps": "[]",
        "quota_max_bytes": pool.quota_max_bytes,
        "quota_max_objects": pool.quota_max_objects,
        "tiers": [],
        "tier_of": -1,
        "read_tier": -1,
        "write_tier": -1,
        "cache_mode": "none",
        "target_max_bytes": 0,
        "target_max_objects": 0,
        "cache_target_dirty_ratio_micro": 400000,
        "cache_target_dirty_high_ratio_micro": 600000,
        "cache_target_full_ratio_micro": 800000,
        "cache_min_flush_age": 0,
        "cache_min_evict_age": 0,
        "erasure_code_profile": pool.erasure_code_profile,
        "hit_set_params": {"type": "none"},
        "hit_set_period": 0,
        "hit_set_count": 0,
        "use_gmt_hitset": True,
        "min_read_recency_for_promote": 0,
        "min_write_recency_for_promote": 0,
        "hit_set_grade_decay_rate": 0,
        "hit_set_search_last_n": 0,
        "grade_table": [],
        "stripe_width": 8192 if pool.erasure else 0,
        "expected_num_objects": 0,
        "fast_read": False,
        "options": {},
        "application_metadata": {pool.application: {}} if pool.application else {},
    }
    state.pool_entries[pool.pool_id] = entry
    return entry


def _flags_string(state: ClusterState) -> tuple[str, int, list[str]]:
    ordered = sorted(state.flags, key=lambda flag: OSDMAP_FLAG_BITS.get(flag, 1 << 30))
    flags_num = sum(OSDMAP_FLAG_BITS.get(flag, 0) for flag in state.flags)
    return ",".join(ordered), flags_num, sorted(state.flags)


def osd_map(state: ClusterState) -> dict[str, Any]:
    if state.osd_map_doc is not None:
        return state.osd_map_doc
    flags, flags_num, flags_set = _flags_string(state)
    n = len(state.osd_up)
    state.osd_map_doc = {
        "epoch": state.epoch,
        "fsid": state.fsid,
        "created": state.created,
        "modified": state.modified,
        "last_up_change": state.last_up_change,
        "last_in_change": state.last_in_change,
        "flags": flags,
        "flags_num": flags_num,
        "flags_set": flags_set,
        "crush_version": state.crush.version,
        "full_ratio": 0.949999988079071,
        "backfillfull_ratio": 0.8999999761581421,
        "nearfull_ratio": 0.8500000238418579,
        "cluster_snapshot": "",
        "pool_max": state.pool_max,
        "max_osd": n,
        "require_min_compat_client": "luminous",
        "min_compat_client": "jewel",
        "require_osd_release": "pacific",
        "pools": [_pool_entry(state, pool) for pool in state.pools.values()],
        "osds": [osd_entry(state, i) for i in range(n) if state.osd_exists[i]],
        "osd_xinfo": [_xinfo_entry(state, i) for i in range(n) if state.osd_exists[i]],
        "pg_upmap": [],
        "pg_upmap_items": [],
        "pg_temp": [],
        "primary_temp": [],
        "blocklist": {},
        "range_blocklist": {},
        "erasure_code_profiles": state.erasure_code_profiles,
        "removed_snaps_queue": [],
        "new_removed_snaps": [],
        "new_purged_snaps": [],
        "crush_node_flags": {},
        "device_class_flags": {},
        "stretch_mode": {
            "stretch_mode_enabled": False, "stretch_bucket_count": 0,
            "degraded_stretch_mode": 0, "recovering_stretch_mode": 0, "stretch_mode_bucket": 0,
        },
    }
    return state.osd_map_doc


def osd_metadata(state: ClusterState) -> tuple[str, list[dict[str, Any]]]:
    if state.osd_metadata_doc is None:
        entries = []
        for osd_id in range(len(state.osd_up)):
            if not state.osd_exists[osd_id]:
                continue
            host_index = state.osd_host[osd_id]
            entry = osd_entry(state, osd_id)
            entries.append({
                "id": osd_id, "arch": "x86_64",
                "back_addr": addrvec_string(entry["cluster_addrs"]),
                "back_iface": "eth1", "ceph_release": "pacific", "ceph_version": CEPH_VERSION,
                "ceph_version_short": CEPH_VERSION_SHORT, "ceph_version_when_created": CEPH_VERSION,
                "container_name": "", "cpu": "AMD EPYC", "created_at": state.created.replace("+0000", "Z"),
                "default_device_class": "hdd", "device_ids": "", "device_paths": "",
                "devices": f"sd{chr(97 + state.osd_slot[osd_id] % 26)}",
                "distro": "debian", "distro_description": "Debian GNU/Linux 12 (bookworm)",
                "distro_version": "12", "front_addr": addrvec_string(entry["public_addrs"]),
                "front_iface": "eth0",
                "hb_back_addr": addrvec_string(entry["heartbeat_back_addrs"]),
                "hb_front_addr": addrvec_string(entry["heartbeat_front_addrs"]),
                "hostname": state.hosts[host_index], "journal_rotational": "1",
                "kernel_description": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0-18", "kernel_version": "6.1.0-18-amd64",
                "mem_swap_kb": "0", "mem_total_kb": "131072000", "network_numa_unknown_ifaces": "",
                "os": "Linux", "osd_data": f"/var/lib/ceph/osd/ceph-{osd_id}",
                "osd_objectstore": "bluestore", "osdspec_affinity": "", "rotational": "1",
            })
        state.osd_metadata_doc = (content_hash(entries), entries)
    return state.osd_metadata_doc
