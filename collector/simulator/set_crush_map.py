"""`osd setcrushmap` on the simulated cluster: a whole CRUSH map, as text (what crushtool would
compile), replaces the current one."""

from __future__ import annotations

from typing import Any

from calamari.crush.model import CrushText, CrushTextError
from calamari.crush.text_parse import parse_crush_text
from calamari.crush.weights import WEIGHT_SCALE
from collector.simulator.ceph import EINVAL, EPERM, Reply
from collector.simulator.crush import TUNABLES
from collector.simulator.state import ClusterState


def set_crush_map(state: ClusterState, args: dict[str, Any], text: str | None) -> Reply:
    """`osd setcrushmap`: the whole map replaced, refused (EPERM) when prior_version is not
    the current crush_version. Buckets, their devices and device weights, and rules are
    applied; a bucket's weight inside its parent is always the sum of its items here (Ceph
    keeps a stated one), and types, tunables, device classes and choose_args stay fixed."""
    prior = args.get("prior_version")
    if prior is not None and int(prior) == state.crush.version - 1 and text \
            and state.crush.last_set_map == (state.crush.version, text):
        # As the monitor does: the resend of the update that made this version (e.g. a
        # request resumed after a restart) is answered as done.
        return 0, "", str(state.crush.version)
    if prior is not None and int(prior) != state.crush.version:
        return -EPERM, "", f"prior_version {prior} != crush version {state.crush.version}"
    if not text:
        return -EINVAL, "", "unable to decode crush map: no input data"
    try:
        crush = parse_crush_text(text)
    except CrushTextError as exc:
        return -EINVAL, "", f"crushtool could not compile the CRUSH map: {exc}"
    problem = _unsimulated_change(state, crush)
    if problem:
        return -EINVAL, "", f"the simulated cluster cannot apply this map: {problem}"
    rule_ids = {r.id for r in crush.rules}
    for pool in state.pools.values():
        if pool.crush_rule not in rule_ids:
            return -EINVAL, "", f"pool {pool.name} uses crush rule {pool.crush_rule}, which the new map lacks"
    used = {b.id for b in crush.buckets if b.id is not None}
    used |= {i - 1 for i in used}  # every bucket's hdd shadow is id - 1 here
    next_id = min([state.crush.next_bucket_id, *used]) - 2
    ids: dict[str, int] = {}
    for b in crush.buckets:
        if b.id is None:
            b.id, next_id = next_id, next_id - 2
        ids[b.name] = b.id
    if len({*ids.values(), *(i - 1 for i in ids.values())}) != 2 * len(ids):
        return -EINVAL, "", "the simulated cluster cannot apply this map: bucket ids overlap their hdd shadows"
    parent = {item.name: b.name for b in crush.buckets for item in b.items}
    types = {t.name: t.id for t in crush.types}
    old = state.crush.buckets
    state.crush.buckets = {}
    state.crush.bucket_osds = {}
    for b in crush.buckets:
        node: dict[str, Any] = {"name": b.name, "type_id": types[b.type_name],
                                "parent": ids[parent[b.name]] if b.name in parent else None}
        if "host_index" in old.get(b.id, {}):  # b.id is set above
            node["host_index"] = old[b.id]["host_index"]  # type: ignore[index]
        state.crush.buckets[b.id] = node  # type: ignore[index]
        osds = [int(item.name[4:]) for item in b.items if item.name not in ids]
        if osds:
            state.crush.bucket_osds[b.id] = osds  # type: ignore[index]
        for item in b.items:
            if item.name not in ids:
                state.crush.osd_weight[int(item.name[4:])] = item.weight_fixed / WEIGHT_SCALE
    state.crush.next_bucket_id = next_id
    state.crush.rules = [_rule_dump(rule, ids) for rule in crush.rules]
    state.crush_changed()
    state.crush.last_set_map = (state.crush.version, text)
    return 0, "", str(state.crush.version)


def _unsimulated_change(state: ClusterState, crush: CrushText) -> str | None:
    """What in a parsed map the simulator cannot apply (None: it can apply all of it)."""
    if [(t.id, t.name) for t in crush.types] != list(enumerate(state.crush.types)):
        return "its CRUSH types differ from the cluster's"
    if sorted((d.id, d.name) for d in crush.devices) != [(i, f"osd.{i}") for i in range(state.crush.osd_count)]:
        return "its devices are not the cluster's OSDs"
    if any(d.device_class not in (None, "hdd") for d in crush.devices):
        return "every simulated device is of class hdd"
    if crush.choose_args or any(TUNABLES.get(k) != v for k, v in crush.tunables.items()):
        return "choose_args and tunables are not simulated"
    if any(b.alg != "straw2" for b in crush.buckets):
        return "every simulated bucket is straw2"
    return None


def _rule_dump(rule: Any, ids: dict[str, int]) -> dict[str, Any]:
    """A parsed rule as `osd crush dump` shows it, its buckets by the ids they were given."""
    steps: list[dict[str, Any]] = []
    for step in rule.steps:
        if step.op == "take":
            item_id = ids[step.item] if step.item in ids else int(step.item.split(".", 1)[1])  # osd.N
            name = step.item
            if step.item_class:  # the class's shadow tree: id - 1 here
                item_id, name = item_id - 1, f"{step.item}~{step.item_class}"
            steps.append({"op": "take", "item": item_id, "item_name": name})
        elif step.type_name is not None:
            steps.append({"op": step.op, "num": step.num, "type": step.type_name})
        elif step.op in ("set_choose_tries", "set_chooseleaf_tries"):
            steps.append({"op": step.op, "num": step.num})
        elif step.num is not None:  # Pacific's dump shows the other set_* steps by opcode
            opcode = {"set_choose_local_tries": 10, "set_choose_local_fallback_tries": 11,
                      "set_chooseleaf_vary_r": 12, "set_chooseleaf_stable": 13}[step.op]
            steps.append({"opcode": opcode, "arg1": step.num, "arg2": 0})
        else:
            steps.append({"op": step.op})
    return {"rule_id": rule.id, "rule_name": rule.name, "ruleset": rule.id,
            "type": 1 if rule.type == "replicated" else 3, "min_size": rule.min_size,
            "max_size": rule.max_size, "steps": steps}
