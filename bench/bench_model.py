"""Benchmarks of the event-sourced model at 10,000 OSDs, against the budgets of DESIGN.md.

    .venv/bin/python bench/bench_model.py [--osds 10000] [--events 1000000]
        [--event-store postgresql://USER:PASS@HOST:PORT/DBNAME [--store-only]]

With --event-store the append and restart figures are measured on that store (each in a new table,
dropped afterwards); --store-only skips the other figures.

Prints each figure, its budget and whether it is met. Nothing here is asserted by the test suite."""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import psutil

from calamari import protocol
from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import newest_snapshot, write_snapshot
from calamari.domain.model import ClusterModel
from calamari.domain.osd import Osd
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.strategies import ClusterState, OsdState, PoolState, osd_map

T0 = datetime(2026, 11, 24, tzinfo=UTC)
RESULTS: list[tuple[str, str, str, bool]] = []
STORE_LABEL = ""  # names the store in the store figures when it is not the default SQLite


def report(what: str, value: float, unit: str, budget: float, lower_is_better: bool = True) -> None:
    met = value <= budget if lower_is_better else value >= budget
    sign = "≤" if lower_is_better else "≥"
    RESULTS.append((what, f"{value:,.2f} {unit}", f"{sign} {budget:,} {unit}", met))
    print(f"{what:<58} {value:>12,.2f} {unit:<9} budget {sign} {budget:,} {unit}: {'met' if met else 'NOT met'}",
          flush=True)


def big_cluster(osds: int, pools: int, hosts: int) -> ClusterState:
    state = ClusterState()
    for i in range(osds):
        state.osds[i] = OsdState(uuid=f"00000000-0000-4000-8000-{i:012d}", port=6800 + (i % 5000))
    for p in range(1, pools + 1):
        state.pools[p] = PoolState(name=f"pool-{p}", pg_num=64)
    state.next_pool_id = pools + 1
    return state


def osd_metadata(osds: int, hosts: int) -> list[dict]:
    return [{"id": i, "hostname": f"node{i % hosts:04d}", "ceph_version_short": "16.2.15",
             "osd_objectstore": "bluestore", "osd_data": f"/var/lib/ceph/osd/ceph-{i}"} for i in range(osds)]


def bench_changes(n_osds: int, n_pools: int) -> None:
    state = big_cluster(n_osds, n_pools, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        service = ModelService(ServiceConfig(data_dir=tmp))
        doc = osd_map(state, 10)
        t = time.process_time()
        service.on_sync_object(state.fsid, "osd_map", 10, doc, T0)
        print(f"{'first sync: all OSDs and pools added (no budget)':<58} {(time.process_time() - t) * 1000:>12,.2f} ms CPU")

        # A full resync from the wire: the frame decoded (msgpack, envelope checks), then the model
        # diffs a map whose every entry is a new object and nothing changed.
        samples = []
        for epoch in range(11, 16):
            doc = {**doc, "epoch": epoch}
            frame = protocol.encode("sync_object", {"name": "osd_map", "version": epoch, "data": doc},
                                    fsid=state.fsid, host="bench", seq=epoch)
            gc.collect()
            t = time.process_time()
            body = protocol.decode(frame).body
            service.on_sync_object(state.fsid, "osd_map", body["version"], body["data"], T0)
            samples.append((time.process_time() - t) * 1000)
        report(f"full resync of a {n_osds:,}-OSD OSD map, {len(frame) / 1e6:.1f} MB frame (median of 5)",
               statistics.median(samples), "ms CPU", 250)

        # One changed OSD from the wire: the collector's delta frame decoded, the full map rebuilt
        # from the held copy (unchanged entries are the same objects), then the model diff.
        current = service.sync_object(state.fsid, "osd_map")[1]
        samples = []
        for epoch in range(16, 216):
            osd = (epoch * 7919) % n_osds
            entry = dict(current["osds"][osd])
            entry["up"] = 1 - entry["up"]
            osds = list(current["osds"])
            osds[osd] = entry
            changed = {**current, "epoch": epoch, "osds": osds}
            delta = protocol.make_delta("osd_map", current, changed)
            frame = protocol.encode("sync_object", {"name": "osd_map", "version": epoch,
                                                    "delta_from": current["epoch"], "delta": delta},
                                    fsid=state.fsid, host="bench", seq=epoch)
            t = time.process_time()
            body = protocol.decode(frame).body
            held = service.sync_object(state.fsid, "osd_map")
            rebuilt = protocol.apply_delta("osd_map", held[1], body["delta"])
            service.on_sync_object(state.fsid, "osd_map", body["version"], rebuilt, T0 + timedelta(seconds=epoch))
            samples.append((time.process_time() - t) * 1000)
            current = rebuilt
        report(f"one changed OSD: {len(frame):,} B delta frame to updated projection (median)",
               statistics.median(samples), "ms CPU", 5)
        assert service.view.osds[state.fsid][osd]["up"] == bool(entry["up"])
        service.close()


def bench_store_url(base: str | None, data_dir: str, name: str) -> str:
    """The store a benchmark writes: SQLite in its data dir, or a new table on the given server."""
    if base is None:
        return f"sqlite:///{data_dir}/events.db"
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(base)
    query = dict(parse_qsl(parts.query))
    query["table"] = f"bench_{name}_{os.getpid()}_{int(time.time())}"
    return parts._replace(query=urlencode(query)).geturl()


def drop_table(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg
    from psycopg.sql import SQL, Identifier

    from calamari.adapters.postgres_store import parse_postgres_url

    target = parse_postgres_url(url)
    with psycopg.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                         dbname=target.dbname, autocommit=True) as conn:
        conn.execute(SQL("DROP TABLE IF EXISTS {}.{}").format(Identifier(target.schema), Identifier(target.table)))


def bench_append(n_events: int = 200_000, base_url: str | None = None) -> None:
    state = big_cluster(1000, 1, 10)
    model = ClusterModel()
    model.ingest(state.fsid, "osd_map", 1, osd_map(state, 1), T0)
    model.drain()
    osds = list(model.osds[state.fsid].values())
    events = []
    for i in range(n_events):
        osd = osds[i % len(osds)]
        osd.emit(Osd.OsdMarkedDown if osd.up else Osd.OsdMarkedUp, T0, epoch=i)
        events.append(osd.pending_events.pop())
    with tempfile.TemporaryDirectory() as tmp:
        url = bench_store_url(base_url, tmp, "append")
        store = EventStore(url)
        try:
            t = time.perf_counter()
            for i in range(0, n_events, 5000):
                store.append(events[i:i + 5000])
            rate = n_events / (time.perf_counter() - t)
        finally:
            store.close()
            drop_table(url)
    report(f"event store append, sustained ({n_events:,} events, batches of 5,000){STORE_LABEL}", rate, "events/s",
           20_000, lower_is_better=False)


def build_store(data_dir: str, n_osds: int, n_events: int, snapshot_every: int, url: str | None = None) -> None:
    """A data dir with a 10,000-OSD cluster and n_events stored events, snapshotted as the service
    does (every `snapshot_every` events), with a full tail since the newest snapshot."""
    state = big_cluster(n_osds, 100, 1000)
    store = EventStore(url or f"sqlite:///{data_dir}/events.db")
    model = ClusterModel()
    model.ingest(state.fsid, "osd_map", 1, osd_map(state, 1), T0)
    store.append(model.drain())
    osds = list(model.osds[state.fsid].values())
    batch = []
    written = store.max_position()
    i = 0
    while written + len(batch) < n_events:
        osd = osds[(i * 7919) % len(osds)]
        osd.emit(Osd.OsdMarkedDown if osd.up else Osd.OsdMarkedUp, T0 + timedelta(milliseconds=i), epoch=i + 2)
        batch.append(osd.pending_events.pop())
        i += 1
        if len(batch) == 20_000 or written + len(batch) >= n_events:
            before = written
            store.append(batch)
            written += len(batch)
            batch = []
            # the newest snapshot lags up to an interval behind the end, as in the service
            if before < n_events - snapshot_every <= written:
                write_snapshot(os.path.join(data_dir, "snapshots"), written, model)
    store.close()


def bench_restart(n_osds: int, n_events: int, base_url: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = bench_store_url(base_url, tmp, "restart")
        try:
            _restart(tmp, url, n_osds, n_events)
        finally:
            drop_table(url)


def _restart(tmp: str, url: str, n_osds: int, n_events: int) -> None:
    t = time.perf_counter()
    build_store(tmp, n_osds, n_events, 20_000, url)
    print(f"  (built a store of {n_events:,} events in {time.perf_counter() - t:.0f} s)", flush=True)
    gc.collect()
    t = time.perf_counter()
    service = ModelService(ServiceConfig(data_dir=tmp, event_store_url=url))
    elapsed = time.perf_counter() - t
    from calamari.bootstrap import build_app

    build_app(service)  # the API's own start-up work (event feed from the newest events)
    api_ready = time.perf_counter() - t
    snapshot_at = newest_snapshot(os.path.join(tmp, "snapshots"))[0]
    tail = service.store.max_position() - snapshot_at
    report(f"restart: {n_osds:,} OSDs, {n_events:,} stored events (model: snapshot + tail){STORE_LABEL}",
           elapsed, "s", 5)
    report("restart: the same, until the API is ready to answer", api_ready, "s", 5)
    print(f"  (restored at position {service.restored_position:,}: snapshot at {snapshot_at:,} + {tail:,} events replayed)")
    service.close()


def measure_rss(n_osds: int, n_pools: int, n_hosts: int) -> None:
    """In a fresh process, so that nothing else this script made counts."""
    code = f"""
import gc, tempfile, psutil
from datetime import UTC, datetime
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.strategies import osd_map
import bench.bench_model as b
T0 = datetime(2026, 11, 24, tzinfo=UTC)
state = b.big_cluster({n_osds}, {n_pools}, {n_hosts})
with tempfile.TemporaryDirectory() as tmp:
    s = ModelService(ServiceConfig(data_dir=tmp))
    s.on_sync_object(state.fsid, "osd_map", 10, osd_map(state, 10), T0)
    s.on_sync_object(state.fsid, "osd_metadata", "m1", b.osd_metadata({n_osds}, {n_hosts}), T0)
    for h in range({n_hosts}):
        s.on_server_facts(state.fsid, {{"hostname": f"node{{h:04d}}", "fqdn": f"node{{h:04d}}",
            "boot_time": 1.7e9, "kernel": "6.1.0", "cpu_count": 32, "mem_total": 1 << 37,
            "services": [{{"type": "osd", "id": str(i), "fsid": state.fsid, "running": True, "version": "16.2.15"}}
                         for i in range(h, {n_osds}, {n_hosts})]}}, T0)
    s.writer.flush(120)
    s.snapshot(120)
    gc.collect()
    print(psutil.Process().memory_info().rss)
    s.close()
"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    rss = int(out.stdout.strip().splitlines()[-1]) / 2**20
    report(f"server memory: {n_osds:,} OSDs, {n_hosts:,} hosts, {n_pools:,} pools (RSS)", rss, "MB", 400)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--osds", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--event-store", default=None,
                        help="measure append and restart on this store URL (postgresql://...; default SQLite)")
    parser.add_argument("--store-only", action="store_true", help="only the append and restart figures")
    args = parser.parse_args()
    global STORE_LABEL
    if args.event_store:
        from calamari.adapters.postgres_store import mask_password

        STORE_LABEL = " [PostgreSQL]" if args.event_store.startswith("postgres") else " [given store]"
        print(f"event store: {mask_password(args.event_store)}")
    print(f"calamari model benchmark — {args.osds:,} OSDs; {psutil.cpu_count()} CPUs")
    if not args.store_only:
        bench_changes(args.osds, 1000)
    bench_append(base_url=args.event_store)
    bench_restart(args.osds, args.events, args.event_store)
    if not args.store_only:
        measure_rss(args.osds, 1000, 1000)
    met = sum(1 for r in RESULTS if r[3])
    print(f"\n{met} of {len(RESULTS)} budgets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
