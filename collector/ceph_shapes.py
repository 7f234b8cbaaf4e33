"""Derivations from Ceph's own JSON outputs shared by the live source and the replay source:
sync-object versions, stats points and the services of a host."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from calamari.protocol import io_rates, pg_stats_from_brief, summarize_pgs


def content_hash(data: Any) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def pg_summary_from_dumps(
    summary_dump: dict[str, Any], brief_dump: Any, status: dict[str, Any] | None
) -> dict[str, Any]:
    """`pg dump summary` (version, stamp) + `pg dump pgs_brief` (states) + `status` (IO rates)."""
    pg_map = summary_dump.get("pg_map", summary_dump)
    return summarize_pgs(
        pg_stats_from_brief(brief_dump),
        version=int(pg_map["version"]),
        stamp=str(pg_map.get("stamp", "")),
        io=io_rates((status or {}).get("pgmap")),
    )


def cluster_points(
    fsid: str,
    ts: float,
    *,
    df: dict[str, Any] | None,
    status: dict[str, Any] | None,
    osd_perf: dict[str, Any] | None,
    osd_df: dict[str, Any] | None,
) -> list[list[Any]]:
    """`ceph.cluster.<fsid>.*` points from `df detail`, `status`, `osd perf` and `osd df`."""
    prefix = f"ceph.cluster.{fsid}"
    points: list[list[Any]] = []
    if df:
        totals = df.get("stats", {})
        for key in ("total_bytes", "total_used_bytes", "total_avail_bytes"):
            if key in totals:
                points.append([f"{prefix}.df.{key}", ts, totals[key]])
        for pool in df.get("pools", []):
            stats = pool.get("stats", {})
            base = f"{prefix}.pool.{pool['id']}"
            points += [
                [f"{base}.num_bytes", ts, stats.get("stored", stats.get("bytes_used", 0))],
                [f"{base}.num_objects", ts, stats.get("objects", 0)],
                [f"{base}.num_read", ts, stats.get("rd", 0)],
                [f"{base}.num_write", ts, stats.get("wr", 0)],
                [f"{base}.num_read_kb", ts, stats.get("rd_bytes", 0) // 1024],
                [f"{base}.num_write_kb", ts, stats.get("wr_bytes", 0) // 1024],
            ]
    if status is not None:
        for key, value in io_rates(status.get("pgmap")).items():
            points.append([f"{prefix}.io.{key}", ts, value])
    if osd_df:
        for node in osd_df.get("nodes", []):
            base = f"{prefix}.osd.{node['id']}"
            points += [[f"{base}.kb_used", ts, node.get("kb_used", 0)],
                       [f"{base}.kb_avail", ts, node.get("kb_avail", 0)]]
    if osd_perf:
        infos = osd_perf.get("osdstats", osd_perf).get("osd_perf_infos", [])
        for info in infos:
            perf = info.get("perf_stats", {})
            base = f"{prefix}.osd.{info['id']}"
            points += [[f"{base}.apply_latency_ms", ts, perf.get("apply_latency_ms", 0)],
                       [f"{base}.commit_latency_ms", ts, perf.get("commit_latency_ms", 0)]]
    return points


def host_services(
    host: str,
    fsid: str,
    *,
    node_ls: dict[str, Any],
    osd_map: dict[str, Any] | None,
    osd_metadata: list[dict[str, Any]] | None,
    quorum_names: list[str] | None,
    daemon_versions: dict[str, dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """The Ceph services `node ls` places on `host`, with whether they run and their version.

    `daemon_versions` maps a type to {id: short version} (from `mon metadata` etc.)."""
    osd_up = {entry["osd"]: bool(entry.get("up")) for entry in (osd_map or {}).get("osds", [])}
    osd_version = {str(m.get("id")): m.get("ceph_version_short", "") for m in osd_metadata or []}
    versions = daemon_versions or {}
    services = []
    for service_type in ("mon", "mgr", "osd", "mds"):
        for daemon_id in (node_ls.get(service_type) or {}).get(host, []):
            key = str(daemon_id)
            if service_type == "osd":
                running = osd_up.get(int(daemon_id), False)
                version = osd_version.get(key, "")
            elif service_type == "mon":
                running = quorum_names is None or key in quorum_names
                version = versions.get("mon", {}).get(key, "")
            else:
                running = True  # `node ls` lists the mgr/mds daemons the cluster currently knows
                version = versions.get(service_type, {}).get(key, "")
            services.append({"type": service_type, "id": key, "fsid": fsid, "running": running,
                             "version": version})
    return services


def facts_for_remote_host(host: str, services: list[dict[str, Any]], osd_metadata: list[dict[str, Any]]
                          ) -> dict[str, Any]:
    """Server facts of a host we only know from OSD metadata (replayed captures)."""
    meta = next((m for m in osd_metadata if m.get("hostname") == host), {})
    front = str(meta.get("front_addr", ""))
    back = str(meta.get("back_addr", ""))
    return {
        "hostname": host,
        "fqdn": host,
        "boot_time": 0.0,
        "kernel": str(meta.get("kernel_version", "")),
        "cpu_count": 0,
        "mem_total": int(meta.get("mem_total_kb", 0) or 0) * 1024,
        "services": services,
        "frontend_addr": _first_ip(front),
        "backend_addr": _first_ip(back),
    }


def _first_ip(addrvec: str) -> str:
    # "[v2:127.0.0.1:6802/5265,v1:...]" -> "127.0.0.1"
    text = addrvec.strip("[]").split(",")[0]
    if ":" in text:
        text = text.split(":", 1)[1]
    return text.rsplit(":", 1)[0] if ":" in text else text
