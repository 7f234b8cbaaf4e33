"""Planning pool requests: create, update (settings, quotas, rename) and delete."""

from __future__ import annotations

from typing import Any

from calamari.domain.model import ClusterModel
from calamari.domain.requests.cluster_facts import cluster_of, crush_rules, held_osd_map, live_pools
from calamari.domain.requests.expect import pool_field
from calamari.domain.requests.plan import Plan, RequestRejected, command
from calamari.domain.requests.pool_limits import pg_errors, pool_name_error, profile_k_and_size, size_errors


def plan_pool_create(model: ClusterModel, fsid: str, body: dict[str, Any]) -> Plan:
    """`body`: name, pg_num, and optionally pgp_num, size, min_size, crush_ruleset,
    erasure_code_profile, quota_max_objects, quota_max_bytes, pg_autoscale_mode."""
    cluster_of(model, fsid)
    errors: dict[str, str] = {}
    name = body["name"]
    name_error = pool_name_error(name)
    if name_error:
        errors["name"] = name_error
    elif any(p.name == name for p in live_pools(model, fsid).values()):
        raise RequestRejected(f"pool name {name!r} is in use", {"name": "a pool of this name exists"}, 409)
    rules = crush_rules(model, fsid)
    erasure = body.get("erasure_code_profile")
    args: dict[str, Any] = {"pool": name, "pg_num": body["pg_num"],
                            "pgp_num": body.get("pgp_num") or body["pg_num"]}
    expect_fields: dict[str, Any] = {}
    size = body.get("size")
    min_size = body.get("min_size")
    rule_id = body.get("crush_ruleset")
    if erasure is not None:
        osd_map = held_osd_map(model, fsid)
        if osd_map is None:
            raise RequestRejected("the OSD map has not been received yet; retry shortly", status=503)
        profiles = osd_map.get("erasure_code_profiles", {})
        if erasure not in profiles:
            errors["erasure_code_profile"] = f"unknown profile; known: {', '.join(sorted(profiles)) or 'none'}"
        else:
            k, k_m = profile_k_and_size(profiles[erasure])
            if size is not None and size != k_m:
                errors["size"] = f"an erasure-coded pool's size is k+m of its profile ({k_m})"
            if k_m and min_size is not None and not k <= min_size <= k_m:
                errors["min_size"] = f"must be between k ({k}) and k+m ({k_m}): fewer than k shards cannot serve data"
        args["pool_type"] = "erasure"
        args["erasure_code_profile"] = erasure
        expect_fields["type"] = 3
        expect_fields["erasure_code_profile"] = erasure
        if rule_id is not None:
            errors["crush_ruleset"] = "an erasure-coded pool gets the rule its profile makes"
    else:
        args["pool_type"] = "replicated"
        if rule_id is not None:
            rule = rules.get(rule_id)
            if rule is None:
                errors["crush_ruleset"] = f"no CRUSH rule {rule_id}"
            elif rule.get("type") != 1:
                errors["crush_ruleset"] = "not a replicated rule"
            else:
                args["rule"] = rule["rule_name"]
                expect_fields["crush_rule"] = rule_id
        errors.update(size_errors(rules.get(rule_id if rule_id is not None else 0), size, min_size, None, None))
    replicas = size or (k_m if erasure is not None and "erasure_code_profile" not in errors else 3)
    errors.update(pg_errors(model, fsid, body["pg_num"], body.get("pgp_num"), None,
                            body["pg_num"] * (replicas or 1)))
    if errors:
        raise RequestRejected("invalid pool", errors)
    commands = [command("osd pool create", **args)]
    if size is not None and erasure is None:
        commands.append(command("osd pool set", pool=name, var="size", val=str(size)))
        expect_fields["size"] = size
    if min_size is not None:
        commands.append(command("osd pool set", pool=name, var="min_size", val=str(min_size)))
        expect_fields["min_size"] = min_size
    if body.get("pg_autoscale_mode") is not None:
        commands.append(command("osd pool set", pool=name, var="pg_autoscale_mode", val=body["pg_autoscale_mode"]))
        expect_fields["pg_autoscale_mode"] = body["pg_autoscale_mode"]
    for quota in ("quota_max_objects", "quota_max_bytes"):
        if body.get(quota):
            commands.append(command("osd pool set-quota", pool=name, field=quota[len("quota_"):],
                                    val=str(body[quota])))
            expect_fields[quota] = body[quota]
    return Plan("create", f"Creating pool '{name}'", [f"pool-name:{name}"], commands,
                [{"check": "pool", "name": name, "fields": expect_fields}], body)


def get_pool(model: ClusterModel, fsid: str, pool_id: int) -> Any:
    cluster_of(model, fsid)
    pool = live_pools(model, fsid).get(pool_id)
    if pool is None:
        raise RequestRejected(f"no pool {pool_id} in cluster {fsid}", status=404)
    return pool


def plan_pool_update(model: ClusterModel, fsid: str, pool_id: int, body: dict[str, Any]) -> Plan | None:
    """None when the body asks for nothing that differs from the pool as it is."""
    pool = get_pool(model, fsid, pool_id)
    s = pool.settings
    # Ceph (since nautilus) moves pg_num and pgp_num step by step towards their targets: a change
    # is judged, and checked by Ceph, against the targets, not the values on the way.
    raw = model.pool_entry(fsid, pool_id) or {}
    pg_num, pgp_num = pool_field(raw, "pg_num") or s.get("pg_num"), pool_field(raw, "pgp_num") or s.get("pgp_num")
    current = {"name": pool.name, "size": s.get("size"), "min_size": s.get("min_size"),
               "pg_num": pg_num, "pgp_num": pgp_num, "crush_ruleset": s.get("crush_rule"),
               "hashpspool": s.get("hashpspool"), "pg_autoscale_mode": s.get("pg_autoscale_mode"),
               "quota_max_objects": pool.quota_max_objects, "quota_max_bytes": pool.quota_max_bytes}
    wanted = {k: v for k, v in body.items() if v is not None and current.get(k) != v}
    if not wanted:
        return None
    errors: dict[str, str] = {}
    rules = crush_rules(model, fsid)
    erasure = s.get("type") == "erasure"
    if "name" in wanted:
        name_error = pool_name_error(wanted["name"])
        if name_error:
            errors["name"] = name_error
        elif any(p.name == wanted["name"] for p in live_pools(model, fsid).values()):
            raise RequestRejected(f"pool name {wanted['name']!r} is in use", {"name": "a pool of this name exists"}, 409)
    if erasure and "size" in wanted:
        errors["size"] = "an erasure-coded pool's size is fixed by its profile"
    if "crush_ruleset" in wanted:
        rule = rules.get(wanted["crush_ruleset"])
        if rule is None:
            errors["crush_ruleset"] = f"no CRUSH rule {wanted['crush_ruleset']}"
        elif rule.get("type") != (3 if erasure else 1):
            errors["crush_ruleset"] = f"not a {'erasure' if erasure else 'replicated'} rule"
    rule = rules.get(wanted.get("crush_ruleset", s.get("crush_rule")))
    if not erasure:
        errors.update(size_errors(rule, wanted.get("size"), wanted.get("min_size"), s.get("size"), s.get("min_size")))
    elif "min_size" in wanted:
        profile = ((held_osd_map(model, fsid) or {}).get("erasure_code_profiles") or {}).get(
            s.get("erasure_code_profile") or "", {})
        k = profile_k_and_size(profile)[0] or 1
        if not k <= wanted["min_size"] <= (s.get("size") or 1):
            errors["min_size"] = f"must be between k ({k}) and size ({s.get('size')})"
    new_pg = wanted.get("pg_num")
    extra = ((new_pg - (pg_num or 0)) * (s.get("size") or 1)) if new_pg else 0
    errors.update(pg_errors(model, fsid, new_pg, wanted.get("pgp_num"), pg_num, extra))
    if errors:
        raise RequestRejected("invalid pool change", errors)
    name = pool.name
    commands: list[dict[str, Any]] = []
    fields: dict[str, Any] = {}
    # min_size before size when shrinking and after when growing, so each step is valid on its own;
    # the autoscaler's mode first, so that it cannot move a pg_num set in the same request
    order = ["pg_autoscale_mode", "pg_num", "pgp_num", "crush_ruleset", "hashpspool"]
    if "size" in wanted and wanted["size"] < (s.get("size") or 0):
        order = ["min_size", "size", *order]
    else:
        order = ["size", "min_size", *order]
    for key in order:
        if key not in wanted:
            continue
        value = wanted[key]
        var = "crush_rule" if key == "crush_ruleset" else key
        val = rules[value]["rule_name"] if key == "crush_ruleset" else value
        if isinstance(val, bool):
            val = "true" if val else "false"
        extra_args = {"yes_i_really_mean_it": True} if key == "hashpspool" else {}
        commands.append(command("osd pool set", pool=name, var=var, val=str(val), **extra_args))
        fields["crush_rule" if key == "crush_ruleset" else key] = value
    for quota in ("quota_max_objects", "quota_max_bytes"):
        if quota in wanted:
            commands.append(command("osd pool set-quota", pool=name, field=quota[len("quota_"):],
                                    val=str(wanted[quota])))
            fields[quota] = wanted[quota]
    targets = [f"pool:{pool_id}"]
    if "name" in wanted:
        commands.append(command("osd pool rename", srcpool=name, destpool=wanted["name"]))
        targets.append(f"pool-name:{wanted['name']}")
    expect = [{"check": "pool", "id": pool_id, "name": wanted.get("name", name), "fields": fields}]
    return Plan("update", f"Updating pool '{name}'", targets, commands, expect, wanted)


def plan_pool_delete(model: ClusterModel, fsid: str, pool_id: int) -> Plan:
    pool = get_pool(model, fsid, pool_id)
    raw = model.pool_entry(fsid, pool_id) or {}
    if "nodelete" in str(raw.get("flags_names", "")).split(","):
        raise RequestRejected("the pool has the nodelete flag set", {"id": "pool is protected by nodelete"}, 409)
    return Plan("delete", f"Deleting pool '{pool.name}'", [f"pool:{pool_id}"],
                [command("osd pool delete", pool=pool.name, pool2=pool.name, yes_i_really_really_mean_it=True)],
                [{"check": "pool_gone", "id": pool_id}], {"id": pool_id, "name": pool.name})
