"""Median and p99 latency of the main API routes with 10,000 OSDs (in-process WSGI client, so the
figures are handler + encoding time). The state is built by ingesting maps shaped like the
captured Ceph 16.2 ones, scaled up: the fixture's OSD entries repeated with new ids and addresses,
its CRUSH host buckets multiplied. Prints figures; asserts nothing."""

from __future__ import annotations

import copy
import gc
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "unit"))

from api_support import FAST_HASHER, PASSWORD  # noqa: E402

from calamari.bootstrap import build_app  # noqa: E402
from calamari.crush.text_parse import parse_crush_text  # noqa: E402
from calamari.service.auth import AuthService  # noqa: E402
from calamari.service.model import ModelService, ServiceConfig  # noqa: E402
from calamari.testing.captures import captured_at, sync_objects  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures", "ceph-pacific-3osd",
                       "01-after-writes")
N_OSDS, PER_HOST = 10_000, 20
BUDGETS = {"osd list": 60.0, "osd": 2.0, "pool": 2.0}


def scaled(objects: list, fsid: str) -> list:
    out = []
    for name, version, data in objects:
        data = copy.deepcopy(data)
        if name == "osd_map":
            template = data["osds"][0]
            data["osds"] = []
            for i in range(N_OSDS):
                entry = copy.deepcopy(template)
                entry.update(osd=i, uuid=f"00000000-0000-4000-8000-{i:012d}",
                             public_addr=f"10.0.{i // 250}.{i % 250}:6801/{i}",
                             cluster_addr=f"10.1.{i // 250}.{i % 250}:6803/{i}")
                data["osds"].append(entry)
            data["max_osd"] = N_OSDS
        elif name == "crush_map":
            root = next(b for b in data["buckets"] if b["type_name"] == "root")
            host_tpl = next(b for b in data["buckets"] if b["type_name"] == "host")
            hosts = []
            for h in range(N_OSDS // PER_HOST):
                hosts.append({**host_tpl, "id": -100 - h, "name": f"host{h:04d}",
                              "items": [{"id": h * PER_HOST + k, "weight": 65536, "pos": k} for k in range(PER_HOST)]})
            root["items"] = [{"id": b["id"], "weight": 65536 * PER_HOST, "pos": i} for i, b in enumerate(hosts)]
            data["buckets"] = [root, *hosts]
            data["devices"] = [{"id": i, "name": f"osd.{i}", "class": "hdd"} for i in range(N_OSDS)]
        elif name == "osd_metadata":
            template = data[0]
            data = [{**template, "id": i, "hostname": f"host{i // PER_HOST:04d}"} for i in range(N_OSDS)]
        out.append((name, version, data))
    return out


def timed(client, path: str, headers: dict, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.get(path, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> int:
    with tempfile.TemporaryDirectory() as data_dir:
        service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=10_000_000))
        fsid, objects = sync_objects(FIXTURE)
        start = time.perf_counter()
        for name, version, data in scaled(objects, fsid):
            service.on_sync_object(fsid, name, version, data, captured_at(FIXTURE), host="bench")
        print(f"ingest of {N_OSDS} OSDs: {time.perf_counter() - start:.2f} s")
        gc.freeze()  # as calamari-server does once the model is loaded
        auth = AuthService(service, hasher=FAST_HASHER)
        auth.add_user("bench", PASSWORD, "admin", "bench")
        app = build_app(service, auth=auth)
        client = app.test_client()
        token = client.post("/api/v2/auth/login", json={"username": "bench", "password": PASSWORD}).json["token"]
        headers = {"Authorization": f"Bearer {token}"}
        routes = [
            ("osd list", f"/api/v2/cluster/{fsid}/osd", 30),
            ("osd list ?pool=2", f"/api/v2/cluster/{fsid}/osd?pool=2", 20),
            ("osd", f"/api/v2/cluster/{fsid}/osd/4242", 300),
            ("pool", f"/api/v2/cluster/{fsid}/pool/2", 300),
            ("pool list", f"/api/v2/cluster/{fsid}/pool", 300),
            ("cluster", f"/api/v2/cluster/{fsid}", 300),
            ("server list", f"/api/v2/cluster/{fsid}/server", 20),
            ("crush_rule", f"/api/v2/cluster/{fsid}/crush_rule", 50),
            ("crush_map (text)", f"/api/v2/cluster/{fsid}/crush_map", 20),
            ("event", "/api/v2/event", 100),
            ("request", "/api/v2/request", 100),
        ]
        print(f"{'route':<20} {'median ms':>10} {'p99 ms':>10}  budget")
        results = {}
        for label, path, n in routes:
            timed(client, path, headers, 2)  # warm-up
            median, p99 = timed(client, path, headers, n)
            results[label] = {"median_ms": round(median, 3), "p99_ms": round(p99, 3)}
            budget = BUDGETS.get(label)
            verdict = "" if budget is None else f"≤ {budget:g} ms median: {'ok' if median <= budget else 'OVER'}"
            print(f"{label:<20} {median:>10.2f} {p99:>10.2f}  {verdict}")
        size = len(client.get(f"/api/v2/cluster/{fsid}/osd", headers=headers).data)
        print(f"osd list body: {size / 1e6:.1f} MB")
        # what a crush_map POST checks before it becomes a request: the whole text parsed
        text = client.get(f"/api/v2/cluster/{fsid}/crush_map", headers=headers).json
        start = time.perf_counter()
        parse_crush_text(text)
        print(f"crush_map POST check: {(time.perf_counter() - start) * 1000:.0f} ms for {len(text) / 1e6:.2f} MB of text")
        print(json.dumps(results))
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
