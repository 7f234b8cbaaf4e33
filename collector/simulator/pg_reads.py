"""Read-only PG commands of the simulated cluster, as `ceph <prefix> -f json` prints them:
`pg dump summary|pgs_brief`, `pg ls`, `pg stat`."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import EINVAL, ITEM_NONE, NO_OSD, Reply, ceph_stamp
from collector.simulator.maps import df, pg_summary
from collector.simulator.pgs import MAX_ACTING
from collector.simulator.pool import SimPool
from collector.simulator.state import ClusterState, Handler

# A real `pg ls` lists every PG; a full pg_stat entry for each of a million PGs would stall the
# simulator, so it lists the first ones (and says so on stderr).
PG_LS_LIMIT = 1000

STAT_SUM_KEYS = (
    "num_bytes", "num_objects", "num_object_clones", "num_object_copies", "num_objects_missing_on_primary",
    "num_objects_missing", "num_objects_degraded", "num_objects_misplaced", "num_objects_unfound",
    "num_objects_dirty", "num_whiteouts", "num_read", "num_read_kb", "num_write", "num_write_kb",
    "num_scrub_errors", "num_shallow_scrub_errors", "num_deep_scrub_errors", "num_objects_recovered",
    "num_bytes_recovered", "num_keys_recovered", "num_objects_omap", "num_objects_hit_set_archive",
    "num_bytes_hit_set_archive", "num_flush", "num_flush_kb", "num_evict", "num_evict_kb", "num_promote",
    "num_flush_mode_high", "num_flush_mode_low", "num_evict_mode_some", "num_evict_mode_full",
    "num_objects_pinned", "num_legacy_snapsets", "num_large_omap_objects", "num_objects_manifest",
    "num_omap_bytes", "num_omap_keys", "num_objects_repaired",
)
STORE_STATS_KEYS = (
    "total", "available", "internally_reserved", "allocated", "data_stored", "data_compressed",
    "data_compressed_allocated", "data_compressed_original", "omap_allocated", "internal_metadata",
)


def _pg_brief_entries(state: ClusterState, limit: int | None = None) -> list[dict[str, Any]]:
    """One {pgid, state, up, acting, ...} per PG, read straight off the flat arrays: down OSDs drop
    out of a replicated PG's set and leave a hole (ITEM_NONE) in an erasure-coded one."""
    names, states, acting, osd_up = state.pgs.state_names, state.pgs.pg_state, state.pgs.pg_acting, state.osd_up
    width = MAX_ACTING
    entries: list[dict[str, Any]] = []
    for pool in state.pools.values():
        prefix = f"{pool.pool_id}."
        erasure = pool.erasure
        for ps, index in enumerate(pool.pg_indexes):
            if limit is not None and len(entries) >= limit:
                return entries
            base = index * width
            osds = [o if osd_up[o] else ITEM_NONE for o in acting[base: base + width]
                    if o != NO_OSD and (erasure or osd_up[o])]
            primary = next((o for o in osds if o != ITEM_NONE), -1)
            entries.append({"pgid": f"{prefix}{ps:x}", "state": names[states[index]], "up": osds,
                            "acting": osds.copy(), "up_primary": primary, "acting_primary": primary})
    return entries


def _stat_sum(pools: list[SimPool]) -> dict[str, int]:
    stat_sum = dict.fromkeys(STAT_SUM_KEYS, 0)
    for pool in pools:
        objects = pool.objects
        stat_sum["num_bytes"] += int(pool.stored_bytes)
        stat_sum["num_objects"] += objects
        stat_sum["num_object_copies"] += objects * pool.size
        stat_sum["num_objects_dirty"] += objects
        stat_sum["num_read"] += pool.num_read
        stat_sum["num_read_kb"] += pool.num_read_kb
        stat_sum["num_write"] += pool.num_write
        stat_sum["num_write_kb"] += pool.num_write_kb
    return stat_sum


def _pg_map_summary(state: ClusterState) -> dict[str, Any]:
    usage = df(state)["stats"]
    acting_slots = sum(state.pgs.pgs_on(o) for o in range(len(state.osd_up)))
    zero_store = dict.fromkeys(STORE_STATS_KEYS, 0)
    num_osds = sum(state.osd_exists)
    perf = dict.fromkeys(("commit_latency_ms", "apply_latency_ms", "commit_latency_ns", "apply_latency_ns"), 0)
    pg_stats_sum = {"stat_sum": _stat_sum(list(state.pools.values())), "store_stats": dict(zero_store),
                    "log_size": 0, "ondisk_log_size": 0, "up": acting_slots, "acting": acting_slots,
                    "num_store_stats": 0}
    delta = {"stat_sum": dict.fromkeys(STAT_SUM_KEYS, 0), "store_stats": dict(zero_store), "log_size": 0,
             "ondisk_log_size": 0, "up": 0, "acting": 0, "num_store_stats": 0, "stamp_delta": "0.000000"}
    return {
        "version": state.pgs.version, "stamp": ceph_stamp(state.clock()), "last_osdmap_epoch": 0, "last_pg_scan": 0,
        "pg_stats_sum": pg_stats_sum,
        "osd_stats_sum": {
            "up_from": 0, "seq": 0, "num_pgs": acting_slots, "num_osds": num_osds, "num_per_pool_osds": num_osds,
            "num_per_pool_omap_osds": num_osds, "kb": usage["total_bytes"] // 1024,
            "kb_used": usage["total_used_bytes"] // 1024, "kb_used_data": usage["total_used_bytes"] // 1024,
            "kb_used_omap": 0, "kb_used_meta": 0, "kb_avail": usage["total_avail_bytes"] // 1024,
            "statfs": {**zero_store, "total": usage["total_bytes"], "available": usage["total_avail_bytes"],
                       "allocated": usage["total_used_bytes"], "data_stored": usage["total_used_bytes"]},
            "hb_peers": [], "snap_trim_queue_len": 0, "num_snap_trimming": 0, "num_shards_repaired": 0,
            "op_queue_age_hist": {"histogram": [], "upper_bound": 1}, "perf_stat": perf, "alerts": [],
            "network_ping_times": []},
        "pg_stats_delta": delta,
    }


def _read_pg_dump(state: ClusterState, args: dict[str, Any]) -> Reply:
    contents = args.get("dumpcontents")
    if isinstance(contents, list):  # the mon's own syntax takes a list of CephChoices
        contents = contents[0] if len(contents) == 1 else None
    if contents == "summary":
        return 0, {"pg_ready": True, "pg_map": _pg_map_summary(state)}, ""
    if contents == "pgs_brief":
        return 0, {"pg_ready": True, "pg_stats": _pg_brief_entries(state)}, ""
    return -EINVAL, "", ("this simulation answers 'pg dump summary' and 'pg dump pgs_brief' "
                         f"(asked for {contents or 'all'!r})")


def _read_pg_ls(state: ClusterState, args: dict[str, Any]) -> Reply:
    stamp = ceph_stamp(state.clock())
    created = state.created
    pool_of = {pool.pool_id: pool for pool in state.pools.values()}
    entries = []
    for brief in _pg_brief_entries(state, PG_LS_LIMIT):
        pool = pool_of[int(brief["pgid"].split(".")[0])]
        share = max(1, pool.pg_num)
        stat_sum = dict.fromkeys(STAT_SUM_KEYS, 0)
        stat_sum.update(num_bytes=int(pool.stored_bytes) // share, num_objects=pool.objects // share,
                        num_object_copies=pool.objects * pool.size // share)
        entries.append({
            "pgid": brief["pgid"], "version": f"{state.epoch}'{state.pgs.version}", "reported_seq": state.pgs.version,
            "reported_epoch": state.epoch, "state": brief["state"], "last_fresh": stamp, "last_change": stamp,
            "last_active": stamp, "last_peered": stamp, "last_clean": stamp, "last_became_active": created,
            "last_became_peered": created, "last_unstale": stamp, "last_undegraded": stamp,
            "last_fullsized": stamp, "mapping_epoch": state.epoch, "log_start": "0'0", "ondisk_log_start": "0'0",
            "created": 1, "last_epoch_clean": state.epoch, "parent": "0.0", "parent_split_bits": 0,
            "last_scrub": "0'0", "last_scrub_stamp": created, "last_deep_scrub": "0'0",
            "last_deep_scrub_stamp": created, "last_clean_scrub_stamp": created, "log_size": 0,
            "ondisk_log_size": 0, "stats_invalid": False, "dirty_stats_invalid": False,
            "omap_stats_invalid": False, "hitset_stats_invalid": False, "hitset_bytes_stats_invalid": False,
            "pin_stats_invalid": False, "manifest_stats_invalid": False, "snaptrimq_len": 0,
            "stat_sum": stat_sum, "up": brief["up"], "acting": brief["acting"], "avail_no_missing": [],
            "object_location_counts": [], "blocked_by": [], "up_primary": brief["up_primary"],
            "acting_primary": brief["acting_primary"], "purged_snaps": [],
        })
    note = "" if state.pgs.num_pgs <= PG_LS_LIMIT else f"listing the first {PG_LS_LIMIT} of {state.pgs.num_pgs} pgs"
    return 0, {"pg_ready": True, "pg_stats": entries}, note


def _read_pg_stat(state: ClusterState, args: dict[str, Any]) -> Reply:
    summary, usage = pg_summary(state), df(state)["stats"]
    return 0, {"pg_ready": True, "pg_summary": {
        "num_pg_by_state": [{"name": k, "num": v} for k, v in sorted(summary["by_state"].items())],
        "num_pgs": summary["num_pgs"], "num_bytes": usage["total_used_bytes"], "total_bytes": usage["total_bytes"],
        "total_avail_bytes": usage["total_avail_bytes"], "total_used_bytes": usage["total_used_bytes"],
        "total_used_raw_bytes": usage["total_used_bytes"]}}, ""


PG_READS: dict[str, Handler] = {
    "pg dump": _read_pg_dump,
    "pg ls": _read_pg_ls,
    "pg stat": _read_pg_stat,
}
