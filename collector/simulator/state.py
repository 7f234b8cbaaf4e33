"""The state of a simulated cluster, and the changes to it that more than one part makes: a new
OSD map epoch, a new pool, an OSD going down or coming back up.

Map entries (one dict per OSD, per pool) are immutable once emitted: a change drops the cached
entry and the next map builds a new one, so consumers can diff maps by identity cheaply."""

from __future__ import annotations

import random
import uuid
from array import array
from collections.abc import Callable
from typing import Any

from collector.simulator.ceph import DEFAULT_FLAGS, STATE_CLEAN, STATE_CREATING, Reply, ceph_stamp
from collector.simulator.cluster_log import ClusterLog
from collector.simulator.crush import CrushTree
from collector.simulator.pgs import PgTable
from collector.simulator.pool import SimPool
from collector.simulator.spec import SimSpec


class ClusterState:
    def __init__(self, spec: SimSpec, clock: Callable[[], float]) -> None:
        self.spec = spec
        self.clock = clock
        self.rng = random.Random(spec.seed)
        self.fsid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.created_ts = clock() - 86400
        self.created = ceph_stamp(self.created_ts)
        self.tick_count = 0
        self.hosts = [f"node{i:04d}" for i in range(spec.hosts)]
        n = spec.osds
        self.osd_host = [i * spec.hosts // n for i in range(n)]
        self.host_osds: list[list[int]] = [[] for _ in self.hosts]
        for osd_id, host_index in enumerate(self.osd_host):
            self.host_osds[host_index].append(osd_id)
        # an OSD's place on its machine (port, device letter); kept when other OSDs come or go
        self.osd_slot = [osd_id - self.host_osds[self.osd_host[osd_id]][0] for osd_id in range(n)]
        self.osd_up = bytearray(b"\x01" * n)
        self.osd_in = bytearray(b"\x01" * n)
        self.osd_exists = bytearray(b"\x01" * n)
        self.osd_weight = [1.0] * n
        self.osd_up_from = [5] * n
        self.osd_down_at = [0] * n
        self.osd_down_until: dict[int, int] = {}  # auto-recovering flaps: osd -> tick it returns
        self.osd_uuid = [str(uuid.UUID(int=self.rng.getrandbits(128), version=4)) for _ in range(n)]
        self.osd_nonce = [1000 + self.rng.randrange(100000) for _ in range(n)]
        self.flags: set[str] = set(DEFAULT_FLAGS)
        self.epoch = 10
        self.last_up_change = self.created
        self.last_in_change = self.created
        self.modified = self.created
        self.pool_max = 0
        self.pools: dict[int, SimPool] = {}
        self.erasure_code_profiles: dict[str, dict[str, str]] = {
            "default": {"k": "2", "m": "2", "plugin": "jerasure", "technique": "reed_sol_van"},
            "ec21": {"k": "2", "m": "1", "plugin": "jerasure", "technique": "reed_sol_van",
                     "crush-failure-domain": "host", "crush-root": "default"},
        }
        self.pgs = PgTable(self.pools, self.host_osds, self.osd_up, self.rng, lambda: self.tick_count)
        # cached map entries and documents; None (or absent): to be built again
        self.osd_entries: list[dict[str, Any] | None] = [None] * n
        self.xinfo_entries: list[dict[str, Any] | None] = [None] * n
        self.pool_entries: dict[int, dict[str, Any]] = {}
        self.osd_map_doc: dict[str, Any] | None = None
        self.osd_metadata_doc: tuple[str, list[dict[str, Any]]] | None = None
        self.log = ClusterLog(clock)
        self.io_stamp = clock()
        self.crush = CrushTree(self.hosts, self.host_osds, n)
        self._create_initial_pools()

    def _create_initial_pools(self) -> None:
        count = self.spec.pools
        if count == 0:
            return
        base, extra = divmod(self.spec.pgs, count)
        for i in range(count):
            name = "rbd" if i == 0 else f"pool{i:04d}"
            erasure = i % 5 == 4  # every fifth pool is erasure coded (k=2, m=1)
            self.new_pool(name, base + (1 if i < extra else 0), erasure=erasure, initial=True)
        # pre-existing data so usage graphs do not start at zero
        for pool in self.pools.values():
            pool.stored_bytes = float(self.rng.randrange(1, 64) * 1024**3)
            pool.write_rate = float(self.rng.randrange(1, 50) * 1024**2)

    def new_pool(
        self, name: str, pg_num: int, *, erasure: bool = False, initial: bool = False,
        size: int | None = None,
    ) -> SimPool:
        """A pool of `pg_num` PGs: clean from the start (`initial`) or being created."""
        self.pool_max += 1
        replicas = size if size is not None else min(3, len(self.osd_up))
        pool = SimPool(
            pool_id=self.pool_max,
            name=name,
            pg_num=pg_num,
            size=3 if erasure else replicas,
            min_size=2 if erasure else max(1, replicas - 1),
            erasure=erasure,
            crush_rule=1 if erasure else 0,
            create_time=ceph_stamp(self.clock()),
            last_change=self.epoch,
            pg_indexes=array("I"),
            erasure_code_profile="ec21" if erasure else "",
        )
        self.pools[pool.pool_id] = pool
        self.pgs.add(pool, pg_num, STATE_CLEAN if initial else STATE_CREATING)
        return pool

    def pool_by_name(self, name: Any) -> SimPool | None:
        for pool in self.pools.values():
            if pool.name == name:
                return pool
        return None

    def mon_hosts(self) -> list[str]:
        return self.hosts[: max(1, min(self.spec.mons, len(self.hosts)))]

    def bump_epoch(self) -> None:
        """A new OSD map epoch."""
        self.epoch += 1
        self.modified = ceph_stamp(self.clock())
        self.osd_map_doc = None

    def crush_changed(self) -> None:
        """A new CRUSH map: the next crush_version, in a new OSD map epoch."""
        self.crush.version += 1
        self.bump_epoch()

    def forget_osd_entries(self, osd_id: int) -> None:
        """The OSD's entries in the OSD map (and its extended info) change."""
        self.osd_entries[osd_id] = None
        self.xinfo_entries[osd_id] = None

    def mark_down(self, osd_id: int, reason: str = "") -> None:
        if not self.osd_up[osd_id]:
            return
        self.osd_up[osd_id] = 0
        self.osd_down_at[osd_id] = self.epoch + 1
        self.last_up_change = ceph_stamp(self.clock())
        self.forget_osd_entries(osd_id)
        self.log.record(f"osd.{osd_id} marked down{': ' + reason if reason else ''}", "[WRN]")
        self.pgs.osd_went_down(osd_id)

    def mark_up(self, osd_id: int) -> None:
        if self.osd_up[osd_id]:
            return
        self.osd_up[osd_id] = 1
        self.osd_up_from[osd_id] = self.epoch + 1
        self.last_up_change = ceph_stamp(self.clock())
        self.forget_osd_entries(osd_id)
        self.log.record(f"osd.{osd_id} boot")
        self.pgs.osd_came_up(osd_id)


# A Ceph command of the simulator: (state, arguments) -> (rc, output, status text)
Handler = Callable[[ClusterState, dict[str, Any]], Reply]
