"""The collector's reduction of a PG map: counts by state, per pool and per OSD, never every PG."""

from __future__ import annotations

from collections import Counter
from typing import Any

IO_KEYS = ("read_bytes_sec", "write_bytes_sec", "read_op_per_sec", "write_op_per_sec")


def io_rates(pgmap_status: dict[str, Any] | None) -> dict[str, int | float]:
    """Client IO rates from the `pgmap` section of `ceph status` (Ceph omits zero rates)."""
    source = pgmap_status or {}
    return {key: source.get(key, 0) for key in IO_KEYS}


def summarize_pgs(
    pg_stats: list[dict[str, Any]],
    *,
    version: int,
    stamp: str,
    io: dict[str, int | float] | None = None,
) -> dict[str, Any]:
    """Reduce `pg dump pgs_brief` entries to the `pg_summary` sync object.

    An OSD counts a PG when it is in the PG's acting set."""
    by_state: Counter[str] = Counter()
    by_pool: dict[str, Counter[str]] = {}
    by_osd: dict[str, Counter[str]] = {}
    for pg in pg_stats:
        state = pg["state"]
        by_state[state] += 1
        pool_id = pg["pgid"].split(".", 1)[0]
        pool_counts = by_pool.get(pool_id)
        if pool_counts is None:
            pool_counts = by_pool[pool_id] = Counter()
        pool_counts[state] += 1
        for osd_id in pg.get("acting", ()):
            # CRUSH_ITEM_NONE (2147483647) marks a missing EC shard, not an OSD
            if osd_id == 2147483647:
                continue
            key = str(osd_id)
            osd_counts = by_osd.get(key)
            if osd_counts is None:
                osd_counts = by_osd[key] = Counter()
            osd_counts[state] += 1
    return {
        "version": version,
        "stamp": stamp,
        "num_pgs": len(pg_stats),
        "by_state": dict(by_state),
        "by_pool": {key: dict(counts) for key, counts in by_pool.items()},
        "by_osd": {key: dict(counts) for key, counts in by_osd.items()},
        "io": dict(io) if io is not None else io_rates(None),
    }


def pg_stats_from_brief(dump: Any) -> list[dict[str, Any]]:
    """`pg dump pgs_brief -f json` is a bare list before Octopus and {"pg_stats": [...]} since."""
    if isinstance(dump, dict):
        return list(dump.get("pg_stats") or [])
    return list(dump or [])
