"""The checks crushtool makes of a parsed CRUSH map beyond its syntax: names and ids used once,
items defined before the buckets holding them, positions, weights within CRUSH's fixed point,
rules taking what exists, choose_args matching their buckets. Also resolves each item's and
bucket's stored weight."""

from __future__ import annotations

from calamari.crush.bounds import MAX_DEVICE_WEIGHT, MAX_FIXED_WEIGHT
from calamari.crush.model import CrushBucket, CrushDevice, CrushText
from calamari.crush.weights import WEIGHT_SCALE, weight_fixed


def _check_unique(errors: list[str], kind: str, line: int, id_: int, name: str, ids: dict[int, str],
                  names: set[str]) -> None:
    """A type or rule takes an id and a name no earlier one of its kind took; it is then recorded
    in `ids` and `names`."""
    if id_ in ids:
        errors.append(f"line {line}: {kind} id {id_} is already used by {ids[id_]}")
    if name in names:
        errors.append(f"line {line}: {kind} {name} is defined twice")
    ids.setdefault(id_, name)
    names.add(name)


def text_problems(crush: CrushText) -> list[str]:
    """Every problem of a parsed map, as "line N: reason"; none: crushtool would compile it."""
    errors: list[str] = []
    device_ids: dict[int, CrushDevice] = {}
    devices: dict[str, CrushDevice] = {}  # by name, the first of each (a map may hold 10,000s)
    names: dict[str, int] = {}  # every item name -> the line defining it
    for d in crush.devices:
        if d.id in device_ids:
            errors.append(f"line {d.line}: device id {d.id} is already used by {device_ids[d.id].name}")
        if d.name in names:
            errors.append(f"line {d.line}: the name {d.name} is already used (line {names[d.name]})")
        device_ids.setdefault(d.id, d)
        devices.setdefault(d.name, d)
        names.setdefault(d.name, d.line)
    classes = {d.device_class for d in crush.devices if d.device_class}
    type_ids: dict[int, str] = {}
    type_names: set[str] = set()
    for t in crush.types:
        _check_unique(errors, "type", t.line, t.id, t.name, type_ids, type_names)
    device_type = type_ids.get(0)
    bucket_ids: dict[int, int] = {}  # every bucket id (per-class ids too) -> its line
    defined: dict[str, CrushBucket] = {}
    for b in crush.buckets:
        if b.type_name not in type_names:
            errors.append(f"line {b.line}: unknown type {b.type_name!r} for bucket {b.name}")
        elif b.type_name == device_type:
            errors.append(f"line {b.line}: bucket {b.name} has the device type {b.type_name!r}")
        if b.name in names:
            errors.append(f"line {b.line}: the name {b.name} is already used (line {names[b.name]})")
        names.setdefault(b.name, b.line)
        for bucket_id in ([b.id] if b.id is not None else []) + list(b.class_ids.values()):
            if bucket_id in bucket_ids:
                errors.append(f"line {b.line}: bucket id {bucket_id} is already used (line {bucket_ids[bucket_id]})")
            bucket_ids.setdefault(bucket_id, b.line)
        for cls in b.class_ids:
            if cls not in classes:
                errors.append(f"line {b.line}: no device has class {cls!r} (bucket {b.name})")
        seen: set[str] = set()
        positions: set[int] = set()
        total = 0
        for item in b.items:
            if item.name in seen:
                errors.append(f"line {item.line}: item {item.name} appears twice in bucket {b.name}")
            seen.add(item.name)
            if item.pos is not None:
                if item.pos >= len(b.items):
                    errors.append(f"line {item.line}: pos {item.pos} is beyond the bucket's {len(b.items)} items "
                                  f"(positions count from 0)")
                elif item.pos in positions:
                    errors.append(f"line {item.line}: pos {item.pos} is taken by another item of bucket {b.name}")
                positions.add(item.pos)
            device = devices.get(item.name)
            child = defined.get(item.name)
            if device is None and child is None:
                later = crush.bucket(item.name)
                reason = "is defined further down (define a bucket before the buckets holding it)" \
                    if later is not None and later is not b else "is not a device or a bucket defined above"
                errors.append(f"line {item.line}: item {item.name} in bucket {b.name} {reason}")
                continue
            if device is not None and item.weight is not None and item.weight > MAX_DEVICE_WEIGHT:
                errors.append(f"line {item.line}: a device's weight is at most {MAX_DEVICE_WEIGHT:g}")
            if item.weight is not None:
                item.weight_fixed = weight_fixed(item.weight)
            else:
                item.weight_fixed = WEIGHT_SCALE if device is not None else child.weight_fixed  # type: ignore[union-attr]
            total += item.weight_fixed
        if total > MAX_FIXED_WEIGHT:
            errors.append(f"line {b.line}: bucket {b.name} weighs {total / WEIGHT_SCALE:.0f}, more than CRUSH's "
                          f"32-bit weights hold ({MAX_FIXED_WEIGHT / WEIGHT_SCALE:.0f}): lower its items' weights")
        b.weight_fixed = total
        defined[b.name] = b
    rule_ids: dict[int, str] = {}
    rule_names: set[str] = set()
    for rule in crush.rules:
        _check_unique(errors, "rule", rule.line, rule.id, rule.name, rule_ids, rule_names)
        if rule.min_size > rule.max_size:
            errors.append(f"line {rule.line}: min_size {rule.min_size} exceeds max_size {rule.max_size}")
        for step in rule.steps:
            if step.op == "take":
                bucket = defined.get(step.item or "")
                if bucket is None and step.item not in devices:
                    errors.append(f"line {step.line}: step take {step.item}: no such bucket or device")
                elif step.item_class is not None and (bucket is None or step.item_class not in bucket.class_ids):
                    errors.append(f"line {step.line}: step take {step.item} class {step.item_class}: the bucket "
                                  f"has no id for class {step.item_class} ('id -N class {step.item_class}')")
            elif step.type_name is not None and step.type_name not in type_names:
                errors.append(f"line {step.line}: unknown type {step.type_name!r}")
    all_buckets = {b.id: b for b in crush.buckets if b.id is not None}
    for args in crush.choose_args.values():
        for arg in args:
            bucket = all_buckets.get(arg.bucket_id)
            if bucket is None:
                errors.append(f"line {arg.line}: choose_args names bucket id {arg.bucket_id}, which no bucket has")
                continue
            for values in (arg.weight_set or []):
                if len(values) != len(bucket.items):
                    errors.append(f"line {arg.line}: a weight_set of bucket {bucket.name} needs "
                                  f"{len(bucket.items)} weights, not {len(values)}")
            if arg.ids is not None and len(arg.ids) != len(bucket.items):
                errors.append(f"line {arg.line}: the ids of bucket {bucket.name} need {len(bucket.items)} "
                              f"entries, not {len(arg.ids)}")
    return errors

