"""Log files of the simulator's hosts, in the formats Ceph 16.2 writes under /var/log/ceph:

- `ceph.log` (monitor hosts): the cluster log, the same entries the simulator reports to the server;
- `ceph-mon.<host>.log` (monitor hosts), `ceph-mgr.<host>.log` (the first host),
  `ceph-osd.<id>.log` (per OSD of the host): daemon logs.

Built on demand from the simulator's state (startup lines at the cluster's creation, one line per
tick for the busy daemons, and each OSD's boots and failures), so they cost nothing until asked
and read the same between two ticks.
"""

from __future__ import annotations

import zlib
from typing import Any

from collector.logs import TextLogs
from collector.simulator.ceph import CEPH_VERSION, ceph_stamp
from collector.simulator.state import ClusterState

# How many of the most recent ticks a daemon log shows lines for.
TICKS_SHOWN = 300


def _daemon_stamp(ts: float) -> str:
    # daemon logs print milliseconds: 2021-09-20T10:20:30.123+0000
    stamp = ceph_stamp(ts)
    return stamp[:23] + stamp[26:]


def _thread_id(name: str) -> str:
    return f"7f{zlib.crc32(name.encode()) % 0x10000000:07x}700"


def cluster_log_line(entry: dict[str, Any]) -> str:
    """One entry as `ceph.log` shows it: stamp, who (rank) seq : channel [PRIO] message."""
    return (f"{entry['stamp']} {entry['name']} (mon.0) {entry['seq']} : {entry['channel']} "
            f"{entry['priority']} {entry['message']}")


def _startup(daemon: str, ts: float) -> list[str]:
    thread = _thread_id(daemon)
    pid = 1000 + zlib.crc32(daemon.encode()) % 60000
    stamp = _daemon_stamp(ts)
    return [
        f"{stamp} {thread}  0 set uid:gid to 64045:64045 (ceph:ceph)",
        f"{stamp} {thread}  0 {CEPH_VERSION}, process ceph-{daemon.split('.')[0]}, pid {pid}",
        f"{stamp} {thread}  0 pidfile_write: ignore empty --pid-file",
    ]


def _osd_log(state: ClusterState, osd_id: int, history: list[dict[str, Any]]) -> str:
    name = f"osd.{osd_id}"
    thread = _thread_id(name)
    lines = _startup(name, state.created_ts)
    lines.append(f"{_daemon_stamp(state.created_ts + 5)} {thread}  1 {name} 5 state: booting -> active")
    first_tick = max(1, state.tick_count - TICKS_SHOWN + 1)
    for tick in range(first_tick, state.tick_count + 1, 10):
        ts = _tick_time(state, tick)
        lines.append(f"{_daemon_stamp(ts)} {thread}  0 log_channel(cluster) log [DBG] : "
                     f"{1 + tick % max(1, len(state.pools))}.{tick % 32:x} scrub ok")
    for entry in history:
        message = entry["message"]
        if message.startswith(f"{name} marked down"):
            lines.append(f"{entry['stamp'][:23]}+0000 {thread}  0 log_channel(cluster) log [WRN] : "
                         f"Monitor daemon marked {name} down, but it is still running")
        elif message == f"{name} boot":
            lines.append(f"{entry['stamp'][:23]}+0000 {thread}  1 {name} {state.epoch} state: booting -> active")
    return _in_time_order(lines)


def _tick_time(state: ClusterState, tick: int) -> float:
    # the simulator keeps only the time of its last tick; earlier ones were about a second apart
    return state.io_stamp - (state.tick_count - tick)


def _in_time_order(lines: list[str]) -> str:
    # every line starts with a fixed-width UTC stamp, so text order is time order (stable sort)
    return "\n".join(sorted(lines, key=lambda line: line[:23])) + "\n"


def _mon_log(state: ClusterState, host: str, history: list[dict[str, Any]]) -> str:
    name = f"mon.{host}"
    thread = _thread_id(name)
    lines = _startup(name, state.created_ts)
    lines.append(f"{_daemon_stamp(state.created_ts + 1)} {thread}  0 {name}@0(leader) e1 "
                 f"handle_command mon_command({{\"prefix\": \"status\"}} v 0) v1")
    for entry in history:
        lines.append(f"{entry['stamp'][:23]}+0000 {thread}  0 log_channel({entry['channel']}) log "
                     f"{entry['priority']} : {entry['message']}")
    return "\n".join(lines) + "\n"


def _mgr_log(state: ClusterState, host: str) -> str:
    name = f"mgr.{host}"
    thread = _thread_id(name)
    lines = _startup(name, state.created_ts)
    first_tick = max(1, state.tick_count - TICKS_SHOWN + 1)
    for tick in range(first_tick, state.tick_count + 1):
        ts = _tick_time(state, tick)
        version = state.pgs.version - (state.tick_count - tick)
        lines.append(f"{_daemon_stamp(ts)} {thread}  0 log_channel(cluster) log [DBG] : "
                     f"pgmap v{version}: {state.pgs.num_pgs} pgs: {state.pgs.num_pgs} active+clean")
    return "\n".join(lines) + "\n"


def _seed_cluster_log(state: ClusterState) -> list[str]:
    """What ceph.log held before the simulation started: the cluster's creation."""
    stamp = ceph_stamp(state.created_ts)
    mons = state.mon_hosts()
    lines = [f"{stamp} mon.a (mon.0) 1 : cluster [INF] mkfs {state.fsid}",
             f"{stamp} mon.a (mon.0) 2 : cluster [INF] mon.{mons[0]} is new leader, mons "
             f"{','.join(mons)} in quorum (ranks {','.join(str(r) for r in range(len(mons)))})"]
    return lines


def simulated_host_logs(state: ClusterState, host_index: int, history: list[dict[str, Any]]) -> TextLogs:
    """The log files of the simulator's host number `host_index` (call under the simulator's lock)."""
    host = state.hosts[host_index]
    files: dict[str, str] = {}
    mon_hosts = state.mon_hosts()
    if host in mon_hosts:
        lines = _seed_cluster_log(state) + [cluster_log_line(entry) for entry in history]
        files["ceph.log"] = "\n".join(lines) + "\n"
        files[f"ceph-mon.{host}.log"] = _mon_log(state, host, history)
    if host_index == 0:
        files[f"ceph-mgr.{host}.log"] = _mgr_log(state, host)
    for osd_id in state.host_osds[host_index]:
        if state.osd_exists[osd_id]:
            files[f"ceph-osd.{osd_id}.log"] = _osd_log(state, osd_id, history)
    return TextLogs(files)
