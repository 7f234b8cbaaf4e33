"""How long a collector given several servers takes to bring the cluster to another server when the
one it talks to is killed. Starts two `calamari-server`s (each its own SQLite data dir, a plain-TCP
bus) and one `calamari-collector --simulate` given both, then --kills times: note the maps the
server the collector talks to holds (the names of its sync objects and its OSD map's epoch), kill
-9 it, and time until the other server holds every one of them at least as new (the collector's
silence, its move and the full copies it sends); the killed server is started again and becomes
the one to move to at the next kill. Prints the median and the maximum (issue 18's budget for a
failover is 10 s).

    python bench/bench_collector_failover.py [--kills 6] [--failover-after 3] [--spec hosts=3,osds=12,...]

The machine's other load shows in every figure. Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script without PYTHONPATH
    sys.path.insert(0, str(HERE.parent))

from calamari.testing.live import BIN, ApiClient, ApiError, CalamariServer, Process, wait_for  # noqa: E402


def held_maps(api: ApiClient, fsid: str) -> tuple[set[str], int]:
    """The names of the sync objects a server holds and its OSD map's epoch."""
    names = set(api.get(f"/cluster/{fsid}/sync_object"))
    epoch = int(api.get(f"/cluster/{fsid}/sync_object/osd_map")["epoch"])
    return names, epoch


def holds_at_least(api: ApiClient, fsid: str, names: set[str], epoch: int) -> bool:
    try:
        held, held_epoch = held_maps(api, fsid)
    except (ApiError, OSError):
        return False  # the cluster not there yet, or the API busy
    return names <= held and held_epoch >= epoch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--failover-after", type=float, default=3.0)
    parser.add_argument("--spec", default="hosts=3,osds=12,pools=3,pgs=256,seed=5,churn=0.2")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-collector-failover-") as tmp:
        base = Path(tmp)
        servers = [CalamariServer(base / name) for name in ("a", "b")]
        collector: Process | None = None
        try:
            apis = [server.start() for server in servers]
            collector = Process([str(BIN / "calamari-collector"), "--simulate", args.spec, "--insecure",
                                 "--server", ",".join(server.bus for server in servers),
                                 "--failover-after", str(args.failover_after)], base / "collector.log")
            fsid = wait_for(lambda: next(iter(c["id"] for c in apis[0].get("/cluster")), None), 60,
                            "the cluster at the first server")
            wait_for(lambda: holds_at_least(apis[0], fsid, {"osd_map", "pg_summary"}, 1), 60, "the first maps")
            times: list[float] = []
            active = 0
            for kill in range(args.kills):
                names, epoch = held_maps(apis[active], fsid)
                process = servers[active].process
                assert process is not None
                started = time.monotonic()
                process.kill9()
                other = 1 - active
                wait_for(lambda other=other, names=names, epoch=epoch: holds_at_least(apis[other], fsid, names, epoch),
                         60, "the other server to hold the maps", interval=0.02)
                took = time.monotonic() - started
                times.append(took)
                print(f"kill {kill + 1}: {took:.2f} s (epoch {epoch}, {len(names)} sync objects)", flush=True)
                apis[active] = servers[active].start()
                active = other
            print(f"\nkill -9 of the server to the other holding the cluster's maps, {len(times)} kills, "
                  f"--failover-after {args.failover_after:g}:")
            print(f"  median {statistics.median(times):.2f} s, max {max(times):.2f} s")
        finally:
            if collector is not None:
                collector.stop()
            for server in servers:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
