"""Turn recorded Ceph captures (a folder per step, files named like `ceph ... -f json` commands:
osd_dump.json, health_detail.json, ...) into the sync objects a collector would send."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from typing import Any

import orjson

SyncObject = tuple[str, int | str, Any]


def content_hash(data: Any) -> str:
    return hashlib.sha1(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def reduce_pgs(pgs_brief: list[dict[str, Any]], version: int, stamp: str = "") -> dict[str, Any]:
    """Counts of PGs by state, per pool and per OSD (acting set) from `pg dump pgs_brief`."""
    by_state: dict[str, int] = {}
    by_pool: dict[str, dict[str, int]] = {}
    by_osd: dict[str, dict[str, int]] = {}
    for pg in pgs_brief:
        state = pg["state"]
        by_state[state] = by_state.get(state, 0) + 1
        pool = by_pool.setdefault(pg["pgid"].split(".", 1)[0], {})
        pool[state] = pool.get(state, 0) + 1
        for osd in pg.get("acting", []):
            counts = by_osd.setdefault(str(osd), {})
            counts[state] = counts.get(state, 0) + 1
    return {"version": version, "stamp": stamp, "num_pgs": len(pgs_brief), "by_state": by_state,
            "by_pool": by_pool, "by_osd": by_osd}


def _load(step_dir: str, name: str) -> Any:
    path = os.path.join(step_dir, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def captured_at(step_dir: str) -> datetime:
    path = os.path.join(step_dir, "captured_at")
    if os.path.exists(path):
        with open(path) as f:
            return datetime.fromisoformat(f.read().strip().replace("Z", "+00:00"))
    return datetime.fromtimestamp(os.path.getmtime(step_dir), tz=UTC)


def sync_objects(step_dir: str) -> tuple[str, list[SyncObject]]:
    """The fsid and the sync objects of one capture step, in the order a collector sends them."""
    osd_dump = _load(step_dir, "osd_dump")
    fsid = osd_dump["fsid"]
    out: list[SyncObject] = []
    metadata = _load(step_dir, "osd_metadata")
    if metadata is not None:
        out.append(("osd_metadata", content_hash(metadata), metadata))
    out.append(("osd_map", osd_dump["epoch"], osd_dump))
    crush = _load(step_dir, "osd_crush_dump")
    if crush is not None:
        out.append(("crush_map", osd_dump["crush_version"], crush))
    health = _load(step_dir, "health_detail")
    if health is not None:
        out.append(("health", content_hash(health), health))
    mon_dump = _load(step_dir, "mon_dump")
    if mon_dump is not None:
        out.append(("mon_map", mon_dump["epoch"], mon_dump))
    quorum = _load(step_dir, "quorum_status")
    if quorum is not None:
        out.append(("mon_status", quorum["election_epoch"], quorum))
    fs_dump = _load(step_dir, "fs_dump")
    if fs_dump is not None:
        out.append(("fs_map", fs_dump["epoch"], fs_dump))
    config = _load(step_dir, "config_dump")
    if config is not None:
        out.append(("config", content_hash(config), config))
    pg_map = (_load(step_dir, "pg_summary") or {}).get("pg_map", {})
    brief = _load(step_dir, "pg_pgs_brief")
    if brief is not None:
        version = pg_map.get("version", 0)
        out.append(("pg_summary", version, reduce_pgs(brief["pg_stats"], version, pg_map.get("stamp", ""))))
        df = _load(step_dir, "df_detail")
        if df is not None:
            out.append(("df", version, df))
    return fsid, out


def capture_steps(root: str) -> list[str]:
    return [os.path.join(root, d) for d in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, d))]
