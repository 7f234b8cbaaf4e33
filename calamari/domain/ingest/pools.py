"""The pools of an OSD map: a pool's settings as the model keeps them, and one pool's entry
diffed into events (created, reappeared, renamed, settings and quota changed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calamari.domain import ids
from calamari.domain.maps import PoolEntry
from calamari.domain.model_state import ModelState
from calamari.domain.pool import POOL_SETTINGS, Pool

POOL_TYPES = {1: "replicated", 3: "erasure"}


def pool_settings(entry: PoolEntry) -> dict[str, Any]:
    flags = [f for f in entry.flags_names.split(",") if f]
    return {
        "type": POOL_TYPES.get(entry.type, str(entry.type)),
        "size": entry.size,
        "min_size": entry.min_size,
        "pg_num": entry.pg_num,
        "pgp_num": entry.pg_placement_num,
        "crush_rule": entry.crush_rule,
        "erasure_code_profile": entry.erasure_code_profile,
        "hashpspool": "hashpspool" in flags,
        "full": "full" in flags or "full_quota" in flags,
        "pg_autoscale_mode": entry.pg_autoscale_mode,
        "application": sorted(entry.application_metadata),
        "target_max_bytes": entry.target_max_bytes,
        "target_max_objects": entry.target_max_objects,
    }


def diff_pool(model: ModelState, fsid: str, pool: Pool | None, e: PoolEntry, epoch: int, at: datetime) -> None:
    settings = pool_settings(e)
    if pool is None:
        model.create(Pool, Pool.PoolCreated, ids.pool_id(fsid, e.pool), at, fsid=fsid,
                     pool_id=e.pool, name=e.pool_name, settings=settings,
                     quota_max_bytes=e.quota_max_bytes, quota_max_objects=e.quota_max_objects,
                     epoch=epoch)
        return
    if pool.deleted:
        # Older maps never get here (ingest refuses them), so the newest map is the truth
        # even where Ceph would not reuse an id (a cluster rebuilt under the same fsid).
        model.emit(pool, Pool.PoolReappeared, at, epoch=epoch, name=e.pool_name, settings=settings,
                   quota_max_bytes=e.quota_max_bytes, quota_max_objects=e.quota_max_objects)
        return
    if e.pool_name != pool.name:
        model.emit(pool, Pool.PoolRenamed, at, epoch=epoch, name=e.pool_name, previous=pool.name)
    changes = {k: [pool.settings.get(k), settings[k]] for k in POOL_SETTINGS
               if pool.settings.get(k) != settings[k]}
    if changes:
        model.emit(pool, Pool.PoolSettingsChanged, at, epoch=epoch, changes=changes)
    if (e.quota_max_bytes, e.quota_max_objects) != (pool.quota_max_bytes, pool.quota_max_objects):
        model.emit(pool, Pool.PoolQuotaChanged, at, epoch=epoch, quota_max_bytes=e.quota_max_bytes,
                   quota_max_objects=e.quota_max_objects)
