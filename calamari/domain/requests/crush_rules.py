"""Planning CRUSH rule requests: create (replicated or erasure), rename and delete."""

from __future__ import annotations

from typing import Any

from calamari.domain.model import ClusterModel
from calamari.domain.requests.cluster_facts import held_osd_map, live_pools
from calamari.domain.requests.crush_view import check_crush_name, crush_view, plan_crush_delete
from calamari.domain.requests.plan import Plan, RequestRejected, command


def plan_crush_rule_create(model: ClusterModel, fsid: str, body: dict[str, Any]) -> Plan:
    """`body`: name and either root, failure_domain (default host) and device_class for a
    replicated rule, or erasure_code_profile for an erasure rule (the profile names its root,
    failure domain and device class)."""
    view = crush_view(model, fsid)
    name = body["name"]
    errors: dict[str, str] = {}
    check_crush_name(name, "name", errors)
    profile = body.get("erasure_code_profile")
    kind = body.get("type") or ("erasure" if profile is not None else "replicated")
    if kind == "erasure":
        for key in ("root", "failure_domain", "device_class"):
            if body.get(key) is not None:
                errors[key] = "an erasure rule takes this from its erasure code profile"
        profiles = (held_osd_map(model, fsid) or {}).get("erasure_code_profiles", {})
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
    check_crush_name(new_name, "name", errors)
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
    users = sorted(p.name for p in live_pools(model, fsid).values() if p.settings.get("crush_rule") == rule_id)
    if users:
        raise RequestRejected(f"CRUSH rule {rule['rule_name']!r} is in use",
                              {"id": f"used by pool(s) {', '.join(users)}"}, 409)
    return plan_crush_delete("rule", rule_id, rule["rule_name"], "osd crush rule rm")
