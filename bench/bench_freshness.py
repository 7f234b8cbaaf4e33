"""Freshness on a real cluster: the time from a change committed by the monitors (the command
returned) to its visibility in the REST API, over N changes (flags, reweights, pool quotas, OSD
out/in), and what the collector costs meanwhile. Starts its own dev cluster
(scripts/ceph-dev-cluster.sh in a temporary directory) and a calamari-server, then, for each way
the collector can reach Ceph, a calamari-collector with its default intervals:

  librados  the binding in the collector's own Python
  bridge    librados through the `ceph` CLI's interpreter: what the collector uses when its
            Python cannot load the binding (the CLI fallback)
  cli       one `ceph` process per command: the last resort (the CLI is not a Python script)

each either with version checks only, or (`+notify`, e.g. `librados+notify`) told of new maps by the
calamari_notify mgr module, which the cluster's mgr loads and enables (docs/mgr-module.md),

and prints per client: median, p90, p99 and max over the changes, where the time went (the
collector's send time is the stored event's time), and the CPU share of the collector (its
process, its children, a bridge's worker) and of the monitor over an idle minute, from
/proc/<pid>/stat, and of ceph-mgr and the module's own thread in it. Asserts nothing. Skips (exit 0) when Ceph is not installed.

    python bench/bench_freshness.py [--changes 30] [--clients librados,librados+notify,bridge,cli] [--idle 60]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
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

BUDGET_MEDIAN_S = 0.100
BUDGET_P99_S = 0.500
BUDGET_CPU_SHARE = 0.05
CLIENTS = ("librados", "librados+notify", "bridge", "bridge+notify", "cli")
DEFAULT_CLIENTS = ("librados", "librados+notify", "bridge", "bridge+notify")
# The event each kind of change produces (docs/events.md), to find when the collector sent it.
EVENT_OF = {"osd set": "ClusterFlagsChanged", "osd unset": "ClusterFlagsChanged", "osd reweight": "OsdReweighted",
            "pool set-quota": "PoolQuotaChanged", "osd out": "OsdMarkedOut", "osd in": "OsdMarkedIn"}


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


Change = tuple[str, Callable[[], None], Callable[[], bool]]


def changes(mon: MonCommands, api: ApiClient, fsid: str, count: int) -> list[Change]:
    """(label, make the change, does the API show it) for at least `count` changes in turn; each a
    real change from the state the previous ones left."""
    base = f"/cluster/{fsid}"

    def pool(name: str) -> dict[str, Any]:
        return next(p for p in api.get(f"{base}/pool") if p["name"] == name)

    plan: list[Change] = []
    i = 0
    while len(plan) < count:
        kind, turn = i % 4, i // 4
        i += 1
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


# ------------------------------------------------------------------------------------ /proc

def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and ')'):
    [0] is the state, [1] the parent pid, [11:15] utime, stime, cutime, cstime in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = proc_stat(int(entry))
            if fields is not None and fields[1] == str(pid):
                found.append(int(entry))
    return found


def cpu_seconds(pid: int, with_children: bool = True) -> float:
    """CPU time of a process and its ended children, plus its live children's (a bridge's worker)."""
    fields = proc_stat(pid)
    if fields is None:
        return 0.0
    ticks = sum(int(v) for v in fields[11:15 if with_children else 13])
    if with_children:
        ticks += sum(int(v) for child in children_of(pid) for v in (proc_stat(child) or ["0"] * 15)[11:13])
    return ticks / os.sysconf("SC_CLK_TCK")


def thread_stat(pid: int, tid: int) -> list[str] | None:
    """Like proc_stat, for one thread of a process."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def mgr_module_thread(mgr_pid: int | None) -> int | None:
    """The thread of ceph-mgr that runs calamari_notify's serve() (ceph-mgr names a module's thread
    after it, cut to 15 characters), or None."""
    if mgr_pid is None:
        return None
    try:
        for tid in os.listdir(f"/proc/{mgr_pid}/task"):
            with open(f"/proc/{mgr_pid}/task/{tid}/comm") as f:
                if f.read().strip().startswith("calamari"):
                    return int(tid)
    except OSError:
        return None
    return None


def idle_shares(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Each process's CPU share of one core over `seconds` of idleness."""
    def used(name: str, pid: int) -> float:
        if name == "module thread":  # its own time (/proc/<tid>/stat would be the whole process's)
            fields = thread_stat(pids["ceph-mgr"], pid)
            return sum(int(v) for v in fields[11:13]) / os.sysconf("SC_CLK_TCK") if fields else 0.0
        return cpu_seconds(pid)

    before = {name: used(name, pid) for name, pid in pids.items()}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return {name: (used(name, pid) - before[name]) / elapsed for name, pid in pids.items()}


# ------------------------------------------------------------------------------------ the run

def measure(client: str, plan: list[Change], server: CalamariServer, cluster: DevCluster, api: ApiClient,
            fsid: str, base: Path, args: argparse.Namespace) -> dict[str, Any]:
    collector = CalamariCollector(server.bus, cluster.conf, base / f"collector-{client}.log",
                                  poll_interval=args.poll_interval, heartbeat_interval=5.0)
    backend, _, notify = client.partition("+")
    collector.argv += ["--ceph-client", backend,
                       "--mgr-notify", f"127.0.0.1:{cluster.notify_port}" if notify else "none"]
    if args.check_interval is not None:
        collector.argv += ["--check-interval", str(args.check_interval)]
    first_position = max((e["position"] for e in server.stored_events()), default=0)
    collector.start()
    try:
        wait_for(lambda: any(c["id"] == fsid for c in api.get("/cluster")), 60, "the cluster in the API")
        time.sleep(2.0)  # its first full round of reads (every map, sent whole) is not what is measured
        latencies: list[float] = []
        commits: list[float] = []
        pauses = random.Random(7)
        for label, change, visible in plan:
            change()
            made, made_wall = time.monotonic(), time.time()  # the monitors have committed the change
            wait_for(visible, 60, f"{label} to show in the API", interval=0.01)
            latencies.append(time.monotonic() - made)
            commits.append(made_wall)
            if args.verbose:
                print(f"    {label:<36} {latencies[-1] * 1000:7.0f} ms")
            # a random pause: changes must not fall into step with the collector's checks
            time.sleep(pauses.uniform(0.1, 1.1))
        time.sleep(args.settle)
        assert collector.process is not None
        pids = {"collector": collector.process.pid}
        for name, daemon in (("ceph-mon", "mon.a"), ("ceph-mgr", "mgr.x")):
            pid = cluster.pid_of(daemon)
            if pid is not None:
                pids[name] = pid
        module_thread = mgr_module_thread(pids.get("ceph-mgr"))
        if module_thread is not None:
            pids["module thread"] = module_thread
        shares = idle_shares(pids, args.idle)
    finally:
        collector.stop()
    sent = sent_times(server, first_position, [label for label, _, _ in plan])
    return {"latencies": latencies, "commits": commits, "sent": sent, "shares": shares}


def sent_times(server: CalamariServer, after: int, labels: list[str]) -> list[float | None]:
    """For each change in order, when the collector sent the map showing it: the time of the
    first stored event of its kind after the previous change's (wall clock, s)."""
    events = [e for e in server.stored_events() if e["position"] > after]
    found: list[float | None] = []
    cursor = 0
    for label in labels:
        wanted = next(kind for prefix, kind in EVENT_OF.items() if label.startswith(prefix + " "))
        match = next((i for i in range(cursor, len(events)) if events[i]["type"] == wanted), None)
        if match is None:
            found.append(None)
            continue
        found.append(datetime.fromisoformat(events[match]["time"]).timestamp())
        cursor = match + 1
    return found


def nearest_rank(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values (p99 of 30 values is the largest)."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


def report(client: str, result: dict[str, Any], args: argparse.Namespace) -> None:
    ordered = sorted(result["latencies"])
    median, p90, p99 = statistics.median(ordered), nearest_rank(ordered, 0.9), nearest_rank(ordered, 0.99)
    ok = median <= BUDGET_MEDIAN_S and p99 <= BUDGET_P99_S
    print(f"{client:>9}: {len(ordered)} changes, committed -> visible in the API: median {median * 1000:.0f} ms, "
          f"p90 {p90 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms "
          f"(budget: median {BUDGET_MEDIAN_S * 1000:.0f}, p99 {BUDGET_P99_S * 1000:.0f}: {'OK' if ok else 'OVER'})")
    pairs = [(sent - commit, latency - (sent - commit)) for sent, commit, latency
             in zip(result["sent"], result["commits"], result["latencies"], strict=True) if sent is not None]
    if pairs:
        print(f"{'':>11}where it went (medians): committed -> the collector sent the map "
              f"{statistics.median(p[0] for p in pairs) * 1000:.0f} ms, sent -> visible in the API "
              f"{statistics.median(p[1] for p in pairs) * 1000:.0f} ms ({len(pairs)} changes matched to events)")
    shares = result["shares"]
    collector = shares.get("collector", 0.0)
    print(f"{'':>11}idle {args.idle:.0f} s: collector {collector * 100:.2f} % of a core "
          f"(budget {BUDGET_CPU_SHARE * 100:.0f} %: {'OK' if collector <= BUDGET_CPU_SHARE else 'OVER'}), "
          f"ceph-mon {shares.get('ceph-mon', 0.0) * 100:.2f} %, ceph-mgr {shares.get('ceph-mgr', 0.0) * 100:.2f} % "
          f"(the calamari_notify thread in it: {shares.get('module thread', 0.0) * 100:.3f} %)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=30, help="changes per client (at least; OSD out/in are two)")
    parser.add_argument("--clients", default=",".join(DEFAULT_CLIENTS),
                        help=f"comma-separated, of {', '.join(CLIENTS)} (default {','.join(DEFAULT_CLIENTS)})")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idleness to measure CPU over")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after the last change before that")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="the collector's (its default: 1.0)")
    parser.add_argument("--check-interval", type=float, default=None, help="the collector's (default: its own)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every change")
    args = parser.parse_args()
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown or not clients:
        parser.error(f"--clients: unknown {', '.join(unknown) or '(none given)'}")
    missing = missing_ceph_tools()
    if missing:
        print(f"bench_freshness: skipped, Ceph is not installed (missing {', '.join(missing)})")
        return 0
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="calamari-freshness-") as tmp:
        base = Path(tmp)
        cluster = DevCluster(base / "ceph", mgr_notify=True)
        server: CalamariServer | None = None
        mon: MonCommands | None = None
        try:
            started = time.monotonic()
            cluster.up()
            print(f"dev cluster up in {time.monotonic() - started:.1f} s; load average {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} cores")
            server = CalamariServer(base / "data")
            api = server.start()
            fsid = cluster.fsid()
            cluster.ceph("osd", "pool", "create", "fresh", "8")
            mon = MonCommands(cluster)
            # one sequence for all clients, each change real from where the previous one left the cluster
            plan = changes(mon, api, fsid, args.changes * len(clients))
            for index, client in enumerate(clients):
                part = plan[index * args.changes:(index + 1) * args.changes]
                print(f"{client}: {len(part)} changes, then {args.idle:.0f} s idle ...", flush=True)
                results[client] = measure(client, part, server, cluster, api, fsid, base, args)
        finally:
            if mon is not None:
                mon.close()
            if server is not None:
                server.stop()
            cluster.down()
    print("The monitors commit on their own proposal cadence (about 1 s), so changes are spread over the "
          "collector's check phase by it and by random pauses.")
    for client, result in results.items():
        report(client, result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
