"""`/api/v2/grains` (the server's own host) and `/api/v2/server/<fqdn>/grains` (a reported host)."""

import platform
import socket
from datetime import UTC, datetime

import psutil
from api_support import Harness

from calamari.adapters.local_host import host_fqdn
from calamari.domain.server import LOOPBACK_NAMES


def test_the_server_hosts_grains_are_this_machines_facts(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir)
    try:
        assert api.client.get("/api/v2/grains").status_code == 401
        r = api.call("GET", "grains", user="viewer")
        assert r.status_code == 200
        grains = r.json
        assert grains["fqdn"] == host_fqdn() and grains["kernel"] == platform.system()
        if socket.gethostname().split(".")[0] not in LOOPBACK_NAMES:  # a host named otherwise says so
            assert grains["fqdn"].split(".")[0] not in LOOPBACK_NAMES
        assert api.call("GET", "info", user="viewer").json["fqdn"] == grains["fqdn"]
        assert grains["kernelrelease"] == platform.release() and grains["num_cpus"] == psutil.cpu_count()
        assert grains["mem_total"] == psutil.virtual_memory().total // (1024 * 1024)
        assert "127.0.0.1" in grains["ipv4"] and "127.0.0.1" in grains["ip_interfaces"]["lo"]
    finally:
        api.close()


def test_a_reported_hosts_grains_are_its_collectors_facts(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir)
    try:
        facts = {"hostname": "stor7", "fqdn": "stor7.example.net", "boot_time": 1.7e9, "kernel": "6.1.0-13-amd64",
                 "cpu_count": 16, "mem_total": 64 << 30, "services": [], "frontend_addr": "10.0.0.7",
                 "backend_addr": "10.1.0.7"}
        api.service.on_server_facts(api.fsid, facts, datetime.now(UTC))
        r = api.call("GET", "server/stor7.example.net/grains", user="viewer")
        assert r.status_code == 200
        assert r.json["fqdn"] == "stor7.example.net" and r.json["kernel"] == "6.1.0-13-amd64"
        assert r.json["cpu_count"] == 16 and r.json["mem_total"] == 64 << 30
        assert api.call("GET", "server/nowhere.example.net/grains", user="viewer").status_code == 404
    finally:
        api.close()
