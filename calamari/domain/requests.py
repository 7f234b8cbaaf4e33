"""Planning user requests: a validated change (already type-checked by the API's schemas) checked
against the cluster's current state, turned into the Ceph commands to run and the condition an
OSD map must show for the request to count as done.

Pure: reads the model, returns plans; raises RequestRejected with per-field reasons."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from calamari.crush.model import CrushText, CrushTextError
from calamari.crush.text_parse import parse_crush_text
from calamari.domain.model import ClusterModel
from calamari.domain.user_request import COMPLETE

POOL_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")  # Calamari's own rule, stricter than Ceph's
OSD_FLAGS = ("pause", "noup", "nodown", "noout", "noin", "nobackfill", "norebalance", "norecover",
             "noscrub", "nodeep-scrub", "nosnaptrim")
OSD_COMMANDS = {"scrub": "osd scrub", "deep_scrub": "osd deep-scrub", "repair": "osd repair"}
# Ceph's defaults when the cluster's configuration does not set them.
CONFIG_DEFAULTS = {"mon_max_pool_pg_num": 65536, "mon_max_pg_per_osd": 250}
REWEIGHT_STEP = 1 / 0x10000  # Ceph stores reweights as 16.16 fixed point


class RequestRejected(ValueError):
    """A change that must not be sent. `status`: 400 invalid, 404 unknown object, 409 conflict,
    503 the cluster has not told us enough yet."""

    def __init__(self, detail: str, errors: dict[str, str] | None = None, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        self.status = status


@dataclass
class Plan:
    kind: str
    headline: str
    targets: list[str]  # objects the request changes (two open requests may not share one)
    commands: list[dict[str, Any]]
    expect: list[dict[str, Any]] = field(default_factory=list)  # empty: done when commands succeed
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return ",".join(self.targets)


def command(prefix: str, **args: Any) -> dict[str, Any]:
    return {"prefix": prefix, "args": args, "target": "mon"}


# ---------------------------------------------------------------------------- cluster facts

def _cluster(model: ClusterModel, fsid: str) -> Any:
    cluster = model.clusters.get(fsid)
    if cluster is None:
        raise RequestRejected(f"no cluster {fsid}", status=404)
    return cluster


def _config_value(model: ClusterModel, fsid: str, key: str) -> int:
    cluster = _cluster(model, fsid)
    if "config" not in model.held.get(fsid, {}) and not cluster.config:
        raise RequestRejected("the cluster's configuration has not been received yet; retry shortly", status=503)
    raw = cluster.config.get(key) or cluster.config.get(f"mon/{key}")
    try:
        return int(raw) if raw is not None else CONFIG_DEFAULTS[key]
    except ValueError:
        return CONFIG_DEFAULTS[key]


def _rules(model: ClusterModel, fsid: str) -> dict[int, dict[str, Any]]:
    return {r["rule_id"]: r for r in _cluster(model, fsid).crush.get("rules", [])}


def _live_pools(model: ClusterModel, fsid: str) -> dict[int, Any]:
    return {pid: p for pid, p in model.pools.get(fsid, {}).items() if not p.deleted}


def _osd_map(model: ClusterModel, fsid: str) -> dict[str, Any] | None:
    held = model.held.get(fsid, {}).get("osd_map")
    return held[1] if held else None


def _osd_map_epoch(model: ClusterModel, fsid: str) -> int:
    held = model.held.get(fsid, {}).get("osd_map")
    return int(held[0]) if held else 0


def open_targets(model: ClusterModel, fsid: str) -> dict[str, str]:
    """Objects that unfinished requests of the cluster are changing -> the request's id."""
    busy: dict[str, str] = {}
    for req in model.open_requests():
        if req.fsid == fsid and req.state != COMPLETE:
            for target in req.target.split(","):
                if target:
                    busy[target] = req.request_id
    return busy


def _overlaps(target: str, busy_target: str) -> bool:
    # replacing the whole CRUSH map conflicts with every other CRUSH change, and they with it
    if CRUSH_MAP_TARGET in (target, busy_target):
        return target.startswith("crush-") and busy_target.startswith("crush-")
    return target == busy_target


def check_conflicts(model: ClusterModel, fsid: str, plan: Plan) -> None:
    busy = open_targets(model, fsid)
    for target in plan.targets:
        holder = busy.get(target) or next((busy[b] for b in busy if _overlaps(target, b)), None)
        if holder is not None:
            raise RequestRejected(f"request {holder} is still changing {target}; wait for it to finish",
                                  {"request": holder}, status=409)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _pg_errors(model: ClusterModel, fsid: str, pg_num: int | None, pgp_num: int | None,
               current_pg: int | None, extra_pgs: int) -> dict[str, str]:
    errors: dict[str, str] = {}
    if pg_num is not None:
        limit = _config_value(model, fsid, "mon_max_pool_pg_num")
        if not _is_power_of_two(pg_num):
            errors["pg_num"] = "must be a power of two"
        elif pg_num > limit:
            errors["pg_num"] = f"must be at most {limit} (mon_max_pool_pg_num)"
    effective_pg = pg_num if pg_num is not None else current_pg
    if pgp_num is not None and effective_pg is not None and pgp_num > effective_pg:
        errors["pgp_num"] = f"must not exceed pg_num ({effective_pg})"
    if extra_pgs > 0 and "pg_num" not in errors:
        osds_in = sum(1 for o in model.osds.get(fsid, {}).values() if o.in_ and not o.removed)
        per_osd = _config_value(model, fsid, "mon_max_pg_per_osd")
        total = sum((p.settings.get("pg_num") or 0) * (p.settings.get("size") or 1)
                    for p in _live_pools(model, fsid).values()) + extra_pgs
        if osds_in and total > per_osd * osds_in:
            errors["pg_num"] = (f"would make {total} PG replicas on {osds_in} OSDs in, more than "
                                f"mon_max_pg_per_osd ({per_osd}) allows")
    return errors


# ---------------------------------------------------------------------------- pools

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


def plan_pool_create(model: ClusterModel, fsid: str, body: dict[str, Any]) -> Plan:
    """`body`: name, pg_num, and optionally pgp_num, size, min_size, crush_ruleset,
    erasure_code_profile, quota_max_objects, quota_max_bytes, pg_autoscale_mode."""
    _cluster(model, fsid)
    errors: dict[str, str] = {}
    name = body["name"]
    name_error = pool_name_error(name)
    if name_error:
        errors["name"] = name_error
    elif any(p.name == name for p in _live_pools(model, fsid).values()):
        raise RequestRejected(f"pool name {name!r} is in use", {"name": "a pool of this name exists"}, 409)
    rules = _rules(model, fsid)
    erasure = body.get("erasure_code_profile")
    args: dict[str, Any] = {"pool": name, "pg_num": body["pg_num"],
                            "pgp_num": body.get("pgp_num") or body["pg_num"]}
    expect_fields: dict[str, Any] = {}
    size = body.get("size")
    min_size = body.get("min_size")
    rule_id = body.get("crush_ruleset")
    if erasure is not None:
        osd_map = _osd_map(model, fsid)
        if osd_map is None:
            raise RequestRejected("the OSD map has not been received yet; retry shortly", status=503)
        profiles = osd_map.get("erasure_code_profiles", {})
        if erasure not in profiles:
            errors["erasure_code_profile"] = f"unknown profile; known: {', '.join(sorted(profiles)) or 'none'}"
        else:
            k, k_m = _profile_k_and_size(profiles[erasure])
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
        errors.update(_size_errors(rules.get(rule_id if rule_id is not None else 0), size, min_size, None, None))
    replicas = size or (k_m if erasure is not None and "erasure_code_profile" not in errors else 3)
    errors.update(_pg_errors(model, fsid, body["pg_num"], body.get("pgp_num"), None,
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


def _profile_k_and_size(profile: dict[str, Any]) -> tuple[int, int]:
    """An erasure-code profile's k (data shards) and k+m (its pools' size); 0s when unreadable."""
    try:
        k, m = int(profile.get("k", 0)), int(profile.get("m", 0))
    except (TypeError, ValueError):
        return 0, 0
    return k, k + m


def _size_errors(rule: dict[str, Any] | None, size: int | None, min_size: int | None,
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


def get_pool(model: ClusterModel, fsid: str, pool_id: int) -> Any:
    _cluster(model, fsid)
    pool = _live_pools(model, fsid).get(pool_id)
    if pool is None:
        raise RequestRejected(f"no pool {pool_id} in cluster {fsid}", status=404)
    return pool


def plan_pool_update(model: ClusterModel, fsid: str, pool_id: int, body: dict[str, Any]) -> Plan | None:
    """None when the body asks for nothing that differs from the pool as it is."""
    pool = get_pool(model, fsid, pool_id)
    s = pool.settings
    # Ceph (since nautilus) moves pg_num and pgp_num step by step towards their targets: a change
    # is judged, and checked by Ceph, against the targets, not the values on the way.
    raw = model._pool_entries.get(fsid, {}).get(pool_id) or {}
    pg_num, pgp_num = _pool_field(raw, "pg_num") or s.get("pg_num"), _pool_field(raw, "pgp_num") or s.get("pgp_num")
    current = {"name": pool.name, "size": s.get("size"), "min_size": s.get("min_size"),
               "pg_num": pg_num, "pgp_num": pgp_num, "crush_ruleset": s.get("crush_rule"),
               "hashpspool": s.get("hashpspool"), "pg_autoscale_mode": s.get("pg_autoscale_mode"),
               "quota_max_objects": pool.quota_max_objects, "quota_max_bytes": pool.quota_max_bytes}
    wanted = {k: v for k, v in body.items() if v is not None and current.get(k) != v}
    if not wanted:
        return None
    errors: dict[str, str] = {}
    rules = _rules(model, fsid)
    erasure = s.get("type") == "erasure"
    if "name" in wanted:
        name_error = pool_name_error(wanted["name"])
        if name_error:
            errors["name"] = name_error
        elif any(p.name == wanted["name"] for p in _live_pools(model, fsid).values()):
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
        errors.update(_size_errors(rule, wanted.get("size"), wanted.get("min_size"), s.get("size"), s.get("min_size")))
    elif "min_size" in wanted:
        profile = ((_osd_map(model, fsid) or {}).get("erasure_code_profiles") or {}).get(
            s.get("erasure_code_profile") or "", {})
        k = _profile_k_and_size(profile)[0] or 1
        if not k <= wanted["min_size"] <= (s.get("size") or 1):
            errors["min_size"] = f"must be between k ({k}) and size ({s.get('size')})"
    new_pg = wanted.get("pg_num")
    extra = ((new_pg - (pg_num or 0)) * (s.get("size") or 1)) if new_pg else 0
    errors.update(_pg_errors(model, fsid, new_pg, wanted.get("pgp_num"), pg_num, extra))
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
    raw = model._pool_entries.get(fsid, {}).get(pool_id) or {}
    if "nodelete" in str(raw.get("flags_names", "")).split(","):
        raise RequestRejected("the pool has the nodelete flag set", {"id": "pool is protected by nodelete"}, 409)
    return Plan("delete", f"Deleting pool '{pool.name}'", [f"pool:{pool_id}"],
                [command("osd pool delete", pool=pool.name, pool2=pool.name, yes_i_really_really_mean_it=True)],
                [{"check": "pool_gone", "id": pool_id}], {"id": pool_id, "name": pool.name})


# ---------------------------------------------------------------------------- OSDs

def get_osd(model: ClusterModel, fsid: str, osd_id: int) -> Any:
    _cluster(model, fsid)
    osd = model.osds.get(fsid, {}).get(osd_id)
    if osd is None or osd.removed:
        raise RequestRejected(f"no OSD {osd_id} in cluster {fsid}", status=404)
    return osd


def plan_osd_update(model: ClusterModel, fsid: str, osd_id: int, body: dict[str, Any]) -> Plan | None:
    """`body`: up (false only), in, reweight (0..1). None when nothing would change."""
    osd = get_osd(model, fsid, osd_id)
    commands: list[dict[str, Any]] = []
    fields: dict[str, Any] = {}
    ids_arg = [str(osd_id)]
    if body.get("up") is True and not osd.up:
        raise RequestRejected("an OSD cannot be marked up; it comes up by itself when its daemon runs",
                              {"up": "may only be set to false"})
    if body.get("up") is False and osd.up:
        commands.append(command("osd down", ids=ids_arg))
        fields["up"] = 0
    if body.get("in") is not None and body["in"] != osd.in_:
        commands.append(command("osd in" if body["in"] else "osd out", ids=ids_arg))
        fields["in"] = int(body["in"])
    reweight = body.get("reweight")
    if reweight is not None and abs(reweight - osd.reweight) >= REWEIGHT_STEP:
        if fields.get("in") == 0 or (not osd.in_ and "in" not in fields):
            raise RequestRejected("an OSD that is out has no reweight to set", {"reweight": "the OSD is out"})
        commands.append(command("osd reweight", id=osd_id, weight=reweight))
        fields["weight"] = reweight
    if not commands:
        return None
    changes = ", ".join(f"{k}={v}" for k, v in body.items() if v is not None)
    return Plan("update", f"Modifying osd.{osd_id} ({changes})", [f"osd:{osd_id}"], commands,
                [{"check": "osd", "id": osd_id, "fields": fields, "after": _osd_map_epoch(model, fsid)}], body)


def valid_osd_commands(osd: Any) -> list[str]:
    return list(OSD_COMMANDS) if osd.up and not osd.removed else []


def plan_osd_command(model: ClusterModel, fsid: str, osd_ids: list[int], name: str) -> Plan:
    if name not in OSD_COMMANDS:
        raise RequestRejected(f"unknown OSD command {name!r}", {"command": f"one of {', '.join(OSD_COMMANDS)}"},
                              status=404)
    if not osd_ids:
        raise RequestRejected("no OSDs given", {"ids": "give at least one OSD id"})
    errors: dict[str, str] = {}
    osds = [get_osd(model, fsid, i) for i in osd_ids]
    for osd in osds:
        if name not in valid_osd_commands(osd):
            errors[f"osd.{osd.osd_id}"] = f"cannot {name.replace('_', '-')} a down OSD"
    if errors:
        raise RequestRejected(f"cannot run {name}", errors, status=400)
    label = ", ".join(f"osd.{i}" for i in osd_ids)
    # Scrubs leave the OSD map alone: the request is done when Ceph accepts the instruction.
    return Plan(name, f"Initiating {name.replace('_', ' ')} on {label}", [f"osd-{name}:{i}" for i in osd_ids],
                [command(OSD_COMMANDS[name], who=str(i)) for i in osd_ids], [], {"ids": osd_ids, "command": name})


# ---------------------------------------------------------------------------- cluster flags

def osd_flags(cluster_flags: list[str]) -> dict[str, bool]:
    present = set(cluster_flags)
    flags = {f: f in present for f in OSD_FLAGS}
    flags["pause"] = {"pauserd", "pausewr"} <= present
    return flags


def plan_osd_config(model: ClusterModel, fsid: str, body: dict[str, bool]) -> Plan | None:
    cluster = _cluster(model, fsid)
    current = osd_flags(cluster.flags)
    unknown = [k for k in body if k not in OSD_FLAGS]
    if unknown:
        raise RequestRejected("unknown OSD flags", {k: f"not an OSD flag; known: {', '.join(OSD_FLAGS)}" for k in unknown})
    wanted = {k: v for k, v in body.items() if v is not None and current[k] != v}
    if not wanted:
        return None
    commands = [command("osd set" if v else "osd unset", key=k) for k, v in sorted(wanted.items())]
    to_set = [f for k, v in wanted.items() if v for f in (("pauserd", "pausewr") if k == "pause" else (k,))]
    to_unset = [f for k, v in wanted.items() if not v for f in (("pauserd", "pausewr") if k == "pause" else (k,))]
    words = ", ".join(f"{'set' if v else 'unset'} {k}" for k, v in sorted(wanted.items()))
    return Plan("update", f"Updating OSD flags ({words})", ["osd_flags"], commands,
                [{"check": "flags", "set": sorted(to_set), "unset": sorted(to_unset)}], wanted)


# ---------------------------------------------------------------------------- completion

def _pool_field(entry: dict[str, Any], key: str) -> Any:
    if key == "pg_num":
        return entry.get("pg_num_target", entry.get("pg_num"))
    if key == "pgp_num":
        return entry.get("pg_placement_num_target", entry.get("pg_placement_num"))
    if key == "hashpspool":
        return "hashpspool" in str(entry.get("flags_names", "")).split(",")
    return entry.get(key)


def expectation_met(expect: list[dict[str, Any]], osd_map: dict[str, Any] | None, version: Any = None) -> bool:
    """Does this map (the document as Ceph gives it: the OSD map, or the CRUSH map for CRUSH
    changes, see awaited_sync_object), of this version, show every expected change?"""
    if not expect:
        return True
    if not isinstance(osd_map, dict):
        return False
    pools = {p.get("pool"): p for p in osd_map.get("pools", []) if isinstance(p, dict)}
    for check in expect:
        kind = check["check"]
        if kind == "crush_map":
            if not crush_map_expectation_met(check, osd_map, version):
                return False
        elif kind in CRUSH_CHECKS:
            if not crush_expectation_met(check, osd_map):
                return False
        elif kind == "pool":
            if "id" in check:
                entry = pools.get(check["id"])
                if entry is None or entry.get("pool_name") != check["name"]:
                    return False
            else:
                entry = next((p for p in pools.values() if p.get("pool_name") == check["name"]), None)
                if entry is None:
                    return False
            for key, value in check["fields"].items():
                if key == "pg_num" and entry.get("pg_autoscale_mode") == "on" and key not in ("pgp_num",):
                    continue  # the autoscaler owns pg_num; Ceph may already be moving it elsewhere
                if _pool_field(entry, key) != value:
                    return False
        elif kind == "pool_gone":
            if check["id"] in pools:
                return False
        elif kind == "osd":
            entry = next((o for o in osd_map.get("osds", []) if isinstance(o, dict) and o.get("osd") == check["id"]),
                         None)
            if entry is None:
                return False
            for key, value in check["fields"].items():
                if key == "up":
                    # a healthy daemon marked down comes back at once: a later down_at shows it happened
                    if entry.get("up") != 0 and int(entry.get("down_at") or 0) <= check.get("after", 0):
                        return False
                elif key == "weight":
                    if abs(float(entry.get("weight", -1)) - value) > REWEIGHT_STEP:
                        return False
                elif entry.get(key) != value:
                    return False
        elif kind == "flags":
            present = set(str(osd_map.get("flags", "")).split(","))
            if not set(check["set"]) <= present or set(check["unset"]) & present:
                return False
        else:
            return False
    return True


# ---------------------------------------------------------------------------- CRUSH

CRUSH_NAME_RE = re.compile(r"^[-_.0-9a-zA-Z]{1,100}$")  # Ceph's valid CRUSH names, with a length limit
CRUSH_NAME_REASON = "1-100 letters, digits, '-', '_' or '.'"
DEVICE_TYPE_ID = 0  # CRUSH type 0 is the device (osd) type: not a bucket type


@dataclass
class CrushView:
    """The cluster's CRUSH map as the planner needs it: buckets (shadow trees left out), their
    parents, types, rules and device classes."""

    buckets: dict[int, dict[str, Any]]
    parent: dict[int, int]
    types: dict[str, int]
    rules: dict[int, dict[str, Any]]
    classes: set[str]
    device_names: set[str]
    shadows: dict[int | str, str] = field(default_factory=dict)  # shadow buckets' ids and names -> name

    def by_name(self, name: str) -> dict[str, Any] | None:
        return next((b for b in self.buckets.values() if b["name"] == name), None)

    def name_in_use(self, name: str) -> bool:
        return self.by_name(name) is not None or name in self.device_names

    def no_node(self, ref: int | str) -> str:
        """Why `ref` names no bucket the planner may use: a per-class shadow bucket (`default~hdd`,
        which GET lists) is Ceph's own copy of its bucket, changed only through that bucket."""
        shadow = self.shadows.get(ref)
        if shadow is not None:
            base, _, device_class = shadow.rpartition("~")
            return (f"CRUSH node {shadow!r} is the {device_class} shadow of {base!r}, which Ceph keeps in step "
                    f"with it: change {base!r} instead")
        return f"no CRUSH node {ref!r}"

    def subtree_contains(self, top: int, node: int) -> bool:
        current: int | None = node
        for _ in range(64):
            if current is None:
                return False
            if current == top:
                return True
            current = self.parent.get(current)
        return False

    def rules_taking(self, bucket: dict[str, Any]) -> list[str]:
        names = {bucket["name"], *(f"{bucket['name']}~{c}" for c in self.classes)}
        return [r["rule_name"] for r in self.rules.values()
                if any(s.get("op") == "take" and s.get("item_name") in names for s in r.get("steps", []))]


def crush_view(model: ClusterModel, fsid: str) -> CrushView:
    cluster = _cluster(model, fsid)
    crush = cluster.crush
    if not crush:
        raise RequestRejected("the CRUSH map has not been received yet; retry shortly", status=503)
    buckets = {b["id"]: b for b in crush.get("buckets", []) if "~" not in b["name"]}
    shadows: dict[int | str, str] = {}
    for b in crush.get("buckets", []):
        if "~" in b["name"]:
            shadows[b["id"]] = shadows[b["name"]] = b["name"]
    parent = {i["id"]: b["id"] for b in buckets.values() for i in b.get("items", [])}
    held = model.held.get(fsid, {}).get("crush_map")
    devices = held[1].get("devices", []) if held and isinstance(held[1], dict) else []
    return CrushView(buckets, parent, {t["name"]: t["type_id"] for t in crush.get("types", [])},
                     {r["rule_id"]: r for r in crush.get("rules", [])},
                     {d["class"] for d in devices if d.get("class")}, {d["name"] for d in devices}, shadows)


def _check_crush_name(name: str, field_name: str, errors: dict[str, str]) -> None:
    if not CRUSH_NAME_RE.match(name):
        errors[field_name] = CRUSH_NAME_REASON


def _find_node(view: CrushView, ref: int | str) -> dict[str, Any] | None:
    return view.buckets.get(ref) if isinstance(ref, int) else view.by_name(ref)


def plan_crush_rule_create(model: ClusterModel, fsid: str, body: dict[str, Any]) -> Plan:
    """`body`: name and either root, failure_domain (default host) and device_class for a
    replicated rule, or erasure_code_profile for an erasure rule (the profile names its root,
    failure domain and device class)."""
    view = crush_view(model, fsid)
    name = body["name"]
    errors: dict[str, str] = {}
    _check_crush_name(name, "name", errors)
    profile = body.get("erasure_code_profile")
    kind = body.get("type") or ("erasure" if profile is not None else "replicated")
    if kind == "erasure":
        for key in ("root", "failure_domain", "device_class"):
            if body.get(key) is not None:
                errors[key] = "an erasure rule takes this from its erasure code profile"
        profiles = (_osd_map(model, fsid) or {}).get("erasure_code_profiles", {})
        if profile is None:
            errors["erasure_code_profile"] = "required for an erasure rule"
        elif profile not in profiles:
            errors["erasure_code_profile"] = f"unknown profile; known: {', '.join(sorted(profiles)) or 'none'}"
        else:
            root = profiles[profile].get("crush-root") or "default"
            if view.by_name(root) is None:
                errors["erasure_code_profile"] = f"the profile's crush-root {root!r} is not a CRUSH node"
        args: dict[str, Any] = {"name": name, "profile": profile}
        prefix = "osd crush rule create-erasure"
    else:
        if profile is not None:
            errors["erasure_code_profile"] = "only for an erasure rule"
        root, domain, device_class = body.get("root"), body.get("failure_domain") or "host", body.get("device_class")
        if root is None:
            errors["root"] = "required: the name of the CRUSH node to place data under"
        elif view.by_name(root) is None:
            errors["root"] = f"no CRUSH node named {root!r}"
        if domain not in view.types:
            errors["failure_domain"] = f"unknown CRUSH type; known: {', '.join(view.types)}"
        if device_class is not None and device_class not in view.classes:
            errors["device_class"] = f"no device has this class; known: {', '.join(sorted(view.classes)) or 'none'}"
        args = {"name": name, "root": root, "type": domain}
        if device_class is not None:
            args["class"] = device_class
        prefix = "osd crush rule create-replicated"
    if errors:
        raise RequestRejected("invalid CRUSH rule", errors)
    if any(r["rule_name"] == name for r in view.rules.values()):
        raise RequestRejected(f"CRUSH rule name {name!r} is in use", {"name": "a rule of this name exists"}, 409)
    return Plan("create", f"Creating CRUSH rule '{name}'", [f"crush-rule-name:{name}"], [command(prefix, **args)],
                [{"check": "crush_rule", "name": name}], {**body, "type": kind})


def get_crush_rule(model: ClusterModel, fsid: str, rule_id: int) -> dict[str, Any]:
    rule = crush_view(model, fsid).rules.get(rule_id)
    if rule is None:
        raise RequestRejected(f"no CRUSH rule {rule_id} in cluster {fsid}", status=404)
    return rule


def plan_crush_rule_update(model: ClusterModel, fsid: str, rule_id: int, body: dict[str, Any]) -> Plan | None:
    """Ceph can only rename a rule; None when the name is already the one asked for."""
    view = crush_view(model, fsid)
    rule = get_crush_rule(model, fsid, rule_id)
    new_name = body.get("name")
    if new_name is None or new_name == rule["rule_name"]:
        return None
    errors: dict[str, str] = {}
    _check_crush_name(new_name, "name", errors)
    if errors:
        raise RequestRejected("invalid CRUSH rule change", errors)
    if any(r["rule_name"] == new_name for r in view.rules.values()):
        raise RequestRejected(f"CRUSH rule name {new_name!r} is in use", {"name": "a rule of this name exists"}, 409)
    old = rule["rule_name"]
    return Plan("update", f"Renaming CRUSH rule '{old}' to '{new_name}'",
                [f"crush-rule:{rule_id}", f"crush-rule-name:{new_name}"],
                [command("osd crush rule rename", srcname=old, dstname=new_name)],
                [{"check": "crush_rule", "id": rule_id, "name": new_name}], {"id": rule_id, "name": new_name})


def plan_crush_rule_delete(model: ClusterModel, fsid: str, rule_id: int) -> Plan:
    rule = get_crush_rule(model, fsid, rule_id)
    users = sorted(p.name for p in _live_pools(model, fsid).values() if p.settings.get("crush_rule") == rule_id)
    if users:
        raise RequestRejected(f"CRUSH rule {rule['rule_name']!r} is in use",
                              {"id": f"used by pool(s) {', '.join(users)}"}, 409)
    name = rule["rule_name"]
    return Plan("delete", f"Deleting CRUSH rule '{name}'", [f"crush-rule:{rule_id}", f"crush-rule-name:{name}"],
                [command("osd crush rule rm", name=name)],
                [{"check": "crush_rule_gone", "id": rule_id, "name": name}], {"id": rule_id, "name": name})


def _placement_errors(view: CrushView, type_id: int, parent_ref: int | str, node_id: int | None,
                      errors: dict[str, str]) -> dict[str, Any] | None:
    parent = _find_node(view, parent_ref)
    if parent is None:
        errors["parent"] = view.no_node(parent_ref)
        return None
    if parent.get("type_id", 0) <= type_id:
        errors["parent"] = f"a bucket goes under a bucket of a higher type than its own; {parent['name']!r} is a " \
                           f"{parent.get('type_name')}"
    elif node_id is not None and view.subtree_contains(node_id, parent["id"]):
        errors["parent"] = "cannot move a bucket under itself or one of its descendants"
    return parent


def plan_crush_node_create(model: ClusterModel, fsid: str, body: dict[str, Any]) -> Plan:
    """`body`: name, bucket_type, and optionally parent (a node's id or name) and items (children
    moved into the new bucket, see plan_crush_items)."""
    view = crush_view(model, fsid)
    name, bucket_type = body["name"], body["bucket_type"]
    errors: dict[str, str] = {}
    _check_crush_name(name, "name", errors)
    type_id = view.types.get(bucket_type)
    if type_id is None or type_id == DEVICE_TYPE_ID:
        bucket_types = [t for t, i in view.types.items() if i != DEVICE_TYPE_ID]
        errors["bucket_type"] = f"unknown bucket type; known: {', '.join(bucket_types)}"
    parent = None
    if body.get("parent") is not None:
        if type_id is not None:
            parent = _placement_errors(view, type_id, body["parent"], None, errors)
        elif _find_node(view, body["parent"]) is None:  # placement needs the type; existence does not
            errors["parent"] = view.no_node(body["parent"])
    items = None
    if body.get("items") and type_id is not None and type_id != DEVICE_TYPE_ID:
        items = plan_crush_items(view, crush_devices(model, fsid), None, name, type_id, bucket_type,
                                 [parent["id"]] if parent else [], body["items"], errors)
    if errors:
        raise RequestRejected("invalid CRUSH node", errors)
    if view.name_in_use(name):
        raise RequestRejected(f"CRUSH name {name!r} is in use", {"name": "a CRUSH item of this name exists"}, 409)
    commands = [command("osd crush add-bucket", name=name, type=bucket_type)]
    if parent is not None:
        commands.append(command("osd crush move", name=name, args=[f"{parent['type_name']}={parent['name']}"]))
    expect = [{"check": "crush_node", "name": name, "type": bucket_type, "parent": parent["name"] if parent else None}]
    headline, targets = f"Creating CRUSH {bucket_type} '{name}'", [f"crush-node-name:{name}"]
    if items is not None and items.commands:
        commands += items.commands
        expect.append({**items.check, "name": name})
        targets += items.targets
        headline += f" ({'; '.join(items.words)})"
    return Plan("create", headline, targets, commands, expect, body)


def get_crush_node(model: ClusterModel, fsid: str, node_id: int) -> dict[str, Any]:
    view = crush_view(model, fsid)
    node = view.buckets.get(node_id)
    if node is None and node_id in view.shadows:
        raise RequestRejected(view.no_node(node_id), {"id": "a shadow bucket cannot be changed or deleted"}, 409)
    if node is None:
        raise RequestRejected(f"no CRUSH node {node_id} in cluster {fsid}", status=404)
    return node


def plan_crush_node_update(model: ClusterModel, fsid: str, node_id: int, body: dict[str, Any]) -> Plan | None:
    """`body`: name (rename), parent (move under that node) and/or items (the bucket's full new list
    of children, see plan_crush_items). None when nothing would change."""
    view = crush_view(model, fsid)
    node = get_crush_node(model, fsid, node_id)
    errors: dict[str, str] = {}
    old_name = node["name"]
    new_name = body.get("name") if body.get("name") not in (None, old_name) else None
    parent = None
    if body.get("parent") is not None:
        parent = _placement_errors(view, node.get("type_id", 0), body["parent"], node_id, errors)
        if parent is not None and view.parent.get(node_id) == parent["id"]:
            parent = None  # already there
    if new_name is not None:
        _check_crush_name(new_name, "name", errors)
    items = None
    if body.get("items") is not None:
        items = plan_crush_items(view, crush_devices(model, fsid), node, old_name, node.get("type_id", 0),
                                 node.get("type_name", ""), [node_id] + ([parent["id"]] if parent else []),
                                 body["items"], errors)
    if errors:
        raise RequestRejected("invalid CRUSH node change", errors)
    if items is not None and not items.commands:
        items = None
    if new_name is None and parent is None and items is None:
        return None
    if new_name is not None and view.name_in_use(new_name):
        raise RequestRejected(f"CRUSH name {new_name!r} is in use", {"name": "a CRUSH item of this name exists"}, 409)
    commands = []
    # move first, under the name Ceph knows now; a rename then finishes the request
    if parent is not None:
        commands.append(command("osd crush move", name=old_name, args=[f"{parent['type_name']}={parent['name']}"]))
    if items is not None:
        commands += items.commands
    if new_name is not None:
        commands.append(command("osd crush rename-bucket", srcname=old_name, dstname=new_name))
    expect: dict[str, Any] = {"check": "crush_node", "id": node_id, "name": new_name or old_name}
    if parent is not None:
        expect["parent"] = parent["name"]
    targets = [f"crush-node:{node_id}"] + ([f"crush-node-name:{new_name}"] if new_name else [])
    words = [f"to '{new_name}'" if new_name else "", f"under '{parent['name']}'" if parent else ""]
    if items is not None:
        targets += [t for t in items.targets if t not in targets]
        words.append(f"({'; '.join(items.words)})")
    verb = "Renaming" if new_name else "Moving" if parent else "Changing the items of"
    headline = f"{verb} CRUSH node '{old_name}' {' '.join(w for w in words if w)}"
    changed: dict[str, Any] = {k: v for k, v in (("name", new_name), ("parent", parent["name"] if parent else None))
                               if v}
    if items is not None:
        changed["items"] = body["items"]
    checks = [expect] + ([{**items.check, "id": node_id}] if items is not None else [])
    return Plan("update", headline, targets, commands, checks, {"id": node_id, **changed})


CRUSH_WEIGHT_UNIT = 0x10000  # CRUSH keeps weights as 16.16 fixed point


def crush_fixed_weight(weight: float) -> int:
    return int(weight * CRUSH_WEIGHT_UNIT)  # truncated, as the monitor converts a weight it is given


def crush_devices(model: ClusterModel, fsid: str) -> dict[int, str]:
    """The CRUSH map's devices: OSD id -> name ("osd.3")."""
    held = model.held.get(fsid, {}).get("crush_map")
    devices = held[1].get("devices", []) if held and isinstance(held[1], dict) else []
    return {d["id"]: d["name"] for d in devices if isinstance(d, dict) and isinstance(d.get("id"), int)}


@dataclass
class ItemsChange:
    """What setting a bucket's items takes: the commands, the 'crush_items' check the CRUSH map must
    then pass (without the bucket's id or name: the caller knows it), the objects it touches (for
    conflicts) and words for the headline."""

    commands: list[dict[str, Any]]
    check: dict[str, Any]
    targets: list[str]
    words: list[str]


def _holds_devices(view: CrushView, bucket_id: int) -> bool:
    pending, seen = [bucket_id], set()
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        for item in view.buckets.get(node, {}).get("items", []):
            if item["id"] >= 0:
                return True
            pending.append(item["id"])
    return False


def plan_crush_items(view: CrushView, devices: dict[int, str], bucket: dict[str, Any] | None, name: str,
                     type_id: int, type_name: str, anchors: list[int], items: list[dict[str, Any]],
                     errors: dict[str, str]) -> ItemsChange | None:
    """Make `items` ([{"id", "weight"?, "pos"?}]) the children of bucket `name` (`bucket`: its
    current entry; None while it is being created). A child held elsewhere is moved in (`osd crush
    move`, which keeps an OSD's weight and drops its other links), an OSD given a different weight is
    reweighted, and a child left out is unlinked from this bucket. `anchors`: nodes the bucket will
    be at or under, which no child may contain. Per-item reasons go to `errors` (None then); leaving
    an OSD in no bucket at all is refused (409) because it would get no data."""
    current = {i["id"]: i for i in (bucket or {}).get("items", [])}
    links: dict[int, list[int]] = {}
    for holder in view.buckets.values():
        for entry in holder.get("items", []):
            links.setdefault(entry["id"], []).append(holder["id"])

    def weight_now(child: int) -> int | None:
        if child < 0:
            return view.buckets[child].get("weight")
        entry = current.get(child) or next(
            (i for b in links.get(child, []) for i in view.buckets[b]["items"] if i["id"] == child), None)
        return entry.get("weight") if entry else None

    def label(child: int) -> str:
        return devices[child] if child >= 0 else view.buckets[child]["name"]

    seen: set[int] = set()
    for index, item in enumerate(items):
        child, field_name = item["id"], f"items.{index}"
        if child in seen:
            errors[f"{field_name}.id"] = "listed twice"
            continue
        seen.add(child)
        if child >= 0 and child not in devices:
            errors[f"{field_name}.id"] = f"no OSD {child} in the CRUSH map"
            continue
        if child < 0:
            sub = view.buckets.get(child)
            if sub is None:
                errors[f"{field_name}.id"] = view.no_node(child)
                continue
            if child not in current:  # children already here are where Ceph let them be
                if bucket is not None and child == bucket["id"]:
                    errors[f"{field_name}.id"] = "a bucket cannot hold itself"
                elif sub.get("type_id", 0) >= type_id:
                    errors[f"{field_name}.id"] = (f"a {sub.get('type_name')} cannot go under a {type_name}: a "
                                                  f"child's type must be lower than its bucket's")
                elif any(view.subtree_contains(child, anchor) for anchor in anchors):
                    errors[f"{field_name}.id"] = "would place the bucket under its own descendant"
        weight = item.get("weight")
        if weight is None:
            continue
        if child < 0:
            if abs(crush_fixed_weight(weight) - view.buckets[child].get("weight", 0)) > 1:
                shown = view.buckets[child].get("weight", 0) / CRUSH_WEIGHT_UNIT
                errors[f"{field_name}.weight"] = (f"a bucket weighs the sum of its items ({shown:.5f}); set the "
                                                  f"weights of its OSDs instead")
        elif weight > 0 and crush_fixed_weight(weight) == 0:
            errors[f"{field_name}.weight"] = "below CRUSH's smallest step (1/65536); give 0 for no data"
    if errors:  # the request is refused with every field's reason; nothing more to plan
        return None

    location = f"{type_name}={name}"
    commands, targets, words = [], [], []
    present, weights = [], []
    moved, reweighted = [], []
    for item in items:
        child = item["id"]
        present.append(child)
        target = f"crush-node:{child}" if child < 0 else f"crush-device:{child}"
        if child not in current:
            commands.append(command("osd crush move", name=label(child), args=[location]))
            targets += [target] + [f"crush-node:{b}" for b in links.get(child, [])]  # its buckets lose it
            moved.append(label(child))
        if child >= 0 and item.get("weight") is not None:
            fixed = crush_fixed_weight(item["weight"])
            weights.append([child, fixed])
            now = weight_now(child)
            if now is None or abs(fixed - now) > 1:  # within a step: the weight GET showed, sent back
                commands.append(command("osd crush reweight", name=label(child), weight=item["weight"]))
                targets.append(target)
                reweighted.append(f"{label(child)} to {item['weight']:g}")
    dropped = [child for child in current if child not in seen]
    stranded = [label(c) for c in dropped
                if not any(b != (bucket or {}).get("id") for b in links.get(c, []))
                and (c >= 0 or _holds_devices(view, c))]
    if stranded:
        raise RequestRejected(
            f"{', '.join(stranded)} would be in no CRUSH bucket and get no data",
            {"items": f"{', '.join(stranded)} would be left in no bucket: move them into another bucket by "
                      "setting that bucket's items (or drain an OSD with weight 0) instead"}, 409)
    for child in dropped:
        commands.append(command("osd crush unlink", name=label(child), ancestor=name))
        targets.append(f"crush-node:{child}" if child < 0 else f"crush-device:{child}")
    if moved:
        words.append(f"moving in {', '.join(moved)}")
    if reweighted:
        words.append(f"reweighting {', '.join(reweighted)}")
    if dropped:
        words.append(f"unlinking {', '.join(label(c) for c in dropped)}")
    check = {"check": "crush_items", "present": present, "absent": dropped, "weights": weights}
    return ItemsChange(commands, check, list(dict.fromkeys(targets)), words)


def plan_crush_node_delete(model: ClusterModel, fsid: str, node_id: int) -> Plan:
    view = crush_view(model, fsid)
    node = get_crush_node(model, fsid, node_id)
    if node.get("items"):
        raise RequestRejected(f"CRUSH node {node['name']!r} is not empty",
                              {"id": f"holds {len(node['items'])} item(s); move or remove them first"}, 409)
    rules = view.rules_taking(node)
    if rules:
        raise RequestRejected(f"CRUSH node {node['name']!r} is in use",
                              {"id": f"rule(s) {', '.join(rules)} place data under it"}, 409)
    name = node["name"]
    return Plan("delete", f"Deleting CRUSH node '{name}'", [f"crush-node:{node_id}", f"crush-node-name:{name}"],
                [command("osd crush rm", name=name)],
                [{"check": "crush_node_gone", "id": node_id, "name": name}], {"id": node_id, "name": name})


CRUSH_CHECKS = {"crush_rule", "crush_rule_gone", "crush_node", "crush_node_gone", "crush_items", "crush_map"}
CRUSH_MAP_TARGET = "crush-map"


MAX_CRUSH_TEXT_ERRORS = 100  # reasons a 400 lists (a large bad map may have one on every line)


def check_crush_map_text(text: str) -> CrushText:
    """The parsed map of a CRUSH text; RequestRejected naming the bad lines (the first
    MAX_CRUSH_TEXT_ERRORS of them) otherwise. Needs no model: call it before taking the lock."""
    try:
        return parse_crush_text(text)
    except CrushTextError as err:
        errors: dict[str, str] = {}
        for message in err.errors[:MAX_CRUSH_TEXT_ERRORS]:
            where, _, reason = message.partition(": ")
            errors[where] = f"{errors[where]}; {reason}" if where in errors else reason
        if len(err.errors) > MAX_CRUSH_TEXT_ERRORS:
            errors["more"] = f"{len(err.errors) - MAX_CRUSH_TEXT_ERRORS} more problems not listed"
        raise RequestRejected("invalid CRUSH map", errors) from None


def plan_crush_map_set(model: ClusterModel, fsid: str, text: str, parsed: CrushText | None = None) -> Plan:
    """Replace the whole CRUSH map with `text` (crushtool's text form): checked here line by line
    (`parsed`: what check_crush_map_text gave for it, if called already), compiled by the collector,
    set with `osd setcrushmap` only if the map Ceph holds is still the version this plan was made
    against (prior_version)."""
    crush_view(model, fsid)  # 503 until a CRUSH map has arrived
    held = model.held.get(fsid, {}).get("crush_map")
    if held is None:  # restarted: the CRUSH aggregate is back from the events, the map not yet
        raise RequestRejected("the CRUSH map has not been received yet; retry shortly", status=503)
    version = int(held[0])
    if parsed is None:
        parsed = check_crush_map_text(text)
    rule_ids = {r.id for r in parsed.rules}
    missing = {}
    for pool in sorted(_live_pools(model, fsid).values(), key=lambda p: p.name):
        rule_id = pool.settings.get("crush_rule")
        if rule_id is not None and rule_id not in rule_ids:
            missing[f"pool {pool.name}"] = f"uses CRUSH rule id {rule_id}, which the new map does not have"
    if missing:
        raise RequestRejected("the new CRUSH map lacks rules that pools use", missing, 409)
    setcrushmap = command("osd setcrushmap", prior_version=version)
    setcrushmap["input"] = text  # compiled by the collector, sent to Ceph as the command's input
    buckets = sorted(b.name for b in parsed.buckets)
    rules = sorted(r.name for r in parsed.rules)
    return Plan("update", f"Replacing the CRUSH map (version {version})", [CRUSH_MAP_TARGET], [setcrushmap],
                [{"check": "crush_map", "after_version": version, "buckets": buckets, "rules": rules}],
                {"prior_version": version, "buckets": len(buckets), "rules": len(rules),
                 "devices": len(parsed.devices)})


def crush_map_expectation_met(check: dict[str, Any], crush: dict[str, Any], version: Any) -> bool:
    """A CRUSH map newer than the one replaced, with the submitted map's buckets and rules."""
    if not isinstance(version, int) or version <= check["after_version"]:
        return False
    buckets = sorted(b.get("name", "") for b in crush.get("buckets", [])
                     if isinstance(b, dict) and "~" not in b.get("name", "~"))
    rules = sorted(r.get("rule_name", "") for r in crush.get("rules", []) if isinstance(r, dict))
    return buckets == check["buckets"] and rules == check["rules"]


def awaited_sync_object(expect: list[dict[str, Any]]) -> str:
    """The sync object a request's change shows in: the CRUSH map for CRUSH changes (versioned by
    the OSD map's crush_version), else the OSD map."""
    return "crush_map" if expect and all(c.get("check") in CRUSH_CHECKS for c in expect) else "osd_map"


def crush_expectation_met(check: dict[str, Any], crush: dict[str, Any]) -> bool:
    kind = check["check"]
    if kind in ("crush_rule", "crush_rule_gone"):
        rules = [r for r in crush.get("rules", []) if isinstance(r, dict)]
        if kind == "crush_rule_gone":
            return not any(r.get("rule_id") == check["id"] and r.get("rule_name") == check["name"] for r in rules)
        if "id" in check:
            return any(r.get("rule_id") == check["id"] and r.get("rule_name") == check["name"] for r in rules)
        return any(r.get("rule_name") == check["name"] for r in rules)
    buckets = [b for b in crush.get("buckets", []) if isinstance(b, dict)]
    if kind == "crush_items":
        holder = next((b for b in buckets if (b.get("id") == check["id"] if "id" in check
                                              else b.get("name") == check["name"])), None)
        if holder is None:
            return False
        held = {i.get("id"): i.get("weight") for i in holder.get("items", []) if isinstance(i, dict)}
        if any(c not in held for c in check["present"]) or any(c in held for c in check["absent"]):
            return False
        # the monitor truncates a weight to 16.16: within one step is the weight asked for
        return all(isinstance(held[c], int) and abs(held[c] - fixed) <= 1 for c, fixed in check["weights"])
    if kind == "crush_node_gone":
        return not any(b.get("id") == check["id"] and b.get("name") == check["name"] for b in buckets)
    node = next((b for b in buckets if b.get("name") == check["name"]), None)
    if node is None or ("id" in check and node.get("id") != check["id"]):
        return False
    if check.get("type") is not None and node.get("type_name") != check["type"]:
        return False
    if check.get("parent") is not None:
        parent = next((b for b in buckets if any(i.get("id") == node["id"] for i in b.get("items", []))), None)
        return parent is not None and parent.get("name") == check["parent"]
    return True
