"""A CRUSH map's text rendered from the JSON `ceph osd crush dump` (Ceph 16.2) gives, line for
line as `crushtool -d` prints it (Calamari v2's crush_map resource)."""

from __future__ import annotations

from typing import Any

from calamari.crush.vocabulary import (
    ALG_COMMENTS,
    CHOOSE_STEPS,
    HASHES,
    LEGACY_TUNABLES,
    RULE_TYPES,
    SET_STEP_OPCODES,
    SET_STEPS,
)
from calamari.crush.weights import weight_text


def _class_order(crush: dict[str, Any]) -> list[str]:
    """Device classes in the order crushtool lists a bucket's per-class ids (class id order).
    The dump does not give class ids; Ceph numbers classes as it first meets them, which is the
    order of the devices (and so crushtool gives it to a compiled map), then shadow-only classes."""
    order: list[str] = []
    for device in crush.get("devices", []):
        if device.get("class") and device["class"] not in order:
            order.append(device["class"])
    for bucket in sorted(crush.get("buckets", []), key=lambda b: -b["id"]):
        _, _, cls = bucket["name"].partition("~")
        if cls and cls not in order:
            order.append(cls)
    return order


def _is_placeholder(device: dict[str, Any]) -> bool:
    # the dump fills id gaps with "deviceN" entries that crushtool does not print
    return device.get("name") == f"device{device['id']}" and not device.get("class")


def _step_text(step: dict[str, Any]) -> str:
    op = step.get("op")
    if op is None and step.get("opcode") in SET_STEP_OPCODES:
        return f"step {SET_STEP_OPCODES[step['opcode']]} {step.get('arg1', 0)}"
    if op == "take":
        name = str(step.get("item_name", step.get("item")))
        root, _, cls = name.partition("~")
        return f"step take {root} class {cls}" if cls else f"step take {name}"
    if op in CHOOSE_STEPS:
        verb, _, mode = op.partition("_")
        return f"step {verb} {mode} {step.get('num', 0)} type {step.get('type')}"
    if op in SET_STEPS:
        return f"step {op} {step.get('num', 0)}"
    if op == "emit":
        return "step emit"
    if op == "noop":
        return "step noop"
    return f"# step not understood: {step}"


def render_crush_text(crush: dict[str, Any]) -> str:
    """The decompiled text of a CRUSH map given as `ceph osd crush dump` (Ceph 16.2) JSON,
    as `crushtool -d` prints it."""
    out = ["# begin crush map"]
    tunables = crush.get("tunables", {})
    for name, legacy in LEGACY_TUNABLES.items():
        if name in tunables and tunables[name] != legacy:
            out.append(f"tunable {name} {tunables[name]}")
    out += ["", "# devices"]
    for device in crush.get("devices", []):
        if not _is_placeholder(device):
            cls = f" class {device['class']}" if device.get("class") else ""
            out.append(f"device {device['id']} {device['name']}{cls}")
    out += ["", "# types"]
    out += [f"type {t['type_id']} {t['name']}" for t in crush.get("types", [])]
    out += ["", "# buckets"]
    buckets = {b["id"]: b for b in crush.get("buckets", [])}
    names = {d["id"]: d["name"] for d in crush.get("devices", [])}
    names.update({b["id"]: b["name"] for b in buckets.values()})
    shadows: dict[str, dict[str, int]] = {}
    for bucket in buckets.values():
        base, _, cls = bucket["name"].partition("~")
        if cls:
            shadows.setdefault(base, {})[cls] = bucket["id"]
    classes = _class_order(crush)
    done: set[int] = set()

    def emit(bucket_id: int) -> None:
        bucket = buckets[bucket_id]
        done.add(bucket_id)
        for item in bucket.get("items", []):  # children first: crushtool reads no forward references
            if item["id"] < 0 and item["id"] not in done and item["id"] in buckets:
                emit(item["id"])
        out.append(f"{bucket.get('type_name', bucket.get('type_id'))} {bucket['name']} {{")
        out.append(f"\tid {bucket_id}\t\t# do not change unnecessarily")
        own = shadows.get(bucket["name"], {})
        for cls in classes:
            if cls in own:
                out.append(f"\tid {own[cls]} class {cls}\t\t# do not change unnecessarily")
        out.append(f"\t# weight {weight_text(bucket.get('weight', 0))}")
        alg = bucket.get("alg", "straw2")
        items = bucket.get("items", [])
        if alg == "uniform":
            out.append(f"\talg uniform\t# do not change bucket size ({len(items)}) unnecessarily")
        else:
            out.append(f"\talg {alg}\t{ALG_COMMENTS[alg]}" if alg in ALG_COMMENTS else f"\talg {alg}")
        hash_name = bucket.get("hash", "rjenkins1")
        out.append(f"\thash {HASHES.get(hash_name, hash_name)}\t# {hash_name}")
        for item in items:
            pos = f" pos {item.get('pos', 0)}" if alg in ("uniform", "tree") else ""
            out.append(f"\titem {names.get(item['id'], item['id'])} weight {weight_text(item.get('weight', 0))}{pos}")
        out.append("}")

    for bucket_id in sorted(buckets, reverse=True):
        if bucket_id not in done and "~" not in buckets[bucket_id]["name"]:
            emit(bucket_id)
    out += ["", "# rules"]
    for rule in crush.get("rules", []):
        out.append(f"rule {rule['rule_name']} {{")
        out.append(f"\tid {rule['rule_id']}")
        out.append(f"\ttype {RULE_TYPES.get(rule.get('type'), rule.get('type'))}")
        out.append(f"\tmin_size {rule.get('min_size', 1)}")
        out.append(f"\tmax_size {rule.get('max_size', 10)}")
        out += [f"\t{_step_text(step)}" for step in rule.get("steps", [])]
        out.append("}")
    choose_args = crush.get("choose_args") or {}
    if choose_args:
        out += ["", "# choose_args"]
        for key in sorted(choose_args, key=int):
            out.append(f"choose_args {int(key) % (1 << 64)} {{")
            for arg in choose_args[key]:
                out += ["  {", f"    bucket_id {arg['bucket_id']}"]
                if arg.get("weight_set"):
                    out.append("    weight_set [")
                    out += ["      [ " + " ".join(f"{w:.3f}" for w in ws) + " ]" for ws in arg["weight_set"]]
                    out.append("    ]")
                if arg.get("ids"):
                    out.append("    ids [ " + " ".join(str(i) for i in arg["ids"]) + " ]")
                out.append("  }")
            out.append("}")
    out += ["", "# end crush map", ""]
    return "\n".join(out)

