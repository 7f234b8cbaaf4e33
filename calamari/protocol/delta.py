"""Deltas between two versions of a sync object, so that one changed OSD in a 10,000-OSD map costs
the server a few hundred bytes and a shallow rebuild instead of a full decode.

A delta is a map:
    {"set": {top_key: value}, "unset": [top_key],
     "lists": {list_key: {"upsert": [entry, ...], "remove": [id, ...]}},
     "maps": {map_key: {"upsert": {key: value}, "remove": [key, ...]}}}

`lists` are lists of entries identified by an id field (`osds` by "osd", `pools` by "pool");
`maps` are dicts diffed key by key (`by_osd` of pg_summary). Everything else is replaced whole.
Applying a delta reuses the unchanged entry objects of the base (the caller must treat sync
objects as immutable).
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

# name -> {list key: id field}
KEYED_LISTS: dict[str, dict[str, str]] = {
    "osd_map": {"osds": "osd", "osd_xinfo": "osd", "pools": "pool"},
}
# name -> keys whose values are dicts diffed entry by entry
KEYED_MAPS: dict[str, tuple[str, ...]] = {
    "pg_summary": ("by_osd", "by_pool", "by_state"),
}
DELTA_NAMES = frozenset(KEYED_LISTS) | frozenset(KEYED_MAPS)


class DeltaError(ValueError):
    """A delta that cannot be applied to the base it claims."""


def supports_delta(name: str) -> bool:
    return name in DELTA_NAMES


def _same(a: Any, b: Any) -> bool:
    return a is b or a == b


def _index_by(entries: list[Any], id_field: str) -> dict[Any, Any]:
    index = {}
    for entry in entries:
        if isinstance(entry, dict) and id_field in entry:
            index[entry[id_field]] = entry
    return index


def make_delta(name: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The delta that turns `old` into `new` (both full objects of sync object `name`)."""
    list_keys = KEYED_LISTS.get(name, {})
    map_keys = KEYED_MAPS.get(name, ())
    set_keys: dict[str, Any] = {}
    lists: dict[str, Any] = {}
    maps: dict[str, Any] = {}
    for key, value in new.items():
        old_value = old.get(key, _MISSING)
        if old_value is _MISSING:
            set_keys[key] = value
        elif key in list_keys and isinstance(value, list) and isinstance(old_value, list):
            entry_delta = _list_delta(old_value, value, list_keys[key])
            if entry_delta is None:
                set_keys[key] = value
            elif entry_delta["upsert"] or entry_delta["remove"]:
                lists[key] = entry_delta
        elif key in map_keys and isinstance(value, dict) and isinstance(old_value, dict):
            entry_delta = _map_delta(old_value, value)
            if entry_delta["upsert"] or entry_delta["remove"]:
                maps[key] = entry_delta
        elif not _same(old_value, value):
            set_keys[key] = value
    delta: dict[str, Any] = {}
    if set_keys:
        delta["set"] = set_keys
    unset = [key for key in old if key not in new]
    if unset:
        delta["unset"] = unset
    if lists:
        delta["lists"] = lists
    if maps:
        delta["maps"] = maps
    return delta


_MISSING = object()


def _list_delta(old: list[Any], new: list[Any], id_field: str) -> dict[str, Any] | None:
    """None when the lists are not keyed as expected (then the whole list is sent)."""
    old_index = _index_by(old, id_field)
    if len(old_index) != len(old):
        return None
    upsert = []
    seen = set()
    for entry in new:
        if not isinstance(entry, dict) or id_field not in entry:
            return None
        entry_id = entry[id_field]
        seen.add(entry_id)
        previous = old_index.get(entry_id, _MISSING)
        if previous is _MISSING or not _same(previous, entry):
            upsert.append(entry)
    if len(seen) != len(new):
        return None
    remove = [entry_id for entry_id in old_index if entry_id not in seen]
    return {"upsert": upsert, "remove": remove}


def _map_delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    upsert = {key: value for key, value in new.items() if not _same(old.get(key, _MISSING), value)}
    remove = [key for key in old if key not in new]
    return {"upsert": upsert, "remove": remove}


def apply_delta(name: str, base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """A new full object: `base` with `delta` applied. Raises DeltaError on a malformed delta."""
    if not isinstance(base, dict) or not isinstance(delta, dict):
        raise DeltaError("base and delta must be maps")
    unknown = set(delta) - {"set", "unset", "lists", "maps"}
    if unknown:
        raise DeltaError(f"unknown delta keys {sorted(map(str, unknown))}")
    result = dict(base)
    set_keys = delta.get("set", {})
    unset = delta.get("unset", [])
    lists = delta.get("lists", {})
    maps = delta.get("maps", {})
    if not (isinstance(set_keys, dict) and isinstance(unset, list)):
        raise DeltaError("set/unset")
    if not (isinstance(lists, dict) and isinstance(maps, dict)):
        raise DeltaError("lists/maps")
    result.update(set_keys)
    for key in unset:
        if not isinstance(key, str):
            raise DeltaError("unset key")
        result.pop(key, None)
    list_keys = KEYED_LISTS.get(name, {})
    for key, change in lists.items():
        current = _keyed_base(result, name, key, list_keys, list)
        result[key] = _apply_list_delta(current, change, list_keys[key])
    map_keys = KEYED_MAPS.get(name, ())
    for key, change in maps.items():
        result[key] = _apply_map_delta(_keyed_base(result, name, key, map_keys, dict), change)
    return result


def _keyed_base(base: dict[str, Any], name: str, key: Any, keyed: Container[str], kind: type) -> Any:
    """The base's value under `key`, which a delta may change entry by entry only where the sync
    object `name` keys it (`keyed`) and the base holds a `kind` (list or dict) there."""
    word = "list" if kind is list else "map"
    if key not in keyed:
        raise DeltaError(f"{key} is not a keyed {word} of {name}")
    current = base.get(key)
    if not isinstance(current, kind):
        raise DeltaError(f"{key} is not a {word} in the base")
    return current


def _apply_list_delta(current: list[Any], change: Any, id_field: str) -> list[Any]:
    if not isinstance(change, dict):
        raise DeltaError("list change")
    upsert = change.get("upsert", [])
    remove = change.get("remove", [])
    if not (isinstance(upsert, list) and isinstance(remove, list)):
        raise DeltaError("upsert/remove")
    replacements: dict[Any, Any] = {}
    for entry in upsert:
        if not isinstance(entry, dict) or id_field not in entry:
            raise DeltaError(f"entry without {id_field}")
        entry_id = entry[id_field]
        if isinstance(entry_id, list | dict):
            raise DeltaError("unhashable id")
        replacements[entry_id] = entry
    try:
        removed = set(remove)
    except TypeError:
        raise DeltaError("unhashable id in remove") from None
    rebuilt = []
    for entry in current:
        entry_id = entry.get(id_field) if isinstance(entry, dict) else None
        if entry_id in removed:
            continue
        replacement = replacements.pop(entry_id, None)
        rebuilt.append(entry if replacement is None else replacement)
    if replacements:
        # New entries: Ceph lists these maps in id order, so keep that order.
        rebuilt.extend(replacements.values())
        try:
            rebuilt.sort(key=lambda entry: entry[id_field])
        except TypeError:
            raise DeltaError("ids of mixed types") from None
    return rebuilt


def _apply_map_delta(current: dict[str, Any], change: Any) -> dict[str, Any]:
    if not isinstance(change, dict):
        raise DeltaError("map change")
    upsert = change.get("upsert", {})
    remove = change.get("remove", [])
    if not (isinstance(upsert, dict) and isinstance(remove, list)):
        raise DeltaError("upsert/remove")
    rebuilt = dict(current)
    rebuilt.update(upsert)
    for key in remove:
        if not isinstance(key, str | int):
            raise DeltaError("map key")
        rebuilt.pop(key, None)
    return rebuilt
