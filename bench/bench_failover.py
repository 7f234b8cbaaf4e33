"""Several calamari-servers on one PostgreSQL (docs/high-availability.md), on a throwaway
PostgreSQL server started here:

1. Failover time: two servers; --kills times, kill -9 the active one and time until the other
   accepts a write (a user created through it: 201), then restart the killed one as a standby.
   Median and maximum (issue 18's budget: 10 s).
2. Standby read lag at --rate events/s: this script takes the lease itself and appends OSD events
   at that rate (batches every 50 ms) while one calamari-server follows as a standby; for each batch,
   the time from its commit to the standby's model reflecting it (its position in the public health
   check, polled every 10 ms). Median, p99, maximum.
3. The cost of following: the standby's CPU time over that phase, as a share of one core, beside
   the same standby idle (following a store that does not grow).

    python bench/bench_failover.py [--kills 10] [--lease-time 5] [--rate 1000] [--seconds 20]

Prints figures; asserts nothing. The machine's other load shows in every figure."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script without PYTHONPATH
    sys.path.insert(0, str(HERE.parent))

from bench.measure import cpu_seconds, percentile  # noqa: E402
from calamari.adapters.event_store import EventStore  # noqa: E402
from calamari.adapters.postgres_lease import PostgresLease  # noqa: E402
from calamari.domain.model import ClusterModel  # noqa: E402
from calamari.domain.osd import Osd  # noqa: E402
from calamari.testing.captures import capture_steps, captured_at, sync_objects  # noqa: E402
from calamari.testing.high_availability import HaServer, add_admin, wait_for_active  # noqa: E402
from calamari.testing.live import ApiClient, ApiError  # noqa: E402
from calamari.testing.postgres_server import PostgresServer, find_bin_dir  # noqa: E402

# the captures the tests use (tests/conftest.py)
CAPTURES = HERE.parent.parent / "shared" / "fixtures" / "ceph-pacific-3osd"


def failover_times(pg: PostgresServer, work: Path, kills: int, lease_time: float) -> list[float]:
    url = pg.url(table="failover_events")
    add_admin(url, work / "ctl")
    servers = [HaServer(name, work / name, url, lease_time=lease_time).start() for name in ("a", "b")]
    times: list[float] = []
    try:
        active = wait_for_active(servers)
        token = active.client().token
        for kill in range(kills):
            standby = next(s for s in servers if s is not active)
            active.kill9()
            killed = time.monotonic()
            client = ApiClient(standby.url, timeout=2)
            client.token = token
            while True:
                try:
                    status, _ = client.call("POST", "/user", {"username": f"user-{kill}", "role": "read-only",
                                                              "password": "a-long-password-1"})
                    if status in (200, 201):
                        break
                except (ApiError, OSError):
                    pass
                time.sleep(0.02)
            times.append(time.monotonic() - killed)
            print(f"  kill {kill + 1}: {times[-1]:.2f} s", flush=True)
            active.start()  # comes back as a standby
            active = standby
    finally:
        for server in servers:
            server.stop()
    return times


def osd_model() -> tuple[ClusterModel, list]:
    """A model with a cluster from the first capture step, and its events."""
    model = ClusterModel()
    steps = capture_steps(str(_capture_dir()))
    fsid, objects = sync_objects(steps[0])
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, captured_at(steps[0]))
    return model, model.drain()


def _capture_dir() -> Path:
    if CAPTURES.is_dir() and capture_steps(str(CAPTURES)):
        return CAPTURES
    raise SystemExit(f"bench_failover: the captures for the OSD events are not at {CAPTURES}")


def lag_and_cost(pg: PostgresServer, work: Path, rate: int, seconds: float) -> None:
    url = pg.url(table="lag_events")
    store = EventStore(url)
    lease = PostgresLease(url, "bench-writer", "http://bench", 10.0)
    store.fence_with_lease(lease.holder)
    store.lease_epoch = lease.try_acquire()
    model, first = osd_model()
    store.append(first)
    standby = HaServer("standby", work / "standby", url).start()
    probe = ApiClient(standby.url, timeout=2)

    def position() -> int:
        try:
            return int(probe.call("GET", "/health/active")[1]["position"] or 0)
        except ApiError as err:
            return int(err.body["position"] or 0)

    renewing = threading.Event()

    def renew() -> None:
        while not renewing.wait(2.0):
            lease.renew()
            store.lease_epoch = lease.epoch

    threading.Thread(target=renew, daemon=True).start()
    try:
        while position() < store.max_position():
            time.sleep(0.05)
        pid = standby.process.pid if standby.process else 0
        idle_cpu, idle_start = cpu_seconds(pid), time.monotonic()
        time.sleep(min(10.0, seconds))
        idle_share = (cpu_seconds(pid) - idle_cpu) / (time.monotonic() - idle_start)

        osds = list(next(iter(model.osds.values())).values())
        batch = max(1, rate // 20)
        committed: list[tuple[int, float]] = []  # (last position of a batch, when it was committed)
        seen: dict[int, float] = {}
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                try:
                    at, now = position(), time.monotonic()
                except OSError:  # a slow answer under load: ask again
                    continue
                for last, _ in committed:
                    if last <= at and last not in seen:
                        seen[last] = now
                time.sleep(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        busy_cpu, started = cpu_seconds(pid), time.monotonic()
        at = captured_at(capture_steps(str(_capture_dir()))[0])
        tick, sent = started, 0
        while time.monotonic() - started < seconds:
            events = []
            for _ in range(batch):
                osd = osds[sent % len(osds)]
                at += timedelta(milliseconds=1)
                osd.emit(Osd.OsdMarkedDown if osd.up else Osd.OsdMarkedUp, at, epoch=1000 + sent)
                events.append(osd.pending_events.pop())
                sent += 1
            positions = store.append(events)
            committed.append((positions[-1], time.monotonic()))
            tick += 0.05
            time.sleep(max(0.0, tick - time.monotonic()))
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 30
        while len(seen) < len(committed) and time.monotonic() < deadline:
            time.sleep(0.05)
        busy_share = (cpu_seconds(pid) - busy_cpu) / (time.monotonic() - started)
        done.set()
        watcher.join(10)
        lags = [(seen[last] - when) * 1000 for last, when in committed if last in seen]
        print(f"standby read lag at {sent / elapsed:,.0f} events/s ({len(committed)} batches of {batch}, "
              f"{datetime.now(UTC):%H:%M} UTC): median {statistics.median(lags):.0f} ms, "
              f"p99 {percentile(lags, 0.99):.0f} ms, max {max(lags):.0f} ms, "
              f"{len(committed) - len(lags)} batches not seen in 30 s")
        print(f"standby CPU, % of one core: following {rate} events/s {busy_share * 100:.1f}, "
              f"idle {idle_share * 100:.1f}")
    finally:
        renewing.set()
        standby.stop()
        lease.release()
        lease.close()
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--lease-time", type=float, default=5.0)  # the server's default
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("bench_failover: PostgreSQL is not installed (initdb, pg_ctl, postgres); skipped")
        return 0
    pg = PostgresServer(bin_dir)
    pg.start()
    try:
        with tempfile.TemporaryDirectory(prefix="calamari-failover-") as work:
            times = failover_times(pg, Path(work) / "failover", args.kills, args.lease_time)
            print(f"failover (kill -9 -> the new active accepting a write), lease {args.lease_time:g} s, "
                  f"{len(times)} kills: median {statistics.median(times):.2f} s, max {max(times):.2f} s")
            lag_and_cost(pg, Path(work) / "lag", args.rate, args.seconds)
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
