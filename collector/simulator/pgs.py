"""The PG state machine of the simulated cluster.

Scale matters (1,000,000 PGs on a small machine), so per-PG state lives in flat arrays (`array`,
`bytearray`) indexed by a global PG index, and the counts by state / pool / OSD are kept up to date
incrementally when a PG changes state; nothing is computed per PG on a tick unless it changed."""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from typing import Any

from collector.simulator.ceph import (
    NO_OSD,
    STATE_CLEAN,
    STATE_CREATING,
    STATE_DELETED,
    STATE_PEERED,
    STATE_RECOVERING,
    STATE_SCRUBBING,
    STATE_STALE,
    STATE_UNDERSIZED,
)
from collector.simulator.pool import SimPool

MAX_ACTING = 3  # acting set slots per PG; pools of fewer replicas leave NO_OSD in the rest


class PgTable:
    """Every PG's pool, state, acting OSDs and number of down acting OSDs, with counts by state,
    pool and OSD. A PG in a transient state (scrubbing, recovering, ...) returns to the state
    its OSDs give it when the tick `current_tick()` reaches its end."""

    def __init__(self, pools: dict[int, SimPool], host_osds: list[list[int]], osd_up: bytearray,
                 rng: random.Random, current_tick: Callable[[], int]) -> None:
        self._pools = pools
        self._host_osds = host_osds
        self._osd_up = osd_up
        self._rng = rng
        self._current_tick = current_tick
        n = len(osd_up)
        self.state_names: list[str] = []
        self._state_code: dict[str, int] = {}
        self.pg_pool = array("i")
        self.pg_state = bytearray()
        self.pg_down = bytearray()  # number of acting OSDs that are down
        self.pg_acting = array("i")  # MAX_ACTING slots per PG, NO_OSD padded
        self.osd_pgs: list[array] = [array("I") for _ in range(n)]
        self.by_state: list[int] = []
        self.by_pool: dict[int, list[int]] = {}
        self.by_osd: list[dict[int, int]] = [{} for _ in range(n)]
        self._dirty_osds: set[int] = set(range(n))
        self._dirty_pools: set[int] = set()
        self._transient: dict[int, int] = {}  # pg index -> tick its transient state ends
        self._by_osd_view: dict[str, dict[str, int]] = {}
        self._by_pool_view: dict[str, dict[str, int]] = {}
        self.version = 100
        self.num_pgs = 0
        for code_name in (STATE_CLEAN, STATE_DELETED):
            self.code(code_name)

    def code(self, state: str) -> int:
        """The number a state name is stored as (new names get the next one)."""
        code = self._state_code.get(state)
        if code is None:
            code = self._state_code[state] = len(self.state_names)
            self.state_names.append(state)
            self.by_state.append(0)
            for counts in self.by_pool.values():
                counts.append(0)
        return code

    def known_code(self, state: str) -> int | None:
        """The number of a state name some PG has been in, None for one never seen."""
        return self._state_code.get(state)

    def add(self, pool: SimPool, count: int, state: str) -> None:
        code = self.code(state)
        size = pool.size
        n_hosts = len(self._host_osds)
        n_osds = len(self._osd_up)
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
            for replica in range(MAX_ACTING):
                if replica >= size:
                    chosen.append(NO_OSD)
                    continue
                host_osds = self._host_osds[(first_host + replica * step) % n_hosts]
                # a machine whose OSDs were all moved away (CRUSH moves): any OSD stands in
                osd_id = host_osds[rng.randrange(len(host_osds))] if host_osds else rng.randrange(n_osds)
                if osd_id in chosen:  # fewer hosts than replicas: pick any other OSD
                    osd_id = (osd_id + 1 + replica) % n_osds
                chosen.append(osd_id)
            down = 0
            for osd_id in chosen:
                if osd_id != NO_OSD:
                    self.osd_pgs[osd_id].append(index)
                    if not self._osd_up[osd_id]:
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
                self._transient[index] = self._current_tick() + 2
        self.num_pgs += count
        self._dirty_pools.add(pool.pool_id)

    def remove(self, pool: SimPool, count: int) -> None:
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

    def _move_osd_counts(self, index: int, old: int, new: int | None) -> None:
        """A PG left state `old` (for `new`, or for good): the per-OSD counts of its acting set."""
        base = index * MAX_ACTING
        for osd_id in self.pg_acting[base : base + MAX_ACTING]:
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

    def _set_state(self, index: int, code: int) -> None:
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
        """The state a PG's down OSDs give it, when nothing transient is going on."""
        pool = self._pools.get(self.pg_pool[index])
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

    def refresh(self, index: int, transient: str | None = None, ticks: int = 2) -> None:
        """Put a PG in a transient state for `ticks` ticks (when none of its OSDs is down), or
        back in the state its OSDs give it."""
        if transient is not None and self.pg_down[index] == 0:
            self._transient[index] = self._current_tick() + ticks
            self._set_state(index, self.code(transient))
        else:
            self._transient.pop(index, None)
            self._set_state(index, self.code(self._base_state(index)))

    def end_transients(self) -> None:
        """PGs whose transient state ends by now return to their base state."""
        tick = self._current_tick()
        for index, until in list(self._transient.items()):
            if until <= tick:
                del self._transient[index]
                self._set_state(index, self.code(self._base_state(index)))

    def scrub_some(self, count: int) -> None:
        """Background scrubs: `count` random PGs, those of them that are clean, for 1-3 ticks."""
        clean = self._state_code[STATE_CLEAN]
        for _ in range(count):
            index = self._rng.randrange(len(self.pg_state))
            if self.pg_state[index] == clean:
                self.refresh(index, STATE_SCRUBBING, 1 + self._rng.randrange(3))

    def osd_went_down(self, osd_id: int) -> None:
        for index in self.osd_pgs[osd_id]:
            self.pg_down[index] += 1
            self.refresh(index)

    def osd_came_up(self, osd_id: int) -> None:
        """Its PGs recover for 2-4 ticks."""
        for index in self.osd_pgs[osd_id]:
            if self.pg_down[index]:
                self.pg_down[index] -= 1
            self.refresh(index, STATE_RECOVERING, 2 + self._rng.randrange(3))

    def pgs_on(self, osd_id: int) -> int:
        """How many PGs have the OSD in their acting set."""
        return sum(self.by_osd[osd_id].values())

    def primary(self, index: int) -> int:
        """The first OSD of a PG's acting set (its primary, when that is up)."""
        return self.pg_acting[index * MAX_ACTING]

    def summary(self, stamp: str, io: dict[str, int]) -> dict[str, Any]:
        """The `pg_summary` sync object: counts by state, by pool and by OSD (only the pools and
        OSDs whose counts changed since the previous summary are rebuilt)."""
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
            if pool_id in self._pools:
                counts = self.by_pool[pool_id]
                self._by_pool_view[str(pool_id)] = {
                    names[c]: n for c, n in enumerate(counts) if n and c != deleted
                }
            else:
                self._by_pool_view.pop(str(pool_id), None)
        self._dirty_pools.clear()
        return {
            "version": self.version,
            "stamp": stamp,
            "num_pgs": self.num_pgs,
            "by_state": {names[c]: n for c, n in enumerate(self.by_state) if n and c != deleted},
            "by_pool": dict(self._by_pool_view),
            "by_osd": dict(self._by_osd_view),
            "io": io,
        }
