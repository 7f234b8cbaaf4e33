"""The CRUSH commands of the simulated cluster: buckets (`osd crush add-bucket|move|rename-bucket|
unlink|rm`), device weights (`osd crush reweight`) and rules (`osd crush rule create-replicated|
create-erasure|rm|rename`). Outcomes and messages are a Pacific monitor's; a change is a new OSD
map epoch with the next crush_version."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import EBUSY, EEXIST, EINVAL, ENOENT, ENOTDIR, ENOTEMPTY, Reply
from collector.simulator.state import ClusterState, Handler


def _bad_name(field_name: str, name: Any) -> str | None:
    if isinstance(name, str) and name and all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
        return None
    return f"Invalid command: {field_name} '{name}' does not match [A-Za-z0-9-_.]"


def crush_add_bucket(state: ClusterState, args: dict[str, Any]) -> Reply:
    name, type_name = args["name"], args["type"]
    bad = _bad_name("name", name)
    if bad:
        return -EINVAL, "", bad
    if state.crush.item_exists(name):
        return 0, "", f"bucket '{name}' already exists"
    if type_name not in state.crush.types or type_name == state.crush.types[0]:
        return -EINVAL, "", f"type '{type_name}' does not exist"
    bucket_id = state.crush.next_bucket_id
    state.crush.next_bucket_id -= 2  # and the shadow bucket's id
    state.crush.buckets[bucket_id] = {"name": name, "type_id": state.crush.types.index(type_name), "parent": None}
    state.crush_changed()
    return 0, "", f"added bucket {name} type {type_name} to crush map"


def crush_move(state: ClusterState, args: dict[str, Any]) -> Reply:
    name = args["name"]
    raw = args.get("args") or []
    loc = dict(str(item).split("=", 1) for item in (raw if isinstance(raw, list) else [raw]))
    bucket_id = state.crush.bucket_by_name(name)
    if bucket_id is None and state.crush.device_id(name) is None:
        return -ENOENT, "", f"item {name} does not exist"
    if len(loc) != 1:
        return -EINVAL, "", "this simulation moves an item under exactly one location (type=name)"
    (type_name, target), = loc.items()
    target_id = state.crush.bucket_by_name(target)
    if type_name not in state.crush.types:
        return -EINVAL, "", f"unknown type {type_name}"
    if target_id is None:
        return -ENOENT, "", f"location {type_name}={target} does not exist"
    if state.crush.types[state.crush.buckets[target_id]["type_id"]] != type_name:
        return -EINVAL, "", f"{target} is not a {type_name}"
    if bucket_id is None:
        return _move_device(state, state.crush.device_id(name), target_id, type_name)
    node: int | None = target_id
    while node is not None:
        if node == bucket_id:
            return -EINVAL, "", f"cannot move {name} under itself"
        node = state.crush.buckets[node]["parent"]
    if state.crush.buckets[bucket_id]["parent"] == target_id:
        return 0, "", f"no need to move item id {bucket_id} name '{name}' to location {loc} in crush map"
    bucket = state.crush.buckets.pop(bucket_id)
    bucket["parent"] = target_id
    state.crush.buckets[bucket_id] = bucket  # moved in last: the last item of its new parent
    state.crush_changed()
    return 0, "", f"moved item id {bucket_id} name '{name}' to location {loc} in crush map"


def _move_device(state: ClusterState, osd_id: int, target_id: int, type_name: str) -> Reply:
    """`osd crush move osd.N <type>=<bucket>`: Pacific moves a device too, keeping its weight.
    Into a simulated machine's host bucket, the OSD moves to that machine (as when a disk is
    moved between servers), so its metadata's hostname and its server follow."""
    target = state.crush.buckets[target_id]
    where = f"{{{type_name}={target['name']}}}"
    source_id = state.crush.device_bucket(osd_id)
    if source_id == target_id:
        return 0, "", f"no need to move item id {osd_id} name 'osd.{osd_id}' to location {where} in crush map"
    if source_id is not None:
        state.crush.bucket_osds[source_id].remove(osd_id)
    state.crush.bucket_osds.setdefault(target_id, []).append(osd_id)  # moved in last: its last item
    if "host_index" in target:
        _move_osd_to_machine(state, osd_id, target["host_index"])
    state.crush_changed()
    return 0, "", f"moved item id {osd_id} name 'osd.{osd_id}' to location {where} in crush map"


def _move_osd_to_machine(state: ClusterState, osd_id: int, host_index: int) -> None:
    old = state.osd_host[osd_id]
    if old == host_index:
        return
    state.host_osds[old].remove(osd_id)
    others = state.host_osds[host_index]
    state.osd_slot[osd_id] = max((state.osd_slot[o] for o in others), default=-1) + 1
    others.append(osd_id)
    others.sort()
    state.osd_host[osd_id] = host_index
    state.forget_osd_entries(osd_id)  # its addresses are the new machine's
    state.osd_metadata_doc = None


def crush_reweight(state: ClusterState, args: dict[str, Any]) -> Reply:
    name = args["name"]
    osd_id = state.crush.device_id(name)
    if osd_id is None:
        if state.crush.bucket_by_name(name) is not None:
            return -EINVAL, "", f"device '{name}' is not a leaf in the crush map"
        return -ENOENT, "", f"device '{name}' does not appear in the crush map"
    weight = float(args["weight"])
    if not 0.0 <= weight < 65536.0:  # what a 16.16 fixed-point weight can hold
        return -EINVAL, "", f"Invalid command: {weight} not in range [0.0]"
    state.crush.osd_weight[osd_id] = weight
    state.crush_changed()
    return 0, "", f"reweighted item id {osd_id} name '{name}' to {weight:g} in crush map"


def crush_unlink(state: ClusterState, args: dict[str, Any]) -> Reply:
    """`osd crush unlink <name> [<ancestor>]`: the item leaves its bucket (if that is at or
    under the ancestor) but stays in the map, a device with its weight, a bucket with its items."""
    name, ancestor = args["name"], args.get("ancestor")
    bucket_id, osd_id = state.crush.bucket_by_name(name), state.crush.device_id(name)
    if bucket_id is None and osd_id is None:
        return 0, "", f"device '{name}' does not appear in the crush map"
    ancestor_id = None
    if ancestor is not None:
        ancestor_id = state.crush.bucket_by_name(ancestor)
        if ancestor_id is None:
            return -ENOENT, "", f"ancestor item '{ancestor}' does not appear in the crush map"
    item_id = osd_id if bucket_id is None else bucket_id
    parent = state.crush.device_bucket(osd_id) if bucket_id is None else state.crush.buckets[bucket_id]["parent"]
    chain, node = [], parent
    while node is not None:
        chain.append(node)
        node = state.crush.buckets[node]["parent"]
    if parent is None or (ancestor_id is not None and ancestor_id not in chain):
        return 0, "", f"item {item_id} does not appear in that position"
    if bucket_id is None:
        state.crush.bucket_osds[parent].remove(osd_id)
    else:
        state.crush.buckets[bucket_id]["parent"] = None
    state.crush_changed()
    return 0, "", f"removed item id {item_id} name '{name}' from crush map"


def crush_rename_bucket(state: ClusterState, args: dict[str, Any]) -> Reply:
    source, destination = args["srcname"], args["dstname"]
    bad = _bad_name("dstname", destination)
    if bad:
        return -EINVAL, "", bad
    bucket_id = state.crush.bucket_by_name(source)
    if bucket_id is None:
        if state.crush.item_exists(destination):
            return 0, "", f"already renamed to '{destination}'"
        if state.crush.item_exists(source):
            return -ENOTDIR, "", f"srcname '{source}' is not a bucket"
        return -ENOENT, "", f"srcname '{source}' does not exist"
    if state.crush.item_exists(destination):
        return -EEXIST, "", f"dstname '{destination}' already exists"
    state.crush.buckets[bucket_id]["name"] = destination
    state.crush_changed()
    return 0, "", ""


def crush_rm(state: ClusterState, args: dict[str, Any]) -> Reply:
    name = args["name"]
    bucket_id = state.crush.bucket_by_name(name)
    if bucket_id is None:
        if state.crush.item_exists(name):
            return -EBUSY, "", f"this simulation keeps its OSDs in CRUSH; cannot remove {name}"
        return 0, "", f"device '{name}' does not appear in the crush map"
    if any(b["parent"] == bucket_id for b in state.crush.buckets.values()) or state.crush.bucket_osds.get(bucket_id):
        return -ENOTEMPTY, "", f"Error ENOTEMPTY: bucket '{name}' is not empty"
    users = [r["rule_name"] for r in state.crush.rules
             if any(st.get("op") == "take" and st.get("item") in (bucket_id, bucket_id - 1) for st in r["steps"])]
    if users:
        return -EBUSY, "", f"bucket '{name}' is still referenced by crush_rule(s): {', '.join(users)}"
    del state.crush.buckets[bucket_id]
    state.crush.bucket_osds.pop(bucket_id, None)
    state.crush_changed()
    return 0, "", f"removed item id {bucket_id} name '{name}' from crush map"


def _new_rule(state: ClusterState, name: str, rule_type: int, steps: list[dict[str, Any]], min_size: int,
              max_size: int) -> int:
    used = {r["rule_id"] for r in state.crush.rules}
    rule_id = next(i for i in range(len(used) + 1) if i not in used)  # Ceph takes the lowest free id
    state.crush.rules.append({"rule_id": rule_id, "rule_name": name, "ruleset": rule_id, "type": rule_type,
                             "min_size": min_size, "max_size": max_size, "steps": steps})
    state.crush_changed()
    return rule_id


def _take_step(state: ClusterState, root: str, device_class: str | None) -> dict[str, Any] | None:
    root_id = state.crush.bucket_by_name(root)
    if root_id is None:
        return None
    if device_class:
        return {"op": "take", "item": root_id - 1, "item_name": f"{root}~{device_class}"}
    return {"op": "take", "item": root_id, "item_name": root}


def crush_rule_create_replicated(state: ClusterState, args: dict[str, Any]) -> Reply:
    name, root, domain, device_class = args["name"], args["root"], args["type"], args.get("class")
    bad = _bad_name("name", name)
    if bad:
        return -EINVAL, "", bad
    if state.crush.rule_by_name(name) is not None:
        return 0, "", f"rule {name} already exists"
    if state.crush.bucket_by_name(root) is None:
        return -ENOENT, "", f"root item {root} does not exist"
    if domain not in state.crush.types:
        return -EINVAL, "", f"unknown type {domain}"
    if device_class and device_class != "hdd":
        return -EINVAL, "", f"device class {device_class} does not exist"
    take = _take_step(state, root, device_class)
    op = "choose_firstn" if domain == state.crush.types[0] else "chooseleaf_firstn"
    _new_rule(state, name, 1, [take, {"op": op, "num": 0, "type": domain}, {"op": "emit"}], 1, 10)
    return 0, "", ""


def crush_rule_create_erasure(state: ClusterState, args: dict[str, Any]) -> Reply:
    name, profile_name = args["name"], args.get("profile") or "default"
    bad = _bad_name("name", name)
    if bad:
        return -EINVAL, "", bad
    existing = state.crush.rule_by_name(name)
    if existing is not None:
        return 0, "", f"rule {name} already exists"
    profile = state.erasure_code_profiles.get(profile_name)
    if profile is None:
        return -ENOENT, "", f"erasure-code-profile {profile_name} does not exist"
    take = _take_step(state, profile.get("crush-root") or "default", profile.get("crush-device-class"))
    if take is None:
        return -ENOENT, "", f"root item {profile.get('crush-root')} does not exist"
    domain = profile.get("crush-failure-domain") or "host"
    size = int(profile.get("k", 2)) + int(profile.get("m", 1))
    rule_id = _new_rule(state, name, 3, [{"op": "set_chooseleaf_tries", "num": 5},
                                       {"op": "set_choose_tries", "num": 100}, take,
                                       {"op": "chooseleaf_indep", "num": 0, "type": domain},
                                       {"op": "emit"}], 3, size)
    return 0, "", f"created rule {name} at {rule_id}"


def crush_rule_rm(state: ClusterState, args: dict[str, Any]) -> Reply:
    name = args["name"]
    rule = state.crush.rule_by_name(name)
    if rule is None:
        return 0, "", f"rule {name} does not exist"
    if any(pool.crush_rule == rule["rule_id"] for pool in state.pools.values()):
        return -EBUSY, "", f"crush rule {name} ({rule['rule_id']}) is in use"
    state.crush.rules.remove(rule)
    state.crush_changed()
    return 0, "", ""


def crush_rule_rename(state: ClusterState, args: dict[str, Any]) -> Reply:
    source, destination = args["srcname"], args["dstname"]
    bad = _bad_name("dstname", destination)
    if bad:
        return -EINVAL, "", bad
    rule = state.crush.rule_by_name(source)
    if rule is None:
        if state.crush.rule_by_name(destination) is not None:
            return 0, "", f"already renamed to '{destination}'"
        return -ENOENT, "", f"source rule '{source}' does not exist"
    if state.crush.rule_by_name(destination) is not None:
        return -EEXIST, "", f"destination rule '{destination}' already exists"
    rule["rule_name"] = destination
    state.crush_changed()
    return 0, "", ""


CRUSH_COMMANDS: dict[str, Handler] = {
    "osd crush add-bucket": crush_add_bucket,
    "osd crush move": crush_move,
    "osd crush rename-bucket": crush_rename_bucket,
    "osd crush reweight": crush_reweight,
    "osd crush unlink": crush_unlink,
    "osd crush rm": crush_rm,
    "osd crush remove": crush_rm,
    "osd crush rule create-replicated": crush_rule_create_replicated,
    "osd crush rule create-erasure": crush_rule_create_erasure,
    "osd crush rule rm": crush_rule_rm,
    "osd crush rule rename": crush_rule_rename,
}
