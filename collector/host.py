"""Facts and counters of the machine the collector runs on (psutil; no shell commands)."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

import psutil

from calamari.adapters.local_host import host_fqdn


def hostname() -> str:
    return socket.gethostname().split(".", 1)[0]


def fqdn() -> str:
    return host_fqdn()


def _metric_part(name: str) -> str:
    # Graphite paths use "." as separator; device names like "dm-0" are fine, "eth0.100" is not.
    return name.replace(".", "_").replace(" ", "_")


def _primary_address() -> str:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return "127.0.0.1"


def local_facts(services: list[dict[str, Any]]) -> dict[str, Any]:
    address = _primary_address()
    return {
        "hostname": hostname(),
        "fqdn": fqdn(),
        "boot_time": float(psutil.boot_time()),
        "kernel": platform.release(),
        "cpu_count": psutil.cpu_count() or 1,
        "mem_total": int(psutil.virtual_memory().total),
        "services": services,
        "frontend_addr": address,
        "backend_addr": address,
    }


class HostCounters:
    """`servers.<host>.*` points; CPU percentages are over the interval since the previous call."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or hostname()
        psutil.cpu_times_percent(interval=None)  # prime the interval measurement

    def points(self, ts: float) -> list[list[Any]]:
        base = f"servers.{self.host}"
        cpu = psutil.cpu_times_percent(interval=None)
        memory = psutil.virtual_memory()
        load1, load5, load15 = os.getloadavg()
        points: list[list[Any]] = [
            [f"{base}.cpu.total.user", ts, float(cpu.user)],
            [f"{base}.cpu.total.system", ts, float(cpu.system)],
            [f"{base}.cpu.total.idle", ts, float(cpu.idle)],
            [f"{base}.cpu.total.iowait", ts, float(getattr(cpu, "iowait", 0.0))],
            [f"{base}.memory.total", ts, int(memory.total)],
            [f"{base}.memory.available", ts, int(memory.available)],
            [f"{base}.memory.used", ts, int(memory.used)],
            [f"{base}.loadavg.1", ts, float(load1)],
            [f"{base}.loadavg.5", ts, float(load5)],
            [f"{base}.loadavg.15", ts, float(load15)],
        ]
        for device, counters in (psutil.disk_io_counters(perdisk=True) or {}).items():
            name = _metric_part(device)
            points.append([f"{base}.disk.{name}.read_bytes", ts, int(counters.read_bytes)])
            points.append([f"{base}.disk.{name}.write_bytes", ts, int(counters.write_bytes)])
        for interface, counters in (psutil.net_io_counters(pernic=True) or {}).items():
            name = _metric_part(interface)
            points.append([f"{base}.network.{name}.rx_bytes", ts, int(counters.bytes_recv)])
            points.append([f"{base}.network.{name}.tx_bytes", ts, int(counters.bytes_sent)])
        return points
