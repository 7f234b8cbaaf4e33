"""Planning the items of a CRUSH bucket: the children it should hold (and their weights) turned
into moves, reweights and unlinks, refusing what would leave an OSD in no bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calamari.crush.weights import WEIGHT_SCALE, weight_fixed
from calamari.domain.requests.crush_view import CrushView
from calamari.domain.requests.plan import RequestRejected, command


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
            if abs(weight_fixed(weight) - view.buckets[child].get("weight", 0)) > 1:
                shown = view.buckets[child].get("weight", 0) / WEIGHT_SCALE
                errors[f"{field_name}.weight"] = (f"a bucket weighs the sum of its items ({shown:.5f}); set the "
                                                  f"weights of its OSDs instead")
        elif weight > 0 and weight_fixed(weight) == 0:
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
            fixed = weight_fixed(item["weight"])
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
