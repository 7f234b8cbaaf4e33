"""Planning CRUSH node (bucket) requests: create, rename, move, change its items, delete."""

from __future__ import annotations

from typing import Any

from calamari.domain.model import ClusterModel
from calamari.domain.requests.crush_items import plan_crush_items
from calamari.domain.requests.crush_view import (
    DEVICE_TYPE_ID,
    CrushView,
    check_crush_name,
    crush_devices,
    crush_view,
    find_node,
    plan_crush_delete,
)
from calamari.domain.requests.plan import Plan, RequestRejected, command


def placement_errors(view: CrushView, type_id: int, parent_ref: int | str, node_id: int | None,
                     errors: dict[str, str]) -> dict[str, Any] | None:
    parent = find_node(view, parent_ref)
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
    check_crush_name(name, "name", errors)
    type_id = view.types.get(bucket_type)
    if type_id is None or type_id == DEVICE_TYPE_ID:
        bucket_types = [t for t, i in view.types.items() if i != DEVICE_TYPE_ID]
        errors["bucket_type"] = f"unknown bucket type; known: {', '.join(bucket_types)}"
    parent = None
    if body.get("parent") is not None:
        if type_id is not None:
            parent = placement_errors(view, type_id, body["parent"], None, errors)
        elif find_node(view, body["parent"]) is None:  # placement needs the type; existence does not
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
        parent = placement_errors(view, node.get("type_id", 0), body["parent"], node_id, errors)
        if parent is not None and view.parent.get(node_id) == parent["id"]:
            parent = None  # already there
    if new_name is not None:
        check_crush_name(new_name, "name", errors)
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
    return plan_crush_delete("node", node_id, node["name"], "osd crush rm")
