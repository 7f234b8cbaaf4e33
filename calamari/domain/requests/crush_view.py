"""The cluster's CRUSH map as the CRUSH planners read it (503 until it has arrived): buckets without
their per-class shadows, parents, types, rules, device classes; and CRUSH's naming rule."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from calamari.domain.model import ClusterModel
from calamari.domain.requests.cluster_facts import cluster_of
from calamari.domain.requests.plan import Plan, RequestRejected, command

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
    cluster = cluster_of(model, fsid)
    crush = cluster.crush
    if not crush:
        raise RequestRejected("the CRUSH map has not been received yet; retry shortly", status=503)
    buckets = {b["id"]: b for b in crush.get("buckets", []) if "~" not in b["name"]}
    shadows: dict[int | str, str] = {}
    for b in crush.get("buckets", []):
        if "~" in b["name"]:
            shadows[b["id"]] = shadows[b["name"]] = b["name"]
    parent = {i["id"]: b["id"] for b in buckets.values() for i in b.get("items", [])}
    held = model.held_document(fsid, "crush_map")
    devices = held[1].get("devices", []) if held and isinstance(held[1], dict) else []
    return CrushView(buckets, parent, {t["name"]: t["type_id"] for t in crush.get("types", [])},
                     {r["rule_id"]: r for r in crush.get("rules", [])},
                     {d["class"] for d in devices if d.get("class")}, {d["name"] for d in devices}, shadows)


def crush_devices(model: ClusterModel, fsid: str) -> dict[int, str]:
    """The CRUSH map's devices: OSD id -> name ("osd.3")."""
    held = model.held_document(fsid, "crush_map")
    devices = held[1].get("devices", []) if held and isinstance(held[1], dict) else []
    return {d["id"]: d["name"] for d in devices if isinstance(d, dict) and isinstance(d.get("id"), int)}


def check_crush_name(name: str, field_name: str, errors: dict[str, str]) -> None:
    if not CRUSH_NAME_RE.match(name):
        errors[field_name] = CRUSH_NAME_REASON


def find_node(view: CrushView, ref: int | str) -> dict[str, Any] | None:
    return view.buckets.get(ref) if isinstance(ref, int) else view.by_name(ref)


def plan_crush_delete(kind: str, object_id: int, name: str, prefix: str) -> Plan:
    """Deleting the CRUSH `kind` ("node" or "rule") `object_id`, named `name`, with the Ceph command
    `prefix`: its id and its name are the targets (no other open request may change either), and
    it is done when the map no longer has it (the `crush_<kind>_gone` check)."""
    return Plan("delete", f"Deleting CRUSH {kind} '{name}'", [f"crush-{kind}:{object_id}", f"crush-{kind}-name:{name}"],
                [command(prefix, name=name)], [{"check": f"crush_{kind}_gone", "id": object_id, "name": name}],
                {"id": object_id, "name": name})
