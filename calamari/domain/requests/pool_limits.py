"""What a pool may be: its name, its PG counts (powers of two, Ceph's per-pool and per-OSD limits)
and its size and min_size (the CRUSH rule's limits, an erasure-code profile's k and k+m)."""

from __future__ import annotations

import re
from typing import Any

from calamari.domain.model import ClusterModel
from calamari.domain.requests.cluster_facts import config_value, live_pools

POOL_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")  # Calamari's own rule, stricter than Ceph's


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def pg_errors(model: ClusterModel, fsid: str, pg_num: int | None, pgp_num: int | None,
              current_pg: int | None, extra_pgs: int) -> dict[str, str]:
    errors: dict[str, str] = {}
    if pg_num is not None:
        limit = config_value(model, fsid, "mon_max_pool_pg_num")
        if not _is_power_of_two(pg_num):
            errors["pg_num"] = "must be a power of two"
        elif pg_num > limit:
            errors["pg_num"] = f"must be at most {limit} (mon_max_pool_pg_num)"
    effective_pg = pg_num if pg_num is not None else current_pg
    if pgp_num is not None and effective_pg is not None and pgp_num > effective_pg:
        errors["pgp_num"] = f"must not exceed pg_num ({effective_pg})"
    if extra_pgs > 0 and "pg_num" not in errors:
        osds_in = sum(1 for o in model.osds.get(fsid, {}).values() if o.in_ and not o.removed)
        per_osd = config_value(model, fsid, "mon_max_pg_per_osd")
        total = sum((p.settings.get("pg_num") or 0) * (p.settings.get("size") or 1)
                    for p in live_pools(model, fsid).values()) + extra_pgs
        if osds_in and total > per_osd * osds_in:
            errors["pg_num"] = (f"would make {total} PG replicas on {osds_in} OSDs in, more than "
                                f"mon_max_pg_per_osd ({per_osd}) allows")
    return errors


def pool_name_error(name: str) -> str | None:
    """Why a pool may not be created with, or renamed to, `name`; None if it may. Ceph's monitor
    refuses an empty name and, for `osd pool create` and `osd pool rename`, a name beginning with
    '.' (reserved for Ceph's own pools such as .mgr; it answers success without doing anything, so
    the request would never complete). It accepts a leading '-', and so does Calamari."""
    if not POOL_NAME_RE.match(name):
        return "1-100 letters, digits, '-', '_' or '.'"
    if name.startswith("."):
        return "must not begin with '.': Ceph reserves such names for its own pools"
    return None


def profile_k_and_size(profile: dict[str, Any]) -> tuple[int, int]:
    """An erasure-code profile's k (data shards) and k+m (its pools' size); 0s when unreadable."""
    try:
        k, m = int(profile.get("k", 0)), int(profile.get("m", 0))
    except (TypeError, ValueError):
        return 0, 0
    return k, k + m


def size_errors(rule: dict[str, Any] | None, size: int | None, min_size: int | None,
                current_size: int | None, current_min: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    low, high = (rule.get("min_size", 1), rule.get("max_size", 10)) if rule else (1, 10)
    if size is not None and not low <= size <= high:
        errors["size"] = f"must be between {low} and {high} (the CRUSH rule's limits)"
    effective = size if size is not None else current_size
    if min_size is not None and effective is not None and min_size > effective:
        errors["min_size"] = f"must not exceed size ({effective})"
    if size is not None and min_size is None and current_min is not None and current_min > size:
        errors["size"] = f"must not be below min_size ({current_min}); lower min_size as well"
    return errors
