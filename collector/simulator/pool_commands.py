"""The pool commands of the simulated cluster (`osd pool create|set|rename|delete|set-quota`),
with the outcomes and messages a Pacific monitor gives."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import EEXIST, EINVAL, ENOENT, EPERM, STATE_CREATING, Reply
from collector.simulator.pgs import MAX_ACTING
from collector.simulator.pool import SimPool, no_such_pool
from collector.simulator.state import ClusterState, Handler


def _pool_changed(state: ClusterState, pool: SimPool) -> None:
    """A pool's settings changed: a new OSD map epoch with a new entry for it."""
    state.bump_epoch()
    pool.last_change = state.epoch
    state.pool_entries.pop(pool.pool_id, None)


def pool_create(state: ClusterState, args: dict[str, Any]) -> Reply:
    name = args["pool"]
    if not isinstance(name, str) or not name:
        return -EINVAL, "", "pool name must be a non-empty string"
    if state.pool_by_name(name) is not None:
        return 0, "", f"pool '{name}' already exists"
    pg_num = int(args.get("pg_num", 32))
    if not 1 <= pg_num <= 65536:
        return -EINVAL, "", f"pg_num {pg_num} out of range"
    erasure = args.get("pool_type", "replicated") == "erasure"
    size = int(args["size"]) if "size" in args else None
    rule = state.crush.rule_by_name(args["rule"]) if args.get("rule") else None
    if args.get("rule") and rule is None:
        return -ENOENT, "", f"specified rule {args['rule']} doesn't exist"
    pool = state.new_pool(name, pg_num, erasure=erasure, size=size)
    if rule is not None:
        pool.crush_rule = rule["rule_id"]
    state.bump_epoch()
    pool.last_change = state.epoch
    state.log.record(f"osd pool create {name} {pg_num}: pool '{name}' created")
    return 0, "", f"pool '{name}' created"


def pool_set(state: ClusterState, args: dict[str, Any]) -> Reply:
    pool = state.pool_by_name(args["pool"])
    if pool is None:
        return no_such_pool(args["pool"])
    var, raw = args["var"], str(args["val"])
    if var in ("size", "min_size", "pg_num", "pgp_num"):
        value = int(raw)
        if var == "size":
            if not 1 <= value <= MAX_ACTING or value > len(state.osd_up):
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
                state.pgs.add(pool, value - pool.pg_num, STATE_CREATING)
            elif value < pool.pg_num:
                state.pgs.remove(pool, pool.pg_num - value)
            pool.pg_num = value
    elif var == "crush_rule":
        rule = state.crush.rule_by_name(raw) or next((r for r in state.crush.rules if str(r["rule_id"]) == raw), None)
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
    _pool_changed(state, pool)
    return 0, "", f"set pool {pool.pool_id} {var} to {raw}"


def pool_rename(state: ClusterState, args: dict[str, Any]) -> Reply:
    source, destination = args["srcpool"], args["destpool"]
    pool = state.pool_by_name(source)
    if pool is None:
        if state.pool_by_name(destination) is not None:
            return 0, "", f"pool '{source}' does not exist; pool '{destination}' does already exist"
        return no_such_pool(source)
    if state.pool_by_name(destination) is not None:
        return -EEXIST, "", f"pool '{destination}' already exists"
    pool.name = destination
    _pool_changed(state, pool)
    return 0, "", f"pool '{source}' renamed to '{destination}'"


def pool_delete(state: ClusterState, args: dict[str, Any]) -> Reply:
    name = args["pool"]
    pool = state.pool_by_name(name)
    if pool is None:
        return 0, "", f"pool '{name}' does not exist"
    if args.get("pool2") != name or not args.get("yes_i_really_really_mean_it"):
        return -EPERM, "", (
            f"WARNING: this will *PERMANENTLY DESTROY* all data stored in pool {name}.  If you are "
            "*ABSOLUTELY CERTAIN* that is what you want, pass the pool name *twice*, followed by "
            "--yes-i-really-really-mean-it."
        )
    state.pgs.remove(pool, len(pool.pg_indexes))
    del state.pools[pool.pool_id]
    state.pool_entries.pop(pool.pool_id, None)
    state.bump_epoch()
    return 0, "", f"pool '{name}' removed"


def pool_set_quota(state: ClusterState, args: dict[str, Any]) -> Reply:
    pool = state.pool_by_name(args["pool"])
    if pool is None:
        return no_such_pool(args["pool"])
    field_name, value = args["field"], int(args["val"])
    if value < 0:
        return -EINVAL, "", "quota must be >= 0"
    if field_name == "max_bytes":
        pool.quota_max_bytes = value
    elif field_name == "max_objects":
        pool.quota_max_objects = value
    else:
        return -EINVAL, "", "field must be max_bytes or max_objects"
    _pool_changed(state, pool)
    return 0, "", f"set-quota {field_name} = {value} for pool {pool.name}"


POOL_COMMANDS: dict[str, Handler] = {
    "osd pool create": pool_create,
    "osd pool set": pool_set,
    "osd pool rename": pool_rename,
    "osd pool delete": pool_delete,
    "osd pool rm": pool_delete,
    "osd pool set-quota": pool_set_quota,
}
