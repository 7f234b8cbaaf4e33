"""Read-only cluster-wide commands of the simulated cluster, as `ceph <prefix> -f json` prints
them: status, health, df, the mon, mgr, fs and CRUSH dumps, config, versions."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import CEPH_VERSION, EINVAL, ENOENT, OSD_FEATURES, Reply, host_address
from collector.simulator.maps import config, df, fs_map, health, mon_map, mon_status, pg_summary
from collector.simulator.osd_map import osd_map
from collector.simulator.osd_reads import osd_stat
from collector.simulator.state import ClusterState, Handler

# `ceph config get` answers the default of a known option that nobody set.
CONFIG_DEFAULTS = {
    "osd_pool_default_size": "3", "osd_pool_default_min_size": "0", "osd_pool_default_pg_num": "32",
    "mon_allow_pool_delete": "false", "osd_max_backfills": "1", "osd_recovery_max_active": "0",
    "mon_max_pg_per_osd": "250", "osd_scrub_auto_repair": "false", "public_network": "",
    "cluster_network": "", "log_to_file": "false", "mgr/dashboard/ssl": "true",
}
CONFIG_WHO_TYPES = ("global", "mon", "mgr", "osd", "mds", "client")

MGR_MODULES = (
    "alerts", "balancer", "crash", "devicehealth", "influx", "insights", "iostat", "localpool", "mirroring",
    "nfs", "orchestrator", "osd_support", "pg_autoscaler", "progress", "prometheus", "rbd_support", "restful",
    "selftest", "snap_schedule", "stats", "status", "telegraf", "telemetry", "test_orchestrator", "volumes",
    "zabbix",
)
MGR_ALWAYS_ON = ("balancer", "crash", "devicehealth", "orchestrator", "pg_autoscaler", "progress", "rbd_support",
                 "status", "telemetry", "volumes")


def _read_status(state: ClusterState, args: dict[str, Any]) -> Reply:
    osd_dump, summary, quorum, usage = osd_map(state), pg_summary(state), mon_status(state), df(state)
    osds = osd_dump["osds"]
    return 0, {
        "fsid": state.fsid,
        "health": health(state),
        "election_epoch": quorum["election_epoch"],
        "quorum": quorum["quorum"],
        "quorum_names": quorum["quorum_names"],
        "monmap": {"epoch": quorum["monmap"]["epoch"], "min_mon_release_name": "pacific",
                   "num_mons": len(quorum["monmap"]["mons"])},
        "osdmap": osd_stat(osd_dump),
        "pgmap": {
            "pgs_by_state": [{"state_name": k, "count": v} for k, v in sorted(summary["by_state"].items())],
            "num_pgs": summary["num_pgs"], "num_pools": len(osd_dump["pools"]),
            "bytes_used": usage["stats"]["total_used_bytes"], "bytes_avail": usage["stats"]["total_avail_bytes"],
            "bytes_total": usage["stats"]["total_bytes"], **summary.get("io", {}),
        },
        "fsmap": {"epoch": 1, "by_rank": [], "up:standby": 0},
        "num_osds": len(osds),
    }, ""


def _read_versions(state: ClusterState, args: dict[str, Any]) -> Reply:
    mons, osds = len(state.mon_hosts()), len(osd_map(state)["osds"])
    return 0, {"mon": {CEPH_VERSION: mons}, "osd": {CEPH_VERSION: osds}, "overall": {CEPH_VERSION: mons + osds}}, ""


def _read_crush_rule_dump(state: ClusterState, args: dict[str, Any]) -> Reply:
    rules = state.crush.dump()["rules"]
    name = args.get("name")
    if name is None:
        return 0, rules, ""
    for rule in rules:
        if rule["rule_name"] == name:
            return 0, rule, ""
    return -ENOENT, "", f"unknown crush rule '{name}'"


def _read_fs_ls(state: ClusterState, args: dict[str, Any]) -> Reply:
    listing = []
    for fs in fs_map()["filesystems"]:
        mdsmap = fs["mdsmap"]
        pool_names = {p.pool_id: p.name for p in state.pools.values()}
        listing.append({"name": mdsmap["fs_name"], "metadata_pool": pool_names.get(mdsmap["metadata_pool"], ""),
                        "metadata_pool_id": mdsmap["metadata_pool"], "data_pool_ids": mdsmap["data_pools"],
                        "data_pools": [pool_names.get(p, "") for p in mdsmap["data_pools"]]})
    return 0, listing, ""


def _read_mgr_dump(state: ClusterState, args: dict[str, Any]) -> Reply:
    host_index = 0  # the simulated mgr runs beside the first mon, as server_facts() says
    ip = host_address(host_index)
    nonce = 5000 + state.spec.seed
    enabled = ["iostat", "nfs", "restful"]
    return 0, {
        "epoch": 5, "active_gid": 4100, "active_name": state.hosts[host_index],
        "active_addrs": {"addrvec": [{"type": "v2", "addr": f"{ip}:6808", "nonce": nonce},
                                     {"type": "v1", "addr": f"{ip}:6809", "nonce": nonce}]},
        "active_addr": f"{ip}:6809/{nonce}", "active_change": state.created, "active_mgr_features": OSD_FEATURES,
        "available": True, "standbys": [], "modules": enabled,
        # module_options are left empty: their option schemas are not something a client diffs
        "available_modules": [{"name": name, "can_run": True, "error_string": "", "module_options": {}}
                              for name in MGR_MODULES],
        "services": {}, "always_on_modules": {"pacific": list(MGR_ALWAYS_ON)}, "last_failure_osd_epoch": 0,
        "active_clients": [],
    }, ""


def _read_mon_stat(state: ClusterState, args: dict[str, Any]) -> Reply:
    status = mon_status(state)
    return 0, {"epoch": status["monmap"]["epoch"], "min_mon_release_name": "pacific",
               "num_mons": len(status["monmap"]["mons"]), "leader": status["quorum_leader_name"],
               "quorum": [{"rank": rank, "name": name}
                          for rank, name in zip(status["quorum"], status["quorum_names"], strict=True)]}, ""


def _config_sections(who: str) -> list[str] | None:
    """The config sections that apply to `who`, most specific first (None: not an entity)."""
    kind, _, name = who.partition(".")
    if kind not in CONFIG_WHO_TYPES or (kind == "global" and name):
        return None
    return [who, kind, "global"] if name else [kind, "global"] if kind != "global" else ["global"]


def _read_config_get(state: ClusterState, args: dict[str, Any]) -> Reply:
    who, key = str(args.get("who", "")), args.get("key")
    sections = _config_sections(who)
    if sections is None:
        return -EINVAL, "", f"invalid who '{who}'"
    values: dict[str, str] = dict(CONFIG_DEFAULTS)
    for section in reversed(sections):  # most specific wins
        values.update({e["name"]: e["value"] for e in config() if e["section"] == section})
    if key is None:
        return 0, values, ""
    if key not in values:
        return -ENOENT, "", f"unrecognized key '{key}'"
    return 0, values[key], ""


def _read_node_ls(state: ClusterState, args: dict[str, Any]) -> Reply:
    osds = {host: [o for o in state.host_osds[i] if state.osd_exists[o]] for i, host in enumerate(state.hosts)}
    return 0, {"mon": {host: [host] for host in state.mon_hosts()},
               "osd": {host: ids for host, ids in osds.items() if ids},
               "mgr": {state.hosts[0]: [state.hosts[0]]}}, ""


CLUSTER_READS: dict[str, Handler] = {
    "status": _read_status,
    "health": lambda state, args: (0, health(state), ""),
    "health detail": lambda state, args: (0, health(state), ""),
    "df": lambda state, args: (0, df(state), ""),
    "osd crush dump": lambda state, args: (0, state.crush.dump(), ""),
    "osd crush rule dump": _read_crush_rule_dump,
    "osd crush rule ls": lambda state, args: (0, [r["rule_name"] for r in state.crush.dump()["rules"]], ""),
    "fs ls": _read_fs_ls,
    "mgr dump": _read_mgr_dump,
    "mon stat": _read_mon_stat,
    "config get": _read_config_get,
    "node ls": _read_node_ls,
    "mon dump": lambda state, args: (0, mon_map(state), ""),
    "quorum_status": lambda state, args: (0, mon_status(state), ""),
    "fs dump": lambda state, args: (0, fs_map(), ""),
    "config dump": lambda state, args: (0, config(), ""),
    "versions": _read_versions,
}
