"""What each simulated host reports besides the cluster maps: its facts (services, addresses)
and its stats points (the first host also reports the cluster-wide ones)."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import CEPH_VERSION_SHORT, OBJECT_BYTES, OSD_BYTES, SIM_DOMAIN, host_address
from collector.simulator.maps import df, io, osd_used_bytes
from collector.simulator.state import ClusterState


def server_facts(state: ClusterState) -> list[tuple[str, dict[str, Any]]]:
    """Each host's facts: name, fqdn, boot time, hardware, the Ceph daemons it runs, addresses."""
    mon_hosts = set(state.mon_hosts())
    # a real host's boot time stays put between reports: from the cluster's (fixed) creation time
    boot_time = float(int(state.created_ts) - 86400 * 29 - state.spec.seed)
    facts = []
    for host_index, host in enumerate(state.hosts):
        services = [
            {"type": "osd", "id": str(osd_id), "fsid": state.fsid, "running": bool(state.osd_up[osd_id]),
             "version": CEPH_VERSION_SHORT}
            for osd_id in state.host_osds[host_index] if state.osd_exists[osd_id]
        ]
        if host in mon_hosts:
            services.append({"type": "mon", "id": host, "fsid": state.fsid, "running": True,
                             "version": CEPH_VERSION_SHORT})
        if host_index == 0:
            services.append({"type": "mgr", "id": host, "fsid": state.fsid, "running": True,
                             "version": CEPH_VERSION_SHORT})
        facts.append((host, {
            "hostname": host,
            "fqdn": f"{host}.{SIM_DOMAIN}",
            "boot_time": boot_time,
            "kernel": "6.1.0-18-amd64",
            "cpu_count": 16,
            "mem_total": 128 * 1024**3,
            "services": services,
            "frontend_addr": host_address(host_index),
            "backend_addr": f"10.{100 + host_index // 250}.{host_index % 250}.10",
        }))
    return facts


def stats(state: ClusterState) -> list[tuple[str, list[list[Any]]]]:
    """Points per reporting host; cluster-wide points are reported by the first host."""
    ts = float(int(state.clock()))
    prefix = f"ceph.cluster.{state.fsid}"
    usage = df(state)
    cluster: list[list[Any]] = [
        [f"{prefix}.df.total_bytes", ts, usage["stats"]["total_bytes"]],
        [f"{prefix}.df.total_used_bytes", ts, usage["stats"]["total_used_bytes"]],
        [f"{prefix}.df.total_avail_bytes", ts, usage["stats"]["total_avail_bytes"]],
    ]
    for key, value in io(state).items():
        cluster.append([f"{prefix}.io.{key}", ts, value])
    for pool in state.pools.values():
        base = f"{prefix}.pool.{pool.pool_id}"
        stored = int(pool.stored_bytes)
        cluster += [
            [f"{base}.num_bytes", ts, stored], [f"{base}.num_objects", ts, stored // OBJECT_BYTES],
            [f"{base}.num_read", ts, pool.num_read], [f"{base}.num_write", ts, pool.num_write],
            [f"{base}.num_read_kb", ts, pool.num_read_kb], [f"{base}.num_write_kb", ts, pool.num_write_kb],
        ]
    used = osd_used_bytes(state)
    for osd_id in range(len(state.osd_up)):
        if not state.osd_exists[osd_id]:
            continue
        base = f"{prefix}.osd.{osd_id}"
        latency = osd_latency_ms(state, osd_id)
        cluster += [
            [f"{base}.kb_used", ts, used[osd_id] // 1024],
            [f"{base}.kb_avail", ts, (OSD_BYTES - used[osd_id]) // 1024],
            [f"{base}.apply_latency_ms", ts, latency],
            [f"{base}.commit_latency_ms", ts, latency],
        ]
    reports = []
    for host_index, host in enumerate(state.hosts):
        wobble = ((host_index * 31 + state.tick_count * 17) % 100) / 100
        base = f"servers.{host}"
        points: list[list[Any]] = [
            [f"{base}.cpu.total.user", ts, 10 + 20 * wobble],
            [f"{base}.cpu.total.system", ts, 5 + 5 * wobble],
            [f"{base}.cpu.total.idle", ts, 80 - 25 * wobble],
            [f"{base}.cpu.total.iowait", ts, 5.0],
            [f"{base}.memory.total", ts, 128 * 1024**3],
            [f"{base}.memory.available", ts, int((64 - 16 * wobble) * 1024**3)],
            [f"{base}.memory.used", ts, int((64 + 16 * wobble) * 1024**3)],
            [f"{base}.loadavg.1", ts, 2 * wobble], [f"{base}.loadavg.5", ts, 1.5 * wobble],
            [f"{base}.loadavg.15", ts, wobble],
            [f"{base}.network.eth0.rx_bytes", ts, state.tick_count * 1_000_000 * (host_index + 1)],
            [f"{base}.network.eth0.tx_bytes", ts, state.tick_count * 900_000 * (host_index + 1)],
        ]
        for position, osd_id in enumerate(state.host_osds[host_index]):
            device = f"sd{chr(97 + position % 26)}"
            points += [
                [f"{base}.disk.{device}.read_bytes", ts, state.tick_count * 100_000 * (osd_id + 1)],
                [f"{base}.disk.{device}.write_bytes", ts, state.tick_count * 300_000 * (osd_id + 1)],
            ]
        if host_index == 0:
            points = cluster + points
        reports.append((host, points))
    return reports


def osd_latency_ms(state: ClusterState, osd_id: int) -> int:
    # the same wobble the per-OSD latency stats report, so `osd perf` and the graphs agree
    return 1 + (osd_id * 7 + state.tick_count) % 20 if state.osd_up[osd_id] else 0
