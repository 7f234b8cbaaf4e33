"""Median and p99 latency of the main API routes with 10,000 OSDs (in-process WSGI client, so the
figures are handler + encoding time). The state is built by ingesting maps shaped like the
captured Ceph 16.2 ones, scaled up: the fixture's OSD entries repeated with new ids and addresses,
its CRUSH host buckets multiplied; or, with `--simulate SPEC` (e.g.
`hosts=1000,osds=10000,pools=1000,pgs=1000000`), the maps, host facts and OSD stats of a simulated
cluster, as `calamari-collector --simulate SPEC` reports them. Also prints the OSD list's options
(fields, compact pools, a page, gzip, a 304) and /metrics, with their wire bytes. Prints figures;
asserts nothing."""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

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
BUDGETS = {"osd list": 60.0, "osd list ?pools=compact": 60.0, "osd": 2.0, "pool": 2.0, "/metrics": 200.0}


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


class LatestPoints:
    """What /metrics reads of the whisper store: the newest point of each metric."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[int, float]] = {}


def load_fixture(service: ModelService) -> str:
    fsid, objects = sync_objects(FIXTURE)
    for name, version, data in scaled(objects, fsid):
        service.on_sync_object(fsid, name, version, data, captured_at(FIXTURE), host="bench")
    return fsid


def load_simulated(service: ModelService, spec: str, latest: LatestPoints) -> tuple[str, Any]:
    """The sync objects, host facts and OSD stats a collector of the simulated cluster sends
    first; the simulated cluster, for `churn`."""
    from collector.simulator.cluster import SimulatedCluster
    from collector.simulator.host_reports import server_facts
    from collector.simulator.sync_objects import all_sync_objects

    sim = SimulatedCluster(spec)
    at = datetime.now(UTC)
    for name, (version, data) in all_sync_objects(sim.state).items():
        service.on_sync_object(sim.fsid, name, version, data, at, host="bench")
    for _, facts in server_facts(sim.state):
        service.on_server_facts(sim.fsid, facts, at)
    churn(service, sim, latest, polls=0)
    return sim.fsid, sim


def churn(service: ModelService, sim: Any, latest: LatestPoints, polls: int = 1) -> None:
    """`polls` ticks of the simulated cluster, what changed sent as the collector sends it, and
    every OSD's newest stats points."""
    from collector.simulator.host_reports import stats

    for _ in range(polls):
        for name, (version, data) in sim.poll().items():
            service.on_sync_object(sim.fsid, name, version, data, datetime.now(UTC), host="bench")
    for _, points in stats(sim.state):
        for metric, ts, value in points:
            latest.latest[metric] = (int(ts), float(value))


def timed(client, path: str, headers: dict, n: int, status: int = 200) -> tuple[float, float, float]:
    """Median and p99 wall time, and median CPU time of this process (ms): on a machine shared
    with other work the CPU time says what the request costs, the wall time what it waited too."""
    samples, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        r = client.get(path, headers=headers)
        r.get_data()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert r.status_code == status, (path, r.status_code, r.get_data()[:300])
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))], statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--simulate", metavar="SPEC", default=None,
                        help="a simulated cluster instead of the scaled fixture, e.g. "
                             "hosts=1000,osds=10000,pools=1000,pgs=1000000")
    parser.add_argument("--repeat", type=int, default=1, help="multiply every route's number of requests")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=10_000_000))
        latest = LatestPoints()
        start = time.perf_counter()
        sim = None
        if args.simulate:
            fsid, sim = load_simulated(service, args.simulate, latest)
        else:
            fsid = load_fixture(service)
        what = args.simulate or f"{N_OSDS} OSDs (scaled fixture)"
        print(f"ingest of {what}: {time.perf_counter() - start:.2f} s")
        gc.freeze()  # as calamari-server does once the model is loaded
        auth = AuthService(service, hasher=FAST_HASHER)
        auth.add_user("bench", PASSWORD, "admin", "bench")
        app = build_app(service, auth=auth, TIMESERIES=latest)
        client = app.test_client()
        token = client.post("/api/v2/auth/login", json={"username": "bench", "password": PASSWORD}).json["token"]
        headers = {"Authorization": f"Bearer {token}"}
        gzip = {**headers, "Accept-Encoding": "gzip"}
        osd_list = f"/api/v2/cluster/{fsid}/osd"
        pool_id = min(service.view.pools[fsid])
        etag = client.get(osd_list, headers=headers).headers.get("ETag", "")
        metrics_etag = client.get("/metrics", headers=headers).headers.get("ETag", "")
        routes = [
            ("osd list", osd_list, headers, 200, 10),
            ("osd list gzip", osd_list, gzip, 200, 10),
            ("osd list ?pools=compact", f"{osd_list}?pools=compact", headers, 200, 20),
            ("osd list compact gzip", f"{osd_list}?pools=compact", gzip, 200, 20),
            ("osd list ?fields=id,up,in", f"{osd_list}?fields=id,up,in", headers, 200, 30),
            ("osd list ?limit=100", f"{osd_list}?limit=100&offset=5000", headers, 200, 100),
            ("osd list ?state=down", f"{osd_list}?state=down", headers, 200, 30),
            ("osd list 304", osd_list, {**headers, "If-None-Match": etag}, 304, 300),
            (f"osd list ?pool={pool_id}", f"{osd_list}?pool={pool_id}&pools=compact", headers, 200, 20),
            ("osd", f"/api/v2/cluster/{fsid}/osd/4242", headers, 200, 300),
            ("pool", f"/api/v2/cluster/{fsid}/pool/{pool_id}", headers, 200, 300),
            ("pool list", f"/api/v2/cluster/{fsid}/pool", headers, 200, 100),
            ("cluster", f"/api/v2/cluster/{fsid}", headers, 200, 300),
            ("server list", f"/api/v2/cluster/{fsid}/server", headers, 200, 20),
            ("crush_rule", f"/api/v2/cluster/{fsid}/crush_rule", headers, 200, 50),
            ("crush_map (text)", f"/api/v2/cluster/{fsid}/crush_map", headers, 200, 20),
            ("event", "/api/v2/event", headers, 200, 100),
            ("request", "/api/v2/request", headers, 200, 100),
            ("/metrics", "/metrics", headers, 200, 20),
            ("/metrics gzip", "/metrics", gzip, 200, 20),
            ("/metrics 304", "/metrics", {**headers, "If-None-Match": metrics_etag}, 304, 100),
        ]
        print(f"{'route':<28} {'median ms':>10} {'p99 ms':>10} {'cpu ms':>8} {'wire bytes':>12}  budget")
        results = {}
        for label, path, hdrs, status, n in routes:
            first = client.get(path, headers=hdrs)
            if first.status_code != status:
                print(f"{label:<28} answered {first.status_code}, not {status}: not measured")
                continue
            wire = len(first.get_data())
            timed(client, path, hdrs, 2, status)  # warm-up
            median, p99, cpu = timed(client, path, hdrs, n * args.repeat, status)
            results[label] = {"median_ms": round(median, 3), "p99_ms": round(p99, 3), "cpu_ms": round(cpu, 3),
                              "bytes": wire}
            budget = BUDGETS.get(label)
            verdict = "" if budget is None else f"≤ {budget:g} ms median: {'ok' if median <= budget else 'OVER'}"
            print(f"{label:<28} {median:>10.2f} {p99:>10.2f} {cpu:>8.2f} {wire:>12,}  {verdict}", flush=True)
        # The whole OSD list is kept between changes and made again from the kept one for the
        # OSDs that changed: its handler's cost (the body not read) unchanged and after one OSD
        # was marked out or in before each request (the map's ingest not counted).
        for label, changes in (("osd list handler, unchanged", False), ("osd list handler, 1 OSD changed", True)):
            cpu = []
            for i in range(12):
                if changes:
                    epoch, osd_map = service.model.held_document(fsid, "osd_map")
                    entries = list(osd_map["osds"])
                    entries[i] = {**entries[i], "in": 0 if entries[i]["in"] else 1}
                    service.on_sync_object(fsid, "osd_map", epoch + 1, {**osd_map, "epoch": epoch + 1, "osds": entries},
                                           datetime.now(UTC), host="bench")
                start_cpu = time.process_time()
                r = client.get(osd_list, headers=headers)  # the handler runs; the body is not read
                cpu.append((time.process_time() - start_cpu) * 1000)
                r.close()
            print(f"{label:<40} cpu ms median {statistics.median(cpu):.2f}, max {max(cpu):.2f}", flush=True)
        if sim is not None:
            # a scrape after the cluster moved on: PG counts, usage, every OSD's points (and
            # now and then an OSD map), as between two Prometheus scrapes
            samples, cpu = [], []
            for _ in range(10):
                churn(service, sim, latest, polls=3)
                start, start_cpu = time.perf_counter(), time.process_time()
                r = client.get("/metrics", headers=gzip)
                r.get_data()
                samples.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
            print(f"{'/metrics gzip after churn':<28} {statistics.median(samples):>10.2f} {max(samples):>10.2f} "
                  f"{statistics.median(cpu):>8.2f} {len(r.data):>12,}  (p99: the worst of 10)")
            cold = build_app(service, auth=auth, TIMESERIES=latest).test_client()
            start = time.perf_counter()
            r = cold.get("/metrics", headers=gzip)
            print(f"{'/metrics first scrape':<28} {(time.perf_counter() - start) * 1000:>10.2f}")
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
