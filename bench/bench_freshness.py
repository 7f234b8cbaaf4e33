"""Freshness on a real cluster: the time from a change made with the `ceph` CLI to its visibility in the
REST API, over N changes (flags, reweights, pool quotas, OSD out/in). Starts its own dev cluster
(scripts/ceph-dev-cluster.sh in a temporary directory), a calamari-server and a calamari-collector
with its default poll interval, and stops them all. Prints median, p90 and max against the 2 s
budget; asserts nothing. Skips (exit 0) when Ceph is not installed.

    python bench/bench_freshness.py [--changes 24] [--poll-interval 1.0]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from calamari.testing.live import (
    ApiClient,
    CalamariCollector,
    CalamariServer,
    DevCluster,
    missing_ceph_tools,
    wait_for,
)

BUDGET_S = 2.0


class MonCommands:
    """Changes are made with librados when it is importable: its call returns when the monitors
    have committed the change, so the clock starts at the change (the `ceph` CLI, the fallback,
    adds its own start and exit time to every figure)."""

    def __init__(self, cluster: DevCluster) -> None:
        self.cluster = cluster
        self.rados: Any = None
        try:
            import rados

            self.rados = rados.Rados(conffile=cluster.conf)
            self.rados.connect(timeout=30)
        except Exception as exc:  # ImportError, rados.Error
            print(f"librados unavailable ({exc}); timing from the ceph CLI's return")
            self.rados = None

    def run(self, words: list[str], args: dict[str, Any]) -> None:
        if self.rados is None:
            self.cluster.ceph(*words, *[str(v) for v in args.values()])
            return
        rc, _, err = self.rados.mon_command(json.dumps({"prefix": " ".join(words), **args}), b"")
        if rc != 0:
            raise RuntimeError(f"{' '.join(words)} {args}: rc={rc} {err}")

    def close(self) -> None:
        if self.rados is not None:
            self.rados.shutdown()


def changes(mon: MonCommands, api: ApiClient, fsid: str, count: int) -> list[tuple[str, Callable[[], None],
                                                                                   Callable[[], bool]]]:
    """(label, make the change, does the API show it) for `count` changes in turn."""
    base = f"/cluster/{fsid}"

    def pool(name: str) -> dict[str, Any]:
        return next(p for p in api.get(f"{base}/pool") if p["name"] == name)

    plan: list[tuple[str, Callable[[], None], Callable[[], bool]]] = []
    for i in range(count):
        kind = i % 4
        turn = i // 4
        if kind == 0:
            word = "set" if turn % 2 == 0 else "unset"
            plan.append((f"osd {word} noout", lambda w=word: mon.run(["osd", w], {"key": "noout"}),
                         lambda w=word: ("noout" in api.get(base)["flags"]) == (w == "set")))
        elif kind == 1:
            osd, weight = turn % 3, (0.8 if (turn // 3) % 2 == 0 else 1.0)  # each one a real change
            plan.append((f"osd reweight {osd} {weight}",
                         lambda o=osd, w=weight: mon.run(["osd", "reweight"], {"id": o, "weight": w}),
                         lambda o=osd, w=weight: abs(api.get(f"{base}/osd/{o}")["reweight"] - w) < 0.01))
        elif kind == 2:
            quota = 1000 + turn
            plan.append((f"pool set-quota max_objects {quota}",
                         lambda q=quota: mon.run(["osd", "pool", "set-quota"],
                                                        {"pool": "fresh", "field": "max_objects", "val": str(q)}),
                         lambda q=quota: pool("fresh")["quota_max_objects"] == q))
        else:
            osd = turn % 3
            plan.append((f"osd out {osd}", lambda o=osd: mon.run(["osd", "out"], {"ids": [str(o)]}),
                         lambda o=osd: api.get(f"{base}/osd/{o}")["in"] is False))
            plan.append((f"osd in {osd}", lambda o=osd: mon.run(["osd", "in"], {"ids": [str(o)]}),
                         lambda o=osd: api.get(f"{base}/osd/{o}")["in"] is True))
    return plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=24, help="changes to make (OSD out/in counts as two)")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="the collector's (its default: 1.0)")
    args = parser.parse_args()
    missing = missing_ceph_tools()
    if missing:
        print(f"bench_freshness: skipped, Ceph is not installed (missing {', '.join(missing)})")
        return 0
    with tempfile.TemporaryDirectory(prefix="calamari-freshness-") as tmp:
        base = Path(tmp)
        cluster = DevCluster(base / "ceph")
        server: CalamariServer | None = None
        collector: CalamariCollector | None = None
        try:
            started = time.monotonic()
            cluster.up()
            print(f"dev cluster up in {time.monotonic() - started:.1f} s")
            server = CalamariServer(base / "data")
            api = server.start()
            collector = CalamariCollector(server.bus, cluster.conf, base / "collector.log",
                                          poll_interval=args.poll_interval, heartbeat_interval=5.0)
            collector.start()
            fsid = cluster.fsid()
            cluster.ceph("osd", "pool", "create", "fresh", "8")
            wait_for(lambda: any(p["name"] == "fresh" for p in api.get(f"/cluster/{fsid}/pool")), 60,
                     "the cluster and its pool in the API")
            latencies: list[float] = []
            from_sent: list[float] = []
            pauses = random.Random(7)
            mon = MonCommands(cluster)
            plan = changes(mon, api, fsid, args.changes)
            for label, change, visible in plan:
                sent = time.monotonic()
                change()
                made = time.monotonic()  # the monitors have committed the change
                wait_for(visible, 30, f"{label} to show in the API", interval=0.02)
                latencies.append(time.monotonic() - made)
                from_sent.append(time.monotonic() - sent)
                print(f"  {label:<36} {latencies[-1] * 1000:7.0f} ms after the commit, "
                      f"{from_sent[-1] * 1000:7.0f} ms after the command was sent")
                # a random pause: changes must not fall into step with the collector's polls
                time.sleep(pauses.uniform(0.1, 0.1 + args.poll_interval))
            mon.close()
        finally:
            if collector is not None:
                collector.stop()
            if server is not None:
                server.stop()
            cluster.down()
    print(f"{len(latencies)} changes, collector poll {args.poll_interval:g} s. The monitors commit on their own "
          "~1 s proposal cadence, so the figures drift with its phase against the collector's polls.")
    report("change committed on a real cluster -> visible in the API", latencies)
    report("command sent to the monitors -> visible in the API (includes Ceph's proposal delay)", from_sent)
    return 0


def report(what: str, values: list[float]) -> None:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    median, worst = statistics.median(ordered), ordered[-1]
    print(f"{what}: median {median * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, max {worst * 1000:.0f} ms "
          f"(budget {BUDGET_S * 1000:.0f} ms: {'OK' if worst <= BUDGET_S else 'OVER'})")


if __name__ == "__main__":
    sys.exit(main())
