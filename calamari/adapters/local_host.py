"""Facts of the machine the server itself runs on, for `/api/v2/grains` (Calamari named host facts
after salt's grains; the keys keep those names). Read with psutil and the standard library."""

from __future__ import annotations

import platform
import socket
import sys
from typing import Any

import psutil
import zmq

from calamari.protocol.host_names import LOOPBACK_NAMES


def host_fqdn() -> str:
    """This host's fully qualified name. getfqdn() resolves the host name, and where /etc/hosts
    lists it on a loopback line after `localhost` (`127.0.0.1 localhost vm`) it answers
    `localhost`: every such host would then be the same server. The configured host name is
    used instead."""
    name = socket.getfqdn()
    if not name or name.split(".", 1)[0] in LOOPBACK_NAMES:
        name = socket.gethostname() or name
    return name or socket.gethostname().split(".", 1)[0]


def _os_release(path: str = "/etc/os-release") -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    fields[key] = value.strip().strip('"')
    except OSError:
        pass
    return fields


def server_grains() -> dict[str, Any]:
    hostname = socket.gethostname()
    fqdn = host_fqdn()  # a name lookup: once
    interfaces = {name: [a.address for a in nic if a.family == socket.AF_INET]
                  for name, nic in psutil.net_if_addrs().items()}
    release = _os_release()
    return {
        "id": fqdn,
        "host": hostname.split(".", 1)[0],
        "nodename": hostname,
        "fqdn": fqdn,
        "kernel": platform.system(),
        "kernelrelease": platform.release(),
        "os": release.get("NAME", platform.system()),
        "osrelease": release.get("VERSION_ID", ""),
        "oscodename": release.get("VERSION_CODENAME", ""),
        "osfullname": release.get("PRETTY_NAME", ""),
        "cpuarch": platform.machine(),
        "num_cpus": psutil.cpu_count() or 1,
        "mem_total": int(psutil.virtual_memory().total // (1024 * 1024)),  # MiB, as salt gave it
        "ipv4": sorted({ip for ips in interfaces.values() for ip in ips}),
        "ip_interfaces": {name: ips for name, ips in interfaces.items() if ips},
        "pythonversion": list(sys.version_info[:3]) + [sys.version_info.releaselevel, sys.version_info.serial],
        "zmqversion": zmq.zmq_version(),
    }
