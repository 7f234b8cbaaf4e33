"""A deterministic synthetic Ceph 16.2 cluster, emitting the same JSON shapes as a real one.

Scale matters (10,000 OSDs, 1,000,000 PGs on a small machine), so per-PG state lives in flat
arrays (`array`, `bytearray`) and the counts by state / pool / OSD are kept up to date
incrementally when a PG changes state; nothing is computed per PG on a tick unless it changed.
Map entries (one dict per OSD, per pool) are immutable once emitted: a change builds a new entry,
so consumers can diff maps by identity cheaply.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calamari.domain.crush_text import WEIGHT_SCALE, CrushText, CrushTextError, parse_crush_text
from collector.logs import HostLogs
from collector.sim_logs import simulated_host_logs

SIM_DOMAIN = "ceph.example"  # the simulated hosts' fqdns are <host>.ceph.example
LOG_HISTORY_ENTRIES = 2000
DEVICE_CRUSH_WEIGHT = 4.0  # every simulated device is a 4 TiB disk
CEPH_VERSION = "ceph version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific (stable)"
CEPH_VERSION_SHORT = "16.2.15"
OSD_FEATURES = 4540138314316775423
OSD_BYTES = 4 * 1024**4  # every simulated OSD is a 4 TiB disk
OBJECT_BYTES = 4 * 1024**2
NO_OSD = -1

# CEPH_OSDMAP_* flag bits, as `flags_num` reports them
OSDMAP_FLAG_BITS = {
    "pauserd": 1 << 2,
    "pausewr": 1 << 3,
    "pauserec": 1 << 4,
    "noup": 1 << 5,
    "nodown": 1 << 6,
    "noout": 1 << 7,
    "noin": 1 << 8,
    "nobackfill": 1 << 9,
    "norecover": 1 << 10,
    "noscrub": 1 << 11,
    "nodeep-scrub": 1 << 12,
    "notieragent": 1 << 13,
    "norebalance": 1 << 14,
    "sortbitwise": 1 << 15,
    "recovery_deletes": 1 << 19,
    "purged_snapdirs": 1 << 20,
    "nosnaptrim": 1 << 21,
    "pglog_hardlimit": 1 << 22,
}
SETTABLE_FLAGS = frozenset(
    {"pause", "noup", "nodown", "noout", "noin", "nobackfill", "norecover", "noscrub",
     "nodeep-scrub", "notieragent", "norebalance", "nosnaptrim"}
)
DEFAULT_FLAGS = ("sortbitwise", "recovery_deletes", "purged_snapdirs", "pglog_hardlimit")

EINVAL, ENOENT, EPERM, EEXIST, EBUSY, ENOTDIR, ENOTEMPTY, EACCES = 22, 2, 1, 17, 16, 20, 39, 13

STATE_CLEAN = "active+clean"
STATE_UNDERSIZED = "active+undersized+degraded"
STATE_PEERED = "undersized+degraded+peered"
STATE_STALE = "stale+active+clean"
STATE_RECOVERING = "active+recovering+degraded"
STATE_BACKFILL = "active+remapped+backfill_wait"
STATE_SCRUBBING = "active+clean+scrubbing"
STATE_DEEP_SCRUBBING = "active+clean+scrubbing+deep"
STATE_REPAIR = "active+clean+scrubbing+deep+repair"
STATE_CREATING = "creating+peering"
STATE_DELETED = "(deleted)"  # tombstone of a PG whose pool is gone; never counted


@dataclass(frozen=True)
class SimSpec:
    hosts: int = 3
    osds: int = 9
    pools: int = 2
    pgs: int = 128
    seed: int = 1
    churn: float = 0.0
    mons: int = 3

    @classmethod
    def parse(cls, spec: str) -> SimSpec:
        """`hosts=50,osds=1000,pools=20,pgs=65536,seed=7,churn=0.01`."""
        values: dict[str, Any] = {}
        types = {"hosts": int, "osds": int, "pools": int, "pgs": int, "seed": int, "churn": float,
                 "mons": int}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, raw = part.partition("=")
            key = key.strip()
            if not sep or key not in types:
                raise ValueError(f"bad simulation spec item {part!r} (known: {', '.join(types)})")
            try:
                values[key] = types[key](raw.strip())
            except ValueError:
                raise ValueError(f"bad value for {key}: {raw!r}") from None
        result = cls(**values)
        if result.hosts < 1 or result.osds < 1 or result.pools < 0 or result.pgs < 0:
            raise ValueError("hosts and osds must be >= 1, pools and pgs >= 0")
        if result.osds < result.hosts:
            raise ValueError("need at least one OSD per host")
        if not 0.0 <= result.churn <= 1.0:
            raise ValueError("churn must be within 0..1")
        return result


def ceph_stamp(ts: float) -> str:
    """Ceph's time format: 2026-11-24T15:44:20.160379+0000."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def content_hash(data: Any) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class SimPool:
    pool_id: int
    name: str
    pg_num: int
    size: int
    min_size: int
    erasure: bool
    crush_rule: int
    create_time: str
    last_change: int
    pg_indexes: array  # global PG indexes, position = placement seed (ps)
    erasure_code_profile: str = ""
    quota_max_bytes: int = 0
    quota_max_objects: int = 0
    pg_autoscale_mode: str = "on"
    hashpspool: bool = True
    application: str = "rbd"
    stored_bytes: float = 0.0
    write_rate: float = 0.0
    num_read: int = 0
    num_write: int = 0
    num_read_kb: int = 0
    num_write_kb: int = 0
    read_bytes_sec: int = 0
    write_bytes_sec: int = 0
    read_op_per_sec: int = 0
    write_op_per_sec: int = 0


class SimulatedCluster:
    """A cluster source for `collector.agent.Collector`; one call to `poll()` is one tick."""

    max_acting = 3

    def __init__(self, spec: SimSpec | str, clock: Callable[[], float] = time.time) -> None:
        self.spec = SimSpec.parse(spec) if isinstance(spec, str) else spec
        self._clock = clock
        self._lock = threading.RLock()
        self._rng = random.Random(self.spec.seed)
        self.fsid = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._created_ts = clock() - 86400
        self.created = ceph_stamp(self._created_ts)
        self.tick_count = 0
        self.hosts = [f"node{i:04d}" for i in range(self.spec.hosts)]
        self.hostname = self.hosts[0]
        n = self.spec.osds
        self.osd_host = [i * self.spec.hosts // n for i in range(n)]
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
        self.osd_uuid = [str(uuid.UUID(int=self._rng.getrandbits(128), version=4)) for _ in range(n)]
        self.osd_nonce = [1000 + self._rng.randrange(100000) for _ in range(n)]
        self.flags: set[str] = set(DEFAULT_FLAGS)
        self.epoch = 10
        self.crush_version = 7
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
        # --- PG state: flat arrays indexed by global PG index --------------------------------
        self.state_names: list[str] = []
        self._state_code: dict[str, int] = {}
        self.pg_pool = array("i")
        self.pg_state = bytearray()
        self.pg_down = bytearray()  # number of acting OSDs that are down
        self.pg_acting = array("i")  # max_acting slots per PG, NO_OSD padded
        self.osd_pgs: list[array] = [array("I") for _ in range(n)]
        self.by_state: list[int] = []
        self.by_pool: dict[int, list[int]] = {}
        self.by_osd: list[dict[int, int]] = [{} for _ in range(n)]
        self._dirty_osds: set[int] = set(range(n))
        self._dirty_pools: set[int] = set()
        self._transient: dict[int, int] = {}  # pg index -> tick its transient state ends
        self._by_osd_view: dict[str, dict[str, int]] = {}
        self._by_pool_view: dict[str, dict[str, int]] = {}
        self.pg_version = 100
        self.num_pgs = 0
        for code_name in (STATE_CLEAN, STATE_DELETED):
            self._code(code_name)
        # --- cached outputs -----------------------------------------------------------------
        self._osd_entries: list[dict[str, Any] | None] = [None] * n
        self._xinfo_entries: list[dict[str, Any] | None] = [None] * n
        self._pool_entries: dict[int, dict[str, Any]] = {}
        self._osd_map: dict[str, Any] | None = None
        self._crush_map: dict[str, Any] | None = None
        self._last_set_crush_map: tuple[int, str] | None = None  # (the version it made, its text)
        self._osd_metadata: tuple[str, list[dict[str, Any]]] | None = None
        self._log_seq = 0
        self._pending_log: list[dict[str, Any]] = []
        # the cluster log as the hosts' log files show it (bounded like a rotated file)
        self._log_history: deque[dict[str, Any]] = deque(maxlen=LOG_HISTORY_ENTRIES)
        self._last_sent_versions: dict[str, Any] = {}
        self._io_stamp = clock()
        self._init_crush()
        self._create_initial_pools()

    # ---------------------------------------------------------------- PG state bookkeeping --
    def _code(self, state: str) -> int:
        code = self._state_code.get(state)
        if code is None:
            code = self._state_code[state] = len(self.state_names)
            self.state_names.append(state)
            self.by_state.append(0)
            for counts in self.by_pool.values():
                counts.append(0)
        return code

    def _add_pgs(self, pool: SimPool, count: int, state: str) -> None:
        code = self._code(state)
        size = pool.size
        n_hosts = len(self.hosts)
        pool_counts = self.by_pool.setdefault(pool.pool_id, [0] * len(self.state_names))
        rng = self._rng
        for _ in range(count):
            index = len(self.pg_state)
            ps = len(pool.pg_indexes)
            pool.pg_indexes.append(index)
            self.pg_pool.append(pool.pool_id)
            # CRUSH-like placement: `size` distinct hosts (when there are enough), one OSD each
            first_host = rng.randrange(n_hosts)
            step = 1 + (ps % max(1, n_hosts - 1)) if n_hosts > 1 else 0
            chosen: list[int] = []
            for replica in range(self.max_acting):
                if replica >= size:
                    chosen.append(NO_OSD)
                    continue
                host_osds = self.host_osds[(first_host + replica * step) % n_hosts]
                # a machine whose OSDs were all moved away (CRUSH moves): any OSD stands in
                osd_id = host_osds[rng.randrange(len(host_osds))] if host_osds else rng.randrange(len(self.osd_up))
                if osd_id in chosen:  # fewer hosts than replicas: pick any other OSD
                    osd_id = (osd_id + 1 + replica) % len(self.osd_up)
                chosen.append(osd_id)
            down = 0
            for osd_id in chosen:
                if osd_id != NO_OSD:
                    self.osd_pgs[osd_id].append(index)
                    if not self.osd_up[osd_id]:
                        down += 1
            self.pg_acting.extend(chosen)
            self.pg_down.append(down)
            self.pg_state.append(code)
            self.by_state[code] += 1
            pool_counts[code] += 1
            for osd_id in chosen:
                if osd_id != NO_OSD:
                    counts = self.by_osd[osd_id]
                    counts[code] = counts.get(code, 0) + 1
                    self._dirty_osds.add(osd_id)
            if state == STATE_CREATING:
                self._transient[index] = self.tick_count + 2
        self.num_pgs += count
        self._dirty_pools.add(pool.pool_id)

    def _move_osd_counts(self, index: int, old: int, new: int | None) -> None:
        """A PG left state `old` (for `new`, or for good): the per-OSD counts of its acting set."""
        base = index * self.max_acting
        for osd_id in self.pg_acting[base : base + self.max_acting]:
            if osd_id == NO_OSD:
                continue
            counts = self.by_osd[osd_id]
            remaining = counts[old] - 1
            if remaining:
                counts[old] = remaining
            else:
                del counts[old]
            if new is not None:
                counts[new] = counts.get(new, 0) + 1
            self._dirty_osds.add(osd_id)

    def _set_pg_state(self, index: int, code: int) -> None:
        old = self.pg_state[index]
        if old == code or old == self._state_code[STATE_DELETED]:
            return
        self.pg_state[index] = code
        self.by_state[old] -= 1
        self.by_state[code] += 1
        pool_id = self.pg_pool[index]
        pool_counts = self.by_pool[pool_id]
        pool_counts[old] -= 1
        pool_counts[code] += 1
        self._dirty_pools.add(pool_id)
        self._move_osd_counts(index, old, code)

    def _base_state(self, index: int) -> str:
        pool = self.pools.get(self.pg_pool[index])
        if pool is None:
            return STATE_DELETED
        down = self.pg_down[index]
        if down == 0:
            return STATE_CLEAN
        if down >= pool.size:
            return STATE_STALE
        if pool.size - down >= pool.min_size:
            return STATE_UNDERSIZED
        return STATE_PEERED

    def _refresh_pg(self, index: int, transient: str | None = None, ticks: int = 2) -> None:
        if transient is not None and self.pg_down[index] == 0:
            self._transient[index] = self.tick_count + ticks
            self._set_pg_state(index, self._code(transient))
        else:
            self._transient.pop(index, None)
            self._set_pg_state(index, self._code(self._base_state(index)))

    # ---------------------------------------------------------------------- construction --
    def _create_initial_pools(self) -> None:
        count = self.spec.pools
        if count == 0:
            return
        base, extra = divmod(self.spec.pgs, count)
        for i in range(count):
            name = "rbd" if i == 0 else f"pool{i:04d}"
            erasure = i % 5 == 4  # every fifth pool is erasure coded (k=2, m=1)
            self._new_pool(name, base + (1 if i < extra else 0), erasure=erasure, initial=True)
        # pre-existing data so usage graphs do not start at zero
        for pool in self.pools.values():
            pool.stored_bytes = float(self._rng.randrange(1, 64) * 1024**3)
            pool.write_rate = float(self._rng.randrange(1, 50) * 1024**2)

    def _new_pool(
        self, name: str, pg_num: int, *, erasure: bool = False, initial: bool = False,
        size: int | None = None,
    ) -> SimPool:
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
            create_time=ceph_stamp(self._clock()),
            last_change=self.epoch,
            pg_indexes=array("I"),
            erasure_code_profile="ec21" if erasure else "",
        )
        self.pools[pool.pool_id] = pool
        self._add_pgs(pool, pg_num, STATE_CLEAN if initial else STATE_CREATING)
        return pool

    # ------------------------------------------------------------------------------- ticks --
    def tick(self) -> None:
        """Advance the simulation by one step (OSD flaps, PG churn, IO and usage growth)."""
        with self._lock:
            self.tick_count += 1
            now = self._clock()
            changed_osds = False
            # OSDs that flapped earlier come back (unless the operator set noup)
            if "noup" not in self.flags:
                for osd_id, until in list(self.osd_down_until.items()):
                    if until <= self.tick_count:
                        del self.osd_down_until[osd_id]
                        self._mark_up(osd_id)
                        changed_osds = True
            churn = self.spec.churn
            if churn > 0 and "nodown" not in self.flags:
                expected = churn * len(self.osd_up)
                flaps = int(expected) + (1 if self._rng.random() < expected - int(expected) else 0)
                for _ in range(flaps):
                    osd_id = self._rng.randrange(len(self.osd_up))
                    if self.osd_up[osd_id] and self.osd_exists[osd_id]:
                        self._mark_down(osd_id, f"osd.{osd_id} reported failed by osd peers")
                        self.osd_down_until[osd_id] = self.tick_count + 2 + self._rng.randrange(3)
                        changed_osds = True
                # background scrubs, proportional to churn
                if "noscrub" not in self.flags and self.num_pgs:
                    for _ in range(max(1, int(self.num_pgs * churn * 0.01))):
                        index = self._rng.randrange(len(self.pg_state))
                        if self.pg_state[index] == self._state_code[STATE_CLEAN]:
                            self._refresh_pg(index, STATE_SCRUBBING, 1 + self._rng.randrange(3))
            for index, until in list(self._transient.items()):
                if until <= self.tick_count:
                    del self._transient[index]
                    self._set_pg_state(index, self._code(self._base_state(index)))
            if changed_osds:
                self._bump_epoch()
            self._grow_usage(now)
            self.pg_version += 1

    def _grow_usage(self, now: float) -> None:
        elapsed = max(0.0, now - self._io_stamp)
        self._io_stamp = now
        rng = self._rng
        for pool in self.pools.values():
            # rates wobble around the pool's base write rate; reads are a fraction of writes
            write_bps = int(pool.write_rate * (0.5 + rng.random()))
            read_bps = int(write_bps * rng.random() * 0.5)
            pool.write_bytes_sec = write_bps
            pool.read_bytes_sec = read_bps
            pool.write_op_per_sec = write_bps // (64 * 1024)
            pool.read_op_per_sec = read_bps // (64 * 1024)
            pool.stored_bytes += write_bps * elapsed * 0.1  # most writes overwrite
            pool.num_write += int(pool.write_op_per_sec * elapsed)
            pool.num_read += int(pool.read_op_per_sec * elapsed)
            pool.num_write_kb += int(write_bps * elapsed / 1024)
            pool.num_read_kb += int(read_bps * elapsed / 1024)

    def _bump_epoch(self) -> None:
        self.epoch += 1
        self.modified = ceph_stamp(self._clock())
        self._osd_map = None

    def _log(self, message: str, priority: str = "[INF]", who: str = "mon.a") -> None:
        self._log_seq += 1
        self._pending_log.append({
            "name": who,
            "rank": who,
            "addrs": {"addrvec": [{"type": "v2", "addr": "10.0.0.1:3300", "nonce": 0}]},
            "stamp": ceph_stamp(self._clock()),
            "seq": self._log_seq,
            "channel": "cluster",
            "priority": priority,
            "message": message,
        })
        self._log_history.append(self._pending_log[-1])

    def _mark_down(self, osd_id: int, reason: str = "") -> None:
        if not self.osd_up[osd_id]:
            return
        self.osd_up[osd_id] = 0
        self.osd_down_at[osd_id] = self.epoch + 1
        self.last_up_change = ceph_stamp(self._clock())
        self._osd_entries[osd_id] = None
        self._xinfo_entries[osd_id] = None
        self._log(f"osd.{osd_id} marked down{': ' + reason if reason else ''}", "[WRN]")
        for index in self.osd_pgs[osd_id]:
            self.pg_down[index] += 1
            self._refresh_pg(index)

    def _mark_up(self, osd_id: int) -> None:
        if self.osd_up[osd_id]:
            return
        self.osd_up[osd_id] = 1
        self.osd_up_from[osd_id] = self.epoch + 1
        self.last_up_change = ceph_stamp(self._clock())
        self._osd_entries[osd_id] = None
        self._xinfo_entries[osd_id] = None
        self._log(f"osd.{osd_id} boot")
        for index in self.osd_pgs[osd_id]:
            if self.pg_down[index]:
                self.pg_down[index] -= 1
            self._refresh_pg(index, STATE_RECOVERING, 2 + self._rng.randrange(3))

    # ---------------------------------------------------------------------- map builders --
    def _osd_entry(self, osd_id: int) -> dict[str, Any]:
        entry = self._osd_entries[osd_id]
        if entry is not None:
            return entry
        host_index = self.osd_host[osd_id]
        ip = f"10.{host_index // 250}.{host_index % 250}.{10}"
        nonce = self.osd_nonce[osd_id]
        port = 6800 + 8 * self.osd_slot[osd_id]

        def addrs(offset: int) -> dict[str, Any]:
            return {"addrvec": [
                {"type": "v2", "addr": f"{ip}:{port + offset}", "nonce": nonce},
                {"type": "v1", "addr": f"{ip}:{port + offset + 1}", "nonce": nonce},
            ]}

        up, in_ = self.osd_up[osd_id], self.osd_in[osd_id]
        state = ["exists", "up"] if up else ["exists"]
        entry = {
            "osd": osd_id,
            "uuid": self.osd_uuid[osd_id],
            "up": int(up),
            "in": int(in_),
            # Ceph's JSON writer prints integral floats without a fraction ("weight": 1)
            "weight": _json_number(self.osd_weight[osd_id]) if in_ else 0,
            "primary_affinity": 1,
            "last_clean_begin": 0,
            "last_clean_end": 0,
            "up_from": self.osd_up_from[osd_id],
            "up_thru": max(self.osd_up_from[osd_id], self.epoch - 1) if up else self.osd_down_at[osd_id] - 1,
            "down_at": self.osd_down_at[osd_id],
            "lost_at": 0,
            "public_addrs": addrs(0),
            "cluster_addrs": addrs(2),
            "heartbeat_back_addrs": addrs(6),
            "heartbeat_front_addrs": addrs(4),
            "public_addr": f"{ip}:{port + 1}/{nonce}",
            "cluster_addr": f"{ip}:{port + 3}/{nonce}",
            "heartbeat_back_addr": f"{ip}:{port + 7}/{nonce}",
            "heartbeat_front_addr": f"{ip}:{port + 5}/{nonce}",
            "state": state,
        }
        self._osd_entries[osd_id] = entry
        return entry

    def _xinfo_entry(self, osd_id: int) -> dict[str, Any]:
        entry = self._xinfo_entries[osd_id]
        if entry is None:
            entry = self._xinfo_entries[osd_id] = {
                "osd": osd_id,
                "down_stamp": "0.000000" if self.osd_up[osd_id] else f"{self._clock():.6f}",
                "laggy_probability": 0,
                "laggy_interval": 0,
                "features": OSD_FEATURES,
                "old_weight": 0,
                "last_purged_snaps_scrub": self.created,
                "dead_epoch": 0 if self.osd_up[osd_id] else self.osd_down_at[osd_id],
            }
        return entry

    def _pool_entry(self, pool: SimPool) -> dict[str, Any]:
        entry = self._pool_entries.get(pool.pool_id)
        if entry is not None:
            return entry
        entry = {
            "pool": pool.pool_id,
            "pool_name": pool.name,
            "create_time": pool.create_time,
            "flags": 1 if pool.hashpspool else 0,
            "flags_names": "hashpspool" if pool.hashpspool else "",
            "type": 3 if pool.erasure else 1,
            "size": pool.size,
            "min_size": pool.min_size,
            "crush_rule": pool.crush_rule,
            "peering_crush_bucket_count": 0,
            "peering_crush_bucket_target": 0,
            "peering_crush_bucket_barrier": 0,
            "peering_crush_bucket_mandatory_member": 2147483647,
            "object_hash": 2,
            "pg_autoscale_mode": pool.pg_autoscale_mode,
            "pg_num": pool.pg_num,
            "pg_placement_num": pool.pg_num,
            "pg_placement_num_target": pool.pg_num,
            "pg_num_target": pool.pg_num,
            "pg_num_pending": pool.pg_num,
            "last_pg_merge_meta": {
                "source_pgid": "0.0", "ready_epoch": 0, "last_epoch_started": 0,
                "last_epoch_clean": 0, "source_version": "0'0", "target_version": "0'0",
            },
            "last_change": str(pool.last_change),
            "last_force_op_resend": "0",
            "last_force_op_resend_prenautilus": "0",
            "last_force_op_resend_preluminous": "0",
            "auid": 0,
            "snap_mode": "selfmanaged",
            "snap_seq": 0,
            "snap_epoch": 0,
            "pool_snaps": [],
            "removed_snaps": "[]",
            "quota_max_bytes": pool.quota_max_bytes,
            "quota_max_objects": pool.quota_max_objects,
            "tiers": [],
            "tier_of": -1,
            "read_tier": -1,
            "write_tier": -1,
            "cache_mode": "none",
            "target_max_bytes": 0,
            "target_max_objects": 0,
            "cache_target_dirty_ratio_micro": 400000,
            "cache_target_dirty_high_ratio_micro": 600000,
            "cache_target_full_ratio_micro": 800000,
            "cache_min_flush_age": 0,
            "cache_min_evict_age": 0,
            "erasure_code_profile": pool.erasure_code_profile,
            "hit_set_params": {"type": "none"},
            "hit_set_period": 0,
            "hit_set_count": 0,
            "use_gmt_hitset": True,
            "min_read_recency_for_promote": 0,
            "min_write_recency_for_promote": 0,
            "hit_set_grade_decay_rate": 0,
            "hit_set_search_last_n": 0,
            "grade_table": [],
            "stripe_width": 8192 if pool.erasure else 0,
            "expected_num_objects": 0,
            "fast_read": False,
            "options": {},
            "application_metadata": {pool.application: {}} if pool.application else {},
        }
        self._pool_entries[pool.pool_id] = entry
        return entry

    def _flags_string(self) -> tuple[str, int, list[str]]:
        ordered = sorted(self.flags, key=lambda flag: OSDMAP_FLAG_BITS.get(flag, 1 << 30))
        flags_num = sum(OSDMAP_FLAG_BITS.get(flag, 0) for flag in self.flags)
        return ",".join(ordered), flags_num, sorted(self.flags)

    def osd_map(self) -> dict[str, Any]:
        with self._lock:
            if self._osd_map is not None:
                return self._osd_map
            flags, flags_num, flags_set = self._flags_string()
            n = len(self.osd_up)
            self._osd_map = {
                "epoch": self.epoch,
                "fsid": self.fsid,
                "created": self.created,
                "modified": self.modified,
                "last_up_change": self.last_up_change,
                "last_in_change": self.last_in_change,
                "flags": flags,
                "flags_num": flags_num,
                "flags_set": flags_set,
                "crush_version": self.crush_version,
                "full_ratio": 0.949999988079071,
                "backfillfull_ratio": 0.8999999761581421,
                "nearfull_ratio": 0.8500000238418579,
                "cluster_snapshot": "",
                "pool_max": self.pool_max,
                "max_osd": n,
                "require_min_compat_client": "luminous",
                "min_compat_client": "jewel",
                "require_osd_release": "pacific",
                "pools": [self._pool_entry(pool) for pool in self.pools.values()],
                "osds": [self._osd_entry(i) for i in range(n) if self.osd_exists[i]],
                "osd_xinfo": [self._xinfo_entry(i) for i in range(n) if self.osd_exists[i]],
                "pg_upmap": [],
                "pg_upmap_items": [],
                "pg_temp": [],
                "primary_temp": [],
                "blocklist": {},
                "range_blocklist": {},
                "erasure_code_profiles": self.erasure_code_profiles,
                "removed_snaps_queue": [],
                "new_removed_snaps": [],
                "new_purged_snaps": [],
                "crush_node_flags": {},
                "device_class_flags": {},
                "stretch_mode": {
                    "stretch_mode_enabled": False, "stretch_bucket_count": 0,
                    "degraded_stretch_mode": 0, "recovering_stretch_mode": 0, "stretch_mode_bucket": 0,
                },
            }
            return self._osd_map

    def _mon_hosts(self) -> list[str]:
        return self.hosts[: max(1, min(self.spec.mons, len(self.hosts)))]

    def _mons(self) -> list[dict[str, Any]]:
        mons = []
        for rank, host in enumerate(self._mon_hosts()):
            ip = f"10.{self.hosts.index(host) // 250}.{self.hosts.index(host) % 250}.10"
            mons.append({
                "rank": rank,
                "name": host,
                "public_addrs": {"addrvec": [
                    {"type": "v2", "addr": f"{ip}:3300", "nonce": 0},
                    {"type": "v1", "addr": f"{ip}:6789", "nonce": 0},
                ]},
                "addr": f"{ip}:6789/0",
                "public_addr": f"{ip}:6789/0",
                "priority": 0,
                "weight": 0,
                "crush_location": "{}",
            })
        return mons

    def _monmap_base(self) -> dict[str, Any]:
        return {
            "epoch": 1,
            "fsid": self.fsid,
            "modified": self.created.replace("+0000", "Z"),
            "created": self.created.replace("+0000", "Z"),
            "min_mon_release": 16,
            "min_mon_release_name": "pacific",
            "election_strategy": 1,
            "disallowed_leaders: ": "",
            "stretch_mode": False,
            "tiebreaker_mon": "",
            "removed_ranks: ": "",
            "features": {
                "persistent": ["kraken", "luminous", "mimic", "osdmap-prune", "nautilus", "octopus",
                               "pacific", "elector-pinging"],
                "optional": [],
            },
            "mons": self._mons(),
        }

    def mon_map(self) -> dict[str, Any]:
        monmap = self._monmap_base()
        monmap["quorum"] = list(range(len(monmap["mons"])))
        return monmap

    def mon_status(self) -> dict[str, Any]:
        mons = self._mon_hosts()
        return {
            "election_epoch": 2 + len(mons),
            "quorum": list(range(len(mons))),
            "quorum_names": list(mons),
            "quorum_leader_name": mons[0],
            "quorum_age": int(self._clock() - self._created_ts),
            "features": {
                "quorum_con": "4540138314316775423",
                "quorum_mon": ["kraken", "luminous", "mimic", "osdmap-prune", "nautilus", "octopus",
                               "pacific", "elector-pinging"],
            },
            "monmap": self._monmap_base(),
        }

    def fs_map(self) -> dict[str, Any]:
        return {
            "epoch": 1,
            "default_fscid": -1,
            "compat": {"compat": {}, "ro_compat": {}, "incompat": {
                "feature_1": "base v0.20", "feature_2": "client writeable ranges",
                "feature_3": "default file layouts on dirs", "feature_4": "dir inode in separate object",
                "feature_5": "mds uses versioned encoding", "feature_6": "dirfrag is stored in omap",
                "feature_8": "no anchor table", "feature_9": "file layout v2", "feature_10": "snaprealm v2",
            }},
            "feature_flags": {"enable_multiple": True, "ever_enabled_multiple": True},
            "standbys": [],
            "filesystems": [],
        }

    def _init_crush(self) -> None:
        """CRUSH state the commands change: every bucket (id -> name, type, parent), the OSDs each
        bucket holds (in the order they came) with their CRUSH weights, the rules."""
        self.crush_types = ["osd", "host", "chassis", "rack", "row", "pdu", "pod", "room", "datacenter", "zone",
                            "region", "root"]
        # id -> {"name", "type_id", "parent"}; each bucket has a shadow "~hdd" copy at id - 1
        self.crush_buckets: dict[int, dict[str, Any]] = {-1: {"name": "default", "type_id": 11, "parent": None}}
        for host_index, host in enumerate(self.hosts):
            self.crush_buckets[-3 - 2 * host_index] = {"name": host, "type_id": 1, "parent": -1,
                                                       "host_index": host_index}
        self._next_bucket_id = -3 - 2 * len(self.hosts)
        # bucket id -> its OSDs; an OSD unlinked from every bucket is in none (and gets no data)
        self.bucket_osds: dict[int, list[int]] = {-3 - 2 * host_index: list(osds)
                                                  for host_index, osds in enumerate(self.host_osds)}
        # a device's CRUSH weight is its size (TiB), whatever its reweight
        self.osd_crush_weight = [DEVICE_CRUSH_WEIGHT] * len(self.osd_up)
        self.crush_rules: list[dict[str, Any]] = [
            {"rule_id": 0, "rule_name": "replicated_rule", "ruleset": 0, "type": 1, "min_size": 1,
             "max_size": 10, "steps": [
                 {"op": "take", "item": -1, "item_name": "default"},
                 {"op": "chooseleaf_firstn", "num": 0, "type": "host"},
                 {"op": "emit"}]},
            {"rule_id": 1, "rule_name": "ec21", "ruleset": 1, "type": 3, "min_size": 3,
             "max_size": 3, "steps": [
                 {"op": "set_chooseleaf_tries", "num": 5},
                 {"op": "set_choose_tries", "num": 100},
                 {"op": "take", "item": -1, "item_name": "default"},
                 {"op": "chooseleaf_indep", "num": 0, "type": "host"},
                 {"op": "emit"}]},
        ]

    def crush_map(self) -> dict[str, Any]:
        with self._lock:
            if self._crush_map is not None and self._crush_map["_version"] == self.crush_version:
                return self._crush_map["map"]
            children: dict[int, list[int]] = {}
            for bucket_id, node in self.crush_buckets.items():  # creation order: item positions
                if node["parent"] is not None:
                    children.setdefault(node["parent"], []).append(bucket_id)
            built: dict[int, dict[str, Any]] = {}

            def build(bucket_id: int) -> dict[str, Any]:
                node = self.crush_buckets[bucket_id]
                items = [{"id": osd_id, "weight": int(self.osd_crush_weight[osd_id] * 0x10000)}
                         for osd_id in self.bucket_osds.get(bucket_id, [])]
                for child in children.get(bucket_id, []):
                    items.append({"id": child, "weight": build(child)["weight"]})
                items = [{**item, "pos": pos} for pos, item in enumerate(items)]
                type_id = node["type_id"]
                built[bucket_id] = {"id": bucket_id, "name": node["name"], "type_id": type_id,
                                    "type_name": self.crush_types[type_id],
                                    "weight": sum(item["weight"] for item in items), "alg": "straw2",
                                    "hash": "rjenkins1", "items": items}
                return built[bucket_id]

            for bucket_id, node in self.crush_buckets.items():
                if node["parent"] is None:
                    build(bucket_id)
            buckets = []
            for bucket_id in sorted(built, reverse=True):
                bucket = built[bucket_id]
                buckets.append(bucket)
                buckets.append({**bucket, "id": bucket_id - 1, "name": f"{bucket['name']}~hdd",
                                "items": [{**i, "id": i["id"] - 1 if i["id"] < 0 else i["id"]}
                                          for i in bucket["items"]]})
            buckets.sort(key=lambda b: -b["id"])
            crush = {
                "devices": [{"id": i, "name": f"osd.{i}", "class": "hdd"} for i in range(len(self.osd_up))],
                "types": [{"type_id": i, "name": name} for i, name in enumerate(self.crush_types)],
                "buckets": buckets,
                "rules": [dict(rule) for rule in sorted(self.crush_rules, key=lambda r: r["rule_id"])],
                "tunables": {
                    "choose_local_tries": 0, "choose_local_fallback_tries": 0, "choose_total_tries": 50,
                    "chooseleaf_descend_once": 1, "chooseleaf_vary_r": 1, "chooseleaf_stable": 1,
                    "straw_calc_version": 1, "allowed_bucket_algs": 54, "profile": "jewel",
                    "optimal_tunables": 1, "legacy_tunables": 0, "minimum_required_version": "jewel",
                    "require_feature_tunables": 1, "require_feature_tunables2": 1,
                    "has_v2_rules": 0, "require_feature_tunables3": 1, "has_v3_rules": 0,
                    "has_v4_buckets": 1, "require_feature_tunables5": 1, "has_v5_rules": 0,
                },
                "choose_args": {},
            }
            self._crush_map = {"_version": self.crush_version, "map": crush}
            return crush

    def health(self) -> dict[str, Any]:
        with self._lock:
            checks: dict[str, Any] = {}
            settable = sorted(self.flags & SETTABLE_FLAGS)
            if settable:
                checks["OSDMAP_FLAGS"] = {
                    "severity": "HEALTH_WARN",
                    "summary": {"message": f"{','.join(settable)} flag(s) set", "count": len(settable)},
                    "detail": [], "muted": False,
                }
            down = [i for i in range(len(self.osd_up)) if self.osd_exists[i] and not self.osd_up[i]]
            if down:
                checks["OSD_DOWN"] = {
                    "severity": "HEALTH_WARN",
                    "summary": {"message": f"{len(down)} osds down", "count": len(down)},
                    "detail": [{"message": f"osd.{i} (root=default,host={self.hosts[self.osd_host[i]]}) is down"}
                               for i in down],
                    "muted": False,
                }
            degraded = sum(
                count for code, count in enumerate(self.by_state)
                if "degraded" in self.state_names[code] or "stale" in self.state_names[code]
            )
            if degraded:
                checks["PG_DEGRADED"] = {
                    "severity": "HEALTH_WARN",
                    "summary": {"message": f"Degraded data redundancy: {degraded} pgs degraded",
                                "count": degraded},
                    "detail": [], "muted": False,
                }
            for pool in self.pools.values():
                if pool.quota_max_bytes and pool.stored_bytes >= pool.quota_max_bytes:
                    checks.setdefault("POOL_FULL", {
                        "severity": "HEALTH_WARN",
                        "summary": {"message": "pool(s) full", "count": 0},
                        "detail": [], "muted": False,
                    })
                    checks["POOL_FULL"]["summary"]["count"] += 1
                    checks["POOL_FULL"]["detail"].append({"message": f"pool '{pool.name}' is full (running out of quota)"})
            return {"status": "HEALTH_WARN" if checks else "HEALTH_OK", "checks": checks, "mutes": []}

    def io(self) -> dict[str, int]:
        return {
            "read_bytes_sec": sum(p.read_bytes_sec for p in self.pools.values()),
            "write_bytes_sec": sum(p.write_bytes_sec for p in self.pools.values()),
            "read_op_per_sec": sum(p.read_op_per_sec for p in self.pools.values()),
            "write_op_per_sec": sum(p.write_op_per_sec for p in self.pools.values()),
        }

    def pg_summary(self) -> dict[str, Any]:
        with self._lock:
            names = self.state_names
            deleted = self._state_code[STATE_DELETED]
            for osd_id in self._dirty_osds:
                counts = self.by_osd[osd_id]
                if counts:
                    self._by_osd_view[str(osd_id)] = {names[c]: n for c, n in counts.items()}
                else:
                    self._by_osd_view.pop(str(osd_id), None)
            self._dirty_osds.clear()
            for pool_id in self._dirty_pools:
                if pool_id in self.pools:
                    counts = self.by_pool[pool_id]
                    self._by_pool_view[str(pool_id)] = {
                        names[c]: n for c, n in enumerate(counts) if n and c != deleted
                    }
                else:
                    self._by_pool_view.pop(str(pool_id), None)
            self._dirty_pools.clear()
            return {
                "version": self.pg_version,
                "stamp": ceph_stamp(self._clock()),
                "num_pgs": self.num_pgs,
                "by_state": {names[c]: n for c, n in enumerate(self.by_state) if n and c != deleted},
                "by_pool": dict(self._by_pool_view),
                "by_osd": dict(self._by_osd_view),
                "io": self.io(),
            }

    def _osd_used_bytes(self) -> list[int]:
        raw = sum(p.stored_bytes * (1.5 if p.erasure else p.size) for p in self.pools.values())
        in_osds = sum(1 for i in range(len(self.osd_in)) if self.osd_in[i] and self.osd_exists[i])
        share = raw / max(1, in_osds)
        return [
            int(share * (0.9 + 0.2 * ((i * 2654435761) % 1000) / 1000)) + 64 * 1024**2
            if self.osd_in[i] else 64 * 1024**2
            for i in range(len(self.osd_in))
        ]

    def df(self) -> dict[str, Any]:
        with self._lock:
            total = OSD_BYTES * sum(self.osd_exists)
            used = sum(self._osd_used_bytes())
            avail = total - used
            stats = {"total_bytes": total, "total_avail_bytes": avail, "total_used_bytes": used,
                     "total_used_raw_bytes": used, "total_used_raw_ratio": used / total if total else 0}
            pools = []
            for pool in self.pools.values():
                stored = int(pool.stored_bytes)
                factor = 1.5 if pool.erasure else pool.size
                bytes_used = int(stored * factor)
                max_avail = int(avail / factor)
                pools.append({"name": pool.name, "id": pool.pool_id, "stats": {
                    "stored": stored, "stored_data": stored, "stored_omap": 0,
                    "objects": stored // OBJECT_BYTES, "kb_used": bytes_used // 1024,
                    "bytes_used": bytes_used, "data_bytes_used": bytes_used, "omap_bytes_used": 0,
                    "percent_used": bytes_used / (bytes_used + max_avail) if bytes_used + max_avail else 0,
                    "max_avail": max_avail, "quota_objects": pool.quota_max_objects,
                    "quota_bytes": pool.quota_max_bytes, "dirty": stored // OBJECT_BYTES,
                    "rd": pool.num_read, "rd_bytes": pool.num_read_kb * 1024,
                    "wr": pool.num_write, "wr_bytes": pool.num_write_kb * 1024,
                    "compress_bytes_used": 0, "compress_under_bytes": 0,
                    "stored_raw": bytes_used, "avail_raw": avail,
                }})
            return {
                "stats": {**stats, "num_osds": sum(self.osd_exists), "num_per_pool_osds": sum(self.osd_exists),
                          "num_per_pool_omap_osds": sum(self.osd_exists)},
                "stats_by_class": {"hdd": dict(stats)},
                "pools": pools,
            }

    def config(self) -> list[dict[str, Any]]:
        return [
            {"section": "global", "name": "osd_pool_default_size", "value": "3", "level": "advanced",
             "can_update_at_runtime": True, "mask": ""},
            {"section": "mgr", "name": "mgr/dashboard/ssl", "value": "false", "level": "advanced",
             "can_update_at_runtime": False, "mask": ""},
        ]

    def osd_metadata(self) -> tuple[str, list[dict[str, Any]]]:
        with self._lock:
            if self._osd_metadata is None:
                entries = []
                for osd_id in range(len(self.osd_up)):
                    if not self.osd_exists[osd_id]:
                        continue
                    host_index = self.osd_host[osd_id]
                    entry = self._osd_entry(osd_id)
                    entries.append({
                        "id": osd_id, "arch": "x86_64",
                        "back_addr": _addrvec_string(entry["cluster_addrs"]),
                        "back_iface": "eth1", "ceph_release": "pacific", "ceph_version": CEPH_VERSION,
                        "ceph_version_short": CEPH_VERSION_SHORT, "ceph_version_when_created": CEPH_VERSION,
                        "container_name": "", "cpu": "AMD EPYC", "created_at": self.created.replace("+0000", "Z"),
                        "default_device_class": "hdd", "device_ids": "", "device_paths": "",
                        "devices": f"sd{chr(97 + self.osd_slot[osd_id] % 26)}",
                        "distro": "debian", "distro_description": "Debian GNU/Linux 12 (bookworm)",
                        "distro_version": "12", "front_addr": _addrvec_string(entry["public_addrs"]),
                        "front_iface": "eth0",
                        "hb_back_addr": _addrvec_string(entry["heartbeat_back_addrs"]),
                        "hb_front_addr": _addrvec_string(entry["heartbeat_front_addrs"]),
                        "hostname": self.hosts[host_index], "journal_rotational": "1",
                        "kernel_description": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0-18", "kernel_version": "6.1.0-18-amd64",
                        "mem_swap_kb": "0", "mem_total_kb": "131072000", "network_numa_unknown_ifaces": "",
                        "os": "Linux", "osd_data": f"/var/lib/ceph/osd/ceph-{osd_id}",
                        "osd_objectstore": "bluestore", "osdspec_affinity": "", "rotational": "1",
                    })
                self._osd_metadata = (content_hash(entries), entries)
            return self._osd_metadata

    # -------------------------------------------------------------------- source interface --
    def sync_objects(self) -> dict[str, tuple[Any, Any]]:
        """Every sync object, current: name -> (version, data)."""
        with self._lock:
            osd_map = self.osd_map()
            summary = self.pg_summary()
            health = self.health()
            config = self.config()
            metadata_hash, metadata = self.osd_metadata()
            return {
                "osd_map": (osd_map["epoch"], osd_map),
                "mon_map": (1, self.mon_map()),
                "mon_status": (2 + len(self._mon_hosts()), self.mon_status()),
                "fs_map": (1, self.fs_map()),
                "health": (content_hash(health), health),
                "pg_summary": (summary["version"], summary),
                "df": (self.pg_version, self.df()),
                "crush_map": (self.crush_version, self.crush_map()),
                "config": (content_hash(config), config),
                "osd_metadata": (metadata_hash, metadata),
            }

    def poll(self) -> dict[str, tuple[Any, Any]]:
        """One tick, then the sync objects whose version changed since the previous poll."""
        with self._lock:
            self.tick()
            changed = {}
            # Objects whose versions are cheap to know are only built when they changed.
            versions = {
                "osd_map": self.epoch, "mon_map": 1, "mon_status": 2 + len(self._mon_hosts()),
                "fs_map": 1, "pg_summary": self.pg_version, "crush_map": self.crush_version,
            }
            for name, version in versions.items():
                if self._last_sent_versions.get(name) != version:
                    changed[name] = None
            current: dict[str, tuple[Any, Any]] = {}
            for name in changed:
                current[name] = self._build(name)
            if self.tick_count % 5 == 1:  # df and content-hashed objects every few ticks
                for name in ("df", "health", "config", "osd_metadata"):
                    current[name] = self._build(name)
            elif "osd_map" in changed:
                current["health"] = self._build("health")
            result = {}
            for name, (version, data) in current.items():
                if self._last_sent_versions.get(name) != version:
                    self._last_sent_versions[name] = version
                    result[name] = (version, data)
            return result

    def _build(self, name: str) -> tuple[Any, Any]:
        if name == "osd_map":
            return self.epoch, self.osd_map()
        if name == "mon_map":
            return 1, self.mon_map()
        if name == "mon_status":
            return 2 + len(self._mon_hosts()), self.mon_status()
        if name == "fs_map":
            return 1, self.fs_map()
        if name == "pg_summary":
            summary = self.pg_summary()
            return summary["version"], summary
        if name == "crush_map":
            return self.crush_version, self.crush_map()
        if name == "df":
            return self.pg_version, self.df()
        if name == "health":
            health = self.health()
            return content_hash(health), health
        if name == "config":
            config = self.config()
            return content_hash(config), config
        if name == "osd_metadata":
            return self.osd_metadata()
        raise KeyError(name)

    def current(self, name: str) -> tuple[Any, Any] | None:
        with self._lock:
            try:
                return self._build(name)
            except KeyError:
                return None

    def cluster_log(self) -> list[dict[str, Any]]:
        with self._lock:
            lines, self._pending_log = self._pending_log, []
            return lines

    def reporting_hosts(self) -> list[str]:
        return list(self.hosts)

    def host_logs(self, host: str) -> HostLogs | None:
        """The log files of a simulated host, named by host name or fqdn."""
        name = host.removesuffix(f".{SIM_DOMAIN}")
        if name not in self.hosts:
            return None
        with self._lock:
            return simulated_host_logs(self, self.hosts.index(name), list(self._log_history))

    def server_facts(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            mon_hosts = set(self._mon_hosts())
            boot_time = float(int(self._clock()) - 86400 * 30 - self.spec.seed)
            facts = []
            for host_index, host in enumerate(self.hosts):
                services = [
                    {"type": "osd", "id": str(osd_id), "fsid": self.fsid, "running": bool(self.osd_up[osd_id]),
                     "version": CEPH_VERSION_SHORT}
                    for osd_id in self.host_osds[host_index] if self.osd_exists[osd_id]
                ]
                if host in mon_hosts:
                    services.append({"type": "mon", "id": host, "fsid": self.fsid, "running": True,
                                     "version": CEPH_VERSION_SHORT})
                if host_index == 0:
                    services.append({"type": "mgr", "id": host, "fsid": self.fsid, "running": True,
                                     "version": CEPH_VERSION_SHORT})
                facts.append((host, {
                    "hostname": host,
                    "fqdn": f"{host}.{SIM_DOMAIN}",
                    "boot_time": boot_time,
                    "kernel": "6.1.0-18-amd64",
                    "cpu_count": 16,
                    "mem_total": 128 * 1024**3,
                    "services": services,
                    "frontend_addr": f"10.{host_index // 250}.{host_index % 250}.10",
                    "backend_addr": f"10.{100 + host_index // 250}.{host_index % 250}.10",
                }))
            return facts

    def stats(self) -> list[tuple[str, list[list[Any]]]]:
        """Points per reporting host; cluster-wide points are reported by the first host."""
        with self._lock:
            ts = float(int(self._clock()))
            prefix = f"ceph.cluster.{self.fsid}"
            df = self.df()
            cluster: list[list[Any]] = [
                [f"{prefix}.df.total_bytes", ts, df["stats"]["total_bytes"]],
                [f"{prefix}.df.total_used_bytes", ts, df["stats"]["total_used_bytes"]],
                [f"{prefix}.df.total_avail_bytes", ts, df["stats"]["total_avail_bytes"]],
            ]
            for key, value in self.io().items():
                cluster.append([f"{prefix}.io.{key}", ts, value])
            for pool in self.pools.values():
                base = f"{prefix}.pool.{pool.pool_id}"
                stored = int(pool.stored_bytes)
                cluster += [
                    [f"{base}.num_bytes", ts, stored], [f"{base}.num_objects", ts, stored // OBJECT_BYTES],
                    [f"{base}.num_read", ts, pool.num_read], [f"{base}.num_write", ts, pool.num_write],
                    [f"{base}.num_read_kb", ts, pool.num_read_kb], [f"{base}.num_write_kb", ts, pool.num_write_kb],
                ]
            used = self._osd_used_bytes()
            for osd_id in range(len(self.osd_up)):
                if not self.osd_exists[osd_id]:
                    continue
                base = f"{prefix}.osd.{osd_id}"
                latency = _osd_latency_ms(self, osd_id)
                cluster += [
                    [f"{base}.kb_used", ts, used[osd_id] // 1024],
                    [f"{base}.kb_avail", ts, (OSD_BYTES - used[osd_id]) // 1024],
                    [f"{base}.apply_latency_ms", ts, latency],
                    [f"{base}.commit_latency_ms", ts, latency],
                ]
            reports = []
            for host_index, host in enumerate(self.hosts):
                wobble = ((host_index * 31 + self.tick_count * 17) % 100) / 100
                base = f"servers.{host}"
                points: list[list[Any]] = [
                    [f"{base}.cpu.total.user", ts, 10 + 20 * wobble],
                    [f"{base}.cpu.total.system", ts, 5 + 5 * wobble],
                    [f"{base}.cpu.total.idle", ts, 80 - 25 * wobble],
                    [f"{base}.cpu.total.iowait", ts, 5.0],
                    [f"{base}.memory.total", ts, 128 * 1024**3],
                    [f"{base}.memory.available", ts, int((64 - 16 * wobble) * 1024**3)],
                    [f"{base}.memory.used", ts, int((64 + 16 * wobble) * 1024**3)],
                    [f"{base}.loadavg.1", ts, 2 * wobble], [f"{base}.loadavg.5", ts, 1.5 * wobble],
                    [f"{base}.loadavg.15", ts, wobble],
                    [f"{base}.network.eth0.rx_bytes", ts, self.tick_count * 1_000_000 * (host_index + 1)],
                    [f"{base}.network.eth0.tx_bytes", ts, self.tick_count * 900_000 * (host_index + 1)],
                ]
                for position, osd_id in enumerate(self.host_osds[host_index]):
                    device = f"sd{chr(97 + position % 26)}"
                    points += [
                        [f"{base}.disk.{device}.read_bytes", ts, self.tick_count * 100_000 * (osd_id + 1)],
                        [f"{base}.disk.{device}.write_bytes", ts, self.tick_count * 300_000 * (osd_id + 1)],
                    ]
                if host_index == 0:
                    points = cluster + points
                reports.append((host, points))
            return reports

    def close(self) -> None:
        return None

    # -------------------------------------------------------------------------- commands --
    def execute(self, prefix: str, args: dict[str, Any], target: str = "mon",
                input: str | None = None) -> tuple[int, Any, str]:  # noqa: A002 - the protocol's name
        """Run a Ceph command the way the mon/mgr would; returns (rc, out, err). `input`: the
        command's input data (for `osd setcrushmap`, the map's text, which the simulator reads
        instead of crushtool's binary)."""
        if prefix == "osd setcrushmap":
            with self._lock:
                return self._cmd_set_crush_map(args, input)
        handler = _COMMANDS.get(prefix) or _READ_COMMANDS.get(prefix)
        if handler is None:
            return -EINVAL, "", f"unrecognized command: {prefix!r}"
        with self._lock:
            try:
                return handler(self, args)
            except (KeyError, ValueError, TypeError) as exc:
                return -EINVAL, "", f"invalid command arguments: {exc}"

    def _pool_by_name(self, name: Any) -> SimPool | None:
        for pool in self.pools.values():
            if pool.name == name:
                return pool
        return None

    def _pool_changed(self, pool: SimPool) -> None:
        self._bump_epoch()
        pool.last_change = self.epoch
        self._pool_entries.pop(pool.pool_id, None)

    def _osd_ids(self, args: dict[str, Any]) -> list[int]:
        raw = args.get("ids", args.get("id"))
        if raw is None:
            raise ValueError("ids is required")
        items = raw if isinstance(raw, list) else [raw]
        ids = []
        for item in items:
            text = str(item)
            text = text[4:] if text.startswith("osd.") else text
            osd_id = int(text)
            if not 0 <= osd_id < len(self.osd_up) or not self.osd_exists[osd_id]:
                raise ValueError(f"osd.{osd_id} does not exist")
            ids.append(osd_id)
        return ids

    def _cmd_pool_create(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        name = args["pool"]
        if not isinstance(name, str) or not name:
            return -EINVAL, "", "pool name must be a non-empty string"
        if self._pool_by_name(name) is not None:
            return 0, "", f"pool '{name}' already exists"
        pg_num = int(args.get("pg_num", 32))
        if not 1 <= pg_num <= 65536:
            return -EINVAL, "", f"pg_num {pg_num} out of range"
        erasure = args.get("pool_type", "replicated") == "erasure"
        size = int(args["size"]) if "size" in args else None
        rule = self._rule_by_name(args["rule"]) if args.get("rule") else None
        if args.get("rule") and rule is None:
            return -ENOENT, "", f"specified rule {args['rule']} doesn't exist"
        pool = self._new_pool(name, pg_num, erasure=erasure, size=size)
        if rule is not None:
            pool.crush_rule = rule["rule_id"]
        self._bump_epoch()
        pool.last_change = self.epoch
        self._log(f"osd pool create {name} {pg_num}: pool '{name}' created")
        return 0, "", f"pool '{name}' created"

    def _cmd_pool_set(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        pool = self._pool_by_name(args["pool"])
        if pool is None:
            return -ENOENT, "", f"unrecognized pool '{args['pool']}'"
        var, raw = args["var"], str(args["val"])
        if var in ("size", "min_size", "pg_num", "pgp_num"):
            value = int(raw)
            if var == "size":
                if not 1 <= value <= self.max_acting or value > len(self.osd_up):
                    return -EINVAL, "", f"pool size {value} not supported by this simulation"
                pool.size = value
                pool.min_size = min(pool.min_size, value)
            elif var == "min_size":
                if not 1 <= value <= pool.size:
                    return -EINVAL, "", "pool min_size must be between 1 and size"
                pool.min_size = value
            elif var in ("pg_num", "pgp_num"):
                if not 1 <= value <= 65536:
                    return -EINVAL, "", f"{var} {value} out of range"
                if value > pool.pg_num:
                    self._add_pgs(pool, value - pool.pg_num, STATE_CREATING)
                elif value < pool.pg_num:
                    self._remove_pgs(pool, pool.pg_num - value)
                pool.pg_num = value
        elif var == "crush_rule":
            rule = self._rule_by_name(raw) or next((r for r in self.crush_rules if str(r["rule_id"]) == raw), None)
            if rule is None:
                return -ENOENT, "", f"crush rule {raw} does not exist"
            if (rule["type"] == 3) != pool.erasure:
                return -EINVAL, "", f"crush rule {raw} type does not match pool"
            pool.crush_rule = rule["rule_id"]
        elif var == "pg_autoscale_mode":
            if raw not in ("on", "off", "warn"):
                return -EINVAL, "", "pg_autoscale_mode must be on, off or warn"
            pool.pg_autoscale_mode = raw
        elif var == "hashpspool":
            if raw not in ("true", "false", "1", "0"):
                return -EINVAL, "", "expecting value 'true', 'false', '0', or '1'"
            if not args.get("yes_i_really_mean_it"):
                return -EPERM, "", ("are you SURE? this will remap all placement groups in this pool, this "
                                    "triggers large data movement, pass --yes-i-really-mean-it if you really do.")
            pool.hashpspool = raw in ("true", "1")
        else:
            return -EINVAL, "", f"unrecognized variable '{var}'"
        self._pool_changed(pool)
        return 0, "", f"set pool {pool.pool_id} {var} to {raw}"

    def _remove_pgs(self, pool: SimPool, count: int) -> None:
        """Tombstone the highest PGs of a pool (pg_num decrease or pool deletion)."""
        deleted = self._state_code[STATE_DELETED]
        pool_counts = self.by_pool[pool.pool_id]
        for _ in range(count):
            index = pool.pg_indexes.pop()
            self._transient.pop(index, None)
            old = self.pg_state[index]
            if old == deleted:
                continue
            self.pg_state[index] = deleted
            self.by_state[old] -= 1
            pool_counts[old] -= 1
            self._move_osd_counts(index, old, None)
            self.num_pgs -= 1
        self._dirty_pools.add(pool.pool_id)

    def _cmd_pool_rename(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        source, destination = args["srcpool"], args["destpool"]
        pool = self._pool_by_name(source)
        if pool is None:
            if self._pool_by_name(destination) is not None:
                return 0, "", f"pool '{source}' does not exist; pool '{destination}' does already exist"
            return -ENOENT, "", f"unrecognized pool '{source}'"
        if self._pool_by_name(destination) is not None:
            return -EEXIST, "", f"pool '{destination}' already exists"
        pool.name = destination
        self._pool_changed(pool)
        return 0, "", f"pool '{source}' renamed to '{destination}'"

    def _cmd_pool_delete(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        name = args["pool"]
        pool = self._pool_by_name(name)
        if pool is None:
            return 0, "", f"pool '{name}' does not exist"
        if args.get("pool2") != name or not args.get("yes_i_really_really_mean_it"):
            return -EPERM, "", (
                f"WARNING: this will *PERMANENTLY DESTROY* all data stored in pool {name}.  If you are "
                "*ABSOLUTELY CERTAIN* that is what you want, pass the pool name *twice*, followed by "
                "--yes-i-really-really-mean-it."
            )
        self._remove_pgs(pool, len(pool.pg_indexes))
        del self.pools[pool.pool_id]
        self._pool_entries.pop(pool.pool_id, None)
        self._dirty_pools.add(pool.pool_id)
        self._bump_epoch()
        return 0, "", f"pool '{name}' removed"

    def _cmd_pool_set_quota(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        pool = self._pool_by_name(args["pool"])
        if pool is None:
            return -ENOENT, "", f"unrecognized pool '{args['pool']}'"
        field_name, value = args["field"], int(args["val"])
        if value < 0:
            return -EINVAL, "", "quota must be >= 0"
        if field_name == "max_bytes":
            pool.quota_max_bytes = value
        elif field_name == "max_objects":
            pool.quota_max_objects = value
        else:
            return -EINVAL, "", "field must be max_bytes or max_objects"
        self._pool_changed(pool)
        return 0, "", f"set-quota {field_name} = {value} for pool {pool.name}"

    def _cmd_osd_out(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        return self._set_in(args, 0)

    def _cmd_osd_in(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        return self._set_in(args, 1)

    def _set_in(self, args: dict[str, Any], value: int) -> tuple[int, Any, str]:
        """`osd in` / `osd out`: the PGs of each changed OSD backfill for a few ticks."""
        changed = []
        for osd_id in self._osd_ids(args):
            if self.osd_in[osd_id] != value:
                self.osd_in[osd_id] = value
                self._osd_entries[osd_id] = None
                changed.append(osd_id)
                for index in self.osd_pgs[osd_id]:
                    self._refresh_pg(index, STATE_BACKFILL, 3)
        if changed:
            self.last_in_change = ceph_stamp(self._clock())
            self._bump_epoch()
        word = "in" if value else "out"
        return 0, "", "".join(f"marked {word} osd.{i}. " for i in changed)

    def _cmd_osd_down(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        changed = []
        for osd_id in self._osd_ids(args):
            if self.osd_up[osd_id]:
                self._mark_down(osd_id, "marked down by an operator")
                # a healthy daemon that is marked down reasserts itself shortly after
                self.osd_down_until[osd_id] = self.tick_count + 3
                changed.append(osd_id)
        if changed:
            self._bump_epoch()
        return 0, "", "".join(f"marked down osd.{i}. " for i in changed)

    def _cmd_osd_reweight(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        (osd_id,) = self._osd_ids({"ids": [args["id"]]})
        weight = float(args["weight"])
        if not 0.0 <= weight <= 1.0:
            return -EINVAL, "", f"weight {weight} must be in the range [0..1]"
        self.osd_weight[osd_id] = weight
        self._osd_entries[osd_id] = None
        self._bump_epoch()
        return 0, "", f"reweighted osd.{osd_id} to {weight} ({int(weight * 0x10000):x})"

    def _cmd_flag(self, args: dict[str, Any], setting: bool) -> tuple[int, Any, str]:
        key = args["key"]
        if key not in SETTABLE_FLAGS:
            return -EINVAL, "", f"unrecognized flag '{key}'"
        flags = {"pauserd", "pausewr"} if key == "pause" else {key}
        if setting:
            self.flags |= flags
        else:
            self.flags -= flags
        self._bump_epoch()
        return 0, "", f"{key} is {'set' if setting else 'unset'}"

    def _cmd_osd_scrub(self, args: dict[str, Any], state: str, verb: str) -> tuple[int, Any, str]:
        who = str(args["who"])
        ids = list(range(len(self.osd_up))) if who in ("*", "all", "any") else self._osd_ids({"ids": [who]})
        for osd_id in ids:
            for index in self.osd_pgs[osd_id]:
                base = index * self.max_acting
                if self.pg_acting[base] == osd_id:  # the primary scrubs
                    self._refresh_pg(index, state, 2)
        self.pg_version += 1
        return 0, "", f"instructed osd(s) {','.join(map(str, ids))} to {verb}"

    def _cmd_pg_scrub(self, args: dict[str, Any], state: str, verb: str) -> tuple[int, Any, str]:
        pgid = str(args["pgid"])
        pool_text, _, ps_text = pgid.partition(".")
        pool = self.pools.get(int(pool_text))
        ps = int(ps_text, 16)
        if pool is None or not 0 <= ps < len(pool.pg_indexes):
            return -ENOENT, "", f"pg {pgid} does not exist"
        index = pool.pg_indexes[ps]
        self._refresh_pg(index, state, 2)
        self.pg_version += 1
        return 0, "", f"instructing pg {pgid} on osd.{self.pg_acting[index * self.max_acting]} to {verb}"

    # ------------------------------------------------------------------- CRUSH commands --
    # Outcomes and messages as a Pacific monitor gives them; a change is a new OSD map epoch with
    # the next crush_version.

    def _crush_changed(self) -> None:
        self.crush_version += 1
        self._bump_epoch()

    def _cmd_set_crush_map(self, args: dict[str, Any], text: str | None) -> tuple[int, Any, str]:
        """`osd setcrushmap`: the whole map replaced, refused (EPERM) when prior_version is not
        the current crush_version. Buckets, their devices and device weights, and rules are
        applied; a bucket's weight inside its parent is always the sum of its items here (Ceph
        keeps a stated one), and types, tunables, device classes and choose_args stay fixed."""
        prior = args.get("prior_version")
        if prior is not None and int(prior) == self.crush_version - 1 and text \
                and self._last_set_crush_map == (self.crush_version, text):
            # As the monitor does: the resend of the update that made this version (e.g. a
            # request resumed after a restart) is answered as done.
            return 0, "", str(self.crush_version)
        if prior is not None and int(prior) != self.crush_version:
            return -EPERM, "", f"prior_version {prior} != crush version {self.crush_version}"
        if not text:
            return -EINVAL, "", "unable to decode crush map: no input data"
        try:
            crush = parse_crush_text(text)
        except CrushTextError as exc:
            return -EINVAL, "", f"crushtool could not compile the CRUSH map: {exc}"
        problem = self._unsimulated_crush_change(crush)
        if problem:
            return -EINVAL, "", f"the simulated cluster cannot apply this map: {problem}"
        rule_ids = {r.id for r in crush.rules}
        for pool in self.pools.values():
            if pool.crush_rule not in rule_ids:
                return -EINVAL, "", f"pool {pool.name} uses crush rule {pool.crush_rule}, which the new map lacks"
        used = {b.id for b in crush.buckets if b.id is not None}
        used |= {i - 1 for i in used}  # every bucket's hdd shadow is id - 1 here
        next_id = min([self._next_bucket_id, *used]) - 2
        ids: dict[str, int] = {}
        for b in crush.buckets:
            if b.id is None:
                b.id, next_id = next_id, next_id - 2
            ids[b.name] = b.id
        if len({*ids.values(), *(i - 1 for i in ids.values())}) != 2 * len(ids):
            return -EINVAL, "", "the simulated cluster cannot apply this map: bucket ids overlap their hdd shadows"
        parent = {item.name: b.name for b in crush.buckets for item in b.items}
        types = {t.name: t.id for t in crush.types}
        old = self.crush_buckets
        self.crush_buckets = {}
        self.bucket_osds = {}
        for b in crush.buckets:
            node: dict[str, Any] = {"name": b.name, "type_id": types[b.type_name],
                                    "parent": ids[parent[b.name]] if b.name in parent else None}
            if "host_index" in old.get(b.id, {}):  # b.id is set above
                node["host_index"] = old[b.id]["host_index"]  # type: ignore[index]
            self.crush_buckets[b.id] = node  # type: ignore[index]
            osds = [int(item.name[4:]) for item in b.items if item.name not in ids]
            if osds:
                self.bucket_osds[b.id] = osds  # type: ignore[index]
            for item in b.items:
                if item.name not in ids:
                    self.osd_crush_weight[int(item.name[4:])] = item.weight_fixed / WEIGHT_SCALE
        self._next_bucket_id = next_id
        self.crush_rules = [self._rule_dump(rule, ids) for rule in crush.rules]
        self._crush_changed()
        self._last_set_crush_map = (self.crush_version, text)
        return 0, "", str(self.crush_version)

    def _unsimulated_crush_change(self, crush: CrushText) -> str | None:
        if [(t.id, t.name) for t in crush.types] != list(enumerate(self.crush_types)):
            return "its CRUSH types differ from the cluster's"
        if sorted((d.id, d.name) for d in crush.devices) != [(i, f"osd.{i}") for i in range(len(self.osd_up))]:
            return "its devices are not the cluster's OSDs"
        if any(d.device_class not in (None, "hdd") for d in crush.devices):
            return "every simulated device is of class hdd"
        if crush.choose_args or any(self.crush_map()["tunables"].get(k) != v for k, v in crush.tunables.items()):
            return "choose_args and tunables are not simulated"
        if any(b.alg != "straw2" for b in crush.buckets):
            return "every simulated bucket is straw2"
        return None

    @staticmethod
    def _rule_dump(rule: Any, ids: dict[str, int]) -> dict[str, Any]:
        steps: list[dict[str, Any]] = []
        for step in rule.steps:
            if step.op == "take":
                item_id = ids[step.item] if step.item in ids else int(step.item.split(".", 1)[1])  # osd.N
                name = step.item
                if step.item_class:  # the class's shadow tree: id - 1 here
                    item_id, name = item_id - 1, f"{step.item}~{step.item_class}"
                steps.append({"op": "take", "item": item_id, "item_name": name})
            elif step.type_name is not None:
                steps.append({"op": step.op, "num": step.num, "type": step.type_name})
            elif step.op in ("set_choose_tries", "set_chooseleaf_tries"):
                steps.append({"op": step.op, "num": step.num})
            elif step.num is not None:  # Pacific's dump shows the other set_* steps by opcode
                opcode = {"set_choose_local_tries": 10, "set_choose_local_fallback_tries": 11,
                          "set_chooseleaf_vary_r": 12, "set_chooseleaf_stable": 13}[step.op]
                steps.append({"opcode": opcode, "arg1": step.num, "arg2": 0})
            else:
                steps.append({"op": step.op})
        return {"rule_id": rule.id, "rule_name": rule.name, "ruleset": rule.id,
                "type": 1 if rule.type == "replicated" else 3, "min_size": rule.min_size,
                "max_size": rule.max_size, "steps": steps}

    def _bucket_by_name(self, name: Any) -> int | None:
        return next((i for i, b in self.crush_buckets.items() if b["name"] == name), None)

    def _crush_item_exists(self, name: Any) -> bool:
        return self._bucket_by_name(name) is not None or name in {f"osd.{i}" for i in range(len(self.osd_up))}

    def _rule_by_name(self, name: Any) -> dict[str, Any] | None:
        return next((r for r in self.crush_rules if r["rule_name"] == name), None)

    @staticmethod
    def _bad_crush_name(field_name: str, name: Any) -> str | None:
        if isinstance(name, str) and name and all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
            return None
        return f"Invalid command: {field_name} '{name}' does not match [A-Za-z0-9-_.]"

    def _cmd_crush_add_bucket(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        name, type_name = args["name"], args["type"]
        bad = self._bad_crush_name("name", name)
        if bad:
            return -EINVAL, "", bad
        if self._crush_item_exists(name):
            return 0, "", f"bucket '{name}' already exists"
        if type_name not in self.crush_types or type_name == self.crush_types[0]:
            return -EINVAL, "", f"type '{type_name}' does not exist"
        bucket_id = self._next_bucket_id
        self._next_bucket_id -= 2  # and the shadow bucket's id
        self.crush_buckets[bucket_id] = {"name": name, "type_id": self.crush_types.index(type_name), "parent": None}
        self._crush_changed()
        return 0, "", f"added bucket {name} type {type_name} to crush map"

    def _device_id(self, name: Any) -> int | None:
        """The OSD id of a device name ("osd.3") of the CRUSH map."""
        prefix, _, number = str(name).partition(".")
        if prefix != "osd" or not number.isascii() or not number.isdigit() or int(number) >= len(self.osd_up):
            return None
        return int(number)

    def _device_bucket(self, osd_id: int) -> int | None:
        return next((b for b, osds in self.bucket_osds.items() if osd_id in osds), None)

    def _cmd_crush_move(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        name = args["name"]
        raw = args.get("args") or []
        loc = dict(str(item).split("=", 1) for item in (raw if isinstance(raw, list) else [raw]))
        bucket_id = self._bucket_by_name(name)
        if bucket_id is None and self._device_id(name) is None:
            return -ENOENT, "", f"item {name} does not exist"
        if len(loc) != 1:
            return -EINVAL, "", "this simulation moves an item under exactly one location (type=name)"
        (type_name, target), = loc.items()
        target_id = self._bucket_by_name(target)
        if type_name not in self.crush_types:
            return -EINVAL, "", f"unknown type {type_name}"
        if target_id is None:
            return -ENOENT, "", f"location {type_name}={target} does not exist"
        if self.crush_types[self.crush_buckets[target_id]["type_id"]] != type_name:
            return -EINVAL, "", f"{target} is not a {type_name}"
        if bucket_id is None:
            return self._move_device(self._device_id(name), target_id, type_name)
        node: int | None = target_id
        while node is not None:
            if node == bucket_id:
                return -EINVAL, "", f"cannot move {name} under itself"
            node = self.crush_buckets[node]["parent"]
        if self.crush_buckets[bucket_id]["parent"] == target_id:
            return 0, "", f"no need to move item id {bucket_id} name '{name}' to location {loc} in crush map"
        bucket = self.crush_buckets.pop(bucket_id)
        bucket["parent"] = target_id
        self.crush_buckets[bucket_id] = bucket  # moved in last: the last item of its new parent
        self._crush_changed()
        return 0, "", f"moved item id {bucket_id} name '{name}' to location {loc} in crush map"

    def _move_device(self, osd_id: int, target_id: int, type_name: str) -> tuple[int, Any, str]:
        """`osd crush move osd.N <type>=<bucket>`: Pacific moves a device too, keeping its weight.
        Into a simulated machine's host bucket, the OSD moves to that machine (as when a disk is
        moved between servers), so its metadata's hostname and its server follow."""
        target = self.crush_buckets[target_id]
        where = f"{{{type_name}={target['name']}}}"
        source_id = self._device_bucket(osd_id)
        if source_id == target_id:
            return 0, "", f"no need to move item id {osd_id} name 'osd.{osd_id}' to location {where} in crush map"
        if source_id is not None:
            self.bucket_osds[source_id].remove(osd_id)
        self.bucket_osds.setdefault(target_id, []).append(osd_id)  # moved in last: its last item
        if "host_index" in target:
            self._move_osd_to_machine(osd_id, target["host_index"])
        self._crush_changed()
        return 0, "", f"moved item id {osd_id} name 'osd.{osd_id}' to location {where} in crush map"

    def _move_osd_to_machine(self, osd_id: int, host_index: int) -> None:
        old = self.osd_host[osd_id]
        if old == host_index:
            return
        self.host_osds[old].remove(osd_id)
        others = self.host_osds[host_index]
        self.osd_slot[osd_id] = max((self.osd_slot[o] for o in others), default=-1) + 1
        others.append(osd_id)
        others.sort()
        self.osd_host[osd_id] = host_index
        self._osd_entries[osd_id] = None  # its addresses are the new machine's
        self._xinfo_entries[osd_id] = None
        self._osd_metadata = None

    def _cmd_crush_reweight(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        name = args["name"]
        osd_id = self._device_id(name)
        if osd_id is None:
            if self._bucket_by_name(name) is not None:
                return -EINVAL, "", f"device '{name}' is not a leaf in the crush map"
            return -ENOENT, "", f"device '{name}' does not appear in the crush map"
        weight = float(args["weight"])
        if not 0.0 <= weight < 65536.0:  # what a 16.16 fixed-point weight can hold
            return -EINVAL, "", f"Invalid command: {weight} not in range [0.0]"
        self.osd_crush_weight[osd_id] = weight
        self._crush_changed()
        return 0, "", f"reweighted item id {osd_id} name '{name}' to {weight:g} in crush map"

    def _cmd_crush_unlink(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        """`osd crush unlink <name> [<ancestor>]`: the item leaves its bucket (if that is at or
        under the ancestor) but stays in the map, a device with its weight, a bucket with its items."""
        name, ancestor = args["name"], args.get("ancestor")
        bucket_id, osd_id = self._bucket_by_name(name), self._device_id(name)
        if bucket_id is None and osd_id is None:
            return 0, "", f"device '{name}' does not appear in the crush map"
        ancestor_id = None
        if ancestor is not None:
            ancestor_id = self._bucket_by_name(ancestor)
            if ancestor_id is None:
                return -ENOENT, "", f"ancestor item '{ancestor}' does not appear in the crush map"
        item_id = osd_id if bucket_id is None else bucket_id
        parent = self._device_bucket(osd_id) if bucket_id is None else self.crush_buckets[bucket_id]["parent"]
        chain, node = [], parent
        while node is not None:
            chain.append(node)
            node = self.crush_buckets[node]["parent"]
        if parent is None or (ancestor_id is not None and ancestor_id not in chain):
            return 0, "", f"item {item_id} does not appear in that position"
        if bucket_id is None:
            self.bucket_osds[parent].remove(osd_id)
        else:
            self.crush_buckets[bucket_id]["parent"] = None
        self._crush_changed()
        return 0, "", f"removed item id {item_id} name '{name}' from crush map"

    def _cmd_crush_rename_bucket(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        source, destination = args["srcname"], args["dstname"]
        bad = self._bad_crush_name("dstname", destination)
        if bad:
            return -EINVAL, "", bad
        bucket_id = self._bucket_by_name(source)
        if bucket_id is None:
            if self._crush_item_exists(destination):
                return 0, "", f"already renamed to '{destination}'"
            if self._crush_item_exists(source):
                return -ENOTDIR, "", f"srcname '{source}' is not a bucket"
            return -ENOENT, "", f"srcname '{source}' does not exist"
        if self._crush_item_exists(destination):
            return -EEXIST, "", f"dstname '{destination}' already exists"
        self.crush_buckets[bucket_id]["name"] = destination
        self._crush_changed()
        return 0, "", ""

    def _cmd_crush_rm(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        name = args["name"]
        bucket_id = self._bucket_by_name(name)
        if bucket_id is None:
            if self._crush_item_exists(name):
                return -EBUSY, "", f"this simulation keeps its OSDs in CRUSH; cannot remove {name}"
            return 0, "", f"device '{name}' does not appear in the crush map"
        if any(b["parent"] == bucket_id for b in self.crush_buckets.values()) or self.bucket_osds.get(bucket_id):
            return -ENOTEMPTY, "", f"Error ENOTEMPTY: bucket '{name}' is not empty"
        users = [r["rule_name"] for r in self.crush_rules
                 if any(st.get("op") == "take" and st.get("item") in (bucket_id, bucket_id - 1) for st in r["steps"])]
        if users:
            return -EBUSY, "", f"bucket '{name}' is still referenced by crush_rule(s): {', '.join(users)}"
        del self.crush_buckets[bucket_id]
        self.bucket_osds.pop(bucket_id, None)
        self._crush_changed()
        return 0, "", f"removed item id {bucket_id} name '{name}' from crush map"

    def _new_rule(self, name: str, rule_type: int, steps: list[dict[str, Any]], min_size: int,
                  max_size: int) -> int:
        used = {r["rule_id"] for r in self.crush_rules}
        rule_id = next(i for i in range(len(used) + 1) if i not in used)  # Ceph takes the lowest free id
        self.crush_rules.append({"rule_id": rule_id, "rule_name": name, "ruleset": rule_id, "type": rule_type,
                                 "min_size": min_size, "max_size": max_size, "steps": steps})
        self._crush_changed()
        return rule_id

    def _take_step(self, root: str, device_class: str | None) -> dict[str, Any] | None:
        root_id = self._bucket_by_name(root)
        if root_id is None:
            return None
        if device_class:
            return {"op": "take", "item": root_id - 1, "item_name": f"{root}~{device_class}"}
        return {"op": "take", "item": root_id, "item_name": root}

    def _cmd_crush_rule_create_replicated(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        name, root, domain, device_class = args["name"], args["root"], args["type"], args.get("class")
        bad = self._bad_crush_name("name", name)
        if bad:
            return -EINVAL, "", bad
        if self._rule_by_name(name) is not None:
            return 0, "", f"rule {name} already exists"
        if self._bucket_by_name(root) is None:
            return -ENOENT, "", f"root item {root} does not exist"
        if domain not in self.crush_types:
            return -EINVAL, "", f"unknown type {domain}"
        if device_class and device_class != "hdd":
            return -EINVAL, "", f"device class {device_class} does not exist"
        take = self._take_step(root, device_class)
        op = "choose_firstn" if domain == self.crush_types[0] else "chooseleaf_firstn"
        self._new_rule(name, 1, [take, {"op": op, "num": 0, "type": domain}, {"op": "emit"}], 1, 10)
        return 0, "", ""

    def _cmd_crush_rule_create_erasure(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        name, profile_name = args["name"], args.get("profile") or "default"
        bad = self._bad_crush_name("name", name)
        if bad:
            return -EINVAL, "", bad
        existing = self._rule_by_name(name)
        if existing is not None:
            return 0, "", f"rule {name} already exists"
        profile = self.erasure_code_profiles.get(profile_name)
        if profile is None:
            return -ENOENT, "", f"erasure-code-profile {profile_name} does not exist"
        take = self._take_step(profile.get("crush-root") or "default", profile.get("crush-device-class"))
        if take is None:
            return -ENOENT, "", f"root item {profile.get('crush-root')} does not exist"
        domain = profile.get("crush-failure-domain") or "host"
        size = int(profile.get("k", 2)) + int(profile.get("m", 1))
        rule_id = self._new_rule(name, 3, [{"op": "set_chooseleaf_tries", "num": 5},
                                           {"op": "set_choose_tries", "num": 100}, take,
                                           {"op": "chooseleaf_indep", "num": 0, "type": domain},
                                           {"op": "emit"}], 3, size)
        return 0, "", f"created rule {name} at {rule_id}"

    def _cmd_crush_rule_rm(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        name = args["name"]
        rule = self._rule_by_name(name)
        if rule is None:
            return 0, "", f"rule {name} does not exist"
        if any(pool.crush_rule == rule["rule_id"] for pool in self.pools.values()):
            return -EBUSY, "", f"crush rule {name} ({rule['rule_id']}) is in use"
        self.crush_rules.remove(rule)
        self._crush_changed()
        return 0, "", ""

    def _cmd_crush_rule_rename(self, args: dict[str, Any]) -> tuple[int, Any, str]:
        source, destination = args["srcname"], args["dstname"]
        bad = self._bad_crush_name("dstname", destination)
        if bad:
            return -EINVAL, "", bad
        rule = self._rule_by_name(source)
        if rule is None:
            if self._rule_by_name(destination) is not None:
                return 0, "", f"already renamed to '{destination}'"
            return -ENOENT, "", f"source rule '{source}' does not exist"
        if self._rule_by_name(destination) is not None:
            return -EEXIST, "", f"destination rule '{destination}' already exists"
        rule["rule_name"] = destination
        self._crush_changed()
        return 0, "", ""


def _json_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _addrvec_string(addrs: dict[str, Any]) -> str:
    return "[" + ",".join(f"{a['type']}:{a['addr']}/{a['nonce']}" for a in addrs["addrvec"]) + "]"


_COMMANDS: dict[str, Callable[[SimulatedCluster, dict[str, Any]], tuple[int, Any, str]]] = {
    "osd pool create": SimulatedCluster._cmd_pool_create,
    "osd pool set": SimulatedCluster._cmd_pool_set,
    "osd pool rename": SimulatedCluster._cmd_pool_rename,
    "osd pool delete": SimulatedCluster._cmd_pool_delete,
    "osd pool rm": SimulatedCluster._cmd_pool_delete,
    "osd pool set-quota": SimulatedCluster._cmd_pool_set_quota,
    "osd crush add-bucket": SimulatedCluster._cmd_crush_add_bucket,
    "osd crush move": SimulatedCluster._cmd_crush_move,
    "osd crush rename-bucket": SimulatedCluster._cmd_crush_rename_bucket,
    "osd crush reweight": SimulatedCluster._cmd_crush_reweight,
    "osd crush unlink": SimulatedCluster._cmd_crush_unlink,
    "osd crush rm": SimulatedCluster._cmd_crush_rm,
    "osd crush remove": SimulatedCluster._cmd_crush_rm,
    "osd crush rule create-replicated": SimulatedCluster._cmd_crush_rule_create_replicated,
    "osd crush rule create-erasure": SimulatedCluster._cmd_crush_rule_create_erasure,
    "osd crush rule rm": SimulatedCluster._cmd_crush_rule_rm,
    "osd crush rule rename": SimulatedCluster._cmd_crush_rule_rename,
    "osd out": SimulatedCluster._cmd_osd_out,
    "osd in": SimulatedCluster._cmd_osd_in,
    "osd down": SimulatedCluster._cmd_osd_down,
    "osd reweight": SimulatedCluster._cmd_osd_reweight,
    "osd set": lambda sim, args: sim._cmd_flag(args, True),
    "osd unset": lambda sim, args: sim._cmd_flag(args, False),
    "osd scrub": lambda sim, args: sim._cmd_osd_scrub(args, STATE_SCRUBBING, "scrub"),
    "osd deep-scrub": lambda sim, args: sim._cmd_osd_scrub(args, STATE_DEEP_SCRUBBING, "deep-scrub"),
    "osd repair": lambda sim, args: sim._cmd_osd_scrub(args, STATE_REPAIR, "repair"),
    "pg scrub": lambda sim, args: sim._cmd_pg_scrub(args, STATE_SCRUBBING, "scrub"),
    "pg deep-scrub": lambda sim, args: sim._cmd_pg_scrub(args, STATE_DEEP_SCRUBBING, "deep-scrub"),
    "pg repair": lambda sim, args: sim._cmd_pg_scrub(args, STATE_REPAIR, "repair"),
}


# ------------------------------------------------------------------------ read-only commands --
# What `ceph <prefix> -f json` prints, built from the same documents the sync objects carry, so
# that `POST /api/v2/cluster/<fsid>/cli` answers against a simulated cluster too.

def _read_status(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    osd_map, summary, quorum, df = sim.osd_map(), sim.pg_summary(), sim.mon_status(), sim.df()
    osds = osd_map["osds"]
    return 0, {
        "fsid": sim.fsid,
        "health": sim.health(),
        "election_epoch": quorum["election_epoch"],
        "quorum": quorum["quorum"],
        "quorum_names": quorum["quorum_names"],
        "monmap": {"epoch": quorum["monmap"]["epoch"], "min_mon_release_name": "pacific",
                   "num_mons": len(quorum["monmap"]["mons"])},
        "osdmap": _osd_stat(osd_map),
        "pgmap": {
            "pgs_by_state": [{"state_name": k, "count": v} for k, v in sorted(summary["by_state"].items())],
            "num_pgs": summary["num_pgs"], "num_pools": len(osd_map["pools"]),
            "bytes_used": df["stats"]["total_used_bytes"], "bytes_avail": df["stats"]["total_avail_bytes"],
            "bytes_total": df["stats"]["total_bytes"], **summary.get("io", {}),
        },
        "fsmap": {"epoch": 1, "by_rank": [], "up:standby": 0},
        "num_osds": len(osds),
    }, ""


def _osd_stat(osd_map: dict[str, Any]) -> dict[str, Any]:
    osds = osd_map["osds"]
    return {"epoch": osd_map["epoch"], "num_osds": len(osds), "num_up_osds": sum(o["up"] for o in osds),
            "num_in_osds": sum(o["in"] for o in osds), "num_remapped_pgs": 0}


def _read_pg_stat(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    summary, df = sim.pg_summary(), sim.df()["stats"]
    return 0, {"pg_ready": True, "pg_summary": {
        "num_pg_by_state": [{"name": k, "num": v} for k, v in sorted(summary["by_state"].items())],
        "num_pgs": summary["num_pgs"], "num_bytes": df["total_used_bytes"], "total_bytes": df["total_bytes"],
        "total_avail_bytes": df["total_avail_bytes"], "total_used_bytes": df["total_used_bytes"],
        "total_used_raw_bytes": df["total_used_bytes"]}}, ""


def _read_osd_metadata(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    _, metadata = sim.osd_metadata()
    if args.get("id") is None:
        return 0, metadata, ""
    wanted = int(args["id"])
    for entry in metadata:
        if entry["id"] == wanted:
            return 0, entry, ""
    return -ENOENT, "", f"osd.{wanted} does not exist"


def _read_pool_ls(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    pools = sim.osd_map()["pools"]
    if args.get("detail"):
        return 0, pools, ""
    return 0, [p["pool_name"] for p in pools], ""


# A real `pg ls` lists every PG; a full pg_stat entry for each of a million PGs would stall the
# simulator, so it lists the first ones (and says so on stderr).
PG_LS_LIMIT = 1000
ITEM_NONE = 2147483647  # CRUSH_ITEM_NONE: a missing shard of an erasure-coded PG

# `ceph config get` answers the default of a known option that nobody set.
CONFIG_DEFAULTS = {
    "osd_pool_default_size": "3", "osd_pool_default_min_size": "0", "osd_pool_default_pg_num": "32",
    "mon_allow_pool_delete": "false", "osd_max_backfills": "1", "osd_recovery_max_active": "0",
    "mon_max_pg_per_osd": "250", "osd_scrub_auto_repair": "false", "public_network": "",
    "cluster_network": "", "log_to_file": "false", "mgr/dashboard/ssl": "true",
}
CONFIG_WHO_TYPES = ("global", "mon", "mgr", "osd", "mds", "client")

STAT_SUM_KEYS = (
    "num_bytes", "num_objects", "num_object_clones", "num_object_copies", "num_objects_missing_on_primary",
    "num_objects_missing", "num_objects_degraded", "num_objects_misplaced", "num_objects_unfound",
    "num_objects_dirty", "num_whiteouts", "num_read", "num_read_kb", "num_write", "num_write_kb",
    "num_scrub_errors", "num_shallow_scrub_errors", "num_deep_scrub_errors", "num_objects_recovered",
    "num_bytes_recovered", "num_keys_recovered", "num_objects_omap", "num_objects_hit_set_archive",
    "num_bytes_hit_set_archive", "num_flush", "num_flush_kb", "num_evict", "num_evict_kb", "num_promote",
    "num_flush_mode_high", "num_flush_mode_low", "num_evict_mode_some", "num_evict_mode_full",
    "num_objects_pinned", "num_legacy_snapsets", "num_large_omap_objects", "num_objects_manifest",
    "num_omap_bytes", "num_omap_keys", "num_objects_repaired",
)
STORE_STATS_KEYS = (
    "total", "available", "internally_reserved", "allocated", "data_stored", "data_compressed",
    "data_compressed_allocated", "data_compressed_original", "omap_allocated", "internal_metadata",
)
MGR_MODULES = (
    "alerts", "balancer", "crash", "devicehealth", "influx", "insights", "iostat", "localpool", "mirroring",
    "nfs", "orchestrator", "osd_support", "pg_autoscaler", "progress", "prometheus", "rbd_support", "restful",
    "selftest", "snap_schedule", "stats", "status", "telegraf", "telemetry", "test_orchestrator", "volumes",
    "zabbix",
)
MGR_ALWAYS_ON = ("balancer", "crash", "devicehealth", "orchestrator", "pg_autoscaler", "progress", "rbd_support",
                 "status", "telemetry", "volumes")


def _no_pool(name: Any) -> tuple[int, Any, str]:
    return -ENOENT, "", f"unrecognized pool '{name}'"


def _osd_latency_ms(sim: SimulatedCluster, osd_id: int) -> int:
    # the same wobble the per-OSD latency stats report, so `osd perf` and the graphs agree
    return 1 + (osd_id * 7 + sim.tick_count) % 20 if sim.osd_up[osd_id] else 0


def _crush_osd_weights(sim: SimulatedCluster) -> tuple[list[dict[str, Any]], dict[int, float], dict[int, int]]:
    """The real (not "~hdd" shadow) buckets, root first; each OSD's CRUSH weight and depth."""
    buckets = [b for b in sim.crush_map()["buckets"] if "~" not in b["name"]]
    weights: dict[int, float] = {}
    depths: dict[int, int] = {}
    by_id = {b["id"]: b for b in buckets}
    child_ids = {item["id"] for b in buckets for item in b["items"]}

    def walk(bucket: dict[str, Any], depth: int) -> None:
        for item in bucket["items"]:
            if item["id"] >= 0:
                weights[item["id"]] = item["weight"] / 0x10000
                depths[item["id"]] = depth + 1
            elif item["id"] in by_id:
                walk(by_id[item["id"]], depth + 1)

    roots = [b for b in buckets if b["id"] not in child_ids]
    for root in roots:
        walk(root, 0)
    return roots, weights, depths


def _read_osd_tree(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    buckets = {b["id"]: b for b in sim.crush_map()["buckets"] if "~" not in b["name"]}
    roots, weights, _ = _crush_osd_weights(sim)
    nodes: list[dict[str, Any]] = []

    def visit(bucket: dict[str, Any], depth: int) -> None:
        # Ceph lists a bucket's children newest first, then descends depth first in item order
        node = {"id": bucket["id"], "name": bucket["name"], "type": bucket["type_name"],
                "type_id": bucket["type_id"]}
        if depth:
            node["pool_weights"] = {}
        node["children"] = [item["id"] for item in reversed(bucket["items"])]
        nodes.append(node)
        for item in bucket["items"]:
            if item["id"] >= 0:
                osd_id = item["id"]
                entry = sim._osd_entry(osd_id)
                nodes.append({"id": osd_id, "device_class": "hdd", "name": f"osd.{osd_id}", "type": "osd",
                              "type_id": 0, "crush_weight": weights[osd_id], "depth": depth + 1,
                              "pool_weights": {}, "exists": 1, "status": "up" if entry["up"] else "down",
                              "reweight": entry["weight"], "primary_affinity": entry["primary_affinity"]})
            elif item["id"] in buckets:
                visit(buckets[item["id"]], depth + 1)

    for root in roots:
        visit(root, 0)
    stray = [{"id": o, "name": f"osd.{o}", "type": "osd", "type_id": 0, "crush_weight": 0, "depth": 0,
              "exists": 1, "status": "up" if sim.osd_up[o] else "down", "reweight": sim._osd_entry(o)["weight"],
              "primary_affinity": 1}
             for o in range(len(sim.osd_up)) if sim.osd_exists[o] and o not in weights]
    return 0, {"nodes": nodes, "stray": stray}, ""


def _osd_pg_count(sim: SimulatedCluster, osd_id: int) -> int:
    return sum(sim.by_osd[osd_id].values())


def _read_osd_df(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    _, weights, depths = _crush_osd_weights(sim)
    used = sim._osd_used_bytes()
    rows: list[dict[str, Any]] = []
    for osd_id in range(len(sim.osd_up)):
        if not sim.osd_exists[osd_id]:
            continue
        entry = sim._osd_entry(osd_id)
        # an out OSD counts for nothing in Ceph's totals: its sizes print as 0
        kb = OSD_BYTES // 1024 if entry["in"] else 0
        kb_used = used[osd_id] // 1024 if kb else 0
        rows.append({"id": osd_id, "device_class": "hdd", "name": f"osd.{osd_id}", "type": "osd", "type_id": 0,
                     "crush_weight": weights.get(osd_id, 0), "depth": depths.get(osd_id, 0), "pool_weights": {},
                     "reweight": entry["weight"], "kb": kb, "kb_used": kb_used, "kb_used_data": kb_used,
                     "kb_used_omap": 0, "kb_used_meta": 0, "kb_avail": kb - kb_used,
                     "utilization": kb_used / kb * 100 if kb else 0, "var": 0,
                     "pgs": _osd_pg_count(sim, osd_id), "status": "up" if entry["up"] else "down"})
    counted = [row for row in rows if row["kb"]]
    total_kb = sum(row["kb"] for row in counted)
    total_used = sum(row["kb_used"] for row in counted)
    average = total_used / total_kb * 100 if total_kb else 0
    for row in counted:
        row["var"] = row["utilization"] / average if average else 1
    variances = [row["var"] for row in counted] or [0]
    deviation = (sum((row["utilization"] - average) ** 2 for row in counted) / len(counted)) ** 0.5 if counted else 0
    return 0, {"nodes": rows, "stray": [], "summary": {
        "total_kb": total_kb, "total_kb_used": total_used, "total_kb_used_data": total_used,
        "total_kb_used_omap": 0, "total_kb_used_meta": 0, "total_kb_avail": total_kb - total_used,
        "average_utilization": average, "min_var": min(variances), "max_var": max(variances), "dev": deviation,
    }}, ""


def _pool_get_values(sim: SimulatedCluster, pool: SimPool) -> dict[str, Any]:
    """What `osd pool get <pool> all` reports, in Ceph's order and types (flags are strings)."""
    rule = next((r for r in sim.crush_rules if r["rule_id"] == pool.crush_rule), None)
    values: dict[str, Any] = {
        "size": pool.size, "min_size": pool.min_size, "pg_num": pool.pg_num, "pgp_num": pool.pg_num,
        "crush_rule": rule["rule_name"] if rule else str(pool.crush_rule),
        "hashpspool": "true" if pool.hashpspool else "false", "nodelete": "false", "nopgchange": "false",
        "nosizechange": "false", "write_fadvise_dontneed": "false", "noscrub": "false", "nodeep-scrub": "false",
        "use_gmt_hitset": True, "fast_read": False, "pg_autoscale_mode": pool.pg_autoscale_mode,
        "bulk": "false",
    }
    if pool.erasure:
        values["erasure_code_profile"] = pool.erasure_code_profile
    return values


def _read_pool_get(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    pool = sim._pool_by_name(args.get("pool"))
    if pool is None:
        return _no_pool(args.get("pool"))
    var = args.get("var")
    values = _pool_get_values(sim, pool)
    header = {"pool": pool.name, "pool_id": pool.pool_id}
    if var == "all":
        return 0, {**header, **values}, ""
    if var == "erasure_code_profile" and not pool.erasure:
        return -EACCES, "", f"pool '{pool.name}' is not a erasure pool: variable not applicable"
    if var not in values:
        return -EINVAL, "", f"invalid choice for var: '{var}' (known: {', '.join(values)}, all)"
    return 0, {**header, var: values[var]}, ""


def _pool_objects(pool: SimPool) -> int:
    return int(pool.stored_bytes) // OBJECT_BYTES


def _read_pool_get_quota(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    pool = sim._pool_by_name(args.get("pool"))
    if pool is None:
        return _no_pool(args.get("pool"))
    return 0, {"pool_name": pool.name, "pool_id": pool.pool_id, "quota_max_objects": pool.quota_max_objects,
               "current_num_objects": _pool_objects(pool), "quota_max_bytes": pool.quota_max_bytes,
               "current_num_bytes": int(pool.stored_bytes)}, ""


def _pool_stats_entry(sim: SimulatedCluster, pool: SimPool) -> dict[str, Any]:
    counts = sim.by_pool.get(pool.pool_id, [])
    names = sim.state_names
    degraded = sum(n for code, n in enumerate(counts) if "degraded" in names[code])
    misplaced = sum(n for code, n in enumerate(counts) if "remapped" in names[code])
    objects = _pool_objects(pool)
    copies = objects * pool.size
    per_pg = copies / max(1, pool.pg_num)
    recovery: dict[str, Any] = {}
    # Ceph prints only the recovery counters that are non-zero; estimated from the PG counts
    if degraded:
        degraded_objects = int(per_pg * degraded / pool.size)
        recovery.update(degraded_objects=degraded_objects, degraded_total=copies,
                        degraded_ratio=degraded_objects / copies if copies else 0)
    if misplaced:
        misplaced_objects = int(per_pg * misplaced / pool.size)
        recovery.update(misplaced_objects=misplaced_objects, misplaced_total=copies,
                        misplaced_ratio=misplaced_objects / copies if copies else 0)
    recovering = sum(n for code, n in enumerate(counts)  # waiting to backfill moves nothing yet
                     if "recovering" in names[code] or "backfilling" in names[code])
    recovery_rate: dict[str, Any] = {}
    if recovering:
        recovery_rate = {"recovering_objects_per_sec": recovering, "recovering_bytes_per_sec": recovering * OBJECT_BYTES,
                         "recovering_keys_per_sec": 0, "num_objects_recovered": recovering,
                         "num_bytes_recovered": recovering * OBJECT_BYTES, "num_keys_recovered": 0}
    client_io: dict[str, Any] = {}
    if pool.read_bytes_sec or pool.write_bytes_sec:
        client_io = {key: value for key, value in (("read_bytes_sec", pool.read_bytes_sec),
                                                   ("write_bytes_sec", pool.write_bytes_sec)) if value}
        client_io.update(read_op_per_sec=pool.read_op_per_sec, write_op_per_sec=pool.write_op_per_sec)
    return {"pool_name": pool.name, "pool_id": pool.pool_id, "recovery": recovery, "recovery_rate": recovery_rate,
            "client_io_rate": client_io}


def _read_pool_stats(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    name = args.get("pool_name")
    if name is None:
        return 0, [_pool_stats_entry(sim, pool) for pool in sim.pools.values()], ""
    pool = sim._pool_by_name(name)
    if pool is None:
        return _no_pool(name)
    return 0, [_pool_stats_entry(sim, pool)], ""


def _read_crush_rule_dump(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    rules = sim.crush_map()["rules"]
    name = args.get("name")
    if name is None:
        return 0, rules, ""
    for rule in rules:
        if rule["rule_name"] == name:
            return 0, rule, ""
    return -ENOENT, "", f"unknown crush rule '{name}'"


def _read_ec_profile_get(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    name = args.get("name")
    profile = sim.erasure_code_profiles.get(str(name))
    if profile is None:
        return -ENOENT, "", f"unknown erasure code profile '{name}'"
    return 0, dict(profile), ""


def _read_osd_perf(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    infos = []
    for osd_id in reversed(range(len(sim.osd_up))):  # Ceph lists the highest id first
        if sim.osd_exists[osd_id]:
            latency = _osd_latency_ms(sim, osd_id)
            infos.append({"id": osd_id, "perf_stats": {
                "commit_latency_ms": latency, "apply_latency_ms": latency,
                "commit_latency_ns": latency * 1_000_000, "apply_latency_ns": latency * 1_000_000}})
    return 0, {"pg_ready": True, "osdstats": {"osd_perf_infos": infos}}, ""


def _read_osd_blocked_by(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    # A PG that cannot go active (peered, stale) is blocked by its down OSDs; only down OSDs'
    # PGs are looked at, so this stays cheap on a large healthy cluster.
    inactive = {sim._state_code[s] for s in (STATE_PEERED, STATE_STALE) if s in sim._state_code}
    blocked: dict[int, int] = {}
    for osd_id in range(len(sim.osd_up)):
        if sim.osd_exists[osd_id] and not sim.osd_up[osd_id]:
            count = sum(1 for index in sim.osd_pgs[osd_id] if sim.pg_state[index] in inactive)
            if count:
                blocked[osd_id] = count
    return 0, [{"id": osd_id, "num_blocked": count} for osd_id, count in sorted(blocked.items())], ""


def _pg_brief_entries(sim: SimulatedCluster, limit: int | None = None) -> list[dict[str, Any]]:
    """One {pgid, state, up, acting, ...} per PG, read straight off the flat arrays: down OSDs drop
    out of a replicated PG's set and leave a hole (ITEM_NONE) in an erasure-coded one."""
    names, states, acting, osd_up = sim.state_names, sim.pg_state, sim.pg_acting, sim.osd_up
    width = sim.max_acting
    entries: list[dict[str, Any]] = []
    for pool in sim.pools.values():
        prefix = f"{pool.pool_id}."
        erasure = pool.erasure
        for ps, index in enumerate(pool.pg_indexes):
            if limit is not None and len(entries) >= limit:
                return entries
            base = index * width
            osds = [o if osd_up[o] else ITEM_NONE for o in acting[base: base + width]
                    if o != NO_OSD and (erasure or osd_up[o])]
            primary = next((o for o in osds if o != ITEM_NONE), -1)
            entries.append({"pgid": f"{prefix}{ps:x}", "state": names[states[index]], "up": osds,
                            "acting": osds.copy(), "up_primary": primary, "acting_primary": primary})
    return entries


def _stat_sum(sim: SimulatedCluster, pools: list[SimPool]) -> dict[str, int]:
    stat_sum = dict.fromkeys(STAT_SUM_KEYS, 0)
    for pool in pools:
        objects = _pool_objects(pool)
        stat_sum["num_bytes"] += int(pool.stored_bytes)
        stat_sum["num_objects"] += objects
        stat_sum["num_object_copies"] += objects * pool.size
        stat_sum["num_objects_dirty"] += objects
        stat_sum["num_read"] += pool.num_read
        stat_sum["num_read_kb"] += pool.num_read_kb
        stat_sum["num_write"] += pool.num_write
        stat_sum["num_write_kb"] += pool.num_write_kb
    return stat_sum


def _pg_map_summary(sim: SimulatedCluster) -> dict[str, Any]:
    df = sim.df()["stats"]
    acting_slots = sum(_osd_pg_count(sim, o) for o in range(len(sim.osd_up)))
    zero_store = dict.fromkeys(STORE_STATS_KEYS, 0)
    num_osds = sum(sim.osd_exists)
    perf = dict.fromkeys(("commit_latency_ms", "apply_latency_ms", "commit_latency_ns", "apply_latency_ns"), 0)
    pg_stats_sum = {"stat_sum": _stat_sum(sim, list(sim.pools.values())), "store_stats": dict(zero_store),
                    "log_size": 0, "ondisk_log_size": 0, "up": acting_slots, "acting": acting_slots,
                    "num_store_stats": 0}
    delta = {"stat_sum": dict.fromkeys(STAT_SUM_KEYS, 0), "store_stats": dict(zero_store), "log_size": 0,
             "ondisk_log_size": 0, "up": 0, "acting": 0, "num_store_stats": 0, "stamp_delta": "0.000000"}
    return {
        "version": sim.pg_version, "stamp": ceph_stamp(sim._clock()), "last_osdmap_epoch": 0, "last_pg_scan": 0,
        "pg_stats_sum": pg_stats_sum,
        "osd_stats_sum": {
            "up_from": 0, "seq": 0, "num_pgs": acting_slots, "num_osds": num_osds, "num_per_pool_osds": num_osds,
            "num_per_pool_omap_osds": num_osds, "kb": df["total_bytes"] // 1024,
            "kb_used": df["total_used_bytes"] // 1024, "kb_used_data": df["total_used_bytes"] // 1024,
            "kb_used_omap": 0, "kb_used_meta": 0, "kb_avail": df["total_avail_bytes"] // 1024,
            "statfs": {**zero_store, "total": df["total_bytes"], "available": df["total_avail_bytes"],
                       "allocated": df["total_used_bytes"], "data_stored": df["total_used_bytes"]},
            "hb_peers": [], "snap_trim_queue_len": 0, "num_snap_trimming": 0, "num_shards_repaired": 0,
            "op_queue_age_hist": {"histogram": [], "upper_bound": 1}, "perf_stat": perf, "alerts": [],
            "network_ping_times": []},
        "pg_stats_delta": delta,
    }


def _read_pg_dump(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    contents = args.get("dumpcontents")
    if isinstance(contents, list):  # the mon's own syntax takes a list of CephChoices
        contents = contents[0] if len(contents) == 1 else None
    if contents == "summary":
        return 0, {"pg_ready": True, "pg_map": _pg_map_summary(sim)}, ""
    if contents == "pgs_brief":
        return 0, {"pg_ready": True, "pg_stats": _pg_brief_entries(sim)}, ""
    return -EINVAL, "", ("this simulation answers 'pg dump summary' and 'pg dump pgs_brief' "
                         f"(asked for {contents or 'all'!r})")


def _read_pg_ls(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    stamp = ceph_stamp(sim._clock())
    created = sim.created
    pool_of = {pool.pool_id: pool for pool in sim.pools.values()}
    entries = []
    for brief in _pg_brief_entries(sim, PG_LS_LIMIT):
        pool = pool_of[int(brief["pgid"].split(".")[0])]
        share = max(1, pool.pg_num)
        stat_sum = dict.fromkeys(STAT_SUM_KEYS, 0)
        stat_sum.update(num_bytes=int(pool.stored_bytes) // share, num_objects=_pool_objects(pool) // share,
                        num_object_copies=_pool_objects(pool) * pool.size // share)
        entries.append({
            "pgid": brief["pgid"], "version": f"{sim.epoch}'{sim.pg_version}", "reported_seq": sim.pg_version,
            "reported_epoch": sim.epoch, "state": brief["state"], "last_fresh": stamp, "last_change": stamp,
            "last_active": stamp, "last_peered": stamp, "last_clean": stamp, "last_became_active": created,
            "last_became_peered": created, "last_unstale": stamp, "last_undegraded": stamp,
            "last_fullsized": stamp, "mapping_epoch": sim.epoch, "log_start": "0'0", "ondisk_log_start": "0'0",
            "created": 1, "last_epoch_clean": sim.epoch, "parent": "0.0", "parent_split_bits": 0,
            "last_scrub": "0'0", "last_scrub_stamp": created, "last_deep_scrub": "0'0",
            "last_deep_scrub_stamp": created, "last_clean_scrub_stamp": created, "log_size": 0,
            "ondisk_log_size": 0, "stats_invalid": False, "dirty_stats_invalid": False,
            "omap_stats_invalid": False, "hitset_stats_invalid": False, "hitset_bytes_stats_invalid": False,
            "pin_stats_invalid": False, "manifest_stats_invalid": False, "snaptrimq_len": 0,
            "stat_sum": stat_sum, "up": brief["up"], "acting": brief["acting"], "avail_no_missing": [],
            "object_location_counts": [], "blocked_by": [], "up_primary": brief["up_primary"],
            "acting_primary": brief["acting_primary"], "purged_snaps": [],
        })
    note = "" if sim.num_pgs <= PG_LS_LIMIT else f"listing the first {PG_LS_LIMIT} of {sim.num_pgs} pgs"
    return 0, {"pg_ready": True, "pg_stats": entries}, note


def _read_fs_ls(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    listing = []
    for fs in sim.fs_map()["filesystems"]:
        mdsmap = fs["mdsmap"]
        pool_names = {p.pool_id: p.name for p in sim.pools.values()}
        listing.append({"name": mdsmap["fs_name"], "metadata_pool": pool_names.get(mdsmap["metadata_pool"], ""),
                        "metadata_pool_id": mdsmap["metadata_pool"], "data_pool_ids": mdsmap["data_pools"],
                        "data_pools": [pool_names.get(p, "") for p in mdsmap["data_pools"]]})
    return 0, listing, ""


def _read_mgr_dump(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    host_index = 0  # the simulated mgr runs beside the first mon, as server_facts() says
    ip = f"10.{host_index // 250}.{host_index % 250}.10"
    nonce = 5000 + sim.spec.seed
    enabled = ["iostat", "nfs", "restful"]
    return 0, {
        "epoch": 5, "active_gid": 4100, "active_name": sim.hosts[host_index],
        "active_addrs": {"addrvec": [{"type": "v2", "addr": f"{ip}:6808", "nonce": nonce},
                                     {"type": "v1", "addr": f"{ip}:6809", "nonce": nonce}]},
        "active_addr": f"{ip}:6809/{nonce}", "active_change": sim.created, "active_mgr_features": OSD_FEATURES,
        "available": True, "standbys": [], "modules": enabled,
        # module_options are left empty: their option schemas are not something a client diffs
        "available_modules": [{"name": name, "can_run": True, "error_string": "", "module_options": {}}
                              for name in MGR_MODULES],
        "services": {}, "always_on_modules": {"pacific": list(MGR_ALWAYS_ON)}, "last_failure_osd_epoch": 0,
        "active_clients": [],
    }, ""


def _read_mon_stat(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    status = sim.mon_status()
    return 0, {"epoch": status["monmap"]["epoch"], "min_mon_release_name": "pacific",
               "num_mons": len(status["monmap"]["mons"]), "leader": status["quorum_leader_name"],
               "quorum": [{"rank": rank, "name": name}
                          for rank, name in zip(status["quorum"], status["quorum_names"], strict=True)]}, ""


def _config_sections(who: str) -> list[str] | None:
    """The config sections that apply to `who`, most specific first (None: not an entity)."""
    kind, _, name = who.partition(".")
    if kind not in CONFIG_WHO_TYPES or (kind == "global" and name):
        return None
    return [who, kind, "global"] if name else [kind, "global"] if kind != "global" else ["global"]


def _read_config_get(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    who, key = str(args.get("who", "")), args.get("key")
    sections = _config_sections(who)
    if sections is None:
        return -EINVAL, "", f"invalid who '{who}'"
    values: dict[str, str] = dict(CONFIG_DEFAULTS)
    for section in reversed(sections):  # most specific wins
        values.update({e["name"]: e["value"] for e in sim.config() if e["section"] == section})
    if key is None:
        return 0, values, ""
    if key not in values:
        return -ENOENT, "", f"unrecognized key '{key}'"
    return 0, values[key], ""


def _read_node_ls(sim: SimulatedCluster, args: dict[str, Any]) -> tuple[int, Any, str]:
    osds = {host: [o for o in sim.host_osds[i] if sim.osd_exists[o]] for i, host in enumerate(sim.hosts)}
    return 0, {"mon": {host: [host] for host in sim._mon_hosts()},
               "osd": {host: ids for host, ids in osds.items() if ids},
               "mgr": {sim.hosts[0]: [sim.hosts[0]]}}, ""


_READ_COMMANDS: dict[str, Callable[[SimulatedCluster, dict[str, Any]], tuple[int, Any, str]]] = {
    "status": _read_status,
    "health": lambda sim, args: (0, sim.health(), ""),
    "health detail": lambda sim, args: (0, sim.health(), ""),
    "df": lambda sim, args: (0, sim.df(), ""),
    "osd dump": lambda sim, args: (0, sim.osd_map(), ""),
    "osd stat": lambda sim, args: (0, _osd_stat(sim.osd_map()), ""),
    "osd ls": lambda sim, args: (0, [o["osd"] for o in sim.osd_map()["osds"]], ""),
    "osd pool ls": _read_pool_ls,
    "osd crush dump": lambda sim, args: (0, sim.crush_map(), ""),
    "osd crush rule dump": _read_crush_rule_dump,
    "osd crush rule ls": lambda sim, args: (0, [r["rule_name"] for r in sim.crush_map()["rules"]], ""),
    "osd tree": _read_osd_tree,
    "osd df": _read_osd_df,
    "osd pool get": _read_pool_get,
    "osd pool get-quota": _read_pool_get_quota,
    "osd pool stats": _read_pool_stats,
    "osd erasure-code-profile ls": lambda sim, args: (0, sorted(sim.erasure_code_profiles), ""),
    "osd erasure-code-profile get": _read_ec_profile_get,
    "osd perf": _read_osd_perf,
    "osd blocked-by": _read_osd_blocked_by,
    "pg dump": _read_pg_dump,
    "pg ls": _read_pg_ls,
    "fs ls": _read_fs_ls,
    "mgr dump": _read_mgr_dump,
    "mon stat": _read_mon_stat,
    "config get": _read_config_get,
    "node ls": _read_node_ls,
    "osd metadata": _read_osd_metadata,
    "mon dump": lambda sim, args: (0, sim.mon_map(), ""),
    "quorum_status": lambda sim, args: (0, sim.mon_status(), ""),
    "fs dump": lambda sim, args: (0, sim.fs_map(), ""),
    "config dump": lambda sim, args: (0, sim.config(), ""),
    "pg stat": _read_pg_stat,
    "versions": lambda sim, args: (0, {"mon": {CEPH_VERSION: len(sim._mon_hosts())},
                                       "osd": {CEPH_VERSION: len(sim.osd_map()["osds"])},
                                       "overall": {CEPH_VERSION: len(sim._mon_hosts()) + len(sim.osd_map()["osds"])}},
                                ""),
}
