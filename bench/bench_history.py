"""Benchmark: the state of a 10,000-OSD cluster at a past time, with 1,000,000 stored events
(budget: 1 s per query), plus a diff over a span of the history.

The store is built once (and kept in --dir for later runs): the real fixture maps scaled to
--osds OSDs on 10-OSD hosts, ingested through ClusterModel, then OSD flaps emitted through the
aggregates directly and appended in batches of HISTORY_SPACING (5,000), with a snapshot after each
batch as the service writes them. Figures are printed, never asserted.

    .venv/bin/python bench/bench_history.py [--osds 10000] [--events 1000000] [--dir DIR] [--fresh]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_OID, uuid5

import orjson

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from calamari.adapters.event_store import EventStore  # noqa: E402
from calamari.adapters.snapshots import HISTORY_SPACING, write_snapshot  # noqa: E402
from calamari.domain.model import ClusterModel  # noqa: E402
from calamari.domain.osd import Osd  # noqa: E402
from calamari.service.history import History  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "fixtures",
                       "ceph-pacific-3osd", "00-baseline")
BATCH = HISTORY_SPACING  # a snapshot after each batch, as the server's snapshot writer spaces them
START = datetime(2026, 11, 1, tzinfo=UTC)
STEP = timedelta(milliseconds=250)  # one flap every quarter second: 1M events span ~3 days
OSDS_PER_HOST = 10


def load(name: str) -> Any:
    with open(os.path.join(FIXTURE, f"{name}.json")) as f:
        return json.load(f)


def scaled_maps(osds: int) -> dict[str, Any]:
    """The baseline OSD map, OSD metadata and CRUSH map with `osds` OSDs on hosts of ten."""
    osd_dump, metadata, crush = load("osd_dump"), load("osd_metadata"), load("osd_crush_dump")
    template, meta_template = osd_dump["osds"][0], metadata[0]
    entries, metas, devices, hosts = [], [], [], []
    for i in range(osds):
        host = f"ceph-node-{i // OSDS_PER_HOST:04d}"
        e = copy.deepcopy(template)
        port = 6800 + (i % 100) * 8
        e.update(osd=i, uuid=str(uuid5(NAMESPACE_OID, f"osd.{i}")), up=1, **{"in": 1}, weight=1.0,
                 public_addr=f"10.0.{i // 250}.{i % 250}:{port + 1}/{1000 + i}",
                 cluster_addr=f"10.1.{i // 250}.{i % 250}:{port + 3}/{1000 + i}")
        entries.append(e)
        m = dict(meta_template, id=i, hostname=host, osd_data=f"/var/lib/ceph/osd/ceph-{i}")
        metas.append(m)
        devices.append({"id": i, "name": f"osd.{i}", "class": "hdd"})
    for h in range((osds + OSDS_PER_HOST - 1) // OSDS_PER_HOST):
        items = [{"id": i, "weight": 0x10000, "pos": n}
                 for n, i in enumerate(range(h * OSDS_PER_HOST, min(osds, (h + 1) * OSDS_PER_HOST)))]
        hosts.append({"id": -2 - h, "name": f"ceph-node-{h:04d}", "type_id": 1, "type_name": "host",
                      "weight": 0x10000 * len(items), "alg": "straw2", "hash": "rjenkins1", "items": items})
    root = {"id": -1, "name": "default", "type_id": 10, "type_name": "root", "weight": 0x10000 * osds,
            "alg": "straw2", "hash": "rjenkins1",
            "items": [{"id": b["id"], "weight": b["weight"], "pos": n} for n, b in enumerate(hosts)]}
    osd_dump = dict(osd_dump, osds=entries, max_osd=osds)
    crush = dict(crush, devices=devices, buckets=[root, *hosts])
    return {"osd_dump": osd_dump, "osd_metadata": metas, "crush": crush}


def build(directory: str, osds: int, total: int) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    store = EventStore(f"sqlite:///{directory}/events.db")
    snapshots = os.path.join(directory, "snapshots")
    maps = scaled_maps(osds)
    fsid = maps["osd_dump"]["fsid"]
    model = ClusterModel()
    started = time.perf_counter()
    model.ingest(fsid, "osd_metadata", "scaled", maps["osd_metadata"], START)
    model.ingest(fsid, "osd_map", maps["osd_dump"]["epoch"], maps["osd_dump"], START)
    model.ingest(fsid, "crush_map", maps["osd_dump"]["crush_version"], maps["crush"], START)
    initial = model.drain()
    for i in range(0, len(initial), BATCH):
        store.append(initial[i:i + BATCH])
    write_snapshot(snapshots, store.max_position(), model)
    print(f"initial cluster: {len(initial):,} events in {time.perf_counter() - started:.1f} s")

    rng = random.Random(7)
    osd_list = [model.osds[fsid][i] for i in range(osds)]
    epoch = maps["osd_dump"]["epoch"]
    at = START
    position = store.max_position()
    batch: list[Any] = []
    started = time.perf_counter()
    while position + len(batch) < total:
        osd = osd_list[rng.randrange(osds)]
        epoch += 1
        at += STEP
        osd.emit(Osd.OsdMarkedUp if not osd.up else Osd.OsdMarkedDown, at, epoch=epoch)
        batch.append(osd.pending_events.pop())
        if len(batch) == BATCH or position + len(batch) == total:
            position = store.append(batch)[-1]
            write_snapshot(snapshots, position, model)
            batch = []
            if position % 200_000 < BATCH:
                rate = (position - len(initial)) / (time.perf_counter() - started)
                print(f"  {position:,} events stored ({rate:,.0f} events/s with snapshots)", flush=True)
    with open(os.path.join(directory, "bench.json"), "w") as f:
        json.dump({"osds": osds, "events": total, "fsid": fsid, "start": START.isoformat(),
                   "end": at.isoformat(), "snapshot_spacing": HISTORY_SPACING}, f)


def is_current(meta: dict[str, Any] | None, osds: int, events: int) -> bool:
    """Whether a built store is of these sizes, with snapshots spaced as the server spaces them now."""
    return bool(meta) and (meta["osds"], meta["events"], meta.get("snapshot_spacing")) == (  # type: ignore[index]
        osds, events, HISTORY_SPACING)


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--osds", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/calamari-bench-history")
    parser.add_argument("--fresh", action="store_true", help="rebuild the store even if one exists")
    parser.add_argument("--queries", type=int, default=9)
    args = parser.parse_args()

    meta_path = os.path.join(args.dir, "bench.json")
    meta = None
    if os.path.exists(meta_path) and not args.fresh:
        with open(meta_path) as f:
            meta = json.load(f)
    if not is_current(meta, args.osds, args.events):
        print(f"building {args.osds:,} OSDs, {args.events:,} events in {args.dir} ...")
        build(args.dir, args.osds, args.events)
        with open(meta_path) as f:
            meta = json.load(f)
    fsid = meta["fsid"]
    start, end = datetime.fromisoformat(meta["start"]), datetime.fromisoformat(meta["end"])
    store = EventStore(f"sqlite:///{args.dir}/events.db")
    snapshot_count = len(os.listdir(os.path.join(args.dir, "snapshots")))
    print(f"store: {store.max_position():,} events, {snapshot_count} snapshots, "
          f"{os.path.getsize(os.path.join(args.dir, 'events.db')) / 1e6:,.0f} MB")

    history = History(store, os.path.join(args.dir, "snapshots"))
    rng = random.Random(11)
    span = (end - start).total_seconds()
    # times spread over the whole history, each at a random distance from the snapshot before it
    times = [start + timedelta(seconds=span * (i + rng.random()) / args.queries) for i in range(args.queries)]
    figures = []
    print("state at a past time (position lookup + snapshot + tail + rows + JSON):")
    for when in times:
        lookup, position = timed(lambda when=when: history.position_at(when))
        total, body = timed(lambda when=when: orjson.dumps(history.state(fsid, when.isoformat())))
        figures.append(lookup + total)
        print(f"  {when.isoformat()}  position {position:>9,}  lookup {lookup * 1000:6.1f} ms  "
              f"total {(lookup + total) * 1000:7.1f} ms  ({len(body) / 1e6:.1f} MB JSON)")
    print(f"state at a time, {args.osds:,} OSDs, {store.max_position():,} events: median "
          f"{statistics.median(figures) * 1000:.0f} ms, max {max(figures) * 1000:.0f} ms (budget 1000 ms)")

    mid = start + timedelta(seconds=span / 2)
    for hours in (1, 6):
        seconds, doc = timed(lambda hours=hours: history.diff(
            fsid, mid.isoformat(), (mid + timedelta(hours=hours)).isoformat()))
        print(f"diff over {hours} h ({doc['event_count']:,} events, {len(doc['summary']['osds']):,} OSDs changed): "
              f"{seconds * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
