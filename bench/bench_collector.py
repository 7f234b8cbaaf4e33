"""Collector throughput: simulator maps/s at 10,000 OSDs / 1,000,000 PGs, delta sizes, and the bus's
messages/s and MB/s into a no-op sink. Prints figures; asserts nothing."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgpack
import zmq

from calamari import protocol
from calamari.adapters.bus import CollectorBus
from collector.simulator import SimulatedCluster


class NullSink:
    def __init__(self) -> None:
        self.held: dict[tuple[str, str], tuple[Any, Any]] = {}

    def on_sync_object(self, fsid: str, name: str, version: Any, data: Any, at: datetime, host: str) -> bool:
        self.held[(fsid, name)] = (version, data)
        return True

    def sync_versions(self, fsid: str) -> dict[str, Any]:
        return {n: v[0] for (f, n), v in self.held.items() if f == fsid}

    def sync_object(self, fsid: str, name: str) -> tuple[Any, Any] | None:
        return self.held.get((fsid, name))

    def on_server_facts(self, *args: Any) -> None: ...
    def on_heartbeat(self, *args: Any) -> None: ...
    def check_contact(self, *args: Any) -> None: ...
    def on_command_result(self, *args: Any) -> None: ...
    def on_cluster_log(self, *args: Any) -> None: ...


def bench_simulator() -> SimulatedCluster:
    started = time.perf_counter()
    cluster = SimulatedCluster("hosts=1000,osds=10000,pools=1000,pgs=1000000,seed=7,churn=0.001")
    print(f"simulator build, 10,000 OSDs / 1,000 hosts / 1,000,000 PGs: {time.perf_counter() - started:.2f} s")
    first = cluster.poll()
    full_osd = len(msgpack.packb(first["osd_map"][1]))
    full_pg = len(msgpack.packb(first["pg_summary"][1]))
    ticks, maps, delta_bytes = 20, 0, 0
    previous = {name: data for name, (_, data) in first.items()}
    started = time.perf_counter()
    for _ in range(ticks):
        changed = cluster.poll()
        maps += len(changed)
        for name, (_, data) in changed.items():
            if protocol.supports_delta(name):
                delta_bytes += len(msgpack.packb(protocol.make_delta(name, previous[name], data)))
            previous[name] = data
    elapsed = time.perf_counter() - started
    print(f"simulator: {ticks / elapsed:.1f} ticks/s, {maps / elapsed:.1f} maps/s (incl. delta encoding); "
          f"full osd_map {full_osd / 1e6:.2f} MB, pg_summary {full_pg / 1e6:.2f} MB, "
          f"mean delta {delta_bytes / max(1, maps) / 1e3:.1f} kB")
    return cluster


def bench_one_osd_delta(cluster: SimulatedCluster) -> None:
    sink = NullSink()
    old = cluster.osd_map()
    sink.held[(cluster.fsid, "osd_map")] = (old["epoch"], old)
    cluster.execute("osd out", {"ids": ["4321"]})
    new = cluster.osd_map()
    frame = protocol.encode("sync_object", {"name": "osd_map", "version": new["epoch"], "delta_from": old["epoch"],
                                            "delta": protocol.make_delta("osd_map", old, new)},
                            fsid=cluster.fsid, host="h", seq=1)
    runs = 50
    started = time.perf_counter()
    for _ in range(runs):
        envelope = protocol.decode(frame)
        rebuilt = protocol.apply_delta("osd_map", old, envelope.body["delta"])
    per_run = (time.perf_counter() - started) / runs
    assert rebuilt["osds"][4321]["in"] == 0
    print(f"one changed OSD of 10,000: frame {len(frame)} bytes, server decode+rebuild {per_run * 1e3:.2f} ms")
    full = protocol.encode("sync_object", {"name": "osd_map", "version": new["epoch"], "data": new},
                           fsid=cluster.fsid, host="h", seq=1)
    started = time.perf_counter()
    protocol.decode(full)
    print(f"full 10,000-OSD osd_map: frame {len(full) / 1e6:.2f} MB, decode+validate "
          f"{(time.perf_counter() - started) * 1e3:.1f} ms")


def bench_bus() -> None:
    sink = NullSink()
    bus = CollectorBus(sink, "tcp://127.0.0.1:0")
    bus.start()
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.SNDHWM, 0)
    dealer.connect(bus.bound_endpoint)
    fsid = "bench"
    dealer.send(protocol.encode("hello", {"collector_version": "b", "fsid": fsid, "hostname": "h"},
                                fsid=fsid, host="h", seq=0))
    points = [[f"servers.h.disk.sd{i}.read_bytes", 1.0, float(i)] for i in range(50)]
    frames = [protocol.encode("stats", {"points": points}, fsid=fsid, host="h", seq=i) for i in range(50_000)]
    total_bytes = sum(map(len, frames))
    started = time.perf_counter()
    for frame in frames:
        dealer.send(frame)
    while bus.totals()["messages"] < len(frames) + 1:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    print(f"bus: {len(frames) / elapsed:,.0f} messages/s, {total_bytes / elapsed / 1e6:.1f} MB/s "
          f"(stats messages of {len(frames[0])} bytes, validated and routed)")
    dealer.close(0)
    bus.stop()


if __name__ == "__main__":
    simulated = bench_simulator()
    bench_one_osd_delta(simulated)
    bench_bus()
